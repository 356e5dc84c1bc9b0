"""The rules route: the rule that fired is in the call's steps and tells the dialplan where
the call goes; the menus ask the rules of the items they enter."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest

from dialplan import names
from dialplan.configuration import Configuration, Handler, MenuItem, Phone
from dialplan.ivr_plan import IVR_PLAN_FILE
from dialplan.override_rules import Rule
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.menu_route import MenuRoute
from ivr.plan_store import PlanStore
from ivr.rules_route import RulesRoute
from ivr.simulate import DryRunCallbacks
from ivr.speaker import Speaker
from tests.ivr.fake_call import FakeCall, NullCases

# Monday 2024-03-11 07:30 UTC = 10:30 in Moscow.
MONDAY_MORNING = datetime(2024, 3, 11, 7, 30, tzinfo=timezone.utc)
SETTINGS = dict(timezone="Europe/Moscow")

CONFIG = Configuration(
    phones=(Phone(id=1, number="101", md5_cred="0" * 32),
            Phone(id=2, number="102", md5_cred="0" * 32)),
    menu_items=(MenuItem(id=1, menu_id=1, number="90000", kind="tts", text="Меню",
                         handlers=(Handler(kind="key", key="1", target="91000"),)),
                MenuItem(id=2, menu_id=1, number="91000", kind="tts", text="Подменю")),
    rules=(Rule(5, "90000", caller_numbers=("103",), redirect=""),
           Rule(6, "90000", time_ranges=("10:00-11:00",), weekdays=(1,), redirect="101",
                position=1),
           Rule(7, "91000", redirect="102")),
)


def applied(tmp_path) -> Settings:
    settings = Settings(include_dir_override=tmp_path, **SETTINGS)
    write_files(tmp_path, render_all(settings, CONFIG, revision=1))
    return settings


def ask(tmp_path, caller: str, at: datetime) -> FakeCall:
    settings = applied(tmp_path)
    call = FakeCall(caller=caller, extension="90000")
    asyncio.run(RulesRoute(settings, PlanStore(tmp_path), lambda: at).handle(call, ("90000",)))
    return call


def test_a_rule_that_fired_names_its_redirect_and_is_in_the_steps(tmp_path):
    call = ask(tmp_path, "79990000001", MONDAY_MORNING)
    assert call.variables == {names.VAR_NEXT: "101", names.VAR_RULE: "6"}
    assert call.events.of("rule") == [
        "override rule 2 of 90000 fired: the call goes to 101"]


def test_a_rule_with_an_empty_redirect_ends_the_call(tmp_path):
    call = ask(tmp_path, "103", MONDAY_MORNING)
    assert call.variables == {names.VAR_NEXT: "", names.VAR_RULE: "5"}
    assert call.events.of("rule") == ["override rule 1 of 90000 fired: the call ends"]


def test_no_rule_leaves_the_usual_route(tmp_path):
    call = ask(tmp_path, "79990000001", MONDAY_MORNING.replace(hour=9))  # 12:00 Moscow
    assert call.variables == {}
    assert call.events.of("rule") == ["no override rule of 90000 holds: its usual route"]


def test_the_menus_ask_the_rules_of_an_item_they_enter(tmp_path):
    settings = applied(tmp_path)
    menu = MenuRoute(settings, PlanStore(tmp_path), NullCases(), DryRunCallbacks(None),
                     Speaker(settings.tts_cache_dir), clock=lambda: MONDAY_MORNING)
    call = FakeCall(prompt_keys={0: "1"}, caller="79990000001")
    asyncio.run(menu.handle(call, ("90000",)))
    assert call.variables[names.VAR_NEXT] == "102"
    assert call.events.of("rule") == ["override rule 1 of 91000 fired: the call goes to 102"]


def test_a_damaged_plan_fails_the_route_so_the_dialplan_takes_the_usual_route(tmp_path):
    """A redirect that is no number (an edited plan file) never reaches the dialplan's Goto:
    the route fails, and [telecenter-rules] treats a failed route as no rule."""
    settings = applied(tmp_path)
    path = tmp_path / IVR_PLAN_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["rules"]["90000"][1]["redirect"] = "101,tt"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    call = FakeCall(caller="79990000001", extension="90000")
    route = RulesRoute(settings, PlanStore(tmp_path), lambda: MONDAY_MORNING)
    with pytest.raises(ValueError, match="not a number the dialplan may go to"):
        asyncio.run(route.handle(call, ("90000",)))
    assert names.VAR_NEXT not in call.variables and names.VAR_RULE not in call.variables
