"""The External lines section (administrators only): list, create, edit, delete.

Every field is checked with the rules Apply's validation uses
(``dialplan.validate``: its patterns, ``dialplan_regex`` for the outbound
regex, and the numbering plan for the inbound number), each error shown on
its field, so a line saved here is a line Apply accepts; nothing is stored
while a field is wrong. The registration password is kept (it is sent to
the provider) but never shown back nor written to the history.

Each field states its rule under it before it is broken (``admin_web.field_rules``),
and the inbound number field offers the numbers of the numbering plan. A line
whose host is where a phone registers from right now (the server's AMI
connection knows) is saved with a warning: it would take the phones' calls.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import UniqueViolation
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, Regexp

from admin_web import server_asterisk
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, row_or_404
from admin_web.field_rules import Sentences
from admin_web.forms import PostForm, page_status, regex_problem, whole
from admin_web.number_users import NUMBERS_DATALIST, number_choices
from admin_web.phone_state import phone_addresses
from dialplan import validate
from dialplan.configuration import Configuration, Line, load_configuration, numbering_plan

bp = Blueprint("lines", __name__, url_prefix="/lines")

OBJECT_TYPE = "line"
FIELDS = ("name", "host", "port", "transport", "reg_username", "reg_domain", "reg_password",
          "outbound_regex", "position", "inbound_number", "external")
_COLUMNS = "id, " + ", ".join(FIELDS)

# Each field's rule, said under the field before it is broken and as the error after.
NAME_RULE = _l("Lower-case Latin letters, digits, '_' and '-' only, starting with a letter,"
               " at most 32: e.g. rostelecom or office-pbx.")
HOST_RULE = _l("A host name or an IPv4 address.")
PORT_RULE = _l("A port between 1 and 65535.")
REG_USERNAME_RULE = _l("Latin letters, digits and . _ + - only.")
SECRET_RULE = _l("Up to 64 printable Latin characters without spaces, ';' or '\\'.")
INBOUND_NUMBER_RULE = _l("The inbound number must be digits.")


class LineForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter a name.")),
        Regexp(whole(validate.LINE_NAME), message=NAME_RULE)],
        description=NAME_RULE)
    host = StringField(_l("Host"), validators=[
        DataRequired(_l("Enter a host.")),
        Regexp(whole(validate.HOST), message=HOST_RULE)],
        description=Sentences(HOST_RULE, _l(
            "Calls from this address are taken as calls on this line: not the address "
            "phones register from.")))
    port = IntegerField(_l("Port"), default=5060, validators=[
        InputRequired(_l("Enter a port.")),
        NumberRange(1, 65535, PORT_RULE)], description=PORT_RULE)
    transport = SelectField(_l("Transport"), choices=[SelectChoice(t, t.upper())
                                                  for t in validate.TRANSPORTS],
                            invalid_choice_message=_l("Choose one of the listed transports."))
    reg_username = StringField(_l("Registration username"), validators=[
        Optional(), Regexp(whole(validate.REG_USERNAME), message=REG_USERNAME_RULE)],
        description=Sentences(REG_USERNAME_RULE, _l(
            "Leave username, domain and password empty for a line without registration.")))
    reg_domain = StringField(_l("Registration domain"), validators=[
        Optional(), Regexp(whole(validate.HOST), message=HOST_RULE)], description=HOST_RULE)
    reg_password = PasswordField(_l("Registration password"), validators=[
        Optional(), Regexp(whole(validate.SECRET), message=SECRET_RULE)],
        description=SECRET_RULE)
    outbound_regex = StringField(_l("Outbound regex"), validators=[Optional()],
                                 description=_l("Numbers that leave through this line, whole "
                                                "from ^ to $, e.g. ^8[0-9]{10}$: digits, [0-9], "
                                                "\\d, \\+, \\*, \\#, ( | ), ? * + {m,n}. Empty: "
                                                "no outbound calls."))
    position = IntegerField(_l("Order"), default=0, validators=[
        InputRequired(_l("Enter the order.")),
        NumberRange(-1000000, 1000000, _l("A whole number."))],
        description=_l("Outbound calls take the first matching line, lowest order first."))
    inbound_number = StringField(_l("Inbound number"), validators=[
        Optional(), Regexp(whole(validate.INBOUND_NUMBER), message=INBOUND_NUMBER_RULE)],
        description=Sentences(_l("Where calls arriving on this line go: a number of the "
                                 "numbering plan."), INBOUND_NUMBER_RULE),
        render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})
    external = BooleanField(_l("External (a provider, not another PBX)"), default=True)
    submit = SubmitField(_l("Save"))


def _line_or_404(line_id: int) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM lines WHERE id = %s", (line_id,))


def _values(form: LineForm, old: dict | None) -> dict:
    values = {name: getattr(form, name).data for name in FIELDS}
    for name in ("reg_username", "reg_domain", "outbound_regex", "inbound_number"):
        values[name] = (values[name] or "").strip()
    values["reg_password"] = values["reg_password"] or ""
    if old is not None and not values["reg_password"] and values["reg_username"]:
        values["reg_password"] = old["reg_password"]  # empty on edit: keep the stored one
    return values


def _check(form: LineForm, values: dict, line_id: int | None) -> bool:
    """Apply's own checks on the line among the others; errors go on the fields."""
    config = load_configuration(get_db())
    problem = values["outbound_regex"] and regex_problem(values["outbound_regex"], outbound=True)
    if problem:
        form.outbound_regex.errors.append(problem)
    plan = numbering_plan(config)
    if values["inbound_number"] and values["inbound_number"] not in plan:
        form.inbound_number.errors.append(_("Number %(number)s does not exist in the numbering "
                                            "plan.", number=values["inbound_number"]))
    if values["reg_domain"] or values["reg_password"]:
        if not values["reg_username"]:
            form.reg_username.errors.append(_("Registration needs a username."))
    if values["reg_username"] and not values["reg_password"]:
        form.reg_password.errors.append(_("Registration needs a password."))
    others = [line for line in config.lines if line.id != line_id]
    if any(line.name == values["name"] for line in others):
        form.name.errors.append(_("Another line has this name."))
    if any(line.host == values["host"] for line in others):
        form.host.errors.append(_("Another line has this host: calls from it could not be "
                                  "told apart."))
    if any(field.errors for field in form):
        return False
    # Whatever else Apply would refuse about this line (rules added there later).
    line = Line(id=line_id or 0, **values)
    where = f"line {line.name!r}"
    problems = [p for p in validate.validate(replace(config, lines=(*others, line)))
                if p.where == where]
    for problem in problems:
        form.form_errors.append(problem.message)
    return not problems


def _save(form: LineForm, old: dict | None):
    values = _values(form, old)
    if not _check(form, values, old["id"] if old else None):
        return None
    conn = get_db()
    try:
        with conn.transaction():
            if old is None:
                line = conn.execute(
                    f"INSERT INTO lines ({', '.join(FIELDS)})"
                    f" VALUES ({', '.join(['%s'] * len(FIELDS))}) RETURNING {_COLUMNS}",
                    [values[name] for name in FIELDS]).fetchone()
                record_change(conn, current_user.login, "create", OBJECT_TYPE, line["name"],
                              None, _public(line))
            else:
                line = conn.execute(
                    f"UPDATE lines SET {', '.join(f'{n} = %s' for n in FIELDS)},"
                    f" updated_at = now() WHERE id = %s RETURNING {_COLUMNS}",
                    [*(values[name] for name in FIELDS), old["id"]]).fetchone()
                if line != old:
                    record_change(conn, current_user.login, "update", OBJECT_TYPE,
                                  line["name"], _public(old), _public(line))
    except UniqueViolation:
        form.name.errors.append(_("Another line has this name."))
        return None
    return line


def _warn_if_on_phones(line: dict) -> None:
    """Flash Apply's warning when the saved line's host is where a phone registers from now
    (the server's AMI connection knows; nothing is said when it does not)."""
    config = load_configuration(get_db())
    addresses = phone_addresses(server_asterisk(), [phone.number for phone in config.phones])
    if not addresses:
        return
    for problem in validate.lines_on_phone_addresses(
            Configuration(lines=(Line(id=line["id"], **{n: line[n] for n in FIELDS}),)),
            addresses):
        flash(_("Line %(name)s: %(warning)s.", name=line["name"],
                warning=problem.text.render(_)), "warning")


def _form_page(form: LineForm, line: dict | None):
    return render_template("lines/form.html", form=form, line=line,
                           numbers=number_choices(load_configuration(get_db())),
                           numbers_list=NUMBERS_DATALIST), page_status(form)


def _public(line: dict) -> dict:
    """The history's copy of a line (audit masks the registration password)."""
    return {name: line[name] for name in FIELDS}


@bp.route("/")
@role_required("administrator")
def index():
    """Every line in outbound order."""
    lines = get_db().execute(f"SELECT {_COLUMNS} FROM lines ORDER BY position, name").fetchall()
    return render_template("lines/list.html", lines=lines, delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-line form."""
    form = LineForm()
    if form.validate_on_submit():
        line = _save(form, None)
        if line is not None:
            flash(_("Line %(name)s created.", name=line["name"]), "success")
            _warn_if_on_phones(line)
            return redirect(url_for(".index"))
    return _form_page(form, None)


@bp.route("/<int:line_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(line_id: int):
    """One line's form; an empty password field keeps the stored password."""
    old = _line_or_404(line_id)
    form = LineForm(data={k: v for k, v in old.items() if k != "reg_password"})
    if form.validate_on_submit():
        line = _save(form, old)
        if line is not None:
            flash(_("Line %(name)s saved.", name=line["name"]), "success")
            _warn_if_on_phones(line)
            return redirect(url_for(".index"))
    return _form_page(form, old)


@bp.route("/<int:line_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(line_id: int):
    """Delete a line (after the browser's confirmation)."""
    line = _line_or_404(line_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        conn.execute("DELETE FROM lines WHERE id = %s", (line_id,))
        record_change(conn, current_user.login, "delete", OBJECT_TYPE, line["name"],
                      _public(line), None)
    flash(_("Line %(name)s deleted.", name=line["name"]), "success")
    return redirect(url_for(".index"))
