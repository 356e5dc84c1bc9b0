"""The change history helper: one row per change, secrets masked."""

import psycopg
import pytest

from admin_web.audit import record_change


def test_secrets_are_masked_even_when_a_caller_passes_them(people, pg_url, db_rows):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        record_change(conn, "admin", "create", "line", "l1", None,
                      {"name": "l1", "reg_password": "provider-secret",
                       "nested": [{"password": "x"}]})
    stored = db_rows("SELECT new_value FROM change_log")[0]["new_value"]
    assert stored == {"name": "l1", "reg_password": "***", "nested": [{"password": "***"}]}


def test_unknown_actions_are_refused(people, pg_url):
    with psycopg.connect(pg_url) as conn, pytest.raises(ValueError):
        record_change(conn, "admin", "rename", "user", "x", None, None)
