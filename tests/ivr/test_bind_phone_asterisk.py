"""Binding a phone on the real test bed: a SIP phone dials 1*<code> and becomes the operator's.

SIPp is the phone (a phone of the configuration, applied into the bed's
Asterisk), so the route reads the endpoint Asterisk authenticated, as in an
office.  Until the rendered dialplan has the phones' ``_1*XXXXX`` extension,
the test adds exactly that extension to the running Asterisk itself.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan import names
from dialplan.configuration import sip_digest
from ivr import operators
from tests.conftest import require
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import run_sip_call

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

PHONE, PASSWORD = "7301", "Phone-7301-secret"
LOGIN = "opr-bind"
BIND_EXTENSION = (f"_{names.BIND_PREFIX}{'X' * names.BIND_CODE_DIGITS},1,"
                  f"Gosub({names.CONTEXT_AGI},s,1({names.ROUTE_BIND_PHONE},${{EXTEN:2}}))")


@pytest.fixture
def office(testbed):
    """The phone PHONE applied into the bed, and the user LOGIN; {'conn', 'user', 'code'}."""
    require("sipp")
    with psycopg.connect(testbed.pg_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("DELETE FROM users WHERE login = %s", (LOGIN,))
        conn.execute("DELETE FROM phones WHERE number = %s", (PHONE,))
        conn.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)",
                     (PHONE, sip_digest(PHONE, PASSWORD)))
        user = conn.execute("INSERT INTO users (login, password_hash, role) VALUES"
                            " (%s, 'x', 'operator') RETURNING id, bind_code", (LOGIN,)).fetchone()
        testbed.apply(conn)
        dialplan = testbed.asterisk.rx(f"dialplan show {names.CONTEXT_PHONES}")
        if names.ROUTE_BIND_PHONE not in dialplan:
            testbed.asterisk.rx(f"dialplan add extension {BIND_EXTENSION}"
                                f" into {names.CONTEXT_PHONES}")
        yield {"conn": conn, "user": user["id"], "code": user["bind_code"]}
        conn.execute("DELETE FROM users WHERE login = %s", (LOGIN,))
        conn.execute("DELETE FROM phones WHERE number = %s", (PHONE,))
        testbed.apply(conn)  # leave Asterisk without the test phone


def dial(testbed, tmp_path, number: str):
    sip, media = sipp_ports()
    mark = testbed.mark()
    result = run_sip_call(target_host="127.0.0.1", target_port=testbed.asterisk.sip_port,
                          number=number, user=PHONE, password=PASSWORD, digits="",
                          local_port=sip, media_port=media, initial_pause_ms=0, timeout=60,
                          workdir=tmp_path / f"sipp-{number}")
    assert result.returncode == 0, result.describe() + testbed.asterisk.describe_failure()
    return testbed.events(testbed.finished_call(PHONE, mark))


def test_dialling_the_code_binds_the_phone_and_says_to_whom(testbed, office, tmp_path):
    events = dial(testbed, tmp_path, names.BIND_PREFIX + office["code"])
    assert operators.presence(office["conn"], office["user"]).phone == PHONE
    assert ("Телефон 7 3 0 1 привязан к пользователю:"
            " оу пи ар дефис би ай эн ди.") in events, events


def test_an_unknown_code_binds_nothing_and_says_so(testbed, office, tmp_path):
    taken = {r["bind_code"] for r in office["conn"].execute("SELECT bind_code FROM users")}
    unknown = next(str(n) for n in range(10000, 100000) if str(n) not in taken)
    events = dial(testbed, tmp_path, names.BIND_PREFIX + unknown)
    assert operators.presence(office["conn"], office["user"]).phone is None
    assert any("не найден. Телефон не привязан." in e for e in events), events
