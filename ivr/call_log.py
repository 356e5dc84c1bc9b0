"""The record of each call: one `calls` row and its ordered `call_events`.

The row is written when the call starts, so a live call is visible at once,
but in the background: the caller's first prompt never waits for the
database. Steps are kept in memory and written with the outcome when the
call ends, one round trip instead of one per command. A database that is down never stops
a call: the failure is logged and the caller goes on being served.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

from fastagi.protocol import AGIEnv

log = logging.getLogger(__name__)

# PostgreSQL text holds neither NUL nor a lone surrogate (not valid UTF-8), and
# other control characters garble the log a sysadmin reads; tab and line break stay.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def storable(text: str) -> str:
    """`text` with what a text column cannot hold replaced by U+FFFD, so one odd
    character (a caller's name, a forged line) never loses a call's record."""
    return _UNSTORABLE.sub("\ufffd", text)


@dataclass(frozen=True)
class CallEvent:
    seq: int
    at: datetime
    kind: str
    detail: str


class CallStore(Protocol):
    async def start_call(self, call_id: str, env: AGIEnv) -> int: ...
    async def finish_call(self, row_id: int, outcome: str, events: list[CallEvent]) -> None: ...


class CallLog:
    """Collects one call's steps and hands them to the store."""

    def __init__(self, store: CallStore | None, call_id: str):
        self.store = store
        self.call_id = call_id
        self._row: asyncio.Task | None = None
        self.events: list[CallEvent] = []

    def event(self, kind: str, detail: str) -> None:
        self.events.append(CallEvent(len(self.events) + 1, datetime.now(timezone.utc), kind,
                                     storable(detail)))

    def start(self, env: AGIEnv) -> None:
        """Begin writing the call's row; `finish` waits for it."""
        if self.store is not None:
            self._row = asyncio.ensure_future(self.store.start_call(self.call_id, env))

    async def finish(self, outcome: str) -> None:
        if self._row is None:
            return
        try:
            row_id = await self._row
        except Exception as exc:  # the call went on without its record
            log.error("%s: could not record the call: %s", self.call_id, exc)
            return
        try:
            await self.store.finish_call(row_id, outcome, self.events)
        except Exception as exc:
            log.error("%s: could not record the call end: %s", self.call_id, exc)


class PgCallStore:
    """`calls` and `call_events` in PostgreSQL, through an async pool."""

    def __init__(self, pool):
        self.pool = pool

    async def start_call(self, call_id: str, env: AGIEnv) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO calls (agi_call_id, unique_id, channel, caller, called, route)"
                " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                tuple(storable(value) for value in (
                    call_id, env.unique_id, env.channel, env.caller, called_number(env), env.route)),
            )
            return (await cur.fetchone())[0]

    async def finish_call(self, row_id: int, outcome: str, events: list[CallEvent]) -> None:
        async with self.pool.connection() as conn:
            async with conn.transaction():
                await conn.execute(
                    "UPDATE calls SET ended_at = now(), outcome = %s WHERE id = %s",
                    (storable(outcome), row_id),
                )
                async with conn.cursor() as cur:
                    await cur.executemany(
                        "INSERT INTO call_events (call_id, seq, at, kind, detail)"
                        " VALUES (%s, %s, %s, %s, %s)",
                        [(row_id, e.seq, e.at, e.kind, e.detail) for e in events],
                    )


def called_number(env: AGIEnv) -> str:
    """The number the caller dialed: the first AGI argument when the dialplan
    passes it (inside a Gosub the extension is `s`), else the DNID/extension."""
    if env.args and env.args[0]:
        return env.args[0]
    return env.get("dnid") if env.get("dnid") not in ("", "unknown") else env.get("extension")
