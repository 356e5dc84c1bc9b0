"""Override rules: every filled condition must hold; the first rule by position wins."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dialplan.override_rules import Rule, first_match, in_range, time_range_problem
from dialplan.schedules import Schedule, Span

MSK = ZoneInfo("Europe/Moscow")
TUESDAY_10 = datetime(2024, 3, 12, 10, 0, tzinfo=MSK)
OFFICE = Schedule(1, "office", hours=tuple(Span(day, "09:00", "18:00") for day in range(1, 6)),
                  timezone="Europe/Moscow")


def rule(**fields) -> Rule:
    return Rule(**{"id": 1, "called_number": "92000", "redirect": "95000", **fields})


def fired(rules, caller="79990000001", at=TUESDAY_10, called="92000"):
    found = first_match(rules, called, caller, at, {1: OFFICE})
    return found.id if found else None


def test_a_rule_with_no_conditions_takes_every_call_to_its_number_only():
    assert fired([rule()]) == 1
    assert fired([rule()], called="93000") is None


def test_caller_list_and_regexes():
    only = rule(caller_numbers=("101", "102"))
    assert fired([only], caller="102") == 1
    assert fired([only], caller="103") is None
    regex = rule(caller_regexes=("^8800", "^7999[0-9]{7}$"))
    assert fired([regex], caller="88001234567") == 1
    assert fired([regex], caller="79990000001") == 1
    assert fired([regex], caller="74950000001") is None


def test_all_filled_conditions_must_hold():
    both = rule(caller_numbers=("101",), weekdays=(1,))
    assert fired([both], caller="101") is None  # Tuesday
    assert fired([both], caller="101", at=datetime(2024, 3, 11, 10, tzinfo=MSK)) == 1


def test_time_ranges_and_weekdays():
    hours = rule(time_ranges=("15:00-18:00", "09:00-11:00"), weekdays=(1, 2, 3, 4, 5))
    assert fired([hours]) == 1
    assert fired([hours], at=TUESDAY_10.replace(hour=11)) is None
    assert fired([hours], at=TUESDAY_10.replace(hour=17, minute=59)) == 1
    assert fired([hours], at=datetime(2024, 3, 16, 10, tzinfo=MSK)) is None  # Saturday


def test_a_range_past_midnight_wraps_round():
    assert in_range("22:00-06:00", datetime(2024, 1, 1, 23, 30).time())
    assert in_range("22:00-06:00", datetime(2024, 1, 1, 5, 59).time())
    assert not in_range("22:00-06:00", datetime(2024, 1, 1, 6, 0).time())
    assert not in_range("22:00-06:00", datetime(2024, 1, 1, 12, 0).time())
    assert in_range("00:00-24:00", datetime(2024, 1, 1, 23, 59).time())


def test_schedule_inside_and_outside():
    inside = rule(schedule_id=1, schedule_inside=True)
    outside = rule(schedule_id=1, schedule_inside=False)
    evening = TUESDAY_10.replace(hour=19)
    assert fired([inside]) == 1 and fired([inside], at=evening) is None
    assert fired([outside]) is None and fired([outside], at=evening) == 1
    assert fired([rule(schedule_id=7)]) is None  # unknown schedule: never fires


def test_first_match_by_position_wins():
    rules = [rule(id=1, position=2), rule(id=2, position=1, caller_numbers=("101",)),
             rule(id=3, position=0, caller_numbers=("102",))]
    assert fired(rules, caller="101") == 2
    assert fired(rules, caller="102") == 3
    assert fired(rules, caller="103") == 1


@pytest.mark.parametrize("text", ["9:00-18:00", "09:00-18", "25:00-26:00", "09:00-24:30",
                                  "10:00-10:00", "09:00 - 18:00", ""])
def test_bad_time_ranges_are_named(text):
    assert time_range_problem(text) is not None


@pytest.mark.parametrize("text", ["09:00-18:00", "22:00-06:00", "00:00-24:00"])
def test_good_time_ranges(text):
    assert time_range_problem(text) is None
