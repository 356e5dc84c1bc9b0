"""Validation of the configuration before anything is rendered: a pure function.

``check(config)`` returns every problem with where it is, each an *error*
or a *warning*; ``validate(config)`` returns the errors only.  Apply (and
``render_all``) refuse a configuration with errors; warnings are shown and
applied anyway.  Everything that reaches an Asterisk file or the menu plan
is checked here (digits, names, hosts, secrets, regexes, targets), so
nothing typed into a form reaches the dialplan unchecked; the templates add
no second escaping.

Messages are ``dialplan.messages.Message``: English templates the admin
translates and the command line prints as they are.

Outbound regexes are Python regexes, but Asterisk evaluates them in the
dialplan with REGEX() (POSIX extended regexes, see ``dialplan_regex``), so
only the part of the syntax both read the same way is accepted.

Voice menus (spec 6, 19):

- A handler's target must lead somewhere: empty (hang up), a number of the
  numbering plan (a menu item, a phone, the self-test) or a number some
  line dials out (the outbound context takes numbers of two or more
  characters and sends them to the first line whose regex finds a match).
- Sequence regexes are Python regexes (the FastAGI server matches them, not
  Asterisk): they must compile, also for the partial matching of the
  ``regex`` module, and must not match the empty sequence.
- Reachability: every item has its own number, so any item can be dialled
  from a phone; an item is *reached* when it is the first (lowest-numbered)
  item of its menu, a handler's target or a line's inbound number.  Any
  other item is a **warning** (nothing leads a caller there), not an error.
- A circle of items that never waits for a key is an error: an item with a
  timeout handler and no key or sequence handler moves on by itself, so a
  circle made only of such items would play to an empty line for ever.
  A circle through an item with keys ("say the menu again on timeout") is
  allowed: the caller can leave it.

Queues (spec 7):

- A queue has at least one member, and every member is a phone of the
  configuration.  Ringing more members at once than the queue has is not
  a problem: all of them ring.
- Its keys and the numbers a caller is sent to (no member online, maximum
  wait) follow the handlers' target rule above; a queue that sends callers
  it could not serve back into itself is refused (they would circle).
- A number for "no member online" or "maximum wait" while that option is
  off is a **warning**: it is kept but unused, as an admin who switched the
  option off for a while expects.

Schedules and override rules (spec 10):

- A schedule's spans and dates are times of a day, each start before its end.
- A rule's called number must be one a call can reach: a number of the
  numbering plan or one a line dials out (a rule on anything else would
  never fire).  Its redirect follows the handlers' target rule.  Its caller
  numbers are numbers; its caller regexes follow the sequence regexes' rule
  (``re`` and the ``regex`` module both read them); its time ranges are
  ``HH:MM-HH:MM`` (``dialplan.override_rules``); its weekdays are 1-7; its
  schedule exists.  Rules whose redirects lead back to their own number
  (directly or through other rules) are refused: a caller could go round.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass

import regex as partial_regex

from dialplan import names, numbers
from dialplan.configuration import (SCENARIO_NAMES, Configuration, Handler, Line, MenuItem,
                                    NumberOwner, OwnerKind, Phone, Playlist, Queue,
                                    numbering_plan)
from dialplan.messages import N_, Message, message, quoted
from dialplan.override_rules import Rule, time_range_problem
from dialplan.schedules import WEEKDAYS, Schedule, parse_hhmm
from fastagi.session import DIGITS

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One reason to refuse (error) or to look again at (warning) the configuration."""

    place: Message  # "phone 101", "line 'prov1'", "menu 'Main', item 90000, handler 2 (key 1)"
    text: Message
    severity: str = ERROR

    @property
    def where(self) -> str:
        return self.place.render()

    @property
    def message(self) -> str:
        return self.text.render()

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == WARNING else ""
        return f"{prefix}{self.where}: {self.message}"


def _error(place: Message, template: str, **params) -> Problem:
    return Problem(place, Message(template, params), ERROR)


def _warning(place: Message, template: str, **params) -> Problem:
    return Problem(place, Message(template, params), WARNING)


PHONE_NUMBER = re.compile(r"[0-9]{2,15}")
ITEM_NUMBER = PHONE_NUMBER
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
# A handler's target as the menu engine passes it to the dialplan (TELECENTER_NEXT);
# a number (dialplan.numbers) in any case, which the dialplan checks again.
TARGET = re.compile(r"[+]?[0-9*#]{1,20}")
KEYS = DIGITS  # a handler's key: one key of the keypad
PLAYLIST_ITEM_KINDS = ("audio", "tts", "queue_position", "greeting", "estimated_wait")
PLAYLIST_MODES = ("in_order", "random")
TIMEOUT_SECONDS = (1, 600)
# A queue's limits (the queues table checks the same).
QUEUE_NAME_LENGTH = 100
RING_SECONDS = (3, 300)
RING_AT_ONCE = (1, 100)
WRAP_UP_SECONDS = (0, 3600)
MAX_WAIT_SECONDS = (10, 86400)


class RegexError(ValueError):
    """An outbound regex that cannot be used; ``reason`` says why (translatable)."""

    def __init__(self, template: str, **params):
        self.reason = Message(template, params)
        super().__init__(self.reason.render())


# One token of an outbound regex, in the Python syntax the admin types.  A
# class lists characters of a number only (dialplan.numbers).
_TOKEN = re.compile(rf"""
    (?P<klass>\[(?:\\d|[0-9]-[0-9]|[0-9{re.escape(numbers.SYMBOLS)}])+\])  # [0-9], [*#], [\d]
  | (?P<negated>\[\^[^\]]*\]?)                                       # [^5]
  | (?P<wide>\[[^\]]*\])                                             # [0-9a], [&,]
  | (?P<digit>[0-9#])
  | (?P<escaped>\\[d{re.escape(numbers.SYMBOLS)}])                     # \d, escaped literals
  | (?P<any>\.)
  | (?P<quantifier>[*+?]|\{{[0-9]{{1,3}}(?:,[0-9]{{0,3}})?\}})
  | (?P<open>\((?:\?:)?)
  | (?P<close>\))
  | (?P<bar>\|)
  | (?P<start>\^)
  | (?P<end>\$)
""", re.X)

# POSIX only promises RE_DUP_MAX >= 255.
MAX_REPEAT = 255

_ESCAPED = {"\\d": "[0-9]", "\\+": "[+]", "\\*": "[*]", "\\#": "[#]"}


# Python's re and the regex module say what is wrong with a pattern in English
# of their own; these are the common cases, by how their message starts, in our words.
_REGEX_ERRORS = (
    ("missing ), unterminated comment", N_("unclosed comment")),
    ("missing )", N_("unclosed parenthesis")),
    ("unbalanced parenthesis", N_("a closing parenthesis without an opening one")),
    ("unterminated character set", N_("unclosed square bracket")),
    ("nothing to repeat", N_("nothing to repeat")),
    ("multiple repeat", N_("a repeat of a repeat")),
    ("min repeat greater than max repeat",
     N_("the least number of repeats is greater than the most")),
    ("the repetition number is too large", N_("too many repeats")),
    ("repeat count too big", N_("too many repeats")),
    ("bad escape (end of pattern)", N_("a backslash at the end")),
    ("bad escape", N_("an unknown escape after a backslash")),
    ("bad character range", N_("a range whose start is after its end")),
    ("unexpected end of pattern", N_("the regex ends too early")),
    ("invalid group reference", N_("a reference to a group that does not exist")),
    ("unknown group", N_("a reference to a group that does not exist")),
)


def _regex_error(what: str, position: int | None) -> Message:
    if position is None:
        return Message(N_("error in the regex: %(what)s"), {"what": Message(what)})
    return Message(N_("error in the regex at position %(position)s: %(what)s"),
                   {"position": position + 1, "what": Message(what)})


def regex_syntax_problem(pattern: str) -> Message | None:
    """What keeps ``pattern`` from being a regex for ``re`` and the ``regex`` module
    (the menu engine uses both), in our own words with its position, or None."""
    for module in (re, partial_regex):
        try:
            module.compile(pattern)
        except (re.error, partial_regex.error) as exc:
            what = next((text for start, text in _REGEX_ERRORS if exc.msg.startswith(start)),
                        N_("this is not a valid regex"))
            return _regex_error(what, exc.pos)
        except OverflowError:  # re: a repeat count beyond C's integers
            return _regex_error(N_("too many repeats"), None)
        except RecursionError:
            return _regex_error(N_("too many nested groups"), None)
    return None


def dialplan_regex(regex: str) -> str:
    """The outbound ``regex`` as Asterisk's REGEX() should see it, or RegexError.

    The regex decides what a phone may dial out, and Dial reads ',' '&' and
    '(' as its own syntax, so it must match whole numbers only: each
    alternative from '^' to '$', built of characters a number may have
    (``dialplan.numbers``).  Accepted: digits and '#', character classes of
    digits, ranges, '*', '#' and '+', \\d, the escapes \\+ \\* \\#, the
    quantifiers * + ? {m} {m,} {m,n}, groups ( ) and (?: ), alternation |,
    '^' at the start of an alternative and '$' at its end; refused besides
    anything else: '.', negated classes and an alternative not anchored at
    both ends.  Python's re and POSIX extended regexes agree on whether such
    a regex matches a number.  The result has no backslash, quote, ';' or
    unbalanced bracket, so it survives the dialplan's own parsing inside
    ${REGEX("..." ${ARG1})}: escapes become one-character classes
    (\\+ -> [+]), (?: becomes (.
    """
    problem = regex_syntax_problem(regex)
    if problem is not None:
        raise RegexError(problem.template, **problem.params)
    out = []
    previous = "start-of-alternative"  # kind of the previous token
    depth = 0
    pos = 0
    while pos < len(regex):
        match = _TOKEN.match(regex, pos)
        if match is None:
            raise RegexError(N_("%(char)s at position %(position)s is not supported here"
                                " (use digits, [0-9], \\d, \\+, * + ? {m,n} ( ) | ^ $)"),
                             char=quoted(regex[pos]), position=pos + 1)
        kind, text = match.lastgroup, match.group()
        if kind == "any":
            raise RegexError(N_("'.' at position %(position)s takes any character, ',' and '&'"
                                " too: use \\d or [0-9] (a number has digits, +, * and # only)"),
                             position=pos + 1)
        if kind == "negated":
            raise RegexError(N_("%(text)s at position %(position)s takes every character it does"
                                " not list, ',' and '&' too: list the characters a number may"
                                " have instead"), text=quoted(text), position=pos + 1)
        if kind == "wide":
            raise RegexError(N_("%(text)s at position %(position)s lists characters a number"
                                " cannot have (digits, +, * and # only; ranges of digits)"),
                             text=quoted(text), position=pos + 1)
        if depth == 0 and previous == "start-of-alternative" and kind != "start":
            raise RegexError(N_("must match whole numbers: start it, and every alternative"
                                " after a top-level '|', with '^'"))
        if depth == 0 and kind == "bar" and previous != "end":
            raise RegexError(N_("must match whole numbers: end it, and every alternative"
                                " before a top-level '|', with '$'"))
        if kind == "quantifier" and previous not in ("atom", "close"):
            raise RegexError(N_("%(text)s at position %(position)s repeats nothing (or repeats a"
                                " repeat)"), text=quoted(text), position=pos + 1)
        if kind == "start" and previous != "start-of-alternative":
            raise RegexError(N_("'^' at position %(position)s is only allowed at the start"),
                             position=pos + 1)
        if kind in ("bar", "close") and previous in ("start-of-alternative", "start"):
            raise RegexError(N_("empty alternative or group before position %(position)s"),
                             position=pos + 1)
        if previous == "end" and kind not in ("bar", "close"):
            raise RegexError(N_("'$' before position %(position)s is only allowed at the end"),
                             position=pos + 1)
        if kind == "quantifier" and text.startswith("{"):
            bounds = [int(b) for b in text[1:-1].split(",") if b]
            if max(bounds) > MAX_REPEAT:
                raise RegexError(N_("%(text)s at position %(position)s: repeat counts above"
                                    " %(max)s are not portable"),
                                 text=text, position=pos + 1, max=MAX_REPEAT)
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
            "klass": "atom", "digit": "atom", "escaped": "atom",
            "quantifier": "quantifier", "open": "start-of-alternative",
            "bar": "start-of-alternative", "close": "close", "start": "start", "end": "end",
        }[kind]
        pos = match.end()
    if previous in ("start-of-alternative", "start") and regex:
        raise RegexError(N_("ends with an empty alternative"))
    if depth:
        raise RegexError(N_("unbalanced parentheses"))
    if regex and previous != "end":
        raise RegexError(N_("must match whole numbers: end it, and every alternative"
                            " before a top-level '|', with '$'"))
    translated = "".join(out)
    if re.search(translated, "") is not None or re.search(regex, "") is not None:
        raise RegexError(N_("matches the empty number, so every call would leave through this"
                            " line"))
    return translated


def check(config: Configuration, *,
          audio_on_disk: Collection[int] | None = None) -> list[Problem]:
    """Every problem of ``config``, errors and warnings, in a stable order.

    ``audio_on_disk``: the ids of the library's audio files whose recording
    is on disk (Apply looks); None skips that check (a pure look at the rows).
    """
    problems: list[Problem] = []
    for phone in config.phones:
        problems += _phone_problems(phone)
    plan = numbering_plan(config)
    problems += _number_conflicts(config, plan)
    seen_names: set[str] = set()
    seen_hosts: dict[str, str] = {}
    for line in config.lines:
        where = line_place(line.name)
        problems += _line_problems(line, where, plan)
        if line.name in seen_names:
            problems.append(_error(where, N_("another line has the same name")))
        seen_names.add(line.name)
        if line.host in seen_hosts:
            problems.append(_error(where, N_("host %(host)s is also line %(other)s's: calls from"
                                             " it could not be told apart"),
                                   host=line.host, other=quoted(seen_hosts[line.host])))
        seen_hosts.setdefault(line.host, line.name)
    audio = _AudioCheck(config, audio_on_disk)
    playlists = {playlist.id: playlist for playlist in config.playlists}
    for item in config.menu_items:
        problems += _item_problems(config, item, plan, audio, playlists)
    problems += _circles_without_input(config)
    problems += _unreached_items(config)
    for playlist in config.playlists:
        problems += _playlist_problems(playlist, audio)
    for queue in config.queues:
        problems += _queue_problems(config, queue, plan, playlists)
    if config.transfer.music_audio_id is not None:
        problems += audio.problems(TRANSFER_PLACE, config.transfer.music_audio_id)
    for schedule in config.schedules:
        problems += _schedule_problems(schedule)
    problems += _rules_problems(config, plan)
    return problems


def validate(config: Configuration, *,
             audio_on_disk: Collection[int] | None = None) -> list[Problem]:
    """The errors of ``config``: what stops it from being applied (see ``check``)."""
    return [problem for problem in check(config, audio_on_disk=audio_on_disk)
            if problem.is_error]


# Where a problem is: what the admin sees before the colon.

def phone_place(number: str) -> Message:
    return message(N_("phone %(number)s"), number=number)


def line_place(name: str) -> Message:
    return message(N_("line %(name)s"), name=quoted(name))


def item_place(config: Configuration, item: MenuItem) -> Message:
    return message(N_("menu %(menu)s, item %(number)s"), menu=_menu_name(config, item),
                   number=item.number)


def handler_place(config: Configuration, item: MenuItem, index: int) -> Message:
    """Handler ``index`` (0-based) of ``item``, named by its position and what it reacts to."""
    handler = item.handlers[index]
    if handler.kind == "key":
        what = message(N_("key %(key)s"), key=handler.key)
    elif handler.kind == "timeout":
        what = message(N_("timeout %(seconds)s s"), seconds=handler.seconds)
    elif handler.kind == "sequence":
        what = message(N_("sequence %(pattern)s"), pattern=handler.pattern)
    else:
        what = Message(handler.kind)
    return message(N_("menu %(menu)s, item %(number)s, handler %(index)s (%(what)s)"),
                   menu=_menu_name(config, item), number=item.number, index=index + 1,
                   what=what)


TRANSFER_PLACE = Message(N_("the transfer settings"))


def queue_place(queue: Queue) -> Message:
    return message(N_("queue %(name)s (%(number)s)"), name=quoted(queue.name),
                   number=queue.number)


def queue_key_place(queue: Queue, key: str) -> Message:
    return message(N_("queue %(name)s (%(number)s), key %(key)s"), name=quoted(queue.name),
                   number=queue.number, key=key)


def playlist_place(playlist: Playlist) -> Message:
    return message(N_("playlist %(name)s"), name=quoted(playlist.name))


def playlist_item_place(playlist: Playlist, index: int) -> Message:
    return message(N_("playlist %(name)s, item %(index)s"), name=quoted(playlist.name),
                   index=index + 1)


def _menu_name(config: Configuration, item: MenuItem) -> Message | str:
    for menu in config.menus:
        if menu.id == item.menu_id:
            return quoted(menu.name)
    return f"#{item.menu_id}"


# Phones, lines and numbers.

def _phone_problems(phone: Phone) -> list[Problem]:
    where = phone_place(phone.number)
    problems = []
    if not PHONE_NUMBER.fullmatch(phone.number):
        problems.append(_error(phone_place(quoted(phone.number)),
                               N_("the number must be 2 to 15 digits")))
    if not MD5_HEX.fullmatch(phone.md5_cred):
        problems.append(_error(where, N_("the stored password digest is not an md5 hex digest")))
    if phone.kind not in PHONE_KINDS:
        problems.append(_error(where, N_("unknown phone type %(kind)s"), kind=quoted(phone.kind)))
    if CONTROL_CHARACTERS.search(phone.description):
        problems.append(_error(where, N_("the description has line breaks or control"
                                         " characters")))
    return problems


def _number_conflicts(config: Configuration, plan: dict[str, list[NumberOwner]]) -> list[Problem]:
    """Two owners of one number: the second is told who has it first."""
    places: dict[NumberOwner, deque[Message]] = defaultdict(deque)
    for phone in config.phones:
        places[NumberOwner(OwnerKind.PHONE, phone.number)].append(phone_place(phone.number))
    for item in config.menu_items:
        places[NumberOwner(OwnerKind.MENU_ITEM, item.number)].append(item_place(config, item))
    for queue in config.queues:
        places[NumberOwner(OwnerKind.QUEUE, queue.number)].append(queue_place(queue))

    def place(owner: NumberOwner) -> Message:
        """Each owner's own place, in turn (two menu items on one number are two places)."""
        if owner.kind is OwnerKind.SELFTEST:
            return Message(N_("self-test"))
        return places[owner].popleft()

    problems = []
    for number, owners in plan.items():
        if len(owners) > 1:
            first = place(owners[0])
            for owner in owners[1:]:
                problems.append(_error(place(owner), N_("number %(number)s is also %(owner)s"),
                                       number=number, owner=first))
    return problems


def _line_problems(line: Line, where: Message, plan: dict[str, list[NumberOwner]]) -> list[Problem]:
    problems = []
    if not LINE_NAME.fullmatch(line.name):
        problems.append(_error(where, N_("the name must be a lower-case letter, then up to 31"
                                         " lower-case letters, digits, '_' or '-'")))
    if not HOST.fullmatch(line.host):
        problems.append(_error(where, N_("%(host)s is not a host name or IPv4 address"),
                               host=quoted(line.host)))
    if not 1 <= line.port <= 65535:
        problems.append(_error(where, N_("port %(port)s is not between 1 and 65535"),
                               port=line.port))
    if line.transport not in TRANSPORTS:
        problems.append(_error(where, N_("transport must be one of %(transports)s"),
                               transports=", ".join(TRANSPORTS)))
    if line.reg_username or line.reg_password or line.reg_domain:
        if not line.reg_username or not line.reg_password:
            problems.append(_error(where, N_("registration needs both a username and a password"
                                             " (or leave username, domain and password empty)")))
        if line.reg_username and not REG_USERNAME.fullmatch(line.reg_username):
            problems.append(_error(where, N_("the registration username may have letters,"
                                             " digits and . _ + - only")))
        if line.reg_password and not SECRET.fullmatch(line.reg_password):
            problems.append(_error(where, N_("the registration password must be up to 64"
                                             " printable characters without blanks, ';' or"
                                             " '\\'")))
        if line.reg_domain and not HOST.fullmatch(line.reg_domain):
            problems.append(_error(where, N_("registration domain %(domain)s is not a host name"),
                                   domain=quoted(line.reg_domain)))
    if line.outbound_regex:
        try:
            dialplan_regex(line.outbound_regex)
        except RegexError as exc:
            problems.append(_error(where, N_("outbound regex %(regex)s %(reason)s"),
                                   regex=quoted(line.outbound_regex), reason=exc.reason))
    if line.inbound_number:
        if not INBOUND_NUMBER.fullmatch(line.inbound_number):
            problems.append(_error(where, N_("the inbound number must be digits")))
        elif line.inbound_number not in plan:
            problems.append(_error(where, N_("inbound number %(number)s does not exist"),
                                   number=line.inbound_number))
    return problems


def lines_on_phone_addresses(config: Configuration,
                             phone_addresses: Collection[str]) -> list[Problem]:
    """A warning for each line whose host is an address phones register from.

    Asterisk recognises a line's calls by the far end's address before it looks
    at who logs in (pjsip's identify by IP comes first), so such a line would
    take the phones' calls and registrations for its own. ``phone_addresses``
    are the IP addresses the phones' contacts came from (Apply asks Asterisk);
    a warning, not a refusal: the office may mean it for a while.
    """
    addresses = set(phone_addresses)
    return [_warning(line_place(line.name),
                     N_("host %(host)s is an address phones register from: Asterisk would"
                        " take their calls for calls arriving on this line (it recognises a"
                        " line by the address first)"), host=line.host)
            for line in config.lines if line.host in addresses]


def fallback_problems(config: Configuration, fallback_number: str) -> list[Problem]:
    """The fallback must be reachable without the server: a phone, or a number a line
    dials out; never a menu item (served by the server that has just failed)."""
    if not fallback_number:
        return []
    owners = numbering_plan(config).get(fallback_number, [])
    if any(owner.kind is OwnerKind.PHONE for owner in owners) or (
            not owners and line_dialling_out(config, fallback_number)):
        return []
    return [_error(Message(N_("the fallback number (TELECENTER_FALLBACK_NUMBER)")),
                   N_("%(number)s is neither a phone nor a number a line dials out: a caller"
                      " the server could not serve must reach it without the server"),
                   number=quoted(fallback_number))]


def line_dialling_out(config: Configuration, number: str) -> Line | None:
    """The line that takes ``number`` out, as [telecenter-outbound] decides; None if none."""
    return first_line_for(config.lines, number)


def first_line_for(lines, number: str):
    """The first of ``lines`` (anything with an ``outbound_regex``, in the lines' order)
    whose outbound regex takes ``number``, as [telecenter-dial-out] decides; None if none.
    The dialer picks the line of a robocall with it too."""
    if not numbers.is_number(number) or len(number) < names.OUTBOUND_MIN_LENGTH:
        return None
    for line in lines:
        if not line.outbound_regex:
            continue
        try:
            dialplan_regex(line.outbound_regex)
        except RegexError:
            continue  # reported with the line
        if re.search(line.outbound_regex, number):
            return line
    return None


# Menu items and their handlers.

class _AudioCheck:
    """Whether an audio id is in the library and, when known, on disk."""

    def __init__(self, config: Configuration, on_disk: Collection[int] | None):
        self.names = {audio.id: audio.name for audio in config.audio_files}
        self.on_disk = None if on_disk is None else set(on_disk)

    def problems(self, place: Message, audio_id: int | None) -> list[Problem]:
        if audio_id not in self.names:
            return [_error(place, N_("audio file %(id)s is not in the audio library"),
                           id=audio_id)]
        if self.on_disk is not None and audio_id not in self.on_disk:
            return [_error(place, N_("audio file %(name)s (id %(id)s) has no recording on disk:"
                                     " upload it again"),
                           name=quoted(self.names[audio_id]), id=audio_id)]
        return []


def _item_problems(config: Configuration, item: MenuItem, plan: dict[str, list[NumberOwner]],
                   audio: _AudioCheck, playlists: dict[int, Playlist]) -> list[Problem]:
    where = item_place(config, item)
    problems = []
    if not ITEM_NUMBER.fullmatch(item.number):
        problems.append(_error(where, N_("the number must be 2 to 15 digits")))
    if item.kind == "audio":
        problems += audio.problems(where, item.audio_id)
    elif item.kind == "tts":
        if not item.text.strip():
            problems.append(_error(where, N_("the text to speak is empty")))
    elif item.kind == "playlist":
        if item.playlist_id not in playlists:
            problems.append(_error(where, N_("playlist %(id)s does not exist"),
                                   id=item.playlist_id))
    elif item.kind == "scenario":
        if item.scenario not in SCENARIO_NAMES:
            problems.append(_error(where, N_("unknown scenario %(scenario)s"),
                                   scenario=quoted(item.scenario)))
    else:
        problems.append(_error(where, N_("unknown item type %(kind)s"), kind=quoted(item.kind)))
    keys: dict[str, int] = {}
    timeout: int | None = None
    for index, handler in enumerate(item.handlers):
        place = handler_place(config, item, index)
        if handler.kind == "key":
            if len(handler.key) != 1 or handler.key not in KEYS:
                problems.append(_error(place, N_("key %(key)s is not one of 0-9, * or #"),
                                       key=quoted(handler.key)))
            elif handler.key in keys:
                problems.append(_error(place, N_("key %(key)s is already handled by handler"
                                                 " %(other)s"),
                                       key=handler.key, other=keys[handler.key] + 1))
            else:
                keys[handler.key] = index
        elif handler.kind == "timeout":
            low, high = TIMEOUT_SECONDS
            if handler.seconds is None or not low <= handler.seconds <= high:
                problems.append(_error(place, N_("the timeout must be %(low)s to %(high)s"
                                                 " seconds"), low=low, high=high))
            if timeout is not None:
                problems.append(_error(place, N_("a second timeout handler: handler %(other)s"
                                                 " already is one"), other=timeout + 1))
            else:
                timeout = index
        elif handler.kind == "sequence":
            problems += _sequence_problems(place, handler)
        else:
            problems.append(_error(place, N_("unknown handler type %(kind)s"),
                                   kind=quoted(handler.kind)))
        problems += _target_problems(config, place, handler.target, plan)
    return problems


def _sequence_problems(place: Message, handler: Handler) -> list[Problem]:
    problem = sequence_problem(handler.pattern)
    return [Problem(place, problem)] if problem else []


def sequence_problem(pattern: str) -> Message | None:
    """Why the menu engine cannot use a sequence regex, or None.

    The engine matches it with ``re`` and tells partial entries with the
    ``regex`` module, so both must compile it, and it must need at least one key.
    """
    problem = regex_syntax_problem(pattern)
    if problem is not None:
        return problem
    if re.fullmatch(pattern, ""):
        return Message(N_("regex %(pattern)s matches the empty sequence: it must need"
                          " at least one key"), {"pattern": quoted(pattern)})
    return None


def _target_problems(config: Configuration, place: Message, target: str,
                     plan: dict[str, list[NumberOwner]]) -> list[Problem]:
    """Where a handler or a queue sends a call: nowhere (hang up), a number of the
    numbering plan or a number a line dials out."""
    if not target:
        return []  # hangs up
    if not TARGET.fullmatch(target):
        return [_error(place, N_("target %(target)s is not a number (digits, * and #, up to"
                                 " 20, optionally after +)"), target=quoted(target))]
    if target in plan or line_dialling_out(config, target):
        return []
    return [_error(place, N_("target %(target)s leads nowhere: it is not a menu item, a queue,"
                             " a phone or a number a line dials out"), target=target)]


def _no_input_next(item: MenuItem) -> str | None:
    """Where ``item`` sends the call by itself: the timeout target of an item without keys."""
    if any(handler.kind in ("key", "sequence") for handler in item.handlers):
        return None
    timeout = next((h for h in item.handlers if h.kind == "timeout"), None)
    return timeout.target if timeout is not None and timeout.target else None


def _circles_without_input(config: Configuration) -> list[Problem]:
    """Circles of items that move on by themselves (see the module doc): one error each."""
    items = {item.number: item for item in config.menu_items}
    problems = []
    reported: set[str] = set()
    for start in sorted(items):
        path: list[str] = []
        number: str | None = start
        while number in items and number not in path and number not in reported:
            path.append(number)
            number = _no_input_next(items[number])
        if number in path:
            circle = path[path.index(number):]
            reported.update(path)
            first = min(circle)
            ordered = circle[circle.index(first):] + circle[:circle.index(first)] + [first]
            problems.append(_error(item_place(config, items[first]),
                                   N_("items %(circle)s send the call round in a circle on"
                                      " timeouts, never waiting for a key"),
                                   circle=" -> ".join(ordered)))
        else:
            reported.update(path)
    return problems


def _unreached_items(config: Configuration) -> list[Problem]:
    """Items nothing leads a caller to (a warning: a phone can still dial them)."""
    reached = {handler.target for item in config.menu_items for handler in item.handlers}
    reached |= {target for queue in config.queues for target in _queue_targets(queue)}
    reached |= {line.inbound_number for line in config.lines if line.inbound_number}
    first_of_menu: dict[int, str] = {}
    for item in sorted(config.menu_items, key=lambda item: (len(item.number), item.number)):
        first_of_menu.setdefault(item.menu_id, item.number)
    reached |= set(first_of_menu.values())
    return [_warning(item_place(config, item),
                     N_("nothing leads callers here: it is not the first item of its menu, no"
                        " handler's target and no line's inbound number (only dialling"
                        " %(number)s reaches it)"), number=item.number)
            for item in config.menu_items if item.number not in reached]


# Playlists.

def _playlist_problems(playlist: Playlist, audio: _AudioCheck) -> list[Problem]:
    where = playlist_place(playlist)
    problems = []
    if playlist.mode not in PLAYLIST_MODES:
        problems.append(_error(where, N_("unknown playlist mode %(mode)s"),
                               mode=quoted(playlist.mode)))
    if not playlist.items:
        problems.append(_warning(where, N_("the playlist is empty: callers hear nothing from"
                                           " it")))
    for index, entry in enumerate(playlist.items):
        place = playlist_item_place(playlist, index)
        if entry.kind == "audio":
            problems += audio.problems(place, entry.audio_id)
        elif entry.kind == "tts":
            if not entry.text.strip():
                problems.append(_error(place, N_("the text to speak is empty")))
        elif entry.kind not in PLAYLIST_ITEM_KINDS:
            problems.append(_error(place, N_("unknown playlist item type %(kind)s"),
                                   kind=quoted(entry.kind)))
    return problems


# Queues.

def _queue_targets(queue: Queue) -> list[str]:
    """Every number a queue may send a caller to (keys, no member online, maximum wait)."""
    return ([key.target for key in queue.keys]
            + [queue.when_empty_number, queue.after_max_wait_number])


def _queue_problems(config: Configuration, queue: Queue, plan: dict[str, list[NumberOwner]],
                    playlists: dict[int, Playlist]) -> list[Problem]:
    where = queue_place(queue)
    problems = []
    if not queue.name.strip() or len(queue.name) > QUEUE_NAME_LENGTH:
        problems.append(_error(where, N_("the name must be 1 to %(length)s characters"),
                               length=QUEUE_NAME_LENGTH))
    if CONTROL_CHARACTERS.search(queue.name):
        problems.append(_error(where, N_("the name has line breaks or control characters")))
    if not ITEM_NUMBER.fullmatch(queue.number):
        problems.append(_error(where, N_("the number must be 2 to 15 digits")))
    problems += _queue_limit(where, queue.ring_seconds, RING_SECONDS,
                             N_("the ring time must be %(low)s to %(high)s seconds"))
    if queue.ring_at_once is not None:
        problems += _queue_limit(where, queue.ring_at_once, RING_AT_ONCE,
                                 N_("the number of members to ring at once must be %(low)s to"
                                    " %(high)s (or all)"))
    problems += _queue_limit(where, queue.wrap_up_seconds, WRAP_UP_SECONDS,
                             N_("the wrap-up time must be %(low)s to %(high)s seconds"))
    if queue.max_wait_seconds is not None:
        problems += _queue_limit(where, queue.max_wait_seconds, MAX_WAIT_SECONDS,
                                 N_("the maximum wait must be %(low)s to %(high)s seconds"))
    problems += _queue_member_problems(config, queue, where)
    if queue.playlist_id is not None and queue.playlist_id not in playlists:
        problems.append(_error(where, N_("playlist %(id)s does not exist"), id=queue.playlist_id))
    seen: set[str] = set()
    for key in queue.keys:
        place = queue_key_place(queue, key.key)
        if len(key.key) != 1 or key.key not in KEYS:
            problems.append(_error(place, N_("key %(key)s is not one of 0-9, * or #"),
                                   key=quoted(key.key)))
        elif key.key in seen:
            problems.append(_error(place, N_("the key is listed twice")))
        seen.add(key.key)
        problems += _target_problems(config, place, key.target, plan)
    problems += _queue_callback_key_problems(queue, seen)
    problems += _queue_leaving_problems(config, queue, where, plan)
    return problems


def _queue_callback_key_problems(queue: Queue, keys: set[str]) -> list[Problem]:
    """The callback key is one key of the keypad, and not a key that sends the caller on."""
    key = queue.callback_key
    if not key:
        return []
    place = queue_key_place(queue, key)
    if len(key) != 1 or key not in KEYS:
        return [_error(place, N_("the callback key %(key)s is not one of 0-9, * or #"),
                       key=quoted(key))]
    if key in keys:
        return [_error(place, N_("the key both orders a callback and sends the caller on"))]
    return []


def _queue_limit(where: Message, value: int, limits: tuple[int, int],
                 template: str) -> list[Problem]:
    low, high = limits
    return [] if low <= value <= high else [_error(where, template, low=low, high=high)]


def _queue_member_problems(config: Configuration, queue: Queue, where: Message) -> list[Problem]:
    if not queue.members:
        return [_error(where, N_("the queue has no members: add at least one phone that"
                                 " answers its calls"))]
    phones = {phone.number for phone in config.phones}
    problems = []
    seen: set[str] = set()
    for member in queue.members:
        if member not in phones:
            problems.append(_error(where, N_("member %(number)s is not a phone"),
                                   number=quoted(member)))
        elif member in seen:
            problems.append(_error(where, N_("member %(number)s is listed twice"),
                                   number=member))
        seen.add(member)
    return problems


def _queue_leaving_problems(config: Configuration, queue: Queue, where: Message,
                            plan: dict[str, list[NumberOwner]]) -> list[Problem]:
    """Where the callers the queue could not serve go: checked like a handler's target,
    never back into the queue, and a warning when the option that uses it is off."""
    problems = []
    for number, used, unused_template, place_template in (
            (queue.when_empty_number, queue.stop_when_empty,
             N_("the number for when no member is online (%(number)s) is not used: stopping"
                " when no member is online is off"),
             N_("the number for when no member is online")),
            (queue.after_max_wait_number, queue.max_wait_seconds is not None,
             N_("the number after the maximum wait (%(number)s) is not used: the queue has"
                " no maximum wait"),
             N_("the number after the maximum wait"))):
        if not number:
            continue
        place = message(N_("%(queue)s, %(what)s"), queue=where, what=Message(place_template))
        if not used:
            problems.append(_warning(where, unused_template, number=number))
            continue
        if number == queue.number:
            problems.append(_error(place, N_("sends the callers the queue could not serve back"
                                             " into it")))
        problems += _target_problems(config, place, number, plan)
    return problems


# Schedules and override rules.

SCHEDULE_NAME_LENGTH = 100
RULE_COMMENT_LENGTH = 200


def schedule_place(schedule: Schedule) -> Message:
    return message(N_("schedule %(name)s"), name=quoted(schedule.name))


def rule_place(config: Configuration, rule: Rule) -> Message:
    """Rule ``rule`` named by its number and its place among that number's rules, as the
    admin's list shows them."""
    mine = sorted((other for other in config.rules if other.called_number == rule.called_number),
                  key=lambda other: (other.position, other.id))
    index = next((n for n, other in enumerate(mine) if other.id == rule.id), 0)
    return message(N_("override rule %(index)s of number %(number)s"), index=index + 1,
                   number=rule.called_number)


def _span_problem(starts: str, ends: str) -> str | None:
    try:
        if parse_hhmm(starts) < parse_hhmm(ends):
            return None
    except ValueError:
        return N_("%(starts)s-%(ends)s is not a span of hours HH:MM-HH:MM")
    return N_("%(starts)s-%(ends)s ends before it starts")


def _schedule_problems(schedule: Schedule) -> list[Problem]:
    where = schedule_place(schedule)
    problems = []
    if not schedule.name.strip() or len(schedule.name) > SCHEDULE_NAME_LENGTH:
        problems.append(_error(where, N_("the name must be 1 to %(length)s characters"),
                               length=SCHEDULE_NAME_LENGTH))
    if CONTROL_CHARACTERS.search(schedule.name):
        problems.append(_error(where, N_("the name has line breaks or control characters")))
    for span in schedule.hours:
        if span.weekday not in WEEKDAYS:
            problems.append(_error(where, N_("weekday %(weekday)s is not 1 to 7"),
                                   weekday=span.weekday))
        template = _span_problem(span.starts, span.ends)
        if template:
            problems.append(_error(where, template, starts=span.starts, ends=span.ends))
    for entry in schedule.dates:
        if entry.starts or entry.ends:
            template = _span_problem(entry.starts, entry.ends)
            if template:
                problems.append(_error(where, template, starts=entry.starts, ends=entry.ends))
    return problems


def caller_regex_problem(pattern: str) -> Message | None:
    """Why a rule cannot use a caller regex, or None (read by ``re`` and ``regex``)."""
    if not pattern:
        return Message(N_("an empty regex matches every caller: leave the list empty instead"))
    return regex_syntax_problem(pattern)


def _rules_problems(config: Configuration, plan: dict[str, list[NumberOwner]]) -> list[Problem]:
    schedules = {schedule.id for schedule in config.schedules}
    problems = []
    for rule in config.rules:
        where = rule_place(config, rule)
        if not TARGET.fullmatch(rule.called_number):
            problems.append(_error(where, N_("the called number %(number)s is not a number"),
                                   number=quoted(rule.called_number)))
        elif rule.called_number not in plan and not line_dialling_out(config, rule.called_number):
            problems.append(_error(where, N_("nothing answers %(number)s and no line dials it"
                                             " out: the rule would never be used"),
                                   number=rule.called_number))
        for number in rule.caller_numbers:
            if not numbers.is_number(number):
                problems.append(_error(where, N_("caller number %(number)s is not a number"),
                                       number=quoted(number)))
        for pattern in rule.caller_regexes:
            problem = caller_regex_problem(pattern)
            if problem is not None:
                problems.append(_error(where, N_("caller regex %(regex)s: %(reason)s"),
                                       regex=quoted(pattern), reason=problem))
        for text in rule.time_ranges:
            problem = time_range_problem(text)
            if problem is not None:
                problems.append(Problem(where, problem))
        for weekday in rule.weekdays:
            if weekday not in WEEKDAYS:
                problems.append(_error(where, N_("weekday %(weekday)s is not 1 to 7"),
                                       weekday=weekday))
        if rule.schedule_id is not None and rule.schedule_id not in schedules:
            problems.append(_error(where, N_("schedule %(id)s does not exist"),
                                   id=rule.schedule_id))
        if len(rule.comment) > RULE_COMMENT_LENGTH or CONTROL_CHARACTERS.search(rule.comment):
            problems.append(_error(where, N_("the comment must be up to %(length)s characters"
                                             " on one line"), length=RULE_COMMENT_LENGTH))
        problems += _target_problems(config, where, rule.redirect, plan)
    problems += _rule_circles(config)
    return problems


def _rule_circles(config: Configuration) -> list[Problem]:
    """Numbers whose rules may send a call back to them: one error at the first rule."""
    leads: dict[str, set[str]] = defaultdict(set)
    for rule in config.rules:
        if rule.redirect:
            leads[rule.called_number].add(rule.redirect)
    problems = []
    for start in sorted(leads):
        seen: set[str] = set()
        todo = list(leads[start])
        while todo:
            number = todo.pop()
            if number == start:
                first = next(rule for rule in sorted(config.rules,
                                                     key=lambda r: (r.position, r.id))
                             if rule.called_number == start and rule.redirect)
                problems.append(_error(rule_place(config, first),
                                       N_("the rules of %(number)s can send a call round back"
                                          " to %(number)s"), number=start))
                break
            if number not in seen:
                seen.add(number)
                todo += leads.get(number, ())
    return problems
