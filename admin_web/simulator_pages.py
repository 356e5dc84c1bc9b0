"""The menu simulator (managers and administrators): a dry run of a call through the menus.

The walk is ``ivr.simulate``'s: the real menu engine and the real scenarios
over a simulated call that types the keys given. It runs against the
configuration as it is in the database now (saved but maybe not applied
yet), so an administrator can try a change before Apply; the page says so.
Case look-ups read the real persons and cases tables (``PgCaseBackend``
over a small async pool of its own for the walk); nothing is spoken and
nothing is written: a callback order is only reported.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePath
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Optional

from admin_web import site_settings
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import matching
from admin_web.menu_pages import ITEM_KIND_TITLES, SCENARIO_TITLES
from admin_web.number_users import owner_title
from dialplan import validate
from dialplan.configuration import load_configuration
from dialplan.ivr_plan import IvrPlan, build_plan
from dialplan.messages import Message, MessageText, in_language
from ivr.menu import MenuExit
from ivr.simulate import parse_keys, simulated_steps_over_database

bp = Blueprint("simulator", __name__, url_prefix="/simulator")

# What each kind of step is called on the page ("item" steps start a new block).
STEP_TITLES = {
    "say": _l("says"),
    "prompt": _l("plays"),
    "digits": _l("caller types"),
    "silence": _l("caller types nothing for"),
    "handler": _l("handler"),
    "scenario": _l("scenario"),
    "say digits": _l("says the digits"),
    "callback": _l("callback"),
    "app": _l("would run"),
    "error": _l("error"),
    "rule": _l("override rule"),
}

AT_FORMAT = "%Y-%m-%d %H:%M"



class SimulatorForm(FlaskForm):
    number = StringField(_l("Start at item"), validators=[
        DataRequired(_l("Enter a number.")),
        matching(validate.PHONE_NUMBER, _l("The number must be 2 to 15 digits."))])
    caller = StringField(_l("Caller's number"), default="79990000001", validators=[
        DataRequired(_l("Enter the caller's number.")),
        matching(r"[0-9]{3,20}", _l("The caller's number must be 3 to 20 digits."))],
        description=_l("Scenarios look up this caller's cases."))
    keys = StringField(_l("Keys"), validators=[Optional()], description=_l(
        "One element per prompt or wait, separated by commas: keys (0-9, * and #) or the word "
        "timeout, e.g. 1,*123*#,timeout. When they run out the caller types nothing."))
    at = StringField(_l("Date and time"), validators=[Optional()], description=_l(
        "On the office's clock, as YYYY-MM-DD HH:MM: the override rules are read at this"
        " moment. Empty: now."))
    submit = SubmitField(_l("Run"))


@dataclass
class ItemVisit:
    """One item the simulated call entered, and what happened there."""

    number: str
    steps: list[tuple[str, str]] = field(default_factory=list)  # (title, detail)


def office_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])


def parse_at(text: str) -> datetime | None:
    """'2024-03-12 10:00' on the office's clock; None when it is not such a moment."""
    try:
        return datetime.strptime(text.strip(), AT_FORMAT).replace(tzinfo=office_zone())
    except ValueError:
        return None


def visits(steps: list[tuple[str, str]]) -> list[ItemVisit]:
    """The walk's steps grouped by item, with keys typed in a row joined and each TTS
    prompt folded into the text it says."""
    found: list[ItemVisit] = []
    previous = ""
    for kind, detail in steps:
        if kind == "item":
            found.append(ItemVisit(detail.split()[0]))  # the event starts with the number
        elif found:
            shown = found[-1].steps
            if kind == "prompt" and previous == "say":
                pass  # the speech of the text just shown
            elif kind == "digits" and previous == "digits":
                shown[-1] = (shown[-1][0], shown[-1][1] + detail)
            else:
                if kind == "prompt":
                    detail = PurePath(detail).name
                shown.append((STEP_TITLES.get(kind, kind), step_text(detail)))
        previous = kind
    return found


def rules_before_menus(steps: list[tuple[str, str]]) -> list[str]:
    """What the override rules of the number called said, before any menu item."""
    found = []
    for kind, detail in steps:
        if kind == "item":
            break
        if kind == "rule":
            found.append(step_text(detail))
    return found


def step_text(detail: str) -> str:
    """A step's detail in the UI language, a scenario named by its title
    («Статус дела…» с цифрами 2024*7#, клавиша 1 → 91000)."""
    if not isinstance(detail, MessageText):
        return detail
    params = dict(detail.message.params)
    if "scenario" in params:
        title = SCENARIO_TITLES.get(params["scenario"])
        if title is not None:
            params["scenario"] = _('"%(title)s"', title=title)
    return Message(detail.message.template, params).render(_)


def ending_text(ending: MenuExit, plan: IvrPlan) -> str:
    """How the walk ended, in the UI language."""
    if ending.transfer_to:
        owner = plan.numbers.get(ending.transfer_to)
        return _("The call goes to %(number)s (%(what)s).", number=ending.transfer_to,
                 what=owner_title(owner) if owner else _("not a Telecenter number"))
    return _("The call hangs up: %(reason)s.", reason=ending.reason.render(_))


def _bad_keys(text: str) -> tuple[int, str] | None:
    """The first element of ``text`` that ``parse_keys`` refuses, with its position."""
    for position, part in enumerate(text.split(","), 1):
        try:
            parse_keys(part)
        except ValueError:
            return position, part.strip()
    return None


@bp.route("/", methods=("GET", "POST"))
@role_required("manager")
def index():
    """The form, and the walk's steps once it is sent."""
    form = SimulatorForm()
    conn = get_db()
    plan = build_plan(load_configuration(conn), site_settings())
    result = None
    if not form.is_submitted() and plan.items:
        form.number.data = min(plan.items)  # the first item: where a menu usually starts
    if form.validate_on_submit():
        text = form.keys.data or ""
        bad = _bad_keys(text)
        if bad:
            form.keys.errors.append(_(
                "Element %(position)d (%(element)s) is neither keys (0-9, * and #) nor the word "
                "timeout. Separate the elements with commas, e.g. 1,*123*#,timeout.",
                position=bad[0], element=bad[1][:20]))
        elif form.at.data and parse_at(form.at.data) is None:
            form.at.errors.append(_("Enter the date and time as YYYY-MM-DD HH:MM, e.g."
                                    " 2024-03-12 10:00."))
        elif form.number.data not in plan.items and form.number.data not in plan.rules:
            form.number.errors.append(_("%(number)s is not a voice menu item.",
                                        number=form.number.data))
        else:
            at = parse_at(form.at.data) if form.at.data else datetime.now(office_zone())
            try:
                steps, ending = asyncio.run(simulated_steps_over_database(
                    current_app.config["DATABASE_URL"], plan, form.number.data,
                    form.caller.data, parse_keys(text), at))
            except (LookupError, ValueError) as exc:  # a menu Apply would refuse
                form.form_errors.append(_("The walk stopped: %(reason)s.", reason=in_language(
                    exc.args[0] if exc.args else str(exc), _)))
            else:
                result = {"visits": visits(steps), "ending": ending_text(ending, plan),
                          "rules": rules_before_menus(steps)}
    status = 400 if form.is_submitted() and result is None else 200
    return render_template("simulator/index.html", form=form, result=result, plan=plan,
                           kind_titles=ITEM_KIND_TITLES, scenario_titles=SCENARIO_TITLES,
                           item_numbers=sorted(plan.items)), status
