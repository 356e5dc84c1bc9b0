"""SIP blocks kept and enforced: the sip_blocks table, the ACL file, the pjsip reload.

The decisions are ``dialplan.sip_guard``'s; this module does the I/O around
them.  The database is the truth: the ACL file is always rendered from the
blocks active there (not lifted, not expired), so a restart, an expiry or a
lift in the admin all come down to "render, and reload pjsip if the text
changed".  The server (``SipGuard``) does that at start, right after each
block, when the next block ends, and at least every ``SYNC_SECONDS`` (which
also picks up the lines' hosts); the admin does it at once after a lift
(``refresh_acl_now``).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from psycopg.rows import class_row, tuple_row

from dialplan.render import write_files
from dialplan.sip_guard import (
    ACL_FILE, FAILURE_EVENTS, PJSIP_MODULE, BlockDecision, BlockPolicy, FailureCounter,
    failure_from_event, host_networks, render_acl,
)
from fastagi.ami import AmiError, reload_once
from fastagi.asterisk_link import AsteriskLink
from fastagi.settings import Settings

log = logging.getLogger(__name__)

# The longest the server waits between two renderings of the ACL.
SYNC_SECONDS = 30
# Rendered this long after a block's end, so the database sees it as ended.
EXPIRY_MARGIN_SECONDS = 0.1
# How long the admin waits for Asterisk to take a lifted block.
AMI_SECONDS = 10

_ACTIVE = "lifted_at IS NULL AND until > now()"
_ACTIVE_ADDRESSES = f"SELECT DISTINCT host(address) FROM sip_blocks WHERE {_ACTIVE}"
_LINE_HOSTS = "SELECT host FROM lines"
_NEXT_END = f"SELECT extract(epoch FROM min(until) - now()) FROM sip_blocks WHERE {_ACTIVE}"
# A new block, unless the address is blocked already (a FailedACL burst from it).
_INSERT_BLOCK = (
    "INSERT INTO sip_blocks (address, since, until, failures, last_event, account)"
    " SELECT %(address)s, %(since)s, %(until)s, %(failures)s, %(last_event)s, %(account)s"
    f" WHERE NOT EXISTS (SELECT 1 FROM sip_blocks WHERE address = %(address)s AND {_ACTIVE})"
    " RETURNING id"
)
_COLUMNS = ("id, host(address) AS address, since, until, failures, last_event, account,"
            " lifted_at, lifted_by, (" + _ACTIVE + ") AS active")


@dataclass(frozen=True)
class SipBlock:
    """One row of sip_blocks, with whether it is in force now."""

    id: int
    address: str
    since: datetime
    until: datetime
    failures: int
    last_event: str
    account: str
    lifted_at: datetime | None
    lifted_by: str | None
    active: bool


# -- the admin's side (synchronous connections) ------------------------------

def list_blocks(conn, limit: int = 200) -> list[SipBlock]:
    """Blocks in force first (newest first), then the most recent past ones."""
    with conn.cursor(row_factory=class_row(SipBlock)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM sip_blocks ORDER BY ({_ACTIVE}) DESC, since DESC, id DESC"
            " LIMIT %s", (limit,)).fetchall()


def get_block(conn, block_id: int) -> SipBlock | None:
    with conn.cursor(row_factory=class_row(SipBlock)) as cur:
        return cur.execute(f"SELECT {_COLUMNS} FROM sip_blocks WHERE id = %s",
                           (block_id,)).fetchone()


def lift_block(conn, block_id: int, who: str) -> SipBlock | None:
    """Mark a block in force as lifted by ``who``; the lifted row, or None when none was in force.

    The caller commits, then calls ``refresh_acl_now`` so Asterisk lets the address in.
    """
    with conn.cursor(row_factory=tuple_row) as cur:
        lifted = cur.execute(
            f"UPDATE sip_blocks SET lifted_at = now(), lifted_by = %s WHERE id = %s AND {_ACTIVE}"
            " RETURNING id", (who, block_id)).fetchone()
    return get_block(conn, block_id) if lifted else None


def active_addresses(conn) -> list[str]:
    with conn.cursor(row_factory=tuple_row) as cur:
        return [row[0] for row in cur.execute(_ACTIVE_ADDRESSES).fetchall()]


def write_acl(include_dir: Path, addresses) -> str:
    """(Re)write the ACL file for ``addresses``; returns its text."""
    text = render_acl(ipaddress.ip_address(a) for a in addresses)
    write_files(Path(include_dir), {ACL_FILE: text})
    return text


def refresh_acl_now(conn, settings: Settings, asterisk: AsteriskLink | None = None) -> None:
    """Write the ACL from the blocks in force and make pjsip read it (AmiError when it cannot).

    ``asterisk`` is the server's connection (the admin inside the server);
    without it a short-lived AMI connection to ``settings``' address is used.
    """
    write_acl(settings.include_dir, active_addresses(conn))
    if asterisk is not None:
        asterisk.reload(PJSIP_MODULE, timeout=AMI_SECONDS)
    else:
        asyncio.run(reload_once(settings, PJSIP_MODULE, timeout=AMI_SECONDS))


# -- the server's side (the async pool, on the reactor's loop) ---------------

class SipGuard:
    """Hears failed SIP logins over AMI and blocks the addresses that keep failing.

    ``on_event`` counts synchronously on the event loop (pure and quick);
    a block decision is stored by a task, which then wakes the loop that
    renders the ACL and reloads pjsip (one renderer, never two at once).
    """

    def __init__(self, policy: BlockPolicy, pool, ami, include_dir: Path):
        self.counter = FailureCounter(policy)
        self.pool = pool
        self.ami = ami
        self.include_dir = Path(include_dir)
        self._line_networks = ()
        self._blocked: frozenset = frozenset()  # the addresses the ACL refuses
        self._reloaded_text: str | None = None
        self._tasks: set[asyncio.Task] = set()
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task | None = None

    def start(self) -> None:
        """Subscribe to the security events and start keeping the ACL in force."""
        self.ami.on_events(FAILURE_EVENTS, self.on_event)
        self._loop_task = asyncio.ensure_future(self._keep_acl())

    def stop(self) -> None:
        for task in (self._loop_task, *self._tasks):
            if task is not None:
                task.cancel()

    def on_event(self, event) -> None:
        failure = failure_from_event(event, datetime.now(timezone.utc))
        if failure is None:
            return
        decision = self.counter.record(failure, self._line_networks, self._blocked)
        if decision is not None:
            task = asyncio.ensure_future(self._block(decision))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _block(self, decision: BlockDecision) -> None:
        try:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(_INSERT_BLOCK, {
                    "address": str(decision.address), "since": decision.since,
                    "until": decision.until, "failures": decision.failures,
                    "last_event": decision.last_event, "account": decision.account,
                })).fetchone()
        except Exception:
            log.exception("SIP: could not store the block of %s", decision.address)
            return
        if row is not None:  # else blocked already
            log.warning("SIP: blocked %s until %s after %d failed logins (last: %s for %r)",
                        decision.address, decision.until.isoformat(timespec="seconds"),
                        decision.failures, decision.last_event, decision.account)
            self._wake.set()

    async def sync(self) -> float | None:
        """Render the ACL from the blocks in force and reload pjsip when it changed.

        Returns the seconds until the next of those blocks ends (None: none in force).
        """
        async with self.pool.connection() as conn:
            addresses = [r[0] for r in await (await conn.execute(_ACTIVE_ADDRESSES)).fetchall()]
            hosts = [r[0] for r in await (await conn.execute(_LINE_HOSTS)).fetchall()]
            ends_in = (await (await conn.execute(_NEXT_END)).fetchone())[0]
        self._line_networks = host_networks(hosts)
        text = await asyncio.to_thread(write_acl, self.include_dir, addresses)
        if text != self._reloaded_text:
            await self.ami.reload(PJSIP_MODULE)
            self._reloaded_text = text
            self._blocked = frozenset(map(ipaddress.ip_address, addresses))
        return None if ends_in is None else float(ends_in)

    async def _keep_acl(self) -> None:
        while True:
            self._wake.clear()
            delay = SYNC_SECONDS
            try:
                ends_in = await self.sync()
                if ends_in is not None:
                    delay = min(delay, max(ends_in, 0) + EXPIRY_MARGIN_SECONDS)
            except (AmiError, OSError) as exc:
                log.warning("SIP: the block list is not in force yet: %s", exc)
            except Exception:
                log.exception("SIP: could not bring the block list up to date")
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
