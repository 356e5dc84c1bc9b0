"""SIP accounts that cannot be listed or guessed, against a real Asterisk and SIPVicious.

A bed of its own: an Asterisk, `telecenter serve` and a database apart from
the shared test bed, with a small failure limit (BLOCK_AFTER failures in a
minute block an address for an hour), so the blocks made here never reach
another test's Asterisk.  Phones 201 and 202 are made and applied in the
admin.  The attacker sends from 127.0.0.2 (svcrack) and 127.0.0.4 (svwar);
the real phones from 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.rows import dict_row

from admin_web import create_app
from admin_web.users import create_user
from dialplan.instance import AsteriskInstance
from tests.admin_web.conftest import PASSWORD, AuthActions
from tests.admin_web.test_admin_asterisk import create_phone
from tests import conftest as shared
from tests.conftest import require
from tests.testbed.agi_server import TELECENTER, AgiServer
from tests.testbed.callers import wait_for
from tests.testbed.ports import free_port, sipp_ports
from tests.testbed.sip_probe import SipAnswer, register_probe
from tests.testbed.sipp import register, run_sip_call, start_uas
from tests.testbed.sipvicious import start_svcrack, svwar

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

BLOCK_AFTER = 6
PHONE_HOST = "127.0.0.1"
CRACKER = "127.0.0.2"
SCANNER = "127.0.0.4"
_REALM = re.compile(r'realm="([^"]*)"')


@dataclass
class Bed:
    testbed: shared.Testbed
    db_url: str
    client: object
    auth: AuthActions
    passwords: dict[str, str]

    @property
    def sip_port(self) -> int:
        return self.testbed.asterisk.sip_port

    def probe(self, user: str, source: str) -> SipAnswer | None:
        return register_probe(target_host=PHONE_HOST, target_port=self.sip_port, user=user,
                              source=source, timeout=2)

    def rows(self, query: str, params=()) -> list[dict]:
        with psycopg.connect(self.db_url, row_factory=dict_row) as conn:
            return conn.execute(query, params).fetchall()


@pytest.fixture(scope="module")
def guard_db(pg_url):
    """A database of this module's own, migrated, in the test PostgreSQL."""
    with shared.new_database(pg_url, "telecenter_sip_guard") as url:
        yield url


@pytest.fixture(scope="module")
def bed(guard_db, tmp_path_factory):
    """Asterisk + `telecenter serve` with BLOCK_AFTER, phones 201 and 202 applied from the admin."""
    require("asterisk", "sipp", "svwar", "svcrack")
    root = tmp_path_factory.mktemp("sip-guard")
    agi_port = free_port()
    instance = AsteriskInstance(root=root / "asterisk", include_dir=root / "include",
                                sip_port=free_port(), ami_port=free_port(), rtp_start=free_port())
    instance.rtp_end = instance.rtp_start + 100
    render = subprocess.run(
        [str(TELECENTER), "render", "--out", str(instance.include_dir), "--no-reload",
         "--agi-host", "127.0.0.1", "--agi-port", str(agi_port)],
        capture_output=True, text=True, env={**os.environ, "TELECENTER_VAR": str(root / "var")})
    assert render.returncode == 0, render.stderr
    instance.write_config()
    instance.start()
    testbed = shared.Testbed(instance, None, guard_db)
    testbed.server = server = AgiServer(agi_port, root / "var", {
        "DATABASE_URL": guard_db, "TELECENTER_INCLUDE_DIR": str(instance.include_dir),
        "TELECENTER_SIP_BLOCK_FAILURES": str(BLOCK_AFTER),
        "TELECENTER_SIP_BLOCK_WINDOW": "60", "TELECENTER_SIP_BLOCK_SECONDS": "3600",
        **testbed.ami_env()})
    server.start()
    try:
        with psycopg.connect(guard_db, autocommit=True) as conn:
            create_user(conn, "admin", "administrator", PASSWORD)
        app = create_app({"TESTING": True, "DATABASE_URL": guard_db,
                          "VAR_DIR": str(root / "admin-var"),
                          "TELECENTER_SETTINGS": testbed.settings()})
        client = app.test_client()
        auth = AuthActions(client)
        auth.login()
        passwords = {number: create_phone(auth, number) for number in ("201", "202")}
        applied = auth.post("/apply/run", form_page="/apply/")
        assert applied.status_code == 302, applied.get_data(as_text=True)
        yield Bed(testbed, guard_db, client, auth, passwords)
    finally:
        server.stop()
        instance.stop()


def test_challenges_for_existing_and_unknown_names_look_the_same(bed):
    existing, unknown = bed.probe("201", SCANNER), bed.probe("299", SCANNER)
    assert existing is not None and unknown is not None
    assert (existing.status, unknown.status) == (401, 401)
    challenge = existing.header("www-authenticate")
    assert _REALM.findall(challenge) == _REALM.findall(unknown.header("www-authenticate")) \
        == ["telecenter"], (existing, unknown)
    # Same headers, same parameters apart from the nonce and opaque values.
    assert existing.headers.keys() == unknown.headers.keys()
    shape = re.compile(r'(nonce|opaque)="[^"]*"')
    assert shape.sub(r"\1", challenge) == shape.sub(r"\1", unknown.header("www-authenticate"))


def test_the_server_header_names_no_asterisk_version(bed):
    answer = bed.probe("201", SCANNER)
    server = answer.header("server") or answer.header("user-agent")
    assert server == "Telecenter", answer.headers


def test_svwar_finds_no_extension(bed, tmp_path):
    found = svwar(target_host=PHONE_HOST, target_port=bed.sip_port, source=SCANNER,
                  local_port=free_port(), extensions="200-203", workdir=tmp_path)
    assert found.returncode == 0, found.output
    assert "found nothing" in found.output, found.output
    assert found.extensions_found == set(), found.output
    # It was answered, not ignored: Asterisk saw its unknown names.
    log = (bed.testbed.asterisk.log_dir / "security").read_text()
    assert re.search(r'SecurityEvent="InvalidAccountID".*AccountID="200".*'
                     rf'RemoteAddress="IPV4/UDP/{re.escape(SCANNER)}/', log), log[-2000:]


def test_svcrack_is_blocked_the_phones_keep_working_and_the_admin_lifts_the_block(
        bed, tmp_path):
    sip = bed.sip_port
    # The real phone 201 registers first: the guesser must not take its place.
    phone_port, phone_media = sipp_ports()
    registered = register(target_host=PHONE_HOST, target_port=sip, user="201",
                          password=bed.passwords["201"], local_port=phone_port,
                          workdir=tmp_path / "register-201")
    assert registered.ok, registered.describe()

    # The right password is in the list, after more wrong ones than the limit.
    words = [f"guess{n:03d}" for n in range(3 * BLOCK_AFTER)] + [bed.passwords["201"]]
    wordlist = tmp_path / "words.txt"
    wordlist.write_text("\n".join(words) + "\n")
    cracker = start_svcrack(target_host=PHONE_HOST, target_port=sip, source=CRACKER,
                            local_port=free_port(), user="201", wordlist=wordlist,
                            workdir=tmp_path / "svcrack")
    def refused() -> bool:
        return getattr(bed.probe("201", CRACKER), "status", None) == 403

    try:
        wait_for(lambda: not cracker.running or refused(), 30,
                 what="svcrack to end or its address to be refused")
    finally:
        cracked = cracker.finish(timeout=2)  # blocked, it waits for answers that never come
    assert cracked.passwords_found == {}, cracked.output
    # Asterisk refuses the address now, whatever name it tries.
    assert refused() and bed.probe("202", CRACKER).status == 403
    [block] = bed.rows("SELECT id, host(address) AS address, failures, last_event, account,"
                       " until - since AS span FROM sip_blocks WHERE lifted_at IS NULL")
    assert (block["address"], block["failures"], block["account"]) == (CRACKER, BLOCK_AFTER, "201")
    assert block["span"].total_seconds() == 3600

    page = bed.client.get("/sip-blocks/").get_data(as_text=True)
    row = re.search(rf'<tr data-address="{re.escape(CRACKER)}">(.*?)</tr>', page, re.S)
    assert row, page
    assert "заблокирован" in row.group(1) and f"<td>{BLOCK_AFTER}</td>" in row.group(1)
    assert "неверный пароль" in row.group(1), row.group(1)

    # 201 is still registered where the real phone is, and calls 202 meanwhile.
    contacts = bed.testbed.asterisk.rx("pjsip show contacts")
    assert re.search(rf"201/sip:201@{PHONE_HOST}:{phone_port}", contacts), contacts
    assert CRACKER not in contacts, contacts
    port_b, media_b = sipp_ports()
    registered = register(target_host=PHONE_HOST, target_port=sip, user="202",
                          password=bed.passwords["202"], local_port=port_b,
                          workdir=tmp_path / "register-202")
    assert registered.ok, registered.describe()
    phone_b = start_uas(local_port=port_b, media_port=media_b, workdir=tmp_path / "uas-202")
    try:
        caller_port, caller_media = sipp_ports()
        call = run_sip_call(target_host=PHONE_HOST, target_port=sip, number="202", user="201",
                            password=bed.passwords["201"], digits="", local_port=caller_port,
                            media_port=caller_media, caller_hangs_up=True, initial_pause_ms=0,
                            after_digits_ms=500, timeout=30, workdir=tmp_path / "call")
        answered = phone_b.wait(timeout=15)
    finally:
        phone_b.stop()
    assert call.ok and answered.ok, call.describe() + answered.describe()
    assert "INVITE sip:202@" in answered.messages

    # The administrator lifts the block: Asterisk answers the address again at once.
    lifted = bed.auth.post(f"/sip-blocks/{block['id']}/lift", form_page="/sip-blocks/")
    assert lifted.status_code == 302, lifted.get_data(as_text=True)
    answer = bed.probe("201", CRACKER)
    assert answer is not None and answer.status == 401, answer
    assert bed.rows("SELECT lifted_by FROM sip_blocks WHERE id = %s", (block["id"],)) == [
        {"lifted_by": "admin"}]
    history = bed.rows("SELECT user_login, action, object_type, new_value FROM change_log"
                       " WHERE object_type = 'sip_block'")
    assert [(h["user_login"], h["action"], h["new_value"]["address"]) for h in history] == [
        ("admin", "update", CRACKER)]
    page = bed.client.get("/sip-blocks/").get_data(as_text=True)
    row = re.search(rf'<tr data-address="{re.escape(CRACKER)}">(.*?)</tr>', page, re.S)
    assert "снята: admin" in row.group(1) and "Снять" not in row.group(1), row.group(1)
