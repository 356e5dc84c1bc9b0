"""The Callbacks section (operators and above): requests callers left in the voice menus.

The ``callbacks`` table, newest first, filtered by state (open, done or
all), by the day the request came (dates in the display time zone, both
days included) and by a fragment of the number; pages of
CALLBACKS_PAGE_SIZE rows, as in the History section. An operator who has
called a citizen back marks the request done; the change history keeps who
did it. Calling from the page is for a later section.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import MAX_ROW_ID, at_most, matching
from admin_web.listing import Page, PeriodFilterForm, page_of, period_conditions

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

OBJECT_TYPE = "callback"
OPEN, DONE, ALL = "open", "done", "all"
STATE_TITLES = {OPEN: _l("Open"), DONE: _l("Done"), ALL: _l("All")}
SOURCE_TITLES = {"ivr": _l("voice menu"), "api": _l("API"), "admin": _l("admin")}
# The longest number the table keeps (its CHECK: up to 20 digits after an optional '+').
NUMBER_MAX = 21


class FilterForm(PeriodFilterForm):
    state = SelectField(_l("State"), default=OPEN,
                        choices=[SelectChoice(key, title) for key, title in STATE_TITLES.items()],
                        invalid_choice_message=_l("Choose one of the listed states."))
    number = StringField(_l("Number contains"), validators=[
        Optional(), at_most(NUMBER_MAX),
        matching(r"\+?[0-9]+", _l("Digits only, as in 7999 or 0012."))],
        render_kw={"inputmode": "tel"})
    submit = SubmitField(_l("Show"))


def open_count(conn) -> int:
    """How many requests wait for a call back."""
    return conn.execute("SELECT count(*) AS n FROM callbacks WHERE done_at IS NULL"
                        ).fetchone()["n"]


def _conditions(form: FilterForm) -> tuple[list[str], list]:
    where, params = period_conditions(form, "requested_at")
    state = form.state.data or OPEN
    if state == OPEN:
        where.append("done_at IS NULL")
    elif state == DONE:
        where.append("done_at IS NOT NULL")
    digits = (form.number.data or "").strip().lstrip("+")
    if digits:
        where.append("strpos(phone, %s) > 0")
        params.append(digits)
    return where, params


@bp.route("/")
@role_required("operator")
def index():
    """One page of requests under the filters in the query string."""
    form = FilterForm(request.args)
    page = page_of(get_db(), "callbacks", "id, phone, requested_at, source, done_at, done_by",
                   *_conditions(form), "requested_at DESC, id DESC",
                   current_app.config["CALLBACKS_PAGE_SIZE"]) if form.validate() else Page()
    return render_template("callbacks/list.html", form=form, page=page, done_form=DoneForm(),
                           source_titles=SOURCE_TITLES), 200 if not form.errors else 400


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
