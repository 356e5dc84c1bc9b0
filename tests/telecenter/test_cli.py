"""The `telecenter` command's own subcommands, on the test database."""

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb
from werkzeug.security import check_password_hash

from telecenter.cli import main


@pytest.fixture
def run(pg_url, tmp_path):
    def run(*args, input=None):
        env = {"DATABASE_URL": pg_url, "TELECENTER_VAR": str(tmp_path)}
        return CliRunner().invoke(main, list(args), env=env, input=input)
    return run


def test_create_admin_stores_a_hash_not_the_password(run, pg_url):
    result = run("create-admin", "--login", "chief", input="Correct-horse-1\nCorrect-horse-1\n")
    assert result.exit_code == 0, result.output
    assert "administrator chief created" in result.output
    with psycopg.connect(pg_url) as conn:
        stored, role = conn.execute(
            "SELECT password_hash, role FROM users WHERE login = 'chief'").fetchone()
    assert role == "administrator"
    assert "Correct-horse-1" not in stored and check_password_hash(stored, "Correct-horse-1")

    again = run("create-admin", "--login", "chief", "--password", "Another-pass-2")
    assert "administrator chief updated" in again.output


@pytest.mark.parametrize("login, password, message", [
    ("x", "Long-enough-1", "login"),
    ("bad login", "Long-enough-1", "login"),
    ("fine", "short", "password"),
])
def test_create_admin_refuses_bad_input(run, pg_url, login, password, message):
    result = run("create-admin", "--login", login, "--password", password)
    assert result.exit_code != 0
    assert message in result.output
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM users WHERE login = %s", (login,)).fetchone()[0] == 0


def test_migrate_twice_is_up_to_date(run):
    run("migrate")
    result = run("migrate")
    assert result.exit_code == 0 and "schema is up to date" in result.output


@pytest.fixture
def run_fresh(fresh_database, tmp_path):
    """The command on a database where nothing was applied yet."""
    def run(*args):
        env = {"DATABASE_URL": fresh_database, "TELECENTER_VAR": str(tmp_path)}
        return CliRunner().invoke(main, list(args), env=env)
    return run


def test_render_before_any_apply_writes_the_empty_configuration(run_fresh, tmp_path):
    result = run_fresh("render", "--out", str(tmp_path / "inc"), "--no-reload", "--agi-port", "4999")
    assert result.exit_code == 0, result.output
    assert "agi://127.0.0.1:4999/" in (tmp_path / "inc" / "extensions_telecenter.conf").read_text()


def test_render_writes_the_active_revision_not_an_empty_configuration(
        run_fresh, fresh_database, tmp_path):
    files = {"extensions_telecenter.conf": "; revision 7: phones 201 and 202\n",
             "pjsip_telecenter_internal.conf": "; revision 7\n[201]\ntype = endpoint\n"}
    with psycopg.connect(fresh_database) as conn:
        conn.execute("INSERT INTO revisions (id, created_by, files, files_hash, active)"
                     " VALUES (7, 'test', %s, 'x', true)", (Jsonb(files),))
    result = run_fresh("render", "--out", str(tmp_path / "inc"), "--no-reload")
    assert result.exit_code == 0, result.output
    assert "revision 7" in result.output
    for name, text in files.items():
        assert (tmp_path / "inc" / name).read_text() == text

    moved = run_fresh("render", "--out", str(tmp_path / "inc"), "--no-reload", "--agi-port", "4999")
    assert moved.exit_code != 0 and "telecenter apply" in moved.output
    assert (tmp_path / "inc" / "extensions_telecenter.conf").read_text() == files[
        "extensions_telecenter.conf"]


def test_render_without_ami_asks_for_it(run_fresh, tmp_path):
    result = run_fresh("render", "--out", str(tmp_path / "inc"))
    assert result.exit_code != 0 and "AMI is not configured" in result.output
