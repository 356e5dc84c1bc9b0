"""The Users section (administrators only): list, create, change role, reset password, delete.

Each change and its change_log row are written in one transaction. The
history shows logins and roles, never a password or its hash.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from admin_web import users
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import PostForm, matching, page_status
from ivr.operators import bound_phones

bp = Blueprint("user_pages", __name__, url_prefix="/users")

ROLE_TITLES = {
    "operator": _l("Operator"),
    "manager": _l("Manager"),
    "administrator": _l("Administrator"),
}
OBJECT_TYPE = "user"


def _role_field():
    return SelectField(_l("Role"), choices=[SelectChoice(r, ROLE_TITLES[r]) for r in users.ROLES],
                       validators=[DataRequired(_l("Choose a role."))],
                       invalid_choice_message=_l("Choose one of the listed roles."))


# Each field's rule, said under the field before it is broken and as the error after.
LOGIN_RULE = _l("2 to 64 Latin letters, digits, dots, dashes or underscores.")
PASSWORD_RULE = _l("The password must be %(min)d to %(max)d characters long.",
                   min=users.MIN_PASSWORD_LENGTH, max=users.MAX_PASSWORD_LENGTH)


def _password_fields():
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter a password.")),
        Length(min=users.MIN_PASSWORD_LENGTH, max=users.MAX_PASSWORD_LENGTH,
               message=PASSWORD_RULE)], description=PASSWORD_RULE)
    repeat = PasswordField(_l("Repeat the password"), validators=[
        EqualTo("password", _l("The passwords do not match."))])
    return password, repeat


class CreateUserForm(FlaskForm):
    login = StringField(_l("Login"), validators=[
        DataRequired(_l("Enter a login.")),
        matching(users.LOGIN, LOGIN_RULE)], description=LOGIN_RULE)
    role = _role_field()
    password, repeat = _password_fields()
    submit = SubmitField(_l("Create"))


class RoleForm(FlaskForm):
    role = _role_field()
    submit = SubmitField(_l("Change role"))


class PasswordForm(FlaskForm):
    password, repeat = _password_fields()
    submit = SubmitField(_l("Set password"))


def _user_or_404(user_id: int) -> users.User:
    user = users.find_user(get_db(), user_id=user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/")
@role_required("administrator")
def index():
    """Every user with their role and the phone they bound to themselves."""
    conn = get_db()
    phones = {operator.login: phone for phone, operator in bound_phones(conn).items()}
    return render_template("users/list.html", users=users.list_users(conn), phones=phones,
                           role_titles=ROLE_TITLES, delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-user form; stores the user and its history row together."""
    form = CreateUserForm()
    if form.validate_on_submit():
        conn = get_db()
        try:
            with conn.transaction():
                user = users.create_user(conn, form.login.data, form.role.data,
                                         form.password.data)
                record_change(conn, current_user.login, "create", OBJECT_TYPE, user.login,
                              None, user.public())
        except users.LoginTaken:
            form.login.errors.append(_("This login is taken."))
        else:
            flash(_("User %(login)s created.", login=user.login), "success")
            return redirect(url_for(".index"))
    return render_template("users/create.html", form=form), page_status(form)


@bp.route("/<int:user_id>", methods=("GET",))
@role_required("administrator")
def edit(user_id: int):
    """One user's page: the role form and the new-password form."""
    user = _user_or_404(user_id)
    return _edit_page(user, RoleForm(role=user.role), PasswordForm())


def _edit_page(user, role_form, password_form, status=200):
    return render_template("users/edit.html", user=user, role_form=role_form,
                           password_form=password_form, role_titles=ROLE_TITLES), status


@bp.route("/<int:user_id>/role", methods=("POST",))
@role_required("administrator")
def change_role(user_id: int):
    """Change a role; the last administrator keeps theirs."""
    user = _user_or_404(user_id)
    form = RoleForm()
    if not form.validate_on_submit():
        return _edit_page(user, form, PasswordForm(), 400)
    conn = get_db()
    try:
        with conn.transaction():
            changed = users.set_role(conn, user, form.role.data)
            if changed.role != user.role:
                record_change(conn, current_user.login, "update", OBJECT_TYPE, user.login,
                              user.public(), changed.public())
    except users.LastAdministrator:
        form.role.errors.append(_("%(login)s is the last administrator: make someone else an "
                                  "administrator first.", login=user.login))
        return _edit_page(user, form, PasswordForm(), 400)
    flash(_("Role of %(login)s: %(role)s.", login=user.login,
            role=ROLE_TITLES[changed.role]), "success")
    if not current_user.has_role("administrator"):
        return redirect(url_for("home.index"))
    return redirect(url_for(".index"))


@bp.route("/<int:user_id>/password", methods=("POST",))
@role_required("administrator")
def reset_password(user_id: int):
    """Set a new password (ends that user's open sessions)."""
    user = _user_or_404(user_id)
    form = PasswordForm()
    if not form.validate_on_submit():
        return _edit_page(user, RoleForm(role=user.role), form, 400)
    conn = get_db()
    with conn.transaction():
        users.set_password(conn, user, form.password.data)
        record_change(conn, current_user.login, "update", OBJECT_TYPE, user.login,
                      user.public(), {**user.public(), "password_changed": True})
    flash(_("Password of %(login)s changed.", login=user.login), "success")
    if user.id == current_user.user.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for(".index"))


@bp.route("/<int:user_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(user_id: int):
    """Delete a user, never oneself nor the last administrator."""
    user = _user_or_404(user_id)
    if not PostForm().validate_on_submit():
        abort(400)
    if user.id == current_user.user.id:
        flash(_("You cannot delete yourself."), "danger")
        return redirect(url_for(".index"))
    conn = get_db()
    try:
        with conn.transaction():
            users.delete_user(conn, user)
            record_change(conn, current_user.login, "delete", OBJECT_TYPE, user.login,
                          user.public(), None)
    except users.LastAdministrator:
        flash(_("%(login)s is the last administrator.", login=user.login), "danger")
    else:
        flash(_("User %(login)s deleted.", login=user.login), "success")
    return redirect(url_for(".index"))
