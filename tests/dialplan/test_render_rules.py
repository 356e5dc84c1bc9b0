"""Numbers with override rules ask the server first, and keep their usual route."""

import json

from dialplan.configuration import Configuration, Line, MenuItem, Phone
from dialplan.ivr_plan import IVR_PLAN_FILE, plan_from_json
from dialplan.override_rules import Rule
from dialplan.render import render_all
from dialplan.schedules import Schedule, Span, SpecialDate
from fastagi.settings import Settings
from tests.dialplan.test_render import contexts, squash

CONFIG = Configuration(
    phones=(Phone(id=1, number="101", md5_cred="0" * 32),),
    lines=(Line(id=1, name="prov", host="10.0.0.1", outbound_regex="^8800[0-9]{7}$"),),
    menu_items=(MenuItem(id=1, menu_id=1, number="90000", kind="tts", text="Привет"),),
    schedules=(Schedule(3, "Офис", hours=(Span(1, "09:00", "18:00"),),
                        dates=(SpecialDate("2024-03-08", False),)),),
    rules=(Rule(1, "90000", caller_regexes=("^7999",), time_ranges=("22:00-06:00",),
                weekdays=(6, 7), schedule_id=3, schedule_inside=False, redirect="101"),
           Rule(2, "88001234567"), Rule(3, "90000", redirect="", position=1)),
)


def rendered(tmp_path):
    return render_all(Settings(sounds_dir=tmp_path, timezone="Europe/Moscow"), CONFIG,
                      revision=4)


def test_a_number_with_rules_runs_them_before_its_route(tmp_path):
    entry = contexts(squash(rendered(tmp_path)["extensions_telecenter.conf"]))["telecenter"]
    start = entry.index("exten => 90000,1,Gosub(telecenter-rules,s,1(${EXTEN}))")
    assert entry[start:start + 4] == [
        "exten => 90000,1,Gosub(telecenter-rules,s,1(${EXTEN}))",
        'same => n,GotoIf($["${TELECENTER_RULE}" != ""]?telecenter-next,s,1)',
        "same => n,Gosub(telecenter-agi,s,1(menu,${EXTEN}))",
        "same => n,Goto(telecenter-next,s,1)",
    ]
    assert "exten => 101,1,Dial(PJSIP/101,30)" in entry  # no rules: as before


def test_an_outside_number_with_rules_is_dialled_out_when_none_fires(tmp_path):
    entry = contexts(squash(rendered(tmp_path)["extensions_telecenter.conf"]))["telecenter"]
    start = entry.index("exten => 88001234567,1,Gosub(telecenter-rules,s,1(${EXTEN}))")
    assert entry[start + 2] == "same => n,Gosub(telecenter-dial-out,s,1(${EXTEN}))"


def test_the_rules_context_falls_back_to_the_usual_route_without_the_server(tmp_path):
    rules = contexts(squash(rendered(tmp_path)["extensions_telecenter.conf"]))["telecenter-rules"]
    assert rules == [
        "exten => s,1,Set(TELECENTER_RULE=)",
        "same => n,Gosub(telecenter-route,s,1(rules,${ARG1}))",
        'same => n,GotoIf($["${TELECENTER_STATUS}" = "OK"]?done)',
        "same => n,Log(WARNING,Telecenter rules of ${ARG1} not read for ${CALLERID(num)}:"
        " AGISTATUS=${AGISTATUS} - the usual route)",
        "same => n,Set(TELECENTER_RULE=)",
        "same => n(done),Return()",
    ]


def test_the_plan_carries_rules_by_number_in_order_and_schedules_on_the_office_clock(tmp_path):
    text = rendered(tmp_path)[IVR_PLAN_FILE]
    plan = plan_from_json(text)
    assert [rule.id for rule in plan.rules["90000"]] == [1, 3]
    assert plan.rules["90000"][0] == CONFIG.rules[0]
    assert plan.schedules[3].timezone == "Europe/Moscow"
    assert plan.schedules[3].dates == CONFIG.schedules[0].dates
    assert json.loads(text)["rules"]["88001234567"][0]["redirect"] == ""
