"""What Apply would change now: the configuration being edited against the active revision's.

Every page an administrator sees carries a banner when something saved is
waiting for Apply (templates/_pending_banner.html); the Apply page lists
it all.  The cost per page is one ``load_configuration`` (one read-only
snapshot) and one row of the revisions table (the active revision's
configuration, not its files); the answer is kept for the rest of the
request only, so a page never shows a stale count.

Before the first Apply the configuration is compared with an empty one,
so a fresh database with phones or menus shows them as pending.  An active
revision stored before revisions kept their configuration cannot be
compared: ``known`` is False and no count is shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
from flask import current_app, g
from flask_login import current_user
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row

from admin_web.change_words import change_words
from admin_web.db import get_db
from dialplan.changes import Change, changes
from dialplan.configuration import Configuration, load_configuration
from dialplan.snapshot import configuration_from_json

log = logging.getLogger(__name__)

# How many changes the banner says in words before "and N more".
BANNER_WORDS = 3


@dataclass(frozen=True)
class PendingChanges:
    """What Apply would change; ``known`` False when the active revision cannot tell."""

    changes: list[Change] = field(default_factory=list)
    known: bool = True
    active_id: int | None = None
    configuration: Configuration | None = None  # the one being edited


def active_configuration(conn: psycopg.Connection) -> tuple[int | None, Configuration | None, bool]:
    """(active revision id, its configuration, whether it kept one); (None, empty, True)
    before the first Apply.  Reads the configuration column only, never the files."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute("SELECT id, configuration FROM revisions WHERE active").fetchone()
    if row is None:
        return None, Configuration(), True
    revision_id, data = row
    if data is None:
        return revision_id, None, False
    return revision_id, configuration_from_json(data), True


def compute_pending_changes(conn: psycopg.Connection) -> PendingChanges:
    """The changes from the active revision's configuration to the one being edited."""
    revision_id, applied, known = active_configuration(conn)
    current = load_configuration(conn)
    if not known:
        return PendingChanges(known=False, active_id=revision_id, configuration=current)
    return PendingChanges(changes(applied, current), active_id=revision_id,
                          configuration=current)


def pending_changes() -> PendingChanges:
    """This request's pending changes, computed on first use."""
    if "pending_changes" not in g:
        conn = get_db()
        if conn.info.transaction_status != TransactionStatus.IDLE:
            # A page rendered inside a transaction: a snapshot of its own.
            with psycopg.connect(current_app.config["DATABASE_URL"], autocommit=True) as own:
                g.pending_changes = compute_pending_changes(own)
        else:
            g.pending_changes = compute_pending_changes(conn)
    return g.pending_changes


def forget_pending_changes() -> None:
    """Drop this request's answer (after an Apply made within the request)."""
    g.pop("pending_changes", None)


def banner_pending_changes() -> PendingChanges | None:
    """For the banner: the pending changes for an administrator, None for anyone else
    or when the database cannot be read (the page itself says why, if it needs it)."""
    if not (current_user.is_authenticated and current_user.has_role("administrator")):
        return None
    try:
        return pending_changes()
    except psycopg.Error as exc:
        log.warning("pending changes not shown: %s", exc)
        return None


def template_context() -> dict:
    """For a context processor: templates call ``pending_changes()`` only where shown."""
    return {"pending_changes": banner_pending_changes, "change_words": change_words,
            "BANNER_WORDS": BANNER_WORDS}
