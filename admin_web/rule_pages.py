"""The override rules section (administrators only, spec 10): rules per called number, in order.

A rule takes calls to its number when every condition filled in holds
(caller numbers, caller regexes, times of day, weekdays, a schedule inside
or outside its hours) and sends them to its redirect number (empty: the
call ends).  The rules of one number are tried in the order the list shows
them; ↑ and ↓ move a rule within its number's rules.  Each field says its
own error; a refused form keeps what was typed and stores nothing.  The
list is grouped by called number.  Every change writes a change_log row
(the schedule by name) in the transaction of the change; changes reach the
calls with the next Apply, whose problems link back to the rule.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from psycopg.errors import ForeignKeyViolation
from wtforms import SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget
from flask_wtf import FlaskForm

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, insert_row, row_or_404, update_row
from admin_web.errors import deleted_meanwhile
from admin_web.forms import PostForm, at_most, listed_id, matching, page_status, single_line
from admin_web.number_users import NUMBERS_DATALIST, number_choices
from dialplan import numbers, validate
from dialplan.configuration import load_configuration, numbering_plan
from dialplan.override_rules import Rule, time_range_problem
from dialplan.restore import rule_label, rule_value

bp = Blueprint("rules", __name__, url_prefix="/rules")

OBJECT_TYPE = "override rule"
WEEKDAY_TITLES = {1: _l("Monday"), 2: _l("Tuesday"), 3: _l("Wednesday"), 4: _l("Thursday"),
                  5: _l("Friday"), 6: _l("Saturday"), 7: _l("Sunday")}
INSIDE, OUTSIDE = "inside", "outside"
TARGET_RULE = _l("Up to 20 digits, * or #, optionally after a +.")
_COLUMNS = ("id, called_number, caller_numbers, caller_regexes, time_ranges, weekdays,"
            " schedule_id, schedule_inside, redirect, position, comment")


class CheckboxesField(SelectMultipleField):
    """Several choices as checkboxes (the weekdays)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RuleForm(FlaskForm):
    called_number = StringField(_l("Called number"), validators=[
        DataRequired(_l("Enter the number the rule is for.")),
        matching(validate.TARGET, TARGET_RULE)],
        description=_l("Calls to this number are checked against the rule: a Telecenter"
                       " number (menu item, queue, phone) or an outside number phones dial."),
        render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})
    caller_numbers = TextAreaField(_l("Caller numbers"), validators=[Optional()],
                                   description=_l("One per line; empty: any caller."),
                                   render_kw={"rows": 3})
    caller_regexes = TextAreaField(_l("Caller regexes"), validators=[Optional()],
                                   description=_l("One per line, e.g. ^8800 (the caller's"
                                                  " number must match one); empty: any."),
                                   render_kw={"rows": 3})
    time_ranges = StringField(_l("Time of day"), validators=[Optional(), single_line()],
                              description=_l("Ranges separated by commas, e.g. 09:00-11:00,"
                                             " 15:00-18:00; 22:00-06:00 passes midnight;"
                                             " empty: any time."))
    weekdays = CheckboxesField(_l("Weekdays"), coerce=str,
                               description=_l("None ticked: any day."))
    schedule_id = SelectField(_l("Schedule"), validate_choice=False)
    schedule_side = SelectField(_l("Holds"), choices=[
        SelectChoice(INSIDE, _l("inside the schedule's working hours")),
        SelectChoice(OUTSIDE, _l("outside the schedule's working hours"))],
        invalid_choice_message=_l("Choose one of the listed options."))
    redirect = StringField(_l("Redirect number"), validators=[
        Optional(), matching(validate.TARGET, TARGET_RULE)],
        description=_l("Where the call goes when the rule holds; empty: the call ends."),
        render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})
    comment = StringField(_l("Comment"), validators=[Optional(), at_most(200), single_line()])
    submit = SubmitField(_l("Save"))


# --- reading ----------------------------------------------------------------------------------

def _schedules(conn) -> dict[int, str]:
    return {row["id"]: row["name"] for row in conn.execute(
        "SELECT id, name FROM schedules ORDER BY name").fetchall()}


def _rule(row: dict) -> Rule:
    return Rule(**{**row, **{name: tuple(row[name]) for name in
                             ("caller_numbers", "caller_regexes", "time_ranges", "weekdays")}})


def _rule_or_404(rule_id: int) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM override_rules WHERE id = %s", (rule_id,))


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _rule_form(schedules: dict[int, str], row: dict | None = None) -> RuleForm:
    data = None
    if row is not None:
        data = {**row, "caller_numbers": "\n".join(row["caller_numbers"]),
                "caller_regexes": "\n".join(row["caller_regexes"]),
                "time_ranges": ", ".join(row["time_ranges"]),
                "weekdays": [str(day) for day in row["weekdays"]],
                "schedule_id": str(row["schedule_id"] or ""),
                "schedule_side": INSIDE if row["schedule_inside"] else OUTSIDE}
    form = RuleForm(data=data)
    form.weekdays.choices = [SelectChoice(str(day), title) for day, title in WEEKDAY_TITLES.items()]
    form.schedule_id.choices = [SelectChoice("", _("none (any time)"))] + [
        SelectChoice(str(sid), name) for sid, name in schedules.items()]
    return form


def _reachable(config, number: str) -> bool:
    """Whether a call can reach ``number``: a number of the plan or one a line dials out."""
    return number in numbering_plan(config) or validate.line_dialling_out(config, number) is not None


def _values(form: RuleForm) -> dict | None:
    """The row the form describes, or None with each field's errors shown."""
    conn = get_db()
    config = load_configuration(conn)
    callers = _lines(form.caller_numbers.data)
    bad = [number for number in callers if not numbers.is_number(number)]
    if bad:
        form.caller_numbers.errors.append(_("Not a number: %(numbers)s. A number has digits,"
                                            " +, * and # only.", numbers=", ".join(bad[:5])))
    regexes = _lines(form.caller_regexes.data)
    for pattern in regexes:
        problem = validate.caller_regex_problem(pattern)
        if problem is not None:
            form.caller_regexes.errors.append(_("%(regex)s: %(reason)s.", regex=pattern,
                                                reason=problem.render(_)))
    ranges = [part.strip() for part in (form.time_ranges.data or "").split(",") if part.strip()]
    for text in ranges:
        problem = time_range_problem(text)
        if problem is not None:
            form.time_ranges.errors.append(problem.render(_)[:1].upper()
                                           + problem.render(_)[1:] + ".")
    weekdays = []
    for day in form.weekdays.data or []:
        if day not in {str(n) for n in WEEKDAY_TITLES}:
            form.weekdays.errors.append(_("Choose among the listed weekdays."))
            break
        weekdays.append(int(day))
    schedule_id = None
    if form.schedule_id.data:
        schedule_id = listed_id(form.schedule_id)
        if schedule_id is None:
            form.schedule_id.errors.append(_("Choose one of the listed schedules."))
    called = (form.called_number.data or "").strip()
    target = (form.redirect.data or "").strip()
    if not form.called_number.errors and called and not _reachable(config, called):
        form.called_number.errors.append(_(
            "Nothing answers %(number)s and no line dials it out: the rule would never be"
            " used.", number=called))
    if not form.redirect.errors and target:
        if target == called:
            form.redirect.errors.append(_("The rule would send the call back to its own"
                                          " number."))
        elif not _reachable(config, target):
            form.redirect.errors.append(_(
                "Number %(number)s leads nowhere: it is not a menu item, a queue, a phone or a"
                " number a line dials out.", number=target))
    if any(field.errors for field in form):
        return None
    return {"called_number": called, "caller_numbers": callers, "caller_regexes": regexes,
            "time_ranges": ranges, "weekdays": sorted(set(weekdays)),
            "schedule_id": schedule_id, "schedule_inside": form.schedule_side.data != OUTSIDE,
            "redirect": target, "comment": (form.comment.data or "").strip()}


def _history(row: dict, schedules: dict[int, str]) -> dict:
    return rule_value(_rule(row), schedules)


def _renumber(conn, called_number: str) -> list[dict]:
    """The number's rules in order, their positions made 0, 1, 2…; the rows (id, position)."""
    rows = conn.execute("SELECT id FROM override_rules WHERE called_number = %s"
                        " ORDER BY position, id FOR UPDATE", (called_number,)).fetchall()
    for position, row in enumerate(rows):
        conn.execute("UPDATE override_rules SET position = %s WHERE id = %s AND position <> %s",
                     (position, row["id"], position))
    return rows


# --- pages ------------------------------------------------------------------------------------

@bp.route("/")
@role_required("administrator")
def index():
    """Every rule, grouped by called number, in the order they are tried."""
    conn = get_db()
    rows = conn.execute(f"SELECT {_COLUMNS} FROM override_rules"
                        " ORDER BY called_number, position, id").fetchall()
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["called_number"], []).append(row)
    return render_template("rules/list.html", groups=groups, schedules=_schedules(conn),
                           weekday_titles=WEEKDAY_TITLES, post_form=PostForm())


def _form_page(form: RuleForm, rule: dict | None):
    config = load_configuration(get_db())
    return render_template("rules/form.html", form=form, rule=rule,
                           numbers=number_choices(config), numbers_list=NUMBERS_DATALIST,
                           delete_form=PostForm()), page_status(form)


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """A new rule: it goes last among its number's rules."""
    conn = get_db()
    schedules = _schedules(conn)
    form = _rule_form(schedules)
    if form.validate_on_submit():
        values = _values(form)
        if values is not None:
            try:
                with conn.transaction():
                    last = conn.execute("SELECT coalesce(max(position) + 1, 0) AS next FROM"
                                        " override_rules WHERE called_number = %s",
                                        (values["called_number"],)).fetchone()["next"]
                    row = insert_row(conn, "override_rules", {**values, "position": last},
                                     _COLUMNS)
                    record_change(conn, current_user.login, "create", OBJECT_TYPE,
                                  rule_label(_rule(row)), None, _history(row, schedules))
            except ForeignKeyViolation:
                form.schedule_id.errors.append(_("The schedule was deleted meanwhile."))
            else:
                flash(_("Rule for %(number)s added.", number=row["called_number"]), "success")
                return redirect(url_for(".index"))
    return _form_page(form, None)


@bp.route("/<int:rule_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(rule_id: int):
    """One rule's form; a rule moved to another number goes last among that number's."""
    old = _rule_or_404(rule_id)
    conn = get_db()
    schedules = _schedules(conn)
    form = _rule_form(schedules, old)
    if form.validate_on_submit():
        values = _values(form)
        if values is not None:
            try:
                with conn.transaction():
                    if values["called_number"] != old["called_number"]:
                        values["position"] = conn.execute(
                            "SELECT coalesce(max(position) + 1, 0) AS next FROM override_rules"
                            " WHERE called_number = %s", (values["called_number"],)
                        ).fetchone()["next"]
                    row = update_row(conn, "override_rules", rule_id,
                                     {**values, "updated_at": "now"}, _COLUMNS)
                    if row is None:
                        deleted_meanwhile()
                    before, after = _history(old, schedules), _history(row, schedules)
                    if before != after:
                        record_change(conn, current_user.login, "update", OBJECT_TYPE,
                                      rule_label(_rule(row)), before, after)
            except ForeignKeyViolation:
                form.schedule_id.errors.append(_("The schedule was deleted meanwhile."))
            else:
                flash(_("Rule for %(number)s saved.", number=row["called_number"]), "success")
                return redirect(url_for(".index"))
    return _form_page(form, old)


@bp.route("/<int:rule_id>/move/<direction>", methods=("POST",))
@role_required("administrator")
def move(rule_id: int, direction: str):
    """↑ or ↓: the rule trades places with its neighbour among its number's rules."""
    if direction not in ("up", "down") or not PostForm().validate_on_submit():
        abort(400)
    rule = _rule_or_404(rule_id)
    conn = get_db()
    schedules = _schedules(conn)
    with conn.transaction():
        ids = [row["id"] for row in _renumber(conn, rule["called_number"])]
        if rule_id in ids:
            index = ids.index(rule_id)
            other = index - 1 if direction == "up" else index + 1
            if 0 <= other < len(ids):
                conn.execute("UPDATE override_rules SET position = %s, updated_at = now()"
                             " WHERE id = %s", (other, rule_id))
                conn.execute("UPDATE override_rules SET position = %s, updated_at = now()"
                             " WHERE id = %s", (index, ids[other]))
                after = row_or_404(f"SELECT {_COLUMNS} FROM override_rules WHERE id = %s",
                                   (rule_id,))
                record_change(conn, current_user.login, "update", OBJECT_TYPE,
                              rule_label(_rule(after)), _history({**rule, "position": index},
                                                                 schedules),
                              _history(after, schedules))
    return redirect(url_for(".index"))


@bp.route("/<int:rule_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(rule_id: int):
    """Delete a rule (after the browser's confirmation)."""
    if not PostForm().validate_on_submit():
        abort(400)
    rule = _rule_or_404(rule_id)
    conn = get_db()
    schedules = _schedules(conn)
    with conn.transaction():
        conn.execute("DELETE FROM override_rules WHERE id = %s", (rule_id,))
        record_change(conn, current_user.login, "delete", OBJECT_TYPE, rule_label(_rule(rule)),
                      _history(rule, schedules), None)
    flash(_("Rule for %(number)s deleted.", number=rule["called_number"]), "success")
    return redirect(url_for(".index"))
