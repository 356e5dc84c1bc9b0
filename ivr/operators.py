"""Operators and their phones (spec 7): who answers queue calls from which phone.

An operator is a user of the admin.  Each user has a five-digit bind code
(``users.bind_code``, made by the database for every new user).  Dialling
``1*<code>`` from a phone binds that phone to the code's user: a user has at
most one phone and a phone at most one user, so binding takes the phone away
from whoever had it and the user's previous phone is let go.  The operator
unbinds in the admin's header, and there toggles whether they take queue
calls now (``users.accepting_queue_calls``).

Every change runs ``NOTIFY telecenter_operators`` (``NOTIFY_CHANNEL``) in its
own transaction (a trigger on ``phone_bindings`` covers bindings that change
otherwise, e.g. with a deleted user), so a server that LISTENs re-reads
``operator_bindings`` as soon as the change is committed.

The admin uses synchronous psycopg, the FastAGI server its async pool.  The
rules are written once, as *steps*: generators that yield ``(sql, params)``
and are sent the rows each statement returned; ``run_steps`` carries them out
on a synchronous connection, ``run_steps_async`` on an async one, both in one
transaction.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import NamedTuple

import psycopg
from psycopg.rows import tuple_row

from dialplan import names

# The channel a change is announced on (the server LISTENs to it).
log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "telecenter_operators"
BIND_CODE = re.compile(rf"[0-9]{{{names.BIND_CODE_DIGITS}}}")
# A phone's number, as its endpoint is named (phones.number).
PHONE_NUMBER = re.compile(r"[0-9]{2,15}")

# Binding changes take turns: two phones dialling codes at once never race.
_LOCK = ("SELECT pg_advisory_xact_lock(hashtext('telecenter_phone_bindings'))", ())
_NOTIFY = (f"NOTIFY {NOTIFY_CHANNEL}", ())

Steps = Generator[tuple[str, tuple], list[tuple], object]


class Operator(NamedTuple):
    """The user bound to a phone, and whether they take queue calls now."""

    login: str
    accepting: bool


@dataclass(frozen=True)
class Presence:
    """What the admin's header shows a user: their code, toggle and bound phone."""

    bind_code: str
    accepting: bool
    phone: str | None


# The rules, as steps.

def bind_phone_steps(code: str, phone: str) -> Steps:
    """Bind ``phone`` to the user whose code is ``code``; their login, or None when no
    user has that code (nothing changes then).  ValueError, at once, for a code or a
    phone number that cannot be one."""
    if not BIND_CODE.fullmatch(code):
        raise ValueError(f"a bind code is {names.BIND_CODE_DIGITS} digits, not {code!r}")
    if not PHONE_NUMBER.fullmatch(phone):
        raise ValueError(f"not a phone's number: {phone!r}")
    return _bind_phone(code, phone)


def _bind_phone(code: str, phone: str) -> Steps:
    yield _LOCK
    found = yield ("SELECT id, login FROM users WHERE bind_code = %s", (code,))
    if not found:
        return None
    user_id, login = found[0]
    yield ("DELETE FROM phone_bindings WHERE phone_number = %s AND user_id <> %s",
           (phone, user_id))
    yield ("INSERT INTO phone_bindings (user_id, phone_number) VALUES (%s, %s)"
           " ON CONFLICT (user_id) DO UPDATE"
           " SET phone_number = EXCLUDED.phone_number, bound_at = now()", (user_id, phone))
    yield _NOTIFY
    return login


def unbind_phone_steps(user_id: int) -> Steps:
    """Let go of the user's phone; its number, or None when none was bound."""
    yield _LOCK
    gone = yield ("DELETE FROM phone_bindings WHERE user_id = %s RETURNING phone_number",
                  (user_id,))
    if not gone:
        return None
    yield _NOTIFY
    return gone[0][0]


def set_accepting_steps(user_id: int, accepting: bool) -> Steps:
    """Turn the user's "accept queue calls" on or off; False when there is no such user."""
    changed = yield ("UPDATE users SET accepting_queue_calls = %s WHERE id = %s RETURNING id",
                     (accepting, user_id))
    if not changed:
        return False
    yield _NOTIFY
    return True


def presence_steps(user_id: int) -> Steps:
    """The user's ``Presence``, or None when there is no such user."""
    rows = yield ("SELECT u.bind_code, u.accepting_queue_calls, b.phone_number"
                  " FROM users u LEFT JOIN phone_bindings b ON b.user_id = u.id"
                  " WHERE u.id = %s", (user_id,))
    return Presence(*rows[0]) if rows else None


def operator_bindings_steps() -> Steps:
    """Every bound phone: {phone number: Operator(login, accepting)}."""
    rows = yield ("SELECT b.phone_number, u.login, u.accepting_queue_calls"
                  " FROM phone_bindings b JOIN users u ON u.id = b.user_id"
                  " ORDER BY b.phone_number", ())
    return {phone: Operator(login, accepting) for phone, login, accepting in rows}


# Carrying the steps out.

def run_steps(conn, steps: Steps):
    """Run ``steps`` on a synchronous psycopg connection, in one transaction; their result."""
    with conn.transaction():
        with conn.cursor(row_factory=tuple_row) as cur:
            rows = None
            try:
                while True:
                    sql, params = steps.send(rows)
                    cur.execute(sql, params)
                    rows = cur.fetchall() if cur.description else []
            except StopIteration as done:
                return done.value


async def run_steps_async(conn, steps: Steps):
    """Run ``steps`` on an async psycopg connection, in one transaction; their result."""
    async with conn.transaction():
        async with conn.cursor(row_factory=tuple_row) as cur:
            rows = None
            try:
                while True:
                    sql, params = steps.send(rows)
                    await cur.execute(sql, params)
                    rows = await cur.fetchall() if cur.description else []
            except StopIteration as done:
                return done.value


# The admin's side (a request's synchronous connection).

def bind_phone(conn, code: str, phone: str) -> str | None:
    """See ``bind_phone_steps``."""
    return run_steps(conn, bind_phone_steps(code, phone))


def unbind_phone(conn, user_id: int) -> str | None:
    """See ``unbind_phone_steps``."""
    return run_steps(conn, unbind_phone_steps(user_id))


def set_accepting(conn, user_id: int, accepting: bool) -> bool:
    """See ``set_accepting_steps``."""
    return run_steps(conn, set_accepting_steps(user_id, accepting))


def presence(conn, user_id: int) -> Presence | None:
    """See ``presence_steps``."""
    return run_steps(conn, presence_steps(user_id))


def bound_phones(conn) -> dict[str, Operator]:
    """See ``operator_bindings_steps``."""
    return run_steps(conn, operator_bindings_steps())


# The server's side (its async pool).

# How long a call waits for a pooled connection before the route gives up.
POOL_WAIT_SECONDS = 5.0


class PgOperators:
    """The operators' tables through the FastAGI server's async pool."""

    def __init__(self, pool):
        self.pool = pool

    async def bind_phone(self, code: str, phone: str) -> str | None:
        """See ``bind_phone_steps``."""
        steps = bind_phone_steps(code, phone)  # a bad code fails before taking a connection
        async with self.pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
            return await run_steps_async(conn, steps)

    async def operator_bindings(self) -> dict[str, Operator]:
        """Every bound phone: {phone number: Operator(login, accepting)}.

        What the queue runtime reads at start and again after each
        ``NOTIFY telecenter_operators`` (``NOTIFY_CHANNEL``): a member's
        ``operator`` is the login, its ``accepting`` the flag; a phone absent
        here has no operator and accepts.
        """
        async with self.pool.connection(timeout=POOL_WAIT_SECONDS) as conn:
            return await run_steps_async(conn, operator_bindings_steps())


async def operator_bindings(pool) -> dict[str, Operator]:
    """``PgOperators(pool).operator_bindings()``: the one call the queue runtime needs."""
    return await PgOperators(pool).operator_bindings()


async def listen_for_operator_changes(conn) -> None:
    """Make ``conn`` (an autocommit async connection of its own, not a pooled one) receive
    the operators' changes: then ``async for _ in conn.notifies()`` wakes on each."""
    await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")


async def watch_operator_changes(db_url: str, changed, retry_seconds: float = 5.0) -> None:
    """Await ``changed()`` once listening and after each change the admin or a phone made
    (a binding, a toggle); runs until cancelled, listening again after a lost connection
    (and reading afresh then: what changed meanwhile was never sent)."""
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
                await listen_for_operator_changes(conn)
                await changed()
                async for _notice in conn.notifies():
                    await changed()
        except psycopg.OperationalError as exc:
            log.warning("listening for operator changes failed (%s); again in %.0f s",
                        exc, retry_seconds)
            await asyncio.sleep(retry_seconds)
