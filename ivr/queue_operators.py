"""Who answers at each phone: the operator bound to it and their "accept queue calls" toggle.

The operators' tables (users.accepting_queue_calls, phone_bindings) come
with the operators' own migration; until it ran, no phone is bound and every
member accepts.  The queue runtime reads this again when the admin says the
operators changed (``NOTIFY telecenter_operators``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import psycopg

log = logging.getLogger(__name__)

# The channel the admin notifies when a binding or a toggle changed.
OPERATORS_CHANNEL = "telecenter_operators"

_BOUND_PHONES = ("SELECT b.phone_number, u.login, u.accepting_queue_calls"
                 " FROM phone_bindings b JOIN users u ON u.id = b.user_id")


@dataclass(frozen=True)
class PhoneOperator:
    """The user bound to a phone, and whether they take queue calls now."""

    login: str
    accepting: bool = True


async def read_phone_operators(pool) -> dict[str, PhoneOperator]:
    """Phone number -> its operator, for every bound phone ({} before the operators'
    tables exist)."""
    try:
        async with pool.connection() as conn:
            rows = await (await conn.execute(_BOUND_PHONES)).fetchall()
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn):
        return {}
    return {phone: PhoneOperator(login, bool(accepting)) for phone, login, accepting in rows}


async def listen_for_operator_changes(db_url: str, changed, retry_seconds: float = 5.0) -> None:
    """Await ``changed()`` once listening and whenever the admin notifies a change
    (a binding, a toggle); runs until cancelled, listening again after a lost connection."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                await conn.execute(f"LISTEN {OPERATORS_CHANNEL}")
                await changed()
                async for _notice in conn.notifies():
                    await changed()
        except psycopg.OperationalError as exc:
            log.warning("listening for operator changes failed (%s); again in %.0f s",
                        exc, retry_seconds)
            await asyncio.sleep(retry_seconds)
