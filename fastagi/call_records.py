"""The record of each call: one `calls` row and its ordered `call_events`.

Theory of operation. A call never waits for its record and its record
never depends on the call's connection. The server hands every start,
step and end to the `CallRecorder` as it happens; these are queued in
memory, in order, and one writer task writes them in batches (a few per
second under load, one transaction each), so a call's steps are in the
database while it goes on and a crash loses at most the last fraction of
a second. Asterisk closing the socket, the caller hanging up or the server
being stopped cannot cancel a write: the writer is nobody's call.

When the database is down the batch stays at the head of the queue and is
tried again, waiting longer each time (up to a few seconds). The queue is
bounded: past `max_pending` entries new steps are dropped (starts and ends
never are), counted, and the count is logged once the database is back.
At shutdown the writer gets a bounded time to write what is left and says
in the log what it could not. Rows a crashed server left open are closed
at the next start (`close_abandoned_calls`) with the outcome "server lost",
keeping the steps written so far.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

import psycopg

from fastagi.protocol import AGIEnv

log = logging.getLogger(__name__)

OUTCOME_SERVER_LOST = "server lost"

# PostgreSQL text holds neither NUL nor a lone surrogate (not valid UTF-8), and
# other control characters garble the log a sysadmin reads; tab and line break stay.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with what a text column cannot hold replaced by U+FFFD, so one odd
    character (a caller's name, a forged line) never loses a call's record."""
    return _UNSTORABLE.sub("\ufffd", text)


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class CallEvent:
    seq: int
    at: datetime
    kind: str
    detail: str


class CallRecords(Protocol):
    """Where the server hands each call's record; no method blocks or fails a call."""

    def started(self, call_id: str, env: AGIEnv) -> None: ...
    def step(self, call_id: str, event: CallEvent) -> None: ...
    def finished(self, call_id: str, outcome: str) -> None: ...


class CallLog:
    """One call's side of its record: numbers its steps and passes them on."""

    def __init__(self, records: CallRecords | None, call_id: str):
        self.records = records
        self.call_id = call_id
        self._seq = 0

    def start(self, env: AGIEnv) -> None:
        if self.records is not None:
            self.records.started(self.call_id, env)

    def event(self, kind: str, detail: str) -> None:
        self._seq += 1
        if self.records is not None:
            self.records.step(self.call_id, CallEvent(self._seq, _now(), kind, storable(detail)))

    def finish(self, outcome: str) -> None:
        if self.records is not None:
            self.records.finished(self.call_id, outcome)


@dataclass(frozen=True)
class _Start:
    call_id: str
    at: datetime
    columns: tuple[str, ...]  # unique_id, channel, caller, called, route


@dataclass(frozen=True)
class _Step:
    call_id: str
    event: CallEvent


@dataclass(frozen=True)
class _Finish:
    call_id: str
    at: datetime
    outcome: str


class CallRecorder:
    """Writes every call's row and steps to PostgreSQL in ordered batches."""

    def __init__(self, pool, *, flush_seconds: float = 0.2, batch_size: int = 2000,
                 max_pending: int = 200_000, max_retry_seconds: float = 5.0,
                 connect_seconds: float = 5.0):
        self.pool = pool
        self.flush_seconds = flush_seconds
        self.batch_size = batch_size
        self.max_pending = max_pending
        self.max_retry_seconds = max_retry_seconds
        self.connect_seconds = connect_seconds
        self._pending: deque[_Start | _Step | _Finish] = deque()
        self._rows: dict[str, int] = {}  # call id -> calls.id, for calls not yet ended
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self.dropped_steps = 0
        self._dropped_reported = 0
        self.failed_writes = 0

    # -- what the server calls ------------------------------------------------

    def started(self, call_id: str, env: AGIEnv) -> None:
        columns = (env.unique_id, env.channel, env.caller, called_number(env), env.route)
        self._put(_Start(call_id, _now(), tuple(storable(c) for c in columns)))

    def step(self, call_id: str, event: CallEvent) -> None:
        if len(self._pending) >= self.max_pending:
            self.dropped_steps += 1
            return
        self._put(_Step(call_id, event))

    def finished(self, call_id: str, outcome: str) -> None:
        self._put(_Finish(call_id, _now(), storable(outcome)))

    @property
    def pending(self) -> int:
        return len(self._pending)

    def _put(self, entry) -> None:
        self._pending.append(entry)
        self._wake.set()

    # -- the writer -------------------------------------------------------------

    def open(self) -> None:
        """Start the writer task."""
        self._task = asyncio.ensure_future(self._write_forever())

    async def close(self, timeout: float) -> None:
        """Write what is left within `timeout` seconds; log what could not be written."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout)
            except asyncio.TimeoutError:
                self._task.cancel()
        if self._pending:
            calls = {entry.call_id for entry in self._pending}
            log.error("call records: %d entries of %d calls not written at shutdown "
                      "(the database did not answer in %.0f s)", len(self._pending), len(calls),
                      timeout)

    async def _write_forever(self) -> None:
        retry = 0.0
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                if not self._closing:
                    await asyncio.sleep(self.flush_seconds)  # gather a batch
            batch = [self._pending[i] for i in range(min(self.batch_size, len(self._pending)))]
            try:
                rows = await self._write(batch)
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
                self.failed_writes += 1
                if retry == 0.0:
                    log.error("call records: database unavailable (%s); keeping %d entries "
                              "and trying again", exc, len(self._pending))
                retry = min(self.max_retry_seconds, max(0.25, retry * 2))
                await asyncio.sleep(retry)
                continue
            except psycopg.Error as exc:  # a batch the database refuses: never block the rest
                log.error("call records: %d entries refused by the database and dropped: %s",
                          len(batch), exc)
                rows = {}
            if retry:
                dropped, self._dropped_reported = (self.dropped_steps - self._dropped_reported,
                                                   self.dropped_steps)
                log.log(logging.WARNING if dropped else logging.INFO,
                        "call records: database back; %d steps had to be dropped meanwhile",
                        dropped)
                retry = 0.0
            for _ in batch:
                self._pending.popleft()
            self._rows.update(rows)
            for entry in batch:
                if isinstance(entry, _Finish):
                    self._rows.pop(entry.call_id, None)

    async def _write(self, batch) -> dict[str, int]:
        """Write one batch in one transaction: the calls it starts and ends as arrays, the
        steps (the bulk: thousands a second under load) by a binary COPY, the cheapest way
        into PostgreSQL; returns the row ids of the calls it started."""
        new_rows: dict[str, int] = {}
        known = lambda call_id: new_rows.get(call_id) or self._rows.get(call_id)  # noqa: E731
        starts = [(e.call_id, e.at, *e.columns) for e in batch if isinstance(e, _Start)]
        async with self.pool.connection(timeout=self.connect_seconds) as conn:
            async with conn.transaction():
                if starts:
                    cur = await conn.execute(
                        "INSERT INTO calls (agi_call_id, started_at, unique_id, channel, caller,"
                        " called, route) SELECT * FROM unnest(%s::text[], %s::timestamptz[],"
                        " %s::text[], %s::text[], %s::text[], %s::text[], %s::text[])"
                        " RETURNING agi_call_id, id", _columns(starts))
                    new_rows.update(await cur.fetchall())
                steps = [(known(e.call_id), e.event.seq, e.event.at, e.event.kind, e.event.detail)
                         for e in batch if isinstance(e, _Step) and known(e.call_id)]
                if steps:
                    async with conn.cursor() as cur, cur.copy(
                            "COPY call_events (call_id, seq, at, kind, detail)"
                            " FROM STDIN (FORMAT BINARY)") as copy:
                        copy.set_types(["bigint", "integer", "timestamptz", "text", "text"])
                        for step in steps:
                            await copy.write_row(step)
                ends = [(known(e.call_id), e.at, e.outcome)
                        for e in batch if isinstance(e, _Finish) and known(e.call_id)]
                if ends:
                    await conn.execute(
                        "UPDATE calls SET ended_at = ends.at, outcome = ends.outcome"
                        " FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[])"
                        " AS ends (id, at, outcome) WHERE calls.id = ends.id", _columns(ends))
        return new_rows


def _columns(rows: list[tuple]) -> list[list]:
    """Rows (at least one) as a list per column: the arrays ``unnest`` turns into rows."""
    return [list(column) for column in zip(*rows)]


async def close_abandoned_calls(pool) -> int:
    """Close the rows a server that died left open; their steps stay as written.

    One server per database is assumed: every row still open when it starts
    belonged to a run that is gone.
    """
    async with pool.connection() as conn:
        cur = await conn.execute(
            "UPDATE calls SET outcome = %s, ended_at = greatest(started_at,"
            " (SELECT max(at) FROM call_events WHERE call_events.call_id = calls.id))"
            " WHERE outcome IS NULL", (OUTCOME_SERVER_LOST,))
        if cur.rowcount:
            log.warning("closed %d call records a stopped server left open (outcome %r)",
                        cur.rowcount, OUTCOME_SERVER_LOST)
        return cur.rowcount


def called_number(env: AGIEnv) -> str:
    """The number the caller dialed: the first AGI argument when the dialplan
    passes it (inside a Gosub the extension is `s`), else the DNID/extension."""
    if env.args and env.args[0]:
        return env.args[0]
    return env.get("dnid") if env.get("dnid") not in ("", "unknown") else env.get("extension")
