"""Applies the numbered SQL files in sql/, each once, each in a transaction."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import psycopg

log = logging.getLogger(__name__)

MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")
# Any constant: concurrent migrators (a server and a CLI) take turns.
ADVISORY_LOCK = 7347_0001


def migration_files(sql_dir: Path) -> list[Path]:
    """The migrations in order; a badly named or duplicate-numbered file is an error."""
    files = sorted(p for p in sql_dir.iterdir() if p.suffix == ".sql")
    seen: dict[str, Path] = {}
    for path in files:
        match = MIGRATION_NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name must look like 001_name.sql: {path.name}")
        if match.group(1) in seen:
            raise ValueError(f"two migrations numbered {match.group(1)}: {path.name}, {seen[match.group(1)].name}")
        seen[match.group(1)] = path
    return files


def apply_migrations(url: str, sql_dir: Path) -> list[str]:
    """Apply what is not applied yet; returns the names applied now."""
    applied_now = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for path in migration_files(sql_dir):
                if path.name in done:
                    continue
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (path.name,))
                log.info("applied migration %s", path.name)
                applied_now.append(path.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK,))
    return applied_now
