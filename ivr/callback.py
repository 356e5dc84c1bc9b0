"""Callback requests ordered from a voice menu (spec 8).

A caller who does not want to wait leaves their number; operators see the
open requests and call back.  A caller who orders again while their request
is still open gets that same request back, marked as not new, so operators
never see one citizen twice in the list and the caller is told that their
request already stands.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.cases import LOOKUP_WAIT_SECONDS, normalize_phone, unavailable_when_database_fails


@dataclass(frozen=True)
class CallbackOrder:
    """What an order left: the request's id, and whether this order made it."""

    id: int
    new: bool  # False: the caller's open request was found and kept


class PgCallbackOrders:
    """The ``callbacks`` table, through the FastAGI server's async pool."""

    def __init__(self, pool):
        self.pool = pool

    async def order(self, phone: str, agi_call_id: str | None = None) -> CallbackOrder:
        """Record a request to call ``phone`` back, unless one is open for it already.

        ``agi_call_id`` links the request to the call it was made from (the
        ``calls`` row with that server id), when that row exists.
        ValueError when ``phone`` is no phone number (see ``normalize_phone``);
        ``LookupUnavailable`` when the database cannot take the order now.
        """
        normalized = normalize_phone(phone)
        if normalized is None:
            raise ValueError(f"cannot order a callback: {phone!r} is not a phone number")
        with unavailable_when_database_fails("callback order"):
            return await self._order(normalized, agi_call_id)

    async def is_open(self, phone: str) -> bool:
        """True when ``phone`` has an open request, which an order now would keep (read only:
        the menu simulator tells what a caller would hear)."""
        normalized = normalize_phone(phone)
        if normalized is None:
            return False
        with unavailable_when_database_fails("callback look-up"):
            async with self.pool.connection(timeout=LOOKUP_WAIT_SECONDS) as conn:
                cur = await conn.execute(
                    "SELECT EXISTS (SELECT 1 FROM callbacks WHERE phone = %s AND done_at IS NULL)",
                    (normalized,))
                return (await cur.fetchone())[0]

    async def _order(self, normalized: str, agi_call_id: str | None) -> CallbackOrder:
        async with self.pool.connection(timeout=LOOKUP_WAIT_SECONDS) as conn:
            async with conn.transaction():
                # Two orders from one number at once must not both insert.
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext('callback:' || %s))",
                                   (normalized,))
                cur = await conn.execute(
                    "SELECT id FROM callbacks WHERE phone = %s AND done_at IS NULL"
                    " ORDER BY id LIMIT 1", (normalized,))
                open_request = await cur.fetchone()
                if open_request is not None:
                    return CallbackOrder(open_request[0], new=False)
                cur = await conn.execute(
                    "INSERT INTO callbacks (phone, source, call_id)"
                    " VALUES (%s, 'ivr', (SELECT max(id) FROM calls WHERE agi_call_id = %s))"
                    " RETURNING id", (normalized, agi_call_id))
                return CallbackOrder((await cur.fetchone())[0], new=True)
