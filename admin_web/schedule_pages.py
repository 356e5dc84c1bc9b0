"""The schedules section (administrators only, spec 10): working hours that rules and the dialer use.

A schedule has hours per weekday (several spans a day for a lunch break; an
empty day is a day off), the Russian production calendar on or off, and
dates the administrator sets apart (a day off, or a working day with its
own hours or Monday's).  The list shows each schedule's next 14 days as
``dialplan.schedules`` reads them, so the administrator sees what the
calendar and the dates make of the hours.  Each field says its own error; a
refused form keeps what was typed and stores nothing.  Every change writes a
change_log row in the transaction of the change.  A schedule an override
rule or the dialer's settings use is not deleted: the page says who uses it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import BooleanField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Optional

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, insert_row, row_or_404, update_row
from admin_web.errors import deleted_meanwhile
from admin_web.forms import PostForm, at_most, page_status, single_line
from admin_web.rule_pages import WEEKDAY_TITLES
from dialplan.restore import schedule_value
from dialplan.schedules import Schedule, Span, SpecialDate, hhmm, parse_hhmm

bp = Blueprint("schedules", __name__, url_prefix="/schedules")

OBJECT_TYPE = "schedule"
PREVIEW_DAYS = 14
_SPAN = re.compile(r"\s*([0-9]{1,2}:[0-9]{2})\s*-\s*([0-9]{1,2}:[0-9]{2})\s*")
_DATE_LINE = re.compile(r"\s*([0-9]{4}-[0-9]{2}-[0-9]{2})\s+(.+?)\s*")
DAY_OFF_WORDS = ("off", "выходной")
WORKING_WORDS = ("on", "рабочий")
HOURS_RULE = _l("Spans HH:MM-HH:MM separated by commas, e.g. 09:00-13:00, 14:00-18:00;"
                " empty: a day off.")


class ScheduleForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter a name.")), at_most(100), single_line()])
    production_calendar = BooleanField(_l("Russian production calendar"), default=True,
                                       description=_l(
        "Public holidays and moved days off are days off; Saturdays moved to work work"
        " Monday's hours. The dates below come first."))
    day1 = StringField(_l("Monday"), validators=[Optional(), single_line()],
                       description=HOURS_RULE)
    day2 = StringField(_l("Tuesday"), validators=[Optional(), single_line()])
    day3 = StringField(_l("Wednesday"), validators=[Optional(), single_line()])
    day4 = StringField(_l("Thursday"), validators=[Optional(), single_line()])
    day5 = StringField(_l("Friday"), validators=[Optional(), single_line()])
    day6 = StringField(_l("Saturday"), validators=[Optional(), single_line()])
    day7 = StringField(_l("Sunday"), validators=[Optional(), single_line()])
    dates = TextAreaField(_l("Dates set apart"), validators=[Optional()], render_kw={"rows": 5},
                          description=_l(
        "One per line: 2025-01-09 off (a day off); 2025-01-11 10:00-15:00 (a working day with"
        " these hours); 2025-01-11 on (a working day with Monday's hours)."))
    submit = SubmitField(_l("Save"))


def day_fields(form: ScheduleForm):
    return [(weekday, getattr(form, f"day{weekday}")) for weekday in WEEKDAY_TITLES]


# --- reading ----------------------------------------------------------------------------------

def load_schedule(conn, row: dict) -> Schedule:
    """The schedule of row ``row`` with its hours and dates, on the office's clock."""
    hours = tuple(Span(h["weekday"], hhmm(h["starts"]), hhmm(h["ends"])) for h in conn.execute(
        "SELECT weekday, starts, ends FROM schedule_hours WHERE schedule_id = %s"
        " ORDER BY weekday, starts", (row["id"],)).fetchall())
    dates = tuple(SpecialDate(d["day"].isoformat(), d["working"],
                              hhmm(d["starts"]) if d["starts"] is not None else "",
                              hhmm(d["ends"]) if d["ends"] is not None else "")
                  for d in conn.execute("SELECT day, working, starts, ends FROM schedule_dates"
                                        " WHERE schedule_id = %s ORDER BY day",
                                        (row["id"],)).fetchall())
    return Schedule(row["id"], row["name"], row["production_calendar"], hours, dates,
                    current_app.config["DISPLAY_TIMEZONE"])


def _schedule_or_404(schedule_id: int) -> dict:
    return row_or_404("SELECT id, name, production_calendar FROM schedules WHERE id = %s",
                      (schedule_id,))


def _spans_text(spans) -> str:
    return ", ".join(f"{starts}-{ends}" for starts, ends in spans)


def _form(schedule: Schedule | None = None) -> ScheduleForm:
    data = None
    if schedule is not None:
        data = {"name": schedule.name, "production_calendar": schedule.production_calendar,
                "dates": "\n".join(
                    f"{entry.day} " + (f"{entry.starts}-{entry.ends}" if entry.starts
                                       else "on" if entry.working else "off")
                    for entry in schedule.dates)}
        for weekday in WEEKDAY_TITLES:
            data[f"day{weekday}"] = _spans_text(
                (span.starts, span.ends) for span in schedule.hours if span.weekday == weekday)
    return ScheduleForm(data=data)


# --- parsing ----------------------------------------------------------------------------------

def parse_span(text: str) -> tuple[str, str] | None:
    """'9:00 - 13:00' -> ('09:00', '13:00'); None unless a span of one day, start before end."""
    match = _SPAN.fullmatch(text)
    if match is None:
        return None
    try:
        starts, ends = (parse_hhmm(part.zfill(5)) for part in match.groups())
    except ValueError:
        return None
    return (hhmm(starts), hhmm(ends)) if starts < ends else None


def _hours(form: ScheduleForm) -> list[Span]:
    spans = []
    for weekday, field in day_fields(form):
        found: list[tuple[str, str]] = []
        for part in (field.data or "").split(","):
            if not part.strip():
                continue
            span = parse_span(part)
            if span is None:
                field.errors.append(_("%(text)s is not a span HH:MM-HH:MM that starts before it"
                                      " ends.", text=part.strip()))
            elif any(span[0] < other[1] and other[0] < span[1] for other in found):
                field.errors.append(_("%(text)s overlaps another span.", text=part.strip()))
            else:
                found.append(span)
        spans += [Span(weekday, starts, ends) for starts, ends in sorted(found)]
    return spans


def _dates(form: ScheduleForm) -> list[SpecialDate]:
    found: dict[str, SpecialDate] = {}
    for number, line in enumerate((form.dates.data or "").splitlines(), 1):
        if not line.strip():
            continue
        match = _DATE_LINE.fullmatch(line)
        day = None
        if match is not None:
            try:
                day = date.fromisoformat(match.group(1))
            except ValueError:
                day = None
        if day is None:
            form.dates.errors.append(_("Line %(number)d: start with a date YYYY-MM-DD, then"
                                       " off, on or hours HH:MM-HH:MM.", number=number))
            continue
        what = match.group(2).strip().lower()
        if day.isoformat() in found:
            form.dates.errors.append(_("Line %(number)d: %(day)s is listed already.",
                                       number=number, day=day.isoformat()))
        elif what in DAY_OFF_WORDS:
            found[day.isoformat()] = SpecialDate(day.isoformat(), False)
        elif what in WORKING_WORDS:
            found[day.isoformat()] = SpecialDate(day.isoformat(), True)
        elif (span := parse_span(what)) is not None:
            found[day.isoformat()] = SpecialDate(day.isoformat(), True, *span)
        else:
            form.dates.errors.append(_("Line %(number)d: after the date write off, on or hours"
                                       " HH:MM-HH:MM.", number=number))
    return sorted(found.values(), key=lambda entry: entry.day)


def _write_days(conn, schedule_id: int, hours: list[Span], dates: list[SpecialDate]) -> None:
    conn.execute("DELETE FROM schedule_hours WHERE schedule_id = %s", (schedule_id,))
    conn.execute("DELETE FROM schedule_dates WHERE schedule_id = %s", (schedule_id,))
    for span in hours:
        conn.execute("INSERT INTO schedule_hours (schedule_id, weekday, starts, ends)"
                     " VALUES (%s, %s, %s, %s)", (schedule_id, span.weekday, span.starts,
                                                  span.ends))
    for entry in dates:
        conn.execute("INSERT INTO schedule_dates (schedule_id, day, working, starts, ends)"
                     " VALUES (%s, %s, %s, %s, %s)", (schedule_id, entry.day, entry.working,
                                                      entry.starts or None, entry.ends or None))


def _save(form: ScheduleForm, old: Schedule | None) -> Schedule | None:
    """Insert or update the schedule the form describes; None with the fields' errors."""
    hours, dates = _hours(form), _dates(form)
    if any(field.errors for field in form):
        return None
    conn = get_db()
    values = {"name": form.name.data.strip(),
              "production_calendar": bool(form.production_calendar.data)}
    try:
        with conn.transaction():
            if old is None:
                row = insert_row(conn, "schedules", values, "id, name, production_calendar")
            else:
                row = update_row(conn, "schedules", old.id, {**values, "updated_at": "now"},
                                 "id, name, production_calendar")
                if row is None:
                    deleted_meanwhile()
            _write_days(conn, row["id"], hours, dates)
            saved = load_schedule(conn, row)
            if old is None:
                record_change(conn, current_user.login, "create", OBJECT_TYPE, saved.name, None,
                              schedule_value(saved))
            elif schedule_value(old) != schedule_value(saved):
                record_change(conn, current_user.login, "update", OBJECT_TYPE, saved.name,
                              schedule_value(old), schedule_value(saved))
    except UniqueViolation:
        form.name.errors.append(_("Another schedule has this name."))
        return None
    return saved


def _users(conn, schedule_id: int) -> list[str]:
    """What uses a schedule: override rules (by number) and the dialer's settings."""
    users = [_("the override rules of %(number)s", number=row["called_number"])
             for row in conn.execute("SELECT DISTINCT called_number FROM override_rules"
                                     " WHERE schedule_id = %s ORDER BY called_number",
                                     (schedule_id,)).fetchall()]
    if conn.execute("SELECT 1 FROM dialer_settings WHERE schedule_id = %s",
                    (schedule_id,)).fetchone():
        users.append(_("the dialer's settings"))
    return users


# --- pages ------------------------------------------------------------------------------------

@bp.route("/")
@role_required("administrator")
def index():
    """Every schedule with its hours and a preview of the next 14 days."""
    conn = get_db()
    schedules = [load_schedule(conn, row) for row in conn.execute(
        "SELECT id, name, production_calendar FROM schedules ORDER BY name").fetchall()]
    today = datetime.now(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).date()
    previews = {schedule.id: schedule.preview(today, PREVIEW_DAYS) for schedule in schedules}
    return render_template("schedules/list.html", schedules=schedules, previews=previews,
                           weekday_titles=WEEKDAY_TITLES, spans_text=_spans_text,
                           hhmm=hhmm, delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    form = _form()
    if form.validate_on_submit():
        saved = _save(form, None)
        if saved is not None:
            flash(_("Schedule %(name)s created.", name=saved.name), "success")
            return redirect(url_for(".index"))
    return render_template("schedules/form.html", form=form, schedule=None,
                           days=day_fields(form), delete_form=PostForm()), page_status(form)


@bp.route("/<int:schedule_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(schedule_id: int):
    old = load_schedule(get_db(), _schedule_or_404(schedule_id))
    form = _form(old)
    if form.validate_on_submit():
        saved = _save(form, old)
        if saved is not None:
            flash(_("Schedule %(name)s saved.", name=saved.name), "success")
            return redirect(url_for(".index"))
    return render_template("schedules/form.html", form=form, schedule=old,
                           days=day_fields(form), delete_form=PostForm()), page_status(form)


@bp.route("/<int:schedule_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(schedule_id: int):
    """Delete a schedule (after the browser's confirmation) unless something uses it."""
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    schedule = load_schedule(conn, _schedule_or_404(schedule_id))
    try:
        with conn.transaction():
            users = _users(conn, schedule_id)
            if not users:
                conn.execute("DELETE FROM schedules WHERE id = %s", (schedule_id,))
                record_change(conn, current_user.login, "delete", OBJECT_TYPE, schedule.name,
                              schedule_value(schedule), None)
    except ForeignKeyViolation:  # a rule or the dialer took it up meanwhile
        users = [_("a rule or the dialer's settings")]
    if users:
        flash(_("Schedule %(name)s was not deleted: %(users)s use it. Change them first.",
                name=schedule.name, users=", ".join(users)), "danger")
        return redirect(url_for(".edit", schedule_id=schedule_id))
    flash(_("Schedule %(name)s deleted.", name=schedule.name), "success")
    return redirect(url_for(".index"))
