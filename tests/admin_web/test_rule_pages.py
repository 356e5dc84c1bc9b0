"""The override rules section: add, each field's own error, order ↑↓, delete, the history,
Russian by default; and Apply's problems link to the rule."""

import html
import re

import pytest


@pytest.fixture
def clean(db):
    db.execute("DELETE FROM override_rules")
    db.execute("DELETE FROM schedules WHERE id NOT IN (SELECT schedule_id FROM dialer_settings"
               " WHERE schedule_id IS NOT NULL)")
    yield db
    db.execute("DELETE FROM override_rules")
    db.execute("DELETE FROM schedules WHERE id NOT IN (SELECT schedule_id FROM dialer_settings"
               " WHERE schedule_id IS NOT NULL)")


@pytest.fixture
def office(app, clean):
    """Phones 101 and 102 and a schedule 'Офис'."""
    for number in ("101", "102"):
        clean.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)", (number, "0" * 32))
    schedule = clean.execute("INSERT INTO schedules (name) VALUES ('Офис') RETURNING id"
                             ).fetchone()["id"]
    return {"schedule": schedule}


@pytest.fixture
def admin(auth):
    auth.login()
    auth.post("/language/en")
    return auth


def rule_data(**changes) -> dict:
    data = {"called_number": "101", "caller_numbers": "79990000001\n79990000002",
            "caller_regexes": "^8800", "time_ranges": "09:00-11:00, 15:00-18:00",
            "weekdays": ["1", "2"], "schedule_id": "", "schedule_side": "inside",
            "redirect": "102", "comment": "Утро"}
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def new_rule(auth, **changes):
    return auth.post("/rules/new", rule_data(**changes), form_page="/rules/new")


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def rules(db):
    return db.execute("SELECT called_number, caller_numbers, caller_regexes, time_ranges,"
                      " weekdays, schedule_id, schedule_inside, redirect, position, comment"
                      " FROM override_rules ORDER BY called_number, position").fetchall()


def test_an_administrator_adds_a_rule_and_the_history_says_so(admin, office, clean):
    response = new_rule(admin, schedule_id=str(office["schedule"]), schedule_side="outside")
    assert response.status_code == 302
    assert rules(clean) == [{
        "called_number": "101", "caller_numbers": ["79990000001", "79990000002"],
        "caller_regexes": ["^8800"], "time_ranges": ["09:00-11:00", "15:00-18:00"],
        "weekdays": [1, 2], "schedule_id": office["schedule"], "schedule_inside": False,
        "redirect": "102", "position": 0, "comment": "Утро"}]
    listed = page(admin._client.get("/rules/"))
    assert "79990000001, 79990000002" in listed and "Monday, Tuesday" in listed
    assert "Офис: outside" in listed
    row = clean.execute("SELECT action, object_type, new_value FROM change_log"
                        " WHERE object_type = 'override rule'").fetchone()
    assert row["action"] == "create" and row["new_value"]["schedule"] == "Офис"


def test_each_bad_field_says_its_own_error_and_nothing_is_stored(admin, office, clean):
    response = new_rule(admin, called_number="555", caller_numbers="12a", caller_regexes="^7(99",
                        time_ranges="9-18", redirect="777")
    assert response.status_code == 400
    text = page(response)
    assert "Nothing answers 555 and no line dials it out" in text
    assert "Not a number: 12a." in text
    assert "^7(99: error in the regex at position 3: unclosed parenthesis." in text
    assert "Time range '9-18' is not HH:MM-HH:MM" in text
    assert "Number 777 leads nowhere" in text
    assert "^7(99" in text and 'value="9-18"' in text  # what was typed stays
    assert rules(clean) == []


def test_order_up_and_down_within_the_number(admin, office, clean):
    for redirect in ("102", "", "101"):
        new_rule(admin, called_number="101" if redirect != "101" else "102", redirect=redirect)
    third = new_rule(admin, called_number="101", redirect="102", comment="третье")
    assert third.status_code == 302
    ids = [r["id"] for r in clean.execute("SELECT id FROM override_rules WHERE called_number ="
                                          " '101' ORDER BY position")]
    admin.post(f"/rules/{ids[2]}/move/up", {}, form_page="/rules/")
    order = [r["id"] for r in clean.execute("SELECT id FROM override_rules WHERE called_number"
                                            " = '101' ORDER BY position")]
    assert order == [ids[0], ids[2], ids[1]]
    admin.post(f"/rules/{ids[0]}/move/down", {}, form_page="/rules/")
    order = [r["id"] for r in clean.execute("SELECT id FROM override_rules WHERE called_number"
                                            " = '101' ORDER BY position")]
    assert order == [ids[2], ids[0], ids[1]]
    assert admin.post(f"/rules/{ids[0]}/move/sideways", {}, form_page="/rules/"
                      ).status_code in (400, 404)
    listed = page(admin._client.get("/rules/"))
    assert listed.index(f'id="rule-{ids[2]}"') < listed.index(f'id="rule-{ids[0]}"')


def test_delete_and_the_schedule_in_use_is_kept(admin, office, clean):
    new_rule(admin, schedule_id=str(office["schedule"]))
    refused = admin.post(f"/schedules/{office['schedule']}/delete", {}, form_page="/schedules/")
    assert refused.status_code == 302
    assert clean.execute("SELECT count(*) AS n FROM schedules WHERE id = %s",
                         (office["schedule"],)).fetchone()["n"] == 1
    rule_id = clean.execute("SELECT id FROM override_rules").fetchone()["id"]
    admin.post(f"/rules/{rule_id}/delete", {}, form_page="/rules/")
    assert rules(clean) == []
    assert clean.execute("SELECT action FROM change_log WHERE object_type = 'override rule'"
                         " ORDER BY id").fetchall() == [{"action": "create"},
                                                        {"action": "delete"}]


def test_the_pages_speak_russian_by_default(auth, office):
    auth.login()
    text = page(auth._client.get("/rules/new"))
    assert "Вызываемый номер" in text and "Номера вызывающих абонентов" in text
    assert "Понедельник" in text
    assert "Переопределённые правила" in page(auth._client.get("/rules/"))


def test_an_operator_gets_403(auth, office):
    auth.login("olga")
    assert auth._client.get("/rules/").status_code == 403
    assert auth._client.get("/schedules/").status_code == 403


def test_apply_problems_link_to_the_rule(admin, office, clean):
    clean.execute("INSERT INTO override_rules (called_number, redirect) VALUES ('101', '555')")
    rule_id = clean.execute("SELECT id FROM override_rules").fetchone()["id"]
    text = page(admin.post("/apply/run", form_page="/apply/"))
    assert re.search(rf'href="/rules/{rule_id}">override rule 1 of number 101</a>', text), \
        text[text.find("override rule") - 300:text.find("override rule") + 300]
    assert "target 555 leads nowhere" in text


def test_the_simulator_says_which_rule_fired_at_the_time_given(admin, office, clean):
    new_rule(admin, caller_numbers="", caller_regexes="", time_ranges="09:00-11:00",
             weekdays=["1"], redirect="102")
    data = {"number": "101", "caller": "79990000001", "keys": ""}
    monday = page(admin.post("/simulator/", {**data, "at": "2030-01-07 10:00"},
                             form_page="/simulator/"))
    assert "override rule 1 of 101 fired: the call goes to 102" in monday
    tuesday = page(admin.post("/simulator/", {**data, "at": "2030-01-08 10:00"},
                              form_page="/simulator/"))
    assert "no override rule of 101 holds: its usual route" in tuesday
    bad = admin.post("/simulator/", {**data, "at": "next monday"}, form_page="/simulator/")
    assert bad.status_code == 400 and "YYYY-MM-DD HH:MM" in page(bad)


def test_the_history_page_shows_rule_and_schedule_changes(admin, office, clean):
    new_rule(admin, schedule_id=str(office["schedule"]))
    admin.post("/schedules/new", {"name": "Ночь", "day1": "00:00-06:00", "dates": ""},
               form_page="/schedules/new")
    text = page(admin._client.get("/history/"))
    assert "Override rule 101 #" in text and "added" in text
    assert "Schedule Ночь added" in text


def test_a_phone_a_rule_uses_is_not_deleted(admin, office, clean):
    new_rule(admin, called_number="101", redirect="102")
    phone = clean.execute("SELECT id FROM phones WHERE number = '102'").fetchone()["id"]
    response = admin.post(f"/phones/{phone}/delete", {}, form_page="/phones/")
    assert clean.execute("SELECT count(*) AS n FROM phones WHERE number = '102'"
                         ).fetchone()["n"] == 1
    assert "the override rules of 101" in page(admin._client.get(response.location))
