"""One call as the handlers see it: a method per AGI command.

Each method sends one command line (every argument quoted by
`protocol.format_command`) and returns what the caller did, already
decoded: a digit, the digits typed, a variable's value. Steps worth keeping
(digits, prompts) go to the call's log as they happen.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastagi.errors import AGIError, ChannelFailure, DeadChannel, UnsafeArgument
from fastagi.protocol import AGIEnv, Reply, app_args, format_command, parse_result, reply_deadline

# A channel name as Asterisk makes them: technology/resource-sequence, ";1"/";2" for Local.
_CHANNEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9_.@+*#-]+(;[12])?$")

# The keys of a telephone keypad: what DTMF can send, and what a menu may handle.
DIGITS = "0123456789*#"


class CallEvents(Protocol):
    """Where a call's steps are written (see fastagi.call_records)."""

    def event(self, kind: str, detail: str) -> None: ...


class AGICall:
    """A live call: the environment plus the AGI commands handlers use."""

    def __init__(self, env: AGIEnv, send: Callable[[str, float], Awaitable[str]],
                 events: CallEvents, call_id: str):
        self.env = env
        self.call_id = call_id
        self.events = events
        self._send = send
        # Set once the route hung the call up itself; nothing can be said after that.
        self.hung_up_by_route = False

    async def command(self, verb: str, *args: object) -> Reply:
        """Send one command and parse its reply; AGI errors are raised."""
        line = format_command(verb, *args)
        self.events.event("command", line)
        raw = await self._send(line, reply_deadline(verb, *args))
        try:
            return parse_result(raw)
        except (ChannelFailure, DeadChannel):
            raise  # usually a hangup: the server tells which once the call has ended
        except AGIError:
            self.events.event("error", raw)
            raise

    async def answer(self) -> None:
        await self.command("ANSWER")

    async def hangup(self) -> None:
        self.hung_up_by_route = True
        await self.command("HANGUP")

    async def verbose(self, message: str, level: int = 1) -> None:
        """A line in Asterisk's own log, next to the dialplan steps."""
        await self.command("VERBOSE", message, level)

    async def set_variable(self, name: str, value: str) -> None:
        await self.command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None when it is not set."""
        reply = await self.command("GET VARIABLE", name)
        return reply.data if reply.result == 1 else None

    async def stream_file(self, prompt: str, escape_digits: str = DIGITS) -> str | None:
        """Play a prompt; returns the digit that interrupted it, if any."""
        self.events.event("prompt", prompt)
        return self._digit(await self.command("STREAM FILE", prompt, escape_digits))

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        """Wait for one key press; None when the time runs out."""
        return self._digit(await self.command("WAIT FOR DIGIT", timeout_ms))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        """Speak a digit string in the channel's language."""
        if any(ch not in DIGITS for ch in digits):
            raise ValueError(f"not a digit string: {digits!r}")
        return self._digit(await self.command("SAY DIGITS", digits, escape_digits))

    async def exec_app(self, app: str, *args: object) -> int:
        """Run a dialplan application; arguments are checked by `app_args`."""
        name, joined = app_args(app, *args)
        return (await self.command("EXEC", name, joined)).result

    async def bridge(self, channel: str, options: str = "") -> int:
        """Pull the channel Asterisk named ``channel`` into a bridge with this one (the
        ``Bridge`` application); returns when the bridge ends.  Only a channel name of
        Asterisk's own shape passes (``PJSIP/101-0000001a``, ``Local/92000@ctx-00000000;2``:
        a Local channel's ";2" is why ``exec_app``'s argument rule is not enough)."""
        if not _CHANNEL_NAME.match(channel) or not options.isalpha() and options:
            raise UnsafeArgument(f"not a channel name and Bridge options: {channel!r}, {options!r}")
        return (await self.command("EXEC", "Bridge", f"{channel},{options}")).result

    def _digit(self, reply: Reply) -> str | None:
        if reply.result <= 0:
            return None
        digit = chr(reply.result)
        self.events.event("digits", digit)
        return digit

    async def read_digits(self, count: int, first: str | None, timeout_ms: int) -> str:
        """Collect up to `count` digits, starting with one typed during a prompt."""
        digits = first or ""
        while len(digits) < count:
            digit = await self.wait_for_digit(timeout_ms)
            if digit is None:
                break
            digits += digit
        return digits
