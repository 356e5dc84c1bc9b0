"""Where the database is and how the server talks to it.

`DATABASE_URL` names an external PostgreSQL; without it Telecenter starts an
embedded PostgreSQL (pgserver) in var/pgdata and stops it on exit. The
server uses psycopg's async API on the asyncio loop Twisted runs on (see
`fastagi.reactor`), so no query ever blocks a call; command-line tools use
plain synchronous connections.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from collections.abc import Iterator

from fastagi.settings import Settings

log = logging.getLogger(__name__)


@contextmanager
def database_url(settings: Settings, keep_running: bool = False) -> Iterator[str]:
    """Yield a connection URL, starting the embedded server when none is configured."""
    if settings.database_url:
        yield settings.database_url
        return
    import warnings

    with warnings.catch_warnings():  # pgserver warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver

    data_dir = settings.var_dir / "pgdata"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
    log.info("embedded PostgreSQL in %s", data_dir)
    yield server.get_uri()


async def open_pool(url: str, max_size: int = 10):
    """An open async connection pool; fails fast when the database is unreachable."""
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(url, min_size=1, max_size=max_size, open=False,
                               kwargs={"autocommit": True})
    await pool.open(wait=True, timeout=15)
    return pool
