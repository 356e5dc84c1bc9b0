"""A scripted SIP phone for end-to-end tests: SIPp calls Asterisk and keys DTMF.

``run_sip_call`` renders ``scenarios/uac_dtmf.xml`` for one call (the digits
become ``play_pcap_audio`` actions with pauses between them) and runs one
``sipp`` call with it:

    INVITE -> 401/407 -> ACK -> INVITE with digest credentials -> 200 -> ACK
    -> DTMF (RFC 4733 RTP events, payload type 101) -> BYE from Asterisk
    (answered with 200) or, with ``caller_hangs_up=True``, BYE from the phone.

The DTMF comes from the RFC 2833 captures shipped by Debian's ``sip-tester``
package (``dtmf_2833_<digit>.pcap``, ``_star``, ``_pound``).  They all carry
one SSRC and the sequence numbers and timestamps of the one session they were
cut from, so a repeated digit or a digit "earlier" in that session looks like
an old or repeated event to the receiver: played as they are, "1*11" reached
Asterisk 16 as "1*".  The captures are therefore copied per call with the RTP
sequence numbers and timestamps rewritten to run on from digit to digit.

``PJSIP_TEST_ENDPOINT`` gives the matching ``pjsip.conf`` text for the phone.

The other SIP parts of the test bed, each one scenario in ``scenarios/``:
``register`` (REGISTER with digest auth, ``register.xml``), ``start_uas``
(a phone or provider that answers one call and waits for the BYE,
``uas_answer.xml``) and ``start_plain_call`` (a provider's call, which
Asterisk recognises by address and does not challenge, ``uac_plain.xml``).
The last two run in the background as a ``SippProcess``; all use ``-aa`` so
Asterisk's qualify OPTIONS are answered.  A phone that stays registered and
takes any number of calls (ringing, answering, refusing, keying *2) is
``operator_phone.OperatorPhone``.
"""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

# Where Debian's sip-tester package puts its RFC 2833 DTMF captures.
SIPP_PCAP_DIR = Path("/usr/share/sip-tester")

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIO_TEMPLATE = SCENARIO_DIR / "uac_dtmf.xml"
DTMF_MARKER = "<!--@DTMF@-->"
BEFORE_BYE_MARKER = "<!--@BEFORE_BYE@-->"

# Payload type of the telephone-event packets in the sip-tester captures
# (read from the files themselves); the scenario's SDP offers the same.
DTMF_PAYLOAD_TYPE = 101

LOCAL_IP = "127.0.0.1"

_PCAP_NAMES = {**{d: d for d in "0123456789"}, "*": "star", "#": "pound"}

# Each capture lasts about 140 ms (8 packets 20 ms apart, the last, with the
# end bit, sent 3 times).
# A digit is played asynchronously by SIPp, so the pause after it must cover
# that, or two digits' packets would overlap.
DTMF_PLAY_MS = 160
MIN_PAUSE_MS = DTMF_PLAY_MS + 40


class SippError(RuntimeError):
    """SIPp could not be run, or did not finish in time; carries the logs."""

    def __init__(self, message: str, result: "SippResult | None" = None):
        if result is not None:
            message = f"{message}\n{result.describe()}"
        super().__init__(message)
        self.result = result


class SippTimeout(SippError):
    """SIPp did not finish the call before the deadline and was killed."""


@dataclass
class SippResult:
    """What one SIPp run left behind.  ``ok``: the call went as scripted."""

    returncode: int
    stdout: str
    stderr: str
    messages: str  # SIP message trace (-trace_msg)
    errors: str  # unexpected messages and other errors (-trace_err)
    log: str  # <log> actions (-trace_logs), e.g. "call refused: ..."
    message_trace: Path
    error_trace: Path
    scenario: Path
    command: list[str] = field(default_factory=list)
    duration: float = 0.0
    # Killed at the deadline.  Then ``returncode`` says little: SIPp exits 0
    # on SIGTERM when no call has failed yet.
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """Everything useful for an assertion message."""
        parts = [
            f"sipp exit code: {self.returncode} (after {self.duration:.1f} s"
            + (", killed at the deadline)" if self.timed_out else ")"),
            f"command: {' '.join(self.command)}",
            f"scenario: {self.scenario}",
            f"message trace: {self.message_trace}",
        ]
        for title, text in (
            ("stderr", self.stderr),
            ("errors", self.errors),
            ("messages", self.messages),
            ("stdout (tail)", self.stdout[-3000:]),
        ):
            if text.strip():
                parts.append(f"--- {title} ---\n{text.rstrip()}")
        return "\n".join(parts)


def sipp_binary() -> str:
    """Path of ``sipp``; raises SippError when it is not installed."""
    path = shutil.which("sipp")
    if not path:
        raise SippError("sipp is not installed (Debian package sip-tester)")
    return path


def dtmf_pcap(digit: str) -> Path:
    """The sip-tester capture for one DTMF digit (0-9, *, #)."""
    try:
        name = _PCAP_NAMES[digit]
    except KeyError:
        raise ValueError(f"not a DTMF digit SIPp can play: {digit!r}") from None
    path = SIPP_PCAP_DIR / f"dtmf_2833_{name}.pcap"
    if not path.is_file():
        raise SippError(
            f"DTMF capture {path} is missing: install the Debian package "
            f"sip-tester, which ships {SIPP_PCAP_DIR}/dtmf_2833_*.pcap"
        )
    return path


# --- pcap rewriting -------------------------------------------------------

_PCAP_GLOBAL_HEADER = 24
_PCAP_RECORD_HEADER = 16
_LINKTYPE_HEADER = {1: 14, 113: 16, 0: 4, 101: 0}  # Ethernet, Linux SLL, loopback, raw


def iter_rtp_packets(data: bytes):
    """Yield (UDP header offset, RTP header offset, RTP length) per packet."""
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian = "<"
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian = ">"
    else:
        raise SippError("not a classic (microsecond) pcap file")
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    try:
        l2 = _LINKTYPE_HEADER[linktype]
    except KeyError:
        raise SippError(f"unsupported pcap link type {linktype}") from None
    offset = _PCAP_GLOBAL_HEADER
    while offset + _PCAP_RECORD_HEADER <= len(data):
        incl = struct.unpack(endian + "I", data[offset + 8 : offset + 12])[0]
        packet = offset + _PCAP_RECORD_HEADER
        ip = packet + l2
        if data[ip] >> 4 != 4:
            raise SippError("only IPv4 packets are supported in DTMF captures")
        udp = ip + (data[ip] & 0x0F) * 4
        udp_len = struct.unpack(">H", data[udp + 4 : udp + 6])[0]
        yield udp, udp + 8, udp_len - 8
        offset = packet + incl


def renumber_dtmf_pcap(source: Path, target: Path, *, first_seq: int, timestamp: int) -> int:
    """Copy a DTMF capture, renumbering its RTP packets.

    Packets get sequence numbers from ``first_seq`` on (a retransmitted end
    packet keeps the number of the packet it repeats, as in the source) and
    the event timestamp ``timestamp``.  Returns the next free sequence number.
    The UDP checksum is zeroed (allowed for UDP over IPv4).
    """
    data = bytearray(source.read_bytes())
    seq = first_seq
    previous_source_seq = None
    for udp, rtp, rtp_len in iter_rtp_packets(bytes(data)):
        if rtp_len < 12:
            raise SippError(f"{source}: UDP payload too short for RTP")
        source_seq = struct.unpack(">H", data[rtp + 2 : rtp + 4])[0]
        if previous_source_seq is not None and source_seq != previous_source_seq:
            seq += 1
        previous_source_seq = source_seq
        struct.pack_into(">HI", data, rtp + 2, seq & 0xFFFF, timestamp & 0xFFFFFFFF)
        struct.pack_into(">H", data, udp + 6, 0)
    target.write_bytes(bytes(data))
    return seq + 1


def pcap_rtp_payload_types(path: Path) -> set[int]:
    """RTP payload types found in a capture (for checks and diagnostics)."""
    data = path.read_bytes()
    return {data[rtp + 1] & 0x7F for _udp, rtp, _len in iter_rtp_packets(data)}


# --- scenario -------------------------------------------------------------


def render_scenario(
    digits: str,
    *,
    workdir: Path,
    pause_ms: int,
    initial_pause_ms: int,
    after_digits_ms: int,
) -> str:
    """The scenario text for one call: the template with the digits filled in.

    Writes the per-call, renumbered DTMF captures into ``workdir``.
    """
    if pause_ms < MIN_PAUSE_MS:
        raise ValueError(f"pause_ms must be at least {MIN_PAUSE_MS} (a digit plays ~{DTMF_PLAY_MS} ms)")
    template = SCENARIO_TEMPLATE.read_text(encoding="iso-8859-1")
    for marker in (DTMF_MARKER, BEFORE_BYE_MARKER):
        if marker not in template:
            raise SippError(f"{SCENARIO_TEMPLATE} has no {marker} marker")

    steps = []
    if initial_pause_ms > 0:
        steps.append(f'<pause milliseconds="{int(initial_pause_ms)}" />')
    seq = 1000
    timestamp = 16000
    for index, digit in enumerate(digits):
        pcap = workdir / f"dtmf_{index:02d}_{_PCAP_NAMES.get(digit, 'x')}.pcap"
        seq = renumber_dtmf_pcap(dtmf_pcap(digit), pcap, first_seq=seq, timestamp=timestamp)
        timestamp += 8 * pause_ms  # 8 kHz clock: the time this digit "takes"
        if index:
            steps.append(f'<pause milliseconds="{int(pause_ms)}" />')
        steps.append(
            f"<nop><action><exec play_pcap_audio=\"{_xml_attr(str(pcap))}\" /></action></nop>"
            f"<!-- digit {digit} -->"
        )
    text = template.replace(DTMF_MARKER, "\n  ".join(steps) or "<!-- no digits -->")
    # Only when the phone hangs up: let the last digit finish first.  (When
    # Asterisk hangs up, the phone must already be waiting for its BYE: an
    # IVR may hang up right after the last digit.)
    before_bye = max(int(after_digits_ms), DTMF_PLAY_MS if digits else 0)
    return text.replace(BEFORE_BYE_MARKER, f'<pause milliseconds="{before_bye}" />' if before_bye else "")


def _xml_attr(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


# --- running --------------------------------------------------------------


def run_sip_call(
    *,
    target_host: str,
    target_port: int,
    number: str,
    user: str,
    password: str,
    digits: str,
    local_port: int,
    media_port: int,
    pause_ms: int = 500,
    caller_hangs_up: bool = False,
    timeout: float = 30.0,
    initial_pause_ms: int = 500,
    after_digits_ms: int = 200,
    workdir: Path | str | None = None,
) -> SippResult:
    """Place one call with SIPp and key ``digits``; return when SIPp has exited.

    ``pause_ms`` is the time from one digit's start to the next one's,
    ``initial_pause_ms`` the wait after the ACK before the first digit,
    ``after_digits_ms`` the wait after the last digit before the phone sends
    BYE (``caller_hangs_up=True`` only; otherwise it waits for Asterisk's BYE
    right after starting the last digit, so an early BYE is not "unexpected").
    A BYE from Asterisk before the last digit has started fails the call.

    Logs and the rendered scenario go to ``workdir`` (a new temporary folder
    by default; it is kept for post-mortems).  A call SIPp considers failed
    (e.g. refused credentials) is returned with a non-zero ``returncode``;
    a call still running at ``timeout`` seconds is killed and ``SippTimeout``
    raised with the logs.
    """
    binary = sipp_binary()
    for d in digits:
        dtmf_pcap(d)  # fail early with a clear message
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="sipp-call-"))
    workdir.mkdir(parents=True, exist_ok=True)

    scenario = workdir / "uac_dtmf.xml"
    scenario.write_text(
        render_scenario(
            digits,
            workdir=workdir,
            pause_ms=pause_ms,
            initial_pause_ms=initial_pause_ms,
            after_digits_ms=after_digits_ms,
        ),
        encoding="iso-8859-1",
    )
    command = [
        binary,
        f"{target_host}:{target_port}",
        "-sf", str(scenario),
        "-s", str(number),
        "-au", user,
        "-ap", password,
        "-key", "caller_user", user,
        "-set", "caller_bye", "yes" if caller_hangs_up else "no",
        "-m", "1",
        "-l", "1",
        "-nostdin",
        "-i", LOCAL_IP,
        "-mi", LOCAL_IP,
        "-p", str(local_port),
        "-mp", str(media_port),
    ]  # fmt: skip
    return SippProcess(command, workdir, scenario).wait(timeout)


class SippProcess:
    """One ``sipp`` run in the background, its traces in ``workdir``.

    ``wait`` returns its SippResult, or kills it at the deadline and raises
    SippTimeout.  Passwords (``-ap``) are masked in the recorded command.
    ``env`` adds to (or overrides) the environment SIPp runs in.
    """

    def __init__(self, command: list[str], workdir: Path, scenario: Path,
                 env: dict[str, str] | None = None):
        self.workdir = workdir
        self.scenario = scenario
        self.message_trace = workdir / "messages.log"
        self.error_trace = workdir / "errors.log"
        self.log_file = workdir / "actions.log"
        self.stdout_path = workdir / "stdout.txt"
        self.stderr_path = workdir / "stderr.txt"
        self.command = command + [
            "-trace_msg", "-message_file", str(self.message_trace),
            "-trace_err", "-error_file", str(self.error_trace),
            "-trace_logs", "-log_file", str(self.log_file),
        ]  # fmt: skip
        self.started = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=workdir,
                env={**os.environ, **env} if env else None,
                start_new_session=True,  # its own process group, killed as one
            )

    def messages(self) -> str:
        """The SIP messages traced so far (to poll for a received INVITE)."""
        return _read(self.message_trace)

    def wait(self, timeout: float) -> SippResult:
        timed_out = False
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _stop(self.proc)
        command = self.command
        result = SippResult(
            returncode=self.proc.returncode,
            stdout=_read(self.stdout_path),
            stderr=_read(self.stderr_path),
            messages=_read(self.message_trace),
            errors=_read(self.error_trace),
            log=_read(self.log_file),
            message_trace=self.message_trace,
            error_trace=self.error_trace,
            scenario=self.scenario,
            command=[("***" if i and command[i - 1] == "-ap" else arg) for i, arg in enumerate(command)],
            duration=time.monotonic() - self.started,
            timed_out=timed_out,
        )
        if timed_out:
            raise SippTimeout(f"sipp did not finish within {timeout} s and was killed", result)
        return result

    def stop(self) -> None:
        """Kill it if it still runs (cleanup after a failed test)."""
        if self.proc.poll() is None:
            _stop(self.proc)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _workdir(workdir: Path | str | None, prefix: str) -> Path:
    workdir = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=prefix))
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def register(
    *,
    target_host: str,
    target_port: int,
    user: str,
    password: str,
    local_port: int,
    local_ip: str = LOCAL_IP,
    timeout: float = 15.0,
    workdir: Path | str | None = None,
    expires: int = 3600,
) -> SippResult:
    """REGISTER ``user`` with digest auth from ``local_ip:local_port`` (scenarios/register.xml).

    ``returncode`` 0: Asterisk accepted the registration; non-zero: refused.
    The contact stays registered for ``expires`` seconds after SIPp exits;
    ``expires=0`` unregisters it.
    """
    workdir = _workdir(workdir, "sipp-register-")
    scenario = SCENARIO_DIR / "register.xml"
    command = [
        sipp_binary(), f"{target_host}:{target_port}",
        "-sf", str(scenario),
        "-au", user, "-ap", password,
        "-key", "user", user, "-key", "expires", str(expires),
        "-m", "1", "-aa", "-nostdin",
        "-i", local_ip, "-p", str(local_port),
    ]  # fmt: skip
    return SippProcess(command, workdir, scenario).wait(timeout)


def start_uas(
    *,
    local_port: int,
    media_port: int,
    local_ip: str = LOCAL_IP,
    workdir: Path | str | None = None,
) -> SippProcess:
    """A SIP peer that answers one call and waits for its BYE (scenarios/uas_answer.xml).

    It plays a registered phone (start it on the port the phone registered
    from) or a provider behind an external line.  ``wait()`` returns once the
    call is over; ``messages()`` shows the INVITE when it has arrived.
    """
    workdir = _workdir(workdir, "sipp-uas-")
    scenario = SCENARIO_DIR / "uas_answer.xml"
    command = [
        sipp_binary(),
        "-sf", str(scenario),
        "-m", "1", "-aa", "-nostdin",
        "-i", local_ip, "-mi", local_ip,
        "-p", str(local_port), "-mp", str(media_port),
    ]  # fmt: skip
    return SippProcess(command, workdir, scenario)


def start_plain_call(
    *,
    target_host: str,
    target_port: int,
    number: str,
    caller: str,
    local_port: int,
    media_port: int,
    local_ip: str = LOCAL_IP,
    hold_ms: int = 3000,
    caller_name: str | None = None,
    workdir: Path | str | None = None,
) -> SippProcess:
    """Call ``number`` without credentials, as a provider does (scenarios/uac_plain.xml).

    The call is held ``hold_ms`` ms and then hung up, unless Asterisk hangs
    up first.  ``caller`` is the From user (the caller id Asterisk sees),
    ``caller_name`` the From display name, sent as given (none by default).
    """
    workdir = _workdir(workdir, "sipp-plain-")
    scenario = workdir / "uac_plain.xml"
    template = (SCENARIO_DIR / "uac_plain.xml").read_text(encoding="iso-8859-1")
    display = '"[caller_name]" ' if caller_name is not None else ""
    scenario.write_text(template.replace("@HOLD_MS@", str(int(hold_ms)))
                        .replace("@FROM_DISPLAY@", display), encoding="iso-8859-1")
    command = [
        sipp_binary(), f"{target_host}:{target_port}",
        "-sf", str(scenario),
        "-s", str(number),
        "-key", "caller_user", caller,
        *(["-key", "caller_name", caller_name] if caller_name is not None else []),
        "-m", "1", "-aa", "-nostdin",
        "-i", local_ip, "-mi", local_ip,
        "-p", str(local_port), "-mp", str(media_port),
    ]  # fmt: skip
    return SippProcess(command, workdir, scenario)


def _stop(proc: subprocess.Popen) -> None:
    """End SIPp (and only it): SIGTERM to its own group, then SIGKILL."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


# --- Asterisk side --------------------------------------------------------


def PJSIP_TEST_ENDPOINT(user: str, password: str) -> str:  # noqa: N802 (named like a constant on purpose)
    """pjsip.conf sections for the SIPp phone ``user``: endpoint, auth, aor.

    The phone does not register.  Its INVITE is matched to the endpoint by
    the From user name (PJSIP's default "username" identification, endpoint
    name == user), then challenged with digest auth against ``password``.
    Calls land in context ``telecenter``; DTMF is RFC 4733 on payload 101 as
    the phone offers; audio is µ-law through Asterisk (no direct media).
    """
    return f"""
[{user}]
type=endpoint
context=telecenter
disallow=all
allow=ulaw
dtmf_mode=rfc4733
direct_media=no
rtp_symmetric=yes
force_rport=yes
rewrite_contact=yes
identify_by=username
auth={user}-auth
aors={user}

[{user}-auth]
type=auth
auth_type=userpass
username={user}
password={password}

[{user}]
type=aor
max_contacts=1
"""
