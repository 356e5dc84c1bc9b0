"""The operator's part of the header: take queue calls or not, and the bound phone (spec 7).

Every logged-in user is an operator who may answer queue calls.  The header
shows them the toggle «Принимать вызовы из очереди», and either the phone
bound to them («Телефон: 101. Отвязать») or «Привязать», which tells the
number to dial from a phone (1*<their code>).  Binding happens on the phone
(``ivr.bind_phone``), so while no phone is bound the header fetches its own
fragment again every few seconds (static/admin.js) and shows the phone as
soon as it is bound.  The rules and queries are ``ivr.operators``'.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user

from admin_web.auth import role_required, safe_next
from admin_web.db import get_db
from admin_web.forms import PostForm
from dialplan import names
from ivr import operators

bp = Blueprint("operator_header", __name__, url_prefix="/operator")

# How often an unbound header looks again whether the phone was bound, in seconds.
REFRESH_SECONDS = 3


def current_presence() -> operators.Presence | None:
    """The logged-in user's code, toggle and phone; None for a visitor."""
    if not current_user.is_authenticated:
        return None
    return operators.presence(get_db(), current_user.user.id)


def bind_number(presence: operators.Presence) -> str:
    """What the user dials from a phone to bind it: 1*12345."""
    return names.BIND_PREFIX + presence.bind_code


@bp.app_context_processor
def header_helpers() -> dict:
    """The header's helpers for every page (a query only when the header is drawn)."""
    return {"operator_presence": current_presence, "bind_number": bind_number,
            "operator_refresh_seconds": REFRESH_SECONDS}


@bp.route("/bar")
@role_required("operator")
def bar():
    """The header's operator part alone, for the page to refresh it in place."""
    return render_template("operator/_bar.html", presence=current_presence(),
                           back=safe_next(request.args.get("next")))


@bp.route("/accepting", methods=("POST",))
@role_required("operator")
def accepting():
    """Take queue calls (the box ticked) or not (unticked: the form sends no value)."""
    if not PostForm().validate_on_submit():
        abort(400)
    operators.set_accepting(get_db(), current_user.user.id,
                            request.form.get("accepting") == "1")
    return redirect(safe_next(request.form.get("next")))


@bp.route("/unbind", methods=("POST",))
@role_required("operator")
def unbind():
    """Let go of the phone bound to the user (it rings for nobody's queue calls as them)."""
    if not PostForm().validate_on_submit():
        abort(400)
    operators.unbind_phone(get_db(), current_user.user.id)
    return redirect(safe_next(request.form.get("next")))
