"""Fixtures for the configuration tests: an empty configuration in the test database."""

from __future__ import annotations

import psycopg
import pytest

from dialplan.configuration import sip_digest


def _clear(conn) -> None:
    conn.execute("DELETE FROM override_rules")  # rules on numbers that go
    # A schedule the dialer's settings use stays (their row must stay as it is).
    conn.execute("DELETE FROM schedules WHERE id NOT IN (SELECT schedule_id FROM dialer_settings"
                 " WHERE schedule_id IS NOT NULL)")
    conn.execute("DELETE FROM queues")  # their members are phones
    conn.execute("INSERT INTO transfer_settings (id) VALUES (1)"
                 " ON CONFLICT (id) DO UPDATE SET music_audio_id = NULL")
    conn.execute("DELETE FROM phones")
    conn.execute("DELETE FROM lines")
    conn.execute("DELETE FROM revisions")


@pytest.fixture
def config_db(pg_url):
    """An autocommit connection; queues, phones, lines and revisions empty (no transfer
    music) before and after."""
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


def add_queue(conn, number: str, name: str, members: list[str], **columns) -> int:
    """A queue whose members are the phones ``members`` (added before)."""
    columns = {"number": number, "name": name, **columns}
    queue_id = conn.execute(
        f"INSERT INTO queues ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
        " RETURNING id", list(columns.values())).fetchone()[0]
    for position, member in enumerate(members):
        conn.execute("INSERT INTO queue_members (queue_id, phone_id, position)"
                     " SELECT %s, id, %s FROM phones WHERE number = %s",
                     (queue_id, position, member))
    return queue_id
