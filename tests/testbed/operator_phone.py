"""An operator's SIP phone for queue tests: registers, rings, answers, keys *2, says what happened.

One ``OperatorPhone`` is one SIPp process on ports of its own
(``phone.sip_port``, ``phone.media_port``).  It REGISTERs to Asterisk with
digest auth (number and password of a ``PJSIP_TEST_ENDPOINT`` or of a phone
Telecenter rendered: plain or hashed credentials both work), answers
Asterisk's qualify OPTIONS, and then takes every INVITE that comes, one
after another or several at once, for as long as it runs.  Each phone
behaves one way for all its calls (``restart`` changes it):

* ``answer_after=2.0``: rings 2 s (180 Ringing), then answers (``0``: at
  once); a CANCEL while it rings ends that call as "cancelled".
* ``answer_after=None``: never answers by itself, rings until Asterisk
  sends CANCEL or the test calls ``phone.answer()``.
* ``busy=True``: refuses every INVITE with 486 Busy Here.

The test can also steer a call itself, at any moment: ``phone.answer()``
answers the call that rings now (before ``answer_after`` is over, or when
it is None), ``phone.hang_up()`` hangs up the call that is up now, whatever
its script is doing, and ``phone.press("*2")`` keys digits now in the call
that is up (phones without a script; up to 12 keys a call, one every
``digit_gap`` s; returns after the last).  All three take a ``PhoneCall``
when several calls could be meant, wait up to 5 s for such a call, and
return it; the effect then shows in ``calls()`` (or, for keys, on
Asterisk's side).  So "operator A frees first, then B" is ``a.hang_up()``
then ``b.hang_up()``, not a race of timers, and an attended transfer is
``a.press("*2")``, then ``a.press("102")`` once Asterisk asks for the
number, then ``a.hang_up()`` once 102 answered.

Once a call is up the phone follows ``script``, in the caller script
language of ``callers.py``: steps joined by "/", ``w<seconds>`` waits,
``d<digits>`` keys DTMF (0-9, * and #, RFC 4733 events on payload 101, one
digit every ``digit_gap`` seconds, 0.25 by default), ``h`` hangs up.  A
script without ``h`` (the empty one too) keeps the call up until the far end
hangs up.  The far end may hang up during any step.  For an attended
transfer: ``script="w1/d*2/w2/d102/w5/h"`` waits 1 s, keys *2, waits 2 s
(Asterisk says "transfer"), keys 102, waits 5 s (Asterisk waits up to 3 s
for more digits when the dialplan could match a longer number; then 102
rings and answers) and hangs up, which completes the transfer.  UPDATEs in
a call are answered (``-aa``), re-INVITEs too (a wait they interrupt starts
over).

What each INVITE did is read back from SIPp's message trace (``-trace_msg``):
``phone.calls()`` lists one ``PhoneCall`` per INVITE (re-INVITEs and
retransmissions not counted), in arrival order, over all runs of the phone,
with times from the trace (SIPp's wall clock in epoch seconds, comparable
with ``time.time()``), never from polling:

    call.call_id      the SIP Call-ID
    call.arrived      when the INVITE arrived
    call.caller       the caller's number: P-Asserted-Identity user, else From user
    call.from_user    the From user
    call.caller_name  the From display name ('' when none)
    call.answered_at  when the phone sent 200 OK, or None
    call.confirmed_at when Asterisk's ACK of that 200 OK arrived, or None
    call.ended_at     when the call ended (CANCEL, 486, BYE), or None
    call.ended_by     "cancel" (Asterisk stopped the ringing), "busy" (the
                      phone refused), "far_end" (Asterisk's BYE), "phone"
                      (the phone's BYE), or None while ringing or talking
    call.state        "ringing", "talking", "cancelled", "busy" or "ended"
    call.answered     whether the phone answered

Waiting (poll with a deadline; an AssertionError carries the phone's logs,
an OperatorPhoneError says SIPp died meanwhile):
``phone.wait_for_call(predicate=None, timeout=15, what=..., index=0)``
returns the ``index``-th call once it exists and ``predicate(call)`` holds
(no predicate: as soon as it exists);
``phone.wait_for_calls(predicate, timeout=15, what=...)`` returns all calls
once ``predicate(calls)`` holds.

Typical use (``asterisk`` is a running ``AsteriskInstance``)::

    with OperatorPhone("7101", "secret", asterisk.sip_port, answer_after=1,
                       script="w2/d*2/w1/d12/w5/h") as phone:   # registered now
        ...  # make Asterisk ring PJSIP/7101
        call = phone.wait_for_call(timeout=10)                 # the first INVITE
        call = phone.wait_for_call(lambda c: c.ended_by, what="the call to end")
        assert call.caller == "5551234" and call.answered
        second = phone.wait_for_call(index=1)                  # the next INVITE

``start()`` returns once Asterisk accepted the registration (and raises
``OperatorPhoneError`` with SIPp's logs when it refused it);
``stop()`` ends SIPp (a call still up is left to Asterisk, as a phone pulled
from the wall leaves it) and, unless ``unregister=False``, unregisters the
contact so that Asterisk sees the phone offline at once (about 1 s);
``dial(number, digits="", hang_up_after=None)`` places a call from the
phone's account (a second SIPp, e.g. to dial the code that binds the phone
to an operator) and returns SIPp's result once the call is over;
``restart(**changes)`` runs it again with other ``answer_after``, ``busy``,
``script`` or ``digit_gap`` on the same port and number, without going
offline.  ``running`` says whether SIPp still runs; ``describe()`` gives the
settings, the calls and the logs for an assertion message.  The files
(rendered scenario, DTMF captures, traces) stay in ``workdir`` (a new
temporary folder by default), one ``run-N`` folder per start.

``OperatorPhones(asterisk_port, workdir)`` holds the phones of one test:
``add(number, password, **behaviour)`` starts one, ``phones[number]`` finds
it, ``timeline()`` lists every phone's calls as (number, call) by arrival
(who rang, in which order), and leaving the ``with`` block stops them all
at once.

The scenarios are ``scenarios/operator_register.xml`` (REGISTER, then stay)
and ``scenarios/operator_calls.xml`` (SIPp's out-of-call scenario: every
request outside a known call starts one, so one process takes any number
of calls), rendered per phone by ``render_calls_scenario``.
"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import quoteattr

from tests.testbed.callers import check_script, wait_for
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import (
    LOCAL_IP,
    MIN_PAUSE_MS,
    SCENARIO_DIR,
    SippError,
    SippProcess,
    SippResult,
    SippTimeout,
    dtmf_pcap,
    register,
    renumber_dtmf_pcap,
    run_sip_call,
    sipp_binary,
)

REGISTER_SCENARIO = SCENARIO_DIR / "operator_register.xml"
CALLS_TEMPLATE = SCENARIO_DIR / "operator_calls.xml"
MARKERS = ("<!--@ON_INVITE@-->", "<!--@RINGING@-->", "<!--@TALK@-->", "<!--@CONTROL@-->")

# Keys a test may press() in one call: each position has a capture per digit.
KEY_POSITIONS = 12
# SIPp 3.6 refuses ("Unable to load or parse") a scenario file this long.
SIPP_MAX_SCENARIO_BYTES = 65536
_DIGIT_NAMES = {**{d: d for d in "0123456789"}, "*": "star", "#": "pound"}

# SIPp writes its traces in local time: run it in UTC so the trace reads as epoch seconds.
SIPP_ENV_TZ = "UTC"


class OperatorPhoneError(SippError):
    """The phone could not register, or SIPp ended while it should run."""


@dataclass(frozen=True)
class PhoneCall:
    """One INVITE the phone received, and what became of it (see the module docstring)."""

    call_id: str
    arrived: float
    caller: str
    caller_name: str
    from_user: str
    answered_at: float | None = None
    confirmed_at: float | None = None  # Asterisk's ACK of the answer arrived
    ended_at: float | None = None
    ended_by: str | None = None

    @property
    def answered(self) -> bool:
        return self.answered_at is not None

    @property
    def state(self) -> str:
        if self.ended_by is None:
            return "talking" if self.answered else "ringing"
        return {"cancel": "cancelled", "busy": "busy"}.get(self.ended_by, "ended")


# --- the scenario -----------------------------------------------------------


def render_calls_scenario(
    *, answer_after: float | None, busy: bool, script: str, digit_gap: float, workdir: Path
) -> str:
    """The out-of-call scenario for one phone's behaviour; writes its DTMF captures into ``workdir``."""
    template = CALLS_TEMPLATE.read_text(encoding="iso-8859-1")
    for marker in MARKERS:
        if marker not in template:
            raise SippError(f"{CALLS_TEMPLATE} has no {marker} marker")
    gap_ms = int(round(digit_gap * 1000))
    if gap_ms < MIN_PAUSE_MS:
        raise ValueError(f"digit_gap must be at least {MIN_PAUSE_MS / 1000} s")
    # While it rings, a control INFO answers (answer()); so does the end of answer_after.
    ringing = ('<recv request="INFO" optional="true"{timeout} next="answer" />\n'
               '  <recv request="CANCEL" next="cancelled" />')
    if busy:
        on_invite, ringing = '<nop next="busy" />', ""
    elif answer_after is None:
        on_invite, ringing = "", ringing.format(timeout="")
    elif answer_after < 0:
        raise ValueError("answer_after must be None or at least 0")
    else:
        on_invite = ""
        ms = int(round(answer_after * 1000))
        ringing = ringing.format(timeout=f' timeout="{ms}" ontimeout="answer"') if ms else ""
    talk, seq, timestamp = _talk_steps(check_script(script) if script else [], gap_ms, workdir)
    # Keys on request only without a script (press()): they make the scenario long.
    control = _control_steps(seq, timestamp, workdir, KEY_POSITIONS if not script else 0)
    text = (template.replace(MARKERS[0], on_invite)
            .replace(MARKERS[1], ringing)
            .replace(MARKERS[2], "\n  ".join(talk))
            .replace(MARKERS[3], "\n  ".join(control)))
    if len(text.encode("iso-8859-1")) >= SIPP_MAX_SCENARIO_BYTES:
        raise ValueError(f"the scenario for script {script!r} is too long for SIPp "
                         f"({SIPP_MAX_SCENARIO_BYTES} bytes at most): use fewer steps")
    return text


def _talk_steps(steps: list[str], gap_ms: int, workdir: Path) -> tuple[list[str], int, int]:
    """Scenario elements for a call's script, and the RTP sequence number and timestamp after it.

    Every wait also takes the far end's BYE, a re-INVITE, or a control INFO (hang_up()).
    """
    out: list[str] = []
    labels = iter(range(1, 10**6))

    def wait(ms: int) -> None:
        # The BYE is optional, so a re-INVITE matches too: it is answered and
        # the wait starts over.
        k = next(labels)
        out.append(f'<label id="wait_{k}" />')
        out.append(f'<recv request="BYE" optional="true" timeout="{max(ms, 1)}" '
                   f'ontimeout="step_{k}" next="far_bye" />')
        out.append('<recv request="INFO" optional="true" next="phone_bye" />')  # hang_up()
        out.append('<recv request="INVITE" />')
        out.append(REINVITE_ANSWER)
        out.append(f'<recv request="ACK" next="wait_{k}" />')
        out.append(f'<label id="step_{k}" />')

    seq, timestamp, index = 1000, 16000, 0
    for step in steps:
        if step == "h":
            out.append('<nop next="phone_bye" />')
            return out, seq, timestamp
        if step.startswith("w"):
            wait(int(round(float(step[1:]) * 1000)))
            continue
        for digit in step[1:]:
            pcap = workdir / f"dtmf_{index:03d}.pcap"
            index += 1
            seq = renumber_dtmf_pcap(dtmf_pcap(digit), pcap, first_seq=seq, timestamp=timestamp)
            timestamp += 8 * gap_ms  # 8 kHz clock: the time this digit "takes"
            out.append(f"<nop><action><exec play_pcap_audio={quoteattr(str(pcap))} /></action></nop>"
                       f"<!-- digit {digit} -->")
            wait(gap_ms)  # the digit plays asynchronously: let it finish first
    out.append('<nop next="wait_bye" />')
    return out, seq, timestamp


def _control_steps(seq: int, timestamp: int, workdir: Path, positions: int) -> list[str]:
    """Scenario elements that carry out a control INFO's ``order`` after the script (press(), hang_up()).

    Written tersely (SIPp reads at most SIPP_MAX_SCENARIO_BYTES); the
    captures are named relative to ``workdir``, where SIPp runs.
    """
    def on(order: str, label: str) -> str:
        return (f'<nop><action><strcmp assign_to="c" variable="order" value="{order}"/>'
                f'<test assign_to="g" variable="c" compare="equal" value="0"/></action></nop>'
                f'<nop test="g" next="{label}"/>')

    tests, keys = [on("hang-up", "phone_bye")], []
    for position in range(positions):
        for digit, name in _DIGIT_NAMES.items():
            label, pcap = f"k{position}{name}", f"k{position:02d}{name}.pcap"
            renumber_dtmf_pcap(dtmf_pcap(digit), workdir / pcap, first_seq=seq + 10 * position,
                               timestamp=timestamp + 8000 * position)
            tests.append(on(f"key {position} {digit}", label))
            keys.append(f'<label id="{label}"/><nop><action><exec play_pcap_audio="{pcap}"/>'
                        '</action></nop><nop next="wait_bye"/>')
    return tests + ['<nop next="wait_bye" />'] + keys


# The phone's 200 OK to a re-INVITE (same SDP as its answer, a new version).
REINVITE_ANSWER = """<send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
      a=sendrecv

    ]]>
  </send>"""


# --- the message trace ------------------------------------------------------

_BLOCK_HEAD = re.compile(
    r"^-{20,} (\d{4}-\d\d-\d\d[ \t]\d\d:\d\d:\d\d\.\d+)[^\n]*\n"
    r"[A-Z]+ message (sent|received)[^\n]*\n", re.M)
_USER = re.compile(r"<?(?:sips?|tel):([^@;>]*)")
_DISPLAY = re.compile(r'^\s*"([^"]*)"|^\s*([^<"]+?)\s*<')


def trace_messages(text: str):
    """(when, sent, message) for each complete message of a SIPp message trace
    (``-trace_msg``), in order; a message still being written is left out."""
    heads = list(_BLOCK_HEAD.finditer(text))
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        body = text[head.end():end]
        if i + 1 == len(heads) and not body.endswith("\n\n"):
            return  # still being written
        when = datetime.fromisoformat(head.group(1).replace("\t", " ")) \
            .replace(tzinfo=timezone.utc).timestamp()
        yield when, head.group(2) == "sent", body.strip("\n")


def parse_trace(text: str) -> list[PhoneCall]:
    """Every INVITE in a SIPp message trace (``-trace_msg``) and its outcome, by arrival."""
    calls: dict[str, dict] = {}
    for when, sent, message in trace_messages(text):
        _apply(calls, when, sent, message)
    return sorted((PhoneCall(**c) for c in calls.values()), key=lambda c: c.arrived)


def _apply(calls: dict[str, dict], when: float, sent: bool, message: str) -> None:
    lines = message.splitlines()
    if not lines:
        return
    start, headers = lines[0], _headers(lines[1:])
    call_id = headers.get("call-id", "")
    method = (headers.get("cseq", "").split() or [""])[-1].upper()
    call = calls.get(call_id)
    if start.startswith("INVITE ") and not sent:
        if call is None and ";tag=" not in headers.get("to", ""):
            from_header = headers.get("from", "")
            from_user = _user(from_header)
            display = _DISPLAY.match(from_header)
            calls[call_id] = dict(
                call_id=call_id, arrived=when, from_user=from_user,
                caller=_user(headers.get("p-asserted-identity", "")) or from_user,
                caller_name=(display.group(1) or display.group(2) or "") if display else "",
                answered_at=None, confirmed_at=None, ended_at=None, ended_by=None)
        return
    if call is None or call["ended_by"]:
        return
    if sent and start.startswith("SIP/2.0 200") and method == "INVITE" and call["answered_at"] is None:
        call["answered_at"] = when
    elif not sent and start.startswith("ACK ") and call["answered_at"] and not call["confirmed_at"]:
        call["confirmed_at"] = when
    elif sent and start.startswith("SIP/2.0 486"):
        call.update(ended_at=when, ended_by="busy")
    elif not sent and start.startswith("CANCEL ") and call["answered_at"] is None:
        call.update(ended_at=when, ended_by="cancel")
    elif start.startswith("BYE "):
        call.update(ended_at=when, ended_by="phone" if sent else "far_end")


def _headers(lines: list[str]) -> dict[str, str]:
    """The first value of each header, by lower-case name (compact forms expanded)."""
    compact = {"i": "call-id", "f": "from", "t": "to"}
    headers: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            break
        name, _, value = line.partition(":")
        name = name.strip().lower()
        headers.setdefault(compact.get(name, name), value.strip())
    return headers


def _user(header: str) -> str:
    match = _USER.search(header)
    return match.group(1) if match else ""


# --- the phone --------------------------------------------------------------


class OperatorPhone:
    """One registered SIPp phone answering calls as told (see the module docstring)."""

    def __init__(
        self,
        number: str,
        password: str,
        asterisk_port: int,
        *,
        answer_after: float | None = 0.0,
        busy: bool = False,
        script: str = "",
        digit_gap: float = 0.25,
        asterisk_host: str = LOCAL_IP,
        workdir: Path | str | None = None,
    ):
        if not re.fullmatch(r"[0-9A-Za-z_.-]+", number):
            raise ValueError(f"not a phone number SIP can carry: {number!r}")
        self.number = number
        self.password = password
        self.asterisk_host = asterisk_host
        self.asterisk_port = asterisk_port
        self.answer_after = answer_after
        self.busy = busy
        self.script = script
        self.digit_gap = digit_gap
        self.workdir = Path(workdir) if workdir is not None else Path(
            tempfile.mkdtemp(prefix=f"operator-{number}-"))
        self.sip_port, self.media_port = sipp_ports()
        self._process: SippProcess | None = None
        self._runs = 0
        self._dials = 0
        self._keys: dict[str, int] = {}  # keys pressed so far, by Call-ID
        self._traces: list[Path] = []  # one per run: calls() reads them all

    # -- running ----------------------------------------------------------

    def start(self, timeout: float = 10.0) -> "OperatorPhone":
        """Start SIPp and return once Asterisk accepted the registration."""
        if self._process is not None:
            raise OperatorPhoneError(f"phone {self.number} is already running")
        for attempt in range(3):
            try:
                return self._start(timeout)
            except OperatorPhoneError as exc:
                # Another program took the free ports first: the first run may move.
                taken = exc.result is not None and "Unable to bind" in exc.result.stderr
                if not taken or self._runs > 1 or attempt == 2:
                    raise
                self._runs, self._traces = 0, []
                self.sip_port, self.media_port = sipp_ports()
        raise AssertionError("unreachable")

    def _start(self, timeout: float) -> "OperatorPhone":
        self._runs += 1
        run_dir = self.workdir / f"run-{self._runs}"
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a first run that could not bind its ports
        run_dir.mkdir(parents=True)
        calls = run_dir / "operator_calls.xml"
        calls.write_text(render_calls_scenario(
            answer_after=self.answer_after, busy=self.busy, script=self.script,
            digit_gap=self.digit_gap, workdir=run_dir), encoding="iso-8859-1")
        command = [
            sipp_binary(), f"{self.asterisk_host}:{self.asterisk_port}",
            "-sf", str(REGISTER_SCENARIO), "-oocsf", str(calls),
            "-au", self.number, "-ap", self.password, "-key", "user", self.number,
            "-m", "1", "-aa", "-nostdin",
            "-i", LOCAL_IP, "-mi", LOCAL_IP,
            "-p", str(self.sip_port), "-mp", str(self.media_port),
        ]  # fmt: skip
        process = SippProcess(command, run_dir, calls, env={"TZ": SIPP_ENV_TZ})
        self._traces.append(process.message_trace)
        deadline = time.monotonic() + timeout
        while "registered" not in _read(process.log_file):
            if process.proc.poll() is not None or time.monotonic() > deadline:
                raise OperatorPhoneError(
                    f"phone {self.number} did not register with {self.asterisk_host}:"
                    f"{self.asterisk_port} within {timeout} s", _result_of(process))
            time.sleep(0.05)
        self._process = process
        return self

    def stop(self, unregister: bool = True) -> None:
        """End SIPp; with ``unregister`` (the default) Asterisk then sees the phone offline."""
        process, self._process = self._process, None
        if process is None:
            return
        process.stop()
        if unregister:
            result = register(
                target_host=self.asterisk_host, target_port=self.asterisk_port,
                user=self.number, password=self.password, local_port=self.sip_port,
                expires=0, workdir=self.workdir / f"unregister-{self._runs}")
            if not result.ok:
                raise OperatorPhoneError(f"phone {self.number} could not unregister", result)

    def restart(self, **changes) -> "OperatorPhone":
        """Run again with other behaviour (answer_after, busy, script, digit_gap); same port, number."""
        unknown = set(changes) - {"answer_after", "busy", "script", "digit_gap"}
        if unknown:
            raise TypeError(f"cannot change {', '.join(sorted(unknown))}")
        self.stop(unregister=False)
        for name, value in changes.items():
            setattr(self, name, value)
        return self.start()

    def dial(self, number: str, *, digits: str = "", hang_up_after: float | None = None,
             timeout: float = 30.0) -> SippResult:
        """Call ``number`` from this phone's account and return when the call is over.

        A second SIPp on ports of its own places the call (Asterisk knows the
        endpoint by the From user, so it is this phone's call: e.g. dialling
        the code that binds the phone to an operator); the registration and
        the incoming calls go on meanwhile.  ``digits`` are keyed 0.5 s after
        the answer, 0.5 s apart; then the phone waits for Asterisk's BYE, or
        hangs up ``hang_up_after`` seconds after the last digit.
        """
        self._dials += 1
        sip, media = sipp_ports()
        return run_sip_call(
            target_host=self.asterisk_host, target_port=self.asterisk_port, number=number,
            user=self.number, password=self.password, digits=digits,
            local_port=sip, media_port=media, timeout=timeout,
            caller_hangs_up=hang_up_after is not None,
            after_digits_ms=int((hang_up_after or 0) * 1000),
            workdir=self.workdir / f"dial-{self._dials}")

    def answer(self, call: PhoneCall | None = None, timeout: float = 5.0) -> PhoneCall:
        """Answer a ringing call now (the one ringing when not given) and return it at once.

        For a phone that never answers by itself (``answer_after=None``) or
        not yet.  ``wait_for_call`` then sees ``answered``.
        """
        call = self._only(call, lambda c: c.state == "ringing", "ringing", timeout)
        self._control(call, "answer")
        return call

    def hang_up(self, call: PhoneCall | None = None, timeout: float = 5.0) -> PhoneCall:
        """Hang up a call that is up (the one up when not given) now, whatever its script does."""
        call = self._only(call, lambda c: c.state == "talking" and c.confirmed_at, "talking", timeout)
        self._control(call, "hang-up")
        return call

    def press(self, digits: str, call: PhoneCall | None = None, timeout: float = 5.0) -> PhoneCall:
        """Key ``digits`` now in the call that is up, one every ``digit_gap`` s; returns after the last.

        Only for a phone without a script (the script's waits would take
        the order for a hang-up); at most KEY_POSITIONS keys per call.
        """
        if self.script:
            raise OperatorPhoneError(f"phone {self.number} follows a script; press() needs script=''")
        for digit in digits:
            dtmf_pcap(digit)  # a clear error for a key SIPp cannot play
        call = self._only(call, lambda c: c.state == "talking" and c.confirmed_at, "talking", timeout)
        for digit in digits:
            position = self._keys.get(call.call_id, 0)
            if position >= KEY_POSITIONS:
                raise OperatorPhoneError(f"at most {KEY_POSITIONS} keys per call")
            self._control(call, f"key {position} {digit}")
            self._keys[call.call_id] = position + 1
            time.sleep(self.digit_gap)  # the keying rhythm: a digit plays ~160 ms
        return call

    def _only(self, call: PhoneCall | None, test, state: str, timeout: float) -> PhoneCall:
        """The one call in ``state`` (that call, when given), waiting up to ``timeout`` for it."""
        def found():
            calls = [c for c in self.calls() if test(c) and (call is None or c.call_id == call.call_id)]
            return calls if len(calls) == 1 else None

        what = f"one call {state}" + (f" with Call-ID {call.call_id}" if call else "")
        return self.wait_for_calls(lambda _calls: found(), timeout, what=what) and found()[0]

    def _control(self, call: PhoneCall, order: str) -> None:
        """Send the call's scenario the control INFO it waits for (see operator_calls.xml)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOCAL_IP, 0))
            port = sock.getsockname()[1]
            message = "\r\n".join([
                f"INFO sip:{self.number}@{LOCAL_IP}:{self.sip_port} SIP/2.0",
                f"Via: SIP/2.0/UDP {LOCAL_IP}:{port};branch=z9hG4bK-control-{secrets.token_hex(8)}",
                f"From: <sip:test-control@{LOCAL_IP}>;tag={secrets.token_hex(4)}",
                f"To: <sip:{self.number}@{LOCAL_IP}>",
                f"Call-ID: {call.call_id}",
                "CSeq: 1 INFO",
                f"X-Telecenter-Test: {order}",
                "Content-Length: 0", "", ""])
            sock.sendto(message.encode(), (LOCAL_IP, self.sip_port))

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.proc.poll() is None

    def __enter__(self) -> "OperatorPhone":
        return self.start() if self._process is None else self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- what happened ----------------------------------------------------

    def calls(self) -> list[PhoneCall]:
        """Every INVITE so far (all runs), in arrival order."""
        return sorted((call for trace in self._traces for call in parse_trace(_read(trace))),
                      key=lambda call: call.arrived)

    def wait_for_calls(self, predicate: Callable[[list[PhoneCall]], object],
                       timeout: float = 15.0, what: str = "the phone's calls") -> list[PhoneCall]:
        """The calls once ``predicate(calls)`` is true (poll with deadline; AssertionError with logs)."""
        def done() -> object:
            if self._process is not None and self._process.proc.poll() is not None:
                raise OperatorPhoneError(f"SIPp of phone {self.number} ended while waiting for "
                                         f"{what}\n{self.describe()}")
            return predicate(self.calls())

        try:
            wait_for(done, timeout, what=f"{what} ({self.number})")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.describe()}") from None
        return self.calls()

    def wait_for_call(self, predicate: Callable[[PhoneCall], object] | None = None,
                      timeout: float = 15.0, what: str = "an INVITE", index: int = 0) -> PhoneCall:
        """The ``index``-th call (by arrival) once it exists and ``predicate(call)`` is true."""
        calls = self.wait_for_calls(
            lambda calls: len(calls) > index and (predicate is None or predicate(calls[index])),
            timeout, what)
        return calls[index]

    def describe(self) -> str:
        """The phone's settings and SIPp's logs of the current (or last) run."""
        head = (f"operator phone {self.number} on {LOCAL_IP}:{self.sip_port} "
                f"(answer_after={self.answer_after}, busy={self.busy}, script={self.script!r}), "
                f"files in {self.workdir}")
        trace = self._traces[-1] if self._traces else None
        if trace is None:
            return head + " (never started)"
        errors = _read(trace.with_name("errors.log"))
        return (f"{head}\n--- calls ---\n" + "\n".join(map(repr, self.calls()))
                + (f"\n--- errors ---\n{errors.rstrip()}" if errors.strip() else "")
                + f"\n--- messages ---\n{_read(trace)[-6000:]}")


class OperatorPhones:
    """The phones of one test, made with ``add`` and all stopped (in parallel) at the end.

    A pytest fixture of a queue test::

        @pytest.fixture
        def operators(testbed, tmp_path):
            with OperatorPhones(testbed.asterisk.sip_port, tmp_path / "phones") as phones:
                yield phones

        a = operators.add("101", PASSWORD_101, answer_after=1)   # registered now
    """

    def __init__(self, asterisk_port: int, workdir: Path | str, asterisk_host: str = LOCAL_IP):
        self.asterisk_port = asterisk_port
        self.asterisk_host = asterisk_host
        self.workdir = Path(workdir)
        self.phones: dict[str, OperatorPhone] = {}

    def add(self, number: str, password: str, **behaviour) -> OperatorPhone:
        """A started (registered) phone ``number``; keyword arguments as for OperatorPhone."""
        if number in self.phones:
            raise ValueError(f"phone {number} is already in this test")
        phone = OperatorPhone(number, password, self.asterisk_port, asterisk_host=self.asterisk_host,
                              workdir=self.workdir / number, **behaviour)
        self.phones[number] = phone
        return phone.start()

    def __getitem__(self, number: str) -> OperatorPhone:
        return self.phones[number]

    def timeline(self) -> list[tuple[str, PhoneCall]]:
        """Every phone's calls as (phone number, call), by arrival: who rang, in which order."""
        return sorted(((number, call) for number, phone in self.phones.items() for call in phone.calls()),
                      key=lambda item: item[1].arrived)

    def describe(self) -> str:
        return "\n".join(phone.describe() for phone in self.phones.values())

    def stop_all(self) -> None:
        """Stop and unregister every phone that still runs, all at once."""
        running = [phone for phone in self.phones.values() if phone._process is not None]
        if running:
            with ThreadPoolExecutor(len(running)) as pool:
                list(pool.map(OperatorPhone.stop, running))

    def __enter__(self) -> "OperatorPhones":
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop_all()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _result_of(process: SippProcess):
    """SIPp's result after stopping it (it may still run when registration timed out)."""
    process.stop()
    try:
        return process.wait(5)
    except SippTimeout as exc:  # stop() has waited already; kept for safety
        return exc.result
