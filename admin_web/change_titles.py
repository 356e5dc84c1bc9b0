"""What the change history calls things, in the admin's language.

Every object_type and field that a `record_change` caller (and Apply's
revision rows) writes has a title here, so a change reads «Изменён телефон
203: описание» with a small table of what changed, not raw keys and JSON.
Titles of values (a role, an engine, an item's kind) repeat the msgids the
sections use, so the catalog holds one translation of each.

This module imports no section: anything in the admin may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin_web.audit import MASK, masked
from admin_web.i18n import file_size

# The object filter's titles, one per object_type written to change_log.
OBJECT_TITLES = {
    "phone": _l("Phone"),
    "line": _l("Line"),
    "sip_block": _l("SIP block"),
    "audio file": _l("Recording"),
    "playlist": _l("Playlist"),
    "menu": _l("Menu"),
    "menu item": _l("Menu item"),
    "menu handler": _l("Handler"),
    "tts settings": _l("Speech synthesis"),
    "tts cache": _l("Speech cache"),
    "person": _l("Person"),
    "case": _l("Case"),
    "user": _l("User"),
    "revision": _l("Revision"),
    "callback": _l("Callback request"),
    "queue": _l("Queue"),
    "transfer settings": _l("Call transfer settings"),
    "schedule": _l("Schedule"),
    "override rule": _l("Override rule"),
    "dialer settings": _l("Robocall settings"),
    "robocall task": _l("Robocall task"),
}

# One line per change: %(name)s is the object's number or name.
SUMMARIES = {
    "phone": {"create": _l("Phone %(name)s added"), "update": _l("Phone %(name)s changed"),
              "delete": _l("Phone %(name)s deleted")},
    "line": {"create": _l("Line %(name)s added"), "update": _l("Line %(name)s changed"),
             "delete": _l("Line %(name)s deleted")},
    "sip_block": {"update": _l("Block of %(name)s lifted")},
    "audio file": {"create": _l("Recording %(name)s uploaded"),
                   "update": _l("Recording %(name)s changed"),
                   "delete": _l("Recording %(name)s deleted")},
    "playlist": {"create": _l("Playlist %(name)s added"),
                 "update": _l("Playlist %(name)s changed"),
                 "delete": _l("Playlist %(name)s deleted")},
    "menu": {"create": _l("Menu %(name)s added"), "update": _l("Menu %(name)s changed"),
             "delete": _l("Menu %(name)s deleted")},
    "menu item": {"create": _l("Menu item %(name)s added"),
                  "update": _l("Menu item %(name)s changed"),
                  "delete": _l("Menu item %(name)s deleted")},
    "menu handler": {"create": _l("Handler (%(event)s) of item %(name)s added"),
                     "update": _l("Handler (%(event)s) of item %(name)s changed"),
                     "delete": _l("Handler (%(event)s) of item %(name)s deleted")},
    "tts settings": {"update": _l("Speech synthesis settings changed")},
    "tts cache": {"delete": _l("Speech cache cleared")},
    "person": {"create": _l("Person %(name)s added"), "update": _l("Person %(name)s changed"),
               "delete": _l("Person %(name)s deleted")},
    "case": {"create": _l("Case %(name)s added"), "update": _l("Case %(name)s changed"),
             "delete": _l("Case %(name)s deleted")},
    "user": {"create": _l("User %(name)s added"), "update": _l("User %(name)s changed"),
             "delete": _l("User %(name)s deleted")},
    "callback": {"update": _l("Callback request %(name)s changed")},
    "queue": {"create": _l("Queue %(name)s added"), "update": _l("Queue %(name)s changed"),
              "delete": _l("Queue %(name)s deleted")},
    "transfer settings": {"update": _l("Call transfer settings changed")},
    "schedule": {"create": _l("Schedule %(name)s added"),
                 "update": _l("Schedule %(name)s changed"),
                 "delete": _l("Schedule %(name)s deleted")},
    "override rule": {"create": _l("Override rule %(name)s added"),
                      "update": _l("Override rule %(name)s changed"),
                      "delete": _l("Override rule %(name)s deleted")},
    "dialer settings": {"update": _l("Robocall settings changed")},
    "robocall task": {"create": _l("Robocall task for %(name)s added"),
                      "update": _l("Robocall task for %(name)s called now"),
                      "delete": _l("Robocall task for %(name)s deleted")},
    "revision": {"apply": _l("Revision %(name)s applied"),
                 "rollback": _l("Rolled back to revision %(of)s (revision %(name)s)")},
}

ACTION_TITLES = {
    "create": _l("created"),
    "update": _l("changed"),
    "delete": _l("deleted"),
    "apply": _l("applied"),
    "rollback": _l("rolled back"),
}

# In the order a change shows its fields: what names the object first.
FIELD_TITLES = {
    "number": _l("Number"),
    "name": _l("Name"),
    "login": _l("Login"),
    "full_name": _l("Full name"),
    "address": _l("Address"),
    "menu": _l("Menu"),
    "item": _l("Menu item"),
    "kind": _l("Type"),
    "key": _l("Key"),
    "seconds": _l("Seconds"),
    "pattern": _l("Regex"),
    "target": _l("Target number"),
    "description": _l("Description"),
    "until": _l("Until"),
    "lifted_at": _l("Lifted at"),
    "lifted_by": _l("Lifted by"),
    "mode": _l("Mode"),
    "items": _l("Items"),
    "audio": _l("Recording"),
    "text": _l("Text"),
    "host": _l("Host"),
    "port": _l("Port"),
    "transport": _l("Transport"),
    "reg_username": _l("Registration username"),
    "reg_domain": _l("Registration domain"),
    "reg_password": _l("Registration password"),
    "outbound_regex": _l("Outbound regex"),
    "position": _l("Order"),
    "inbound_number": _l("Inbound number"),
    "external": _l("External"),
    "engine": _l("Engine"),
    "festival_voice": _l("Festival voice"),
    "espeak_voice": _l("espeak-ng voice"),
    "yandex_voice": _l("Yandex voice"),
    "yandex_service_account_id": _l("Yandex service account ID"),
    "yandex_key_id": _l("Yandex key ID"),
    "yandex_folder_id": _l("Yandex folder ID"),
    "yandex_private_key_path": _l("Path to the Yandex private key file"),
    "files": _l("Files"),
    "bytes": _l("Size"),
    "playlist": _l("Playlist"),
    "scenario": _l("Scenario"),
    "handlers": _l("Handlers"),
    "first_name": _l("Name for the greeting"),
    "phone": _l("Phone"),
    "cases": _l("Cases"),
    "service": _l("Service"),
    "status": _l("Status"),
    "is_open": _l("Open (in progress)"),
    "filed_on": _l("Filed on"),
    "person": _l("Person"),
    "id": _l("ID"),
    "original_name": _l("Original file name"),
    "duration_ms": _l("Duration"),
    "size_bytes": _l("Size"),
    "role": _l("Role"),
    "password_changed": _l("Password changed"),
    "files_hash": _l("Files"),
    "rollback_of": _l("Rollback to revision"),
    "done_at": _l("Done at"),
    "done_by": _l("Done by"),
    "md5_cred": _l("Password"),
    "recording": _l("Recording"),
    "ring_seconds": _l("Ring time of a member"),
    "ring_at_once": _l("Members ringing at once"),
    "wrap_up_seconds": _l("Wrap-up time"),
    "sticky": _l("Same operator for a returning caller"),
    "stop_when_empty": _l("Stop waiting when no member is online"),
    "when_empty_number": _l("Number when no member is online"),
    "max_wait_seconds": _l("Maximum wait"),
    "after_max_wait_number": _l("Number after the maximum wait"),
    "members": _l("Members"),
    "keys": _l("Keys while waiting"),
    "callback_key": _l("Callback key"),
    "music": _l("Music while transferring"),
    "production_calendar": _l("Russian production calendar"),
    "hours": _l("Hours"),
    "dates": _l("Dates"),
    "called_number": _l("Called number"),
    "caller_numbers": _l("Caller numbers"),
    "caller_regexes": _l("Caller regexes"),
    "time_ranges": _l("Time of day"),
    "weekdays": _l("Weekdays"),
    "schedule": _l("Schedule"),
    "schedule_inside": _l("Inside the schedule's hours"),
    "redirect": _l("Redirect number"),
    "comment": _l("Comment"),
}
# Where one field means something else in one kind of object.
OBJECT_FIELD_TITLES = {
    # The robocall dialer's settings and tasks: as their forms name the fields.
    ("dialer settings", "enabled"): _l("Robocalls on"),
    ("dialer settings", "retry_minutes"): _l("Retry after an unsuccessful attempt (minutes)"),
    ("dialer settings", "max_lines"): _l("Lines to use at most"),
    ("dialer settings", "give_up_no_answers"): _l(
        "Give up after this many unanswered calls (the provider said it rang)"),
    ("dialer settings", "give_up_failures"): _l(
        "Give up after this many technical failures (the provider could not be reached)"),
    ("dialer settings", "window_start"): _l("Call from"),
    ("dialer settings", "window_end"): _l("Call until"),
    ("dialer settings", "ring_seconds"): _l("Ring for (seconds)"),
    ("dialer settings", "schedule_id"): _l("Only within the working hours of"),
    ("robocall task", "phone"): _l("Number"),
    ("robocall task", "text"): _l("Text to say"),
    ("robocall task", "priority"): _l("Priority (0 highest)"),
    ("robocall task", "not_before"): _l("Call not before"),
    ("robocall task", "call_now"): _l("Call now"),
    ("menu item", "kind"): _l("What it plays"),
    ("menu item", "audio"): _l("Audio file"),
    ("menu item", "items"): _l("Items"),
    ("menu", "items"): _l("Menu items"),
    ("menu handler", "kind"): _l("Event"),
    ("menu handler", "position"): _l("Order"),
    ("playlist item", "kind"): _l("Type"),
    ("queue", "name"): _l("Title"),
    ("queue", "playlist"): _l("Hold playlist"),
}
# Fields the history keeps but a reader does not need (the summary says them).
HIDDEN_FIELDS = {"revision": {"files_hash", "rollback_of"}, "audio file": {"id"}}

VALUE_TITLES = {
    ("phone", "kind"): {"simple": _l("Simple SIP phone")},
    ("menu item", "kind"): {"tts": _l("Text to speech"), "audio": _l("Audio file"),
                            "playlist": _l("Playlist"), "scenario": _l("Interactive scenario")},
    ("menu item", "scenario"): {"repeat_digits": _l("Repeat the digits entered"),
                                "case_status": _l("Status of a case entered by keys"),
                                "open_cases": _l("Read the caller's open cases"),
                                "callback": _l("Order a callback"),
                                "dial_number": _l("Dial the entered number")},
    ("menu handler", "kind"): {"key": _l("Key press"), "timeout": _l("Timeout"),
                               "sequence": _l("Digit sequence")},
    ("playlist", "mode"): {"in_order": _l("In order"), "random": _l("Random")},
    ("playlist item", "kind"): {"audio": _l("Recording"), "tts": _l("Text (speech synthesis)"),
                                "queue_position": _l("Position in the queue"),
                                "greeting": _l("Greeting by name"),
                                "estimated_wait": _l("Estimated wait")},
    ("user", "role"): {"operator": _l("Operator"), "manager": _l("Manager"),
                       "administrator": _l("Administrator")},
    ("tts settings", "engine"): {"festival": _l("Festival (Russian voice festvox-ru)"),
                                 "espeak": _l("espeak-ng"),
                                 "yandex": _l("Yandex SpeechKit (cloud)")},
}
# The object type of the rows a list field holds (a menu's items, an item's handlers).
NESTED_TYPES = {("menu", "items"): "menu item", ("menu item", "handlers"): "menu handler",
                ("queue", "keys"): "queue key",
                ("playlist", "items"): "playlist item", ("person", "cases"): "case"}
# Objects whose change_log id is a row id: the field that names them instead.
NAME_FIELDS = {"sip_block": "address", "callback": "phone", "robocall task": "phone"}
# What a row inside another repeats of it (a menu's items name the menu).
NESTED_HIDDEN = {"menu item": {"menu"}, "menu handler": {"item", "position"}}
EMPTY = "—"
# What an empty value means in some fields (a queue without a limit, the default music).
EMPTY_TITLES = {("override rule", "redirect"): _l("the call ends"),
                ("override rule", "schedule"): _l("any time"),
                ("queue", "ring_at_once"): _l("all at once"),
                ("queue", "max_wait_seconds"): _l("no limit"),
                ("queue", "playlist"): _l("plain ringing"),
                ("transfer settings", "music"): _l("Asterisk's default music")}


@dataclass(frozen=True)
class FieldChange:
    """One row of a change's table: the field's title, its value before and after."""

    title: str
    before: str
    after: str


@dataclass(frozen=True)
class ChangeView:
    """A change_log row as the history shows it; ``kind`` is what happened to the object
    ('create', 'update', 'delete'; a rollback's row is one of these too)."""

    summary: str
    fields: tuple[FieldChange, ...]
    kind: str


_FIELD_ORDER = {field: index for index, field in enumerate(FIELD_TITLES)}


def object_title(object_type: str) -> str:
    """The object type's title, or the type itself when it has none."""
    title = OBJECT_TITLES.get(object_type)
    return str(title) if title is not None else object_type


def field_title(object_type: str, field: str) -> str:
    title = OBJECT_FIELD_TITLES.get((object_type, field)) or FIELD_TITLES.get(field)
    return str(title) if title is not None else field


def value_text(object_type: str, field: str, value: Any) -> str:
    """A stored value as a reader reads it: titles for codes, yes/no, sizes; never JSON."""
    if (value is None or value == "") and (object_type, field) in EMPTY_TITLES:
        return str(EMPTY_TITLES[(object_type, field)])
    if value is None or value == "" or value == []:
        return EMPTY
    if value == MASK:
        return MASK
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    titles = VALUE_TITLES.get((object_type, field))
    if titles and isinstance(value, str) and value in titles:
        return str(titles[value])
    if field in ("size_bytes", "bytes") and isinstance(value, int):
        return file_size(value)
    if field == "duration_ms" and isinstance(value, int):
        seconds = round(value / 1000)
        return f"{seconds // 60}:{seconds % 60:02d}"
    if isinstance(value, dict):  # a row inside a list field
        hidden = NESTED_HIDDEN.get(object_type, set())
        keys = sorted((k for k in value if k not in hidden),
                      key=lambda k: _FIELD_ORDER.get(k, len(_FIELD_ORDER)))
        return ", ".join(f"{field_title(object_type, k)}: {value_text(object_type, k, value[k])}"
                         for k in keys)
    if isinstance(value, (list, tuple)):
        inner = NESTED_TYPES.get((object_type, field), object_type)
        parts = [value_text(inner, "", v) if isinstance(v, dict) else value_text(inner, field, v)
                 for v in value]
        return "; ".join(f"({p})" if isinstance(v, dict) and len(value) > 1 else p
                         for p, v in zip(parts, value))
    return str(value)


def _event(value: dict) -> str:
    if value.get("kind") == "key":
        return _("key %(key)s", key=value.get("key"))
    if value.get("kind") == "timeout":
        return _("timeout %(seconds)s s", seconds=value.get("seconds"))
    return _("sequence %(pattern)s", pattern=value.get("pattern"))


def _lower_first(title: str) -> str:
    return title[:1].lower() + title[1:] if title[1:2].islower() else title


def describe(object_type: str, action: str, object_id: str, old: Any, new: Any) -> ChangeView:
    """The summary line and the table of changed fields of one change_log row."""
    old, new = masked(old), masked(new)
    if action == "rollback" and object_type != "revision":  # one object a rollback restored
        change = describe(object_type, "create" if old is None else "delete" if new is None
                          else "update", object_id, old, new)
        return ChangeView(_("Rollback: %(change)s", change=_lower_first(change.summary)),
                          change.fields, change.kind)
    old_fields = old if isinstance(old, dict) else {}
    new_fields = new if isinstance(new, dict) else {}
    hidden = HIDDEN_FIELDS.get(object_type, set())
    names = [k for k in new_fields if k not in hidden]
    names += [k for k in old_fields if k not in new_fields and k not in hidden]
    names.sort(key=lambda k: _FIELD_ORDER.get(k, len(_FIELD_ORDER)))  # jsonb keeps no order
    if action == "update":
        names = [k for k in names if old_fields.get(k) != new_fields.get(k)]
    else:  # what the object was or became, but what the summary says already
        shown = new_fields if action != "delete" else old_fields
        names = [k for k in names if shown.get(k) not in (None, "", [])
                 and str(shown.get(k)) != object_id]
    fields = tuple(FieldChange(field_title(object_type, k),
                               value_text(object_type, k, old_fields.get(k)),
                               value_text(object_type, k, new_fields.get(k)))
                   for k in names)
    latest = new_fields or old_fields
    name = latest.get(NAME_FIELDS[object_type]) if object_type in NAME_FIELDS else object_id
    template = SUMMARIES.get(object_type, {}).get(action)
    if template is None:
        action_title = ACTION_TITLES.get(action)
        summary = (f"{object_title(object_type)} {object_id}: "
                   f"{action_title if action_title is not None else action}")
    else:
        summary = str(template) % {
            "name": name, "of": latest.get("rollback_of"),
            "event": _event(latest) if object_type == "menu handler" else ""}
    if action == "update" and fields:
        summary += ": " + ", ".join(_lower_first(f.title) for f in fields)
    return ChangeView(summary, fields, action)


# The external API's tokens (spec 18): made and revoked on the «API» page.
OBJECT_TITLES["api token"] = _l("API token")
SUMMARIES["api token"] = {"create": _l("API token %(name)s made"),
                          "update": _l("API token %(name)s revoked")}
NAME_FIELDS["api token"] = "name"
FIELD_TITLES.update({"shown_prefix": _l("Starts with"), "revoked_at": _l("Revoked at"),
                     "revoked_by": _l("Revoked by")})
_FIELD_ORDER.update({field: index for index, field in enumerate(FIELD_TITLES)})
