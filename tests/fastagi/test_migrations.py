"""Migrations against a real PostgreSQL: each applied once, recorded, all or nothing."""

import psycopg
import pytest

from fastagi.migrations import apply_migrations, migration_files
from tests.conftest import new_database


@pytest.fixture
def scratch_db(pg_url):
    """A fresh, empty database on the test server, dropped afterwards."""
    with new_database(pg_url, "migrations_test", migrate=False) as url:
        yield url


def test_each_migration_applied_once(scratch_db, tmp_path):
    (tmp_path / "001_first.sql").write_text("CREATE TABLE first (id int);")
    assert apply_migrations(scratch_db, tmp_path) == ["001_first.sql"]
    (tmp_path / "002_second.sql").write_text("CREATE TABLE second (id int);")
    assert apply_migrations(scratch_db, tmp_path) == ["002_second.sql"]
    assert apply_migrations(scratch_db, tmp_path) == []
    with psycopg.connect(scratch_db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == ["001_first.sql", "002_second.sql"]


def test_failing_migration_leaves_nothing_behind(scratch_db, tmp_path):
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE ok (id int);")
    (tmp_path / "002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        apply_migrations(scratch_db, tmp_path)
    with psycopg.connect(scratch_db) as conn:
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None
        assert conn.execute("SELECT to_regclass('ok')").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations")] == ["001_ok.sql"]


@pytest.mark.parametrize("names", [["1_x.sql"], ["001_a.sql", "001_b.sql"], ["001_Bad-Name.sql"]])
def test_badly_named_migrations_refused(tmp_path, names):
    for name in names:
        (tmp_path / name).write_text("")
    with pytest.raises(ValueError):
        migration_files(tmp_path)
