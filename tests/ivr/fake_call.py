"""A strict recording stand-in for ``fastagi.session.AGICall`` in logic tests.

It offers exactly AGICall's commands (``test_menu`` checks the two keep the
same names), records every command it is given, and plays a scripted
caller: ``prompt_keys`` says which key the caller presses during the N-th
prompt (counted from 0 across STREAM FILE; other prompts play to their
end), ``waits`` answers each WAIT FOR DIGIT in turn with a key or None
(the wait ran out).  A wait the script did not plan for fails the test:
logic that waits more often than the test expects is a finding, not noise.
Setting an attribute AGICall does not have fails too.  ``NullCases`` is
the case backend of walks that look nobody up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastagi.protocol import AGIEnv
from fastagi.session import DIGITS, AGICall


@dataclass
class RecordedEvents:
    """The call's log as a list of (kind, detail)."""

    events: list[tuple[str, str]] = field(default_factory=list)

    def event(self, kind: str, detail: str) -> None:
        self.events.append((kind, detail))

    def of(self, kind: str) -> list[str]:
        """The details of one kind of event, in order."""
        return [detail for k, detail in self.events if k == kind]


class ScriptExhausted(AssertionError):
    """The logic waited for a key the test did not script."""


class FakeCall:
    """A call whose caller follows a script; ``commands`` is what the logic asked."""

    __slots__ = ("env", "call_id", "events", "commands", "variables", "_prompt_keys", "_waits",
                 "_prompts_played")

    def __init__(self, prompt_keys: dict[int, str] | None = None,
                 waits: list[str | None] | None = None, caller: str = "79990000001",
                 extension: str = "90000", variables: dict[str, str] | None = None):
        self.env = AGIEnv({"callerid": caller, "extension": extension, "uniqueid": "1.1"})
        self.call_id = "fake-1"
        self.events = RecordedEvents()
        self.commands: list[tuple] = []
        self.variables = dict(variables or {})
        self._prompt_keys = dict(prompt_keys or {})
        self._waits = list(waits or [])
        self._prompts_played = 0
        for key in [*self._prompt_keys.values(), *(w for w in self._waits if w is not None)]:
            if len(key) != 1 or key not in DIGITS:
                raise ValueError(f"a scripted key is one of {DIGITS}, not {key!r}")

    @property
    def prompts(self) -> list[str]:
        """Every file STREAM FILE played, in order."""
        return [c[1] for c in self.commands if c[0] == "stream_file"]

    @property
    def wait_timeouts_ms(self) -> list[int]:
        return [c[1] for c in self.commands if c[0] == "wait_for_digit"]

    def unused_script(self) -> tuple[dict[int, str], list[str | None]]:
        """Keys the caller was scripted to press but never got the chance to."""
        pending = {n: k for n, k in self._prompt_keys.items() if n >= self._prompts_played}
        return pending, list(self._waits)

    async def command(self, verb: str, *args: object):
        raise AssertionError(f"raw AGI command {verb} {args}: use the call's methods")

    async def answer(self) -> None:
        self.commands.append(("answer",))

    async def hangup(self) -> None:
        self.commands.append(("hangup",))

    async def verbose(self, message: str, level: int = 1) -> None:
        self.commands.append(("verbose", message, level))

    async def set_variable(self, name: str, value: str) -> None:
        self.commands.append(("set_variable", name, value))
        self.variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        self.commands.append(("get_variable", name))
        return self.variables.get(name)

    async def get_full_variable(self, expression: str) -> str | None:
        """Looked up in ``variables`` by the expression itself, e.g. '${CHANNEL(endpoint)}'."""
        self.commands.append(("get_full_variable", expression))
        return self.variables.get(expression) or None

    async def stream_file(self, prompt: str, escape_digits: str = DIGITS) -> str | None:
        self.commands.append(("stream_file", prompt, escape_digits))
        self.events.event("prompt", prompt)
        key = self._prompt_keys.get(self._prompts_played)
        self._prompts_played += 1
        if key is not None and key not in escape_digits:
            raise AssertionError(f"key {key} scripted during {prompt!r}, which ignores it")
        return self._typed(key)

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        self.commands.append(("wait_for_digit", timeout_ms))
        if not self._waits:
            raise ScriptExhausted(f"unscripted WAIT FOR DIGIT {timeout_ms} ms after "
                                  f"{self.commands[:-1]}")
        return self._typed(self._waits.pop(0))

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        self.commands.append(("say_digits", digits, escape_digits))
        if any(ch not in DIGITS for ch in digits):
            raise ValueError(f"not a digit string: {digits!r}")
        return None

    async def exec_app(self, app: str, *args: object) -> int:
        self.commands.append(("exec_app", app, *args))
        return 0

    async def bridge(self, channel: str, options: str = "") -> int:
        self.commands.append(("bridge", channel, options))
        return 0

    read_digits = AGICall.read_digits  # built on wait_for_digit: the real one, scripted keys

    def _typed(self, key: str | None) -> str | None:
        if key is not None:
            self.events.event("digits", key)
        return key


class NullCases:
    """A case backend that knows nobody: every look-up finds nothing."""

    async def person_by_phone(self, phone: str):
        return None

    async def case_by_number(self, number: str):
        return None

    async def open_cases(self, phone: str) -> list:
        return []
