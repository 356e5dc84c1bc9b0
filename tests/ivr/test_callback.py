"""Callback orders from the voice menus, written to a real PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from fastagi.database import open_pool
from ivr.callback import PgCallbackOrders


def order(pg_url, *calls: tuple):
    """Place each (phone, agi_call_id) order at once, on one pool; what each left."""
    async def go():
        pool = await open_pool(pg_url, max_size=4)
        try:
            orders = PgCallbackOrders(pool)
            return await asyncio.gather(*(orders.order(*args) for args in calls))
        finally:
            await pool.close()
    return asyncio.run(go())


@pytest.fixture
def clean(db):
    yield
    db.execute("DELETE FROM callbacks WHERE phone LIKE '7999444%'")
    db.execute("DELETE FROM calls WHERE agi_call_id = 'agi-callback-test-1'")


def test_an_order_keeps_the_callers_number_the_time_and_the_call(db, pg_url, clean):
    call_id = db.execute("INSERT INTO calls (agi_call_id, caller) VALUES"
                         " ('agi-callback-test-1', '89994440001') RETURNING id").fetchone()["id"]
    [made] = order(pg_url, ("89994440001", "agi-callback-test-1"))
    assert made.new
    row = db.execute("SELECT * FROM callbacks WHERE id = %s", (made.id,)).fetchone()
    assert row["phone"] == "79994440001"
    assert row["source"] == "ivr" and row["call_id"] == call_id
    assert row["requested_at"] is not None and row["done_at"] is None


def test_an_order_from_a_call_without_a_record_is_kept_all_the_same(db, pg_url, clean):
    [made] = order(pg_url, ("79994440002", "agi-never-recorded"))
    row = db.execute("SELECT phone, call_id FROM callbacks WHERE id = %s", (made.id,)).fetchone()
    assert row == {"phone": "79994440002", "call_id": None}


def test_ordering_again_while_the_request_is_open_gives_the_same_request(db, pg_url, clean):
    """Of three orders at once one is new; the others find it open and say so."""
    orders = order(pg_url, *[("79994440003", None)] * 3)
    assert len({made.id for made in orders}) == 1
    assert sorted(made.new for made in orders) == [False, False, True]
    db.execute("UPDATE callbacks SET done_at = now() WHERE id = %s", (orders[0].id,))
    [again] = order(pg_url, ("79994440003", None))
    assert again.new and again.id != orders[0].id
    count = db.execute("SELECT count(*) AS n FROM callbacks WHERE phone = '79994440003'"
                       ).fetchone()["n"]
    assert count == 2


def test_a_number_that_is_no_phone_is_refused_and_nothing_is_written(db, pg_url, clean):
    before = db.execute("SELECT count(*) AS n FROM callbacks").fetchone()["n"]
    with pytest.raises(ValueError, match="not a phone number"):
        order(pg_url, ("7999444'; DROP TABLE callbacks; --", None))
    assert db.execute("SELECT count(*) AS n FROM callbacks").fetchone()["n"] == before



@contextlib.asynccontextmanager
async def database_down():
    """A pool whose database does not answer: nothing listens on its port."""
    from psycopg_pool import AsyncConnectionPool

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pool = AsyncConnectionPool(f"postgresql://nobody@127.0.0.1:{port}/none", min_size=0,
                               max_size=1, open=False)
    await pool.open(wait=False)
    try:
        yield pool
    finally:
        await pool.close()


def test_an_order_while_the_database_is_down_is_unavailable_not_lost_silently(monkeypatch):
    from ivr import callback
    from ivr.cases import LookupUnavailable

    monkeypatch.setattr(callback, "LOOKUP_WAIT_SECONDS", 0.5)

    async def go():
        async with database_down() as pool:
            with pytest.raises(LookupUnavailable):
                await asyncio.wait_for(PgCallbackOrders(pool).order("79994440001"), timeout=10)
    asyncio.run(go())
