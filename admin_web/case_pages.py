"""The Cases section: the default case look-up backend's data (spec 18).

People (name, phone) and their cases (number, service, status, filing
date), which the voice menus look up by the caller's number or a typed
case number. Managers and administrators browse and search them;
administrators add, change and delete. A phone is stored in the one form
``ivr.cases.normalize_phone`` gives, and a case number must be one a
caller can type on a phone, so whatever is entered here is found on calls.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import BooleanField, DateField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, insert_row, row_or_404, update_row
from admin_web.errors import deleted_meanwhile
from admin_web.forms import PostForm, at_most, chosen_id, listed_id, page_status, single_line
from ivr.cases import (CASE_NUMBER_MAX_LENGTH, case_number_from_digits, case_number_keys,
                       normalize_phone, phone_variants)

bp = Blueprint("cases", __name__, url_prefix="/cases")

PERSON_OBJECT = "person"
CASE_OBJECT = "case"
SHOWN_ROWS = 100
_PERSON_COLUMNS = "id, full_name, first_name, phone"
_CASE_COLUMNS = "id, number, person_id, service, status, is_open, filed_on"
_CASES_WITH_PERSON = (
    "SELECT c.id, c.number, c.service, c.status, c.is_open, c.filed_on, c.person_id,"
    " p.full_name, p.phone FROM cases c LEFT JOIN persons p ON p.id = c.person_id")


def _text(label, max_length, required_message=None, description=None):
    validators = [DataRequired(required_message)] if required_message else [Optional()]
    return StringField(label, validators=[
        *validators,
        at_most(max_length), single_line()],
        description=description)


class _DateField(DateField):
    """A date field whose unreadable dates get our message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(str(_l("Enter a valid date."))) from exc


class SearchForm(FlaskForm):
    """A GET form: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("Phone or case number"), validators=[Optional(), at_most(60)])
    submit = SubmitField(_l("Find"))


class PersonForm(FlaskForm):
    full_name = _text(_l("Full name"), 200, _l("Enter the full name."))
    first_name = _text(_l("Name for the greeting"), 100,
                       description=_l("What the robot calls the person, e.g. «Иван Петрович»."))
    phone = StringField(_l("Phone"), validators=[
        DataRequired(_l("Enter a phone number.")), at_most(30)],
        description=_l("Any usual form: +7 999 000-00-01, 89990000001."))
    submit = SubmitField(_l("Save"))

    def validate_phone(self, field):
        if normalize_phone(field.data) is None:
            raise ValidationError(_l("This is not a phone number: 3 to 15 digits, a leading + and "
                              "spaces, brackets or dashes between them."))


class CaseForm(FlaskForm):
    number = StringField(_l("Case number"), validators=[
        DataRequired(_l("Enter the case number.")), at_most(CASE_NUMBER_MAX_LENGTH)],
        description=_l("Groups of digits joined by '-', e.g. 19-03-2044: callers type it with "
                       "'*' between the groups."))
    person_id = SelectField(_l("Person"), validate_choice=False)
    service = _text(_l("Service"), 200)
    status = _text(_l("Status"), 200, _l("Enter the status."),
                   description=_l("What the robot says to a caller asking about the case."))
    is_open = BooleanField(_l("Open (in progress)"), default=True)
    filed_on = _DateField(_l("Filed on"), validators=[InputRequired(_l("Enter a valid date."))],
                         render_kw={"type": "date"})
    submit = SubmitField(_l("Save"))

    def validate_number(self, field):
        number = (field.data or "").strip()
        if case_number_from_digits(case_number_keys(number)) != number:
            raise ValidationError(_l("Groups of digits joined by '-', e.g. 19-03-2044."))

    def validate_person_id(self, field):
        if field.data and listed_id(field) is None:
            raise ValidationError(_l("Choose one of the listed people."))


@bp.route("/")
@role_required("manager")
def index():
    """People and cases found by phone or case number, or the latest ones (also beside the
    reason when the search itself is refused)."""
    conn = get_db()
    form = SearchForm(request.args)
    query = (form.q.data or "").strip() if form.validate() else ""
    if query:
        phone = normalize_phone(query)
        phones = phone_variants(phone) if phone else []
        persons = conn.execute(
            f"SELECT {_PERSON_COLUMNS} FROM persons WHERE phone = ANY(%s)"
            " ORDER BY full_name, id LIMIT %s", (phones, SHOWN_ROWS)).fetchall()
        cases = conn.execute(
            f"{_CASES_WITH_PERSON} WHERE c.number LIKE %s OR p.phone = ANY(%s)"
            " ORDER BY c.filed_on DESC, c.number LIMIT %s",
            (_like_prefix(query), phones, SHOWN_ROWS)).fetchall()
    else:
        persons = conn.execute(f"SELECT {_PERSON_COLUMNS} FROM persons ORDER BY id DESC"
                               " LIMIT %s", (SHOWN_ROWS,)).fetchall()
        cases = conn.execute(f"{_CASES_WITH_PERSON} ORDER BY c.filed_on DESC, c.id DESC"
                             " LIMIT %s", (SHOWN_ROWS,)).fetchall()
    return render_template("cases/index.html", form=form, query=query, persons=persons,
                           cases=cases, shown_rows=SHOWN_ROWS, delete_form=PostForm()), \
        400 if form.errors else 200


def _like_prefix(text: str) -> str:
    """A LIKE pattern for values starting with ``text`` (its own % and _ taken literally)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# People


def _person_or_404(person_id: int) -> dict:
    return row_or_404(f"SELECT {_PERSON_COLUMNS} FROM persons WHERE id = %s", (person_id,))


def _person_public(person: dict) -> dict:
    return {k: person[k] for k in ("full_name", "first_name", "phone")}


def _person_values(form: PersonForm) -> tuple:
    return (form.full_name.data.strip(), (form.first_name.data or "").strip(),
            normalize_phone(form.phone.data))


@bp.route("/persons/new", methods=("GET", "POST"))
@role_required("administrator")
def create_person():
    """The new-person form."""
    form = PersonForm()
    if form.validate_on_submit():
        conn = get_db()
        with conn.transaction():
            person = conn.execute(
                "INSERT INTO persons (full_name, first_name, phone) VALUES (%s, %s, %s)"
                f" RETURNING {_PERSON_COLUMNS}", _person_values(form)).fetchone()
            record_change(conn, current_user.login, "create", PERSON_OBJECT,
                          person["full_name"], None, _person_public(person))
        flash(_("%(name)s added.", name=person["full_name"]), "success")
        return redirect(url_for(".index", q=person["phone"]))
    return _form_page("cases/person.html", form, None)


@bp.route("/persons/<int:person_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit_person(person_id: int):
    """One person's form."""
    old = _person_or_404(person_id)
    form = PersonForm(data=old)
    if form.validate_on_submit():
        conn = get_db()
        with conn.transaction():
            person = conn.execute(
                "UPDATE persons SET full_name = %s, first_name = %s, phone = %s WHERE id = %s"
                f" RETURNING {_PERSON_COLUMNS}", (*_person_values(form), person_id)).fetchone()
            if person is None:
                deleted_meanwhile()
            if person != old:
                record_change(conn, current_user.login, "update", PERSON_OBJECT,
                              person["full_name"], _person_public(old), _person_public(person))
        flash(_("%(name)s saved.", name=person["full_name"]), "success")
        return redirect(url_for(".index", q=person["phone"]))
    return _form_page("cases/person.html", form, old)


@bp.route("/persons/<int:person_id>/delete", methods=("POST",))
@role_required("administrator")
def delete_person(person_id: int):
    """Delete a person; their cases stay, without a person (the history names them)."""
    person = _person_or_404(person_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        cases = [row["number"] for row in conn.execute(
            "SELECT number FROM cases WHERE person_id = %s ORDER BY number",
            (person_id,)).fetchall()]
        conn.execute("DELETE FROM persons WHERE id = %s", (person_id,))
        record_change(conn, current_user.login, "delete", PERSON_OBJECT, person["full_name"],
                      {**_person_public(person), "cases": cases}, None)
    flash(_("%(name)s deleted.", name=person["full_name"]), "success")
    return redirect(url_for(".index"))


# Cases


def _case_or_404(case_id: int) -> dict:
    return row_or_404(f"SELECT {_CASE_COLUMNS} FROM cases WHERE id = %s", (case_id,))


def _case_form(data=None) -> CaseForm:
    form = CaseForm(data=data)
    people = get_db().execute("SELECT id, full_name, phone FROM persons"
                              " ORDER BY full_name, id").fetchall()
    form.person_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(p["id"]), f"{p['full_name']} ({p['phone']})") for p in people]
    return form


def _case_values(form: CaseForm) -> dict:
    return {"number": form.number.data.strip(),
            "person_id": chosen_id(form.person_id.data),
            "service": (form.service.data or "").strip(), "status": form.status.data.strip(),
            "is_open": bool(form.is_open.data), "filed_on": form.filed_on.data}


def _case_public(conn, case: dict) -> dict:
    """The history's copy of a case: its person by name and phone, not by id."""
    kept = {k: case[k] for k in ("number", "service", "status", "is_open", "filed_on")}
    person = conn.execute("SELECT full_name, phone FROM persons WHERE id = %s",
                          (case["person_id"],)).fetchone() if case["person_id"] else None
    kept["person"] = f"{person['full_name']} ({person['phone']})" if person else None
    return kept


def _save_case(form: CaseForm, old: dict | None) -> dict | None:
    values = _case_values(form)
    conn = get_db()
    try:
        with conn.transaction():
            if old is None:
                case = insert_row(conn, "cases", values, _CASE_COLUMNS)
                record_change(conn, current_user.login, "create", CASE_OBJECT, case["number"],
                              None, _case_public(conn, case))
            else:
                case = update_row(conn, "cases", old["id"], values, _CASE_COLUMNS)
                if case is None:
                    deleted_meanwhile()
                if case != old:
                    record_change(conn, current_user.login, "update", CASE_OBJECT,
                                  case["number"], _case_public(conn, old),
                                  _case_public(conn, case))
    except UniqueViolation:
        form.number.errors.append(_("Another case has this number."))
        return None
    except ForeignKeyViolation:  # the person was deleted after the form was checked
        form.person_id.errors.append(_("Choose one of the listed people."))
        return None
    return case


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create_case():
    """The new-case form."""
    form = _case_form()
    if form.validate_on_submit():
        case = _save_case(form, None)
        if case is not None:
            flash(_("Case %(number)s added.", number=case["number"]), "success")
            return redirect(url_for(".index", q=case["number"]))
    return _form_page("cases/case.html", form, None)


@bp.route("/<int:case_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit_case(case_id: int):
    """One case's form."""
    old = _case_or_404(case_id)
    form = _case_form(data={**old, "person_id": str(old["person_id"] or "")})
    if form.validate_on_submit():
        case = _save_case(form, old)
        if case is not None:
            flash(_("Case %(number)s saved.", number=case["number"]), "success")
            return redirect(url_for(".index", q=case["number"]))
    return _form_page("cases/case.html", form, old)


@bp.route("/<int:case_id>/delete", methods=("POST",))
@role_required("administrator")
def delete_case(case_id: int):
    """Delete a case (after the browser's confirmation)."""
    case = _case_or_404(case_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    with conn.transaction():
        conn.execute("DELETE FROM cases WHERE id = %s", (case_id,))
        record_change(conn, current_user.login, "delete", CASE_OBJECT, case["number"],
                      _case_public(conn, case), None)
    flash(_("Case %(number)s deleted.", number=case["number"]), "success")
    return redirect(url_for(".index"))


def _form_page(template: str, form, row: dict | None):
    return render_template(template, form=form, row=row), page_status(form)
