"""Attended transfer from a queue call, on the real Asterisk with Telecenter's applied files.

The session's test bed (tests/conftest.py) with a queue, phones and transfer
music applied by Apply: the rendered dialplan, features (*2) and music on
hold, not a stand-in.  Operators and the phone a call is passed to are SIPp
operator phones (tests/testbed/operator_phone.py); callers are Local
channels with scripts (tests/testbed/callers.py), entering where a phone's
call enters, or where a line's call enters (the line's context marks them
external), and a real SIP call from the test provider on its line.

What Asterisk says is read from Asterisk: AMI events (music on hold
started, on which channel, which class), ``bridge show`` and its log of
the applications the server ran (``AGI Script Executing Application``).
"""

from __future__ import annotations

import re
import subprocess
import threading
from contextlib import contextmanager

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan import names
from tests.dialplan.conftest import add_line, add_queue, config_db  # noqa: F401 (fixture)
from tests.dialplan.test_apply_asterisk import PASSWORDS, PROVIDER_IP, bed  # noqa: F401 (fixture)
from tests.dialplan.test_numbers_asterisk import log_offset, log_since
from tests.testbed.callers import ami_session, place_call, wait_for
from tests.testbed.operator_phone import OperatorPhones
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import start_plain_call

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

QUEUE = "92000"
LINE = "prov1"


@pytest.fixture
def phones(bed, tmp_path):
    with OperatorPhones(bed.asterisk.sip_port, tmp_path / "phones") as made:
        yield made
    bed.asterisk.rx("channel request hangup all")


class AmiEvents:
    """AMI events of some kinds, as they arrive (pyst2 calls ``seen`` on its own thread)."""

    def __init__(self):
        self.events: list[dict] = []
        self.lock = threading.Lock()

    def seen(self, event, _manager) -> None:
        with self.lock:
            self.events.append(dict(event.headers))

    def named(self, name: str) -> list[dict]:
        with self.lock:
            return [e for e in self.events if e.get("Event") == name]


@contextmanager
def ami_events(asterisk, *kinds: str):
    events = AmiEvents()
    with ami_session(asterisk) as manager:
        for kind in kinds:
            manager.register_event(kind, events.seen)
        yield events


def transfer_music(bed) -> int:
    """A recording chosen as the transfer music ("Настройки перевода вызовов"); its id."""
    audio_id = bed.conn.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                                " VALUES ('Перевод', 2000, 32044) RETURNING id").fetchone()[0]
    bed.settings.audio_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16",
                    str(bed.settings.audio_dir / f"{audio_id}.wav"), "synth", "2", "sine", "440"],
                   check=True)
    bed.conn.execute("UPDATE transfer_settings SET music_audio_id = %s", (audio_id,))
    return audio_id


def bridges(asterisk) -> list[list[str]]:
    """The channels of each bridge Asterisk has now."""
    found = []
    for bridge_id in re.findall(r"^([0-9a-f-]{36})\s", asterisk.rx("bridge show all"), re.M):
        found.append(re.findall(r"Channel: (\S+)", asterisk.rx(f"bridge show {bridge_id}")))
    return found


def bridged(asterisk, *prefixes: str | tuple[str, ...]) -> list[str]:
    """Wait for a bridge of exactly one channel per prefix (a tuple: any of its prefixes);
    its channels."""
    def found():
        return next((b for b in bridges(asterisk) if len(b) == len(prefixes)
                     and all(any(c.startswith(p) for c in b) for p in prefixes)), None)

    return wait_for(found, 20, what=f"a bridge of {prefixes}")


def queue_record(bed, number: str, predicate, timeout: float = 20) -> dict:
    def check():
        with psycopg.connect(bed.testbed.pg_url, row_factory=dict_row) as conn:
            row = conn.execute("SELECT * FROM queue_calls WHERE number = %s"
                               " ORDER BY joined_at DESC LIMIT 1", (number,)).fetchone()
        return row if row is not None and predicate(row) else None

    return wait_for(check, timeout, what=f"the queue record of {number}")


def bridge_options(asterisk, offset: int, caller_channel: str) -> str:
    """The options the server's Bridge got for ``caller_channel``, read in Asterisk's log."""
    def found():
        return re.search(r"AGI Script Executing Application: \(Bridge\) Options: \("
                         + re.escape(caller_channel) + r",([A-Za-z]*)\)",
                         log_since(asterisk, offset))
    return wait_for(found, 10, what=f"the server's Bridge of {caller_channel}").group(1)


@pytest.fixture
def queue_with_transfer_music(bed):
    """Queue 92000 (member 201), phones 202 and 203, a line from the provider that
    sends its calls to the queue; transfer music chosen; all applied."""
    for number in ("201", "202", "203"):
        bed.phone(number)
    add_queue(bed.conn, QUEUE, "Операторы", ["201"])
    provider_port, _media = sipp_ports(PROVIDER_IP)
    add_line(bed.conn, LINE, PROVIDER_IP, port=provider_port, position=1, external=True,
             inbound_number=QUEUE)
    audio_id = transfer_music(bed)
    bed.apply()
    folder = bed.settings.include_dir / "moh" / f"transfer-{audio_id}"
    assert [p.name for p in folder.iterdir()] == [f"{audio_id}.wav"]  # Apply copied it
    assert re.search(rf"Class: {names.MOH_TRANSFER_CLASS}\s+Mode: files\s+Directory: "
                     rf"{re.escape(str(folder))}", bed.asterisk.rx("moh show classes"))
    yield audio_id
    bed.conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")
    bed.conn.execute("DELETE FROM audio_files WHERE id = %s", (audio_id,))


def test_the_operator_passes_the_caller_on_with_star_2_while_the_caller_hears_the_transfer_music(
        bed, phones, queue_with_transfer_music):
    operator = phones.add("201", PASSWORDS["201"], answer_after=0)
    target = phones.add("203", PASSWORDS["203"], answer_after=None)
    with ami_events(bed.asterisk, "MusicOnHoldStart", "MusicOnHoldStop",
                    "AttendedTransfer") as events:
        place_call(bed.asterisk, QUEUE, "w120/h", caller="79990002001")
        talk = bridged(bed.asterisk, "PJSIP/201-", f"Local/{QUEUE}@{names.CONTEXT_ENTRY}-")
        caller_channel = next(c for c in talk if c.startswith("Local/"))
        assert queue_record(bed, "79990002001", lambda r: r["outcome"] == "answered")[
            "answered_phone"] == "201"

        operator.press("*2")
        music = wait_for(lambda: [e for e in events.named("MusicOnHoldStart")
                                  if e.get("Channel") == caller_channel], 10,
                         what="music on hold for the caller")
        assert music[0]["Class"] == names.MOH_TRANSFER_CLASS, music
        operator.press(target.number)
        ringing = target.wait_for_call(timeout=15, what="the transfer target to ring")
        assert ringing.state == "ringing"
        target.answer()
        # The operator talks to 203 first (203 is dialled as a phone dials it: through a
        # Local channel), the caller still on hold.
        bridged(bed.asterisk, "PJSIP/201-", f"Local/203@{names.CONTEXT_PHONES}-")
        bridged(bed.asterisk, "PJSIP/203-", f"Local/203@{names.CONTEXT_PHONES}-")
        assert not [e for e in events.named("MusicOnHoldStop")
                    if e.get("Channel") == caller_channel], "the music stopped before the transfer"
        operator.hang_up()

        # The caller talks to 203: bridged with 203's leg (or 203 itself, once Asterisk
        # has optimised the Local channel away); the operator is in no bridge.
        bridged(bed.asterisk, caller_channel, ("PJSIP/203-", f"Local/203@{names.CONTEXT_PHONES}-"))
        assert target.calls()[0].state == "talking"
        assert not any(c.startswith("PJSIP/201-") for b in bridges(bed.asterisk) for c in b)
        wait_for(lambda: events.named("AttendedTransfer"), 10, what="the AttendedTransfer event")
        assert events.named("AttendedTransfer")[0].get("Result") == "Success", events.events
        wait_for(lambda: [e for e in events.named("MusicOnHoldStop")
                          if e.get("Channel") == caller_channel], 10,
                 what="the transfer music to stop once the caller talks to 203")
    ended = queue_record(bed, "79990002001", lambda r: r["talk_seconds"] is not None)
    assert ended["answered_phone"] == "201"


@pytest.mark.parametrize("entered_on", ["a phone", "an external line"])
def test_only_a_caller_who_did_not_come_in_on_an_external_line_may_start_a_transfer(
        bed, phones, queue_with_transfer_music, entered_on):
    """The caller keys *2 and 203 once talking: from a phone 203 rings (the operator is
    put on hold), from an external line nothing happens and the talk goes on."""
    phones.add("201", PASSWORDS["201"], answer_after=0)
    target = phones.add("203", PASSWORDS["203"], answer_after=None)
    script = "w5/d*2/w3/d203/w60/h"
    caller = "79990002101" if entered_on == "a phone" else "79990002102"
    offset = log_offset(bed.asterisk)
    if entered_on == "a phone":
        place_call(bed.asterisk, QUEUE, script, caller=caller)
        prefix = f"Local/{QUEUE}@{names.CONTEXT_ENTRY}-"
    else:  # where the provider's calls on the line enter: the line's own context
        with ami_session(bed.asterisk) as manager:
            reply = manager.originate(
                channel=f"Local/4950000000@{names.CONTEXT_FROM_LINE_PREFIX}{LINE}",
                context="telecenter-test-caller", exten="s", priority="1", timeout="30000",
                caller_id=caller, variables={"TC_SCRIPT": script}, run_async=True)
        assert reply.get_header("Response") == "Success"
        prefix = f"Local/4950000000@{names.CONTEXT_FROM_LINE_PREFIX}{LINE}-"
    talk = bridged(bed.asterisk, "PJSIP/201-", prefix)
    caller_channel = next(c for c in talk if c.startswith("Local/"))
    record = queue_record(bed, caller, lambda r: r["outcome"] == "answered")
    options = bridge_options(bed.asterisk, offset, caller_channel)
    if entered_on == "a phone":
        assert not record["external"] and sorted(options) == ["T", "t"], options
        target.wait_for_call(timeout=15, what="the caller's transfer to ring 203")
        target.answer()
        bridged(bed.asterisk, caller_channel, f"Local/203@{names.CONTEXT_PHONES}-")
        # The caller hangs up: the transfer completes, the operator talks to 203.
        bed.asterisk.rx(f"channel request hangup {caller_channel}")
        bridged(bed.asterisk, "PJSIP/201-", ("PJSIP/203-", f"Local/203@{names.CONTEXT_PHONES}-"))
    else:
        assert record["external"] and options == "T", options
        with pytest.raises(AssertionError):
            target.wait_for_call(timeout=12, what="a transfer the caller may not start")
        assert bridged(bed.asterisk, "PJSIP/201-", caller_channel)  # still talking


def test_a_caller_from_the_providers_external_line_is_bridged_without_the_right_to_transfer(
        bed, phones, queue_with_transfer_music):
    """A real SIP call from the provider on the external line: the server's Bridge gives the
    operator the transfer keys (T) and the caller none (no t)."""
    phones.add("201", PASSWORDS["201"], answer_after=0)
    offset = log_offset(bed.asterisk)
    sip, media = sipp_ports(PROVIDER_IP)
    incoming = start_plain_call(target_host="127.0.0.1", target_port=bed.asterisk.sip_port,
                                number="4950000000", caller="79990002201", local_ip=PROVIDER_IP,
                                local_port=sip, media_port=media, hold_ms=30000,
                                workdir=bed.tmp_path / "incoming")
    try:
        talk = bridged(bed.asterisk, "PJSIP/201-", f"PJSIP/line-{LINE}-")
        caller_channel = next(c for c in talk if c.startswith(f"PJSIP/line-{LINE}-"))
        record = queue_record(bed, "79990002201", lambda r: r["outcome"] == "answered")
        assert record["external"] and record["channel"] == caller_channel
        assert bridge_options(bed.asterisk, offset, caller_channel) == "T"
    finally:
        incoming.stop()
