"""The test bed: real PostgreSQL, real Asterisk, the real FastAGI server.

One of each per test session. Tests that need Asterisk or SIPp are skipped
when they are missing, unless TELECENTER_REQUIRE_ASTERISK=1 (CI), where a
missing part fails the run instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from fastagi.migrations import apply_migrations
from fastagi.settings import PROJECT_ROOT, Settings
from tests.testbed.agi_server import TELECENTER, AgiServer
from tests.testbed.ports import free_port

REQUIRE_ASTERISK = os.environ.get("TELECENTER_REQUIRE_ASTERISK") == "1"


def require(*programs: str) -> None:
    """Skip (or, when required, fail) unless every program is installed."""
    missing = [p for p in programs if shutil.which(p) is None]
    if not missing:
        return
    message = f"not installed: {', '.join(missing)}"
    if REQUIRE_ASTERISK:
        pytest.fail(message + " (TELECENTER_REQUIRE_ASTERISK=1)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url():
    """A migrated database: DATABASE_URL when set, else an embedded PostgreSQL."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
        # Run as root, pgserver drops to its own user, which must reach the
        # data directory: pytest's own temporary folders are root-only.
        parent = Path(tempfile.mkdtemp(prefix="telecenter-test-pg-"))
        parent.chmod(0o755)
        server = pgserver.get_server(parent / "pgdata", cleanup_mode="delete")
        apply_migrations(server.get_uri(), PROJECT_ROOT / "sql")
        yield server.get_uri()
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)
        return
    apply_migrations(url, PROJECT_ROOT / "sql")
    yield url


@contextmanager
def new_database(pg_url: str, prefix: str, migrate: bool = True) -> Iterator[str]:
    """A database of its own on the test PostgreSQL (migrated unless told not to),
    for what must start from nothing; dropped afterwards."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(pg_url, dbname=name)
    if migrate:
        apply_migrations(url, PROJECT_ROOT / "sql")
    try:
        yield url
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_database(pg_url):
    """A migrated database of this test's own, where nothing was applied yet."""
    with new_database(pg_url, "telecenter_fresh") as url:
        yield url


@pytest.fixture
def db(pg_url):
    with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


@pytest.fixture(scope="session")
def testbed(tmp_path_factory, pg_url):
    """Asterisk + `telecenter serve`, wired together as in production."""
    require("asterisk")
    from dialplan.instance import AsteriskInstance
    from tests.testbed.callers import CALLER_DIALPLAN
    from tests.testbed.sipp import PJSIP_TEST_ENDPOINT

    root = tmp_path_factory.mktemp("bed")
    agi_port = free_port()
    instance = AsteriskInstance(
        root=root / "asterisk", include_dir=root / "include",
        sip_port=free_port(), ami_port=free_port(),
        rtp_start=free_port(), extra_extensions=CALLER_DIALPLAN,
        extra_pjsip=PJSIP_TEST_ENDPOINT(SIP_USER, SIP_PASSWORD),
    )
    instance.rtp_end = instance.rtp_start + 200
    render = subprocess.run(
        [str(TELECENTER), "render", "--out", str(instance.include_dir), "--no-reload",
         "--agi-host", "127.0.0.1", "--agi-port", str(agi_port)],
        capture_output=True, text=True,
        env={**os.environ, "TELECENTER_VAR": str(root / "var"), "DATABASE_URL": pg_url})
    assert render.returncode == 0, render.stderr
    instance.write_config()
    instance.start()
    bed = Testbed(instance, None, pg_url)
    bed.server = server = AgiServer(agi_port, root / "var", {
        "DATABASE_URL": pg_url, "TELECENTER_INCLUDE_DIR": str(instance.include_dir),
        # Every phone and provider of this bed sends from a loopback address:
        # a test that fails logins on purpose must not get the next test's
        # phones refused (blocking has a bed of its own in test_sip_blocks_asterisk).
        "TELECENTER_SIP_TRUSTED": "127.0.0.0/8",
        # The robocall tasks other tests write in this shared database are theirs:
        # the dialer is tested on a bed of its own (tests/ivr/test_dialer_asterisk.py).
        "TELECENTER_DIALER": "off",
        **bed.ami_env()})
    server.start()
    yield bed
    server.stop()
    instance.stop()


SIP_USER = "7001"
SIP_PASSWORD = "Sipp-test-7001-secret"


class Testbed:
    def __init__(self, asterisk, server: AgiServer, pg_url: str):
        self.asterisk = asterisk
        self.server = server
        self.pg_url = pg_url

    def ami_env(self) -> dict[str, str]:
        """Environment for a `telecenter` command that talks to this Asterisk."""
        return {
            "TELECENTER_AMI_PORT": str(self.asterisk.ami_port),
            "TELECENTER_AMI_USER": self.asterisk.ami_user,
            "TELECENTER_AMI_SECRET": self.asterisk.ami_secret,
        }

    def settings(self) -> Settings:
        """Settings that reach this bed: its AMI, its FastAGI server's port and var folder
        (where the server reads the TTS cache and the audio), its Asterisk's include folder."""
        a = self.asterisk
        return Settings(var_dir=self.server.var_dir, agi_port=self.server.port,
                        ami_port=a.ami_port, ami_user=a.ami_user, ami_secret=a.ami_secret,
                        include_dir_override=Path(a.include_dir))

    def apply(self, conn) -> None:
        """Apply the configuration in the database into this bed's Asterisk."""
        from dialplan.apply import apply_now
        from ivr.speaker import presynthesize_for_calls

        apply_now(conn, self.settings(), "test", presynthesize=presynthesize_for_calls)

    def mark(self) -> int:
        """The newest calls row now; rows after it belong to the test that asked."""
        with psycopg.connect(self.pg_url) as conn:
            return conn.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0]

    def finished_call(self, caller: str, after: int, timeout: float = 30) -> dict:
        """The calls row of `caller`'s call once it has ended (poll with deadline)."""
        from tests.testbed.callers import wait_for

        def ended():
            with psycopg.connect(self.pg_url, row_factory=dict_row) as conn:
                return conn.execute(
                    "SELECT * FROM calls WHERE caller = %s AND id > %s AND outcome IS NOT NULL"
                    " ORDER BY id DESC LIMIT 1", (caller, after)).fetchone()

        return wait_for(ended, timeout, what=f"the call from {caller} to end")

    def events(self, call_row: dict, kind: str | None = None) -> list[str]:
        with psycopg.connect(self.pg_url) as conn:
            rows = conn.execute(
                "SELECT kind, detail FROM call_events WHERE call_id = %s ORDER BY seq",
                (call_row["id"],)).fetchall()
        return [detail for k, detail in rows if kind is None or k == kind]


_asterisk_outcomes: list[str] = []


def pytest_runtest_logreport(report):
    if "asterisk" in report.keywords and (report.when == "call" or report.skipped):
        _asterisk_outcomes.append(report.outcome)


def pytest_sessionfinish(session, exitstatus):
    """With TELECENTER_REQUIRE_ASTERISK=1 a skipped or absent real-Asterisk test fails the run."""
    if not REQUIRE_ASTERISK or session.config.option.collectonly:
        return
    if "skipped" in _asterisk_outcomes or not _asterisk_outcomes:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "FAILED: real-Asterisk tests were skipped or none ran (TELECENTER_REQUIRE_ASTERISK=1)",
            red=True)
        session.exitstatus = 1
