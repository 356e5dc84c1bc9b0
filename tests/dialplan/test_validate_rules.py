"""Apply's checks of schedules and override rules."""

from dialplan.configuration import Configuration, Line, MenuItem, Phone, Queue
from dialplan.override_rules import Rule
from dialplan.schedules import Schedule, Span
from dialplan.validate import check, validate

PHONE = Phone(id=1, number="101", md5_cred="0" * 32)
ITEM = MenuItem(id=1, menu_id=1, number="90000", kind="tts", text="Здравствуйте")
QUEUE = Queue(id=1, name="Операторы", number="92000", members=("101",))
LINE = Line(id=1, name="prov", host="10.0.0.1", outbound_regex="^8800[0-9]{7}$")
OFFICE = Schedule(1, "Офис", hours=(Span(1, "09:00", "18:00"),))


def config(*rules: Rule, **changes) -> Configuration:
    return Configuration(**{"phones": (PHONE,), "menu_items": (ITEM,), "queues": (QUEUE,),
                            "lines": (LINE,), "schedules": (OFFICE,), "rules": rules,
                            **changes})


def texts(cfg: Configuration) -> list[str]:
    return [str(problem) for problem in validate(cfg)]


def rule(**fields) -> Rule:
    return Rule(**{"id": 1, "called_number": "92000", "redirect": "101", **fields})


def test_good_rules_pass():
    assert texts(config(
        rule(caller_numbers=("79990000001",), caller_regexes=("^7999",),
             time_ranges=("09:00-18:00", "22:00-06:00"), weekdays=(1, 5), schedule_id=1),
        rule(id=2, called_number="88001234567", redirect=""),  # forbid an outside number
        rule(id=3, called_number="90000", redirect="92000", position=1))) == []


def test_a_redirect_that_leads_nowhere():
    assert texts(config(rule(redirect="555"))) == [
        "override rule 1 of number 92000: target 555 leads nowhere: it is not a menu item,"
        " a queue, a phone or a number a line dials out"]


def test_a_rule_on_a_number_nothing_serves_and_no_line_dials():
    assert texts(config(rule(called_number="555"))) == [
        "override rule 1 of number 555: nothing answers 555 and no line dials it out: the"
        " rule would never be used"]


def test_bad_regex_time_range_weekday_and_schedule_each_named():
    found = texts(config(rule(caller_regexes=("^7(99",), time_ranges=("9-18",),
                              weekdays=(8,), schedule_id=5, caller_numbers=("12a",))))
    assert found == [
        "override rule 1 of number 92000: caller number '12a' is not a number",
        "override rule 1 of number 92000: caller regex '^7(99': error in the regex at"
        " position 3: unclosed parenthesis",
        "override rule 1 of number 92000: time range '9-18' is not HH:MM-HH:MM (e.g."
        " 09:00-18:00)",
        "override rule 1 of number 92000: weekday 8 is not 1 to 7",
        "override rule 1 of number 92000: schedule 5 does not exist",
    ]


def test_rules_are_named_by_their_place_in_the_list():
    found = texts(config(rule(id=7, position=1, redirect="555"), rule(id=8, position=0)))
    assert found[0].startswith("override rule 2 of number 92000:")


def test_rules_that_send_calls_round_are_refused():
    found = texts(config(rule(redirect="90000"),
                         rule(id=2, called_number="90000", redirect="92000")))
    assert "override rule 1 of number 90000: the rules of 90000 can send a call round back" \
           " to 90000" in found
    assert texts(config(rule(redirect="92000"))) == [
        "override rule 1 of number 92000: the rules of 92000 can send a call round back to"
        " 92000"]


def test_a_schedule_span_that_ends_before_it_starts():
    bad = Schedule(1, "Офис", hours=(Span(1, "18:00", "09:00"),))
    assert [str(p) for p in check(config(schedules=(bad,)))] == [
        "schedule 'Офис': 18:00-09:00 ends before it starts"]
