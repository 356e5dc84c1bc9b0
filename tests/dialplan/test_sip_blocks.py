"""The server's SIP guard on the real database: events in, blocks stored, the ACL reloaded.

AMI is a recording stand-in (the subscription and every reload, with the
ACL text Asterisk would read then); blocking against the real Asterisk is
in tests/admin_web/test_sip_blocks_asterisk.py.  Addresses are from the
documentation range 192.0.2.0/24, never a loopback address another test's
Asterisk could be asked to refuse.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from dialplan.sip_blocks import SipGuard
from dialplan.sip_guard import ACL_FILE, PJSIP_MODULE, BlockPolicy
from fastagi.database import open_pool

LINE_HOST = "192.0.2.50"


class RecordingAmi:
    """Stands in for fastagi.ami.AmiClient: what the guard subscribed to, and each reload."""

    def __init__(self, include_dir: Path):
        self.include_dir = include_dir
        self.callbacks = {}
        self.reloads: list[str] = []  # the ACL text at each reload

    def on_events(self, names, callback) -> None:
        self.callbacks.update(dict.fromkeys(names, callback))

    async def reload(self, *modules: str) -> None:
        assert modules == (PJSIP_MODULE,)
        self.reloads.append((self.include_dir / ACL_FILE).read_text())

    def emit(self, event: str, address: str, account: str = "201") -> None:
        self.callbacks[event]({"Event": event, "Service": "PJSIP", "AccountID": account,
                               "RemoteAddress": f"IPV4/UDP/{address}/5060"})


@pytest.fixture
def clean(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE sip_blocks RESTART IDENTITY")
        conn.execute("DELETE FROM lines WHERE name = 'guard-test'")
        conn.execute("INSERT INTO lines (name, host) VALUES ('guard-test', %s)", (LINE_HOST,))
    yield
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE sip_blocks RESTART IDENTITY")
        conn.execute("DELETE FROM lines WHERE name = 'guard-test'")


async def until(predicate, timeout: float = 5):
    """Poll ``predicate`` on the loop until it is true, or fail after ``timeout`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def run_guard(pg_url, tmp_path, policy, body):
    async def main():
        pool = await open_pool(pg_url, max_size=2)
        ami = RecordingAmi(tmp_path)
        guard = SipGuard(policy, pool, ami, tmp_path)
        guard.start()
        try:
            await until(lambda: ami.reloads)  # the ACL written at start
            return await body(ami)
        finally:
            guard.stop()
            await pool.close()

    return asyncio.run(main())


def blocks(pg_url) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT host(address), failures, last_event, account,"
                            " until - since FROM sip_blocks ORDER BY id").fetchall()


def test_the_limit_of_failures_stores_a_block_and_reloads_the_acl(pg_url, tmp_path, clean):
    async def body(ami):
        for _ in range(3):
            ami.emit("ChallengeResponseFailed", "192.0.2.7")
        for _ in range(3):
            ami.emit("InvalidAccountID", "192.0.2.8", account="admin")
        await asyncio.sleep(0.3)  # time for a wrongly started block to show
        assert blocks(pg_url) == [] and ami.reloads[-1].count("deny") == 0
        ami.emit("InvalidPassword", "192.0.2.7")
        await until(lambda: "deny = 192.0.2.7/32" in ami.reloads[-1])
        assert "192.0.2.8" not in ami.reloads[-1]

    run_guard(pg_url, tmp_path, BlockPolicy(max_failures=4), body)
    assert blocks(pg_url) == [("192.0.2.7", 4, "InvalidPassword", "201", timedelta(hours=1))]


def test_a_lines_host_is_never_blocked(pg_url, tmp_path, clean):
    async def body(ami):
        for _ in range(20):
            ami.emit("ChallengeResponseFailed", LINE_HOST)
        ami.emit("ChallengeResponseFailed", "192.0.2.9")
        ami.emit("ChallengeResponseFailed", "192.0.2.9")
        await until(lambda: "192.0.2.9" in ami.reloads[-1])
        assert LINE_HOST not in ami.reloads[-1]

    run_guard(pg_url, tmp_path, BlockPolicy(max_failures=2), body)
    assert [row[0] for row in blocks(pg_url)] == ["192.0.2.9"]


def test_refusals_of_a_blocked_address_make_no_second_block(pg_url, tmp_path, clean):
    async def body(ami):
        for _ in range(2):
            ami.emit("ChallengeResponseFailed", "192.0.2.7")
        await until(lambda: "192.0.2.7" in ami.reloads[-1])
        reloads = len(ami.reloads)
        for _ in range(5):  # pjsip refusing it now: FailedACL
            ami.emit("FailedACL", "192.0.2.7")
        await asyncio.sleep(0.3)
        assert len(ami.reloads) == reloads
        with psycopg.connect(pg_url, autocommit=True) as conn:  # an administrator lifts it
            conn.execute("UPDATE sip_blocks SET lifted_at = now(), lifted_by = 'admin'")
        ami.emit("ChallengeResponseFailed", "192.0.2.7")  # one failure is not two
        await asyncio.sleep(0.3)
        assert len(blocks(pg_url)) == 1

    run_guard(pg_url, tmp_path, BlockPolicy(max_failures=2), body)


def test_a_block_ends_on_time_and_blocks_stored_before_a_restart_are_enforced(
        pg_url, tmp_path, clean):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sip_blocks (address, since, until, failures, last_event)"
                     " VALUES ('192.0.2.11', now(), now() + interval '1 second', 10,"
                     " 'InvalidPassword'), ('192.0.2.12', now(), now() + interval '1 hour', 10,"
                     " 'InvalidPassword')")

    async def body(ami):
        assert "192.0.2.11" in ami.reloads[0] and "192.0.2.12" in ami.reloads[0]
        await until(lambda: "192.0.2.11" not in ami.reloads[-1], timeout=3)
        assert "192.0.2.12" in ami.reloads[-1]

    run_guard(pg_url, tmp_path, BlockPolicy(), body)
