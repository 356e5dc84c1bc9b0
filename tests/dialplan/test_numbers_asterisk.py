"""Only numbers steer Asterisk: a phone's and an external caller's payloads against the real one.

A phone (SIPp, registered) dials Dial's own syntax through a line; an
external caller (SIPp on the line's address) puts a line break in its From
user, which PJSIP decodes from %0A.  Asterisk, the FastAGI server and
PostgreSQL are the test bed's; the assertions are on what they did: the
INVITEs the other phone and the provider got, the Dial steps in Asterisk's
messages log, the calls rows.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from dialplan import apply as applying
from dialplan import names, render
from tests.dialplan.conftest import add_line
from tests.dialplan.test_apply_asterisk import PROVIDER_IP, bed  # noqa: F401 (the fixture)
from tests.dialplan.test_apply_menus import add_item, add_menu
from tests.testbed.callers import CALLER_CONTEXT, VAR_SCRIPT, ami_session, wait_for
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import start_plain_call, start_uas

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

# Numbers a phone dials that carry Dial's syntax: ',' separates Dial's
# arguments (timeout, options), '&' adds a channel, '(' ')' open options'
# arguments, '${' a variable.  %2C and %7B are decoded by PJSIP.
DIAL_PAYLOADS = ["9&PJSIP/202,5,", "9&PJSIP/202", "91,5,L(1000)", "9)(&PJSIP/202",
                 "9$%7BEXTEN%7D", "9%2CPJSIP%2F202"]

# An external caller's From user and called number (the request URI's user)
# with a line break, PJSIP decodes %0A: it would end agi_callerid's or
# agi_dnid's line of the AGI environment, and what follows would be read as
# more of it.  Each with what the dialplan logs it kept.
FORGED = [
    ("123%0Aagi_network_script%3A%20selftest", "4950000000",
     "keeps only 123 of the caller number 123%0Aagi_network_script%3A%20selftest"),
    ("123%0A", "4950000000", "keeps only 123 of the caller number 123%0A"),
    ("123%0Aagi_network_script", "4950000000",
     "keeps only 123 of the caller number 123%0Aagi_network_script"),
    ("123", "4950000000%0Aagi_network_script%3A%20selftest",
     "keeps only 4950000000 of the dialled number 4950000000%0Aagi_network_script%3A%20selftest"),
]


def log_offset(asterisk) -> int:
    return asterisk.log_path.stat().st_size


def log_since(asterisk, offset: int) -> str:
    with open(asterisk.log_path, encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        return log.read()


def test_a_phone_dialling_dial_syntax_rings_nobody_and_a_number_still_goes_out(bed, monkeypatch):
    """Even a line whose regex takes anything (Apply once accepted the issue's '^9.+$')
    dials only numbers: the dialplan's own patterns and check stop the rest, so that
    check of Apply is bypassed here."""
    monkeypatch.setattr(applying, "check", lambda config, **kwargs: [])
    monkeypatch.setattr(render, "validate", lambda config: [])
    monkeypatch.setattr(render, "dialplan_regex", lambda regex: regex)
    provider_port, provider_media = sipp_ports(PROVIDER_IP)
    bed.phone("201")
    bed.phone("202")
    add_line(bed.conn, "prov1", PROVIDER_IP, port=provider_port, outbound_regex="^9.+$",
             position=1)
    bed.apply()
    phone_b = bed.answering_phone("202")
    try:
        for payload in DIAL_PAYLOADS:
            offset = log_offset(bed.asterisk)
            result = bed.call("201", payload, hold_ms=500, timeout=20)
            dials = re.findall(r".*\bDial\(.*", log_since(bed.asterisk, offset))
            assert not dials, (payload, dials)
            assert "INVITE sip:" not in phone_b.messages(), (payload, phone_b.messages())
            assert not result.ok and "SIP/2.0 404" in result.messages, bed.report(result)
    finally:
        phone_b.stop()

    provider = start_uas(local_ip=PROVIDER_IP, local_port=provider_port,
                         media_port=provider_media, workdir=bed.tmp_path / "provider")
    try:
        offset = log_offset(bed.asterisk)
        caller = bed.call("201", "9123")
        received = provider.wait(timeout=15)
    finally:
        provider.stop()
    assert caller.ok and received.ok, bed.report(caller, received)
    assert f"INVITE sip:9123@{PROVIDER_IP}:{provider_port}" in received.messages
    assert re.findall(r'Dial\(".*", "PJSIP/9123@line-prov1,60"\)', log_since(bed.asterisk, offset))


@pytest.fixture
def menu_90000(bed):
    """Menu item 90000: a short greeting, then it hangs up after 1 s of silence."""
    menu = add_menu(bed.conn, "Injection")
    add_item(bed.conn, menu, "90000", "tts", ("timeout", 1, ""), text="Здравствуйте")
    yield "90000"
    bed.conn.execute("DELETE FROM menus WHERE id = %s", (menu,))


def test_a_line_break_in_an_external_callers_number_does_not_choose_the_route(bed, menu_90000):
    """The issue's From users: the menu runs (route menu, a calls row), never the self-test."""
    provider_port, _media = sipp_ports(PROVIDER_IP)
    add_line(bed.conn, "prov1", PROVIDER_IP, port=provider_port, position=1,
             inbound_number=menu_90000)
    bed.apply()
    for index, (from_user, number, kept) in enumerate(FORGED):
        after = bed.testbed.mark()
        offset = log_offset(bed.asterisk)
        sip, media = sipp_ports(PROVIDER_IP)
        incoming = start_plain_call(target_host="127.0.0.1", target_port=bed.asterisk.sip_port,
                                    number=number, caller=from_user, local_ip=PROVIDER_IP,
                                    local_port=sip, media_port=media, hold_ms=20000,
                                    workdir=bed.tmp_path / f"incoming-{index}")
        try:
            result = incoming.wait(timeout=30)
        finally:
            incoming.stop()
        assert result.ok, (from_user, number, bed.report(result))
        row = bed.testbed.finished_call("123", after)
        assert (row["route"], row["called"]) == (names.ROUTE_MENU, menu_90000), (from_user, row)
        assert row["channel"].startswith("PJSIP/line-prov1-"), row
        log = log_since(bed.asterisk, offset)
        assert f"Telecenter {kept}" in log, log


def test_a_control_character_in_an_external_callers_name_does_not_stop_the_menu(bed, menu_90000):
    """The name reaches the server URI-encoded: a control character in it is data, so the
    menu runs (a name the server would have to refuse would cost the caller the menu)."""
    provider_port, _media = sipp_ports(PROVIDER_IP)
    add_line(bed.conn, "prov1", PROVIDER_IP, port=provider_port, position=1,
             inbound_number=menu_90000)
    bed.apply()
    after = bed.testbed.mark()
    sip, media = sipp_ports(PROVIDER_IP)
    incoming = start_plain_call(target_host="127.0.0.1", target_port=bed.asterisk.sip_port,
                                number="4950000000", caller="124", caller_name="Ivan\x01Petrov",
                                local_ip=PROVIDER_IP, local_port=sip, media_port=media,
                                hold_ms=20000, workdir=bed.tmp_path / "incoming")
    try:
        result = incoming.wait(timeout=30)
    finally:
        incoming.stop()
    assert result.ok, bed.report(result)
    row = bed.testbed.finished_call("124", after)
    assert (row["route"], row["called"]) == (names.ROUTE_MENU, menu_90000), row


def test_a_phone_rung_from_a_line_sees_the_callers_number_as_a_number(bed):
    """A line's inbound number may be a phone: the forged caller id is made a number on
    arrival, so the phone's INVITE carries 123, not the line break."""
    provider_port, _media = sipp_ports(PROVIDER_IP)
    bed.phone("202")
    add_line(bed.conn, "prov1", PROVIDER_IP, port=provider_port, position=1,
             inbound_number="202")
    bed.apply()
    phone_b = bed.answering_phone("202")
    sip, media = sipp_ports(PROVIDER_IP)
    incoming = start_plain_call(target_host="127.0.0.1", target_port=bed.asterisk.sip_port,
                                number="4950000000", caller=FORGED[0][0], local_ip=PROVIDER_IP,
                                local_port=sip, media_port=media, hold_ms=1000,
                                workdir=bed.tmp_path / "incoming")
    try:
        result = incoming.wait(timeout=30)
        answered = phone_b.wait(timeout=15)
    finally:
        incoming.stop()
        phone_b.stop()
    assert result.ok and answered.ok, bed.report(result, answered)
    invite = answered.messages.split("INVITE sip:", 1)[1].split("\n\n", 1)[0]
    assert re.search(r"^From: .*<sip:123@", invite, re.M), invite


def log_once_it_says(asterisk, offset: int, text: str, timeout: float = 20) -> str:
    """The messages log since ``offset`` once it has ``text`` (poll with a deadline)."""
    def said():
        log = log_since(asterisk, offset)
        return log if text in log else None
    return wait_for(said, timeout, what=f"Asterisk's log to say {text!r}")


def originate_next(asterisk, next_number: str, caller: str) -> None:
    """A call that arrives in [telecenter-next] as if a menu had named ``next_number``."""
    with ami_session(asterisk) as manager:
        response = manager.originate(
            channel=f"Local/s@{names.CONTEXT_NEXT}", context=CALLER_CONTEXT, exten="s",
            priority="1", timeout="30000", caller_id=caller, run_async=True,
            variables={VAR_SCRIPT: "w3/h", names.VAR_NEXT: next_number})
    assert response.get_header("Response") == "Success", response.headers


@pytest.mark.parametrize("next_number", ["99999&PJSIP/7001", "99999)(", "99999:1"])
def test_a_menus_next_number_goes_on_only_when_it_is_a_number(testbed, next_number):
    """What the server names in TELECENTER_NEXT is checked before the Goto: anything but
    a number gets the apology (and a log line); a number is dialled as a phone would."""
    offset = log_offset(testbed.asterisk)
    originate_next(testbed.asterisk, next_number, "5550001")
    log = log_once_it_says(testbed.asterisk, offset, f"{names.PROMPT_UNAVAILABLE}.slin")
    encoded = quote(next_number, safe="!*'()")  # as Asterisk's URIENCODE()
    assert f"a menu sent the call to {encoded}: not a number" in log, log
    assert not re.search(rf'Goto\(".*", "{names.CONTEXT_PHONES},', log), log

    after = testbed.mark()
    originate_next(testbed.asterisk, names.SELFTEST_NUMBER, "5550002")
    row = testbed.finished_call("5550002", after)
    assert (row["route"], row["called"]) == (names.ROUTE_SELFTEST, names.SELFTEST_NUMBER), row
