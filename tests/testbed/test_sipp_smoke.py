"""The SIPp phone (tests/testbed/sipp.py) against a private, real Asterisk.

Asterisk is started by hand here, with a minimal configuration in a
temporary folder, so that a failure points at the phone, not at the rest of
the test bed.  Skipped without ``sipp`` or ``asterisk`` unless
TELECENTER_REQUIRE_ASTERISK=1 (then failed).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _which_asterisk() -> str | None:
    extra = os.pathsep.join(["/usr/sbin", "/usr/local/sbin"])
    return shutil.which("asterisk") or shutil.which(
        "asterisk", path=os.environ.get("PATH", "") + os.pathsep + extra
    )


def _require_tools() -> str:
    missing = [name for name, path in (("sipp", shutil.which("sipp")), ("asterisk", _which_asterisk())) if not path]
    if missing:
        reason = f"not installed: {', '.join(missing)}"
        if os.environ.get("TELECENTER_REQUIRE_ASTERISK") == "1":
            pytest.fail(f"{reason} but TELECENTER_REQUIRE_ASTERISK=1")
        pytest.skip(reason)
    return _which_asterisk()


def poll(predicate, *, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Call ``predicate`` until it returns something truthy; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)  # polling interval, not synchronisation


@dataclass
class PrivateAsterisk:
    binary: str
    root: Path
    sip_port: int
    proc: subprocess.Popen

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "asterisk.conf"

    @property
    def messages_log(self) -> Path:
        return self.root / "log" / "messages"

    def digits_file(self, number: str) -> Path:
        return self.root / f"digits-{number}"

    def rx(self, command: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.binary, "-C", str(self.conf), "-rx", command],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def logs(self) -> str:
        parts = []
        for path in (self.messages_log, self.root / "stdout.txt"):
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-60:]
                parts.append(f"--- {path} (last lines) ---\n" + "\n".join(lines))
                break
        return "\n".join(parts)

    def active_channels(self) -> int | None:
        out = self.rx("core show channels count").stdout
        match = re.search(r"(\d+) active channels?", out)
        return int(match.group(1)) if match else None


def _write_config(root: Path, sip_port: int) -> None:
    etc = root / "etc"
    for sub in ("etc", "lib", "db", "keys", "spool", "run", "log", "agi-bin"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (etc / "asterisk.conf").write_text(
        f"""[directories]
astetcdir => {etc}
astmoddir => /usr/lib/asterisk/modules
astvarlibdir => {root / 'lib'}
astdbdir => {root / 'db'}
astkeydir => {root / 'keys'}
astdatadir => /usr/share/asterisk
astagidir => {root / 'agi-bin'}
astspooldir => {root / 'spool'}
astrundir => {root / 'run'}
astlogdir => {root / 'log'}
astsbindir => /usr/sbin

[options]
verbose = 3
nocolor = yes
defaultlanguage = en
"""
    )
    noload = [
        "chan_sip.so", "chan_dahdi.so", "chan_mobile.so", "chan_console.so", "chan_alsa.so",
        "chan_oss.so", "chan_skinny.so", "chan_mgcp.so", "chan_unistim.so", "chan_iax2.so",
        "res_config_ldap.so", "cdr_radius.so", "cel_radius.so", "res_hep.so", "res_hep_pjsip.so",
        "res_hep_rtcp.so", "pbx_dundi.so",
    ]  # fmt: skip
    (etc / "modules.conf").write_text(
        "[modules]\nautoload=yes\n" + "".join(f"noload => {m}\n" for m in noload)
    )
    (etc / "logger.conf").write_text(
        "[general]\n[logfiles]\nmessages => notice,warning,error,verbose(5)\n"
    )
    (etc / "pjsip.conf").write_text(
        f"""[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:{sip_port}
{PJSIP_TEST_ENDPOINT(USER, PASSWORD)}"""
    )

    def record(number: str) -> str:
        path = root / f"digits-{number}"
        return (
            f" same => n,Log(NOTICE,TELECENTER_DIGITS {number} [${{D}}])\n"
            f" same => n,System(echo '${{D}}' > {path}.tmp && mv {path}.tmp {path})\n"
        )

    (etc / "extensions.conf").write_text(
        f"""[general]
static=yes
writeprotect=yes

[telecenter]
exten => {NUMBER_READ},1,Answer()
 same => n,Read(D,beep,2,,,10)
{record(NUMBER_READ)} same => n,Hangup()

exten => {NUMBER_READ_THEN_WAIT},1,Answer()
 same => n,Read(D,beep,2,,,10)
{record(NUMBER_READ_THEN_WAIT)} same => n,Wait(30)
 same => n,Hangup()

exten => {NUMBER_READ_FOUR},1,Answer()
 same => n,Read(D,,4,,,10)
{record(NUMBER_READ_FOUR)} same => n,Hangup()
"""
    )


@pytest.fixture(scope="module")
def asterisk(tmp_path_factory):
    binary = _require_tools()
    root = tmp_path_factory.mktemp("ast")
    (sip_port,) = free_ports(1)
    _write_config(root, sip_port)
    out = open(root / "stdout.txt", "wb")
    proc = subprocess.Popen(
        [binary, "-C", str(root / "etc" / "asterisk.conf"), "-f", "-n"],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ast = PrivateAsterisk(binary=binary, root=root, sip_port=sip_port, proc=proc)
    try:

        def booted():
            if proc.poll() is not None:
                pytest.fail(f"asterisk exited with {proc.returncode}\n{ast.logs()}")
            try:
                return ast.rx("core waitfullybooted", timeout=30).returncode == 0
            except subprocess.TimeoutExpired:
                return False

        poll(booted, timeout=60, interval=0.1, what="asterisk to boot")
        poll(
            lambda: f"127.0.0.1:{sip_port}" in ast.rx("pjsip show transports").stdout
            and USER in ast.rx("pjsip show endpoints").stdout,
            timeout=20,
            what="the PJSIP transport and endpoint",
        )
        yield ast
    finally:
        problem = _stop_asterisk(ast)
        out.close()
    if problem:
        pytest.fail(f"{problem}\n{ast.logs()}")


def _stop_asterisk(ast: PrivateAsterisk) -> str | None:
    """``core stop now`` and wait; the problem as text, or None if it stopped cleanly."""
    if ast.proc.poll() is not None:
        return f"asterisk had already exited, with {ast.proc.returncode}"
    try:
        ast.rx("core stop now", timeout=10)
    except subprocess.TimeoutExpired:
        pass
    try:
        returncode = ast.proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        ast.proc.kill()
        ast.proc.wait(timeout=10)
        return "asterisk did not stop within 20 s of 'core stop now' and was killed"
    if returncode != 0:
        return f"asterisk exited with {returncode} after 'core stop now'"
    return None


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


def _call(asterisk: PrivateAsterisk, phone_ports, tmp_path: Path, **kwargs) -> SippResult:
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


def _digits(asterisk: PrivateAsterisk, number: str) -> str:
    path = asterisk.digits_file(number)
    poll(path.exists, timeout=10, what=f"{path}")
    return path.read_text().strip()


def _no_channels(asterisk: PrivateAsterisk):
    poll(lambda: asterisk.active_channels() == 0, timeout=10, what="no active channels")


def test_pcaps_carry_payload_type_101():
    for digit in "0123456789*#":
        try:
            path = dtmf_pcap(digit)
        except SippError as exc:
            if os.environ.get("TELECENTER_REQUIRE_ASTERISK") == "1":
                raise
            pytest.skip(str(exc))
        assert pcap_rtp_payload_types(path) == {DTMF_PAYLOAD_TYPE}, path


def test_call_keys_digits_and_asterisk_hangs_up(asterisk, phone_ports, tmp_path):
    started = time.monotonic()
    result = _call(asterisk, phone_ports, tmp_path, number=NUMBER_READ, digits="12")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.describe() + "\n" + asterisk.logs()
    assert _digits(asterisk, NUMBER_READ) == "12", result.describe() + "\n" + asterisk.logs()
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
    assert result.returncode == 0, result.describe() + "\n" + asterisk.logs()
    assert _digits(asterisk, NUMBER_READ_THEN_WAIT) == "34"
    assert re.search(r"^BYE sip:", result.messages, re.M)
    # Asterisk's Wait(30) was cut short by the phone's BYE.
    _no_channels(asterisk)
    assert time.monotonic() - started < 15


def test_repeated_digits_and_star(asterisk, phone_ports, tmp_path):
    result = _call(asterisk, phone_ports, tmp_path, number=NUMBER_READ_FOUR, digits="1*11")
    assert result.returncode == 0, result.describe() + "\n" + asterisk.logs()
    assert _digits(asterisk, NUMBER_READ_FOUR) == "1*11", asterisk.logs()


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
    try:
        dtmf_pcap("1")
    except SippError as exc:
        if os.environ.get("TELECENTER_REQUIRE_ASTERISK") == "1":
            raise
        pytest.skip(str(exc))
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
