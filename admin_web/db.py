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


def close_db(exc: BaseException | None = None) -> None:
    """Close this request's connection, if it opened one."""
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app: Flask) -> None:
    """Close the connection at the end of every request."""
    app.teardown_appcontext(close_db)
