"""The configuration Apply renders: phones and external lines, as loaded rows.

``load_configuration`` reads one consistent snapshot (a REPEATABLE READ,
read-only transaction), so an admin saving a form in the middle of an Apply
cannot give a half-old, half-new set of files.  The small helpers here are
shared with the admin: the digest a phone's password is stored as, a strong
generated password, and the numbering plan (every number that exists).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from psycopg import Connection
from psycopg.pq import TransactionStatus
from psycopg.rows import class_row

from dialplan import names


@dataclass(frozen=True)
class Phone:
    """An internal SIP phone (spec 1): endpoint name and login are its number."""

    id: int
    number: str
    md5_cred: str
    kind: str = "simple"
    description: str = ""


@dataclass(frozen=True)
class Line:
    """An external line (spec 2): a trunk to a provider or another PBX."""

    id: int
    name: str
    host: str
    port: int = 5060
    transport: str = "udp"
    reg_username: str = ""
    reg_domain: str = ""
    reg_password: str = ""
    outbound_regex: str = ""
    position: int = 0
    inbound_number: str = ""
    external: bool = True

    @property
    def registers(self) -> bool:
        """Whether Asterisk registers to the far end (a username is set)."""
        return bool(self.reg_username)


@dataclass(frozen=True)
class Configuration:
    """Everything Apply renders.  Lines are kept in outbound order."""

    phones: tuple[Phone, ...] = ()
    lines: tuple[Line, ...] = ()


_PHONES = "SELECT id, number, md5_cred, kind, description FROM phones ORDER BY number"
_LINES = (
    "SELECT id, name, host, port, transport, reg_username, reg_domain, reg_password,"
    " outbound_regex, position, inbound_number, external"
    " FROM lines ORDER BY position, name"
)


def load_configuration(conn: Connection) -> Configuration:
    """Read phones and lines as one snapshot (REPEATABLE READ, read only).

    ``conn`` must not be inside a transaction: the snapshot is its own.
    """
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("load_configuration needs a connection outside a transaction")
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        with conn.cursor(row_factory=class_row(Phone)) as cur:
            phones = tuple(cur.execute(_PHONES).fetchall())
        with conn.cursor(row_factory=class_row(Line)) as cur:
            lines = tuple(cur.execute(_LINES).fetchall())
    return Configuration(phones=phones, lines=lines)


def sip_digest(number: str, password: str) -> str:
    """What the phones table stores for a SIP password: md5("number:realm:password")."""
    text = f"{number}:{names.SIP_REALM}:{password}"
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def generate_password(length: int = 20) -> str:
    """A strong SIP password a softphone accepts: letters and digits only."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if (any(c.islower() for c in password) and any(c.isupper() for c in password)
                and any(c.isdigit() for c in password)):
            return password


def numbering_plan(config: Configuration) -> dict[str, list[str]]:
    """Every number that exists, with what owns it ("phone 101", "self-test").

    A number with more than one owner is a conflict (``validate`` reports it).
    Menus and queues join here as they arrive.
    """
    plan: dict[str, list[str]] = {names.SELFTEST_NUMBER: ["self-test"]}
    for phone in config.phones:
        plan.setdefault(phone.number, []).append(f"phone {phone.number}")
    return plan
