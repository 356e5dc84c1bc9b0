"""The FastAGI wire format: pure parsing and quoting, no I/O.

Asterisk opens a TCP connection, sends `agi_name: value` lines ending with a
blank line, then waits for one command at a time and answers each with one
reply line (or a multi-line 520 block). A bare `HANGUP` line may arrive at
any moment when the caller hangs up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from fastagi.errors import (
    ChannelFailure,
    DeadChannel,
    InvalidCommand,
    ProtocolError,
    UnsafeArgument,
    UsageError,
)

HANGUP_LINE = "HANGUP"
USAGE_START = "520-"
USAGE_END = "520 "


@dataclass(frozen=True)
class AGIEnv:
    """The call's environment as Asterisk sent it, `agi_` prefix removed."""

    values: dict[str, str]
    args: tuple[str, ...] = ()
    route: str = ""
    query: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, default: str = "") -> str:
        return self.values.get(name, default)

    @property
    def caller(self) -> str:
        """Caller id number; Asterisk says `unknown` when there is none."""
        value = self.get("callerid")
        return "" if value == "unknown" else value

    @property
    def unique_id(self) -> str:
        return self.get("uniqueid")

    @property
    def channel(self) -> str:
        return self.get("channel")


@dataclass(frozen=True)
class Reply:
    """A successful `200` reply: `result`, optional `(data)` and `key=value` extras."""

    result: int
    data: str | None = None
    extras: dict[str, str] = field(default_factory=dict)
    raw: str = ""


_ENV_NAME = re.compile(r"^agi_[a-z0-9_]+$")
# C0 controls, DEL and C1 controls: no value Asterisk sends legitimately holds one,
# and a line break in a caller's number or name is how a caller would forge lines.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_env(lines: list[str]) -> AGIEnv:
    """Build the environment from the `agi_*` lines before the blank line.

    Handles lines such as `agi_network_script: ivr?lang=ru`,
    `agi_accountcode: ` (empty value) and `agi_arg_1: 90000`. Splits on the
    first colon only, since values may contain colons and may be empty.

    Asterisk names each variable once, so a second `agi_network_script` can
    only come from a caller's text with a line break in it: a repeated name, a
    name of another shape and a value with a control character are refused
    (ProtocolError), never merged.
    """
    values: dict[str, str] = {}
    numbered_args: dict[int, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not _ENV_NAME.match(name):
            raise ProtocolError(f"not an AGI environment line: {line!r}", line)
        key = name[len("agi_"):]
        value = value[1:] if value.startswith(" ") else value
        if _CONTROL.search(value):
            raise ProtocolError(f"control character in AGI environment line: {line!r}", line)
        if key.startswith("arg_") and key[len("arg_"):].isdigit():
            number = int(key[len("arg_"):])
            if number in numbered_args:
                raise ProtocolError(f"AGI environment names {name} twice", line)
            numbered_args[number] = value
        elif key in values:
            raise ProtocolError(f"AGI environment names {name} twice", line)
        else:
            values[key] = value
    args = tuple(numbered_args[n] for n in sorted(numbered_args))
    script = values.get("network_script") or urlsplit(values.get("request", "")).path
    path = urlsplit(script)
    return AGIEnv(
        values=values,
        args=args,
        route=path.path.strip("/"),
        query=dict(parse_qsl(path.query)),
    )


# Written by Asterisk after the caller's number and name (res_agi's setup_env),
# so an environment cut short by a line break in those lacks them.
REQUIRED_ENV = ("channel", "uniqueid", "context", "extension", "priority", "threadid")


def require_complete(env: AGIEnv) -> AGIEnv:
    """`env` when it holds every variable Asterisk always sends, else ProtocolError."""
    missing = [name for name in REQUIRED_ENV if name not in env.values]
    if not (env.get("network_script") or env.get("request")):
        missing.insert(0, "network_script")
    if missing:
        raise ProtocolError("AGI environment lacks " + ", ".join(f"agi_{m}" for m in missing))
    return env


def untrusted_env(lines: list[str]) -> AGIEnv:
    """What a refused environment said, for the call's record only.

    The first value of each well-formed name is kept with control characters
    replaced; no route and no arguments, since those must never be taken
    from an environment that was refused.
    """
    values: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep and _ENV_NAME.match(name):
            values.setdefault(name[len("agi_"):], _CONTROL.sub("?", value.removeprefix(" ")))
    return AGIEnv(values=values)


def looks_like_env(line: str) -> bool:
    """True when `line` could open an AGI environment (`agi_name: …`).

    A connection whose first line is anything else is not Asterisk (a port
    scan, a health check): it is closed without a call record.
    """
    name, sep, _value = line.partition(":")
    return bool(sep) and bool(_ENV_NAME.match(name))


def is_reply_line(line: str) -> bool:
    """True for a line that can start an AGI reply (`200 …`, `510 …`, `520-…`).

    After a refused environment the rest of a forged one may still arrive;
    such lines are skipped while the server waits for a real reply.
    """
    return len(line) >= 4 and line[:3].isdigit() and line[3] in " -"


_RESULT = re.compile(r"^200 result=(-?\d+)(.*)$")
_EXTRA = re.compile(r"\s*(?:\(([^)]*)\)|(\w+)=(\S*))")


def parse_result(line: str) -> Reply:
    """Turn one reply into a `Reply`, or raise the matching AGIError.

    Real lines it handles:
    `200 result=1`, `200 result=-1` (ChannelFailure), `200 result=49 (timeout)`,
    `200 result=0 endpos=3520`, `200 result=1 (ru)`,
    `510 Invalid or unknown command`,
    `511 Command Not Permitted on a dead channel or intercept routine`,
    `520 Invalid command syntax.  Proper usage not available.` and a whole
    `520-…\\n…\\n520 End of proper usage.` block joined by newlines.
    """
    if line.startswith("510"):
        raise InvalidCommand(line[4:] or "invalid or unknown command", line)
    if line.startswith("511"):
        raise DeadChannel(line[4:] or "command not permitted on a dead channel", line)
    if line.startswith("520"):
        raise UsageError(line.split("\n", 1)[0][4:] or "invalid command syntax", line)
    match = _RESULT.match(line)
    if not match:
        raise ProtocolError(f"unexpected reply: {line!r}", line)
    result = int(match.group(1))
    if result == -1:
        raise ChannelFailure("command failed on the channel", line)
    data = None
    extras: dict[str, str] = {}
    rest = match.group(2)
    while rest.strip():
        extra = _EXTRA.match(rest)
        if not extra:
            raise ProtocolError(f"unexpected reply: {line!r}", line)
        if extra.group(1) is not None:
            data = extra.group(1)
        else:
            extras[extra.group(2)] = extra.group(3)
        rest = rest[extra.end():]
    return Reply(result=result, data=data, extras=extras, raw=line)


# How long Asterisk may take to answer a command. Most answer at once; a
# prompt or an application runs as long as its media (an uploaded recording
# may last an hour); a wait for a digit lasts its own timeout.
QUICK_REPLY_SECONDS = 30.0
MEDIA_REPLY_SECONDS = 3600.0 + 60.0
WAIT_SLACK_SECONDS = 10.0
_MEDIA_VERBS = ("STREAM FILE", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "EXEC",
                "RECORD FILE", "SAY ", "SPEECH ")


def reply_deadline(verb: str, *args: object) -> float:
    """Seconds Asterisk may take to answer `verb` before the connection counts as broken."""
    if verb == "WAIT FOR DIGIT":
        timeout_ms = int(args[0]) if args else -1
        return MEDIA_REPLY_SECONDS if timeout_ms < 0 else timeout_ms / 1000 + WAIT_SLACK_SECONDS
    if verb.startswith(_MEDIA_VERBS):
        return MEDIA_REPLY_SECONDS
    return QUICK_REPLY_SECONDS


def quote_arg(value: object) -> str:
    """Quote one command argument the way Asterisk's `parse_args` reads it.

    Double quotes group, a backslash escapes the next character; a line
    break would end the command and start another, so it is refused.
    """
    text = str(value)
    if any(ch in text for ch in "\r\n\0"):
        raise UnsafeArgument(f"line break or NUL in AGI argument: {text!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_command(verb: str, *args: object) -> str:
    """One command line: the fixed verb, then every argument quoted."""
    return " ".join([verb, *(quote_arg(a) for a in args)])


_APP_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_APP_ARG = re.compile(r"^[\w .:/@+*#=-]*$")


def app_args(app: str, *args: object) -> tuple[str, str]:
    """Check an application name and join its arguments for `EXEC`.

    Applications split their argument string on commas and read quotes,
    backslashes, brackets and `$` specially, so those never pass through
    from caller-supplied text: an argument holding one is refused.
    """
    if not _APP_NAME.match(app):
        raise UnsafeArgument(f"not an application name: {app!r}")
    texts = [str(a) for a in args]
    for text in texts:
        if not _APP_ARG.match(text):
            raise UnsafeArgument(f"unsafe character in {app} argument: {text!r}")
    return app, ",".join(texts)
