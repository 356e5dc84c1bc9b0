"""The Callbacks section (operators and above): requests to call citizens back (spec 8).

The ``callbacks`` table, newest first, filtered by state (due: open and not
held back by a "not before" still to come, the default; open; done; all),
by the day the request came (dates in the display time zone, both days
included) and by a fragment of the number; pages of CALLBACKS_PAGE_SIZE
rows, as in the History section.

"Call" rings the operator's bound phone and, when they answer, dials the
citizen (``ivr.callback_calls`` tells how: one conditional UPDATE claims the
request, so two operators pressing Call make one call and the second is told
who calls).  A request's page shows when it came, the call under way, a form
to mark it done or set "call not before" (which hides it from the due list
until then), and beside it the history of work with that number: calls to
and from it, its queue waits, its callback calls and robocall attempts.
The change history keeps who marked what.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, SubmitField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from admin_web import server_asterisk
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import MAX_ROW_ID, at_most, matching
from admin_web.listing import (Page, PeriodFilterForm, number_condition, page_of,
                               period_conditions)
from dialplan import names
from fastagi.ami import AmiError
from ivr import callback_calls
from ivr.operators import PHONE_NUMBER, presence

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

OBJECT_TYPE = "callback"
DUE, OPEN, DONE, ALL = "due", "open", "done", "all"
STATE_TITLES = {DUE: _l("To call now"), OPEN: _l("Open"), DONE: _l("Done"), ALL: _l("All")}
SOURCE_TITLES = {"ivr": _l("voice menu"), "api": _l("API"), "admin": _l("admin"),
                 "queue": _l("queue")}
OUTCOME_TITLES = {
    callback_calls.TALKED: _l("talked"),
    callback_calls.OPERATOR_NO_ANSWER: _l("the operator did not answer"),
    callback_calls.CITIZEN_NO_ANSWER: _l("no answer"),
    callback_calls.CITIZEN_BUSY: _l("busy"),
    callback_calls.FAILED: _l("failed"),
    callback_calls.INTERRUPTED: _l("the operator hung up first"),
}
# What the number's history says of each outcome (calls, queue waits, requests, robocalls).
HISTORY_OUTCOME_TITLES = {
    **OUTCOME_TITLES,
    "completed": _l("completed"), "caller hung up": _l("the caller hung up"),
    "waiting": _l("waiting"), "answered": _l("answered"),
    "gave_up": _l("hung up while waiting"), "max_wait": _l("waited too long"),
    "no_member": _l("no operator online"), "key": _l("left with a key"),
    "open": _l("open"), "done": _l("done"), "no_answer": _l("no answer"),
    "congestion": _l("line busy"), "unreachable": _l("unreachable"),
    "interrupted": _l("interrupted"),
}
# The routes whose calls are legs of another call the history shows already (the
# member's or operator's leg, the callback's end).
LEG_ROUTES = (names.ROUTE_QUEUE_ANSWER, names.ROUTE_CALLBACK, names.ROUTE_CALLBACK_ENDED)
# How often a request's page looks again at a call under way, in seconds.
REFRESH_SECONDS = 2
# How many entries of a number's history the request's page shows.
HISTORY_ROWS = 50
# The longest number the table keeps (its CHECK: up to 20 digits after an optional '+').
NUMBER_MAX = 21


class FilterForm(PeriodFilterForm):
    state = SelectField(_l("State"), default=DUE,
                        choices=[SelectChoice(key, title) for key, title in STATE_TITLES.items()],
                        invalid_choice_message=_l("Choose one of the listed states."))
    number = StringField(_l("Number contains"), validators=[
        Optional(), at_most(NUMBER_MAX),
        matching(r"\+?[0-9]+", _l("Digits only, as in 7999 or 0012."))],
        render_kw={"inputmode": "tel"})
    submit = SubmitField(_l("Show"))


# Who calls a request now ('' when nobody: a claim past its time is nobody's).
CALLING = (f"CASE WHEN calling_by IS NOT NULL AND calling_since >= now() - interval"
           f" '{callback_calls.CLAIM_STALE_MINUTES} minutes' THEN calling_by ELSE '' END"
           " AS calling")


def open_count(conn) -> int:
    """How many requests wait for a call back."""
    return conn.execute("SELECT count(*) AS n FROM callbacks WHERE done_at IS NULL"
                        ).fetchone()["n"]


def _conditions(form: FilterForm) -> tuple[list[str], list]:
    where, params = period_conditions(form, "requested_at")
    state = form.state.data or DUE
    if state == DUE:
        where.append("done_at IS NULL AND (not_before IS NULL OR not_before <= now())")
    elif state == OPEN:
        where.append("done_at IS NULL")
    elif state == DONE:
        where.append("done_at IS NOT NULL")
    number_condition(form.number.data, where, params)
    return where, params


@bp.route("/")
@role_required("operator")
def index():
    """One page of requests under the filters in the query string."""
    form = FilterForm(request.args)
    page = page_of(get_db(), "callbacks", "id, phone, requested_at, source, not_before, done_at,"
                   f" done_by, {CALLING}",
                   *_conditions(form), "requested_at DESC, id DESC",
                   current_app.config["CALLBACKS_PAGE_SIZE"]) if form.validate() else Page()
    return render_template("callbacks/list.html", form=form, page=page, done_form=DoneForm(),
                           call_form=CallForm(), source_titles=SOURCE_TITLES), \
        200 if not form.errors else 400


class DoneForm(FlaskForm):
    """Marks one request done; `back` is the list page (with its filters) to return to."""
    submit = SubmitField(_l("Called back"))


def _back() -> str:
    """The list page the form was sent from (its filters kept), else the open requests."""
    back = request.form.get("back", "")
    index = url_for(".index")
    if back.startswith(index) and "\\" not in back and "//" not in back:
        return back
    return index


@bp.route("/<int:callback_id>/done", methods=("POST",))
@role_required("operator")
def mark_done(callback_id: int):
    """Mark an open request done by the current user; a done one is left as it is."""
    if callback_id > MAX_ROW_ID:
        abort(404)
    if not DoneForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        row = conn.execute(
            "UPDATE callbacks SET done_at = now(), done_by = %s"
            " WHERE id = %s AND done_at IS NULL RETURNING phone, done_at, done_by",
            (current_user.login, callback_id)).fetchone()
        if row is not None:
            record_change(conn, current_user.login, "update", OBJECT_TYPE, callback_id,
                          {"phone": row["phone"], "done_at": None, "done_by": None},
                          {"phone": row["phone"], "done_at": row["done_at"],
                           "done_by": row["done_by"]})
    if row is not None:
        flash(_("The request of %(phone)s is done.", phone=row["phone"]), "success")
        return redirect(_back())
    done = conn.execute("SELECT phone, done_by FROM callbacks WHERE id = %s",
                        (callback_id,)).fetchone()
    if done is None:
        abort(404)
    flash(_("The request of %(phone)s was already done by %(login)s.", phone=done["phone"],
            login=done["done_by"] or "—"), "info")
    return redirect(_back())


# --- one request: Call, done / not before, the number's history ---------------------------

class CallForm(FlaskForm):
    """Rings the operator's bound phone, then the citizen."""
    submit = SubmitField(_l("Call"))


class RequestForm(FlaskForm):
    """Mark the request done, or say not to call before a date and time."""
    done = BooleanField(_l("Called back: the request is done"))
    not_before_date = DateField(_l("Call not before: date"), validators=[Optional()],
                                render_kw={"type": "date"})
    not_before_time = TimeField(_l("Call not before: time"), validators=[Optional()],
                                render_kw={"type": "time"})
    submit = SubmitField(_l("Save"))

    def validate_not_before_time(self, field):
        if field.data and not self.not_before_date.data:
            raise ValidationError(_l("Give the date too."))


_REQUEST = ("SELECT id, phone, requested_at, source, queue_id, not_before, done_at, done_by,"
            f" calling_since, {CALLING} FROM callbacks WHERE id = %s")


def _request_or_404(conn, callback_id: int) -> dict:
    if callback_id > MAX_ROW_ID:
        abort(404)
    row = conn.execute(_REQUEST, (callback_id,)).fetchone()
    if row is None:
        abort(404)
    return row


def number_history(conn, phone: str, limit: int = HISTORY_ROWS) -> list[dict]:
    """The work with ``phone``, newest first: calls from or to it, its queue waits, callback
    requests and calls, robocall attempts.  Each entry: at, kind, detail, outcome, who."""
    return conn.execute(
        "SELECT * FROM ("
        " SELECT started_at AS at, 'call' AS kind,"
        "  CASE WHEN caller = %(phone)s THEN called ELSE caller END AS detail,"
        "  coalesce(outcome, '') AS outcome, route AS who, caller = %(phone)s AS incoming"
        "  FROM calls WHERE (caller = %(phone)s OR called = %(phone)s)"
        "  AND NOT route = ANY(%(legs)s)"
        " UNION ALL"
        " SELECT q.joined_at, 'queue', coalesce(qs.name, q.queue_id::text), q.outcome,"
        "  coalesce(q.answered_operator, q.answered_phone, ''), true"
        "  FROM queue_calls q LEFT JOIN queues qs ON qs.id = q.queue_id"
        "  WHERE q.number = %(phone)s"
        " UNION ALL"
        " SELECT requested_at, 'request', source, CASE WHEN done_at IS NULL THEN 'open'"
        "  ELSE 'done' END, coalesce(done_by, ''), true FROM callbacks WHERE phone = %(phone)s"
        " UNION ALL"
        " SELECT started_at, 'callback', operator_phone, coalesce(outcome, ''), operator, false"
        "  FROM callback_calls WHERE citizen = %(phone)s"
        " UNION ALL"
        " SELECT started_at, 'robocall', text, coalesce(outcome, ''), line, false"
        "  FROM robocall_attempts WHERE phone = %(phone)s"
        ") AS history ORDER BY at DESC LIMIT %(limit)s",
        {"phone": phone, "limit": limit, "legs": list(LEG_ROUTES)}
    ).fetchall()


def _calls(conn, callback_id: int) -> list[dict]:
    """The calls made for a request, newest first."""
    return conn.execute(
        "SELECT id, operator, operator_phone, started_at, operator_answered_at,"
        " citizen_answered_at, ended_at, outcome FROM callback_calls WHERE callback_id = %s"
        " ORDER BY id DESC", (callback_id,)).fetchall()


@bp.route("/<int:callback_id>/calls")
@role_required("operator")
def calls(callback_id: int):
    """The request's calls alone, fetched again by its page while a call is under way."""
    conn = get_db()
    row = _request_or_404(conn, callback_id)
    return render_template("callbacks/_calls.html", row=row, calls=_calls(conn, callback_id),
                           outcome_titles=OUTCOME_TITLES, refresh_seconds=REFRESH_SECONDS)


def _request_page(row: dict, form: RequestForm, status: int = 200):
    conn = get_db()
    return render_template("callbacks/request.html", row=row, form=form, call_form=CallForm(),
                           calls=_calls(conn, row["id"]), refresh_seconds=REFRESH_SECONDS,
                           history=number_history(conn, row["phone"]),
                           source_titles=SOURCE_TITLES, outcome_titles=OUTCOME_TITLES,
                           history_titles=HISTORY_OUTCOME_TITLES), status


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


@bp.route("/<int:callback_id>", methods=("GET", "POST"))
@role_required("operator")
def show(callback_id: int):
    """A request: when it came, its calls, done / not before, the number's history."""
    conn = get_db()
    row = _request_or_404(conn, callback_id)
    if request.method == "GET":
        local = row["not_before"].astimezone(_zone()) if row["not_before"] else None
        form = RequestForm(data={"done": row["done_at"] is not None,
                                 "not_before_date": local.date() if local else None,
                                 "not_before_time": local.time() if local else None})
        return _request_page(row, form)
    form = RequestForm()
    if not form.validate_on_submit():
        return _request_page(row, form, 400)
    not_before = None
    if form.not_before_date.data:
        not_before = datetime.combine(form.not_before_date.data,
                                      form.not_before_time.data or time(), _zone())
    with conn.transaction():
        old = conn.execute("SELECT phone, done_at, done_by, not_before FROM callbacks"
                           " WHERE id = %s FOR UPDATE", (callback_id,)).fetchone()
        if old is None:
            abort(404)
        done = old["done_at"] is not None or form.done.data
        new = conn.execute(
            "UPDATE callbacks SET not_before = %s,"
            " done_at = CASE WHEN done_at IS NULL AND %s THEN now() ELSE done_at END,"
            " done_by = CASE WHEN done_at IS NULL AND %s THEN %s ELSE done_by END"
            " WHERE id = %s RETURNING phone, done_at, done_by, not_before",
            (not_before, done, done, current_user.login, callback_id)).fetchone()
        if dict(new) != dict(old):
            record_change(conn, current_user.login, "update", OBJECT_TYPE, callback_id,
                          dict(old), dict(new))
    if new["done_at"] is not None and old["done_at"] is None:
        flash(_("The request of %(phone)s is done.", phone=new["phone"]), "success")
    else:
        flash(_("The request of %(phone)s is saved.", phone=new["phone"]), "success")
    return redirect(url_for(".show", callback_id=callback_id))


@bp.route("/<int:callback_id>/call", methods=("POST",))
@role_required("operator")
def call(callback_id: int):
    """Ring the operator's bound phone, then the citizen: one call per request at a time."""
    conn = get_db()
    row = _request_or_404(conn, callback_id)
    if not CallForm().validate_on_submit():
        abort(400)
    back = redirect(url_for(".show", callback_id=callback_id))
    mine = presence(conn, current_user.user.id)
    phone = mine.phone if mine is not None else None
    if phone is None or not PHONE_NUMBER.fullmatch(phone):
        code = mine.bind_code if mine is not None else ""
        flash(_("Bind a phone to yourself first: dial %(code)s from it.",
                code=f"{names.BIND_PREFIX}{code}"), "danger")
        return back
    link = server_asterisk()
    if link is None or link.ami_connected() is False:
        flash(_("Calls cannot be made now: the server has no connection to Asterisk."),
              "danger")
        return back
    with conn.transaction():
        claimed = conn.execute(callback_calls.CLAIM, (current_user.login, callback_id)
                               ).fetchone()
        if claimed is not None:
            call_id = conn.execute(callback_calls.NEW_CALL, (
                callback_id, current_user.login, phone, claimed["phone"])).fetchone()["id"]
    if claimed is None:
        _tell_why_not(conn, callback_id)
        return back
    try:
        link.originate(callback_calls.channel_id(call_id), f"PJSIP/{phone}",
                       names.CONTEXT_CALLBACK, names.CALLBACK_RING_SECONDS, claimed["phone"],
                       {names.VAR_CALLBACK_CALL: str(call_id)})
    except AmiError:
        with conn.transaction():
            conn.execute("UPDATE callback_calls SET ended_at = now(), outcome = %s"
                         " WHERE id = %s AND ended_at IS NULL", (callback_calls.FAILED, call_id))
            conn.execute(callback_calls.RELEASE, (callback_id,))
        flash(_("Calls cannot be made now: the server has no connection to Asterisk."),
              "danger")
        return back
    flash(_("Your phone %(phone)s rings: answer it and %(number)s is dialled.", phone=phone,
            number=claimed["phone"]), "success")
    return back


def _tell_why_not(conn, callback_id: int) -> None:
    row = conn.execute(_REQUEST, (callback_id,)).fetchone()
    if row["done_at"] is not None:
        flash(_("The request of %(phone)s was already done by %(login)s.", phone=row["phone"],
                login=row["done_by"] or "—"), "info")
    else:
        flash(_("%(login)s is calling %(phone)s now.", login=row["calling"] or "—",
                phone=row["phone"]), "warning")
