"""The menu dry run: parsing typed keys, walking a plan, and `telecenter simulate`."""

from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner

from dialplan.configuration import Handler, MenuItem
from dialplan.ivr_plan import IvrPlan
from telecenter.cli import main
from ivr.simulate import parse_keys, simulate
from tests.ivr.fake_call import NullCases

GREETING = "Здравствуйте. Справка - единица, оператор - двойка."
CASES = "Введите номер дела и решетку."
BYE = "Спасибо за звонок."


@pytest.mark.parametrize("text, keys", [
    ("1,*123*#,timeout", ["1", "*123*#", "timeout"]),
    (" 1 , TIMEOUT ,#", ["1", "timeout", "#"]),
    ("", []),
])
def test_keys_are_bursts_of_keys_or_timeouts(text, keys):
    assert parse_keys(text) == keys


@pytest.mark.parametrize("text, where", [
    ("1,,2", "element 2"),
    ("1,a", "element 2"),
    ("12 3", "element 1"),
    ("wait", "element 1"),
    ("1;rm -rf /", "element 1"),
])
def test_anything_else_is_refused_naming_the_element(text, where):
    with pytest.raises(ValueError, match=where):
        parse_keys(text)


def item(number, kind, *handlers, **fields) -> MenuItem:
    return MenuItem(id=int(number), menu_id=1, number=number, kind=kind, handlers=handlers,
                    **fields)


PLAN = IvrPlan(
    items={i.number: i for i in (
        item("96500", "tts", Handler("key", "96510", key="1"), Handler("key", "101", key="2"),
             Handler("timeout", "96520", seconds=5), text=GREETING),
        item("96510", "tts", Handler("sequence", "96520", pattern="[0-9*]+#"), text=CASES),
        item("96520", "audio", audio_id=4),
    )},
    audio={4: "/var/audio/4"},
)


def walk(number: str, keys: list[str]) -> list[str]:
    return asyncio.run(simulate(PLAN, number, "79990000001", keys, NullCases()))


def test_a_walk_shows_what_is_said_what_the_caller_types_and_where_it_goes():
    steps = walk("96500", ["7", "1", "12*3#"])
    assert steps == [
        "item 96500 tts",
        f"  says: {GREETING}",
        "  caller types 7",
        "  handler: no handler for 7",
        f"  says: {GREETING}",
        "  caller types 1",
        "  handler: key 1 -> 96510",
        "item 96510 tts",
        f"  says: {CASES}",
        "  caller types 12*3#",
        "  handler: sequence [0-9*]+# matched 12*3# -> 96520",
        "item 96520 audio with digits 12*3#",
        "  plays: 4",
        "end: hang up (item 96520 has no handlers)",
    ]


def test_a_timeout_waits_out_the_items_timeout():
    steps = walk("96500", ["timeout"])
    assert steps[1:] == [
        f"  says: {GREETING}",
        "  caller types nothing for 5 s",
        "  handler: timeout 5 s -> 96520",
        "item 96520 audio",
        "  plays: 4",
        "end: hang up (item 96520 has no handlers)",
    ]


def test_a_caller_out_of_keys_stays_silent_and_a_transfer_ends_the_walk():
    assert walk("96510", [])[-2:] == ["  handler: no input for 15 s -> hang up",
                                      "end: hang up (no input for 15 s)"]
    assert walk("96500", ["2"])[-2:] == ["  handler: key 2 -> 101", "end: the call goes to 101"]


def test_an_unknown_number_is_refused():
    with pytest.raises(ValueError, match="12345 is not a voice menu item"):
        walk("12345", [])


@pytest.fixture
def menu_rows(db):
    """A small menu in the test database: 96500 -> key 1 -> 96510 -> timeout -> hang up."""
    db.execute("DELETE FROM menus WHERE name = 'simulate test'")
    menu = db.execute("INSERT INTO menus (name) VALUES ('simulate test') RETURNING id").fetchone()
    main_item = db.execute(
        "INSERT INTO menu_items (menu_id, number, kind, text) VALUES (%s, '96500', 'tts', %s)"
        " RETURNING id", (menu["id"], GREETING)).fetchone()
    cases_item = db.execute(
        "INSERT INTO menu_items (menu_id, number, kind, text) VALUES (%s, '96510', 'tts', %s)"
        " RETURNING id", (menu["id"], BYE)).fetchone()
    db.execute("INSERT INTO menu_handlers (item_id, kind, key, target) VALUES (%s, 'key', '1',"
               " '96510')", (main_item["id"],))
    db.execute("INSERT INTO menu_handlers (item_id, kind, seconds, target) VALUES"
               " (%s, 'timeout', 3, '')", (cases_item["id"],))
    yield
    db.execute("DELETE FROM menus WHERE id = %s", (menu["id"],))


@pytest.fixture
def run(pg_url, tmp_path):
    def run(*args):
        env = {"DATABASE_URL": pg_url, "TELECENTER_VAR": str(tmp_path)}
        return CliRunner().invoke(main, ["simulate", *args], env=env)
    return run


def test_the_command_walks_the_menus_in_the_database(run, menu_rows):
    result = run("96500", "--from", "79990000001", "--keys", "1,timeout")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "item 96500 tts",
        f"  says: {GREETING}",
        "  caller types 1",
        "  handler: key 1 -> 96510",
        "item 96510 tts",
        f"  says: {BYE}",
        "  caller types nothing for 3 s",
        "  handler: timeout 3 s -> hang up",
        "end: hang up (the timeout of item 96510 leads to an empty target)",
    ]


@pytest.mark.parametrize("args, message", [
    (["96500", "--from", "79990000001", "--keys", "1,x"], "element 2"),
    (["96500", "--from", "+7999", "--keys", "1"], "not a phone number"),
    (["9650O", "--from", "79990000001"], "not a phone number"),
    (["96599", "--from", "79990000001"], "96599 is not a voice menu item"),
])
def test_the_command_refuses_bad_input_clearly(run, menu_rows, args, message):
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_the_simulated_call_has_exactly_the_commands_of_the_real_one():
    import inspect

    from fastagi.session import AGICall
    from ivr.simulate import SimulatedCall

    def public(cls):
        return {name for name, value in inspect.getmembers(cls)
                if not name.startswith("_") and inspect.isfunction(value)}

    assert public(SimulatedCall) == public(AGICall)


@pytest.fixture
def callback_menu(db):
    """Item 96530 orders a callback; the caller 79994440077 has an open request already."""
    db.execute("DELETE FROM menus WHERE name = 'simulate callbacks'")
    db.execute("DELETE FROM callbacks WHERE phone IN ('79994440077', '79994440078')")
    menu = db.execute("INSERT INTO menus (name) VALUES ('simulate callbacks') RETURNING id"
                      ).fetchone()
    db.execute("INSERT INTO menu_items (menu_id, number, kind, scenario) VALUES"
               " (%s, '96530', 'scenario', 'callback')", (menu["id"],))
    db.execute("INSERT INTO callbacks (phone, source) VALUES ('79994440077', 'ivr')")
    yield
    db.execute("DELETE FROM menus WHERE id = %s", (menu["id"],))
    db.execute("DELETE FROM callbacks WHERE phone IN ('79994440077', '79994440078')")


def test_the_dry_run_tells_what_a_caller_with_an_open_request_hears_and_writes_nothing(
        run, callback_menu, db):
    again = run("96530", "--from", "79994440077")
    assert again.exit_code == 0, again.output
    assert "  79994440077 has an open request already: it would be kept" in \
        again.output.splitlines()
    assert "уже принята, мы перезвоним вам" in again.output
    first = run("96530", "--from", "79994440078")
    assert "  would order a callback for 79994440078" in first.output.splitlines()
    assert "Заявка на обратный звонок принята" in first.output
    assert db.execute("SELECT phone FROM callbacks WHERE phone LIKE '7999444007%'"
                      ).fetchall() == [{"phone": "79994440077"}]
