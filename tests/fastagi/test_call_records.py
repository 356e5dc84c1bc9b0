"""Call records in the real PostgreSQL: written during the call, whatever happens to it."""

import asyncio
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg
import pytest

from fastagi.database import open_pool
from fastagi.migrations import apply_migrations
from fastagi.protocol import untrusted_env
from fastagi.settings import PROJECT_ROOT
from fastagi.call_records import CallLog, CallRecorder, close_abandoned_calls, storable

ODD_TEXTS = ["nul \x00 inside", "lone surrogate \udcff", "escape \x1b[2J", "\ud800 and \x00"]
ENV = untrusted_env(["agi_network_script: menu", "agi_uniqueid: 17.1", "agi_channel: PJSIP/1",
                     "agi_callerid: 79990000001", "agi_arg_1: 90000"])


async def until(condition, seconds=20.0):
    """Poll `condition` until it holds; fail after `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def call_row(db, call_id):
    row = db.execute("SELECT id, caller, outcome, ended_at FROM calls WHERE agi_call_id = %s",
                     (call_id,)).fetchone()
    events = [] if row is None else [(r["kind"], r["detail"]) for r in db.execute(
        "SELECT kind, detail FROM call_events WHERE call_id = %s ORDER BY seq", (row["id"],))]
    return row, events


def test_storable_keeps_ordinary_text_and_line_breaks():
    text = "Иванов И. И.\n520 End of proper usage.\tok"
    assert storable(text) == text


@pytest.mark.parametrize("odd", ODD_TEXTS)
def test_storable_replaces_what_a_text_column_cannot_hold(odd):
    stored = storable(odd)
    stored.encode("utf-8")  # a lone surrogate would raise here
    assert "\x00" not in stored and "\x1b" not in stored and "\ufffd" in stored


def record(pg_url, walk, **options):
    async def main():
        pool = await open_pool(pg_url, max_size=2)
        recorder = CallRecorder(pool, flush_seconds=0.01, **options)
        recorder.open()
        try:
            await walk(recorder)
        finally:
            await recorder.close(10)
            await pool.close()
        return recorder
    return asyncio.run(main())


def test_a_call_with_odd_characters_in_every_field_is_stored_whole(pg_url, db):
    async def walk(recorder):
        call_log = CallLog(recorder, "agi-odd-1")
        call_log.start(untrusted_env(["agi_network_script: menu", "agi_uniqueid: 17.\udcff",
                                      "agi_channel: PJSIP/1\x00", "agi_callerid: 12\udcff3"]))
        for odd in ODD_TEXTS:
            call_log.event("say", odd)
        call_log.finish("caller hung up \x00")

    record(pg_url, walk)
    row, events = call_row(db, "agi-odd-1")
    assert row["caller"] == "12\ufffd3"
    assert row["outcome"] == "caller hung up \ufffd"
    assert events == [("say", storable(odd)) for odd in ODD_TEXTS]


def test_steps_are_in_the_database_while_the_call_goes_on(pg_url, db):
    async def walk(recorder):
        call_log = CallLog(recorder, "agi-live-1")
        call_log.start(ENV)
        call_log.event("digits", "1")
        await until(lambda: call_row(db, "agi-live-1")[1] == [("digits", "1")])
        assert call_row(db, "agi-live-1")[0]["outcome"] is None  # still in progress
        call_log.event("digits", "2")
        call_log.finish("completed")

    record(pg_url, walk)
    row, events = call_row(db, "agi-live-1")
    assert row["outcome"] == "completed" and events == [("digits", "1"), ("digits", "2")]


@pytest.fixture
def own_postgres():
    """A PostgreSQL of this test's own, which it may stop and start."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    parent = Path(tempfile.mkdtemp(prefix="telecenter-test-pg-"))
    parent.chmod(0o755)
    servers = [pgserver.get_server(parent / "pgdata", cleanup_mode="stop")]
    apply_migrations(servers[0].get_uri(), PROJECT_ROOT / "sql")

    class Control:
        url = servers[0].get_uri()

        def stop(self):
            servers[-1].cleanup()

        def start(self):
            servers.append(pgserver.get_server(parent / "pgdata", cleanup_mode="stop"))

    yield Control()
    servers[-1].cleanup()
    shutil.rmtree(parent, ignore_errors=True)


def test_a_database_that_stops_and_comes_back_loses_no_step(own_postgres, caplog):
    def rows():
        with psycopg.connect(own_postgres.url) as conn:
            return conn.execute("SELECT c.outcome, count(e.seq) FROM calls c"
                                " LEFT JOIN call_events e ON e.call_id = c.id"
                                " WHERE c.agi_call_id = 'agi-blip-1' GROUP BY c.outcome").fetchall()

    async def walk(recorder):
        call_log = CallLog(recorder, "agi-blip-1")
        call_log.start(ENV)
        call_log.event("digits", "1")
        await until(lambda: recorder.pending == 0)
        own_postgres.stop()
        for digit in "234":
            call_log.event("digits", digit)
        call_log.finish("completed")
        await until(lambda: recorder.failed_writes >= 2)
        assert recorder.pending == 4
        own_postgres.start()
        await until(lambda: recorder.pending == 0, seconds=30)

    recorder = record(own_postgres.url, walk, max_retry_seconds=0.5, connect_seconds=1)
    assert rows() == [("completed", 4)]
    assert recorder.dropped_steps == 0
    assert "database unavailable" in caplog.text


def test_a_full_buffer_drops_steps_but_never_a_call_and_says_so(own_postgres, caplog):
    async def walk(recorder):
        own_postgres.stop()
        call_log = CallLog(recorder, "agi-full-1")
        call_log.start(ENV)
        for n in range(10):
            call_log.event("digits", str(n))
        call_log.finish("completed")
        own_postgres.start()
        await until(lambda: recorder.pending == 0, seconds=30)

    recorder = record(own_postgres.url, walk, max_pending=5, max_retry_seconds=0.5,
                      connect_seconds=1)
    with psycopg.connect(own_postgres.url) as conn:
        [(outcome, steps)] = conn.execute(
            "SELECT c.outcome, count(e.seq) FROM calls c LEFT JOIN call_events e"
            " ON e.call_id = c.id WHERE agi_call_id = 'agi-full-1' GROUP BY c.outcome").fetchall()
    assert outcome == "completed" and steps == 4
    assert recorder.dropped_steps == 6
    assert "6 steps had to be dropped" in caplog.text


def test_rows_a_crashed_server_left_open_are_closed_with_their_steps(pg_url, db):
    async def crash(recorder):
        call_log = CallLog(recorder, "agi-crash-1")
        call_log.start(ENV)
        call_log.event("digits", "7")
        await until(lambda: recorder.pending == 0)
        # The server dies here: no finish.

    record(pg_url, crash)

    async def restart():
        pool = await open_pool(pg_url, max_size=1)
        try:
            return await close_abandoned_calls(pool)
        finally:
            await pool.close()

    assert asyncio.run(restart()) >= 1
    row, events = call_row(db, "agi-crash-1")
    assert row["outcome"] == "server lost" and row["ended_at"] is not None
    assert events == [("digits", "7")]
