"""How a route tells the dialplan it finished: one channel variable.

The server sets it as a call leaves its route, and the generated dialplan
tests it after AGI() returns (``dialplan.names`` re-exports these names for
the templates). Anything but OK with the caller still there goes to the
fallback: a server that dies mid-call never sets it.
"""

VAR_STATUS = "TELECENTER_STATUS"
STATUS_FAILED = "FAILED"
STATUS_OK = "OK"
