"""The dialer's claims, leases and logged outcomes against a real PostgreSQL (what a real
call does is tests/ivr/test_dialer_asterisk.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime, time, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.ivr_plan import IVR_PLAN_FILE, IvrPlan, OutboundLine, plan_to_json
from dialplan.schedules import Schedule, Span
from fastagi.database import open_pool
from fastagi.robocall_ami import RobocallReport
from ivr import dialer
from ivr.dialer_runtime import (AttemptReport, DialerRuntime, claim_next, finish_attempt,
                                release_own_claims, renew_leases)
from ivr.plan_store import PlanStore
from tests.conftest import new_database

ALWAYS = lambda settings, now: True  # noqa: E731
NEVER = lambda settings, now: False  # noqa: E731


@pytest.fixture(scope="module")
def db(pg_url):
    with new_database(pg_url, "telecenter_dialer") as url:
        yield url


@pytest.fixture
def conn(db):
    with psycopg.connect(db, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("DELETE FROM robocall_attempts")
        conn.execute("DELETE FROM robocall_tasks")
        conn.execute("INSERT INTO dialer_settings (id) VALUES (1) ON CONFLICT DO NOTHING")
        conn.execute("UPDATE dialer_settings SET enabled = true, max_lines = 2, retry_minutes = 30,"
                     " give_up_no_answers = 2, give_up_failures = 2, ring_seconds = 10,"
                     " window_start = '00:00', window_end = '23:59:59'")
        yield conn


def add(conn, phone, priority=100, *, due_in=0, call_now=False, text="Ваше дело готово"):
    return conn.execute(
        "INSERT INTO robocall_tasks (phone, text, priority, next_try_at, call_now)"
        " VALUES (%s, %s, %s, now() + make_interval(secs => %s), %s) RETURNING id",
        (phone, text, priority, due_in, call_now)).fetchone()["id"]


def run(db, scenario):
    async def go():
        pool = await open_pool(db, max_size=4)
        try:
            return await scenario(pool)
        finally:
            await pool.close()
    return asyncio.run(go())


def claims(db, count, server="s1", in_window=ALWAYS, lease=60):
    async def scenario(pool):
        got = []
        for _ in range(count):
            async with pool.connection() as c:
                got.append(await claim_next(c, server, lease, in_window))
        return got
    return run(db, scenario)


def test_no_more_tasks_are_claimed_than_lines(conn, db):
    ids = [add(conn, f"7900000000{i}") for i in range(3)]
    first, second, third = claims(db, 3)
    assert [first.task_id, second.task_id] == ids[:2] and third is None
    rows = conn.execute("SELECT id, attempts, claimed_by FROM robocall_tasks ORDER BY id").fetchall()
    assert [(r["attempts"], r["claimed_by"]) for r in rows] == [(1, "s1"), (1, "s1"), (0, None)]
    attempts = conn.execute("SELECT task_id, phone, server, outcome FROM robocall_attempts").fetchall()
    assert {a["task_id"] for a in attempts} == set(ids[:2])
    assert all(a["outcome"] is None and a["server"] == "s1" for a in attempts)


def test_priority_first_then_due_time_and_call_now_before_all(conn, db):
    conn.execute("UPDATE dialer_settings SET max_lines = 10")
    low = add(conn, "79000000001", priority=100, due_in=-60)
    high_late = add(conn, "79000000002", priority=0, due_in=-10)
    high_early = add(conn, "79000000003", priority=0, due_in=-20)
    add(conn, "79000000004", priority=0, due_in=3600)  # not before an hour from now
    now = add(conn, "79000000005", priority=500, due_in=3600, call_now=True)
    got = [c.task_id if c else None for c in claims(db, 5)]
    assert got == [now, high_early, high_late, low, None]


def test_with_the_dialer_off_or_the_window_closed_only_call_now_is_dialled(conn, db):
    add(conn, "79000000001")
    asked = add(conn, "79000000002", call_now=True)
    assert [c.task_id if c else None for c in claims(db, 2, in_window=NEVER)] == [asked, None]
    conn.execute("UPDATE robocall_tasks SET attempt_started_at = NULL, claimed_by = NULL")
    conn.execute("UPDATE dialer_settings SET enabled = false")
    assert claims(db, 1) == [None]


def test_a_missing_settings_row_is_made_again(conn, db):
    conn.execute("DELETE FROM dialer_settings")
    add(conn, "79000000001", call_now=True)
    claim, = claims(db, 1)
    assert claim is not None and claim.settings == dialer.DialerSettings()
    assert conn.execute("SELECT count(*) AS n FROM dialer_settings").fetchone()["n"] == 1


def test_two_servers_claiming_at_once_never_exceed_the_lines(conn, db):
    conn.execute("UPDATE dialer_settings SET max_lines = 3")
    for i in range(20):
        add(conn, f"790000000{i:02d}")

    async def scenario(pool):
        async def claimer(server):
            got = []
            for _ in range(10):
                async with pool.connection() as c:
                    claim = await claim_next(c, server, 60, ALWAYS)
                if claim is not None:
                    got.append(claim.task_id)
            return got
        return await asyncio.gather(claimer("a"), claimer("b"), claimer("c"))

    got = run(db, scenario)
    taken = [t for each in got for t in each]
    assert len(taken) == 3 and len(set(taken)) == 3
    busy = conn.execute("SELECT count(*) AS n FROM robocall_tasks"
                        " WHERE attempt_started_at IS NOT NULL").fetchone()["n"]
    assert busy == 3


def test_an_answered_attempt_ends_the_task_and_is_logged(conn, db):
    add(conn, "79000000001")
    claim, = claims(db, 1)
    at = datetime.now(timezone.utc)
    report = AttemptReport(dialer.ANSWERED, "answered", "prov", at, at + timedelta(seconds=3),
                           at + timedelta(seconds=9), "robocall-x")

    async def scenario(pool):
        async with pool.connection() as c:
            await finish_attempt(c, claim, "s1", report)
    run(db, scenario)
    task = conn.execute("SELECT * FROM robocall_tasks").fetchone()
    assert task["done_at"] is not None and task["outcome"] == "answered"
    assert (task["attempts"], task["answered"], task["attempt_started_at"]) == (1, 1, None)
    attempt = conn.execute("SELECT * FROM robocall_attempts").fetchone()
    assert (attempt["outcome"], attempt["line"]) == ("answered", "prov")
    assert attempt["answered_at"] == at + timedelta(seconds=3)


def test_no_answers_are_retried_after_the_interval_then_given_up(conn, db):
    add(conn, "79000000001")
    for expected_done in (False, True):
        conn.execute("UPDATE robocall_tasks SET next_try_at = now()")
        claim, = claims(db, 1)
        assert claim is not None

        async def scenario(pool, claim=claim):
            async with pool.connection() as c:
                await finish_attempt(c, claim, "s1", AttemptReport(dialer.NO_ANSWER, "reason 3"))
        run(db, scenario)
        task = conn.execute("SELECT *, next_try_at - now() AS wait FROM robocall_tasks").fetchone()
        assert (task["done_at"] is not None) == expected_done
        if not expected_done:
            assert timedelta(minutes=29) < task["wait"] <= timedelta(minutes=30)
    assert task["outcome"] == "gave_up_no_answer" and task["no_answers"] == 2


def test_a_lease_that_ran_out_is_taken_back_and_the_task_dialled_again(conn, db):
    task = add(conn, "79000000001")
    first, = claims(db, 1, server="dead")
    conn.execute("UPDATE robocall_tasks SET claimed_until = now() - interval '1 second'")
    second, = claims(db, 1, server="alive")
    assert second.task_id == task and second.interrupted == (first.attempt_id,)
    attempts = conn.execute("SELECT id, outcome, server FROM robocall_attempts ORDER BY id").fetchall()
    assert [(a["outcome"], a["server"]) for a in attempts] == [("interrupted", "dead"),
                                                               (None, "alive")]
    row = conn.execute("SELECT failures, attempts, claimed_by FROM robocall_tasks").fetchone()
    assert (row["failures"], row["attempts"], row["claimed_by"]) == (1, 2, "alive")


def test_a_live_lease_is_never_taken_and_renewal_keeps_it(conn, db):
    conn.execute("UPDATE dialer_settings SET max_lines = 5")
    add(conn, "79000000001")
    first, = claims(db, 1, server="a", lease=1)
    before = conn.execute("SELECT claimed_until FROM robocall_tasks").fetchone()["claimed_until"]

    async def scenario(pool):
        async with pool.connection() as c:
            return await renew_leases(c, "a", [first.task_id], 3600)
    assert run(db, scenario) == 1
    after = conn.execute("SELECT claimed_until FROM robocall_tasks").fetchone()["claimed_until"]
    assert after > before + timedelta(minutes=50)
    assert claims(db, 1, server="b") == [None]


def test_a_server_starting_again_takes_back_its_own_claims_at_once(conn, db):
    add(conn, "79000000001")
    add(conn, "79000000002")
    mine, = claims(db, 1, server="me")
    claims(db, 1, server="other")

    async def scenario(pool):
        async with pool.connection() as c:
            return await release_own_claims(c, "me")
    assert run(db, scenario) == [mine.attempt_id]
    rows = conn.execute("SELECT phone, claimed_by FROM robocall_tasks ORDER BY id").fetchall()
    assert [r["claimed_by"] for r in rows] == [None, "other"]


class FakeAmi:
    """Records each originate; answers as told per number; the call ends at once."""

    connected = True

    def __init__(self, outcomes):
        self.outcomes = outcomes
        self.originated = []
        self.hung_up = []

    async def originate(self, channel_id, channel, context, seconds, caller_id, variables):
        self.originated.append((channel, context, variables))
        return self.outcomes[channel.split("/")[1].split("@")[0]]

    async def wait_ended(self, channel_id, limit):
        return None

    async def hang_up(self, channel_id):
        self.hung_up.append(channel_id)
        return True

    def on_connected(self, callback):
        self.on_login = callback


class FixedPlans:
    def __init__(self, plan):
        self.plan = plan

    def current(self):
        return self.plan


class ReadySpeaker:
    def __init__(self, cache_dir):
        self.cache_dir = cache_dir
        self.prepared = []

    def prepare(self, text, tts):
        self.prepared.append(text)
        return None


def test_the_runtime_dials_through_the_first_matching_line_and_logs_the_outcome(
        conn, db, tmp_path, monkeypatch):
    monkeypatch.setattr("ivr.dialer_runtime.cached_by_any", lambda text, tts, d: d / "x.wav")
    conn.execute("UPDATE dialer_settings SET give_up_failures = 1")
    answered = add(conn, "79000000001")
    busy = add(conn, "79000000002")
    nowhere = add(conn, "5550001")
    ami = FakeAmi({"79000000001": RobocallReport(True, "4", True),
                   "79000000002": RobocallReport(False, "0", True, "17")})
    # Both lines take 79...: the first in order is chosen; nothing takes 5550001.
    plan = IvrPlan(lines=(OutboundLine("mobile", "line-mobile", r"^7\d{10}$"),
                          OutboundLine("any7", "line-any7", r"^7\d+$")))

    async def scenario(pool):
        runtime = DialerRuntime(pool, db, FixedPlans(plan), ReadySpeaker(tmp_path), ami,
                                server="t", timezone_name="UTC", sounds_dir=tmp_path,
                                poll_seconds=0.2)
        await runtime.start()
        try:
            for _ in range(100):
                async with pool.connection() as c:
                    open_ = await (await c.execute(
                        "SELECT count(*) FROM robocall_tasks WHERE done_at IS NULL")).fetchone()
                if open_[0] == 1:
                    break
                await asyncio.sleep(0.1)
        finally:
            runtime.stop()
    run(db, scenario)
    assert sorted(ch for ch, _, _ in ami.originated) == ["PJSIP/79000000001@line-mobile",
                                                         "PJSIP/79000000002@line-mobile"]
    assert all(ctx == "telecenter-robocall" for _, ctx, _ in ami.originated)
    rows = {r["task_id"]: r for r in conn.execute("SELECT * FROM robocall_attempts")}
    assert rows[answered]["outcome"] == "answered" and rows[answered]["line"] == "mobile"
    assert rows[busy]["outcome"] == "busy"
    assert rows[busy]["reason"] == "reason 0, cause 17, rang"
    assert rows[nowhere]["outcome"] == "failed" and "no line" in rows[nowhere]["reason"]
    tasks = {r["id"]: r for r in conn.execute("SELECT * FROM robocall_tasks")}
    assert tasks[nowhere]["outcome"] == "gave_up_failures"
    assert tasks[busy]["done_at"] is None and tasks[busy]["no_answers"] == 1


def test_a_task_deleted_mid_call_keeps_its_line_until_the_attempt_ends(conn, db):
    conn.execute("UPDATE dialer_settings SET max_lines = 1")
    first = add(conn, "79000000001")
    add(conn, "79000000002")
    claim, = claims(db, 1)
    conn.execute("DELETE FROM robocall_tasks WHERE id = %s", (first,))
    assert claims(db, 1) == [None]  # the call to the deleted task's number goes on

    async def scenario(pool):
        async with pool.connection() as c:
            await finish_attempt(c, claim, "s1", AttemptReport(dialer.ANSWERED, "answered"))
    run(db, scenario)
    attempt = conn.execute("SELECT task_id, outcome FROM robocall_attempts").fetchone()
    assert attempt == {"task_id": None, "outcome": "answered"}
    assert claims(db, 1)[0] is not None


def test_nothing_is_claimed_while_ami_is_down(conn, db, tmp_path):
    task = add(conn, "79000000001")
    ami = FakeAmi({})
    ami.connected = False

    async def scenario(pool):
        runtime = DialerRuntime(pool, db, FixedPlans(IvrPlan()), ReadySpeaker(tmp_path), ami,
                                server="t", timezone_name="UTC", sounds_dir=tmp_path)
        await runtime._claim_all()
    run(db, scenario)
    assert conn.execute("SELECT attempts FROM robocall_tasks WHERE id = %s",
                        (task,)).fetchone()["attempts"] == 0


def test_an_attempt_ending_after_its_lease_was_lost_leaves_the_new_claim_alone(conn, db):
    add(conn, "79000000001")
    old, = claims(db, 1, server="s1")
    conn.execute("UPDATE robocall_tasks SET claimed_until = now() - interval '1 second'")
    new, = claims(db, 1, server="s1")  # taken back and claimed again by the same server
    assert new.task_id == old.task_id and new.attempt_id != old.attempt_id

    async def scenario(pool):
        async with pool.connection() as c:
            await finish_attempt(c, old, "s1", AttemptReport(dialer.ANSWERED, "late"))
    run(db, scenario)
    task = conn.execute("SELECT done_at, claimed_by FROM robocall_tasks").fetchone()
    assert task == {"done_at": None, "claimed_by": "s1"}  # the new attempt still holds it
    outcomes = [r["outcome"] for r in conn.execute(
        "SELECT outcome FROM robocall_attempts ORDER BY id")]
    assert outcomes == ["answered", None]  # the late one logged as it really ended


def test_the_window_follows_the_applied_plans_schedule(tmp_path):
    weekdays = Schedule(7, "Приём", production_calendar=False, timezone="Europe/Moscow",
                        hours=tuple(Span(day, "09:00", "18:00") for day in range(1, 6)))
    (tmp_path / IVR_PLAN_FILE).write_text(plan_to_json(IvrPlan(schedules={7: weekdays}), "test"))
    runtime = DialerRuntime(None, "", PlanStore(tmp_path), None, None, server="t",
                            timezone_name="Europe/Moscow", sounds_dir=tmp_path)
    settings = dialer.DialerSettings(enabled=True, window_start=time(8), window_end=time(20),
                                     schedule_id=7)
    wednesday_noon = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)  # 12:00 in Moscow
    saturday_noon = datetime(2026, 12, 5, 9, 0, tzinfo=timezone.utc)
    wednesday_evening = datetime(2026, 12, 2, 16, 0, tzinfo=timezone.utc)  # 19:00: window, not hours
    assert runtime.in_window(settings, wednesday_noon)
    assert not runtime.in_window(settings, saturday_noon)
    assert not runtime.in_window(settings, wednesday_evening)
    # A schedule the applied plan does not have keeps the dialer quiet rather than ringing at night.
    assert not runtime.in_window(dialer.DialerSettings(enabled=True, schedule_id=8), wednesday_noon)
