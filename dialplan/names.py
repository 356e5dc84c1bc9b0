"""Names shared by the generated dialplan and the FastAGI server.

Context names, channel variables and values the two sides agree on live here
and only here, so a rename cannot leave one side behind.
"""

# Context that receives calls to Telecenter numbers.
CONTEXT_ENTRY = "telecenter"
# Subroutine that runs one FastAGI route and falls back when it fails.
CONTEXT_AGI = "telecenter-agi"

# Set by the server when a call left its route through the failure path;
# the dialplan tests it after AGI() returns.
VAR_STATUS = "TELECENTER_STATUS"
STATUS_FAILED = "FAILED"
STATUS_OK = "OK"

# The number that reaches the line self-test route.
SELFTEST_NUMBER = "99999"

# FastAGI route names (the path of agi://host:port/<route>).
ROUTE_SELFTEST = "selftest"

# Shipped prompts, by name without extension, under sounds/<language>/.
PROMPT_UNAVAILABLE = "telecenter-unavailable"
PROMPT_SELFTEST = "telecenter-selftest"
