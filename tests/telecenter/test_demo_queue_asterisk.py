"""The demo's operators' queue end to end: the product's rendered dialplan on the real Asterisk.

The demo configuration (dialplan/demo_configuration.py) is applied into the
shared test bed as `telecenter demo` applies it, its phones 201 and 202
with passwords the test knows.  The operators are SIPp phones registered as
those phones (tests/testbed/operator_phone.py); a caller is a Local channel
(tests/testbed/callers.py) that calls the main menu 90000 and presses 2, as
a newcomer does.  Nothing here is hand-written dialplan: the menu, the way
from the menu to queue 92000, the queue's retry loop, the member's leg and
the bridge are what Apply rendered.
"""

from __future__ import annotations

import re
import threading

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan import names
from dialplan.demo_configuration import DEMO_QUEUE_NUMBER, load_demo_configuration
from tests.conftest import require
from tests.testbed.callers import ami_session, place_call, wait_for
from tests.testbed.operator_phone import OperatorPhones

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

CONFIG_TABLES = ("menus, menu_items, menu_handlers, persons, cases, callbacks, playlists,"
                 " playlist_items, audio_files, queues, queue_members, queue_keys, phones")
# The transfer settings' one row, as a fresh database has it.
ONE_TRANSFER_ROW = "INSERT INTO transfer_settings (id) VALUES (1) ON CONFLICT DO NOTHING"
PASSWORDS = {"201": "Demo-operator-201-secret", "202": "Demo-operator-202-secret"}
MENU = "90000"
# The caller's half of a call to the main menu, as Asterisk names it.
CALLER_CHANNEL = f"Local/{MENU}@"


@pytest.fixture(scope="module")
def demo(testbed):
    """The demo configuration with known phone passwords, applied; a connection to its database."""
    require("sipp")
    with psycopg.connect(testbed.pg_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {CONFIG_TABLES} RESTART IDENTITY CASCADE")
        conn.execute(ONE_TRANSFER_ROW)  # the cascade from audio_files took it
        assert load_demo_configuration(conn, PASSWORDS)
        testbed.apply(conn)
        yield conn
        conn.execute(f"TRUNCATE {CONFIG_TABLES} RESTART IDENTITY CASCADE")
        conn.execute(ONE_TRANSFER_ROW)  # the cascade from audio_files took it
        testbed.apply(conn)


@pytest.fixture
def phones(testbed, demo, tmp_path):
    """The test's operator phones (``phones.add("201", answer_after=None)``); afterwards every
    call is hung up and no caller of the test is left waiting."""
    class DemoPhones(OperatorPhones):
        def add(self, number: str, **behaviour):
            phone = super().add(number, PASSWORDS[number], **behaviour)
            wait_for(lambda: f"{number}/sip:{number}@" in testbed.asterisk.rx(
                "pjsip show contacts"), 10, what=f"phone {number} to be online")
            return phone

    with DemoPhones(testbed.asterisk.sip_port, tmp_path / "phones") as made:
        yield made
        testbed.asterisk.rx("channel request hangup all")
        wait_for(lambda: not channels(testbed, ""), 20, what="every call to end")


def channels(testbed, prefix: str) -> list[str]:
    out = testbed.asterisk.rx("core show channels concise")
    return [line.split("!")[0] for line in out.splitlines() if line.startswith(prefix)]


def bridges(testbed) -> list[list[str]]:
    """The channels of each bridge Asterisk has now."""
    found = []
    for bridge_id in re.findall(r"^([0-9a-f-]{36})\s", testbed.asterisk.rx("bridge show all"),
                                re.M):
        found.append(re.findall(r"Channel: (\S+)", testbed.asterisk.rx(f"bridge show {bridge_id}")))
    return found


def asterisk_log(testbed, start: int) -> str:
    """What Asterisk logged since offset ``start``."""
    with open(testbed.asterisk.log_path, errors="replace") as text:
        text.seek(start)
        return text.read()


def record(testbed, caller: str) -> dict | None:
    """The newest queue call record of the caller's number."""
    with psycopg.connect(testbed.pg_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM queue_calls WHERE number = %s"
                            " ORDER BY joined_at DESC LIMIT 1", (caller,)).fetchone()


def record_when(testbed, caller: str, predicate, timeout: float = 30, what: str = "") -> dict:
    def check():
        row = record(testbed, caller)
        return row if row is not None and predicate(row) else None

    return wait_for(check, timeout, what=what or f"the queue record of {caller}")


def call_the_menu_and_press_2(testbed, caller: str) -> None:
    """A newcomer calls the main menu, presses 2 for an operator and stays on the line."""
    place_call(testbed.asterisk, MENU, "w2/d2/w120/h", caller=caller)


def test_a_caller_presses_2_both_demo_phones_ring_and_the_one_who_answers_talks(testbed, phones):
    first = phones.add("201", answer_after=None)
    second = phones.add("202", answer_after=None)
    log_start = testbed.asterisk.log_path.stat().st_size
    call_the_menu_and_press_2(testbed, "79990000201")

    rang = [first.wait_for_call(lambda c: c.state == "ringing", timeout=30,
                                what="the queue call to ring"),
            second.wait_for_call(lambda c: c.state == "ringing", timeout=30,
                                 what="the queue call to ring")]
    assert abs(rang[0].arrived - rang[1].arrived) < 1.0, rang  # the demo rings both at once
    assert {c.caller for c in rang} == {"79990000201"}  # the phones show who calls
    second.answer()

    row = record_when(testbed, "79990000201", lambda r: r["outcome"] == "answered",
                      what="the operator's answer to be recorded")
    assert row["answered_phone"] == "202", row
    assert sorted(row["offered_to"]) == ["201", "202"] and row["positions"] == [1], row
    assert row["wait_seconds"] > 0, row
    bridge = wait_for(lambda: next((b for b in bridges(testbed) if len(b) == 2), None), 10,
                      what="the caller and the operator in one bridge")
    assert any(c.startswith("PJSIP/202-") for c in bridge), bridge
    assert any(c.startswith(CALLER_CHANNEL) for c in bridge), bridge
    first.wait_for_call(lambda c: c.ended_by == "cancel", timeout=10,
                        what="the other phone to stop ringing")
    assert not second.calls()[0].ended_by  # still talking

    second.hang_up()
    ended = record_when(testbed, "79990000201", lambda r: r["talk_seconds"] is not None,
                        what="the talk to be recorded")
    assert ended["talk_seconds"] >= 0 and ended["ended_at"] is not None
    wait_for(lambda: not channels(testbed, CALLER_CHANNEL), 10,
             what="the caller's call to end with the operator's")
    log = asterisk_log(testbed, log_start)
    assert "failed for 79990000201" not in log  # no apology after the talk
    assert names.PROMPT_UNAVAILABLE not in log


def test_a_caller_who_hangs_up_while_the_demo_phones_ring_stops_the_ringing(testbed, phones):
    made = [phones.add("201", answer_after=None), phones.add("202", answer_after=None)]
    call_the_menu_and_press_2(testbed, "79990000202")
    for phone in made:
        phone.wait_for_call(lambda c: c.state == "ringing", timeout=30,
                            what="the queue call to ring")
    for channel in channels(testbed, CALLER_CHANNEL):
        testbed.asterisk.rx(f"channel request hangup {channel}")

    for phone in made:
        phone.wait_for_call(lambda c: c.ended_by == "cancel", timeout=10,
                            what="the ringing to stop")
    row = record_when(testbed, "79990000202", lambda r: r["outcome"] != "waiting")
    assert row["outcome"] == "gave_up" and row["answered_phone"] is None, row
    assert sorted(row["offered_to"]) == ["201", "202"], row


@pytest.fixture
def queue_that_waits(testbed, demo):
    """The demo queue keeps callers waiting while no operator is online."""
    demo.execute("UPDATE queues SET stop_when_empty = false WHERE number = %s",
                  (DEMO_QUEUE_NUMBER,))
    testbed.apply(demo)
    yield
    demo.execute("UPDATE queues SET stop_when_empty = true WHERE number = %s",
                 (DEMO_QUEUE_NUMBER,))
    testbed.apply(demo)


def test_a_waiting_caller_hears_music_while_the_server_restarts_and_is_served_after(
        testbed, queue_that_waits, phones):
    call_the_menu_and_press_2(testbed, "79990000203")
    joined = record_when(testbed, "79990000203", lambda r: r["outcome"] == "waiting",
                         what="the caller to wait in the queue")
    log_start = testbed.asterisk.log_path.stat().st_size
    music: list[str] = []
    heard = threading.Event()

    def on_music(event, _manager):
        if event.headers.get("Channel", "").startswith(CALLER_CHANNEL):
            music.append(event.headers.get("Class", ""))
            heard.set()

    with ami_session(testbed.asterisk) as manager:
        manager.register_event("MusicOnHoldStart", on_music)
        testbed.server.stop()
        try:
            assert heard.wait(20), "the caller heard no music while the server was away"
        finally:
            testbed.server.start()
    assert music[0] == "default", music  # the demo has no transfer music: Asterisk's own
    # The queue's own retry loop held the caller, not the apology.
    log = asterisk_log(testbed, log_start)
    assert "the server did not finish with 79990000203" in log
    assert "failed for 79990000203" not in log

    phone = phones.add("201", answer_after=0)
    call = phone.wait_for_call(lambda c: c.answered, timeout=30,
                               what="the waiting caller to be offered after the restart")
    assert call.caller == "79990000203"
    row = record_when(testbed, "79990000203", lambda r: r["outcome"] == "answered")
    assert row["caller_id"] == joined["caller_id"], "the caller lost their place"
    assert row["answered_phone"] == "201" and row["positions"][0] == 1, row
    wait_for(lambda: any(any(c.startswith("PJSIP/201-") for c in b)
                         and any(c.startswith(CALLER_CHANNEL) for c in b)
                         for b in bridges(testbed)), 10,
             what="the caller and the operator in one bridge")


def test_the_operator_transfers_the_caller_with_star_2_to_the_other_demo_phone(testbed, phones):
    """*2 on the operator's phone, then the number: the caller hears music meanwhile, and
    talks to the transfer's target once the operator hangs up."""
    operator = phones.add("202", answer_after=None)
    colleague = phones.add("201", answer_after=None)
    call_the_menu_and_press_2(testbed, "79990000204")
    operator.answer(operator.wait_for_call(lambda c: c.state == "ringing", timeout=30,
                                           what="the queue call to ring"))
    record_when(testbed, "79990000204", lambda r: r["outcome"] == "answered")
    wait_for(lambda: any(len(b) == 2 for b in bridges(testbed)), 10, what="the talk's bridge")
    colleague.wait_for_call(lambda c: c.ended_by == "cancel", timeout=10,
                            what="the queue call to stop ringing on 201")
    log_start = testbed.asterisk.log_path.stat().st_size
    music = threading.Event()

    def on_music(event, _manager):
        if event.headers.get("Channel", "").startswith(CALLER_CHANNEL):
            music.set()

    with ami_session(testbed.asterisk) as manager:
        manager.register_event("MusicOnHoldStart", on_music)
        operator.press("*2")
        wait_for(lambda: "Playing 'pbx-transfer" in asterisk_log(testbed, log_start), 10,
                 what="Asterisk to ask the operator for the number")
        assert music.wait(10), "the caller heard no music while the operator transfers"
        operator.press("201")
        target = colleague.wait_for_call(index=1, timeout=15, what="the transfer to ring 201")
        colleague.answer(target)
    operator.hang_up()
    wait_for(lambda: any(any(c.startswith(CALLER_CHANNEL) for c in b)
                         and any(c.startswith("Local/201@") for c in b)
                         for b in bridges(testbed)), 10,
             what="the caller and the transfer's target in one bridge")
    assert any(any(c.startswith("PJSIP/201-") for c in b) for b in bridges(testbed))
    assert not channels(testbed, "PJSIP/202-")


def test_with_no_demo_phone_online_the_caller_is_told_and_the_call_ends(testbed, phones):
    log_start = testbed.asterisk.log_path.stat().st_size
    place_call(testbed.asterisk, MENU, "w2/d2/w60/h", caller="79990000205")
    row = record_when(testbed, "79990000205", lambda r: r["outcome"] != "waiting")
    assert row["outcome"] == "no_member" and row["offered_to"] == [], row
    wait_for(lambda: not channels(testbed, CALLER_CHANNEL), 20, what="the call to end")
    log = asterisk_log(testbed, log_start)
    assert f"/{names.PROMPT_QUEUE_NO_MEMBER}." in log  # "no operators now"
    assert "failed for 79990000205" not in log


def test_3_while_waiting_orders_a_callback_that_keeps_the_place(testbed, demo, phones):
    """The hold playlist says so: 3 orders a callback; the caller is told their place is
    kept and the call ends; the place stays in the queue, so the member goes on ringing, and
    it rings with the caller's number for the operator to see."""
    phone = phones.add("201", answer_after=None)
    place_call(testbed.asterisk, MENU, "w2/d2/w6/d3/w30/h", caller="79990000206")
    phone.wait_for_call(lambda c: c.state == "ringing", timeout=30, what="the queue call to ring")
    request = wait_for(lambda: demo.execute(
        "SELECT id, source, queue_id FROM callbacks WHERE phone = %s AND done_at IS NULL",
        ("79990000206",)).fetchone(), 30, what="the callback the caller ordered from the queue")
    queue_id = demo.execute("SELECT id FROM queues WHERE number = %s",
                            (DEMO_QUEUE_NUMBER,)).fetchone()["id"]
    assert (request["source"], request["queue_id"]) == ("queue", queue_id)
    wait_for(lambda: not channels(testbed, CALLER_CHANNEL), 30,
             what="the caller to be told and the call to end")
    phone.wait_for_calls(lambda calls: any(c.caller == "79990000206" and c.state == "ringing"
                                            for c in calls), timeout=30,
                         what="201 to ring for the kept place after the caller hung up")
    # Done by hand: the place leaves the queue, and the next tests find it empty.
    demo.execute("UPDATE callbacks SET done_at = now() WHERE id = %s", (request["id"],))
