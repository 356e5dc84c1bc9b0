"""The page after login: who you are and the sections your role opens."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user

from admin_web.auth import role_required
from admin_web.user_pages import ROLE_TITLES

bp = Blueprint("home", __name__)


@bp.route("/")
@role_required("operator")
def index():
    """Who is logged in and the sections they may open."""
    return render_template("home.html", role_title=ROLE_TITLES[current_user.role])
