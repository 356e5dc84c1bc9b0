"""The Phones section (administrators only): list with live state, create, edit, delete.

Only the SIP digest (``sip_digest``) is stored; a password, generated or
typed, is shown once on the page that answers the save and never again.
A number must be free in the whole numbering plan (phones, the self-test
number, and whatever joins ``numbering_plan`` later). A phone that a line
or a voice menu sends calls to is not deleted: the page names what uses it.
Each change and its change_log row are written in one transaction; history
rows carry no secret.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import UniqueViolation
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from admin_web import phone_state, server_asterisk
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, row_or_404
from admin_web.field_rules import Sentences
from admin_web.forms import PostForm, at_most, matching, page_status, single_line
from admin_web.number_users import number_taken, users_of_numbers
from dialplan import validate
from dialplan.configuration import generate_password, load_configuration, sip_digest

bp = Blueprint("phones", __name__, url_prefix="/phones")

OBJECT_TYPE = "phone"
KIND_TITLES = {"simple": _l("Simple SIP phone")}
MIN_PASSWORD_LENGTH = 8
_COLUMNS = "id, number, kind, description"


def _kind_field():
    return SelectField(_l("Type"), choices=[SelectChoice(k, KIND_TITLES[k])
                                            for k in validate.PHONE_KINDS],
                       validators=[DataRequired(_l("Choose a type."))],
                       invalid_choice_message=_l("Choose one of the listed types."))


def _description_field():
    return StringField(_l("Description"), validators=[
        at_most(200), single_line()])


# Each field's rule, said under the field before it is broken and as the error after.
NUMBER_RULE = _l("The number must be 2 to 15 digits.")
PASSWORD_LENGTH_RULE = _l("The password must be %(min)d to %(max)d characters long.",
                          min=MIN_PASSWORD_LENGTH, max=64)
PASSWORD_CHARACTERS_RULE = _l("Printable Latin characters without spaces, ';' or '\\'.")


def _password_field(label):
    return StringField(label, validators=[
        Optional(),
        Length(min=MIN_PASSWORD_LENGTH, max=64, message=PASSWORD_LENGTH_RULE),
        matching(validate.SECRET, PASSWORD_CHARACTERS_RULE)],
        description=Sentences(PASSWORD_LENGTH_RULE, PASSWORD_CHARACTERS_RULE, _l(
            "Leave empty to get a strong generated password.")),
        render_kw={"autocomplete": "off"})


class CreatePhoneForm(FlaskForm):
    number = StringField(_l("Number"), validators=[
        DataRequired(_l("Enter a number.")),
        matching(validate.PHONE_NUMBER, NUMBER_RULE)], description=NUMBER_RULE)
    kind = _kind_field()
    description = _description_field()
    password = _password_field(_l("Password"))
    submit = SubmitField(_l("Create"))


class EditPhoneForm(FlaskForm):
    kind = _kind_field()
    description = _description_field()
    change_password = BooleanField(_l("Set a new password"))
    password = _password_field(_l("New password"))
    submit = SubmitField(_l("Save"))


def _public(phone: dict) -> dict:
    """What the history keeps of a phone: never the digest."""
    return {"number": phone["number"], "kind": phone["kind"],
            "description": phone["description"]}


def _phone_or_404(phone_id: int) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM phones WHERE id = %s", (phone_id,))


@bp.route("/")
@role_required("administrator")
def index():
    """Every phone with its type, description and live state."""
    phones = get_db().execute(f"SELECT {_COLUMNS} FROM phones ORDER BY number").fetchall()
    states = phone_state.phone_states(server_asterisk(), [p["number"] for p in phones])
    return render_template("phones/list.html", phones=phones, states=states,
                           kind_titles=KIND_TITLES, delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-phone form; answers a save with the password, shown this once."""
    form = CreatePhoneForm()
    if form.validate_on_submit():
        conn = get_db()
        number = form.number.data
        taken = number_taken(load_configuration(conn), number)
        if taken:
            form.number.errors.append(taken)
        else:
            password = form.password.data or generate_password()
            try:
                with conn.transaction():
                    phone = conn.execute(
                        "INSERT INTO phones (number, md5_cred, kind, description)"
                        f" VALUES (%s, %s, %s, %s) RETURNING {_COLUMNS}",
                        (number, sip_digest(number, password), form.kind.data,
                         form.description.data or "")).fetchone()
                    record_change(conn, current_user.login, "create", OBJECT_TYPE, number,
                                  None, _public(phone))
            except UniqueViolation:
                form.number.errors.append(_("Number %(number)s is taken: %(owner)s.",
                                            number=number, owner=_("a phone")))
            else:
                return _password_page(phone, password, _("Phone %(number)s created.",
                                                         number=number))
    return render_template("phones/create.html", form=form), page_status(form)


def _password_page(phone, password, message):
    response = render_template("phones/password.html", phone=phone, password=password,
                               message=message)
    return response, 200, {"Cache-Control": "no-store"}


@bp.route("/<int:phone_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(phone_id: int):
    """Change the type and description, and set a new password if asked."""
    phone = _phone_or_404(phone_id)
    form = EditPhoneForm(data={"kind": phone["kind"], "description": phone["description"]})
    if form.validate_on_submit():
        password = None
        if form.change_password.data:
            password = form.password.data or generate_password()
        conn = get_db()
        with conn.transaction():
            changed = conn.execute(
                "UPDATE phones SET kind = %s, description = %s, updated_at = now(),"
                " md5_cred = coalesce(%s, md5_cred)"
                f" WHERE id = %s RETURNING {_COLUMNS}",
                (form.kind.data, form.description.data or "",
                 sip_digest(phone["number"], password) if password else None,
                 phone_id)).fetchone()
            new = _public(changed)
            if password:
                new["password_changed"] = True
            if new != _public(phone):
                record_change(conn, current_user.login, "update", OBJECT_TYPE,
                              phone["number"], _public(phone), new)
        if password:
            return _password_page(changed, password, _("Phone %(number)s saved.",
                                                       number=phone["number"]))
        flash(_("Phone %(number)s saved.", number=phone["number"]), "success")
        return redirect(url_for(".index"))
    return render_template("phones/edit.html", phone=phone, form=form), page_status(form)


@bp.route("/<int:phone_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(phone_id: int):
    """Delete a phone (after the browser's confirmation), unless calls are sent to it."""
    phone = _phone_or_404(phone_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        users = users_of_numbers(conn, [phone["number"]])
        if not users:
            conn.execute("DELETE FROM phones WHERE id = %s", (phone_id,))
            record_change(conn, current_user.login, "delete", OBJECT_TYPE, phone["number"],
                          _public(phone), None)
    if users:
        flash(_("Phone %(number)s was not deleted: calls are sent to it by %(users)s. "
                "Change them first.", number=phone["number"], users=", ".join(users)),
              "danger")
    else:
        flash(_("Phone %(number)s deleted.", number=phone["number"]), "success")
    return redirect(url_for(".index"))

