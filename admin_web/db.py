"""One PostgreSQL connection per request, closed when the request ends.

Requests run in a thread pool (see `serving`), so plain synchronous psycopg
is right here: a blocking query holds one worker thread, never the reactor.
Connections are in autocommit mode; a change and its change_log row share
one explicit `with conn.transaction():` block.
"""

from __future__ import annotations

import psycopg
from flask import Flask, abort, current_app, g
from psycopg.rows import dict_row


def get_db() -> psycopg.Connection:
    """This request's connection (rows as dicts), opened on first use."""
    if "db" not in g:
        g.db = psycopg.connect(current_app.config["DATABASE_URL"], autocommit=True,
                               row_factory=dict_row)
    return g.db


def row_or_404(query: str, params) -> dict:
    """The row ``query`` finds, or the 404 page: an id in a URL may name a row deleted since."""
    row = get_db().execute(query, params).fetchone()
    if row is None:
        abort(404)
    return row


def insert_row(conn: psycopg.Connection, table: str, values: dict, returning: str) -> dict:
    """Insert ``values`` (column -> value) into ``table``; the new row's ``returning`` columns.

    Table and column names come from the code, never from a request.
    """
    marks = ", ".join(["%s"] * len(values))
    return conn.execute(f"INSERT INTO {table} ({', '.join(values)}) VALUES ({marks})"
                        f" RETURNING {returning}", list(values.values())).fetchone()


def update_row(conn: psycopg.Connection, table: str, row_id: int, values: dict,
               returning: str) -> dict | None:
    """Set ``values`` (column -> value) on row ``row_id`` of ``table``; its ``returning``
    columns, or None when the row is gone. Names come from the code, as for `insert_row`."""
    settings = ", ".join(f"{column} = %s" for column in values)
    return conn.execute(f"UPDATE {table} SET {settings} WHERE id = %s RETURNING {returning}",
                        [*values.values(), row_id]).fetchone()


def close_db(exc: BaseException | None = None) -> None:
    """Close this request's connection, if it opened one."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Close the connection at the end of every request."""
    app.teardown_appcontext(close_db)
