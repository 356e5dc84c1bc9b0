"""People who log in to the admin: logins, roles and password hashes.

Plain SQL over the `users` table, shared by the web pages and the
`create-admin` command. Passwords are hashed by werkzeug (scrypt) and never
leave this module in any other form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row
from werkzeug.security import check_password_hash, generate_password_hash

ROLES = ("operator", "manager", "administrator")  # each has the rights of those before it
LOGIN = re.compile(r"[A-Za-z0-9._-]{2,64}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128

# Checked against when the login is unknown, so a wrong login takes as long
# as a wrong password and does not tell which logins exist.
_DUMMY_HASH = generate_password_hash("not a password of anybody")


class UserError(ValueError):
    """A login or password that cannot be stored; the message says why."""


class LoginTaken(UserError):
    """Another user already has this login."""


class LastAdministrator(UserError):
    """The change would leave nobody able to administer the admin."""


@dataclass(frozen=True)
class User:
    id: int
    login: str
    role: str
    password_hash: str
    created_at: datetime
    session_epoch: int

    def has_role(self, needed: str) -> bool:
        """True when this user's role is `needed` or above it."""
        return role_rank(self.role) >= role_rank(needed)

    def public(self) -> dict:
        """What the change history may show about this user: no hash."""
        return {"login": self.login, "role": self.role}


def role_rank(role: str) -> int:
    return ROLES.index(role)


def check_credentials(login: str, password: str) -> None:
    if not LOGIN.fullmatch(login):
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


_COLUMNS = "id, login, role, password_hash, created_at, session_epoch"


def _query(conn, sql: str, params=()) -> list[User]:
    with conn.cursor(row_factory=class_row(User)) as cur:
        return cur.execute(sql, params).fetchall()


def list_users(conn) -> list[User]:
    return _query(conn, f"SELECT {_COLUMNS} FROM users ORDER BY login")


def find_user(conn, *, user_id: int | None = None, login: str | None = None) -> User | None:
    """The user with this id or this login (logins compare as stored)."""
    column, value = ("id", user_id) if user_id is not None else ("login", login)
    found = _query(conn, f"SELECT {_COLUMNS} FROM users"
                         f" WHERE {column} = %s", (value,))
    return found[0] if found else None


def authenticate(conn, login: str, password: str) -> User | None:
    """The user when the login exists and the password is theirs, else None."""
    user = find_user(conn, login=login)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def create_user(conn, login: str, role: str, password: str) -> User:
    """Store a new user; LoginTaken when the login is in use."""
    check_credentials(login, password)
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    try:
        with conn.transaction():
            found = _query(conn, "INSERT INTO users (login, password_hash, role)"
                                 " VALUES (%s, %s, %s)"
                                 f" RETURNING {_COLUMNS}",
                           (login, generate_password_hash(password), role))
    except psycopg.errors.UniqueViolation:
        raise LoginTaken(f"login {login} is taken") from None
    return found[0]


def _keep_an_administrator(conn, leaving: User) -> None:
    """Refuse when `leaving` is the last administrator (rows locked until commit)."""
    if leaving.role != "administrator":
        return
    others = conn.execute("SELECT id FROM users WHERE role = 'administrator' AND id <> %s"
                          " FOR UPDATE", (leaving.id,)).fetchall()
    if not others:
        raise LastAdministrator(f"{leaving.login} is the last administrator")


def set_role(conn, user: User, role: str) -> User:
    """Change the role; call inside a transaction. Never demotes the last administrator."""
    if role not in ROLES:
        raise UserError(f"role: one of {', '.join(ROLES)}")
    if role != "administrator":
        _keep_an_administrator(conn, user)
    conn.execute("UPDATE users SET role = %s WHERE id = %s", (role, user.id))
    return find_user(conn, user_id=user.id)


def set_password(conn, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    conn.execute("UPDATE users SET password_hash = %s WHERE id = %s",
                 (generate_password_hash(password), user.id))


def end_sessions(conn, user: User) -> None:
    """End every session of `user`: the session ids carrying the old epoch stop loading."""
    conn.execute("UPDATE users SET session_epoch = session_epoch + 1 WHERE id = %s", (user.id,))


def delete_user(conn, user: User) -> None:
    """Delete; call inside a transaction. Never deletes the last administrator."""
    _keep_an_administrator(conn, user)
    conn.execute("DELETE FROM users WHERE id = %s", (user.id,))
