"""Fixtures for the configuration tests: an empty configuration in the test database."""

from __future__ import annotations

import psycopg
import pytest

from dialplan.configuration import sip_digest


def _clear(conn) -> None:
    conn.execute("DELETE FROM queues")  # their members and keys go with them
    conn.execute("DELETE FROM phones")
    conn.execute("DELETE FROM lines")
    conn.execute("DELETE FROM revisions")


@pytest.fixture
def config_db(pg_url):
    """An autocommit connection; phones, lines and revisions empty before and after."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        _clear(conn)
        yield conn
        _clear(conn)


def add_phone(conn, number: str, password: str, description: str = "") -> None:
    conn.execute("INSERT INTO phones (number, md5_cred, description) VALUES (%s, %s, %s)",
                 (number, sip_digest(number, password), description))


def add_line(conn, name: str, host: str, **columns) -> None:
    columns = {"name": name, "host": host, **columns}
    conn.execute(
        f"INSERT INTO lines ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})",
        list(columns.values()))
