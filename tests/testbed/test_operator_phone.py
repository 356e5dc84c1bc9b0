"""The operator phones (tests/testbed/operator_phone.py) against a private, real Asterisk.

Mostly Asterisk runs a stand-in dialplan, not Telecenter's, so that a
failure points at the phones: a Local channel (the caller) dials the phones,
and its other half, once answered, reads the digits a phone keys; a member
is rung by Originate and bridged as the queue will do it.  One test uses
the session's test bed with Telecenter's own rendered phones and dialplan.
Skipped without ``sipp`` or ``asterisk`` unless TELECENTER_REQUIRE_ASTERISK=1
(then failed).
"""

from __future__ import annotations

import hashlib
import re
import socket
import time
from datetime import datetime, timezone

import psycopg
import pytest

from dialplan.instance import AsteriskInstance
from dialplan.names import SIP_REALM
from tests.conftest import require
from tests.dialplan.conftest import add_phone
from tests.testbed.callers import ami_session, wait_for
from tests.testbed.conftest import active_channels, global_var
from tests.testbed.operator_phone import (
    OperatorPhone,
    OperatorPhoneError,
    OperatorPhones,
    parse_trace,
    render_calls_scenario,
)
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import PJSIP_TEST_ENDPOINT, SCENARIO_DIR, SippProcess, sipp_binary

pytestmark = [
    pytest.mark.asterisk,
    pytest.mark.sipp,
    # pyst2 0.5.1 calls threading's deprecated isSet() in its read loops.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

PHONES = {"7101": "op-7101-secret", "7102": "op-7102-secret", "7103": "op-7103-secret"}
CALLER = "5551234"

DIAL_CONTEXT = "operator-test-dial"
LISTENER_CONTEXT = "operator-test-listener"
MEMBER_CONTEXT = "operator-test-member"

# The caller's ";2" half dials (DIAL_CONTEXT), its ";1" half listens once a
# phone answered (LISTENER_CONTEXT): "s" reads 4 digits into GLOBAL(HEARD),
# "hold" just stays on the line.  DIALSTATUS_<exten> records how an unanswered
# Dial ended (after an answered one the dialplan stops when the phone hangs up).
DIALPLAN = f"""
; The phones' own calls (PJSIP_TEST_ENDPOINT's context): who called, what they keyed.
[telecenter]
exten => 600,1,Answer()
 same => n,Read(D,,2,,,10)
 same => n,Set(GLOBAL(DIALLED)=${{CHANNEL(endpoint)}}:${{CALLERID(num)}}:${{D}})
 same => n,Hangup()

[{DIAL_CONTEXT}]
exten => both,1,Dial(PJSIP/7101&PJSIP/7102,20)
 same => n,Set(GLOBAL(DIALSTATUS_${{EXTEN}})=${{DIALSTATUS}})
 same => n,Hangup()
exten => one,1,Dial(PJSIP/7101,20)
 same => n,Set(GLOBAL(DIALSTATUS_${{EXTEN}})=${{DIALSTATUS}})
 same => n,Hangup()
; A transfer target's digits are dialled in this context.
exten => 7103,1,Dial(PJSIP/7103,20)
 same => n,Hangup()

[{LISTENER_CONTEXT}]
exten => s,1,Read(D,,4,,,15)
 same => n,Set(GLOBAL(HEARD)=${{D}})
 same => n,Wait(1)
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()

; A queue member's leg: bridged to the waiting caller, and may transfer.
[{MEMBER_CONTEXT}]
exten => s,1,Set(__TRANSFER_CONTEXT={DIAL_CONTEXT})
 same => n,Bridge(${{QUEUE_CALLER}},T)
 same => n,Hangup()
"""


def endpoint(number: str, password: str) -> str:
    """PJSIP_TEST_ENDPOINT, but 7102 keeps only the digest hash, as Telecenter's rendered phones do."""
    text = PJSIP_TEST_ENDPOINT(number, password)
    if number != "7102":
        return text
    digest = hashlib.md5(f"{number}:{SIP_REALM}:{password}".encode()).hexdigest()
    return text.replace("auth_type=userpass", f"auth_type=md5\nrealm={SIP_REALM}").replace(
        f"password={password}", f"md5_cred={digest}")


@pytest.fixture
def asterisk(make_instance) -> AsteriskInstance:
    require("sipp")
    endpoints = "".join(endpoint(number, password) for number, password in PHONES.items())
    return make_instance(extra_pjsip=endpoints, extra_extensions=DIALPLAN)


@pytest.fixture
def phones(asterisk, tmp_path):
    """The test's operator phones (``phones.add``), all stopped after the test."""
    with OperatorPhones(asterisk.sip_port, tmp_path / "phones") as made:
        yield made


def call_from(asterisk: AsteriskInstance, exten: str, listen: str = "s") -> float:
    """A caller (CALLER) on a Local channel dials ``exten``; returns the time just before."""
    before = time.time()
    with ami_session(asterisk) as manager:
        response = manager.originate(
            channel=f"Local/{exten}@{DIAL_CONTEXT}", context=LISTENER_CONTEXT, exten=listen,
            priority="1", timeout="20000", caller_id=CALLER, run_async=True)
    assert response.get_header("Response") == "Success", response
    return before


def contacts(asterisk: AsteriskInstance) -> dict[str, str]:
    """Registered contacts: phone number -> its contact URI's host:port."""
    return dict(re.findall(r"Contact:\s+(\d+)/sip:\d+@([\d.]+:\d+)", asterisk.rx("pjsip show contacts")))


def no_channels(asterisk: AsteriskInstance) -> None:
    try:
        wait_for(lambda: active_channels(asterisk) == 0, timeout=10, what="no active channels")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{asterisk.rx('core show channels concise')}") from None


def test_two_phones_ring_at_once_one_answers_the_other_is_cancelled(asterisk, phones):
    a = phones.add("7101", PHONES["7101"], answer_after=1.0, script="w1/h")
    b = phones.add("7102", PHONES["7102"], answer_after=None)
    assert contacts(asterisk) == {"7101": f"127.0.0.1:{a.sip_port}", "7102": f"127.0.0.1:{b.sip_port}"}

    before = call_from(asterisk, "both", listen="hold")
    answered = a.wait_for_call(lambda call: call.ended_by, what="the answered call to end")
    cancelled = b.wait_for_call(lambda call: call.ended_by, what="the ringing to stop")
    report = f"{a.describe()}\n{b.describe()}"

    # Both rang at once, shortly after the call started, and both showed the caller.
    assert before <= answered.arrived < before + 3, report
    assert abs(answered.arrived - cancelled.arrived) < 0.5, report
    assert answered.caller == cancelled.caller == CALLER, report
    # A answered after its second of ringing and hung up a second later...
    assert answered.answered and answered.ended_by == "phone", report
    assert 0.9 <= answered.answered_at - answered.arrived < 2, report
    assert 0.9 <= answered.ended_at - answered.answered_at < 2, report
    # ... and Asterisk stopped B's ringing as soon as A answered.
    assert not cancelled.answered and cancelled.ended_by == "cancel", report
    assert 0 <= cancelled.ended_at - answered.answered_at < 1, report
    assert [number for number, _call in phones.timeline()] in (["7101", "7102"], ["7102", "7101"])
    no_channels(asterisk)


def test_ring_by_originate_and_stop_it_by_channel_id(asterisk, phones):
    # How the queue rings a member: AMI Originate of PJSIP/<phone> with the
    # caller's number and a ChannelId of its own; and stops it: AMI Hangup
    # naming that id where a channel name goes.
    a = phones.add("7101", PHONES["7101"], answer_after=None)
    with ami_session(asterisk) as manager:
        before = time.time()
        response = manager.send_action({
            "Action": "Originate", "Channel": "PJSIP/7101", "Context": LISTENER_CONTEXT,
            "Exten": "hold", "Priority": "1", "Timeout": "20000", "CallerID": f"<{CALLER}>",
            "ChannelId": "queue-ring-test-1", "Async": "true"})
        assert response.get_header("Response") == "Success", response
        ringing = a.wait_for_call(what="the ring")
        assert ringing.caller == CALLER and ringing.state == "ringing", a.describe()
        assert before <= ringing.arrived < before + 3
        stop = manager.send_action({"Action": "Hangup", "Channel": "queue-ring-test-1"})
        assert stop.get_header("Response") == "Success", stop
    stopped = a.wait_for_call(lambda call: call.ended_by, what="the ringing to stop")
    assert stopped.ended_by == "cancel", a.describe()
    no_channels(asterisk)


def test_the_test_decides_when_a_phone_answers_and_hangs_up(asterisk, phones):
    # Left alone, A would ring until cancelled, and talk 30 s once answered.
    a = phones.add("7101", PHONES["7101"], answer_after=None, script="w30/h")
    b = phones.add("7102", PHONES["7102"], answer_after=None)
    call_from(asterisk, "both", listen="hold")
    ringing = b.wait_for_call(lambda call: call.state == "ringing", what="the ring")
    told = time.time()
    assert b.answer().call_id == ringing.call_id
    up = b.wait_for_call(lambda call: call.confirmed_at, what="the answer")
    assert told <= up.answered_at < told + 1, b.describe()
    cancelled = a.wait_for_call(lambda call: call.ended_by, what="A's ringing to stop")
    assert cancelled.ended_by == "cancel", a.describe()

    told = time.time()
    b.hang_up()
    over = b.wait_for_call(lambda call: call.ended_by, what="the hang-up")
    assert over.ended_by == "phone" and told <= over.ended_at < told + 1, b.describe()
    no_channels(asterisk)

    # A phone in the middle of its script hangs up when told, too.
    call_from(asterisk, "one", listen="hold")
    a.answer()
    a.wait_for_call(lambda call: call.confirmed_at, index=1, what="the answer")
    a.hang_up()
    assert a.wait_for_call(lambda call: call.ended_by, index=1, what="the hang-up").ended_by == "phone"
    no_channels(asterisk)


def test_star_two_and_digits_reach_asterisk_in_order(asterisk, phones):
    a = phones.add("7101", PHONES["7101"], answer_after=0.2, script="w0.5/d*2/w0.3/d12")
    call_from(asterisk, "one")
    wait_for(lambda: global_var(asterisk, "HEARD") is not None, timeout=15, what="the digits")
    assert global_var(asterisk, "HEARD") == "*212", a.describe()
    # The script had no "h": the phone stayed until the caller hung up.
    call = a.wait_for_call(lambda call: call.ended_by, what="the call to end")
    assert call.ended_by == "far_end", a.describe()
    no_channels(asterisk)


def test_keys_pressed_when_the_test_says_reach_asterisk_in_order(asterisk, phones):
    a = phones.add("7101", PHONES["7101"], answer_after=0.2)
    call_from(asterisk, "one")
    a.press("*2")
    a.press("11")  # a repeated key is a new key, not a repeated packet
    wait_for(lambda: global_var(asterisk, "HEARD") is not None, timeout=15, what="the digits")
    assert global_var(asterisk, "HEARD") == "*211", a.describe()
    assert a.wait_for_call(lambda call: call.ended_by, what="the call to end").ended_by == "far_end"
    with pytest.raises(OperatorPhoneError):
        phones.add("7102", PHONES["7102"], script="w1").press("1", timeout=0.5)
    no_channels(asterisk)


def test_calls_one_after_another_and_a_busy_phone(asterisk, phones):
    a = phones.add("7101", PHONES["7101"], answer_after=0, script="w0.5/h")
    for count in (1, 2):
        call_from(asterisk, "one", listen="hold")
        a.wait_for_calls(lambda calls: len(calls) == count and calls[-1].ended_by, what=f"call {count}")
    first, second = a.calls()
    assert first.ended_by == second.ended_by == "phone", a.describe()
    assert first.ended_at <= second.arrived

    a.restart(busy=True)  # same port and number, now refusing calls
    call_from(asterisk, "one", listen="hold")
    busy = a.wait_for_call(lambda call: call.ended_by, index=2, what="the refusal")
    assert busy.ended_by == "busy" and busy.state == "busy" and not busy.answered, a.describe()
    wait_for(lambda: global_var(asterisk, "DIALSTATUS_one") == "BUSY", timeout=10, what="DIALSTATUS BUSY")
    no_channels(asterisk)


@pytest.mark.parametrize("driven_by", ["script", "test"])
def test_member_rung_by_originate_transfers_with_star_two(asterisk, phones, driven_by):
    # The queue's way: the caller waits on a channel of their own; the member's
    # phone is rung by Originate and, once answered, its leg runs Bridge(<the
    # caller's uniqueid>,T), so the member may transfer; *2 (Telecenter's
    # features file) starts an attended transfer to the digits keyed next.
    # The operator keys by script, or when the test says.
    (asterisk.etc_dir / "features.conf").write_text("[general]\n\n[featuremap]\natxfer => *2\n")
    asterisk.rx("module reload features")
    script = "w1/d*2/w2/d7103/w2/h" if driven_by == "script" else ""
    operator = phones.add("7101", PHONES["7101"], answer_after=0.2, script=script)
    target = phones.add("7103", PHONES["7103"], answer_after=0.5)
    with ami_session(asterisk) as manager:
        for action in (
            {"Channel": f"Local/hold@{LISTENER_CONTEXT}", "Application": "Wait", "Data": "30",
             "ChannelId": "caller-1"},
            {"Channel": "PJSIP/7101", "Context": MEMBER_CONTEXT, "Exten": "s", "Priority": "1",
             "Variable": "QUEUE_CALLER=caller-1"},
        ):
            response = manager.send_action({"Action": "Originate", "CallerID": f"<{CALLER}>",
                                            "Timeout": "20000", "Async": "true", **action})
            assert response.get_header("Response") == "Success", response
        if driven_by == "test":
            operator.press("*2")
            wait_for(lambda: "Playing 'pbx-transfer" in asterisk.log_path.read_text(errors="replace"),
                     timeout=10, what="Asterisk to ask for the transfer's number")
            operator.press("7103")
            target.wait_for_call(lambda call: call.confirmed_at, what="the transfer target to answer")
            operator.hang_up()
        first = operator.wait_for_call(lambda call: call.ended_by, timeout=20, what="the operator to hang up")
        second = target.wait_for_call(lambda call: call.answered, what="the transfer target to answer")
    report = f"{operator.describe()}\n{target.describe()}\n{asterisk.describe_failure()}"
    assert first.caller == CALLER and first.ended_by == "phone", report
    # The target rang after *2 and the digits, showing the caller's number ...
    assert first.answered_at < second.arrived < first.ended_at, report
    assert second.caller == CALLER, report
    # ... and still talks (to the caller) once the operator has hung up.
    wait_for(lambda: "PJSIP/7101-" not in asterisk.rx("core show channels concise"), timeout=5,
             what="the operator's leg to end")
    assert target.calls()[0].state == "talking", report
    assert "PJSIP/7103-" in asterisk.rx("core show channels concise"), report
    asterisk.rx("channel request hangup all")
    target.wait_for_call(lambda call: call.ended_by == "far_end", what="the transferred call to end")
    no_channels(asterisk)


def test_a_reinvite_in_the_middle_of_the_script_is_answered(asterisk, phones, tmp_path):
    # A peer calls the phone directly and re-INVITEs it 0.5 s after the
    # answer, while the phone waits before its digits.
    a = phones.add("7101", PHONES["7101"], answer_after=0, script="w1/d12/w0.5/h")
    sip, media = sipp_ports()
    (tmp_path / "peer").mkdir()
    peer = SippProcess([
        sipp_binary(), f"127.0.0.1:{a.sip_port}", "-sf", str(SCENARIO_DIR / "uac_reinvite.xml"),
        "-s", "7101", "-key", "caller_user", CALLER, "-m", "1", "-nostdin",
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(sip), "-mp", str(media),
    ], tmp_path / "peer", SCENARIO_DIR / "uac_reinvite.xml")  # fmt: skip
    result = peer.wait(timeout=20)
    assert result.ok, f"{result.describe()}\n{a.describe()}"
    call = a.wait_for_call(lambda call: call.ended_by, what="the call to end")
    assert call.caller == CALLER and call.ended_by == "phone", a.describe()
    # The wait started over after the re-INVITE: 0.5 + 1 s, two digits, 0.5 s.
    assert 2.2 <= call.ended_at - call.answered_at < 4, a.describe()


def test_wrong_password_is_refused(asterisk, tmp_path):
    phone = OperatorPhone("7101", "wrong", asterisk.sip_port, workdir=tmp_path / "phone")
    with pytest.raises(OperatorPhoneError) as caught:
        phone.start(timeout=10)
    assert "did not register" in str(caught.value)
    assert not phone.running
    assert "7101" not in contacts(asterisk)


def test_phone_dials_out_while_it_stays_registered(asterisk, phones):
    a = phones.add("7101", PHONES["7101"], answer_after=0, script="w0.5/h")
    result = a.dial("600", digits="42")
    assert result.ok, f"{result.describe()}\n{asterisk.describe_failure()}"
    assert global_var(asterisk, "DIALLED") == "7101:7101:42"
    # Still registered and answering.
    assert contacts(asterisk) == {"7101": f"127.0.0.1:{a.sip_port}"}
    call_from(asterisk, "one", listen="hold")
    assert a.wait_for_call(lambda call: call.ended_by, what="the call to end").ended_by == "phone"


def test_a_phone_whose_port_was_taken_meanwhile_moves_to_another(asterisk, tmp_path):
    phone = OperatorPhone("7101", PHONES["7101"], asterisk.sip_port, workdir=tmp_path / "phone")
    taken = phone.sip_port
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", taken))
        phone.start()
    try:
        assert phone.sip_port != taken
        assert contacts(asterisk) == {"7101": f"127.0.0.1:{phone.sip_port}"}
    finally:
        phone.stop()


def test_stop_unregisters_unless_the_phone_is_pulled_from_the_wall(asterisk, phones):
    a = phones.add("7101", PHONES["7101"])
    b = phones.add("7102", PHONES["7102"])
    assert set(contacts(asterisk)) == {"7101", "7102"}
    a.stop()
    b.stop(unregister=False)
    assert contacts(asterisk) == {"7102": f"127.0.0.1:{b.sip_port}"}
    assert not a.running and not b.running


# -- with Telecenter's own rendered phones and dialplan ----------------------


@pytest.fixture
def telecenter_phones(testbed, pg_url):
    """A connection to the test bed's database, no phones in it before and after."""
    require("sipp")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM phones")
        yield conn
        conn.execute("DELETE FROM phones")
        testbed.apply(conn)  # leave Asterisk without the test's phones


def test_telecenter_phones_register_and_call_each_other(testbed, telecenter_phones, tmp_path):
    for number in ("7101", "7102"):
        add_phone(telecenter_phones, number, PHONES[number])
    testbed.apply(telecenter_phones)
    with OperatorPhones(testbed.asterisk.sip_port, tmp_path / "phones") as phones:
        a = phones.add("7101", PHONES["7101"])
        b = phones.add("7102", PHONES["7102"], answer_after=0.5)
        result = a.dial("7102", hang_up_after=1)
        assert result.ok, f"{result.describe()}\n{b.describe()}"
        call = b.wait_for_call(lambda call: call.ended_by, what="the call to end")
    assert call.caller == "7101" and call.answered and call.ended_by == "far_end", b.describe()
    assert 0.4 <= call.answered_at - call.arrived < 1.5, b.describe()


# -- the trace parser, without SIPp ------------------------------------------

TRACE = """\
----------------------------------------------- 2026-12-02 08:23:55.204317
UDP message received [894] bytes :

INVITE sip:7102@127.0.0.1:46101 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5070;rport;branch=z9hG4bKPj1
From: "Ivanov" <sip:5551234@127.0.0.1>;tag=abc
To: <sip:7102@127.0.0.1>
Call-ID: call-1
CSeq: 7935 INVITE
P-Asserted-Identity: <sip:5550000@127.0.0.1>
Content-Length: 0


----------------------------------------------- 2026-12-02 08:23:55.204466
UDP message sent (396 bytes):

SIP/2.0 180 Ringing
From: "Ivanov" <sip:5551234@127.0.0.1>;tag=abc
To: <sip:7102@127.0.0.1>;tag=1
Call-ID: call-1
CSeq: 7935 INVITE
Content-Length: 0


----------------------------------------------- 2026-12-02 08:23:56.714187
UDP message received [463] bytes :

CANCEL sip:7102@127.0.0.1:46101 SIP/2.0
Call-ID: call-1
CSeq: 7935 CANCEL
Content-Length: 0


----------------------------------------------- 2026-12-02 08:23:57.000000
UDP message received [894] bytes :

INVITE sip:7102@127.0.0.1:46101 SIP/2.0
From: <sip:5551235@127.0.0.1>;tag=def
To: <sip:7102@127.0.0.1>
Call-ID: call-2
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-12-02 08:23:58.000000
UDP message sent (396 bytes):

SIP/2.0 200 OK
Call-ID: call-2
CSeq: 1 INVITE
Content-Length: 0


----------------------------------------------- 2026-12-02 08:24:00.500000
UDP message received [300] bytes :

BYE sip:7102@127.0.0.1:46101 SIP/2.0
Call-ID: call-2
CSeq: 2 BYE
Content-Length: 0


----------------------------------------------- 2026-12-02 08:24:01.000000
UDP message received [894] bytes :

INVITE sip:7102@127.0.0.1:46101 SIP/2.0
From: <sip:5551236@127.0.0.1>;tag=ghi
To: <sip:7102@127.0.0.1>
Call-ID: call-3
"""


def test_parse_trace_reads_each_invite_and_its_end():
    calls = parse_trace(TRACE)
    assert [call.call_id for call in calls] == ["call-1", "call-2"]  # call-3 is still being written
    cancelled, answered = calls
    # SIPp runs in UTC: 2026-12-02 08:23:55.204317 UTC.
    arrived = datetime(2026, 12, 2, 8, 23, 55, 204317, timezone.utc)
    assert cancelled.arrived == pytest.approx(arrived.timestamp())
    assert cancelled.caller == "5550000"  # P-Asserted-Identity wins over From
    assert cancelled.from_user == "5551234" and cancelled.caller_name == "Ivanov"
    assert cancelled.state == "cancelled" and not cancelled.answered
    assert cancelled.ended_at - cancelled.arrived == pytest.approx(1.50987, abs=1e-5)
    assert answered.caller == "5551235" and answered.caller_name == ""
    assert answered.answered_at - answered.arrived == pytest.approx(1.0)
    assert answered.ended_by == "far_end" and answered.state == "ended"
    assert [call.call_id for call in parse_trace(TRACE + "Content-Length: 0\n\n\n")][-1] == "call-3"


def test_scenario_refuses_what_sipp_could_not_run(tmp_path):
    def render(**changes):
        settings = dict(answer_after=0.0, busy=False, script="", digit_gap=0.25, workdir=tmp_path)
        return render_calls_scenario(**{**settings, **changes})

    assert "<!--@" not in render() and "<!--@" not in render(script="w1/d*2/h", answer_after=None)
    with pytest.raises(ValueError, match="too long for SIPp"):
        render(script="/".join(["w0.5/d1"] * 200))
    with pytest.raises(ValueError, match="digit_gap"):
        render(digit_gap=0.1)
    with pytest.raises(ValueError, match="answer_after"):
        render(answer_after=-1)
    with pytest.raises(ValueError, match="bad caller script step"):
        render(script="w1/x")
