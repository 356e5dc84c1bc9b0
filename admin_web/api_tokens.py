"""The external API's tokens (spec 18): made and revoked by an administrator.

A token is a random string shown once, when it is made; the database keeps
only its SHA-256 hash and its first characters (to tell tokens apart in the
list). A request's token is found by its hash, so neither the database nor
its backups can give a token away, and a revoked token finds no row.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

# "tc_" says what the string is (a Telecenter token) wherever it is pasted; 32 random
# bytes leave nothing to guess.
TOKEN_PREFIX = "tc_"
TOKEN_BYTES = 32
SHOWN_CHARACTERS = 10
NAME_MAX = 100
# Longer than any token we make: a longer header is no token and is not hashed.
TOKEN_MAX = 200
COLUMNS = ("id, name, shown_prefix, created_by, created_at, last_used_at, revoked_at,"
           " revoked_by")


@dataclass(frozen=True)
class MadeToken:
    """A new token: its row and the token itself, which is never shown again."""

    row: dict
    token: str


def token_hash(token: str) -> str:
    """The SHA-256 hex of a token, as api_tokens keeps it."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def make_token(conn, name: str, created_by: str) -> MadeToken:
    """Store a new token under ``name``; the token is in the result only."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = conn.execute(
        f"INSERT INTO api_tokens (name, token_hash, shown_prefix, created_by)"
        f" VALUES (%s, %s, %s, %s) RETURNING {COLUMNS}",
        (name, token_hash(token), token[:SHOWN_CHARACTERS], created_by)).fetchone()
    return MadeToken(row, token)


def list_tokens(conn) -> list[dict]:
    """Every token, those in force first, newest first."""
    return conn.execute(f"SELECT {COLUMNS} FROM api_tokens"
                        f" ORDER BY revoked_at IS NOT NULL, id DESC").fetchall()


def get_token(conn, token_id: int) -> dict | None:
    return conn.execute(f"SELECT {COLUMNS} FROM api_tokens WHERE id = %s",
                        (token_id,)).fetchone()


def revoke_token(conn, token_id: int, revoked_by: str) -> dict | None:
    """Revoke a token in force; its row, or None when there is none in force."""
    return conn.execute(
        f"UPDATE api_tokens SET revoked_at = now(), revoked_by = %s"
        f" WHERE id = %s AND revoked_at IS NULL RETURNING {COLUMNS}",
        (revoked_by, token_id)).fetchone()


def token_in_force(conn, token: str) -> dict | None:
    """The row of a token in force (its use noted), or None for an unknown or revoked one."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return conn.execute(
        f"UPDATE api_tokens SET last_used_at = now()"
        f" WHERE token_hash = %s AND revoked_at IS NULL RETURNING {COLUMNS}",
        (token_hash(token),)).fetchone()
