"""Apply against the real Asterisk: SIPp phones register and call, lines route.

Rows go straight into the test database, then Apply (the library or the
`telecenter apply` command) renders them into the test bed's Asterisk.
SIPp plays the phones (REGISTER, then a UAS on the registered port), the
caller (tests/testbed/sipp.py's UAC) and a provider on 127.0.0.2.
"""

from __future__ import annotations

import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from dialplan import apply as applying
from dialplan import names
from dialplan.apply import ApplyFailed
from ivr.speaker import presynthesize_for_calls
from tests.conftest import require
from tests.dialplan.conftest import add_line, add_phone, add_queue
from tests.testbed.agi_server import TELECENTER
from tests.testbed.callers import wait_for
from tests.testbed.conftest import active_channels
from tests.testbed.ports import sipp_ports
from tests.testbed.sipp import register, run_sip_call, start_plain_call, start_uas

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

PROVIDER_IP = "127.0.0.2"
PASSWORDS = {"201": "Phone-201-secret", "202": "Phone-202-secret", "203": "Phone-203-secret"}


class Bed:
    """The test bed plus Apply's settings for it."""

    def __init__(self, testbed, conn, tmp_path):
        self.testbed = testbed
        self.asterisk = testbed.asterisk
        self.conn = conn
        self.tmp_path = tmp_path
        self.settings = testbed.settings()

    def apply(self) -> applying.Revision:
        return applying.apply_now(self.conn, self.settings, "test",
                                  presynthesize=presynthesize_for_calls)

    def phone(self, number: str) -> None:
        add_phone(self.conn, number, PASSWORDS[number])

    def register(self, number: str, port: int, password: str | None = None):
        return register(target_host="127.0.0.1", target_port=self.asterisk.sip_port, user=number,
                        password=password or PASSWORDS[number], local_port=port,
                        workdir=self.tmp_path / f"register-{number}-{port}")

    def call(self, caller: str, number: str, hold_ms: int = 1000, timeout: float = 30):
        sip, media = sipp_ports()
        return run_sip_call(target_host="127.0.0.1", target_port=self.asterisk.sip_port,
                            number=number, user=caller, password=PASSWORDS[caller], digits="",
                            local_port=sip, media_port=media, caller_hangs_up=True,
                            initial_pause_ms=0, after_digits_ms=hold_ms, timeout=timeout,
                            workdir=self.tmp_path / f"call-{caller}-{number}")

    def answering_phone(self, number: str):
        """``number`` registered from a port where a SIPp UAS then waits for a call."""
        sip, media = sipp_ports()
        registered = self.register(number, sip)
        assert registered.ok, registered.describe()
        return start_uas(local_port=sip, media_port=media, workdir=self.tmp_path / f"uas-{number}")

    def report(self, *results) -> str:
        return "\n".join(r.describe() for r in results) + "\n" + self.asterisk.describe_failure()


@pytest.fixture
def bed(testbed, config_db, tmp_path):
    require("sipp")
    yield Bed(testbed, config_db, tmp_path)
    config_db.execute("DELETE FROM queues")
    config_db.execute("UPDATE transfer_settings SET music_audio_id = NULL")
    config_db.execute("DELETE FROM phones")
    config_db.execute("DELETE FROM lines")
    Bed(testbed, config_db, tmp_path).apply()  # leave Asterisk without test phones


def contacts(bed) -> str:
    return bed.asterisk.rx("pjsip show contacts")


def test_phone_registers_with_its_password_and_a_wrong_one_is_refused(bed):
    bed.phone("201")
    bed.phone("202")
    bed.apply()
    port, _media = sipp_ports()
    result = bed.register("201", port)
    assert result.ok, bed.report(result)
    # Avail: the phone answered the qualify OPTIONS Asterisk sends a new contact.
    assert re.search(rf"Contact:\s+201/sip:201@127\.0\.0\.1:{port}\s+\S+\s+Avail",
                     contacts(bed)), contacts(bed)

    wrong = bed.register("202", sipp_ports()[0], password="not-the-password")
    assert not wrong.ok, wrong.describe()
    after_auth = wrong.messages.split("Authorization: Digest", 1)[1]
    assert re.search(r"SIP/2.0 (401|403) ", after_auth), wrong.describe()
    assert "202/sip:" not in contacts(bed)


def test_phone_calls_phone(bed):
    bed.phone("201")
    bed.phone("202")
    bed.apply()
    phone_b = bed.answering_phone("202")
    try:
        caller = bed.call("201", "202", hold_ms=1000)
        answered = phone_b.wait(timeout=15)
    finally:
        phone_b.stop()
    assert caller.ok and answered.ok, bed.report(caller, answered)
    assert "INVITE sip:202@127.0.0.1" in answered.messages
    assert re.search(r"^BYE sip:", answered.messages, re.M)


def test_a_caller_the_server_cannot_serve_reaches_the_fallback_phone(bed):
    """TELECENTER_FALLBACK_NUMBER: with the FastAGI server down, a call to the self-test
    rings phone 203 instead of the apology."""
    bed.phone("201")
    bed.phone("203")
    bed.settings = bed.settings.but(fallback_number="203")
    bed.apply()
    fallback_phone = bed.answering_phone("203")
    bed.testbed.server.stop()
    try:
        caller = bed.call("201", names.SELFTEST_NUMBER, hold_ms=1000)
        answered = fallback_phone.wait(timeout=20)
    finally:
        fallback_phone.stop()
        bed.testbed.server.start()
    assert caller.ok and answered.ok, bed.report(caller, answered)
    assert "INVITE sip:203@127.0.0.1" in answered.messages


def test_lines_route_out_by_regex_in_order_and_in_by_address(bed):
    """84951234567 matches both lines' regexes; prov1 comes first and takes it."""
    provider_port, provider_media = sipp_ports(PROVIDER_IP)
    bed.phone("201")
    add_line(bed.conn, "prov1", PROVIDER_IP, port=provider_port, outbound_regex=r"^8\d{10}$",
             position=1, inbound_number=names.SELFTEST_NUMBER)
    add_line(bed.conn, "later", "127.0.0.3", port=provider_port, outbound_regex=r"^8\d+$",
             position=2, reg_username="tc", reg_password="Reg-secret-1")
    bed.apply()
    assert f"line-later/sip:127.0.0.3:{provider_port}" in bed.asterisk.rx("pjsip show registrations")

    provider = start_uas(local_ip=PROVIDER_IP, local_port=provider_port,
                         media_port=provider_media, workdir=bed.tmp_path / "provider")
    try:
        caller = bed.call("201", "84951234567")
        received = provider.wait(timeout=15)
    finally:
        provider.stop()
    assert caller.ok and received.ok, bed.report(caller, received)
    assert f"INVITE sip:84951234567@{PROVIDER_IP}:{provider_port}" in received.messages

    nowhere = bed.call("201", "5551234")  # no line's regex matches
    assert not nowhere.ok and "SIP/2.0 404" in nowhere.messages, nowhere.describe()

    after = bed.testbed.mark()
    sip, media = sipp_ports(PROVIDER_IP)
    incoming = start_plain_call(target_host="127.0.0.1", target_port=bed.asterisk.sip_port,
                                number="4950000000", caller="4951112233", local_ip=PROVIDER_IP,
                                local_port=sip, media_port=media, hold_ms=3000,
                                workdir=bed.tmp_path / "incoming")
    try:
        result = incoming.wait(timeout=20)
    finally:
        incoming.stop()
    assert result.ok, bed.report(result)
    row = bed.testbed.finished_call("4951112233", after)
    assert row["called"] == names.SELFTEST_NUMBER and row["route"] == names.ROUTE_SELFTEST
    assert row["channel"].startswith("PJSIP/line-prov1-"), row


def test_apply_during_a_connected_call_does_not_drop_it(bed):
    bed.phone("201")
    bed.phone("202")
    bed.apply()
    phone_b = bed.answering_phone("202")
    with ThreadPoolExecutor(1) as pool:
        try:
            caller = pool.submit(bed.call, "201", "202", 8000)
            wait_for(lambda: active_channels(bed.asterisk) == 2, 10, what="the call to connect")
            wait_for(lambda: "ACK sip:" in phone_b.messages(), 10, what="B to get the ACK")
            bed.phone("203")
            revision = bed.apply()
            assert "203" in bed.asterisk.rx("pjsip list endpoints")
            assert active_channels(bed.asterisk) == 2
            result = caller.result(timeout=30)
            answered = phone_b.wait(timeout=15)
        finally:
            phone_b.stop()
    assert result.ok and answered.ok, bed.report(result, answered)
    # The phone hung up after its 8 s, well after the Apply: the call was not dropped.
    assert result.duration > 7
    assert revision.active


def test_cli_apply_and_rollback_restore_files_that_asterisk_serves(bed):
    env = {**os.environ, **bed.testbed.ami_env(), "DATABASE_URL": bed.testbed.pg_url,
           "TELECENTER_VAR": str(bed.tmp_path / "var")}

    def telecenter(*args) -> str:
        done = subprocess.run(
            [str(TELECENTER), "apply", "--out", str(bed.asterisk.include_dir),
             "--agi-port", str(bed.testbed.server.port), *args],
            capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return int(re.search(r"revision (\d+) applied", done.stdout).group(1))

    bed.phone("201")
    first = telecenter()
    bed.phone("202")
    second = telecenter("--user", "chief")
    assert "202/" in bed.asterisk.rx("pjsip list endpoints")

    back = telecenter("--rollback", str(first))
    with psycopg.connect(bed.testbed.pg_url) as conn:
        earlier = applying.get_revision(conn, first)
        rolled = applying.get_revision(conn, back)
        phones = [number for (number,) in conn.execute("SELECT number FROM phones")]
    assert rolled.rollback_of == first and rolled.active and back > second
    assert rolled.configuration == earlier.configuration and phones == ["201"]
    on_disk = {name: (bed.asterisk.include_dir / name).read_text() for name in rolled.files}
    assert on_disk == rolled.files
    endpoints = bed.asterisk.rx("pjsip list endpoints")
    assert "201/" in endpoints and "202/" not in endpoints
    assert f"Telecenter revision {back})" in bed.asterisk.rx(
        f"dialplan show s@{names.CONTEXT_REVISION}")
    assert "202" not in bed.asterisk.rx(f"dialplan show {names.CONTEXT_ENTRY}")


def test_rejected_reload_keeps_the_previous_revision_active(bed, monkeypatch):
    bed.phone("201")
    good = bed.apply()
    real_render = applying.render_all

    def render_something_asterisk_rejects(settings, config=None, revision=None):
        files = real_render(settings, config, revision)
        if revision is not None:  # the new revision, not the empty fallback
            internal = "pjsip_telecenter_internal.conf"
            files[internal] = files[internal].replace("dtmf_mode = rfc4733", "dtmf_mode = bogus")
        return files

    monkeypatch.setattr(applying, "render_all", render_something_asterisk_rejects)
    bed.phone("202")
    with pytest.raises(ApplyFailed, match="pjsip did not load endpoints .*202.*previous files are back"):
        bed.apply()

    active = bed.conn.execute("SELECT id FROM revisions WHERE active").fetchone()[0]
    assert active == good.id
    on_disk = {name: (bed.asterisk.include_dir / name).read_text() for name in good.files}
    assert on_disk == good.files
    endpoints = bed.asterisk.rx("pjsip list endpoints")
    assert "201/" in endpoints and "202/" not in endpoints
    assert f"Telecenter revision {good.id})" in bed.asterisk.rx(
        f"dialplan show s@{names.CONTEXT_REVISION}")


def test_a_queue_its_transfer_key_and_music_are_served_after_apply(bed):
    """Apply reloads the dialplan, the call features and music on hold: the queue answers
    its number, *2 is the attended transfer key, and the transfer music class plays the
    recording chosen, or Asterisk's own music when none is."""
    bed.phone("201")
    bed.phone("202")
    add_queue(bed.conn, "92000", "Операторы", ["201", "202"])
    bed.apply()
    queue = bed.asterisk.rx(f"dialplan show 92000@{names.CONTEXT_ENTRY}")
    assert f"Gosub({names.CONTEXT_QUEUE},s,1(${{EXTEN}}))" in queue, queue
    features = bed.asterisk.rx("features show")
    assert re.search(r"^Attended Transfer\s+\*2\s*$", features, re.M), features
    assert re.search(r"^Blind Transfer\s+#\s*$", features, re.M), features  # no current key
    classes = bed.asterisk.rx("moh show classes")
    assert re.search(rf"Class: {names.MOH_TRANSFER_CLASS}\s+Mode: files\s+Directory: moh",
                     classes), classes

    audio_id = bed.conn.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                                " VALUES ('Моцарт', 1000, 16044) RETURNING id").fetchone()[0]
    bed.settings.audio_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-b", "16",
                    str(bed.settings.audio_dir / f"{audio_id}.wav"), "synth", "1", "sine", "440"],
                   check=True)
    bed.conn.execute("UPDATE transfer_settings SET music_audio_id = %s", (audio_id,))
    bed.apply()
    folder = bed.settings.include_dir / "moh" / f"transfer-{audio_id}"
    assert [path.name for path in folder.iterdir()] == [f"{audio_id}.wav"]
    classes = bed.asterisk.rx("moh show classes")
    assert re.search(rf"Class: {names.MOH_TRANSFER_CLASS}\s+Mode: files\s+Directory: "
                     rf"{re.escape(str(folder))}", classes), classes
    assert "Class: default" in classes  # what everything else holds with
    assert "musicclass)=telecenter-transfer" in bed.asterisk.rx(
        f"dialplan show s@{names.CONTEXT_QUEUE}")
