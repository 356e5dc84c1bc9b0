"""People who log in to the admin: logins, roles and password hashes."""

from __future__ import annotations

import re

import psycopg
from werkzeug.security import generate_password_hash

ROLES = ("operator", "manager", "administrator")
LOGIN = re.compile(r"^[A-Za-z0-9._-]{2,64}$")
MIN_PASSWORD_LENGTH = 10


class UserError(ValueError):
    """A login or password that cannot be stored; the message says why."""


def check_credentials(login: str, password: str) -> None:
    if not LOGIN.match(login):
        raise UserError("login: 2 to 64 Latin letters, digits, dots, dashes or underscores")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")


def save_administrator(url: str, login: str, password: str) -> bool:
    """Create the administrator, or reset their password; True when created."""
    check_credentials(login, password)
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "INSERT INTO users (login, password_hash, role) VALUES (%s, %s, 'administrator')"
            " ON CONFLICT (login) DO UPDATE SET password_hash = EXCLUDED.password_hash,"
            " role = 'administrator' RETURNING (xmax = 0)",
            (login, generate_password_hash(password)),
        ).fetchone()
    return bool(row[0])
