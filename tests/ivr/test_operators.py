"""Operators' phones and toggles in a real PostgreSQL, as the admin and the server see them."""

from __future__ import annotations

import asyncio
import re

import psycopg
import pytest

from fastagi.database import open_pool
from ivr import operators
from ivr.operators import Operator, PgOperators, Presence

LOGINS = ("opr-anna", "opr-boris", "opr-vera")


@pytest.fixture
def people(db):
    """Three users (made as the admin makes them), removed afterwards: {login: (id, code)}."""
    db.execute("DELETE FROM users WHERE login = ANY(%s)", (list(LOGINS),))
    made = {}
    for login in LOGINS:
        row = db.execute("INSERT INTO users (login, password_hash, role) VALUES (%s, 'x',"
                         " 'operator') RETURNING id, bind_code", (login,)).fetchone()
        made[login] = (row["id"], row["bind_code"])
    yield made
    db.execute("DELETE FROM users WHERE login = ANY(%s)", (list(LOGINS),))


@pytest.fixture
def conn(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def server_side(pg_url, work):
    """Run ``work(PgOperators)`` on the server's kind of pool."""
    async def go():
        pool = await open_pool(pg_url, max_size=2)
        try:
            return await work(PgOperators(pool))
        finally:
            await pool.close()
    return asyncio.run(go())


def ours(bindings: dict) -> dict:
    return {phone: op for phone, op in bindings.items() if op.login in LOGINS}


def test_every_user_gets_a_distinct_five_digit_code(people, db):
    codes = [code for _, code in people.values()]
    assert all(re.fullmatch(r"[0-9]{5}", code) for code in codes)
    everyone = [r["bind_code"] for r in db.execute("SELECT bind_code FROM users")]
    assert len(set(everyone)) == len(everyone)


def test_dialling_a_code_binds_the_phone_to_its_user(people, conn, pg_url):
    anna_id, anna_code = people["opr-anna"]
    assert server_side(pg_url, lambda ops: ops.bind_phone(anna_code, "7101")) == "opr-anna"
    assert operators.presence(conn, anna_id) == Presence(anna_code, True, "7101")
    assert ours(server_side(pg_url, lambda ops: ops.operator_bindings())) == {
        "7101": Operator("opr-anna", True)}


def test_a_phone_bound_again_leaves_its_old_user_and_a_user_keeps_one_phone(people, conn):
    anna_id, anna_code = people["opr-anna"]
    boris_id, boris_code = people["opr-boris"]
    operators.bind_phone(conn, anna_code, "7101")
    operators.bind_phone(conn, anna_code, "7102")  # Anna moved to another desk
    operators.bind_phone(conn, boris_code, "7102")  # and Boris sat down at it
    assert ours(operators.bound_phones(conn)) == {
        "7102": Operator("opr-boris", True)}
    assert operators.presence(conn, anna_id).phone is None
    assert operators.presence(conn, boris_id).phone == "7102"


def test_an_unknown_code_changes_nothing(people, conn):
    anna_id, anna_code = people["opr-anna"]
    operators.bind_phone(conn, anna_code, "7101")
    unused = next(str(n) for n in range(10000, 100000)
                  if str(n) not in {code for _, code in people.values()}
                  and not conn.execute("SELECT 1 FROM users WHERE bind_code = %s",
                                       (str(n),)).fetchone())
    assert operators.bind_phone(conn, unused, "7101") is None
    assert operators.presence(conn, anna_id).phone == "7101"


@pytest.mark.parametrize("code, phone", [
    ("1234", "7101"), ("123456", "7101"), ("12a45", "7101"), ("", "7101"),
    ("12345", ""), ("12345", "PJSIP/7101"), ("12345", "7101;x"),
])
def test_a_code_or_phone_that_cannot_be_one_is_refused_before_the_database(code, phone):
    with pytest.raises(ValueError):
        operators.bind_phone_steps(code, phone)


def test_unbinding_and_the_toggle(people, conn):
    anna_id, anna_code = people["opr-anna"]
    operators.bind_phone(conn, anna_code, "7101")
    assert operators.unbind_phone(conn, anna_id) == "7101"
    assert operators.unbind_phone(conn, anna_id) is None
    assert operators.set_accepting(conn, anna_id, False) is True
    assert operators.presence(conn, anna_id) == Presence(anna_code, False, None)
    assert operators.set_accepting(conn, -1, False) is False


def test_a_deleted_user_leaves_their_phone_free(people, conn):
    anna_id, anna_code = people["opr-anna"]
    operators.bind_phone(conn, anna_code, "7101")
    conn.execute("DELETE FROM users WHERE id = %s", (anna_id,))
    assert "7101" not in operators.bound_phones(conn)


def test_every_change_is_announced_to_the_server(people, conn, pg_url):
    anna_id, anna_code = people["opr-anna"]

    async def heard_after(change) -> int:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as listener:
            await operators.listen_for_operator_changes(listener)
            change()
            heard = 0
            try:
                async with asyncio.timeout(0.5):
                    async for _ in listener.notifies():
                        heard += 1
            except TimeoutError:
                pass
            return heard

    assert asyncio.run(heard_after(lambda: operators.bind_phone(conn, anna_code, "7101"))) == 1
    assert asyncio.run(heard_after(lambda: operators.set_accepting(conn, anna_id, False))) == 1
    assert asyncio.run(heard_after(lambda: operators.unbind_phone(conn, anna_id))) == 1
    assert asyncio.run(heard_after(lambda: operators.unbind_phone(conn, anna_id))) == 0
    assert asyncio.run(heard_after(lambda: operators.bind_phone(conn, "00000", "7101"))) == 0
    operators.bind_phone(conn, anna_code, "7101")
    assert asyncio.run(heard_after(lambda: conn.execute("DELETE FROM users WHERE id = %s",
                                                        (anna_id,)))) == 1
