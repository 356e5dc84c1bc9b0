"""What the dialer learns from AMI about one robocall: answered, ringing, hangup cause, end.

A recording fake of the AMI client plays the events Asterisk 16 sent on the
test bed (tests/ivr/test_dialer_asterisk.py proves them against a real one).
"""

from __future__ import annotations

import asyncio

import pytest

from fastagi.ami import AmiError
from fastagi.robocall_ami import RobocallAmi


class FakeAmiClient:
    """Just what RobocallAmi uses; ``script`` runs while the Originate is pending."""

    logged_in = True

    def __init__(self, response: dict, script=(), channels=()):
        self.handlers: dict[str, list] = {}
        self.response = response
        self.script = list(script)
        self.channels = list(channels)
        self.actions: list[dict] = []
        self.manager = self

    def on_events(self, names, callback):
        for name in names:
            self.handlers.setdefault(name, []).append(callback)

    def on_login(self, callback):
        self.login = callback

    def emit(self, event: dict):
        for callback in self.handlers.get(event["Event"], []):
            callback(event)

    async def ready(self, timeout: float = 10):
        return None

    async def send_action(self, action: dict):
        self.actions.append(action)
        for event in self.script:
            self.emit(event)
        return [{"Response": "Success"}, self.response]

    async def listing(self, action: dict):
        self.actions.append(action)
        return [{"Uniqueid": c} for c in self.channels]

    async def action(self, action: dict):
        self.actions.append(action)
        if action["Channel"] not in self.channels:
            raise AmiError("Hangup refused: No such channel")
        return {"Response": "Success"}


def originate(ami: RobocallAmi):
    return asyncio.run(ami.originate("robocall-7", "PJSIP/79010000001@line-prov",
                                     "telecenter-robocall", 5, "", {"A": "1"}))


def test_a_provider_that_rang_until_the_ring_time_was_over():
    fake = FakeAmiClient({"Event": "OriginateResponse", "Response": "Failure", "Reason": "3"}, [
        {"Event": "Newstate", "Uniqueid": "robocall-7", "ChannelState": "5"},
        {"Event": "Hangup", "Uniqueid": "robocall-7", "Cause": "0"}])
    report = originate(RobocallAmi(fake))
    assert (report.answered, report.reason, report.rang, report.cause) == (False, "3", True, "0")
    sent, = fake.actions
    assert sent["ChannelId"] == "robocall-7" and sent["Timeout"] == "5000"


def test_a_busy_callee_is_told_by_the_hangup_cause():
    fake = FakeAmiClient({"Event": "OriginateResponse", "Response": "Failure", "Reason": "0"}, [
        {"Event": "Hangup", "Uniqueid": "robocall-7", "Cause": "17"},
        {"Event": "Hangup", "Uniqueid": "robocall-8", "Cause": "16"}])  # another call's
    report = originate(RobocallAmi(fake))
    assert (report.rang, report.cause) == (False, "17")


def test_an_answered_call_has_ended_at_its_hangup_event():
    fake = FakeAmiClient({"Event": "OriginateResponse", "Response": "Success", "Reason": "4"})
    ami = RobocallAmi(fake)

    async def scenario():
        report = await ami.originate("robocall-7", "PJSIP/x@line-prov", "c", 5, "", {})
        waiting = asyncio.ensure_future(ami.wait_ended("robocall-7", 30))
        await asyncio.sleep(0)
        assert not waiting.done()
        fake.emit({"Event": "Hangup", "Uniqueid": "robocall-7", "Cause": "16"})
        await asyncio.wait_for(waiting, 1)
        return report
    assert asyncio.run(scenario()).answered


def test_a_lost_hangup_event_is_made_up_for_by_the_channel_list(monkeypatch):
    monkeypatch.setattr("fastagi.robocall_ami.GONE_POLL_SECONDS", 0.01)
    fake = FakeAmiClient({}, channels=["robocall-7"])
    ami = RobocallAmi(fake)

    async def scenario():
        waiting = asyncio.ensure_future(ami.wait_ended("robocall-7", 30))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # still listed
        fake.channels.clear()
        await asyncio.wait_for(waiting, 1)
    asyncio.run(scenario())


@pytest.mark.parametrize("listed, hung_up", [(["robocall-7"], True), ([], False)])
def test_a_leftover_channel_is_hung_up_by_its_id(listed, hung_up):
    fake = FakeAmiClient({}, channels=listed)
    assert asyncio.run(RobocallAmi(fake).hang_up("robocall-7")) is hung_up
    assert fake.actions[-1] == {"Action": "Hangup", "Channel": "robocall-7"}
