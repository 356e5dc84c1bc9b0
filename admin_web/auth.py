"""Logging in and out, and who may see what.

Sessions are Flask-Login's. Roles grow operator < manager < administrator;
every view states the least role it needs with `role_required`, checked on
the server for every request (the navbar only hides what would be refused).
Failed login attempts are limited per address and login, and per address,
so passwords cannot be guessed at speed nor sprayed over many logins, while a
stranger failing from another address never holds up the right user, and
logging in successfully costs nothing. Logging out ends the user's sessions on
the server: the session id carries the user's session epoch, which logout
raises (so it ends their sessions in other browsers too).
"""

from __future__ import annotations

import hashlib
from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from admin_web import users
from admin_web.db import get_db

bp = Blueprint("auth", __name__, url_prefix="/auth")
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "warning"
login_manager.session_protection = "strong"
limiter = Limiter(get_remote_address, storage_uri="memory://", strategy="moving-window")


class SessionUser(UserMixin):
    """The logged-in user as Flask-Login sees it.

    The session id carries a fingerprint of the password hash and the session
    epoch, so resetting a password or logging out ends every session opened before.
    """

    def __init__(self, user: users.User):
        self.user = user
        self.login = user.login
        self.role = user.role

    def get_id(self) -> str:
        return f"{self.user.id}:{_fingerprint(self.user)}"

    def has_role(self, needed: str) -> bool:
        return self.user.has_role(needed)


def _fingerprint(user: users.User) -> str:
    sealed = f"{user.session_epoch}:{user.password_hash}"
    return hashlib.sha256(sealed.encode()).hexdigest()[:16]


@login_manager.user_loader
def load_user(session_id: str) -> SessionUser | None:
    """The user of a session, or None once the user or their password changed."""
    user_id, _sep, fingerprint = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = users.find_user(get_db(), user_id=int(user_id))
    if user is None or fingerprint != _fingerprint(user):
        return None
    return SessionUser(user)


def role_required(role: str):
    """Let the view run for logged-in users with `role` or above; 403 for the rest."""
    if role not in users.ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)
        checked.required_role = role
        return checked
    return decorate


def may_see(endpoint: str) -> bool:
    """True when the current user would be let into `endpoint` (for the navbar)."""
    view = current_app.view_functions.get(endpoint)
    if view is None or not current_user.is_authenticated:
        return False
    return current_user.has_role(getattr(view, "required_role", "administrator"))


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[
        DataRequired(_l("Enter your login.")), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=users.MAX_PASSWORD_LENGTH)])
    submit = SubmitField(_l("Log in"))


def _address_and_login() -> str:
    return f"{get_remote_address()}|{request.form.get('login', '').strip().lower()}"


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def _address_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


def _login_failed(response) -> bool:
    """True unless the login let someone in (a login that works sends them on)."""
    return response.status_code != 302


TOO_MANY_ATTEMPTS = _l("Too many login attempts. Wait a minute and try again.")


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this site, else the home page (no open redirect)."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//") and "\\" not in target:
            return target
    return url_for("home.index")


@bp.route("/login", methods=("GET", "POST"))
@limiter.limit(_login_limit, key_func=_address_and_login, methods=["POST"],
               deduct_when=_login_failed, error_message=TOO_MANY_ATTEMPTS)
@limiter.limit(_address_limit, key_func=get_remote_address, methods=["POST"],
               deduct_when=_login_failed, error_message=TOO_MANY_ATTEMPTS)
def login():
    """The login form; a wrong login and a wrong password read the same."""
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = users.authenticate(get_db(), form.login.data.strip(), form.password.data)
        if user is not None:
            login_user(SessionUser(user))
            return redirect(safe_next(request.args.get("next")))
        form.password.errors.append(_("Wrong login or password."))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=("POST",))
def logout():
    """End the session, on the server too (a POST with a CSRF token, so no page can log
    you out): a copy of the session cookie is refused from now on."""
    if current_user.is_authenticated:
        users.end_sessions(get_db(), current_user.user)
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.errorhandler(429)
def too_many_requests(error):
    """The 429 page: the login form again, saying why nothing was checked."""
    flash(str(error.description), "danger")
    return render_template("auth/login.html", form=LoginForm()), 429


def init_app(app) -> None:
    """Sessions, the login limit and the login pages on `app`."""
    login_manager.init_app(app)
    limiter.init_app(app)
    app.register_blueprint(bp)
