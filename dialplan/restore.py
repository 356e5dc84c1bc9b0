"""Restoring a configuration into the database: what a rollback does before it applies.

``restore_configuration(conn, config, who, audio_dir)`` makes the
configuration tables hold exactly ``config`` (an earlier revision's, kept
by ``dialplan.snapshot``), in one transaction, so the admin's pages show
what the rollback brought back and the next Apply keeps it:

* rows the configuration has keep their ids (menu items point at audio
  files, playlists and menus by id, and so do the rows a revision kept): a
  row still there is updated, a row gone since is inserted again with its
  id; columns the configuration does not hold (creation times, an audio
  file's original name) are kept for rows still there and take their
  defaults for rows inserted again (an audio file's size is its
  recording's on disk);
* rows it lacks are deleted, in an order the foreign keys accept (a later
  menu item that plays a later recording goes before the recording);
  recordings stay on disk, so a rollback can itself be rolled back;
* menu items, handlers and playlist entries hold nothing beyond the
  configuration, so a changed item is deleted and inserted again with its
  id and handlers, and a playlist's entries are written again when they
  changed;
* a queue keeps its row (and id) like a phone; its members and keys hold
  nothing beyond the configuration and are written again when they
  changed; what a kept queue or the transfer music points at is let go
  first when it changes, so the recording or playlist can be deleted;
* schedules keep their rows (and ids); their hours and dates are written
  again; override rules hold nothing beyond the configuration and are all
  written again with their ids (a schedule the dialer's settings still use
  is kept even when the configuration lacks it: those settings are not
  part of a revision);
* names and numbers that must be unique may trade places (phone 201 ↔
  202, two queues' names), so rows whose unique value changes hold a
  temporary one first;
* the id sequences move past the restored ids, so the next new row does
  not collide with one brought back;
* every object that changed gets a change_log row, action 'rollback', with
  its old and new values as the admin's sections write them (names, not
  ids; secrets masked by ``dialplan.change_log``).

The configuration tables are locked against writes (reads go on) until the
caller's transaction ends: the rollback keeps it open until Asterisk has
taken the restored configuration, and a rejection rolls all of it back.
A recording missing from disk is the caller's check, before anything
changes (Apply's validation: ``dialplan.apply.rollback``).
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import Any

from psycopg import Connection, sql

from dialplan.change_log import record_change
from dialplan.configuration import (AudioFile, Configuration, Handler, Line, MenuItem, Phone,
                                    Playlist, Queue, audio_file_path, read_configuration)
from dialplan.override_rules import Rule
from dialplan.schedules import Schedule

# Every table a configuration lives in, locked while it is restored.
CONFIGURATION_TABLES = ("phones", "lines", "audio_files", "playlists", "playlist_items",
                        "menus", "menu_items", "menu_handlers", "tts_settings", "queues",
                        "queue_members", "queue_keys", "transfer_settings", "schedules",
                        "schedule_hours", "schedule_dates", "override_rules")
# The tables whose ids a restore writes explicitly (their sequences move past them).
_RESTORED_IDS = ("phones", "lines", "audio_files", "playlists", "menus", "menu_items",
                 "queues", "schedules", "override_rules")
_RULE_COLUMNS = tuple(f.name for f in fields(Rule))

_LINE_COLUMNS = tuple(f.name for f in fields(Line) if f.name != "id")
# What a queue's own row holds (its members and keys have tables of their own).
_QUEUE_COLUMNS = tuple(f.name for f in fields(Queue) if f.name not in ("id", "members", "keys"))


def restore_configuration(conn: Connection, config: Configuration, who: str,
                          audio_dir: Path) -> int:
    """Make the configuration tables hold exactly ``config``; the number of objects changed.

    Runs in one transaction (a savepoint inside the caller's, whose end keeps
    or undoes it); each changed object's change_log row names ``who``.
    """
    with conn.transaction():
        conn.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(
            sql.SQL(", ").join(map(sql.Identifier, CONFIGURATION_TABLES))))
        current = read_configuration(conn)
        changes = history_rows(current, config)
        _write(conn, current, config, Path(audio_dir))
        for object_type, object_id, old, new in changes:
            record_change(conn, who, "rollback", object_type, object_id, old, new)
    return len(changes)


# --- the rows ---------------------------------------------------------------------------------

def _by_id(rows) -> dict[int, Any]:
    return {row.id: row for row in rows}


def _item_row(item: MenuItem) -> MenuItem:
    """A menu item without its handlers: what its own row holds."""
    return replace(item, handlers=())


def _write(conn: Connection, current: Configuration, target: Configuration,
           audio_dir: Path) -> None:
    old_items, new_items = _by_id(current.menu_items), _by_id(target.menu_items)
    rewritten = [i for i in old_items
                 if i not in new_items or _item_row(old_items[i]) != _item_row(new_items[i])]
    conn.execute("DELETE FROM menu_items WHERE id = ANY(%s)", (rewritten,))  # handlers go too
    old_lists, new_lists = _by_id(current.playlists), _by_id(target.playlists)
    refilled = [p for p in new_lists if p not in old_lists or old_lists[p].items != new_lists[p].items]
    conn.execute("DELETE FROM playlist_items WHERE playlist_id = ANY(%s)", (refilled,))
    old_queues, new_queues = _by_id(current.queues), _by_id(target.queues)
    regrouped = [q for q in new_queues if q not in old_queues
                 or _member_rows(current, old_queues[q]) != _member_rows(target, new_queues[q])
                 or old_queues[q].keys != new_queues[q].keys]
    conn.execute("DELETE FROM queue_members WHERE queue_id = ANY(%s)", (regrouped,))
    conn.execute("DELETE FROM queue_keys WHERE queue_id = ANY(%s)", (regrouped,))
    conn.execute("UPDATE queues SET playlist_id = NULL WHERE id = ANY(%s)",
                 ([q for q in new_queues if q in old_queues
                   and old_queues[q].playlist_id != new_queues[q].playlist_id],))
    if current.transfer != target.transfer:
        conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")
    conn.execute("DELETE FROM override_rules")  # written again below, with their ids
    conn.execute("DELETE FROM schedules WHERE id <> ALL(%s) AND id NOT IN"
                 " (SELECT schedule_id FROM dialer_settings WHERE schedule_id IS NOT NULL)",
                 ([schedule.id for schedule in target.schedules],))
    # What is left refers only to rows the configuration keeps: the rest can go.
    for table, rows in (("queues", target.queues), ("menus", target.menus),
                        ("playlists", target.playlists),
                        ("audio_files", target.audio_files), ("phones", target.phones),
                        ("lines", target.lines)):
        conn.execute(sql.SQL("DELETE FROM {} WHERE id <> ALL(%s)").format(sql.Identifier(table)),
                     ([row.id for row in rows],))

    _upsert(conn, "phones", "number", current.phones, target.phones, _digits_placeholder,
            lambda p: {"number": p.number, "md5_cred": p.md5_cred, "kind": p.kind,
                       "description": p.description}, touch=True)
    _upsert(conn, "lines", "name", current.lines, target.lines, _line_placeholder,
            lambda line: {c: getattr(line, c) for c in _LINE_COLUMNS}, touch=True)
    _upsert(conn, "audio_files", "name", current.audio_files, target.audio_files,
            _name_placeholder, lambda a: {"name": a.name, "duration_ms": a.duration_ms},
            created=lambda a: {"size_bytes": _size(audio_file_path(audio_dir, a.id))})
    _upsert(conn, "playlists", "name", current.playlists, target.playlists, _name_placeholder,
            lambda p: {"name": p.name, "mode": p.mode})
    _upsert(conn, "menus", "name", current.menus, target.menus, _name_placeholder,
            lambda m: {"name": m.name})
    _upsert(conn, "queues", "number", current.queues, target.queues, _digits_placeholder,
            lambda q: {c: getattr(q, c) for c in _QUEUE_COLUMNS}, touch=True,
            also_unique=("name", _name_placeholder))
    _upsert(conn, "schedules", "name", current.schedules, target.schedules, _name_placeholder,
            lambda sch: {"name": sch.name, "production_calendar": sch.production_calendar},
            touch=True)
    _write_schedule_days(conn, target.schedules)
    for rule in target.rules:
        _insert(conn, "override_rules", {c: (list(v) if isinstance(v, tuple) else v)
                                         for c in _RULE_COLUMNS
                                         for v in (getattr(rule, c),)})
    _write_tts(conn, target)
    _write_transfer(conn, target)
    phone_ids = {phone.number: phone.id for phone in target.phones}
    for queue_id in regrouped:
        queue = new_queues[queue_id]
        for position, number in enumerate(queue.members):
            _insert(conn, "queue_members", {"queue_id": queue_id, "phone_id": phone_ids[number],
                                            "position": position})
        for key in queue.keys:
            _insert(conn, "queue_keys", {"queue_id": queue_id, "key": key.key,
                                         "target": key.target})

    for playlist_id in refilled:
        for position, entry in enumerate(new_lists[playlist_id].items):
            conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, audio_id, text)"
                         " VALUES (%s, %s, %s, %s, %s)",
                         (playlist_id, position, entry.kind, entry.audio_id, entry.text))
    for item_id, item in new_items.items():
        if item_id not in old_items or item_id in rewritten:
            _insert(conn, "menu_items", {"id": item.id, "menu_id": item.menu_id,
                                         "number": item.number, "kind": item.kind,
                                         "audio_id": item.audio_id,
                                         "playlist_id": item.playlist_id, "text": item.text,
                                         "scenario": item.scenario})
        elif old_items[item_id].handlers == item.handlers:
            continue
        else:
            conn.execute("DELETE FROM menu_handlers WHERE item_id = %s", (item_id,))
        for position, handler in enumerate(item.handlers):
            _insert(conn, "menu_handlers", {"item_id": item_id, "position": position,
                                            **_handler_columns(handler)})

    for table in _RESTORED_IDS:
        conn.execute(sql.SQL(
            "SELECT setval(pg_get_serial_sequence(%(table)s, 'id'),"
            " greatest(coalesce(pg_sequence_last_value(pg_get_serial_sequence(%(table)s, 'id')),"
            " 0), (SELECT coalesce(max(id), 0) FROM {}), 1))").format(sql.Identifier(table)),
            {"table": table})


def _write_schedule_days(conn, schedules: tuple[Schedule, ...]) -> None:
    """Each schedule's hours and dates, written again."""
    ids = [schedule.id for schedule in schedules]
    conn.execute("DELETE FROM schedule_hours WHERE schedule_id = ANY(%s)", (ids,))
    conn.execute("DELETE FROM schedule_dates WHERE schedule_id = ANY(%s)", (ids,))
    for schedule in schedules:
        for span in schedule.hours:
            _insert(conn, "schedule_hours", {"schedule_id": schedule.id, "weekday": span.weekday,
                                             "starts": span.starts, "ends": span.ends})
        for entry in schedule.dates:
            _insert(conn, "schedule_dates", {"schedule_id": schedule.id, "day": entry.day,
                                             "working": entry.working,
                                             "starts": entry.starts or None,
                                             "ends": entry.ends or None})


def _handler_columns(handler: Handler) -> dict:
    return {"kind": handler.kind, "target": handler.target, "key": handler.key,
            "seconds": handler.seconds, "pattern": handler.pattern}


def _upsert(conn, table, unique, current_rows, target_rows, placeholder, columns, *,
            touch=False, created=None, also_unique=None) -> None:
    """Update the rows still there that changed, insert the ones gone since (with their
    ids); a unique value that moves from one row to another is parked first (``unique``
    with ``placeholder``, and ``also_unique``'s (column, placeholder) when a table has two)."""
    old, new = _by_id(current_rows), _by_id(target_rows)
    changed = [row_id for row_id in new if row_id in old and old[row_id] != new[row_id]]
    name = sql.Identifier(table)
    for column, make in ((unique, placeholder), *((also_unique,) if also_unique else ())):
        moving = [row_id for row_id in changed
                  if getattr(old[row_id], column) != getattr(new[row_id], column)]
        taken = {getattr(row, column) for row in (*current_rows, *target_rows)}
        for row_id in moving:
            parked = make(row_id, taken)
            taken.add(parked)
            conn.execute(sql.SQL("UPDATE {} SET {} = %s WHERE id = %s").format(
                name, sql.Identifier(column)), (parked, row_id))
    for row_id in changed:
        values = columns(new[row_id])
        assignments = [sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values]
        if touch:
            assignments.append(sql.SQL("updated_at = now()"))
        conn.execute(sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
            name, sql.SQL(", ").join(assignments)), (*values.values(), row_id))
    for row_id in new:
        if row_id not in old:
            row = new[row_id]
            _insert(conn, table, {"id": row_id, **columns(row), **(created(row) if created else {})})


def _insert(conn, table: str, values: dict) -> None:
    conn.execute(sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values))), tuple(values.values()))


def _write_tts(conn, target: Configuration) -> None:
    values = asdict(target.tts)
    updated = conn.execute(sql.SQL("UPDATE tts_settings SET {} WHERE id = 1").format(
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in values)),
        tuple(values.values()))
    if updated.rowcount == 0:
        _insert(conn, "tts_settings", {"id": 1, **values})


def _member_rows(config: Configuration, queue: Queue) -> list[int | None]:
    """The phone ids a queue's member rows hold (a phone renumbered or made again since
    is another row)."""
    ids = {phone.number: phone.id for phone in config.phones}
    return [ids.get(number) for number in queue.members]


def _write_transfer(conn, target: Configuration) -> None:
    updated = conn.execute("UPDATE transfer_settings SET music_audio_id = %s WHERE id = 1",
                           (target.transfer.music_audio_id,))
    if updated.rowcount == 0:
        _insert(conn, "transfer_settings", {"id": 1,
                                            "music_audio_id": target.transfer.music_audio_id})


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _free(candidates, taken: set) -> str:
    return next(candidate for candidate in candidates if candidate not in taken)


def _digits_placeholder(row_id: int, taken: set) -> str:
    """A number no phone has, for the moment (15 digits, the longest a number may be)."""
    return _free((f"{10 ** 14 + row_id + 10 ** 6 * n}" for n in range(10 ** 6)), taken)


def _line_placeholder(row_id: int, taken: set) -> str:
    return _free((f"rollback-{row_id}-{n}" for n in range(10 ** 6)), taken)


def _name_placeholder(row_id: int, taken: set) -> str:
    return _free((f"(rollback {row_id}.{n})" for n in range(10 ** 6)), taken)


# --- the history ------------------------------------------------------------------------------

def history_rows(current: Configuration, target: Configuration
                 ) -> list[tuple[str, str, dict | None, dict | None]]:
    """(object type, object id, old value, new value) for every object that differs between
    ``current`` and ``target``, in the shapes the admin's sections record."""
    rows: list[tuple[str, str, dict | None, dict | None]] = []
    if current.tts != target.tts:
        rows.append(("tts settings", "", asdict(current.tts), asdict(target.tts)))
    if current.transfer != target.transfer:
        rows.append(("transfer settings", "", _transfer_value(current), _transfer_value(target)))

    def compare(object_type, old_rows, new_rows, label, value, extra=lambda old, new: {}):
        old, new = _by_id(old_rows), _by_id(new_rows)
        for row_id in [*old, *(i for i in new if i not in old)]:
            before, after = old.get(row_id), new.get(row_id)
            if before == after:
                continue
            rows.append((object_type, label(after if after is not None else before),
                         None if before is None else value(before, current),
                         None if after is None else {**value(after, target),
                                                     **(extra(before, after) if before else {})}))

    compare("phone", current.phones, target.phones, lambda p: p.number, _phone_value,
            lambda old, new: {"password_changed": True} if old.md5_cred != new.md5_cred else {})
    compare("line", current.lines, target.lines, lambda line: line.name,
            lambda line, _config: {c: getattr(line, c) for c in _LINE_COLUMNS})
    compare("audio file", current.audio_files, target.audio_files, lambda a: a.name,
            _audio_value)
    compare("playlist", current.playlists, target.playlists, lambda p: p.name, _playlist_value)
    compare("menu", current.menus, target.menus, lambda m: m.name,
            lambda menu, _config: {"name": menu.name})
    compare("menu item", current.menu_items, target.menu_items, lambda i: i.number, _item_value)
    compare("queue", current.queues, target.queues, lambda q: q.number, _queue_value)
    compare("schedule", current.schedules, target.schedules, lambda sch: sch.name,
            lambda sch, _config: schedule_value(sch))
    compare("override rule", current.rules, target.rules, rule_label,
            lambda rule, config: rule_value(rule, {sch.id: sch.name for sch in config.schedules}))
    return rows


def _phone_value(phone: Phone, _config: Configuration) -> dict:
    return {"number": phone.number, "kind": phone.kind, "description": phone.description}


def _audio_value(audio: AudioFile, _config: Configuration) -> dict:
    return {"id": audio.id, "name": audio.name, "duration_ms": audio.duration_ms}


def _audio_name(config: Configuration, audio_id: int | None):
    return next((a.name for a in config.audio_files if a.id == audio_id), audio_id)


def _playlist_value(playlist: Playlist, config: Configuration) -> dict:
    items = []
    for entry in playlist.items:
        kept: dict[str, Any] = {"kind": entry.kind}
        if entry.kind == "audio":
            kept["audio"] = _audio_name(config, entry.audio_id)
        if entry.kind == "tts":
            kept["text"] = entry.text
        items.append(kept)
    return {"name": playlist.name, "mode": playlist.mode, "items": items}


def _item_value(item: MenuItem, config: Configuration) -> dict:
    """An item as the menu pages record it: names, not ids, of what it plays; its handlers."""
    menu = next((m.name for m in config.menus if m.id == item.menu_id), item.menu_id)
    kept: dict[str, Any] = {"menu": menu, "number": item.number, "kind": item.kind}
    if item.kind == "tts":
        kept["text"] = item.text
    elif item.kind == "audio":
        kept["audio"] = _audio_name(config, item.audio_id)
    elif item.kind == "playlist":
        kept["playlist"] = next((p.name for p in config.playlists if p.id == item.playlist_id),
                                item.playlist_id)
    else:
        kept["scenario"] = item.scenario
    kept["handlers"] = [_handler_value(handler, item.number) for handler in item.handlers]
    return kept


def _handler_value(handler: Handler, number: str) -> dict:
    kept: dict[str, Any] = {"item": number, "kind": handler.kind, "target": handler.target}
    kept.update({"key": handler.key} if handler.kind == "key" else
                {"seconds": handler.seconds} if handler.kind == "timeout" else
                {"pattern": handler.pattern})
    return kept


def _playlist_name(config: Configuration, playlist_id: int | None):
    return next((p.name for p in config.playlists if p.id == playlist_id), playlist_id)


def _queue_value(queue: Queue, config: Configuration) -> dict:
    """A queue as the Queues page records it: its settings, member numbers, keys, and the
    name of its playlist."""
    kept: dict[str, Any] = {c: getattr(queue, c) for c in _QUEUE_COLUMNS if c != "playlist_id"}
    kept["playlist"] = _playlist_name(config, queue.playlist_id)
    kept["members"] = list(queue.members)
    kept["keys"] = [{"key": key.key, "target": key.target} for key in queue.keys]
    return kept


def _transfer_value(config: Configuration) -> dict:
    """The transfer settings as their page records them: the recording's name, or empty."""
    music = config.transfer.music_audio_id
    return {"music": "" if music is None else _audio_name(config, music)}


def schedule_value(schedule: Schedule) -> dict:
    """A schedule as the Schedules page records it: name, calendar, hours and dates."""
    return {"name": schedule.name, "production_calendar": schedule.production_calendar,
            "hours": [f"{span.weekday} {span.starts}-{span.ends}" for span in schedule.hours],
            "dates": [f"{entry.day} " + (("working" + (f" {entry.starts}-{entry.ends}"
                                                       if entry.starts else ""))
                                         if entry.working else "day off")
                      for entry in schedule.dates]}


def rule_label(rule: Rule) -> str:
    """How the history names an override rule: its number and its id."""
    return f"{rule.called_number} #{rule.id}"


def rule_value(rule: Rule, schedule_names: dict[int, str]) -> dict:
    """An override rule as the rules page records it (the schedule by name)."""
    kept: dict[str, Any] = {c: (list(v) if isinstance(v, tuple) else v)
                            for c in _RULE_COLUMNS if c not in ("id", "schedule_id")
                            for v in (getattr(rule, c),)}
    kept["schedule"] = (None if rule.schedule_id is None
                        else schedule_names.get(rule.schedule_id, rule.schedule_id))
    return kept
