"""The History section (managers and administrators): the change_log, newest first.

Filters by period (dates in the display time zone, both days included),
user and object type; pages of HISTORY_PAGE_SIZE rows. Each change is one
line in words with a small table of the fields it changed (change_titles).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from admin_web.auth import role_required
from admin_web.change_titles import describe, object_title
from admin_web.db import get_db

bp = Blueprint("history", __name__, url_prefix="/history")

class FilterForm(FlaskForm):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[Optional()],
                      render_kw={"type": "date"})
    until = DateField(_l("To"), validators=[Optional()], render_kw={"type": "date"})
    user = SelectField(_l("User"), validators=[Optional()],
                       invalid_choice_message=_l("Nobody by this login changed anything."))
    object_type = SelectField(_l("Object"), validators=[Optional()],
                              invalid_choice_message=_l("No changes of this kind."))
    submit = SubmitField(_l("Show"))

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end of the period is before its start."))


def _choices(conn, column: str, title=str) -> list[SelectChoice]:
    rows = conn.execute(f"SELECT DISTINCT {column} AS v FROM change_log").fetchall()
    shown = sorted(((r["v"], title(r["v"])) for r in rows), key=lambda c: c[1].lower())
    return [SelectChoice("", _l("all"))] + [SelectChoice(v, t) for v, t in shown]


def _conditions(form: FilterForm) -> tuple[str, list]:
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    where, params = [], []
    if form.since.data:
        where.append("at >= %s")
        params.append(datetime.combine(form.since.data, time(), zone))
    if form.until.data:
        where.append("at < %s")
        params.append(datetime.combine(form.until.data + timedelta(days=1), time(), zone))
    if form.user.data:
        where.append("user_login = %s")
        params.append(form.user.data)
    if form.object_type.data:
        where.append("object_type = %s")
        params.append(form.object_type.data)
    return (" WHERE " + " AND ".join(where)) if where else "", params


@bp.route("/")
@role_required("manager")
def index():
    """One page of the history under the filters in the query string."""
    conn = get_db()
    form = FilterForm(request.args)
    form.user.choices = _choices(conn, "user_login")
    form.object_type.choices = _choices(conn, "object_type", object_title)
    size = current_app.config["HISTORY_PAGE_SIZE"]
    rows, total = [], 0
    if form.validate():
        where, params = _conditions(form)
        total = conn.execute(f"SELECT count(*) AS n FROM change_log{where}", params).fetchone()["n"]
    pages = max((total + size - 1) // size, 1)
    # A page past the end (an old link, a typed number) shows the last one.
    page = min(max(request.args.get("page", 1, type=int), 1), pages)
    if total:
        rows = conn.execute(
            f"SELECT id, at, user_login, action, object_type, object_id, old_value, new_value"
            f" FROM change_log{where} ORDER BY at DESC, id DESC LIMIT %s OFFSET %s",
            [*params, size, (page - 1) * size]).fetchall()
    changes = [(row, describe(row["object_type"], row["action"], row["object_id"],
                              row["old_value"], row["new_value"])) for row in rows]
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template("history/list.html", form=form, changes=changes, page=page,
                           pages=pages, total=total, args=args)
