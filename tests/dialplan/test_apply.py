"""Apply's state machine on the test database, against a recording fake Asterisk.

The fake "loads" the files it finds in the include directory on reload
(unless told to reject them) and answers the two CLI commands Apply checks
with; any other call fails the test.  The real Asterisk is in
test_apply_asterisk.py.
"""

from __future__ import annotations

import asyncio
import re

import psycopg
import pytest
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row

from dialplan import apply as applying
from dialplan.apply import ApplyFailed, ApplyRefused, apply_configuration, diff, rollback
from dialplan.configuration import load_configuration
from dialplan.render import render_all
from fastagi.ami import AmiError
from fastagi.settings import Settings
from ivr.speaker import presynthesize_for_calls
from tests.dialplan.conftest import add_line, add_phone


class FakeAsterisk:
    """AsteriskControl that serves what it read from ``include_dir`` at its last reload."""

    def __init__(self, include_dir):
        self.include_dir = include_dir
        self.served: dict[str, str] = {}
        self.reject_next = 0  # how many reloads to reject from now
        self.calls: list[str] = []
        self.contacts: dict[str, set[str]] | None = None  # AOR -> addresses; None: unknown

    async def reload(self) -> None:
        self.calls.append("reload")
        if self.reject_next:
            self.reject_next -= 1
            raise AmiError("Reload refused: An unknown error occurred")
        self.served = {p.name: p.read_text() for p in self.include_dir.iterdir()
                       if p.is_file() and not p.name.startswith(".")}

    async def command(self, command: str) -> str:
        self.calls.append(command)
        text = "\n".join(self.served.values())
        if command == "dialplan show s@telecenter-revision":
            return "\n".join(re.findall(r"NoOp\(Telecenter revision \S+\)", text))
        if command == "pjsip list endpoints":
            return "\n".join(f" Endpoint:  {e}/{e}   Unavailable   0 of inf"
                             for e in sorted(applying.endpoints_in(self.served)))
        raise AssertionError(f"unexpected command {command!r}")

    async def contact_addresses(self) -> dict[str, set[str]] | None:
        return self.contacts


@pytest.fixture
def setup(config_db, tmp_path, monkeypatch):
    monkeypatch.setattr(applying, "RELOAD_SETTLE_SECONDS", 0)
    include = tmp_path / "include"
    return config_db, FakeAsterisk(include), Settings(var_dir=tmp_path), include


def do_apply(setup, who="admin"):
    conn, asterisk, settings, include = setup
    return asyncio.run(apply_configuration(conn, asterisk, settings, who, include_dir=include,
                                           presynthesize=presynthesize_for_calls))


def test_apply_stores_an_active_revision_and_a_history_row(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    first = do_apply(setup)
    second = do_apply(setup, who="chief")
    assert asterisk.calls[:4] == ["dialplan show s@telecenter-revision", "reload",
                                  "dialplan show s@telecenter-revision", "pjsip list endpoints"]
    assert second.id > first.id
    assert {p.name: p.read_text() for p in include.iterdir()} == second.files
    assert f"revision {second.id}." in second.files["pjsip_telecenter_internal.conf"]
    rows = conn.execute("SELECT id, created_by, active, files_hash, files FROM revisions"
                        " ORDER BY id").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(first.id, "admin", False), (second.id, "chief", True)]
    assert rows[1][3] == applying.files_hash(second.files) and rows[1][4] == second.files
    assert [r.id for r in applying.list_revisions(conn)] == [second.id, first.id]
    assert second.created_at is not None
    log = conn.execute("SELECT user_login, action, object_type, object_id FROM change_log"
                       " ORDER BY id DESC LIMIT 1").fetchone()
    assert log == ("chief", "apply", "revision", str(second.id))


def test_a_revision_keeps_the_configuration_it_was_made_from(setup):
    """What the admin compares with the pages (pending changes) and a rollback restores."""
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    add_line(conn, "prov1", "10.0.0.9", outbound_regex="^9[0-9]+$")
    conn.execute("UPDATE tts_settings SET engine = 'espeak'")
    applied = do_apply(setup)
    conn.execute("DELETE FROM phones")
    conn.execute("UPDATE tts_settings SET engine = 'festival'")

    stored = applying.get_revision(conn, applied.id).configuration
    assert [phone.number for phone in stored.phones] == ["101"]
    assert [line.name for line in stored.lines] == ["prov1"]
    assert stored.tts.engine == "espeak"
    assert stored == applied.configuration


def test_apply_works_on_the_admins_kind_of_connection(setup, pg_url):
    """Not autocommit, rows as dicts: Apply does not depend on either."""
    _conn, asterisk, settings, include = setup
    with psycopg.connect(pg_url, row_factory=dict_row) as conn:
        add_phone(conn, "101", "pw")
        conn.commit()
        revision = asyncio.run(apply_configuration(conn, asterisk, settings, "admin",
                                                   include_dir=include,
                                                   presynthesize=presynthesize_for_calls))
        assert conn.info.transaction_status == TransactionStatus.IDLE
        again = asyncio.run(rollback(conn, asterisk, settings, revision.id, "admin",
                                     include_dir=include, presynthesize=presynthesize_for_calls))
    assert again.rollback_of == revision.id and "[101]" in again.files["pjsip_telecenter_internal.conf"]


def test_problems_refuse_the_apply_before_anything_is_written(setup):
    conn, asterisk, settings, include = setup
    add_line(conn, "prov1", "10.0.0.1", outbound_regex="^8*$", inbound_number="555")
    with pytest.raises(ApplyRefused) as caught:
        do_apply(setup)
    assert [str(p) for p in caught.value.problems] == [
        "line 'prov1': outbound regex '^8*$' matches the empty number, so every call would leave"
        " through this line",
        "line 'prov1': inbound number 555 does not exist",
    ]
    assert asterisk.calls == [] and not include.exists()
    assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 0


def test_a_rejected_reload_puts_the_previous_revision_back(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    good = do_apply(setup)
    add_phone(conn, "102", "pw")
    asterisk.reject_next = 1
    with pytest.raises(ApplyFailed, match="reload refused: Reload refused.*previous files are back"):
        do_apply(setup)
    assert {p.name: p.read_text() for p in include.iterdir()} == good.files
    assert asterisk.served == good.files
    assert conn.execute("SELECT id FROM revisions WHERE active").fetchone()[0] == good.id
    assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 1


def test_a_reload_that_does_not_take_the_files_counts_as_rejected(setup, monkeypatch):
    """Asterisk answers the reload but still serves the old dialplan."""
    conn, asterisk, settings, include = setup
    first = do_apply(setup)
    add_phone(conn, "101", "pw")
    real_reload = FakeAsterisk.reload

    async def keeps_old(self):
        self.calls.append("reload")

    monkeypatch.setattr(FakeAsterisk, "reload", keeps_old)
    with pytest.raises(ApplyFailed, match=r"dialplan was not reloaded \(expected revision \d+\)"):
        do_apply(setup)
    monkeypatch.setattr(FakeAsterisk, "reload", real_reload)
    assert (include / "extensions_telecenter.conf").read_text() == first.files["extensions_telecenter.conf"]


def test_unreachable_asterisk_changes_nothing(setup, monkeypatch):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")

    async def no_answer(self, command):
        raise AmiError("AMI is not connected")

    monkeypatch.setattr(FakeAsterisk, "command", no_answer)
    with pytest.raises(ApplyFailed, match="not reachable, nothing was changed: AMI is not connected"):
        do_apply(setup)
    assert not include.exists() and asterisk.calls == []
    assert applying.current_files(conn, settings) == render_all(settings)


def test_current_files_are_the_active_revisions(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    revision = do_apply(setup)
    assert applying.current_files(conn, settings) == revision.files


def test_first_apply_rejected_leaves_an_empty_configuration(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    asterisk.reject_next = 1
    with pytest.raises(ApplyFailed):
        do_apply(setup)
    assert {p.name: p.read_text() for p in include.iterdir()} == render_all(settings)


def do_rollback(setup, revision_id, who="chief"):
    conn, asterisk, settings, include = setup
    return asyncio.run(rollback(conn, asterisk, settings, revision_id, who, include_dir=include,
                                presynthesize=presynthesize_for_calls))


def test_rollback_applies_the_earlier_configuration_as_a_new_revision(setup):
    """The earlier configuration comes back into the database and is rendered as the new
    revision (tests/dialplan/test_restore.py has every kind of object)."""
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    first = do_apply(setup)
    add_phone(conn, "102", "pw")
    second = do_apply(setup)
    back = do_rollback(setup, first.id)
    assert back.rollback_of == first.id and back.id > second.id
    assert back.files == render_all(settings, first.configuration, revision=back.id)
    assert asterisk.served == back.files
    assert [phone.number for phone in load_configuration(conn).phones] == ["101"]
    assert conn.execute("SELECT id FROM revisions WHERE active").fetchone()[0] == back.id
    assert conn.execute("SELECT action FROM change_log ORDER BY id DESC LIMIT 1").fetchone() == (
        "rollback",)
    changes = diff(first, second)
    assert sorted(changes) == sorted(first.files)  # every header names its revision
    assert f"--- revision {first.id}/pjsip_telecenter_internal.conf" in changes[
        "pjsip_telecenter_internal.conf"]
    assert "+[102]" in changes["pjsip_telecenter_internal.conf"].splitlines()
    assert "+exten => 102,1,Dial(PJSIP/102,30)" in changes["extensions_telecenter.conf"]
    changed = [line for text in diff(first, back).values() for line in text.splitlines()
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert changed and all(f"revision {first.id}" in line or f"revision {back.id}" in line
                           or f'"revision": {first.id}' in line or f'"revision": {back.id}' in line
                           for line in changed), changed  # only the revision's number
    with pytest.raises(LookupError):
        do_rollback(setup, 999999)


def test_cli_apply_lists_problems(pg_url, config_db, tmp_path):
    from click.testing import CliRunner

    from telecenter.cli import main

    add_line(config_db, "prov1", "10.0.0.1", outbound_regex=r"^\w")
    env = {"DATABASE_URL": pg_url, "TELECENTER_VAR": str(tmp_path),
           "TELECENTER_AMI_USER": "x", "TELECENTER_AMI_SECRET": "y", "TELECENTER_AMI_PORT": "9"}
    result = CliRunner().invoke(main, ["apply"], env=env)
    assert result.exit_code != 0
    assert "problem: line 'prov1': outbound regex '^\\\\w'" in result.output
    assert "nothing applied" in result.output
    without_ami = CliRunner().invoke(main, ["apply"], env={"DATABASE_URL": pg_url})
    assert without_ami.exit_code != 0 and "AMI is not configured" in without_ami.output
