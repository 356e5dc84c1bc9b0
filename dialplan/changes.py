"""What differs between two configurations, object by object: a pure function.

``changes(old, new)`` is what Apply will change (``old`` the active
revision's configuration, ``new`` the one being edited) or what one revision
changed from another.  Each ``Change`` names the object by what people call
it, not by its row id: a phone by its number, a line, an audio file, a
playlist or a menu by its name, a menu item by its number, a handler by the
key, "timeout" or the pattern it reacts to (and its item), a playlist item
by its position (and its playlist), a queue by its number (its members and
keys are fields of it, compared as whole lists: their order matters).

Objects are paired by that name first; an object whose name changed
(same row id, no object of the old name left) is one "changed" object with
the name among its fields, not a removal and an addition.  References
(an item's menu, audio file or playlist; a playlist item's audio; a queue's
playlist; the transfer music) compare
the objects they point at through that pairing, so renaming a menu does not
change its items.

Nested objects (a menu item's handlers, a playlist's items) are listed only
when their owner is in both configurations: a removed item takes its
handlers with it, an added one brings its own.

Secrets (a phone's password digest, a line's registration password, the
Yandex account's keys) are reported as changed with no values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum

from dialplan.configuration import Configuration, Handler, MenuItem, Playlist, Queue


class Action(Enum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Kind(Enum):
    """What kind of object changed, in the order changes are listed."""

    PHONE = "phone"
    LINE = "line"
    AUDIO_FILE = "audio file"
    PLAYLIST = "playlist"
    PLAYLIST_ITEM = "playlist item"
    MENU = "menu"
    MENU_ITEM = "menu item"
    HANDLER = "handler"
    QUEUE = "queue"
    SPEECH = "speech settings"
    TRANSFER = "transfer settings"
    SCHEDULE = "schedule"
    RULE = "override rule"


@dataclass(frozen=True)
class FieldChange:
    """One field that differs; ``old``/``new`` are None for a secret."""

    name: str
    old: object = None
    new: object = None
    secret: bool = False


@dataclass(frozen=True)
class Change:
    """One object added, removed or changed.

    ``key`` is the object's own name (phone number, line name, item number,
    playlist item position; for a handler the key or pattern, empty for the
    timeout); ``owner`` the object it belongs to (a handler's item number, a
    playlist item's playlist name); ``event`` a handler's kind (key, timeout,
    sequence); ``old_key`` the previous name of a renamed object.
    """

    action: Action
    kind: Kind
    key: str = ""
    owner: str = ""
    event: str = ""
    fields: tuple[FieldChange, ...] = ()
    old_key: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(field.name for field in self.fields)


# Fields compared per kind; the key field itself is compared too (a rename).
PHONE_FIELDS = ("number", "md5_cred", "kind", "description")
LINE_FIELDS = ("name", "host", "port", "transport", "reg_username", "reg_domain",
               "reg_password", "outbound_regex", "position", "inbound_number", "external")
TTS_FIELDS = ("engine", "festival_voice", "espeak_voice", "yandex_voice",
              "yandex_service_account_id", "yandex_key_id", "yandex_folder_id",
              "yandex_private_key_path")
QUEUE_FIELDS = ("name", "number", "ring_seconds", "ring_at_once", "wrap_up_seconds", "sticky",
                "stop_when_empty", "when_empty_number", "max_wait_seconds",
                "after_max_wait_number", "callback_key")
SCHEDULE_FIELDS = ("name", "production_calendar", "hours", "dates")
RULE_FIELDS = ("called_number", "caller_numbers", "caller_regexes", "time_ranges", "weekdays",
               "schedule_inside", "redirect", "position", "comment")
SECRET_FIELDS = frozenset({"md5_cred", "reg_password", "yandex_service_account_id",
                           "yandex_key_id", "yandex_private_key_path"})


def changes(old: Configuration, new: Configuration) -> list[Change]:
    """Every object added, removed or changed from ``old`` to ``new``, in a stable order:
    phones, lines, audio files, playlists (each followed by its items), menus,
    menu items (each followed by its handlers), queues, speech and transfer settings,
    schedules, override rules."""
    found: list[Change] = []
    found += _Pairing(old.phones, new.phones, lambda p: p.number).changes(
        Kind.PHONE, lambda a, b: _differ(a, b, PHONE_FIELDS))
    found += _Pairing(old.lines, new.lines, lambda line: line.name).changes(
        Kind.LINE, lambda a, b: _differ(a, b, LINE_FIELDS))
    audio = _Pairing(old.audio_files, new.audio_files, lambda a: a.name)
    found += audio.changes(Kind.AUDIO_FILE, lambda a, b: (
        [FieldChange("recording")] if (a.id, a.duration_ms) != (b.id, b.duration_ms) else []))
    playlists = _Pairing(old.playlists, new.playlists, lambda p: p.name)
    found += _with_children(
        playlists.changes(Kind.PLAYLIST, lambda a, b: _differ(a, b, ("name", "mode"))),
        [change for a, b in playlists.pairs for change in _playlist_items(a, b, audio, old, new)])
    menus = _Pairing(old.menus, new.menus, lambda m: m.name)
    found += menus.changes(Kind.MENU, lambda a, b: _differ(a, b, ("name",)))
    items = _Pairing(old.menu_items, new.menu_items, lambda i: i.number)
    found += _with_children(
        items.changes(Kind.MENU_ITEM, lambda a, b: _item_fields(a, b, menus, audio, playlists,
                                                               old, new)),
        [change for a, b in items.pairs for change in _handlers(a, b)])
    found += _Pairing(old.queues, new.queues, lambda q: q.number).changes(
        Kind.QUEUE, lambda a, b: _queue_fields(a, b, playlists, old, new))
    tts = _differ(old.tts, new.tts, TTS_FIELDS)
    if tts:
        found.append(Change(Action.CHANGED, Kind.SPEECH, fields=tuple(tts)))
    music = _reference("music", audio, old.transfer.music_audio_id,
                       new.transfer.music_audio_id, old.audio_files, new.audio_files)
    if music:
        found.append(Change(Action.CHANGED, Kind.TRANSFER, fields=tuple(music)))
    schedules = _Pairing(old.schedules, new.schedules, lambda sch: sch.name)
    found += schedules.changes(Kind.SCHEDULE, lambda a, b: _differ(a, b, SCHEDULE_FIELDS))
    found += _Pairing(old.rules, new.rules, rule_key).changes(
        Kind.RULE, lambda a, b: _differ(a, b, RULE_FIELDS) + _reference(
            "schedule", schedules, a.schedule_id, b.schedule_id, old.schedules, new.schedules))
    return found


def rule_key(rule) -> str:
    """How a change names an override rule: its number and its id ("92000 #3")."""
    return f"{rule.called_number} #{rule.id}"


def _natural(key: str) -> tuple:
    """Numbers in numeric order, names in alphabetical order ("²" is a name: only ASCII
    digits make a number)."""
    number = key.isascii() and key.isdigit()
    return (not number, int(key) if number else 0, key)


def _with_children(owners: list[Change], children: list[Change]) -> list[Change]:
    """Owners' changes in key order, each followed by its children's (children of an owner
    that did not change itself stand in its place)."""
    keys = sorted({c.key for c in owners} | {c.owner for c in children}, key=_natural)
    result = []
    for key in keys:
        result += [c for c in owners if c.key == key]
        result += [c for c in children if c.owner == key]
    return result


class _Pairing:
    """Objects of one kind paired old → new: by name, then a renamed one by row id."""

    def __init__(self, old: Iterable, new: Iterable, key: Callable):
        self.key = key
        self.old, self.new = list(old), list(new)
        new_by_key = {key(obj): obj for obj in self.new}
        self.pairs: list[tuple] = []
        left_old = []
        for obj in self.old:
            if key(obj) in new_by_key:
                self.pairs.append((obj, new_by_key.pop(key(obj))))
            else:
                left_old.append(obj)
        left_new = {obj.id: obj for obj in new_by_key.values()}
        self.removed = []
        for obj in left_old:
            if obj.id in left_new:
                self.pairs.append((obj, left_new.pop(obj.id)))
            else:
                self.removed.append(obj)
        self.added = [obj for obj in self.new if obj.id in left_new
                      and left_new[obj.id] is obj]
        self.old_to_new = {a.id: b.id for a, b in self.pairs}

    def same(self, old_id: int | None, new_id: int | None) -> bool:
        """Whether an old reference and a new one point at the same object."""
        if old_id is None or new_id is None:
            return old_id is None and new_id is None
        return self.old_to_new.get(old_id, old_id) == new_id

    def changes(self, kind: Kind, differ: Callable) -> list[Change]:
        found = [Change(Action.REMOVED, kind, self.key(obj)) for obj in self.removed]
        found += [Change(Action.ADDED, kind, self.key(obj)) for obj in self.added]
        for a, b in self.pairs:
            fields = differ(a, b)
            if fields:
                renamed = self.key(a) != self.key(b)
                found.append(Change(Action.CHANGED, kind, self.key(b), fields=tuple(fields),
                                    old_key=self.key(a) if renamed else ""))
        return sorted(found, key=lambda c: _natural(c.key))


def _differ(a, b, names: Iterable[str]) -> list[FieldChange]:
    """The fields among ``names`` whose values differ, secrets without values."""
    found = []
    for name in names:
        old, new = getattr(a, name), getattr(b, name)
        if old != new:
            found.append(FieldChange(name, secret=True) if name in SECRET_FIELDS
                         else FieldChange(name, old, new))
    return found


def _name_of(objects, object_id: int | None) -> str | None:
    for obj in objects:
        if obj.id == object_id:
            return obj.name
    return None if object_id is None else f"#{object_id}"


def _reference(name: str, pairing: _Pairing, old_id, new_id, old_objects, new_objects):
    if pairing.same(old_id, new_id):
        return []
    return [FieldChange(name, _name_of(old_objects, old_id), _name_of(new_objects, new_id))]


def _item_fields(a: MenuItem, b: MenuItem, menus: _Pairing, audio: _Pairing,
                 playlists: _Pairing, old: Configuration, new: Configuration) -> list[FieldChange]:
    fields = _differ(a, b, ("number",))
    fields += _reference("menu", menus, a.menu_id, b.menu_id, old.menus, new.menus)
    fields += _differ(a, b, ("kind",))
    fields += _reference("audio", audio, a.audio_id, b.audio_id, old.audio_files, new.audio_files)
    fields += _reference("playlist", playlists, a.playlist_id, b.playlist_id,
                         old.playlists, new.playlists)
    fields += _differ(a, b, ("text", "scenario"))
    return fields


def _queue_fields(a: Queue, b: Queue, playlists: _Pairing, old: Configuration,
                  new: Configuration) -> list[FieldChange]:
    fields = _differ(a, b, QUEUE_FIELDS)
    fields += _reference("playlist", playlists, a.playlist_id, b.playlist_id,
                         old.playlists, new.playlists)
    fields += _differ(a, b, ("members", "keys"))
    return fields


def _playlist_items(a: Playlist, b: Playlist, audio: _Pairing, old: Configuration,
                    new: Configuration) -> list[Change]:
    """A playlist's entries compared position by position."""
    found = []
    for index in range(max(len(a.items), len(b.items))):
        position = str(index + 1)
        if index >= len(b.items):
            found.append(Change(Action.REMOVED, Kind.PLAYLIST_ITEM, position, owner=b.name))
        elif index >= len(a.items):
            found.append(Change(Action.ADDED, Kind.PLAYLIST_ITEM, position, owner=b.name))
        else:
            before, after = a.items[index], b.items[index]
            fields = _differ(before, after, ("kind",))
            fields += _reference("audio", audio, before.audio_id, after.audio_id,
                                 old.audio_files, new.audio_files)
            fields += _differ(before, after, ("text",))
            if fields:
                found.append(Change(Action.CHANGED, Kind.PLAYLIST_ITEM, position, owner=b.name,
                                    fields=tuple(fields)))
    return found


def _handler_identity(handler: Handler) -> tuple[str, str]:
    """(event, key): what a handler reacts to; one timeout per item."""
    if handler.kind == "key":
        return ("key", handler.key)
    if handler.kind == "sequence":
        return ("sequence", handler.pattern)
    return (handler.kind, "")


# Handlers are listed keys first, then sequences, the timeout last.
_EVENT_ORDER = {"key": 0, "sequence": 1, "timeout": 2}


def _handlers(a: MenuItem, b: MenuItem) -> list[Change]:
    """An item's handlers paired by what they react to (in order, if one is there twice)."""
    def numbered(handlers):
        seen: Counter = Counter()
        result = {}
        for handler in handlers:
            identity = _handler_identity(handler)
            result[(identity, seen[identity])] = handler
            seen[identity] += 1
        return result

    before, after = numbered(a.handlers), numbered(b.handlers)
    found = []
    slots = sorted(set(before) | set(after),
                   key=lambda slot: (_EVENT_ORDER.get(slot[0][0], 3), _natural(slot[0][1]), slot[1]))
    for slot in slots:
        (event, key), _ = slot
        if slot not in after:
            found.append(Change(Action.REMOVED, Kind.HANDLER, key, owner=b.number, event=event))
        elif slot not in before:
            found.append(Change(Action.ADDED, Kind.HANDLER, key, owner=b.number, event=event))
        else:
            fields = _differ(before[slot], after[slot], ("target", "seconds"))
            if fields:
                found.append(Change(Action.CHANGED, Kind.HANDLER, key, owner=b.number,
                                    event=event, fields=tuple(fields)))
    return found

