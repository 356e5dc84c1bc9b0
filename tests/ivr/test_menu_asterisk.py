"""The demo menu walked by real calls: real Asterisk, the real server, real TTS.

The demo configuration (the seed's example menu, persons and cases) is
applied once into the test bed's Asterisk; Apply synthesises its texts into
the server's TTS cache.  Callers are Local channels with scripted DTMF
(tests/testbed/callers.py) and a SIPp phone sending RFC 2833 DTMF; each test
asserts on the call's recorded steps and on the rows it left.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.demo_configuration import load_demo_configuration
from ivr.cases import case_number_keys
from tests.conftest import SIP_PASSWORD, SIP_USER, require
from tests.testbed.callers import place_call, wait_for
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import run_sip_call

pytestmark = pytest.mark.asterisk

CONFIG_TABLES = ("menus, menu_items, menu_handlers, persons, cases, callbacks, playlists,"
                 " audio_files, queues, phones")
# The transfer settings' one row, as a fresh database has it.
ONE_TRANSFER_ROW = "INSERT INTO transfer_settings (id) VALUES (1) ON CONFLICT DO NOTHING"


@pytest.fixture(scope="module")
def demo(testbed):
    """The demo configuration, applied; yields a connection to the test database."""
    with psycopg.connect(testbed.pg_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {CONFIG_TABLES} RESTART IDENTITY CASCADE")
        conn.execute(ONE_TRANSFER_ROW)  # the cascade from audio_files took it
        assert load_demo_configuration(conn)
        testbed.apply(conn)
        yield conn
        conn.execute(f"TRUNCATE {CONFIG_TABLES} RESTART IDENTITY CASCADE")
        conn.execute(ONE_TRANSFER_ROW)  # the cascade from audio_files took it
        testbed.apply(conn)


def open_case_of(conn, phone: str) -> dict:
    return conn.execute(
        "SELECT c.number, c.status, c.service FROM cases c JOIN persons p ON p.id = c.person_id"
        " WHERE p.phone = %s AND c.is_open ORDER BY c.number LIMIT 1", (phone,)).fetchone()


def walk(testbed, caller: str, script: str, timeout: float = 60) -> dict:
    """Call the main menu as ``caller`` with ``script``; the calls row once it has ended."""
    mark = testbed.mark()
    place_call(testbed.asterisk, "90000", script, caller=caller)
    return testbed.finished_call(caller, mark, timeout=timeout)


def ended_calls(conn, caller: str, after: int, count: int) -> list[dict] | None:
    """``caller``'s calls after ``after``, once ``count`` of them have ended."""
    rows = conn.execute("SELECT * FROM calls WHERE caller = %s AND id > %s ORDER BY id",
                        (caller, after)).fetchall()
    return rows if len(rows) >= count and all(r["outcome"] for r in rows) else None


def said(testbed, call) -> str:
    return "\n".join(testbed.events(call, "say"))


def test_a_caller_hears_the_status_of_the_case_they_type(testbed, demo):
    case = open_case_of(demo, "79990000001")
    keys = case_number_keys(case["number"])
    call = walk(testbed, "79990000001", f"w2/d1/w2/d1/w2/d{keys}/w20/h")
    assert call["outcome"] == "completed", testbed.events(call)
    items = testbed.events(call, "item")
    assert [i.split()[0] for i in items][:4] == ["90000", "91000", "91100", "91110"], items
    assert case["status"] in said(testbed, call)


def test_a_caller_hears_their_open_cases(testbed, demo):
    statuses = [r["status"] for r in demo.execute(
        "SELECT c.status FROM cases c JOIN persons p ON p.id = c.person_id"
        " WHERE p.phone = '79990000001' AND c.is_open")]
    closed = [r["status"] for r in demo.execute(
        "SELECT c.status FROM cases c JOIN persons p ON p.id = c.person_id"
        " WHERE p.phone = '79990000001' AND NOT c.is_open")]
    call = walk(testbed, "79990000001", "w2/d1/w2/d2/w40/h", timeout=90)
    text = said(testbed, call)
    assert len(statuses) >= 2 and all(status in text for status in statuses), text
    assert not any(status in text for status in closed if status not in statuses), text


def test_a_caller_orders_a_callback(testbed, demo):
    before = demo.execute("SELECT count(*) AS n FROM callbacks").fetchone()["n"]
    call = walk(testbed, "79995550101", "w2/d3/w15/h")
    rows = demo.execute("SELECT phone, source, done_at FROM callbacks WHERE phone = %s",
                        ("79995550101",)).fetchall()
    assert demo.execute("SELECT count(*) AS n FROM callbacks").fetchone()["n"] == before + 1
    assert rows == [{"phone": "79995550101", "source": "ivr", "done_at": None}]
    assert "93000" in " ".join(testbed.events(call, "item"))


def test_a_caller_who_orders_again_hears_that_their_request_stands(testbed, demo):
    """A second order from one number while the first is open keeps one request, and the
    caller is told it already stands instead of being promised a new call back."""
    first = walk(testbed, "79995550103", "w2/d3/w15/h")
    again = walk(testbed, "79995550103", "w2/d3/w15/h")
    assert len(demo.execute("SELECT id FROM callbacks WHERE phone = '79995550103'"
                            ).fetchall()) == 1
    assert "Заявка на обратный звонок принята" in said(testbed, first)
    assert "Ваша заявка на обратный звонок уже принята, мы перезвоним вам." in \
        said(testbed, again)
    assert "Заявка на обратный звонок принята" not in said(testbed, again)


def test_a_wrong_key_is_noticed_and_the_caller_can_go_on(testbed, demo):
    case = open_case_of(demo, "79990000001")
    keys = case_number_keys(case["number"])
    call = walk(testbed, "79990000001", f"w2/d7/w2/d1/w2/d1/w2/d{keys}/w20/h")
    handlers = " ".join(testbed.events(call, "handler"))
    assert "7" in handlers and "no handler" in handlers, handlers
    assert case["status"] in said(testbed, call)


def test_silence_at_the_main_menu_goes_where_its_timeout_says(testbed, demo):
    """The timeout's target is the operators' queue: the menu's call ends there and the
    dialplan takes the caller into the queue, a call of its own for the server."""
    mark = testbed.mark()
    place_call(testbed.asterisk, "90000", "w60/h", caller="79995550102")
    menu, queue = wait_for(lambda: ended_calls(demo, "79995550102", mark, 2), 90,
                           what="the menu call and the queue call to end")[:2]
    handlers = testbed.events(menu, "handler")
    assert any("timeout" in h and "92000" in h for h in handlers), handlers
    assert menu["outcome"] == "completed"
    assert queue["called"] == "92000"


def test_a_caller_hanging_up_mid_prompt_ends_the_call_cleanly(testbed, demo):
    call = walk(testbed, "79995550103", "w1/h")
    assert call["outcome"] == "caller hung up"
    assert not testbed.events(call, "error")


def test_a_key_to_a_number_outside_the_menus_hands_the_call_to_the_dialplan(testbed, demo):
    """Key 9 of the main menu sent to the line self-test (99999): the server names the
    number, the dialplan dials it, and the self-test hears the caller's keys."""
    handler = demo.execute(
        "INSERT INTO menu_handlers (item_id, kind, key, target, position)"
        " SELECT id, 'key', '9', '99999', 99 FROM menu_items WHERE number = '90000'"
        " RETURNING id").fetchone()["id"]
    try:
        testbed.apply(demo)
        mark = testbed.mark()
        place_call(testbed.asterisk, "90000", "w2/d9/w3/d42/w10/h", caller="79995550104")
        calls = wait_for(lambda: ended_calls(demo, "79995550104", mark, 2), 60,
                         what="the menu call and the self-test call to end")
        assert [c["route"] for c in calls] == ["menu", "selftest"], calls
        menu_call, selftest_call = calls
        assert any("key 9" in h and "99999" in h for h in testbed.events(menu_call, "handler"))
        assert menu_call["outcome"] == "completed"
        assert testbed.events(selftest_call, "digits") == ["4", "2"], testbed.events(selftest_call)
    finally:
        demo.execute("DELETE FROM menu_handlers WHERE id = %s", (handler,))
        testbed.apply(demo)


def test_a_sip_phone_walks_to_a_case_status_with_rfc2833_keys(testbed, demo, tmp_path):
    require("sipp")
    case = open_case_of(demo, "79990000001")
    sip, media = sipp_ports()
    mark = testbed.mark()
    result = run_sip_call(target_host="127.0.0.1", target_port=testbed.asterisk.sip_port,
                          number="90000", user=SIP_USER, password=SIP_PASSWORD,
                          digits="11" + case_number_keys(case["number"]), pause_ms=2500,
                          initial_pause_ms=2000, local_port=sip, media_port=media, timeout=90,
                          workdir=tmp_path / "sipp")
    call = testbed.finished_call(SIP_USER, mark)
    assert result.returncode == 0, result.describe()
    assert case["status"] in said(testbed, call), testbed.events(call)
