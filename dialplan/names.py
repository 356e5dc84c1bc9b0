"""Names shared by the generated dialplan and the FastAGI server.

Context names, channel variables and values the two sides agree on live here
and only here, so a rename cannot leave one side behind.
"""

from fastagi.route_status import STATUS_FAILED, STATUS_OK, VAR_STATUS  # noqa: F401 (for the templates)

# Context that receives calls to Telecenter numbers.
CONTEXT_ENTRY = "telecenter"
# Subroutine that runs one FastAGI route and falls back when it fails.
CONTEXT_AGI = "telecenter-agi"
# Its extension that plays the apology and hangs up.
EXTEN_UNAVAILABLE = "unavailable"
# Subroutine that makes the numbers a caller chose (caller id, dialled and
# redirecting number) numbers again: run on arrival from a line and before AGI.
CONTEXT_CALLER_NUMBERS = "telecenter-caller-numbers"

# The number that reaches the line self-test route.
SELFTEST_NUMBER = "99999"

# FastAGI route names (the path of agi://host:port/<route>).
ROUTE_SELFTEST = "selftest"

# Shipped prompts, by name without extension, under sounds/<language>/.
PROMPT_UNAVAILABLE = "telecenter-unavailable"
PROMPT_SELFTEST = "telecenter-selftest"
# Played instead of a text no speech engine could say.
PROMPT_TTS_FAILED = "telecenter-tts-failed"

# Digest realm of the phones' SIP passwords: the phones table keeps only
# md5("number:realm:password"), so changing it invalidates every password.
SIP_REALM = "telecenter"

# Context of the phones' endpoints: Telecenter numbers first, then the lines.
CONTEXT_PHONES = "telecenter-phones"
# Numbers that are not Telecenter numbers leave through the lines' regexes;
# it takes numbers (dialplan.numbers) of at least OUTBOUND_MIN_LENGTH characters.
CONTEXT_OUTBOUND = "telecenter-outbound"
OUTBOUND_MIN_LENGTH = 2
# Subroutine that checks a number once more and dials it out through a line.
CONTEXT_DIAL_OUT = "telecenter-dial-out"
# Where a menu's VAR_NEXT is checked before the call goes there.
CONTEXT_NEXT = "telecenter-next"
# Calls arriving on line <name> start in context telecenter-from-<name>.
CONTEXT_FROM_LINE_PREFIX = "telecenter-from-"
# One extension whose NoOp names the revision Asterisk serves (Apply checks it).
CONTEXT_REVISION = "telecenter-revision"

# Set on calls that arrived on an external line: its name and its flag.
VAR_LINE = "TELECENTER_LINE"
VAR_EXTERNAL = "TELECENTER_EXTERNAL"

# How long Dial() rings a phone, and a line's far end, in seconds.
PHONE_RING_SECONDS = 30
LINE_RING_SECONDS = 60

# The voice menu route: ARG2 is the item's number.  When a menu sends the call
# to a number that is not a menu item (a phone, a queue, an outside number),
# the server sets VAR_NEXT and the dialplan goes there from the phones' context.
ROUTE_MENU = "menu"
VAR_NEXT = "TELECENTER_NEXT"

# Seconds a menu item with handlers but no timeout handler waits for input.
MENU_DEFAULT_TIMEOUT_SECONDS = 15
