"""The change history's rows: who changed which object, from what to what (spec 12).

The admin's sections (admin_web/audit.py), Apply and a rollback's restore
write through ``record_change``, inside the transaction of the change
itself, so a change is never stored without its history row.  Secrets never
reach the history: fields that hold one are masked here, the one rule every
writer and the history page share, as a safety net under callers that
should not pass them at all.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from psycopg import Connection
from psycopg.types.json import Jsonb

ACTIONS = ("create", "update", "delete", "apply", "rollback")
SECRET_FIELDS = frozenset({"password", "password_hash", "md5_cred", "reg_password", "secret"})
MASK = "***"
# Dates and the like are kept as their text.
_dumps = partial(json.dumps, default=str, ensure_ascii=False)


def masked(value: Any) -> Any:
    """``value`` with every secret field (at any depth) replaced by a mask."""
    if isinstance(value, dict):
        return {k: MASK if k in SECRET_FIELDS else masked(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [masked(v) for v in value]
    return value


def record_change(conn: Connection, login: str, action: str, object_type: str, object_id,
                  old: dict | None, new: dict | None) -> None:
    """Add one change_log row: who did ``action`` to which object, old and new values."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    conn.execute(
        "INSERT INTO change_log (user_login, action, object_type, object_id, old_value, new_value)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (login, action, object_type, "" if object_id is None else str(object_id),
         None if old is None else Jsonb(masked(old), dumps=_dumps),
         None if new is None else Jsonb(masked(new), dumps=_dumps)),
    )
