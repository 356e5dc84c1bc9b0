"""The simulator says which override rule fired for a caller at a moment."""

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from dialplan.configuration import Configuration, Handler, MenuItem, Phone
from dialplan.ivr_plan import build_plan
from dialplan.override_rules import Rule
from fastagi.settings import Settings
from ivr.simulate import simulated_steps, step_lines
from tests.ivr.fake_call import NullCases

MSK = ZoneInfo("Europe/Moscow")
PLAN = build_plan(Configuration(
    phones=(Phone(id=1, number="101", md5_cred="0" * 32),),
    menu_items=(MenuItem(id=1, menu_id=1, number="90000", kind="tts", text="Меню",
                         handlers=(Handler(kind="key", key="1", target="91000"),)),
                MenuItem(id=2, menu_id=1, number="91000", kind="tts", text="Подменю")),
    rules=(Rule(1, "90000", weekdays=(7,), redirect=""),
           Rule(2, "90000", caller_numbers=("555",), redirect="91000", position=1),
           Rule(3, "91000", time_ranges=("18:00-09:00",), redirect="101")),
), Settings(timezone="Europe/Moscow"))


def walk(caller, at, keys=()):
    steps, ending = asyncio.run(simulated_steps(PLAN, "90000", caller, list(keys), NullCases(),
                                                at=at))
    return step_lines(steps, ending)


def test_a_rule_that_ends_the_call_is_named_and_no_menu_is_walked():
    lines = walk("79990000001", datetime(2024, 3, 17, 12, tzinfo=MSK))
    assert lines == ["  override rule 1 of 90000 fired: the call ends",
                     "end: hang up (override rule of 90000)"]


def test_a_redirect_to_a_menu_item_walks_on_from_there():
    lines = walk("555", datetime(2024, 3, 12, 12, tzinfo=MSK))
    assert lines[0] == "  override rule 2 of 90000 fired: the call goes to 91000"
    assert lines[1] == "  no override rule of 91000 holds: its usual route"
    assert lines[2].startswith("item 91000")


def test_no_rule_then_the_rules_of_an_item_the_walk_enters():
    lines = walk("79990000001", datetime(2024, 3, 12, 19, tzinfo=MSK), keys=["1"])
    assert lines[0] == "  no override rule of 90000 holds: its usual route"
    assert "  override rule 1 of 91000 fired: the call goes to 101" in lines
    assert lines[-1] == "end: the call goes to 101"
