"""The SIPp phone (tests/testbed/sipp.py) against a private, real Asterisk.

Asterisk runs with a stand-in ``[telecenter]`` context that records the
digits it reads, not Telecenter's dialplan, so that a failure points at the
phone, not at the rest of the test bed.  Skipped without ``sipp`` or
``asterisk`` unless TELECENTER_REQUIRE_ASTERISK=1 (then failed).
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path

import pytest

from dialplan.instance import AsteriskInstance
from dialplan.names import CONTEXT_ENTRY
from tests.conftest import REQUIRE_ASTERISK, require
from tests.testbed.callers import wait_for
from tests.testbed.conftest import active_channels, global_var
from tests.testbed.ports import free_ports
from tests.testbed.sipp import (
    DTMF_PAYLOAD_TYPE,
    PJSIP_TEST_ENDPOINT,
    SippError,
    SippResult,
    SippTimeout,
    dtmf_pcap,
    iter_rtp_packets,
    pcap_rtp_payload_types,
    render_scenario,
    run_sip_call,
)

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

USER = "7001"
PASSWORD = "s3cret-7001"

NUMBER_READ = "99999"  # reads 2 digits, writes them down, hangs up
NUMBER_READ_THEN_WAIT = "99998"  # reads 2 digits, writes them down, waits for the caller's BYE
NUMBER_READ_FOUR = "99997"  # reads 4 digits (no '#' terminator), hangs up

# Stand-in for Telecenter's entry context: each number writes the digits it
# read down in the global variable DIGITS_<number>.
RECORDING_DIALPLAN = f"""
[{CONTEXT_ENTRY}]
exten => {NUMBER_READ},1,Answer()
 same => n,Read(D,beep,2,,,10)
 same => n,Set(GLOBAL(DIGITS_${{EXTEN}})=${{D}})
 same => n,Hangup()

exten => {NUMBER_READ_THEN_WAIT},1,Answer()
 same => n,Read(D,beep,2,,,10)
 same => n,Set(GLOBAL(DIGITS_${{EXTEN}})=${{D}})
 same => n,Wait(30)
 same => n,Hangup()

exten => {NUMBER_READ_FOUR},1,Answer()
 same => n,Read(D,,4,,,10)
 same => n,Set(GLOBAL(DIGITS_${{EXTEN}})=${{D}})
 same => n,Hangup()
"""


def require_dtmf_captures() -> None:
    """Skip (or, when required, fail) unless sip-tester's DTMF captures are installed."""
    try:
        for digit in "0123456789*#":
            dtmf_pcap(digit)
    except SippError as exc:
        if REQUIRE_ASTERISK:
            pytest.fail(f"{exc} (TELECENTER_REQUIRE_ASTERISK=1)")
        pytest.skip(str(exc))


@pytest.fixture
def asterisk(make_instance) -> AsteriskInstance:
    """An instance that knows the SIPp phone USER and runs RECORDING_DIALPLAN."""
    require("sipp")
    return make_instance(
        extra_pjsip=PJSIP_TEST_ENDPOINT(USER, PASSWORD),
        extra_extensions=RECORDING_DIALPLAN,
    )


@pytest.fixture
def phone_ports():
    """(SIP port, media port) for one SIPp run.

    SIPp binds the media port for audio and media port + 2 for video.
    """
    for _ in range(50):
        sip, media = free_ports(2)
        if media + 2 != sip and _udp_free(media + 2):
            return sip, media
    pytest.fail("no free ports for SIPp")


def _udp_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _call(asterisk: AsteriskInstance, phone_ports, tmp_path: Path, **kwargs) -> SippResult:
    sip, media = phone_ports
    params = dict(
        target_host="127.0.0.1",
        target_port=asterisk.sip_port,
        user=USER,
        password=PASSWORD,
        local_port=sip,
        media_port=media,
        timeout=30,
        workdir=tmp_path / "sipp",
    )
    params.update(kwargs)
    return run_sip_call(**params)


def _report(result: SippResult, asterisk: AsteriskInstance) -> str:
    """Both sides' logs, for an assertion message."""
    return result.describe() + "\n" + asterisk.describe_failure()


def _digits(asterisk: AsteriskInstance, number: str) -> str:
    """The digits ``number`` read, once it has written them down."""
    name = f"DIGITS_{number}"
    wait_for(lambda: global_var(asterisk, name) is not None, timeout=10, what=f"{name} to be set")
    return global_var(asterisk, name)


def _no_channels(asterisk: AsteriskInstance):
    wait_for(lambda: active_channels(asterisk) == 0, timeout=10, what="no active channels")


def test_pcaps_carry_payload_type_101():
    require_dtmf_captures()
    for digit in "0123456789*#":
        path = dtmf_pcap(digit)
        assert pcap_rtp_payload_types(path) == {DTMF_PAYLOAD_TYPE}, path


def test_call_keys_digits_and_asterisk_hangs_up(asterisk, phone_ports, tmp_path):
    started = time.monotonic()
    result = _call(asterisk, phone_ports, tmp_path, number=NUMBER_READ, digits="12")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, _report(result, asterisk)
    assert _digits(asterisk, NUMBER_READ) == "12", _report(result, asterisk)
    # The flow really was: challenge, authenticated INVITE, Asterisk's BYE.
    assert "SIP/2.0 401 Unauthorized" in result.messages
    assert "Authorization: Digest" in result.messages
    assert re.search(r"^BYE sip:", result.messages, re.M), result.messages
    assert elapsed < 15, f"call took {elapsed:.1f} s"
    _no_channels(asterisk)


def test_wrong_password_is_refused(asterisk, phone_ports, tmp_path):
    result = _call(
        asterisk, phone_ports, tmp_path, number=NUMBER_READ, digits="12", password="wrong", timeout=30
    )
    assert result.returncode != 0, result.describe()
    assert "Authorization: Digest" in result.messages
    # The authenticated INVITE is answered with a new challenge or 403, never 200.
    after_auth = result.messages.split("Authorization: Digest", 1)[1]
    assert re.search(r"SIP/2.0 (401|403|407) ", after_auth), result.describe()
    assert "SIP/2.0 200 OK" not in after_auth, result.describe()
    _no_channels(asterisk)


def test_caller_hangs_up_after_digits(asterisk, phone_ports, tmp_path):
    started = time.monotonic()
    result = _call(
        asterisk, phone_ports, tmp_path, number=NUMBER_READ_THEN_WAIT, digits="34", caller_hangs_up=True
    )
    assert result.returncode == 0, _report(result, asterisk)
    assert _digits(asterisk, NUMBER_READ_THEN_WAIT) == "34"
    assert re.search(r"^BYE sip:", result.messages, re.M)
    # Asterisk's Wait(30) was cut short by the phone's BYE.
    _no_channels(asterisk)
    assert time.monotonic() - started < 15


def test_repeated_digits_and_star(asterisk, phone_ports, tmp_path):
    result = _call(asterisk, phone_ports, tmp_path, number=NUMBER_READ_FOUR, digits="1*11")
    assert result.returncode == 0, _report(result, asterisk)
    assert _digits(asterisk, NUMBER_READ_FOUR) == "1*11", asterisk.describe_failure()


def test_timeout_kills_sipp_and_reports_logs(asterisk, phone_ports, tmp_path):
    # 99998 waits 30 s for the phone's BYE; a phone waiting for Asterisk's BYE
    # instead never finishes, so run_sip_call must kill it at the deadline.
    started = time.monotonic()
    with pytest.raises(SippTimeout) as caught:
        _call(asterisk, phone_ports, tmp_path, number=NUMBER_READ_THEN_WAIT, digits="56", timeout=4)
    assert time.monotonic() - started < 15
    result = caught.value.result
    assert result is not None and result.timed_out and not result.ok
    assert "SIP/2.0 200 OK" in result.messages  # the call was up when it was killed
    assert "messages" in str(caught.value)  # the logs are in the exception text
    assert _digits(asterisk, NUMBER_READ_THEN_WAIT) == "56"
    asterisk.rx("channel request hangup all")
    _no_channels(asterisk)


def test_render_scenario_renumbers_dtmf_captures(tmp_path):
    require_dtmf_captures()
    text = render_scenario("1*1", workdir=tmp_path, pause_ms=300, initial_pause_ms=100, after_digits_ms=0)
    played = re.findall(r'play_pcap_audio="([^"]+)"', text)
    assert len(played) == 3
    assert "<!--@" not in text
    header = []  # (first seq, last seq, timestamp) per digit
    for path in map(Path, played):
        data = path.read_bytes()
        assert pcap_rtp_payload_types(path) == {DTMF_PAYLOAD_TYPE}
        offsets = [rtp for _udp, rtp, _len in iter_rtp_packets(data)]
        seqs = [int.from_bytes(data[o + 2 : o + 4], "big") for o in offsets]
        stamps = {int.from_bytes(data[o + 4 : o + 8], "big") for o in offsets}
        assert len(stamps) == 1
        header.append((seqs[0], seqs[-1], stamps.pop()))
    for before, after in zip(header, header[1:]):
        assert after[0] == before[1] + 1  # sequence numbers run on
        assert after[2] == before[2] + 8 * 300  # one event per pause, 8 kHz clock
