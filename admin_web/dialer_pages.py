"""The robocall dialer's section (spec 9): its settings, its task queue and its log.

Settings (administrators): the one ``dialer_settings`` row; the dialer of
every server reads it at its next claim (a save wakes them), no Apply
needed.  The queue (managers and above): tasks newest first, added by hand,
deleted one by one or several at once, or "called now" (first in line,
dialled even outside the window or with the dialer off, within the line
limit); the rules of what a task may hold are ``admin_web.robocall_tasks``'s,
the same the API keeps.  The log: every attempt, filtered by the day it
started and a fragment of the number, a page at a time.
"""

from __future__ import annotations

import hashlib
from zoneinfo import ZoneInfo

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation
from wtforms import (BooleanField, DateTimeLocalField, IntegerField, SelectField, StringField,
                     SubmitField, TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, Optional, ValidationError

from admin_web import robocall_tasks
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import MAX_ROW_ID, PostForm, at_most, chosen_id, listed_id, matching, \
    page_status
from admin_web.listing import (Page, PeriodFilterForm, number_condition, page_of,
                               period_conditions)

bp = Blueprint("dialer", __name__, url_prefix="/dialer")

SETTINGS_OBJECT = "dialer settings"
TASK_OBJECT = "robocall task"
PAGE_SIZE = 50
# Seconds between reloads of the queue page with auto-refresh on.
REFRESH_SECONDS = 10
NUMBER_MAX = 21
# The settings' limits (the table's CHECKs say the same).
RETRY_MINUTES = (1, 10080)
MAX_LINES = (1, 500)
GIVE_UP = (1, 100)
RING_SECONDS = (5, 120)

OUTCOME_TITLES = {
    "answered": _l("answered"), "no_answer": _l("no answer"), "busy": _l("busy"),
    "congestion": _l("congestion"), "unreachable": _l("unreachable"),
    "failed": _l("failed"), "interrupted": _l("interrupted"),
}
TASK_OUTCOME_TITLES = {
    "answered": _l("answered"), "gave_up_no_answer": _l("given up: no answer"),
    "gave_up_failures": _l("given up: technical failures"),
}


def _range(low: int, high: int) -> NumberRange:
    return NumberRange(low, high, message=_l("A whole number from %(min)s to %(max)s."))


class SettingsForm(FlaskForm):
    enabled = BooleanField(_l("Robocalls on"), description=_l(
        "Switch on once speech synthesis and the provider's line work."))
    retry_minutes = IntegerField(_l("Retry after an unsuccessful attempt (minutes)"),
                                 validators=[InputRequired(_l("Give a number.")),
                                             _range(*RETRY_MINUTES)])
    max_lines = IntegerField(_l("Lines to use at most"), description=_l(
        "Leave lines for the callers: the provider's lines are shared."),
        validators=[InputRequired(_l("Give a number.")), _range(*MAX_LINES)])
    give_up_no_answers = IntegerField(
        _l("Give up after this many unanswered calls (the provider said it rang)"),
        validators=[InputRequired(_l("Give a number.")), _range(*GIVE_UP)])
    give_up_failures = IntegerField(
        _l("Give up after this many technical failures (the provider could not be reached)"),
        validators=[InputRequired(_l("Give a number.")), _range(*GIVE_UP)])
    window_start = TimeField(_l("Call from"), validators=[InputRequired(_l("Give a time."))])
    window_end = TimeField(_l("Call until"), validators=[InputRequired(_l("Give a time."))])
    ring_seconds = IntegerField(_l("Ring for (seconds)"),
                                validators=[InputRequired(_l("Give a number.")),
                                            _range(*RING_SECONDS)])
    schedule_id = SelectField(_l("Only within the working hours of"), validate_choice=False)
    submit = SubmitField(_l("Save"))

    def validate_window_end(self, field):
        if field.data and self.window_start.data and field.data <= self.window_start.data:
            raise ValidationError(_l("The end of the window must be after its start."))


SETTINGS_FIELDS = ("enabled", "retry_minutes", "max_lines", "give_up_no_answers",
                   "give_up_failures", "window_start", "window_end", "ring_seconds",
                   "schedule_id")


def _stored_settings(conn) -> dict:
    conn.execute("INSERT INTO dialer_settings (id) VALUES (1) ON CONFLICT DO NOTHING")
    return conn.execute(f"SELECT {', '.join(SETTINGS_FIELDS)} FROM dialer_settings"
                        " WHERE id = 1").fetchone()


def _public(values: dict, schedules: dict[int, str]) -> dict:
    """The history's copy: times as HH:MM, the schedule by name."""
    shown = dict(values)
    for key in ("window_start", "window_end"):
        shown[key] = values[key].strftime("%H:%M") if values[key] else ""
    sid = values["schedule_id"]
    shown["schedule_id"] = schedules.get(sid, sid) if sid is not None else ""
    return shown


@bp.route("/settings", methods=("GET", "POST"))
@role_required("administrator")
def settings():
    """The dialer's settings form."""
    conn = get_db()
    schedules = {row["id"]: row["name"] for row in conn.execute(
        "SELECT id, name FROM schedules ORDER BY name").fetchall()}
    old = _stored_settings(conn)
    form = SettingsForm(data={**old, "schedule_id": str(old["schedule_id"] or "")})
    form.schedule_id.choices = [SelectChoice("", _("no schedule: the window only"))] + [
        SelectChoice(str(i), name) for i, name in schedules.items()]
    if form.validate_on_submit():
        schedule_id = listed_id(form.schedule_id) if form.schedule_id.data else None
        if form.schedule_id.data and schedule_id is None:
            form.schedule_id.errors.append(_("Choose one of the listed schedules."))
        else:
            new = {name: getattr(form, name).data for name in SETTINGS_FIELDS}
            new["schedule_id"] = schedule_id
            try:
                _save_settings(conn, old, new, schedules)
            except ForeignKeyViolation:  # the schedule was deleted meanwhile
                form.schedule_id.errors.append(_("Choose one of the listed schedules."))
            else:
                flash(_("Robocall settings saved."), "success")
                return redirect(url_for(".settings"))
    return render_template("dialer/settings.html", form=form), page_status(form)


def _save_settings(conn, old: dict, new: dict, schedules: dict[int, str]) -> None:
    new["window_start"] = new["window_start"].replace(second=0, microsecond=0)
    new["window_end"] = new["window_end"].replace(second=0, microsecond=0)
    if new == dict(old):
        return
    with conn.transaction():
        conn.execute(
            f"UPDATE dialer_settings SET {', '.join(f'{n} = %s' for n in SETTINGS_FIELDS)},"
            " updated_at = now() WHERE id = 1", [new[n] for n in SETTINGS_FIELDS])
        record_change(conn, current_user.login, "update", SETTINGS_OBJECT, "",
                      _public(dict(old), schedules), _public(new, schedules))


class TaskForm(FlaskForm):
    phone = StringField(_l("Number"), validators=[
        InputRequired(_l("Give the number to call.")), at_most(NUMBER_MAX)],
        render_kw={"inputmode": "tel"})
    text = TextAreaField(_l("Text to say"), validators=[
        InputRequired(_l("Say what the robot should say.")), at_most(robocall_tasks.TEXT_MAX)])
    priority = IntegerField(_l("Priority (0 highest)"), default=robocall_tasks.DEFAULT_PRIORITY,
                            validators=[InputRequired(_l("Give a number.")),
                                        _range(0, robocall_tasks.PRIORITY_MAX)])
    not_before = DateTimeLocalField(_l("Call not before"), validators=[Optional()],
                                    format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    submit = SubmitField(_l("Add the task"))


class FilterForm(PeriodFilterForm):
    number = StringField(_l("Number contains"), validators=[
        Optional(), at_most(NUMBER_MAX),
        matching(r"\+?[0-9]+", _l("Digits only, as in 7999 or 0012."))],
        render_kw={"inputmode": "tel"})
    submit = SubmitField(_l("Show"))


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


@bp.route("/", methods=("GET", "POST"))
@role_required("manager")
def index():
    """The task queue, and the form that adds a task by hand."""
    conn = get_db()
    form = TaskForm()
    if form.validate_on_submit():
        not_before = (form.not_before.data.replace(tzinfo=_zone())
                      if form.not_before.data else None)
        task = robocall_tasks.NewTask(form.phone.data.strip(), form.text.data,
                                      form.priority.data, not_before)
        try:
            with conn.transaction():
                row = robocall_tasks.add_task(conn, task, "admin")
                record_change(conn, current_user.login, "create", TASK_OBJECT, row["id"],
                              None, _public_task(row))
        except robocall_tasks.TaskRefused as refused:
            for name, message in refused.problems.items():
                getattr(form, name).errors.append(message)
        else:
            flash(_("Task %(id)s for %(phone)s added.", id=row["id"], phone=row["phone"]),
                  "success")
            return redirect(url_for(".index"))
    return render_template("dialer/tasks.html", form=form, **_task_list(conn)), \
        page_status(form)


@bp.route("/tasks/list")
@role_required("manager")
def task_list():
    """The task list alone: what the queue page's auto-refresh fetches."""
    return render_template("dialer/_tasks.html", **_task_list(get_db()))


def _task_list(conn) -> dict:
    """What the task list shows: one page of tasks under the filters in the query string."""
    filters = FilterForm(request.args)
    where, params = [], []
    if filters.validate():
        number_condition(filters.number.data, where, params)
        page = page_of(conn, "robocall_tasks", robocall_tasks.TASK_COLUMNS, where, params,
                       "id DESC", PAGE_SIZE)
    else:
        page = Page()
    key = hashlib.sha256(repr([(r["id"], r["attempts"], r["done_at"], r["attempt_started_at"],
                                r["call_now"], r["answered"]) for r in page.rows]
                              + [page.total]).encode()).hexdigest()[:16]
    back = url_for(".index", **request.args.to_dict())
    return {"filters": filters, "page": page, "post_form": PostForm(),
            "refresh": request.args.get("refresh") == "1", "refresh_seconds": REFRESH_SECONDS,
            "refresh_key": key, "back_url": back, "outcome_titles": TASK_OUTCOME_TITLES}


def _public_task(row: dict) -> dict:
    return {"phone": row["phone"], "text": row["text"], "priority": row["priority"],
            "not_before": row["not_before"].isoformat() if row["not_before"] else ""}


def _back() -> str:
    back = request.form.get("back", "")
    index_url = url_for(".index")
    if back.startswith(index_url) and "\\" not in back and "//" not in back:
        return back
    return index_url


def _delete(conn, task_ids: list[int]) -> list[dict]:
    deleted = []
    with conn.transaction():
        for task_id in task_ids:
            row = robocall_tasks.delete_task(conn, task_id)
            if row is not None:
                record_change(conn, current_user.login, "delete", TASK_OBJECT, task_id,
                              _public_task(row), None)
                deleted.append(row)
    return deleted


@bp.route("/tasks/<int:task_id>/delete", methods=("POST",))
@role_required("manager")
def delete(task_id: int):
    """Delete one task (its attempts stay in the log)."""
    if task_id > MAX_ROW_ID or not PostForm().validate_on_submit():
        abort(400)
    deleted = _delete(get_db(), [task_id])
    if deleted:
        flash(_("Task %(id)s deleted.", id=task_id), "success")
    else:
        flash(_("Task %(id)s is no longer there.", id=task_id), "info")
    return redirect(_back())


@bp.route("/tasks/delete", methods=("POST",))
@role_required("manager")
def delete_chosen():
    """Delete the tasks ticked on the page."""
    if not PostForm().validate_on_submit():
        abort(400)
    ids = [chosen_id(value) for value in request.form.getlist("task")]
    if not ids or None in ids:
        flash(_("Tick the tasks to delete first."), "warning")
        return redirect(_back())
    deleted = _delete(get_db(), sorted(set(ids)))
    flash(_("Tasks deleted: %(n)d.", n=len(deleted)), "success")
    return redirect(_back())


@bp.route("/tasks/<int:task_id>/call-now", methods=("POST",))
@role_required("manager")
def call_now(task_id: int):
    """Put an open task first in line now (dialled within the line limit)."""
    if task_id > MAX_ROW_ID or not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        row = robocall_tasks.call_now(conn, task_id)
        if row is not None:
            record_change(conn, current_user.login, "update", TASK_OBJECT, task_id,
                          {"phone": row["phone"], "call_now": False},
                          {"phone": row["phone"], "call_now": True})
    if row is None:
        flash(_("Task %(id)s is done or gone: nothing to call.", id=task_id), "warning")
    else:
        flash(_("Task %(id)s for %(phone)s will be called as soon as a line is free.",
                id=task_id, phone=row["phone"]), "success")
    return redirect(_back())


@bp.route("/log")
@role_required("manager")
def log():
    """Every attempt under the filters in the query string, newest first."""
    form = FilterForm(request.args)
    if form.validate():
        where, params = period_conditions(form, "started_at")
        number_condition(form.number.data, where, params)
        page = page_of(get_db(), "robocall_attempts",
                       "id, task_id, phone, text, line, started_at, dialed_at, answered_at,"
                       " ended_at, outcome, reason, call_id", where, params,
                       "started_at DESC, id DESC", PAGE_SIZE)
    else:
        page = Page()
    return render_template("dialer/log.html", form=form, page=page,
                           outcome_titles=OUTCOME_TITLES), 200 if not form.errors else 400
