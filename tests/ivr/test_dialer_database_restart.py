"""The dialer when PostgreSQL stops and starts again in the middle of its calls.

A PostgreSQL of the test's own (the shared one serves every other test) is
stopped while two robocalls are under way and started again: the calls'
outcomes are logged once it is back, a task added afterwards is dialled, and
no task is dialled twice.  Asterisk's side is the runtime tests' recording AMI,
which holds each call until the test lets it be answered.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.ivr_plan import IvrPlan, OutboundLine
from fastagi.database import open_pool
from fastagi.migrations import apply_migrations
from fastagi.robocall_ami import RobocallReport
from fastagi.settings import PROJECT_ROOT
from ivr.dialer_runtime import DialerRuntime
from tests.ivr.test_dialer_runtime import FakeAmi, FixedPlans, ReadySpeaker, add

PLAN = IvrPlan(lines=(OutboundLine("provider", "line-provider", r"^7\d{10}$"),))


@pytest.fixture
def own_postgres():
    """An embedded PostgreSQL that the test may stop and start; its URL and the server."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    parent = Path(tempfile.mkdtemp(prefix="telecenter-test-pg-restart-"))
    parent.chmod(0o755)  # pgserver's own user must reach it when the tests run as root
    server = pgserver.get_server(parent / "pgdata", cleanup_mode="delete")
    url = server.get_uri()
    apply_migrations(url, PROJECT_ROOT / "sql")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE dialer_settings SET enabled = true, max_lines = 2,"
                     " window_start = '00:00', window_end = '23:59:59'")
    yield url, server
    server.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


def stop(server) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


class HeldAmi(FakeAmi):
    """Each call rings until the test answers it (``answer``)."""

    def __init__(self):
        super().__init__({})
        self.answer: asyncio.Event | None = None

    async def originate(self, channel_id, channel, context, seconds, caller_id, variables):
        self.originated.append((channel, context, variables))
        await self.answer.wait()
        return RobocallReport(True, "4", True)


async def until(check, seconds: float, what: str):
    """Poll ``check`` (async) until it returns something true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        try:
            found = await check()
        except psycopg.OperationalError:
            found = None
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_calls_under_way_while_the_database_restarts_are_logged_and_none_dialled_twice(
        own_postgres, tmp_path, monkeypatch):
    url, server = own_postgres
    monkeypatch.setattr("ivr.dialer_runtime.cached_by_any", lambda text, tts, d: d / "x.wav")
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        first, second = add(conn, "79000000001"), add(conn, "79000000002")
    ami = HeldAmi()

    async def scenario():
        ami.answer = asyncio.Event()
        pool = await open_pool(url, max_size=4)
        runtime = DialerRuntime(pool, url, FixedPlans(PLAN), ReadySpeaker(tmp_path), ami,
                                server="t", timezone_name="UTC", sounds_dir=tmp_path,
                                poll_seconds=0.2)
        await runtime.start()
        try:
            async def both_ringing():
                return len(ami.originated) == 2

            await until(both_ringing, 15, "both tasks to be dialled")
            await asyncio.to_thread(stop, server)
            ami.answer.set()  # the calls are answered while the database is away
            await asyncio.sleep(0.5)
            await asyncio.to_thread(server.ensure_postgres_running)

            async def outcomes():
                async with pool.connection() as c:
                    rows = await (await c.execute(
                        "SELECT outcome FROM robocall_attempts WHERE outcome IS NOT NULL"
                    )).fetchall()
                return len(rows) == 2

            await until(outcomes, 30, "both calls' outcomes to be logged")
            async with pool.connection() as c:
                third, = await (await c.execute(
                    "INSERT INTO robocall_tasks (phone, text) VALUES ('79000000003', 'Готово')"
                    " RETURNING id")).fetchone()

            async def third_done():
                async with pool.connection() as c:
                    row = await (await c.execute(
                        "SELECT done_at FROM robocall_tasks WHERE id = %s", (third,))).fetchone()
                return row and row[0]

            await until(third_done, 30, "the task added after the restart to be dialled")
        finally:
            runtime.stop()
            await pool.close()

    asyncio.run(scenario())
    assert sorted(channel for channel, _ctx, _vars in ami.originated) == [
        "PJSIP/79000000001@line-provider", "PJSIP/79000000002@line-provider",
        "PJSIP/79000000003@line-provider"]  # each once
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        tasks = conn.execute("SELECT id, outcome, attempts, answered FROM robocall_tasks"
                             " ORDER BY id").fetchall()
        attempts = conn.execute("SELECT task_id, outcome FROM robocall_attempts").fetchall()
    assert [(t["outcome"], t["attempts"], t["answered"]) for t in tasks] == \
        [("answered", 1, 1)] * 3
    assert sorted((a["task_id"], a["outcome"]) for a in attempts) == \
        [(task["id"], "answered") for task in tasks]  # one attempt each, none lost
    assert [t["id"] for t in tasks][:2] == [first, second]
