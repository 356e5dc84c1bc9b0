"""The server's per-call life against a string transport: replies, hangups, failures."""

import asyncio
import logging

import pytest
from twisted.internet.testing import StringTransport

from fastagi.errors import CallerHungUp
from fastagi.routing import Router
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
    """A call store that keeps rows in memory; unknown methods fail."""

    def __init__(self, fail=False):
        self.started, self.finished, self.fail = [], [], fail

    async def start_call(self, call_id, env):
        if self.fail:
            raise OSError("database is down")
        self.started.append((call_id, env.caller))
        return len(self.started)

    async def finish_call(self, row_id, outcome, events):
        self.finished.append((row_id, outcome, [(e.kind, e.detail) for e in events]))


class Line:
    """One end of a call: feeds Asterisk's lines, reads the commands sent."""

    def __init__(self, handler, route="t", store=None, env=None):
        self.store = store if store is not None else RecordingStore()
        self.factory = AGIServerFactory(Router([("t", handler), ("selftest", selftest.handle)]),
                                        self.store)
        self.proto = self.factory.buildProtocol(None)
        self.transport = StringTransport()
        self.proto.makeConnection(self.transport)
        self.proto.dataReceived(env if env is not None else asterisk_env(route))

    async def command(self) -> str:
        """The next command the server wrote (waits a bounded number of loop turns)."""
        for _ in range(1000):
            data = self.transport.value()
            if b"\n" in data:
                line, rest = data.split(b"\n", 1)
                self.transport.clear()
                self.transport.write(rest)
                return line.decode()
            if self.proto.task.done():
                raise AssertionError("the call ended without sending a command")
            await asyncio.sleep(0)
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
    [(_, outcome, events)] = line.store.finished
    assert outcome == "completed"
    assert [d for kind, d in events if kind == "digits"] == ["1", "2"]
    assert [d.rsplit("/", 1)[-1] for kind, d in events if kind == "prompt"] == ["telecenter-selftest"]
    assert line.transport.disconnecting
    assert line.factory.active == set()


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
    assert line.factory.active == set()
    assert line.transport.disconnecting
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "caller hung up" in caplog.records[0].getMessage()
    assert line.store.finished[0][1] == "caller hung up"


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
    assert line.factory.active == set()


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
    assert not [e for e in line.store.finished[0][2] if e[0] == "error"]


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
    assert any(kind == "error" and reply in detail for kind, detail in line.store.finished[0][2])


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
    return not proto.server.store.started and not proto.server.store.finished


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
    [(row, stored_outcome, events)] = store.finished
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
    [(_row, outcome, events)] = store.finished
    [error] = [detail for kind, detail in events if kind == "error"]
    assert outcome == "bad environment"
    assert reason in error
    assert store.started[0][1] in ("", "1?[2J")  # the caller, made harmless, or none


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
    assert "no AGI reply" in store.finished[0][2][-1][1]


def test_call_goes_on_when_the_database_is_down(caplog):
    async def handler(call, args):
        await call.answer()

    async def walk():
        line = Line(handler, store=RecordingStore(fail=True))
        assert await line.command() == "ANSWER"
        line.reply("200 result=0")
        return await line.outcome()

    with caplog.at_level(logging.ERROR):
        assert run(walk()) == "completed"
    assert "database is down" in caplog.text


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


class SlowStore(RecordingStore):
    """A store whose final write is still in flight when the connection drops."""

    def __init__(self):
        super().__init__()
        self.writing = asyncio.Event()
        self.may_finish = asyncio.Event()

    async def finish_call(self, row_id, outcome, events):
        self.writing.set()
        await self.may_finish.wait()
        await super().finish_call(row_id, outcome, events)


def test_the_record_survives_asterisk_closing_right_after_hangup():
    """Asterisk closes the socket as soon as it has answered HANGUP."""
    async def handler(call, args):
        await call.hangup()

    async def walk():
        store = SlowStore()
        line = Line(handler, store=store)
        assert await line.command() == "HANGUP"
        line.reply("200 result=1")
        await asyncio.wait_for(store.writing.wait(), 5)
        line.proto.connectionLost()
        store.may_finish.set()
        return await line.outcome(), store

    outcome, store = run(walk())
    assert outcome == "completed"
    [(_row, stored_outcome, events)] = store.finished
    assert stored_outcome == "completed" and ("command", "HANGUP") in events
