"""AsteriskLink.originate: the admin's thread starts a ring on the reactor and returns at
once; how the ring ended reaches the server's callback there."""

import asyncio
import threading

import pytest

from fastagi.asterisk_link import AsteriskLink
from fastagi.bridge import ReactorBridge


class Manager:
    """Answers an Async Originate as Asterisk does, once the test lets the ring end."""

    def __init__(self, reply):
        self.reply = reply
        self.sent: list[dict] = []
        self.ring_over = asyncio.Event()

    async def send_action(self, action):
        self.sent.append(action)
        await self.ring_over.wait()
        return self.reply


class Ami:
    def __init__(self, manager):
        self.manager = manager

    async def ready(self, timeout=10):
        pass


@pytest.mark.parametrize("reply, told", [
    ([{"Response": "Success"}, {"Event": "OriginateResponse", "Response": "Failure",
                                "Reason": "3"}], (False, "3")),
    ([{"Response": "Success"}, {"Event": "OriginateResponse", "Response": "Success"}],
     (True, "")),
    ({"Response": "Error", "Message": "Extension does not exist."},
     (False, "Extension does not exist.")),
])
def test_originate_returns_at_once_and_the_outcome_reaches_the_server(loop, reply, told):
    manager = Manager(reply)
    outcomes: list[tuple] = []
    reported = threading.Event()

    async def originated(uniqueid, answered, reason):
        outcomes.append((uniqueid, answered, reason))
        reported.set()

    link = AsteriskLink(ReactorBridge(loop), Ami(manager), presence=None, originated=originated)
    link.originate("tcb-7", "PJSIP/201", "telecenter-callback", 30, "79990000001",
                   {"TELECENTER_CALLBACK_CALL": "7"})
    assert outcomes == []  # the page does not wait for the ring
    loop.call_soon_threadsafe(manager.ring_over.set)
    assert reported.wait(5)
    assert outcomes == [("tcb-7", *told)]
    [action] = manager.sent
    assert (action["Channel"], action["Context"], action["ChannelId"], action["Timeout"],
            action["CallerID"], action["Variable"]) == (
        "PJSIP/201", "telecenter-callback", "tcb-7", "30000", "79990000001",
        ["TELECENTER_CALLBACK_CALL=7"])
