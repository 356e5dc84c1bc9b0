"""The History section (managers and administrators): the change_log, newest first.

Filters by period (dates in the display time zone, both days included),
user and object type; pages of HISTORY_PAGE_SIZE rows. Each change is one
line in words with a small table of the fields it changed (change_titles).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from wtforms import SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from admin_web.auth import role_required
from admin_web.change_titles import describe, object_title
from admin_web.db import get_db
from admin_web.listing import Page, PeriodFilterForm, page_of, period_conditions

bp = Blueprint("history", __name__, url_prefix="/history")

class FilterForm(PeriodFilterForm):
    user = SelectField(_l("User"), validators=[Optional()],
                       invalid_choice_message=_l("Nobody by this login changed anything."))
    object_type = SelectField(_l("Object"), validators=[Optional()],
                              invalid_choice_message=_l("No changes of this kind."))
    submit = SubmitField(_l("Show"))


def _choices(conn, column: str, title=str) -> list[SelectChoice]:
    rows = conn.execute(f"SELECT DISTINCT {column} AS v FROM change_log").fetchall()
    shown = sorted(((r["v"], title(r["v"])) for r in rows), key=lambda c: c[1].lower())
    return [SelectChoice("", _l("all"))] + [SelectChoice(v, t) for v, t in shown]


def _conditions(form: FilterForm) -> tuple[list[str], list]:
    where, params = period_conditions(form, "at")
    if form.user.data:
        where.append("user_login = %s")
        params.append(form.user.data)
    if form.object_type.data:
        where.append("object_type = %s")
        params.append(form.object_type.data)
    return where, params


@bp.route("/")
@role_required("manager")
def index():
    """One page of the history under the filters in the query string."""
    conn = get_db()
    form = FilterForm(request.args)
    form.user.choices = _choices(conn, "user_login")
    form.object_type.choices = _choices(conn, "object_type", object_title)
    page = page_of(conn, "change_log", "id, at, user_login, action, object_type, object_id,"
                   " old_value, new_value", *_conditions(form), "at DESC, id DESC",
                   current_app.config["HISTORY_PAGE_SIZE"]) if form.validate() else Page()
    changes = [(row, describe(row["object_type"], row["action"], row["object_id"],
                              row["old_value"], row["new_value"])) for row in page.rows]
    return render_template("history/list.html", form=form, changes=changes, page=page)
