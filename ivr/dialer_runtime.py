"""The robocall dialer at work: claims due tasks in PostgreSQL, dials them, logs each attempt.

Theory of operation
-------------------

One ``DialerRuntime`` runs in every FastAGI server; several servers may share
one database, and the line limit holds across all of them because it is
counted in the database, inside one transaction per claim:

1. **Claim** (``claim_next``).  ``SELECT ... FROM dialer_settings WHERE id = 1
   FOR UPDATE`` serialises the claimers of every server (a missing row is
   made again with the defaults).  Leases that ran out (their server died or
   hung) are taken back first: the attempt is logged ``interrupted`` and the
   task is due again at once (``ivr.dialer.after_attempt``).  Then the lines
   in use are counted: the tasks in progress, and the attempts whose task was
   deleted while they lasted (their call goes on); below ``max_lines``, the next task is taken with
   ``FOR UPDATE SKIP LOCKED``: one asked to be "called now" first (dialed
   even outside the window or with the dialer off), else, with the dialer on
   and the window open, the first due one by priority, due time and id (the
   partial index ``robocall_tasks_due``).  The task gets
   ``attempt_started_at``, ``claimed_by`` (this server) and ``claimed_until``
   (the lease), and its attempt row is inserted, all in the same commit.
2. **Speak, then dial** (``_attempt``).  The text is synthesised before the
   number is dialled (``Speaker.prepare``), so the callee never waits for it.
   The line is the first whose outbound regex takes the number, by the rule
   the dialplan's dial-out uses (``dialplan.validate.first_line_for`` over
   the applied plan's lines).  Then ``Originate PJSIP/<number>@<line>`` into
   ``[telecenter-robocall]`` with the attempt's id; when answered, route
   ``robocall`` (``RobocallRoute``) says the text and hangs up.
3. **Lease.**  While attempts last, the server renews its leases every third
   of ``lease_seconds``; a lease is never shorter than a ring plus the time
   to say a text, so a living server never loses one.  A server that starts
   again takes back its own claims at once (its earlier life is over) and
   hangs up any channel they left in Asterisk before dialing anew: a task is
   never dialed twice at once, and never lost.
4. **Outcome** (``finish_attempt``).  Asterisk's report (answered, or the
   reason code) becomes the attempt's outcome; the task's counters and its
   next try or its end are decided by ``ivr.dialer.after_attempt`` and
   written with the attempt's times, line and call record in one commit.
   A task deleted meanwhile only gets its attempt logged.
5. **Wake-ups.**  ``LISTEN telecenter_robocalls`` (tasks added, changed,
   called now; settings saved), every attempt's end, and a timer
   (``poll_seconds``: due times and the window's opening pass silently).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from dialplan import names
from dialplan.validate import first_line_for
from ivr import dialer
from ivr.dialer import Counts, DialerSettings
from ivr.plan_store import PlanStore
from ivr.prompts import prompt_path
from ivr.speaker import Speaker
from ivr.tts import cached_by_any

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "telecenter_robocalls"
# A lease outlives a ring by this much at least: the text said, the call's end reported.
LEASE_MARGIN_SECONDS = 60
DEFAULT_LEASE_SECONDS = 60
DEFAULT_POLL_SECONDS = 5.0
# The longest the dialer waits for a text's speech before the attempt fails.
SPEECH_SECONDS = 60.0
# The longest an answered call may last before the dialer stops waiting for its end.
CALL_LIMIT_SECONDS = 600.0
# An attempt whose task was deleted while it lasted holds its line until it is logged,
# or (its server died meanwhile) this long after it started.
ORPHAN_SECONDS = CALL_LIMIT_SECONDS + 300

SETTINGS_COLUMNS = ", ".join(f.name for f in fields(DialerSettings))


def channel_id(attempt_id: int) -> str:
    """The Asterisk channel id of an attempt's call: hung up by it after a crash."""
    return f"robocall-{attempt_id}"


def default_server_name(agi_port: int) -> str:
    return f"{socket.gethostname()}:{agi_port}"


@dataclass(frozen=True)
class Claim:
    """A task claimed for one attempt."""

    task_id: int
    attempt_id: int
    phone: str
    text: str
    call_now: bool
    ring_seconds: int
    settings: DialerSettings
    interrupted: tuple[int, ...] = ()  # attempts taken back in the same claim


async def dialer_settings(cur, *, lock: bool) -> DialerSettings:
    """The settings row (made again with the defaults when missing)."""
    query = f"SELECT {SETTINGS_COLUMNS} FROM dialer_settings WHERE id = 1"
    row = await (await cur.execute(query + (" FOR UPDATE" if lock else ""))).fetchone()
    if row is None:
        await cur.execute("INSERT INTO dialer_settings (id) VALUES (1) ON CONFLICT DO NOTHING")
        row = await (await cur.execute(query + (" FOR UPDATE" if lock else ""))).fetchone()
    return DialerSettings(**row)


async def _take_back(cur, settings: DialerSettings, condition: str, params: tuple,
                     now: datetime) -> list[int]:
    """End the attempts of tasks matching ``condition`` as interrupted; their attempt ids."""
    rows = await (await cur.execute(
        "SELECT t.id, t.attempts, t.answered, t.no_answers, t.failures,"
        " (SELECT max(a.id) FROM robocall_attempts a WHERE a.task_id = t.id) AS attempt_id"
        f" FROM robocall_tasks t WHERE t.attempt_started_at IS NOT NULL AND {condition}"
        " FOR UPDATE SKIP LOCKED", params)).fetchall()
    for row in rows:
        counts = Counts(row["attempts"], row["answered"], row["no_answers"], row["failures"])
        after = dialer.after_attempt(counts, dialer.INTERRUPTED, settings, now)
        await _store_task(cur, row["id"], after)
        await cur.execute(
            "UPDATE robocall_attempts SET outcome = %s, ended_at = %s, reason = %s"
            " WHERE id = %s AND outcome IS NULL",
            (dialer.INTERRUPTED, now, "the server holding it stopped or died", row["attempt_id"]))
        log.warning("robocall task %s: attempt %s interrupted (its server stopped or died); %s",
                    row["id"], row["attempt_id"],
                    "given up" if after.done else "due again")
    return [row["attempt_id"] for row in rows if row["attempt_id"] is not None]


async def _store_task(cur, task_id: int, after: dialer.AfterAttempt) -> None:
    c = after.counts
    await cur.execute(
        "UPDATE robocall_tasks SET answered = %s, no_answers = %s, failures = %s,"
        " attempt_started_at = NULL, claimed_by = NULL, claimed_until = NULL,"
        " done_at = CASE WHEN %s THEN now() END, outcome = %s,"
        " next_try_at = coalesce(%s, next_try_at) WHERE id = %s",
        (c.answered, c.no_answers, c.failures, after.done, after.task_outcome,
         after.next_try_at, task_id))


async def claim_next(conn, server: str, lease_seconds: float,
                     in_window: Callable[[DialerSettings, datetime], bool],
                     now: datetime | None = None) -> Claim | None:
    """Claim the next task to dial, in one transaction (see the module doc); None when
    the lines are all in use or nothing may be dialled now."""
    now = now or datetime.now(timezone.utc)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        # Locked first, in a statement of its own: each later statement then reads what
        # the claimer before us committed (READ COMMITTED takes a snapshot per statement).
        settings = await dialer_settings(cur, lock=True)
        lines = await (await cur.execute(
            "SELECT count(*) FILTER (WHERE claimed_until >= now()) AS live,"
            " count(*) FILTER (WHERE claimed_until < now()) AS expired,"
            " (SELECT count(*) FROM robocall_attempts WHERE outcome IS NULL AND task_id IS NULL"
            "  AND started_at > now() - make_interval(secs => %s)) AS orphans"
            " FROM robocall_tasks WHERE attempt_started_at IS NOT NULL",
            (ORPHAN_SECONDS,))).fetchone()
        interrupted = (await _take_back(cur, settings, "t.claimed_until < now()", (), now)
                       if lines["expired"] else [])
        if lines["live"] + lines["orphans"] >= settings.max_lines:
            return _nothing(interrupted)
        select = ("SELECT id, call_now FROM robocall_tasks"
                  " WHERE done_at IS NULL AND attempt_started_at IS NULL AND {}"
                  " ORDER BY {} LIMIT 1 FOR UPDATE SKIP LOCKED")
        task = await (await cur.execute(select.format("call_now", "id"))).fetchone()
        if task is None and dialer.may_dial(False, settings.enabled, in_window(settings, now)):
            task = await (await cur.execute(select.format(
                "next_try_at <= now()", "priority, next_try_at, id"))).fetchone()
        if task is None:
            return _nothing(interrupted)
        lease = max(lease_seconds, settings.ring_seconds + LEASE_MARGIN_SECONDS)
        # call_now is only set when it was true: setting it wakes every dialer (its trigger).
        claimed = await (await cur.execute(
            "WITH task AS (UPDATE robocall_tasks SET attempt_started_at = now(),"
            " claimed_by = %s, claimed_until = now() + make_interval(secs => %s),"
            f" attempts = attempts + 1{', call_now = false' if task['call_now'] else ''}"
            " WHERE id = %s RETURNING id, phone, text)"
            " INSERT INTO robocall_attempts (task_id, phone, text, server)"
            " SELECT id, phone, text, %s FROM task RETURNING id, task_id, phone, text",
            (server, lease, task["id"], server))).fetchone()
        return Claim(claimed["task_id"], claimed["id"], claimed["phone"], claimed["text"],
                     task["call_now"], settings.ring_seconds, settings, tuple(interrupted))


class _Nothing(Claim):
    """No task claimed, but attempts were taken back: their channels must go."""


def _nothing(interrupted: list[int]) -> Claim | None:
    if not interrupted:
        return None
    return _Nothing(0, 0, "", "", False, 0, DialerSettings(), tuple(interrupted))


async def release_own_claims(conn, server: str, now: datetime | None = None) -> list[int]:
    """A server starting again takes back what its earlier life held; the attempt ids."""
    now = now or datetime.now(timezone.utc)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        settings = await dialer_settings(cur, lock=True)
        return await _take_back(cur, settings, "t.claimed_by = %s", (server,), now)


@dataclass(frozen=True)
class AttemptReport:
    """What happened to one attempt, as the runtime saw it."""

    outcome: str
    reason: str = ""
    line: str = ""
    dialed_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    unique_id: str = ""  # the call's channel id: links the call record


async def finish_attempt(conn, claim: Claim, server: str, report: AttemptReport) -> None:
    """Log the attempt and decide the task's next try or end, in one commit."""
    ended = report.ended_at or datetime.now(timezone.utc)
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        settings = await dialer_settings(cur, lock=False)
        task = await (await cur.execute(
            "SELECT attempts, answered, no_answers, failures FROM robocall_tasks t"
            " WHERE id = %s AND claimed_by = %s AND attempt_started_at IS NOT NULL"
            # still this attempt's claim (a lease lost and the task claimed again is not)
            " AND NOT EXISTS (SELECT 1 FROM robocall_attempts a WHERE a.task_id = t.id"
            " AND a.id > %s) FOR UPDATE",
            (claim.task_id, server, claim.attempt_id))).fetchone()
        if task is not None:
            counts = Counts(task["attempts"], task["answered"], task["no_answers"],
                            task["failures"])
            await _store_task(cur, claim.task_id,
                              dialer.after_attempt(counts, report.outcome, settings, ended))
        await cur.execute(
            "UPDATE robocall_attempts SET outcome = %s, reason = %s, line = %s, dialed_at = %s,"
            " answered_at = %s, ended_at = %s, call_id = (SELECT id FROM calls"
            " WHERE unique_id = %s AND unique_id <> '' ORDER BY id DESC LIMIT 1) WHERE id = %s",
            (report.outcome, report.reason[:500], report.line, report.dialed_at,
             report.answered_at, ended, report.unique_id, claim.attempt_id))


async def renew_leases(conn, server: str, task_ids: list[int], lease_seconds: float) -> int:
    """Push this server's leases on ``task_ids`` forward; how many it still holds."""
    cur = await conn.execute(
        "UPDATE robocall_tasks SET claimed_until ="
        " greatest(claimed_until, now() + make_interval(secs => %s))"
        " WHERE claimed_by = %s AND id = ANY(%s)", (lease_seconds, server, task_ids))
    return cur.rowcount


class DialerRuntime:
    """Claims and dials on the server's loop (see the module doc)."""

    def __init__(self, pool, db_url: str, plans: PlanStore, speaker: Speaker, ami,
                 *, server: str, timezone_name: str, sounds_dir: Path,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 poll_seconds: float = DEFAULT_POLL_SECONDS,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.pool, self.db_url, self.plans, self.speaker, self.ami = (pool, db_url, plans,
                                                                      speaker, ami)
        self.server = server
        self.timezone_name = timezone_name
        self.sounds_dir = sounds_dir
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self._wake = asyncio.Event()
        self._active: dict[int, asyncio.Task] = {}  # task id -> its attempt
        self._tasks: list[asyncio.Task] = []
        self._waiting_for_ami = False

    def in_window(self, settings: DialerSettings, now: datetime) -> bool:
        """Inside the daily window and, when the settings name a schedule, inside the
        working hours of that schedule as the applied plan has it (a schedule the plan
        lacks keeps the window closed)."""
        schedule = (self.plans.current().schedules.get(settings.schedule_id)
                    if settings.schedule_id is not None else None)
        return dialer.window_open(now, settings, self.timezone_name,
                                  schedule.is_working if schedule is not None else None)

    async def start(self) -> None:
        """Take back this server's earlier claims, then claim, listen and renew."""
        async with self.pool.connection() as conn:
            leftovers = await release_own_claims(conn, self.server)
        if self.ami is not None:
            self.ami.on_connected(self.wake)
        self._tasks = [asyncio.ensure_future(_logged(self._run(leftovers), "claiming")),
                       asyncio.ensure_future(_logged(self._listen(), "listening")),
                       asyncio.ensure_future(_logged(self._renew(), "renewing leases"))]

    def stop(self) -> None:
        """Stop claiming; attempts under way are left to finish in Asterisk (their leases
        run out, or the next start takes them back)."""
        for task in self._tasks + list(self._active.values()):
            task.cancel()

    def wake(self) -> None:
        self._wake.set()

    async def _run(self, leftovers: list[int]) -> None:
        await self._hang_up(leftovers)  # before any of their tasks is dialled again
        while True:
            self._wake.clear()
            try:
                await self._claim_all()
            except (psycopg.Error, OSError) as exc:
                log.warning("robocalls: cannot claim tasks now (%s)", exc)
            except Exception:
                log.exception("robocalls: claiming failed")
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
            except asyncio.TimeoutError:
                pass

    async def _claim_all(self) -> None:
        if self.ami is not None and not self.ami.connected:
            if not self._waiting_for_ami:
                log.info("robocalls: AMI is not connected; no task is claimed until it is")
            self._waiting_for_ami = True
            return  # a task claimed now could only fail, and count against its give-up
        self._waiting_for_ami = False
        while True:
            async with self.pool.connection() as conn:
                claim = await claim_next(conn, self.server, self.lease_seconds, self.in_window,
                                         self.clock())
            if claim is None:
                return
            await self._hang_up(list(claim.interrupted))
            if isinstance(claim, _Nothing):
                continue
            attempt = asyncio.ensure_future(self._attempt(claim))
            self._active[claim.task_id] = attempt
            attempt.add_done_callback(lambda _t, task_id=claim.task_id: self._ended(task_id))

    def _ended(self, task_id: int) -> None:
        self._active.pop(task_id, None)
        self.wake()

    async def _hang_up(self, attempt_ids: list[int]) -> None:
        if self.ami is None:
            return
        for attempt_id in attempt_ids:
            await self.ami.hang_up(channel_id(attempt_id))

    async def _listen(self, retry_seconds: float = 5.0) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.db_url,
                                                                 autocommit=True) as conn:
                    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.wake()
                    async for _notice in conn.notifies():
                        self.wake()
            except psycopg.OperationalError as exc:
                log.warning("robocalls: listening failed (%s); again in %.0f s", exc,
                            retry_seconds)
                await asyncio.sleep(retry_seconds)

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            if not self._active:
                continue
            try:
                async with self.pool.connection() as conn:
                    await renew_leases(conn, self.server, list(self._active),
                                       self.lease_seconds)
            except (psycopg.Error, OSError) as exc:
                log.warning("robocalls: leases not renewed (%s)", exc)

    async def _attempt(self, claim: Claim) -> None:
        try:
            report = await self._dial(claim)
        except asyncio.CancelledError:
            raise  # the server stops: the lease or the next start takes it back
        except Exception as exc:
            log.exception("robocall task %s: attempt %s failed", claim.task_id, claim.attempt_id)
            report = AttemptReport(dialer.FAILED, f"error: {exc}")
        log.info("robocall task %s (%s): attempt %s %s %s", claim.task_id, claim.phone,
                 claim.attempt_id, report.outcome, report.reason)
        for delay in (0.5, 2, 5, None):
            try:
                async with self.pool.connection() as conn:
                    await finish_attempt(conn, claim, self.server, report)
                return
            except (psycopg.Error, OSError) as exc:
                if delay is None:
                    log.error("robocall task %s: attempt %s not logged (%s); its lease will run"
                              " out and the task is tried again", claim.task_id,
                              claim.attempt_id, exc)
                    return
                await asyncio.sleep(delay)

    async def _dial(self, claim: Claim) -> AttemptReport:
        plan = self.plans.current()
        line = first_line_for(plan.lines, claim.phone)
        if line is None:
            return AttemptReport(dialer.FAILED, "no line's outbound regex takes this number")
        if self.ami is None:
            return AttemptReport(dialer.FAILED, "AMI is not configured", line.name)
        if not await self._speech_ready(claim.text, plan.tts):
            return AttemptReport(dialer.FAILED, "the text could not be synthesised", line.name)
        unique_id = channel_id(claim.attempt_id)
        dialed_at = self.clock()
        ring = await self.ami.originate(
            unique_id, f"PJSIP/{claim.phone}@{line.endpoint}", names.CONTEXT_ROBOCALL,
            claim.ring_seconds, "", {names.VAR_ROBOCALL_ATTEMPT: str(claim.attempt_id),
                                     names.VAR_ROBOCALL_NUMBER: claim.phone})
        outcome = dialer.outcome_of(ring.answered, ring.reason, ring.rang, ring.cause)
        reason = ("answered" if ring.answered else
                  f"reason {ring.reason}, cause {ring.cause or '-'}, "
                  + ("rang" if ring.rang else "no ringing"))
        if not ring.answered:
            return AttemptReport(outcome, reason, line.name, dialed_at, None, self.clock(),
                                 unique_id)
        answered_at = self.clock()
        await self.ami.wait_ended(unique_id, CALL_LIMIT_SECONDS)
        return AttemptReport(outcome, reason, line.name, dialed_at, answered_at, self.clock(),
                             unique_id)

    async def _speech_ready(self, text: str, tts) -> bool:
        """Synthesise ``text`` now, before dialling; True once its speech is cached."""
        run = self.speaker.prepare(text, tts)
        if run is not None:
            try:
                await asyncio.wait_for(asyncio.wrap_future(run), SPEECH_SECONDS)
            except (asyncio.TimeoutError, Exception) as exc:
                log.warning("robocall speech for %r not ready: %s", text[:40], exc)
        return cached_by_any(text, tts, self.speaker.cache_dir) is not None


async def _logged(work, what: str) -> None:
    """Run one of the dialer's loops; should it ever fail, say so (never a silent stall)."""
    try:
        await work
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("robocalls: %s stopped by an error; the dialer needs a restart", what)


class RobocallRoute:
    """Route ``robocall``: the callee answered; say the attempt's text and hang up."""

    def __init__(self, pool, plans: PlanStore, speaker: Speaker, sounds_dir: Path):
        self.pool, self.plans, self.speaker, self.sounds_dir = pool, plans, speaker, sounds_dir

    async def handle(self, call, args: tuple[str, ...]) -> None:
        plan = self.plans.current()
        attempt = await call.get_variable(names.VAR_ROBOCALL_ATTEMPT)
        text = await self.text_of(attempt) if attempt and attempt.isdigit() else None
        await call.answer()
        if text is None:
            call.events.event("error", f"no robocall attempt {attempt!r}")
            await call.hangup()
            return
        call.events.event("say", text)
        speak = partial(self.speaker.speak, tts=plan.tts,
                        fallback_prompt=prompt_path(self.sounds_dir, plan.language,
                                                    names.PROMPT_TTS_FAILED))
        for prompt in await speak(text):
            await call.stream_file(prompt, "")
        await call.hangup()

    async def text_of(self, attempt: str) -> str | None:
        async with self.pool.connection() as conn:
            row = await (await conn.execute("SELECT text FROM robocall_attempts WHERE id = %s",
                                            (int(attempt),))).fetchone()
        return row[0] if row else None
