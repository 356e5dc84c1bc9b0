"""The «API» section (administrators only): the external API's tokens.

An administrator makes a token for a host system under a name, sees it once
(the page that answers the making shows it; it is never stored, so never
shown again, and travels in no cookie), lists the tokens with when each was
last used, and revokes one: the API refuses it from the next request on.
Making and revoking are written to the change history with the token's name
and shown prefix, never the token or its hash.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired

from admin_web import api_tokens
from admin_web.api import PREFIX
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import MAX_ROW_ID, at_most, page_status, single_line

bp = Blueprint("api_tokens", __name__, url_prefix="/api-tokens")

OBJECT_TYPE = "api token"


class MakeForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Name the system that will use the token.")),
        at_most(api_tokens.NAME_MAX), single_line()],
        description=_l("Who uses the token, e.g. «CRM of the registry office»."))
    submit = SubmitField(_l("Make a token"))


class RevokeForm(FlaskForm):
    """Carries only the CSRF token."""
    submit = SubmitField(_l("Revoke"))


def _history_value(row: dict) -> dict:
    return {"name": row["name"], "shown_prefix": row["shown_prefix"],
            "revoked_at": row["revoked_at"], "revoked_by": row["revoked_by"]}


def _page(form: MakeForm, made: api_tokens.MadeToken | None = None):
    return render_template("api_tokens/index.html", form=form, made=made,
                           tokens=api_tokens.list_tokens(get_db()), revoke_form=RevokeForm(),
                           api_prefix=PREFIX)


@bp.route("/")
@role_required("administrator")
def index():
    """The tokens, those in force first, and the form to make one."""
    return _page(MakeForm())


@bp.route("/", methods=("POST",))
@role_required("administrator")
def make():
    """Make a token and show it, this once."""
    form = MakeForm()
    if not form.validate_on_submit():
        return _page(form), page_status(form)
    conn = get_db()
    with conn.transaction():
        made = api_tokens.make_token(conn, form.name.data.strip(), current_user.login)
        record_change(conn, current_user.login, "create", OBJECT_TYPE, made.row["id"], None,
                      _history_value(made.row))
    page = make_response(_page(MakeForm(formdata=None), made))
    page.headers["Cache-Control"] = "no-store"  # the token is on it
    return page


@bp.route("/<int:token_id>/revoke", methods=("POST",))
@role_required("administrator")
def revoke(token_id: int):
    """Revoke a token: the API refuses it from now on."""
    if token_id > MAX_ROW_ID:
        abort(404)
    if not RevokeForm().validate_on_submit():
        abort(400)
    conn = get_db()
    before = api_tokens.get_token(conn, token_id)
    if before is None:
        abort(404)
    with conn.transaction():
        revoked = api_tokens.revoke_token(conn, token_id, current_user.login)
        if revoked is not None:
            record_change(conn, current_user.login, "update", OBJECT_TYPE, token_id,
                          _history_value(before), _history_value(revoked))
    if revoked is None:
        flash(_("The token «%(name)s» was revoked already.", name=before["name"]), "info")
    else:
        flash(_("The token «%(name)s» is revoked.", name=before["name"]), "success")
    return redirect(url_for(".index"))
