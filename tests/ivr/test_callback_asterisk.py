"""Callbacks with real parts (spec 8): the operator's Call and the queue's callback key.

The shared test bed (real Asterisk, ``telecenter serve``, PostgreSQL) with
Apply's rendered dialplan: phones 201 and 202 are SIPp operator phones
(tests/testbed/operator_phone.py), the citizen is a SIPp UAS behind an
external line on 127.0.0.2 (the line whose outbound regex takes 7999...).
The admin runs in this process (Flask's test client) with an AsteriskLink
to the bed's Asterisk, as ``telecenter serve`` hands it to its admin: Call
originates through it, and how the operator's ring ended comes back to the
callback calls' records.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from admin_web import create_app
from admin_web.users import create_user
from dialplan import names
from fastagi.ami import AmiClient
from fastagi.asterisk_link import AsteriskLink
from fastagi.bridge import ReactorBridge
from fastagi.contacts import PhonePresence
from fastagi.database import open_pool
from ivr.callback_calls import PgCallbackCalls
from tests.admin_web.conftest import AuthActions
from tests.conftest import require
from tests.dialplan.conftest import add_line, add_phone, add_queue
from tests.testbed.callers import place_call, wait_for
from tests.testbed.operator_phone import SIPP_ENV_TZ, OperatorPhones, parse_trace
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import SCENARIO_DIR, SippProcess, sipp_binary

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

PROVIDER_IP = "127.0.0.2"
PASSWORDS = {"201": "Callback-201-secret", "202": "Callback-202-secret"}
OPERATORS = {"cb_anna": "201", "cb_boris": "202"}
USER_PASSWORD = "Correct-horse-1"
QUEUE = "92000"
CALLBACK_KEY = "5"


class Provider:
    """The citizens' side: a SIPp UAS on 127.0.0.2 behind the external line; answers one call
    and stays until the BYE."""

    def __init__(self, port: int, media_port: int, workdir: Path):
        self.port, self.media_port, self.workdir = port, media_port, workdir
        self.process: SippProcess | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        scenario = SCENARIO_DIR / "uas_answer.xml"
        self.process = SippProcess([
            sipp_binary(), "-sf", str(scenario), "-m", "1", "-aa", "-nostdin",
            "-i", PROVIDER_IP, "-mi", PROVIDER_IP, "-p", str(self.port),
            "-mp", str(self.media_port)], self.workdir, scenario, env={"TZ": SIPP_ENV_TZ})

    def calls(self):
        return parse_trace(self.process.messages()) if self.process else []

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@contextmanager
def admin_link(testbed, db_url: str):
    """An AsteriskLink to the bed's Asterisk on a loop of its own, its originates' outcomes
    recorded as the server records them (``PgCallbackCalls.ring_ended``)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="reactor-like", daemon=True)
    thread.start()
    bridge = ReactorBridge(loop)
    settings = testbed.settings()

    async def connect():
        ami = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user,
                        settings.ami_secret, base_delay=0.2, max_delay=1)
        presence = PhonePresence(ami)
        presence.start()
        ami.start()
        await ami.ready(15)
        return ami, presence, await open_pool(db_url, max_size=2)

    ami, presence, pool = bridge.call(connect, 20)
    try:
        yield AsteriskLink(bridge, ami, presence, originated=PgCallbackCalls(pool).ring_ended)
    finally:
        async def close():
            ami.close()
            await pool.close()

        bridge.call(close, 5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


@pytest.fixture(scope="module")
def office(testbed, tmp_path_factory):
    """Phones 201 and 202 bound to operators cb_anna and cb_boris, the line to the
    citizens on 127.0.0.2, queue 92000 (member 201, callback key 5), applied; the admin
    with its link to Asterisk."""
    require("sipp")
    provider_port, provider_media = sipp_ports()
    with psycopg.connect(testbed.pg_url, autocommit=True) as conn:
        _clear(conn)
        for number, password in PASSWORDS.items():
            add_phone(conn, number, password)
        add_line(conn, "citizens", PROVIDER_IP, port=provider_port,
                 outbound_regex=r"^7999[0-9]{7}$")
        add_queue(conn, QUEUE, "Обратные звонки", ["201"], ring_seconds=10,
                  callback_key=CALLBACK_KEY)
        for login, phone in OPERATORS.items():
            user = create_user(conn, login, "operator", USER_PASSWORD)
            conn.execute("INSERT INTO phone_bindings (user_id, phone_number) VALUES (%s, %s)",
                         (user.id, phone))
        conn.execute("NOTIFY telecenter_operators")
        testbed.apply(conn)
        root = tmp_path_factory.mktemp("callbacks")
        with admin_link(testbed, testbed.pg_url) as link:
            app = create_app({"TESTING": True, "DATABASE_URL": testbed.pg_url,
                              "VAR_DIR": str(root / "admin")}, asterisk=link)
            yield {"app": app, "conn": conn, "provider": (provider_port, provider_media),
                   "root": root}
        _clear(conn)
        testbed.apply(conn)


def _clear(conn) -> None:
    conn.execute("DELETE FROM users WHERE login = ANY(%s)", (list(OPERATORS),))
    conn.execute("DELETE FROM callbacks WHERE phone LIKE '7999000%%' OR phone = '202'")
    conn.execute("DELETE FROM queues")  # their members are phones
    conn.execute("DELETE FROM phones")
    conn.execute("DELETE FROM lines")


@pytest.fixture
def bed(testbed, office, tmp_path):
    """The test's operator phones and citizen; afterwards every call ends and no callback
    entry is left in the queue."""
    provider = Provider(*office["provider"], tmp_path / "provider")
    with OperatorPhones(testbed.asterisk.sip_port, tmp_path / "phones") as phones:
        yield phones, provider
        provider.stop()
        testbed.asterisk.rx("channel request hangup all")
        with psycopg.connect(testbed.pg_url, autocommit=True) as conn:
            conn.execute("UPDATE callbacks SET done_at = now() WHERE done_at IS NULL"
                         " AND (phone LIKE '7999000%%' OR phone = '202')")
        wait_for(lambda: not testbed.asterisk.rx("core show channels concise").strip(), 20,
                 what="every call to end")


def phone(testbed, phones, number: str, **behaviour):
    made = phones.add(number, PASSWORDS[number], **behaviour)
    wait_for(lambda: f"{number}/sip:{number}@" in testbed.asterisk.rx("pjsip show contacts"),
             10, what=f"phone {number} to be online")
    return made


def operator(office, login: str) -> tuple:
    client = office["app"].test_client()
    auth = AuthActions(client)
    auth.login(login, USER_PASSWORD)
    auth.post("/language/en")
    return client, auth


def request_for(conn, number: str) -> int:
    return conn.execute("INSERT INTO callbacks (phone, source) VALUES (%s, 'api') RETURNING id",
                        (number,)).fetchone()[0]


def rows(conn, sql: str, params=()) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def test_call_rings_the_operators_phone_first_then_the_citizen_through_the_line(
        testbed, office, bed):
    phones, provider = bed
    conn = office["conn"]
    anna = phone(testbed, phones, "201", answer_after=1)
    provider.start()
    request = request_for(conn, "79990001234")
    client, auth = operator(office, "cb_anna")

    response = auth.post(f"/callbacks/{request}/call", form_page="/callbacks/")
    assert response.status_code == 302
    rang = anna.wait_for_call(lambda c: c.answered, timeout=15, what="the operator to answer")
    assert rang.caller == "79990001234"  # the operator sees whom they will talk to
    citizen = wait_for(lambda: next(iter(provider.calls()), None), 15,
                       what="the citizen's phone to ring")
    assert citizen.arrived >= rang.answered_at  # the citizen is dialled only after the answer
    wait_for(lambda: next(iter(provider.calls()), None).answered, 10, what="the citizen")
    talking = wait_for(lambda: rows(conn, "SELECT * FROM callback_calls WHERE callback_id = %s"
                                    " AND operator_answered_at IS NOT NULL", (request,)), 10)
    assert (talking[0]["operator"], talking[0]["operator_phone"]) == ("cb_anna", "201")
    assert "cb_anna is calling" in client.get(f"/callbacks/{request}").get_data(as_text=True)

    anna.hang_up()
    [call] = wait_for(lambda: rows(conn, "SELECT * FROM callback_calls WHERE callback_id = %s"
                                   " AND ended_at IS NOT NULL", (request,)), 15,
                      what="the call's end to be recorded")
    assert call["outcome"] == "talked", call
    assert call["operator_answered_at"] <= call["citizen_answered_at"] <= call["ended_at"]
    [claim] = rows(conn, "SELECT calling_by, done_at FROM callbacks WHERE id = %s", (request,))
    assert claim == {"calling_by": None, "done_at": None}  # the operator marks it done
    page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert "talked" in page.split('id="callback-calls"')[1]
    assert "callback call by cb_anna from 201" in page.split('id="number-history"')[1]
    assert provider.process.wait(10).ok  # the citizen's call ended with the operator's BYE
    leg = wait_for(lambda: rows(conn, "SELECT * FROM calls WHERE route = %s AND caller = %s"
                                " AND outcome IS NOT NULL", (names.ROUTE_CALLBACK,
                                                             "79990001234")), 10)[-1]
    wait_for(lambda: any("the operator answered, dialling 79990001234" in e
                         for e in testbed.events(leg)), 10,
             what="the operator's leg to keep its step in the call record")


def test_a_citizen_who_phoned_from_a_phone_is_called_back_on_that_phone(testbed, office, bed):
    phones, provider = bed
    conn = office["conn"]
    anna = phone(testbed, phones, "201", answer_after=0)
    citizen = phone(testbed, phones, "202", answer_after=0)
    request = request_for(conn, "202")
    _client, auth = operator(office, "cb_anna")

    auth.post(f"/callbacks/{request}/call", form_page="/callbacks/")
    rang = anna.wait_for_call(lambda c: c.answered, timeout=15, what="the operator to answer")
    reached = citizen.wait_for_call(lambda c: c.answered, timeout=15,
                                    what="phone 202 to be rung directly, not through a line")
    assert reached.arrived >= rang.answered_at
    anna.hang_up()
    [call] = wait_for(lambda: rows(conn, "SELECT * FROM callback_calls WHERE callback_id = %s"
                                   " AND ended_at IS NOT NULL", (request,)), 15,
                      what="the call's end to be recorded")
    assert call["outcome"] == "talked", call
    assert provider.calls() == []  # the line was not used


def test_two_operators_pressing_call_make_one_call_and_the_second_is_told(testbed, office, bed):
    phones, provider = bed
    conn = office["conn"]
    anna = phone(testbed, phones, "201", answer_after=None)  # rings until it is stopped
    boris = phone(testbed, phones, "202", answer_after=0)
    provider.start()
    request = request_for(conn, "79990001235")
    _anna_client, anna_auth = operator(office, "cb_anna")
    boris_client, boris_auth = operator(office, "cb_boris")

    anna_auth.post(f"/callbacks/{request}/call", form_page="/callbacks/")
    boris_auth.post(f"/callbacks/{request}/call", form_page="/callbacks/")
    anna.wait_for_call(lambda c: c.state == "ringing", timeout=10, what="201 to ring")
    page = boris_client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert "cb_anna is calling 79990001235 now." in page
    assert len(rows(conn, "SELECT id FROM callback_calls WHERE callback_id = %s",
                    (request,))) == 1

    # Anna does not answer: her ring ends, the call is recorded so and the request is free.
    for channel in re.findall(r"^(PJSIP/201-\S+?)!", testbed.asterisk.rx(
            "core show channels concise"), re.M):
        testbed.asterisk.rx(f"channel request hangup {channel}")
    [call] = wait_for(lambda: rows(conn, "SELECT * FROM callback_calls WHERE callback_id = %s"
                                   " AND ended_at IS NOT NULL", (request,)), 15,
                      what="the unanswered ring to be recorded")
    assert call["outcome"] in ("operator_no_answer", "failed") and \
        call["operator_answered_at"] is None, call
    assert rows(conn, "SELECT calling_by FROM callbacks WHERE id = %s",
                (request,))[0]["calling_by"] is None
    assert boris.calls() == [] and provider.calls() == []  # nobody else was rung


def test_the_queue_callback_key_keeps_the_place_the_member_rings_first_then_the_citizen(
        testbed, office, bed):
    """A presses 5 and hangs up; B waits behind.  When 201 comes online it rings for A (A's
    number shown), and on the answer A's number is dialled; B does not get ahead and is
    served next."""
    phones, provider = bed
    conn = office["conn"]
    provider.start()
    a, b = "79990001111", "79990002222"
    place_call(testbed.asterisk, QUEUE, f"w2/d{CALLBACK_KEY}/w15/h", caller=a)
    entry = wait_for(lambda: rows(conn, "SELECT * FROM callbacks WHERE phone = %s"
                                  " AND done_at IS NULL", (a,)), 15,
                     what="the callback request of the queue")[0]
    assert entry["source"] == "queue" and entry["queue_id"] is not None
    place_call(testbed.asterisk, QUEUE, "w60/h", caller=b)
    wait_for(lambda: rows(conn, "SELECT 1 FROM queue_calls WHERE number = %s"
                          " AND outcome = 'waiting'", (b,)), 15, what="B to wait")
    wait_for(lambda: _caller_gone(testbed, a), 20, what="A to hang up")
    assert _waiting(conn) == [a, b]  # A keeps the place after hanging up

    anna = phone(testbed, phones, "201", answer_after=1)
    first = anna.wait_for_call(lambda c: c.answered, timeout=20, what="201 to answer")
    assert first.caller == a  # A's place came first
    citizen = wait_for(lambda: next(iter(provider.calls()), None), 15,
                       what="A's phone to ring")
    assert citizen.arrived >= first.answered_at
    assert rows(conn, "SELECT outcome FROM queue_calls WHERE number = %s",
                (b,))[0]["outcome"] == "waiting"  # B did not get ahead
    wait_for(lambda: next(iter(provider.calls()), None).answered, 10, what="A to answer")
    anna.hang_up(first)
    [call] = wait_for(lambda: rows(conn, "SELECT * FROM callback_calls WHERE callback_id = %s"
                                   " AND ended_at IS NOT NULL", (entry["id"],)), 15,
                      what="A's callback to end")
    assert (call["outcome"], call["operator_phone"], call["operator"]) == \
        ("talked", "201", "cb_anna")
    assert call["channel"].startswith("tcq-")  # the member's leg, looked for after a restart
    done = rows(conn, "SELECT done_at, done_by FROM callbacks WHERE id = %s", (entry["id"],))[0]
    assert done["done_at"] is not None and done["done_by"] == "cb_anna"
    second = anna.wait_for_call(lambda c: c.answered, timeout=20, index=1,
                                what="201 to answer B next")
    assert second.caller == b


def _waiting(conn) -> list[str]:
    state = conn.execute("SELECT state FROM queue_state").fetchone()[0]
    return [c["number"] for c in sorted(state["callers"], key=lambda c: c["order"])]


def _caller_gone(testbed, number: str) -> bool:
    """No channel of ``number``'s call is left (the Local caller hung up)."""
    out = testbed.asterisk.rx("core show channels concise")
    return not any(number in line for line in out.splitlines())
