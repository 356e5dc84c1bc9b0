"""The configuration Apply renders: phones, lines, menus and what they play, as loaded rows.

``load_configuration`` reads one consistent snapshot (a REPEATABLE READ,
read-only transaction), so an admin saving a form in the middle of an Apply
cannot give a half-old, half-new set of files.  The small helpers here are
shared with the admin: the digest a phone's password is stored as, a strong
generated password, and the numbering plan (every number that exists).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row, tuple_row

from dialplan import names
from dialplan.override_rules import Rule
from dialplan.schedules import Schedule, Span, SpecialDate, hhmm


@dataclass(frozen=True)
class Phone:
    """An internal SIP phone (spec 1): endpoint name and login are its number."""

    id: int
    number: str
    md5_cred: str
    kind: str = "simple"
    description: str = ""


@dataclass(frozen=True)
class Line:
    """An external line (spec 2): a trunk to a provider or another PBX."""

    id: int
    name: str
    host: str
    port: int = 5060
    transport: str = "udp"
    reg_username: str = ""
    reg_domain: str = ""
    reg_password: str = ""
    outbound_regex: str = ""
    position: int = 0
    inbound_number: str = ""
    external: bool = True

    @property
    def endpoint(self) -> str:
        """The pjsip endpoint (and aor, identify, registration) id of the line."""
        return f"line-{self.name}"

    @property
    def registers(self) -> bool:
        """Whether Asterisk registers to the far end (a username is set)."""
        return bool(self.reg_username)


# The scenarios a menu item may run, by the name its scenario column holds
# (the column's CHECK lists them too); ivr/scenarios.py runs each of them.
SCENARIO_NAMES = ("repeat_digits", "case_status", "open_cases", "callback", "dial_number")


@dataclass(frozen=True)
class AudioFile:
    """An uploaded recording, stored converted as <audio dir>/<id>.wav (spec 3)."""

    id: int
    name: str
    duration_ms: int = 0


def audio_file_path(audio_dir: Path, audio_id: int | str) -> Path:
    """Where the library keeps audio file ``audio_id``: ``<audio_dir>/<id>.wav``."""
    text = str(audio_id)
    if not text.isdigit():
        raise ValueError(f"audio id must be a number, not {text!r}")
    return Path(audio_dir) / f"{int(text)}.wav"


@dataclass(frozen=True)
class PlaylistItem:
    """One entry of a playlist: audio, TTS text, or a dynamic item said per caller."""

    kind: str  # audio | tts | queue_position | greeting | estimated_wait
    audio_id: int | None = None
    text: str = ""


@dataclass(frozen=True)
class Playlist:
    """What a caller hears while waiting (spec 5); ``mode`` in_order or random."""

    id: int
    name: str
    mode: str = "in_order"
    items: tuple[PlaylistItem, ...] = ()


@dataclass(frozen=True)
class Handler:
    """What a key press, a timeout or a digit sequence does in a menu item (spec 6).

    ``target`` is the number to go to; empty hangs up.
    """

    kind: str  # key | timeout | sequence
    target: str = ""
    key: str = ""
    seconds: int | None = None
    pattern: str = ""


@dataclass(frozen=True)
class MenuItem:
    """One voice menu item, reached by its own number (spec 6)."""

    id: int
    menu_id: int
    number: str
    kind: str  # audio | tts | playlist | scenario
    audio_id: int | None = None
    playlist_id: int | None = None
    text: str = ""
    scenario: str = ""
    handlers: tuple[Handler, ...] = ()


@dataclass(frozen=True)
class Menu:
    """A named group of items, as the admin shows them."""

    id: int
    name: str


@dataclass(frozen=True)
class QueueKey:
    """A key a waiting caller may press, and the number it sends the call to ('' ends it)."""

    key: str
    target: str = ""


@dataclass(frozen=True)
class Queue:
    """A queue (spec 7): callers wait by number; the server rings its member phones.

    ``ring_at_once`` None rings every free member at once; ``max_wait_seconds``
    None waits for ever; ``playlist_id`` None plays plain ringing.  The numbers
    a caller is sent to ('' ends the call) and ``members`` (phone numbers, in
    the admin's order) are numbers of the numbering plan or outside numbers.
    """

    id: int
    name: str
    number: str
    ring_seconds: int = 15
    ring_at_once: int | None = 1
    wrap_up_seconds: int = 0
    sticky: bool = False
    stop_when_empty: bool = False
    when_empty_number: str = ""
    max_wait_seconds: int | None = None
    after_max_wait_number: str = ""
    playlist_id: int | None = None
    callback_key: str = ""  # '' : no callback; else the key that orders one (spec 8)
    members: tuple[str, ...] = ()
    keys: tuple[QueueKey, ...] = ()


@dataclass(frozen=True)
class TransferSettings:
    """What a caller hears while an operator makes an attended transfer (*2, spec 11)."""

    music_audio_id: int | None = None


@dataclass(frozen=True)
class TtsSettings:
    """Which speech engine speaks texts, and each engine's voice (spec 4)."""

    engine: str = "festival"
    festival_voice: str = "msu_ru_nsh_clunits"
    espeak_voice: str = "ru"
    yandex_voice: str = "alena"
    yandex_service_account_id: str = ""
    yandex_key_id: str = ""
    yandex_folder_id: str = ""
    yandex_private_key_path: str = ""


@dataclass(frozen=True)
class Configuration:
    """Everything Apply renders.  Lines are kept in outbound order, items by number."""

    phones: tuple[Phone, ...] = ()
    lines: tuple[Line, ...] = ()
    audio_files: tuple[AudioFile, ...] = ()
    playlists: tuple[Playlist, ...] = ()
    menus: tuple[Menu, ...] = ()
    menu_items: tuple[MenuItem, ...] = ()
    tts: TtsSettings = TtsSettings()
    queues: tuple[Queue, ...] = ()  # by number
    transfer: TransferSettings = TransferSettings()
    schedules: tuple[Schedule, ...] = ()  # by id
    rules: tuple[Rule, ...] = ()  # by called number, then position


_PHONES = "SELECT id, number, md5_cred, kind, description FROM phones ORDER BY number"
_LINES = (
    "SELECT id, name, host, port, transport, reg_username, reg_domain, reg_password,"
    " outbound_regex, position, inbound_number, external"
    " FROM lines ORDER BY position, name"
)
_AUDIO = "SELECT id, name, duration_ms FROM audio_files ORDER BY id"
_PLAYLISTS = "SELECT id, name, mode FROM playlists ORDER BY id"
_PLAYLIST_ITEMS = ("SELECT playlist_id, kind, audio_id, text FROM playlist_items"
                   " ORDER BY playlist_id, position, id")
_MENUS = "SELECT id, name FROM menus ORDER BY id"
_MENU_ITEMS = ("SELECT id, menu_id, number, kind, audio_id, playlist_id, text, scenario"
               " FROM menu_items ORDER BY number")
_HANDLERS = ("SELECT item_id, kind, target, key, seconds, pattern FROM menu_handlers"
             " ORDER BY item_id, position, id")
_TTS = ("SELECT engine, festival_voice, espeak_voice, yandex_voice, yandex_service_account_id,"
        " yandex_key_id, yandex_folder_id, yandex_private_key_path FROM tts_settings")
_QUEUES = ("SELECT id, name, number, ring_seconds, ring_at_once, wrap_up_seconds, sticky,"
           " stop_when_empty, when_empty_number, max_wait_seconds, after_max_wait_number,"
           " playlist_id, callback_key FROM queues ORDER BY number")
_QUEUE_MEMBERS = ("SELECT m.queue_id, p.number FROM queue_members m JOIN phones p ON p.id = m.phone_id"
                  " ORDER BY m.queue_id, m.position, p.number")
_QUEUE_KEYS = "SELECT queue_id, key, target FROM queue_keys ORDER BY queue_id, key"
_TRANSFER = "SELECT music_audio_id FROM transfer_settings"
_SCHEDULES = "SELECT id, name, production_calendar FROM schedules ORDER BY id"
_SCHEDULE_HOURS = ("SELECT schedule_id, weekday, starts, ends FROM schedule_hours"
                   " ORDER BY schedule_id, weekday, starts")
_SCHEDULE_DATES = ("SELECT schedule_id, day, working, starts, ends FROM schedule_dates"
                   " ORDER BY schedule_id, day")
_RULES = ("SELECT id, called_number, caller_numbers, caller_regexes, time_ranges, weekdays,"
          " schedule_id, schedule_inside, redirect, position, comment FROM override_rules"
          " ORDER BY called_number, position, id")


def load_configuration(conn: Connection) -> Configuration:
    """Read the whole configuration as one snapshot (REPEATABLE READ, read only).

    ``conn`` must not be inside a transaction: the snapshot is its own.
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("load_configuration needs a connection outside a transaction")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return read_configuration(conn)


def read_configuration(conn: Connection) -> Configuration:
    """The whole configuration as the caller's transaction sees it (a rollback reads what
    it restored, before it commits); ``load_configuration`` for a snapshot of its own."""
    with conn.cursor(row_factory=class_row(Phone)) as cur:
        phones = tuple(cur.execute(_PHONES).fetchall())
    with conn.cursor(row_factory=class_row(Line)) as cur:
        lines = tuple(cur.execute(_LINES).fetchall())
    with conn.cursor(row_factory=class_row(AudioFile)) as cur:
        audio_files = tuple(cur.execute(_AUDIO).fetchall())
    with conn.cursor(row_factory=class_row(Menu)) as cur:
        menus = tuple(cur.execute(_MENUS).fetchall())
    with conn.cursor(row_factory=class_row(TtsSettings)) as cur:
        tts = cur.execute(_TTS).fetchone() or TtsSettings()
    with conn.cursor(row_factory=tuple_row) as cur:
        playlist_rows = cur.execute(_PLAYLISTS).fetchall()
        entries = _grouped(cur.execute(_PLAYLIST_ITEMS).fetchall(), PlaylistItem)
        item_rows = cur.execute(_MENU_ITEMS).fetchall()
        handlers = _grouped(cur.execute(_HANDLERS).fetchall(), Handler)
        queue_rows = cur.execute(_QUEUES).fetchall()
        members = _grouped(cur.execute(_QUEUE_MEMBERS).fetchall(), str)
        keys = _grouped(cur.execute(_QUEUE_KEYS).fetchall(), QueueKey)
        transfer_row = cur.execute(_TRANSFER).fetchone()
        schedule_rows = cur.execute(_SCHEDULES).fetchall()
        hours = _grouped(cur.execute(_SCHEDULE_HOURS).fetchall(),
                         lambda weekday, starts, ends: Span(weekday, hhmm(starts), hhmm(ends)))
        dates = _grouped(cur.execute(_SCHEDULE_DATES).fetchall(), _special_date)
        rule_rows = cur.execute(_RULES).fetchall()
    playlists = tuple(Playlist(pid, name, mode, entries.get(pid, ()))
                      for pid, name, mode in playlist_rows)
    items = tuple(MenuItem(*row, handlers=handlers.get(row[0], ())) for row in item_rows)
    queues = tuple(Queue(*row, members=members.get(row[0], ()), keys=keys.get(row[0], ()))
                   for row in queue_rows)
    transfer = TransferSettings(*transfer_row) if transfer_row else TransferSettings()
    schedules = tuple(Schedule(sid, name, calendar, hours.get(sid, ()), dates.get(sid, ()))
                      for sid, name, calendar in schedule_rows)
    rules = tuple(Rule(rid, called, tuple(callers), tuple(regexes), tuple(ranges),
                       tuple(weekdays), *rest)
                  for rid, called, callers, regexes, ranges, weekdays, *rest in rule_rows)
    return Configuration(phones=phones, lines=lines, audio_files=audio_files,
                         playlists=playlists, menus=menus, menu_items=items, tts=tts,
                         queues=queues, transfer=transfer, schedules=schedules, rules=rules)


def _special_date(day, working, starts, ends) -> SpecialDate:
    return SpecialDate(day.isoformat(), working, hhmm(starts) if starts is not None else "",
                       hhmm(ends) if ends is not None else "")


def _grouped(rows, make) -> dict[int, tuple]:
    """Rows whose first column is the owner's id -> owner id: tuple of ``make(*rest)``."""
    groups: dict[int, list] = {}
    for owner, *rest in rows:
        groups.setdefault(owner, []).append(make(*rest))
    return {owner: tuple(found) for owner, found in groups.items()}


def sip_digest(number: str, password: str) -> str:
    """What the phones table stores for a SIP password: md5("number:realm:password")."""
    text = f"{number}:{names.SIP_REALM}:{password}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def generate_password(length: int = 20) -> str:
    """A strong SIP password a softphone accepts: letters and digits only."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password)):
            return password


class OwnerKind(Enum):
    """What can answer a number."""

    SELFTEST = "self-test"
    PHONE = "phone"
    MENU_ITEM = "menu item"
    QUEUE = "queue"


@dataclass(frozen=True)
class NumberOwner:
    """What answers one number of the numbering plan: the one lookup validation,
    the admin's forms, routing and the scenarios share."""

    kind: OwnerKind
    number: str

    def __str__(self) -> str:
        """"phone 101", "menu item 90000", "self-test": how the menu plan file keeps it."""
        return self.kind.value if self.kind is OwnerKind.SELFTEST else f"{self.kind.value} {self.number}"

    @classmethod
    def parse(cls, text: str, number: str) -> NumberOwner:
        """The owner of ``number`` from its ``str()``; ValueError for anything else."""
        for kind in OwnerKind:
            if text == str(cls(kind, number)):
                return cls(kind, number)
        raise ValueError(f"not an owner of {number}: {text!r}")


def numbering_plan(config: Configuration) -> dict[str, list[NumberOwner]]:
    """Every number that exists, with what owns it.

    A number with more than one owner is a conflict (``validate`` reports it).
    """
    plan: dict[str, list[NumberOwner]] = {
        names.SELFTEST_NUMBER: [NumberOwner(OwnerKind.SELFTEST, names.SELFTEST_NUMBER)]}
    for phone in config.phones:
        plan.setdefault(phone.number, []).append(NumberOwner(OwnerKind.PHONE, phone.number))
    for item in config.menu_items:
        plan.setdefault(item.number, []).append(NumberOwner(OwnerKind.MENU_ITEM, item.number))
    for queue in config.queues:
        plan.setdefault(queue.number, []).append(NumberOwner(OwnerKind.QUEUE, queue.number))
    return plan
