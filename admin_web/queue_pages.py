"""The Queues section (administrators only): queues' settings, members and keys (spec 7).

A queue is reached by its number, which must be free in the whole numbering
plan, like a menu item's. Its members are phones, listed in the admin's
order; each rings for the queue's ring time, as many at once as the queue
says (or all of them). A caller waits with the queue's hold playlist or
plain ringing, may press a key that sends the call elsewhere (one target
per key) or the callback key that keeps their place while they hang up (the
member's phone rings when the place comes up, then the citizen's), may be
sent on when nobody is online or after the longest wait.

The whole form is one change: every field is checked first and a refused
form writes nothing, so a typo in one field never loses another stored
setting. The queue row, its members and keys and the change_log row are
written in one transaction; the history keeps names and numbers, not ids.
The list says what each number a queue sends callers to is (as the menus'
targets: an item, a phone, an outside number, or unknown).
A queue that a menu handler, a line, or another queue still sends calls to
is not deleted nor renumbered: the page names what uses it.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import (BooleanField, FieldList, Form, FormField, IntegerField, SelectField,
                     StringField, SubmitField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, insert_row, row_or_404, update_row
from admin_web.errors import deleted_meanwhile
from admin_web.field_rules import Sentences
from admin_web.forms import PostForm, at_most, listed_id, matching, page_status, single_line
from admin_web.menu_pages import target_hints
from admin_web.number_users import (NUMBERS_DATALIST, number_choices, number_taken,
                                    users_of_numbers)
from dialplan import validate
from dialplan.configuration import load_configuration

bp = Blueprint("queues", __name__, url_prefix="/queues")

OBJECT_TYPE = "queue"
# The limits Apply checks (the queues table checks the same).
RING_SECONDS = validate.RING_SECONDS
RING_AT_ONCE_MAX = validate.RING_AT_ONCE[1]
WRAP_UP_SECONDS = validate.WRAP_UP_SECONDS
MAX_WAIT_SECONDS = validate.MAX_WAIT_SECONDS
# The keys a waiting caller may press, in the keypad's own order.
KEYS = tuple(sorted(validate.KEYS, key="123456789*0#".index))
ALL_AT_ONCE = "all"
# Empty rows the form offers beyond the stored members and keys.
SPARE_ROWS = 3

# Each field's rule, said under the field before it is broken and as the error after.
NUMBER_RULE = _l("The number must be 2 to 15 digits.")
RING_RULE = _l("Between %(min)d and %(max)d seconds.", min=RING_SECONDS[0],
               max=RING_SECONDS[1])
WRAP_UP_RULE = _l("Between %(min)d and %(max)d seconds.", min=WRAP_UP_SECONDS[0],
                  max=WRAP_UP_SECONDS[1])
MAX_WAIT_RULE = _l("Between %(min)d and %(max)d seconds; empty: no limit.",
                   min=MAX_WAIT_SECONDS[0], max=MAX_WAIT_SECONDS[1])
TARGET_RULE = _l("Up to 20 digits, * or #, optionally after a +.")
STICKY_HELP = _l(
    "A caller who talked to an operator earlier today is put through to that operator "
    "as soon as the operator is free, whatever the caller's place in the queue. If "
    "another operator answers first and the caller is first in the queue, the caller "
    "is put through to that operator: the caller never loses their place.")

CALLBACK_KEY_HELP = _l(
    "A waiting caller who presses this key keeps their place and may hang up. When the "
    "place comes up, a free member's phone rings first and then the caller is dialled. "
    "Not reached: the request stays open in Callbacks.")

_COLUMNS = ("id, name, number, ring_seconds, ring_at_once, wrap_up_seconds, sticky,"
            " stop_when_empty, when_empty_number, max_wait_seconds, after_max_wait_number,"
            " playlist_id, callback_key")


def _target_field(label, description):
    return StringField(label, validators=[Optional(), matching(validate.TARGET, TARGET_RULE)],
                       description=Sentences(description, TARGET_RULE),
                       render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})


class KeyRow(Form):
    """One key a waiting caller may press and the number it sends the call to."""

    key = SelectField(_l("Key"), choices=[SelectChoice("", "—")] + [SelectChoice(k, k)
                                                                     for k in KEYS],
                      invalid_choice_message=_l("Choose one of the listed keys."))
    target = StringField(_l("Target number"), validators=[
        Optional(), matching(validate.TARGET, TARGET_RULE)],
        render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})


class QueueForm(FlaskForm):
    name = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")), at_most(100), single_line()])
    number = StringField(_l("Number"), validators=[
        DataRequired(_l("Enter a number.")),
        matching(validate.PHONE_NUMBER, NUMBER_RULE)],
        description=Sentences(NUMBER_RULE, _l(
            "Calling this number, or a handler pointing at it, puts the caller in the queue.")))
    members = FieldList(SelectField(_l("Member"), validate_choice=False), min_entries=0)
    ring_seconds = IntegerField(_l("Ring time of a member, seconds"), default=15, validators=[
        InputRequired(_l("Enter the seconds.")), NumberRange(*RING_SECONDS, RING_RULE)],
        description=Sentences(_l("How long a member's phone rings before the next one is "
                                 "tried."), RING_RULE))
    ring_at_once = SelectField(_l("Members ringing at once"), default="1",
                               invalid_choice_message=_l("Choose one of the listed counts."),
                               description=_l("How many free members ring for a caller at "
                                              "the same time."))
    wrap_up_seconds = IntegerField(_l("Wrap-up time, seconds"), default=0, validators=[
        InputRequired(_l("Enter the seconds.")), NumberRange(*WRAP_UP_SECONDS, WRAP_UP_RULE)],
        description=Sentences(_l("After a call, the member gets no new call for this long."),
                              WRAP_UP_RULE))
    sticky = BooleanField(_l("Put a returning caller through to the same operator"),
                          description=STICKY_HELP)
    stop_when_empty = BooleanField(_l("Stop waiting when no member is online"),
                                   description=_l("The caller is told that nobody can answer "
                                                  "and is sent to the number below."))
    when_empty_number = _target_field(_l("Number when no member is online"),
                                      _l("Empty: the call ends."))
    max_wait_seconds = IntegerField(_l("Maximum wait, seconds"), validators=[
        Optional(), NumberRange(*MAX_WAIT_SECONDS, MAX_WAIT_RULE)],
        description=MAX_WAIT_RULE)
    after_max_wait_number = _target_field(_l("Number after the maximum wait"),
                                          _l("Empty: the call ends."))
    playlist_id = SelectField(_l("Hold playlist"), validate_choice=False,
                              description=_l("What a waiting caller hears."))
    keys = FieldList(FormField(KeyRow), min_entries=0)
    callback_key = SelectField(_l("Callback key"), default="",
                               choices=[SelectChoice("", _l("no callback"))] + [
                                   SelectChoice(k, k) for k in KEYS],
                               invalid_choice_message=_l("Choose one of the listed keys."),
                               description=CALLBACK_KEY_HELP)
    submit = SubmitField(_l("Save"))


# --- loading ----------------------------------------------------------------------------------

def _queue_or_404(queue_id: int) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM queues WHERE id = %s", (queue_id,))


def _phones(conn) -> dict[int, dict]:
    """Every phone, id -> row (number, description), by number: the members' choices."""
    return {row["id"]: row for row in conn.execute(
        "SELECT id, number, description FROM phones ORDER BY number").fetchall()}


def _playlists(conn) -> dict[int, str]:
    return {row["id"]: row["name"] for row in conn.execute(
        "SELECT id, name FROM playlists ORDER BY name").fetchall()}


def _members(conn, queue_ids: list[int]) -> dict[int, list[dict]]:
    """Queue id -> its member phones (id, number) in the admin's order."""
    found: dict[int, list[dict]] = {queue_id: [] for queue_id in queue_ids}
    for row in conn.execute(
            "SELECT m.queue_id, p.id, p.number FROM queue_members m"
            " JOIN phones p ON p.id = m.phone_id WHERE m.queue_id = ANY(%s)"
            " ORDER BY m.queue_id, m.position, p.number", (queue_ids,)).fetchall():
        found[row["queue_id"]].append(row)
    return found


def _keys(conn, queue_ids: list[int]) -> dict[int, list[dict]]:
    """Queue id -> its keys (key, target) in keypad order."""
    found: dict[int, list[dict]] = {queue_id: [] for queue_id in queue_ids}
    for row in conn.execute("SELECT queue_id, key, target FROM queue_keys"
                            " WHERE queue_id = ANY(%s)", (queue_ids,)).fetchall():
        found[row["queue_id"]].append(row)
    for rows in found.values():
        rows.sort(key=lambda row: KEYS.index(row["key"]) if row["key"] in KEYS else len(KEYS))
    return found


def public_queue(queue: dict, members: list[str], keys: list[dict],
                 playlists: dict[int, str]) -> dict:
    """The history's copy of a queue: its settings, member numbers, keys, playlist name."""
    return {"name": queue["name"], "number": queue["number"],
            "ring_seconds": queue["ring_seconds"], "ring_at_once": queue["ring_at_once"],
            "wrap_up_seconds": queue["wrap_up_seconds"], "sticky": queue["sticky"],
            "stop_when_empty": queue["stop_when_empty"],
            "when_empty_number": queue["when_empty_number"],
            "max_wait_seconds": queue["max_wait_seconds"],
            "after_max_wait_number": queue["after_max_wait_number"],
            "playlist": playlists.get(queue["playlist_id"], queue["playlist_id"]),
            "callback_key": queue.get("callback_key", ""),
            "members": list(members),
            "keys": [{"key": k["key"], "target": k["target"]} for k in keys]}


# --- the form ---------------------------------------------------------------------------------

def _ring_choices(phone_count: int, stored: int | None) -> list[SelectChoice]:
    top = min(RING_AT_ONCE_MAX, max(10, phone_count, stored or 0))
    return [SelectChoice(ALL_AT_ONCE, _("all at once"))] + [
        SelectChoice(str(n), str(n)) for n in range(1, top + 1)]


def _queue_form(phones: dict[int, dict], playlists: dict[int, str], queue: dict | None = None,
                members: list[dict] = (), keys: list[dict] = ()) -> QueueForm:
    """The form, filled from the stored queue on a GET and from the request on a POST,
    with spare empty rows for members and keys."""
    data = None
    if queue is not None:
        data = {**queue,
                "ring_at_once": (ALL_AT_ONCE if queue["ring_at_once"] is None
                                 else str(queue["ring_at_once"])),
                "playlist_id": str(queue["playlist_id"] or ""),
                "members": [str(member["id"]) for member in members],
                "keys": [{"key": k["key"], "target": k["target"]} for k in keys]}
    form = QueueForm(data=data)
    form.ring_at_once.choices = _ring_choices(len(phones),
                                              queue["ring_at_once"] if queue else None)
    form.playlist_id.choices = [SelectChoice("", _("plain ringing"))] + [
        SelectChoice(str(i), name) for i, name in playlists.items()]
    while len(form.members) < len(members) + SPARE_ROWS and len(form.members) < len(phones):
        form.members.append_entry("")
    while len(form.keys) < min(len(KEYS), len(keys) + SPARE_ROWS):
        form.keys.append_entry({"key": "", "target": ""})
    phone_choices = [SelectChoice("", "—")] + [
        SelectChoice(str(i), f"{p['number']} {p['description']}".strip())
        for i, p in phones.items()]
    for entry in form.members:
        entry.choices = phone_choices
    return form


def _values(form: QueueForm) -> tuple[dict, list[int], list[dict]] | None:
    """The queue row, member phone ids and keys the form describes, or None with errors
    on the fields (a member or a key given twice, a choice not listed)."""
    playlist_id = None
    if form.playlist_id.data:
        playlist_id = listed_id(form.playlist_id)
        if playlist_id is None:
            form.playlist_id.errors.append(_("Choose one of the listed playlists."))
    members: list[int] = []
    for entry in form.members:
        if not entry.data:
            continue
        phone_id = listed_id(entry)
        if phone_id is None:
            entry.errors = [_("Choose one of the listed phones.")]
        elif phone_id in members:
            entry.errors = [_("This phone is listed already.")]
        else:
            members.append(phone_id)
    keys: list[dict] = []
    for row in form.keys:
        key, target = row.key.data or "", (row.target.data or "").strip()
        if not key:
            if target:
                row.key.errors.append(_("Choose a key for this number."))
            continue
        if any(k["key"] == key for k in keys):
            row.key.errors.append(_("Key %(key)s is given already.", key=key))
        else:
            keys.append({"key": key, "target": target})
    values = {
        "name": form.name.data.strip(), "number": form.number.data,
        "ring_seconds": form.ring_seconds.data,
        "ring_at_once": (None if form.ring_at_once.data == ALL_AT_ONCE
                         else int(form.ring_at_once.data)),
        "wrap_up_seconds": form.wrap_up_seconds.data, "sticky": form.sticky.data,
        "stop_when_empty": form.stop_when_empty.data,
        "when_empty_number": (form.when_empty_number.data or "").strip(),
        "max_wait_seconds": form.max_wait_seconds.data,
        "after_max_wait_number": (form.after_max_wait_number.data or "").strip(),
        "playlist_id": playlist_id, "callback_key": form.callback_key.data or ""}
    # A list's own errors are those of validation; the rows' are checked here too.
    if any(field.errors for field in form) or any(entry.errors for entry in form.members) \
            or any(row.errors for row in form.keys):
        return None
    if values["callback_key"] and any(k["key"] == values["callback_key"] for k in keys):
        form.callback_key.errors.append(_("Key %(key)s already sends the caller on.",
                                          key=values["callback_key"]))
        return None
    return values, members, keys


def _number_errors(conn, number: str, old: dict | None) -> list[str]:
    """Why ``number`` cannot be this queue's: taken in the numbering plan, or the old
    number still used by something that sends calls to it."""
    if old is not None and number == old["number"]:
        return []
    taken = number_taken(load_configuration(conn), number)
    if taken:
        return [taken]
    if old is not None:
        users = users_of_numbers(conn, [old["number"]], own_queues=[old["id"]])
        if users:
            return [_("Number %(number)s cannot change: calls are sent to it by %(users)s. "
                      "Change them first.", number=old["number"], users=", ".join(users))]
    return []


def _write_members_and_keys(conn, queue_id: int, members: list[int], keys: list[dict]) -> None:
    conn.execute("DELETE FROM queue_members WHERE queue_id = %s", (queue_id,))
    conn.execute("DELETE FROM queue_keys WHERE queue_id = %s", (queue_id,))
    for position, phone_id in enumerate(members):
        conn.execute("INSERT INTO queue_members (queue_id, phone_id, position)"
                     " VALUES (%s, %s, %s)", (queue_id, phone_id, position))
    for key in keys:
        conn.execute("INSERT INTO queue_keys (queue_id, key, target) VALUES (%s, %s, %s)",
                     (queue_id, key["key"], key["target"]))


def _save(form: QueueForm, old: dict | None, old_members: list[dict], old_keys: list[dict],
          phones: dict[int, dict], playlists: dict[int, str]) -> dict | None:
    """Insert or update the queue the form describes; the row, or None with errors shown."""
    described = _values(form)
    if described is None:
        return None
    values, members, keys = described
    conn = get_db()
    form.number.errors.extend(_number_errors(conn, values["number"], old))
    if form.number.errors:
        return None
    numbers = [phones[phone_id]["number"] for phone_id in members]
    try:
        with conn.transaction():
            if old is None:
                queue = insert_row(conn, "queues", values, _COLUMNS)
                _write_members_and_keys(conn, queue["id"], members, keys)
                record_change(conn, current_user.login, "create", OBJECT_TYPE, queue["number"],
                              None, public_queue(queue, numbers, keys, playlists))
            else:
                queue = update_row(conn, "queues", old["id"],  # 'now': the transaction's time
                                   {**values, "updated_at": "now"}, _COLUMNS)
                if queue is None:
                    deleted_meanwhile()
                _write_members_and_keys(conn, queue["id"], members, keys)
                before = public_queue(old, [m["number"] for m in old_members], old_keys,
                                      playlists)
                after = public_queue(queue, numbers, keys, playlists)
                if before != after:
                    record_change(conn, current_user.login, "update", OBJECT_TYPE,
                                  queue["number"], before, after)
    except UniqueViolation as error:
        if "name" in str(error.diag.constraint_name or ""):
            form.name.errors.append(_("Another queue has this name."))
        else:
            form.number.errors.append(_("Number %(number)s is taken: %(owner)s.",
                                        number=values["number"], owner=_("a queue")))
        return None
    except ForeignKeyViolation:  # a phone or the playlist was deleted after the check
        flash(_("A member phone or the playlist was deleted meanwhile: nothing was saved. "
                "Check the form."), "danger")
        return None
    return queue


# --- pages ------------------------------------------------------------------------------------

def _form_page(form: QueueForm, queue: dict | None):
    config = load_configuration(get_db())
    return render_template("queues/form.html", form=form, queue=queue,
                           numbers=number_choices(config), numbers_list=NUMBERS_DATALIST,
                           delete_form=PostForm()), page_status(form)


@bp.route("/")
@role_required("administrator")
def index():
    """Every queue with its number, members, ring settings and playlist."""
    conn = get_db()
    queues = conn.execute(f"SELECT {_COLUMNS} FROM queues ORDER BY number").fetchall()
    ids = [queue["id"] for queue in queues]
    return render_template("queues/list.html", queues=queues, members=_members(conn, ids),
                           keys=_keys(conn, ids), playlists=_playlists(conn),
                           hint=target_hints(load_configuration(conn)), delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-queue form."""
    conn = get_db()
    phones, playlists = _phones(conn), _playlists(conn)
    form = _queue_form(phones, playlists)
    if form.validate_on_submit():
        queue = _save(form, None, [], [], phones, playlists)
        if queue is not None:
            flash(_("Queue %(name)s created.", name=queue["name"]), "success")
            return redirect(url_for(".index"))
    return _form_page(form, None)


@bp.route("/<int:queue_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(queue_id: int):
    """One queue's form."""
    old = _queue_or_404(queue_id)
    conn = get_db()
    phones, playlists = _phones(conn), _playlists(conn)
    old_members, old_keys = _members(conn, [queue_id])[queue_id], _keys(conn, [queue_id])[queue_id]
    form = _queue_form(phones, playlists, old, old_members, old_keys)
    if form.validate_on_submit():
        queue = _save(form, old, old_members, old_keys, phones, playlists)
        if queue is not None:
            flash(_("Queue %(name)s saved.", name=queue["name"]), "success")
            return redirect(url_for(".index"))
    return _form_page(form, old)


@bp.route("/<int:queue_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(queue_id: int):
    """Delete a queue (after the browser's confirmation), unless calls are sent to it."""
    queue = _queue_or_404(queue_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    playlists = _playlists(conn)
    with conn.transaction():
        users = users_of_numbers(conn, [queue["number"]], own_queues=[queue_id])
        if not users:
            members = [m["number"] for m in _members(conn, [queue_id])[queue_id]]
            keys = _keys(conn, [queue_id])[queue_id]
            conn.execute("DELETE FROM queues WHERE id = %s", (queue_id,))
            record_change(conn, current_user.login, "delete", OBJECT_TYPE, queue["number"],
                          public_queue(queue, members, keys, playlists), None)
    if users:
        flash(_("Queue %(name)s was not deleted: calls are sent to it by %(users)s. "
                "Change them first.", name=queue["name"], users=", ".join(users)), "danger")
        return redirect(url_for(".edit", queue_id=queue_id))
    flash(_("Queue %(name)s deleted.", name=queue["name"]), "success")
    return redirect(url_for(".index"))
