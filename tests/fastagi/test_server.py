"""The server's per-call life against a string transport: replies, hangups, failures."""

import asyncio
import logging

import pytest
from twisted.internet.testing import StringTransport

from fastagi.errors import CallerHungUp
from fastagi.routing import Router
from fastagi import protocol, server
from fastagi.settings import Settings
from fastagi.server import AGIServerFactory
from ivr import selftest


def asterisk_env(route: str = "t", callerid: str = "1001", name: str = "Ivanov") -> bytes:
    """An environment in the order and with the names Asterisk 16 writes (res_agi setup_env)."""
    return (
        f"agi_network: yes\nagi_network_script: {route}\n"
        f"agi_request: agi://127.0.0.1:4573/{route}\nagi_channel: Local/99999@telecenter-1\n"
        "agi_language: ru\nagi_type: Local\nagi_uniqueid: 1700000000.1\nagi_version: 16.28.0\n"
        f"agi_callerid: {callerid}\nagi_calleridname: {name}\nagi_callingpres: 0\n"
        "agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: unknown\n"
        "agi_rdnis: unknown\nagi_context: telecenter-agi\nagi_extension: s\nagi_priority: 4\n"
        "agi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140000000000000\n"
        "agi_arg_1: 99999\n\n"
    ).encode()



class RecordingStore:
    """Call records kept in memory, as the recorder receives them; unknown methods fail."""

    def __init__(self):
        self.calls_started, self.calls_ended, self._steps = [], [], {}

    def started(self, call_id, env):
        self.calls_started.append((call_id, env.caller))
        self._steps[call_id] = []

    def step(self, call_id, event):
        self._steps[call_id].append((event.kind, event.detail))

    def finished(self, call_id, outcome):
        self.calls_ended.append((call_id, outcome, self._steps[call_id]))


class Line:
    """One end of a call: feeds Asterisk's lines, reads the commands sent."""

    def __init__(self, handler, route="t", store=None, env=None):
        self.store = store if store is not None else RecordingStore()
        self.factory = AGIServerFactory(Router([("t", handler), ("selftest", selftest.SelfTest(Settings()).handle)]),
                                        self.store)
        self.proto = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.proto.dataReceived(env if env is not None else asterisk_env(route))

    async def command(self) -> str:
        """The next command the server wrote (polls for at most five seconds)."""
        deadline = asyncio.get_running_loop().time() + 5
        while asyncio.get_running_loop().time() < deadline:
            data = self.transport.value()
            if b"\n" in data:
                line, rest = data.split(b"\n", 1)
                self.transport.clear()
                self.transport.write(rest)
                return line.decode()
            if self.proto.task.done():
                raise AssertionError("the call ended without sending a command")
            await asyncio.sleep(0.001)
        raise AssertionError("no command was sent")

    def reply(self, text: str) -> None:
        self.proto.dataReceived(text.encode() + b"\n")

    async def outcome(self) -> str:
        return await asyncio.wait_for(self.proto.task, 5)


def run(coro):
    return asyncio.run(coro)


def test_selftest_walk_records_digits_in_order():
    async def walk():
        line = Line(None, route="selftest")
        assert await line.command() == "ANSWER"
        line.reply("200 result=0")
        assert (await line.command()).startswith("VERBOSE")
        line.reply("200 result=1")
        assert (await line.command()).startswith("STREAM FILE")
        line.reply("200 result=49 endpos=1200")  # '1' pressed during the prompt
        assert await line.command() == 'WAIT FOR DIGIT "5000"'
        line.reply("200 result=50")
        assert await line.command() == 'SAY DIGITS "12" ""'
        line.reply("200 result=0")
        assert await line.command() == "HANGUP"
        line.reply("200 result=1")
        assert await line.outcome() == "completed"
        return line

    line = run(walk())
    [(_, outcome, events)] = line.store.calls_ended
    assert outcome == "completed"
    assert [d for kind, d in events if kind == "digits"] == ["1", "2"]
    assert [d.rsplit("/", 1)[-1] for kind, d in events if kind == "prompt"] == ["telecenter-selftest"]
    assert line.transport.disconnecting
    assert not line.factory.active


def test_hangup_while_waiting_for_digit_cancels_the_call(caplog):
    entered_finally = []

    async def handler(call, args):
        try:
            await call.wait_for_digit(5000)
        finally:
            entered_finally.append(True)

    async def walk():
        line = Line(handler)
        await line.command()
        line.reply("HANGUP")
        outcome = await line.outcome()
        line.reply("200 result=-1")  # the late reply to the cancelled command is ignored
        return line, outcome

    with caplog.at_level(logging.INFO, logger="fastagi.server"):
        line, outcome = run(walk())
    assert outcome == "caller hung up"
    assert entered_finally == [True]
    assert not line.proto.pending
    assert not line.factory.active
    assert line.transport.disconnecting
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "caller hung up" in caplog.records[0].getMessage()
    assert line.store.calls_ended[0][1] == "caller hung up"


def test_dropped_connection_is_a_hangup():
    async def handler(call, args):
        await call.answer()

    async def walk():
        line = Line(handler)
        await line.command()
        line.proto.connectionLost(None)
        return line, await line.outcome()

    line, outcome = run(walk())
    assert outcome == "caller hung up"
    assert not line.factory.active


@pytest.mark.parametrize("after_failure", [
    "HANGUP",
    "511 Command Not Permitted on a dead channel or intercept routine",
])
def test_failed_command_on_a_gone_channel_is_a_hangup_not_a_failure(after_failure, caplog):
    """Asterisk answers -1 to the cut-short command; then HANGUP, or 511 to what follows."""
    async def handler(call, args):
        await call.wait_for_digit(5000)

    async def walk():
        line = Line(handler)
        await line.command()
        line.reply("200 result=-1")
        assert (await line.command()).startswith("SET VARIABLE")
        line.reply(after_failure)
        return line, await line.outcome()

    with caplog.at_level(logging.INFO, logger="fastagi.server"):
        line, outcome = run(walk())
    assert outcome == "caller hung up"
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert not [e for e in line.store.calls_ended[0][2] if e[0] == "error"]


def test_commands_after_hangup_raise_caller_hung_up():
    seen = []

    async def handler(call, args):
        try:
            await call.answer()
        except asyncio.CancelledError:
            try:
                await call.answer()
            except CallerHungUp as exc:
                seen.append(exc)
            raise

    async def walk():
        line = Line(handler)
        await line.command()
        line.reply("HANGUP")
        return await line.outcome()

    assert run(walk()) == "caller hung up"
    assert len(seen) == 1


@pytest.mark.parametrize("reply, error_name", [
    ("510 Invalid or unknown command", "InvalidCommand"),
    ("520 Invalid command syntax.  Proper usage not available.", "UsageError"),
    ("200 result=-1", "ChannelFailure"),
])
def test_error_reply_sends_call_to_failure_path(reply, error_name, caplog):
    async def handler(call, args):
        await call.answer()

    async def walk():
        line = Line(handler)
        await line.command()
        line.reply(reply)
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=1")
        return line, await line.outcome()

    with caplog.at_level(logging.INFO, logger="fastagi.server"):
        line, outcome = run(walk())
    assert outcome == "failed"
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and reply in errors[0].getMessage()
    assert any(kind == "error" and reply in detail for kind, detail in line.store.calls_ended[0][2])


def test_multiline_usage_block_is_one_reply():
    usage = ("520-Invalid command syntax.  Proper usage follows:\n"
             " Usage: WAIT FOR DIGIT <timeout>\n"
             "        Waits up to <timeout> milliseconds.\n"
             "520 End of proper usage.")
    caught = []

    async def handler(call, args):
        try:
            await call.wait_for_digit(-5)
        except Exception as exc:
            caught.append(exc)
        await call.hangup()

    async def walk():
        line = Line(handler)
        await line.command()
        for text in usage.split("\n"):
            line.reply(text)
        assert await line.command() == "HANGUP"
        line.reply("200 result=1")
        return await line.outcome()

    assert run(walk()) == "completed"
    assert type(caught[0]).__name__ == "UsageError" and caught[0].raw == usage


def test_unexpected_exception_goes_to_failure_path(caplog):
    async def handler(call, args):
        raise RuntimeError("menu is broken")

    async def walk():
        line = Line(handler)
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=1")
        return await line.outcome()

    with caplog.at_level(logging.ERROR, logger="fastagi.server"):
        assert run(walk()) == "failed"
    assert len(caplog.records) == 1 and "agi-" in caplog.records[0].getMessage()


def test_unknown_route_goes_to_failure_path():
    async def walk():
        line = Line(None, route="nosuch")
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=1")
        return await line.outcome()

    assert run(walk()) == "no route"


def test_a_connection_that_is_not_asterisk_is_closed_without_a_record():
    async def walk():
        factory = AGIServerFactory(Router(), RecordingStore())
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(b"GET / HTTP/1.1\n\n")
        return proto, transport

    proto, transport = run(walk())
    assert transport.disconnecting and proto.task is None
    assert factory_store_is_empty(proto)


def factory_store_is_empty(proto) -> bool:
    return not proto.server.records.calls_started and not proto.server.records.calls_ended


# What a caller's number with a line break in it made of the environment
# (PJSIP decodes %0A in the From user into a real line break).
FORGED_CALLERS = {
    "a second script line": "123\nagi_network_script: selftest",
    "the environment cut short": "123\n",
    "a line of another shape": "123\nagi_network_script",
    "a forged whole environment": "123\nagi_context: x\nagi_extension: 90000\nagi_priority: 1\n"
                                  "agi_threadid: 1\nagi_arg_1: 91110\n",
}


@pytest.mark.parametrize("callerid", FORGED_CALLERS.values(), ids=FORGED_CALLERS.keys())
def test_a_forged_environment_runs_no_route_and_goes_to_the_fallback(callerid):
    ran = []

    async def handler(call, args):
        ran.append(call.env.route)
        await call.answer()

    async def walk():
        store = RecordingStore()
        factory = AGIServerFactory(Router([("menu", handler), ("selftest", handler)]), store)
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(asterisk_env("menu", callerid=callerid))
        line = Line.__new__(Line)
        line.proto, line.transport = proto, transport
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=1")
        return await line.outcome(), store

    outcome, store = run(walk())
    assert ran == []
    assert outcome == "bad environment"
    [(row, stored_outcome, events)] = store.calls_ended
    assert stored_outcome == "bad environment"
    [error] = [detail for kind, detail in events if kind == "error"]
    assert "ProtocolError" in error


@pytest.mark.parametrize("lines, reason", [
    ([b"agi_network_script: t", b"agi_network_script: selftest"], "twice"),
    ([b"agi_network_script: t", b"agi_callerid: 1\x1b[2J"], "control character"),
    ([b"agi_network_script: t", b"agi_callerid 1"], "not an AGI environment line"),
    ([b"agi_network_script: t", b"agi_channel: x"], "lacks"),
])
def test_the_record_of_a_refused_environment_says_why(lines, reason):
    async def walk():
        store = RecordingStore()
        factory = AGIServerFactory(Router([("t", None)]), store)
        line = Line.__new__(Line)
        line.proto, line.transport = factory.buildProtocol(None), StringTransport()
        line.proto.makeConnection(line.transport)
        line.proto.dataReceived(b"\n".join(lines) + b"\n\n")
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=1")
        await line.outcome()
        return store

    store = run(walk())
    [(_row, outcome, events)] = store.calls_ended
    [error] = [detail for kind, detail in events if kind == "error"]
    assert outcome == "bad environment"
    assert reason in error
    assert store.calls_started[0][1] in ("", "1?[2J")  # the caller, made harmless, or none


def test_a_line_that_is_no_reply_is_never_taken_as_one():
    """The rest of a forged environment arriving after the call started."""
    async def handler(call, args):
        await call.answer()
        await call.answer()

    async def walk():
        line = Line(handler)
        assert await line.command() == "ANSWER"
        line.reply("agi_calleridname: x")
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        line.reply("200 result=0")  # ANSWER's own reply: paired with ANSWER, not with SET
        line.reply("200 result=1")
        return await line.outcome(), line.store

    outcome, store = run(walk())
    assert outcome == "bad environment"
    assert "no AGI reply" in store.calls_ended[0][2][-1][1]


def test_caller_text_cannot_inject_a_command():
    async def handler(call, args):
        await call.verbose(f"call from {call.env.get('calleridname')}")

    async def walk():
        store = RecordingStore()
        factory = AGIServerFactory(Router([("t", handler)]), store)
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        proto.dataReceived(asterisk_env(name='x" "1"\\'))
        line = Line.__new__(Line)
        line.proto, line.transport = proto, transport
        return await line.command()

    assert run(walk()) == 'VERBOSE "call from x\\" \\"1\\"\\\\" "1"'


def test_the_record_survives_asterisk_closing_right_after_hangup():
    """Asterisk closes the socket as soon as it has answered HANGUP."""
    async def handler(call, args):
        await call.hangup()

    async def walk():
        line = Line(handler)
        assert await line.command() == "HANGUP"
        line.reply("200 result=1")
        line.proto.connectionLost()
        return await line.outcome(), line.store

    outcome, store = run(walk())
    [(_call, stored_outcome, events)] = store.calls_ended
    # Whether the route saw its HANGUP answered before the close is a race; the outcome is not.
    assert stored_outcome == outcome == "completed"
    assert ("command", "HANGUP") in events


def test_a_stopping_server_lets_calls_finish_then_sends_the_rest_to_the_fallback():
    async def quick(call, args):
        await call.answer()

    async def slow(call, args):
        await call.wait_for_digit(15000)

    async def walk():
        store = RecordingStore()
        factory = AGIServerFactory(Router([("quick", quick), ("slow", slow)]), store)
        lines = []
        for route in ("quick", "slow"):
            line = Line.__new__(Line)
            line.store, line.factory = store, factory
            line.proto, line.transport = factory.buildProtocol(None), StringTransport()
            line.proto.makeConnection(line.transport)
            line.proto.dataReceived(asterisk_env(route))
            lines.append(line)
        quick_line, slow_line = lines
        assert await quick_line.command() == "ANSWER"
        assert (await slow_line.command()).startswith("WAIT FOR DIGIT")
        draining = asyncio.ensure_future(factory.drain(grace=0.05))
        quick_line.reply("200 result=0")  # finishes within the grace
        assert await quick_line.command() == 'SET VARIABLE "TELECENTER_STATUS" "OK"'
        quick_line.reply("200 result=1")
        assert await slow_line.command() == 'SET VARIABLE "TELECENTER_STATUS" "FAILED"'
        slow_line.reply("200 result=0")  # the wait for a digit ends first: replies come in order
        slow_line.reply("200 result=1")
        await asyncio.wait_for(draining, 5)
        return store, slow_line

    store, slow_line = run(walk())
    outcomes = {call_id: outcome for call_id, outcome, _ in store.calls_ended}
    assert sorted(outcomes.values()) == ["completed", "server stopped"]
    assert slow_line.transport.disconnecting


def connect(factory):
    line = Line.__new__(Line)
    line.factory, line.store = factory, factory.records
    line.proto, line.transport = factory.buildProtocol(None), StringTransport()
    line.proto.makeConnection(line.transport)
    return line


async def until(condition, seconds=5.0):
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


def test_a_connection_that_never_sends_its_environment_is_closed_and_is_no_call(monkeypatch):
    monkeypatch.setattr(server, "ENV_SECONDS", 0.05)

    async def walk():
        store = RecordingStore()
        factory = AGIServerFactory(Router([("t", None)]), store)
        silent = [connect(factory) for _ in range(100)]
        silent[0].proto.dataReceived(b"agi_network: yes\n")  # starts, never ends
        await until(lambda: all(line.transport.disconnecting for line in silent))
        return store, factory

    store, factory = run(walk())
    assert store.calls_started == [] and not factory.active


def test_a_command_asterisk_never_answers_ends_the_call_and_closes(monkeypatch):
    monkeypatch.setattr(protocol, "QUICK_REPLY_SECONDS", 0.05)

    async def handler(call, args):
        await call.answer()

    async def walk():
        line = Line(handler)
        assert await line.command() == "ANSWER"
        outcome = await line.outcome()
        return outcome, line

    outcome, line = run(walk())
    assert outcome == "no reply from Asterisk"
    assert line.transport.disconnecting
    [(_call, stored, events)] = line.store.calls_ended
    assert stored == "no reply from Asterisk" and events[-1][0] == "error"


def test_a_usage_block_that_never_ends_is_not_waited_for(monkeypatch):
    monkeypatch.setattr(server, "USAGE_BLOCK_SECONDS", 0.05)

    async def handler(call, args):
        await call.wait_for_digit(1000)

    async def walk():
        line = Line(handler)
        assert (await line.command()).startswith("WAIT FOR DIGIT")
        line.reply("520-Invalid command syntax.  Proper usage follows:")
        return await line.outcome()

    assert run(walk()) == "no reply from Asterisk"


def test_a_wait_for_a_digit_may_take_its_own_timeout():
    assert protocol.reply_deadline("WAIT FOR DIGIT", 15000) == 15 + protocol.WAIT_SLACK_SECONDS
    assert protocol.reply_deadline("STREAM FILE", "x", "") >= 3600
    assert protocol.reply_deadline("ANSWER") == protocol.QUICK_REPLY_SECONDS


def test_a_route_that_finishes_tells_the_dialplan_so():
    """Only a call marked OK leaves AGI() without the fallback."""
    async def handler(call, args):
        await call.answer()

    async def walk():
        line = Line(handler)
        assert await line.command() == "ANSWER"
        line.reply("200 result=0")
        assert await line.command() == 'SET VARIABLE "TELECENTER_STATUS" "OK"'
        line.reply("200 result=1")
        return await line.outcome()

    assert run(walk()) == "completed"
