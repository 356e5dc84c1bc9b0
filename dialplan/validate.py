"""Validation of the configuration before anything is rendered: a pure function.

``validate(config)`` returns every problem with where it is; Apply refuses a
configuration with any.  Everything that reaches an Asterisk file is checked
here (digits, names, hosts, secrets, regexes), so nothing typed into a form
reaches the dialplan unchecked; the templates add no second escaping.

Outbound regexes are Python regexes, but Asterisk evaluates them in the
dialplan with REGEX() (POSIX extended regexes, see ``dialplan_regex``), so
only the part of the syntax both read the same way is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dialplan.configuration import Configuration, Line, Phone, numbering_plan


@dataclass(frozen=True)
class Problem:
    """One reason the configuration cannot be applied, and where it is."""

    where: str  # "phone 101", "line 'prov1'"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


PHONE_NUMBER = re.compile(r"[0-9]{2,15}")
MD5_HEX = re.compile(r"[0-9a-f]{32}")
PHONE_KINDS = ("simple",)
LINE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")
HOST = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
TRANSPORTS = ("udp", "tcp")
REG_USERNAME = re.compile(r"[A-Za-z0-9._+-]{1,64}")
# Printable ASCII without blanks, ';' (a comment in Asterisk files) and '\'.
SECRET = re.compile(r"[!-:<-\[\]-~]{1,64}")
INBOUND_NUMBER = re.compile(r"[0-9]{1,15}")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


class RegexError(ValueError):
    """An outbound regex that cannot be used; the message says why."""


# One token of an outbound regex, in the Python syntax the admin types.
_TOKEN = re.compile(r"""
    (?P<klass>\[\^?(?:\\d|[0-9]-[0-9]|[0-9*#+])+\])   # [0-9], [^5], [*#], [\d]
  | (?P<digit>[0-9#])
  | (?P<escaped>\\[d+*#.])                            # \d and escaped literals
  | (?P<any>\.)
  | (?P<quantifier>[*+?]|\{[0-9]{1,3}(?:,[0-9]{0,3})?\})
  | (?P<open>\((?:\?:)?)
  | (?P<close>\))
  | (?P<bar>\|)
  | (?P<start>\^)
  | (?P<end>\$)
""", re.X)

# POSIX only promises RE_DUP_MAX >= 255.
MAX_REPEAT = 255

_ESCAPED = {"\\d": "[0-9]", "\\+": "[+]", "\\*": "[*]", "\\#": "[#]", "\\.": "[.]"}


def dialplan_regex(regex: str) -> str:
    """The outbound ``regex`` as Asterisk's REGEX() should see it, or RegexError.

    Accepted: digits and '#', '.', character classes of digits, ranges, '*',
    '#' and '+' (optionally negated), \\d, the escapes \\+ \\* \\# \\., the
    quantifiers * + ? {m} {m,} {m,n}, groups ( ) and (?: ), alternation |,
    '^' at the start of an alternative and '$' at its end.  Python's re and
    POSIX extended regexes agree on whether such a regex matches a number.
    The result has no backslash, quote, ';' or unbalanced bracket, so it
    survives the dialplan's own parsing inside ${REGEX("..." ${EXTEN})}:
    escapes become one-character classes (\\+ -> [+]), (?: becomes (.
    """
    try:
        re.compile(regex)
    except re.error as exc:
        raise RegexError(f"does not compile: {exc}") from None
    out = []
    previous = "start-of-alternative"  # kind of the previous token
    depth = 0
    pos = 0
    while pos < len(regex):
        match = _TOKEN.match(regex, pos)
        if match is None:
            raise RegexError(f"{regex[pos]!r} at position {pos + 1} is not supported here "
                             "(use digits, [0-9], \\d, . * + ? {m,n} ( ) | ^ $)")
        kind, text = match.lastgroup, match.group()
        if kind == "quantifier" and previous not in ("atom", "close"):
            raise RegexError(f"{text!r} at position {pos + 1} repeats nothing (or repeats a repeat)")
        if kind == "start" and previous != "start-of-alternative":
            raise RegexError(f"'^' at position {pos + 1} is only allowed at the start")
        if kind in ("bar", "close") and previous in ("start-of-alternative", "start"):
            raise RegexError(f"empty alternative or group before position {pos + 1}")
        if previous == "end" and kind not in ("bar", "close"):
            raise RegexError(f"'$' before position {pos + 1} is only allowed at the end")
        if kind == "quantifier" and text.startswith("{"):
            bounds = [int(b) for b in text[1:-1].split(",") if b]
            if max(bounds) > MAX_REPEAT:
                raise RegexError(f"{text} at position {pos + 1}: repeat counts above "
                                 f"{MAX_REPEAT} are not portable")
        if kind == "open":
            depth += 1
            out.append("(")
        elif kind == "close":
            depth -= 1
            out.append(")")
        elif kind == "escaped":
            out.append(_ESCAPED[text])
        elif kind == "klass":
            out.append(text.replace("\\d", "0-9"))
        else:
            out.append(text)
        previous = {
            "klass": "atom", "digit": "atom", "escaped": "atom", "any": "atom",
            "quantifier": "quantifier", "open": "start-of-alternative",
            "bar": "start-of-alternative", "close": "close", "start": "start", "end": "end",
        }[kind]
        pos = match.end()
    if previous in ("start-of-alternative", "start") and regex:
        raise RegexError("ends with an empty alternative")
    if depth:
        raise RegexError("unbalanced parentheses")
    translated = "".join(out)
    if re.search(translated, "") is not None or re.search(regex, "") is not None:
        raise RegexError("matches the empty number, so every call would leave through this line")
    return translated


def validate(config: Configuration) -> list[Problem]:
    """Every problem that stops ``config`` from being applied, in a stable order."""
    problems: list[Problem] = []
    for phone in config.phones:
        problems += _phone_problems(phone)
    plan = numbering_plan(config)
    for number, owners in plan.items():
        if len(owners) > 1:
            problems.append(Problem(owners[1], f"number {number} is also {owners[0]}"))
    seen_names: set[str] = set()
    seen_hosts: dict[str, str] = {}
    for line in config.lines:
        where = f"line {line.name!r}"
        problems += _line_problems(line, where, plan)
        if line.name in seen_names:
            problems.append(Problem(where, "another line has the same name"))
        seen_names.add(line.name)
        if line.host in seen_hosts:
            problems.append(Problem(where, f"host {line.host} is also line {seen_hosts[line.host]!r}'s:"
                                    " calls from it could not be told apart"))
        seen_hosts.setdefault(line.host, line.name)
    return problems


def _phone_problems(phone: Phone) -> list[Problem]:
    where = f"phone {phone.number}"
    problems = []
    if not PHONE_NUMBER.fullmatch(phone.number):
        problems.append(Problem(f"phone {phone.number!r}", "the number must be 2 to 15 digits"))
    if not MD5_HEX.fullmatch(phone.md5_cred):
        problems.append(Problem(where, "the stored password digest is not an md5 hex digest"))
    if phone.kind not in PHONE_KINDS:
        problems.append(Problem(where, f"unknown phone type {phone.kind!r}"))
    if CONTROL_CHARACTERS.search(phone.description):
        problems.append(Problem(where, "the description has line breaks or control characters"))
    return problems


def _line_problems(line: Line, where: str, plan: dict[str, list[str]]) -> list[Problem]:
    problems = []
    if not LINE_NAME.fullmatch(line.name):
        problems.append(Problem(where, "the name must be a lower-case letter, then up to 31"
                                " lower-case letters, digits, '_' or '-'"))
    if not HOST.fullmatch(line.host):
        problems.append(Problem(where, f"{line.host!r} is not a host name or IPv4 address"))
    if not 1 <= line.port <= 65535:
        problems.append(Problem(where, f"port {line.port} is not between 1 and 65535"))
    if line.transport not in TRANSPORTS:
        problems.append(Problem(where, f"transport must be one of {', '.join(TRANSPORTS)}"))
    if line.reg_username or line.reg_password or line.reg_domain:
        if not line.reg_username or not line.reg_password:
            problems.append(Problem(where, "registration needs both a username and a password"
                                    " (or leave username, domain and password empty)"))
        if line.reg_username and not REG_USERNAME.fullmatch(line.reg_username):
            problems.append(Problem(where, "the registration username may have letters, digits"
                                    " and . _ + - only"))
        if line.reg_password and not SECRET.fullmatch(line.reg_password):
            problems.append(Problem(where, "the registration password must be up to 64 printable"
                                    " characters without blanks, ';' or '\\'"))
        if line.reg_domain and not HOST.fullmatch(line.reg_domain):
            problems.append(Problem(where, f"registration domain {line.reg_domain!r} is not a host name"))
    if line.outbound_regex:
        try:
            dialplan_regex(line.outbound_regex)
        except RegexError as exc:
            problems.append(Problem(where, f"outbound regex {line.outbound_regex!r} {exc}"))
    if line.inbound_number:
        if not INBOUND_NUMBER.fullmatch(line.inbound_number):
            problems.append(Problem(where, "the inbound number must be digits"))
        elif line.inbound_number not in plan:
            problems.append(Problem(where, f"inbound number {line.inbound_number} does not exist"))
    return problems
