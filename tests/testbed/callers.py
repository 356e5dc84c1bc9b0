"""A scripted caller without SIP, for end-to-end tests against real Asterisk.

A call is a Local channel: its ";2" half dials a Telecenter number in the
``telecenter`` context, exactly as a phone's call would arrive there; its
";1" half is the caller, and runs a script in the test-only dialplan
context ``[telecenter-test-caller]`` below once Telecenter answers.

A script is steps joined by "/": ``w<seconds>`` waits, ``d<digits>`` sends
DTMF (0-9, *, #), ``h`` hangs up.  ``w1/d1/w0.5/d2/w5/h`` waits 1 s, presses
1, waits 0.5 s, presses 2, waits 5 s and hangs up.  A script that does not
hang up keeps the line open for another minute, then hangs up.

The caller id the Telecenter side sees (``agi_callerid``, ``CALLERID(num)``)
is the ``caller`` given to ``place_call``: AMI Originate's CallerID reaches
the ";2" half (test_instance_smoke checks it through a FastAGI request).
The Local channel also copies the caller's channel variables, so the
Telecenter side sees ``TC_SCRIPT`` too; nothing there should read it.

Originate is asynchronous: ``place_call`` returns as soon as Asterisk has
queued the call, and does not learn whether it was answered.  Assert on
what the Telecenter side did instead.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from asterisk.manager import Manager, ManagerSocketException

from dialplan.instance import AsteriskInstance
from dialplan.names import CONTEXT_ENTRY

CALLER_CONTEXT = "telecenter-test-caller"
# Channel variable holding the script of the caller half.
VAR_SCRIPT = "TC_SCRIPT"

# Pass as AsteriskInstance(extra_extensions=CALLER_DIALPLAN).
CALLER_DIALPLAN = f"""\
; Scripted test caller (tests/testbed/callers.py): runs the steps in
; ${{{VAR_SCRIPT}}}, e.g. w1/d1/w0.5/d2/w5/h, one "/"-separated step at a time.
[{CALLER_CONTEXT}]
exten => s,1,NoOp(Scripted caller: ${{{VAR_SCRIPT}}})
 same => n,Set(TC_STEPS=${{FIELDQTY({VAR_SCRIPT},/)}})
 same => n,Set(TC_I=0)
 same => n(next),Set(TC_I=$[${{TC_I}} + 1])
 same => n,GotoIf($[${{TC_I}} > ${{TC_STEPS}}]?done)
 same => n,Set(TC_STEP=${{CUT({VAR_SCRIPT},/,${{TC_I}})}})
 same => n,Goto(step-${{TC_STEP:0:1}},1)
 same => n(done),Wait(60)
 same => n,Hangup()
exten => step-w,1,Wait(${{TC_STEP:1}})
 same => n,Goto(s,next)
exten => step-d,1,SendDTMF(${{TC_STEP:1}})
 same => n,Goto(s,next)
exten => step-h,1,Hangup()
"""

_STEP = re.compile(r"w[0-9]+(\.[0-9]+)?|d[0-9*#]+|h")
_DIGITS = re.compile(r"[0-9]+")


def check_script(script: str) -> list[str]:
    """The steps of ``script``; ValueError names the first bad one."""
    steps = script.split("/")
    for step in steps:
        if not _STEP.fullmatch(step):
            raise ValueError(
                f"bad caller script step {step!r} in {script!r}: "
                "expected w<seconds>, d<digits 0-9*#> or h"
            )
    return steps


def place_call(
    instance: AsteriskInstance,
    number: str,
    script: str,
    caller: str = "1001",
    answer_timeout: float = 30,
) -> None:
    """Call ``number`` in the Telecenter context from ``caller``; return at once.

    The script starts when the Telecenter side answers; if it does not
    answer within ``answer_timeout`` seconds the call is abandoned.
    """
    check_script(script)
    for name, value in (("number", number), ("caller", caller)):
        if not _DIGITS.fullmatch(value):
            raise ValueError(f"{name} must be digits, got {value!r}")
    with ami_session(instance) as manager:
        response = manager.originate(
            channel=f"Local/{number}@{CONTEXT_ENTRY}",
            context=CALLER_CONTEXT,
            exten="s",
            priority="1",
            timeout=str(int(answer_timeout * 1000)),
            caller_id=caller,
            variables={VAR_SCRIPT: script},
            run_async=True,
        )
    if response.get_header("Response") != "Success":
        raise RuntimeError(f"Originate to {number} refused: {response.get_header('Message')}")


@contextmanager
def ami_session(instance: AsteriskInstance, secret: str | None = None) -> Iterator[Manager]:
    """A logged-in pyst2 Manager for ``instance``, closed cleanly afterwards.

    ``secret`` overrides the instance's AMI secret (to test a refused login:
    ManagerAuthException).
    """
    manager = Manager()
    manager.connect(instance.bind_host, instance.ami_port)
    try:
        manager.login(instance.ami_user, instance.ami_secret if secret is None else secret)
        yield manager
    finally:
        _close(manager)


def _close(manager: Manager) -> None:
    """Close a pyst2 Manager even when Asterisk already dropped the connection.

    pyst2's close() sends Logoff first; when Asterisk has just closed the
    socket (it does after a failed login) that write fails before pyst2 has
    noticed, and its threads stay up.  Wait until it notices, then close again.
    """
    try:
        manager.close()
    except (ManagerSocketException, ValueError, OSError):
        wait_for(
            lambda: not manager.connected(),
            timeout=5,
            what="pyst2 to notice that the AMI connection closed",
        )
        manager.close()


def wait_for(
    predicate: Callable[[], object],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> object:
    """Poll ``predicate`` until it returns something true; return that.

    Raises AssertionError naming ``what`` when ``timeout`` seconds pass first.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)
