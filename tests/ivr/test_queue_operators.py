"""Who answers at each phone, read from the operators' tables (or nobody, before they exist)."""

from __future__ import annotations

import asyncio

import psycopg

from fastagi.database import open_pool
from ivr.queue_operators import PhoneOperator, read_phone_operators


def read(db_url):
    async def go():
        pool = await open_pool(db_url, max_size=2)
        try:
            return await read_phone_operators(pool)
        finally:
            await pool.close()
    return asyncio.run(go())


def test_before_the_operators_tables_exist_no_phone_is_bound(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS phone_bindings")
    assert read(fresh_database) == {}


def test_each_bound_phone_names_its_operator_and_their_toggle(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        # The operators' tables as the design names them, where they do not exist yet.
        conn.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS accepting_queue_calls"
                     " boolean NOT NULL DEFAULT true")
        conn.execute("CREATE TABLE IF NOT EXISTS phone_bindings (user_id integer PRIMARY KEY"
                     " REFERENCES users ON DELETE CASCADE, phone_number text UNIQUE,"
                     " bound_at timestamptz NOT NULL DEFAULT now())")
        anna, = conn.execute("INSERT INTO users (login, password_hash, role) VALUES"
                             " ('anna', 'x', 'operator') RETURNING id").fetchone()
        boris, = conn.execute("INSERT INTO users (login, password_hash, role,"
                              " accepting_queue_calls) VALUES ('boris', 'x', 'operator', false)"
                              " RETURNING id").fetchone()
        conn.execute("INSERT INTO phone_bindings (user_id, phone_number) VALUES (%s, '101'),"
                     " (%s, '102')", (anna, boris))
    assert read(fresh_database) == {"101": PhoneOperator("anna", True),
                                    "102": PhoneOperator("boris", False)}
