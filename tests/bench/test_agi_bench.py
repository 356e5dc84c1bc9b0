"""The benchmarks' fake Asterisk ends a call the way Asterisk 16 does.

Asterisk closes the FastAGI socket as soon as it has answered HANGUP, and
when the caller hangs up it sends ``HANGUP`` and closes: a benchmark whose
fake kept the connection open would hide lost call records.  A plain
asyncio server on 127.0.0.1 plays the FastAGI server's side.
"""

import asyncio
import sys

from fastagi.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "bench"))  # the benchmarks are scripts, not a package

from agi_bench import run_session, takes_media_time  # noqa: E402

ANSWERS_WITHIN = 5.0  # seconds; the fake answers at once, this only bounds a broken one


class Channel:
    """A caller who answers every command, or hangs up at the command ``hang_up_at``."""

    def __init__(self, hang_up_at=None):
        self.hang_up_at = hang_up_at

    async def reply(self, command):
        return None if command == self.hang_up_at else "200 result=0"


async def server_side(script, channel):
    """Send ``script`` after the environment; what came back, up to the end of the stream."""
    received = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        while (await reader.readline()).strip():
            pass  # the environment
        lines = []
        for command in script:
            writer.write((command + "\n").encode())
            await writer.drain()
            line = await reader.readline()
            if not line:
                break
            lines.append(line.decode().strip())
        try:
            rest = await asyncio.wait_for(reader.read(), ANSWERS_WITHIN)
            received.set_result((lines, "closed", rest.decode()))
        except asyncio.TimeoutError:
            received.set_result((lines, "still open", ""))
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        session = asyncio.create_task(
            run_session(port, 1, ANSWERS_WITHIN * 2, channel, "menu", "90000"))
        lines, state, rest = await asyncio.wait_for(received, ANSWERS_WITHIN * 2)
        await session
    return lines, state, rest


def test_the_fake_asterisk_closes_right_after_answering_hangup():
    lines, state, rest = asyncio.run(server_side(["ANSWER", "HANGUP"], Channel()))
    assert lines == ["200 result=0", "200 result=0"]
    assert (state, rest) == ("closed", "")


def test_a_caller_hanging_up_sends_hangup_and_closes():
    script = ['STREAM FILE "hello" "0123456789"', 'WAIT FOR DIGIT "5000"', "HANGUP"]
    lines, state, rest = asyncio.run(server_side(script, Channel(hang_up_at=script[1])))
    assert lines == ["200 result=0", "HANGUP"]
    assert (state, rest) == ("closed", "")


def test_prompts_and_waits_take_media_time_other_commands_do_not():
    assert takes_media_time('STREAM FILE "x" "0123456789*#"')
    assert takes_media_time('WAIT FOR DIGIT "15000"')
    assert takes_media_time('SAY DIGITS "12" ""')
    assert takes_media_time('EXEC "Playback" "a&b"')
    assert not takes_media_time('EXEC "Dial" "PJSIP/101"')
    assert not takes_media_time('SET VARIABLE "TELECENTER_STATUS" "OK"')
    assert not takes_media_time("ANSWER")
