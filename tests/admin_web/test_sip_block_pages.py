"""The SIP blocks page: who sees it, what it shows, what lifting does to the rows and the ACL.

Lifting against a real Asterisk (the address gets through again) is in
tests/admin_web/test_sip_blocks_asterisk.py; here AMI is a port nobody
listens on, so the page must say the lift is stored but not yet in force.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from admin_web import create_app
from dialplan import sip_blocks
from dialplan.sip_guard import ACL_FILE
from fastagi.settings import Settings
from tests.testbed.ports import free_port

NOW = datetime.now(timezone.utc)


@pytest.fixture
def app(people, pg_url, tmp_path, monkeypatch):
    monkeypatch.setattr(sip_blocks, "AMI_SECONDS", 0.5)
    settings = Settings(ami_port=free_port(), ami_user="telecenter", ami_secret="not-used",
                        include_dir_override=tmp_path / "include")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE sip_blocks RESTART IDENTITY")
    yield create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path),
                      "TELECENTER_SETTINGS": settings})
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE sip_blocks RESTART IDENTITY")


def add_block(pg_url, address, since, until, lifted_by=None, failures=10,
              event="ChallengeResponseFailed", account="201") -> int:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute(
            "INSERT INTO sip_blocks (address, since, until, failures, last_event, account,"
            " lifted_at, lifted_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (address, since, until, failures, event, account,
             NOW if lifted_by else None, lifted_by)).fetchone()[0]


def rows_by_address(page: str) -> dict[str, str]:
    return dict(re.findall(r'<tr data-address="([^"]+)">(.*?)</tr>', page, re.S))


@pytest.mark.parametrize("login", ["olga", "boss"])
def test_only_administrators_see_blocks(client, auth, login):
    auth.login(login)
    assert client.get("/sip-blocks/").status_code == 403
    assert "/sip-blocks/" not in client.get("/").get_data(as_text=True)


def test_blocks_in_force_come_first_with_their_reason(client, auth, pg_url):
    add_block(pg_url, "10.0.0.7", NOW - timedelta(days=1), NOW - timedelta(hours=23))
    add_block(pg_url, "10.0.0.8", NOW - timedelta(minutes=5), NOW + timedelta(minutes=55),
              lifted_by="admin")
    add_block(pg_url, "10.0.0.9", NOW - timedelta(minutes=1), NOW + timedelta(minutes=59),
              failures=12, event="InvalidAccountID", account="<script>")
    auth.login()
    page = client.get("/sip-blocks/").get_data(as_text=True)
    assert "Блокировки SIP" in page
    rows = rows_by_address(page)
    assert list(rows) == ["10.0.0.9", "10.0.0.8", "10.0.0.7"]
    assert "заблокирован" in rows["10.0.0.9"] and "Снять" in rows["10.0.0.9"]
    assert "<td>12</td>" in rows["10.0.0.9"]
    assert "неизвестное имя учётной записи" in rows["10.0.0.9"]
    assert "&lt;script&gt;" in rows["10.0.0.9"] and "<script>" not in rows["10.0.0.9"]
    assert "снята: admin" in rows["10.0.0.8"] and "Снять" not in rows["10.0.0.8"]
    assert "истекла" in rows["10.0.0.7"] and "Снять" not in rows["10.0.0.7"]


def test_expired_and_lifted_blocks_leave_the_acl(app, pg_url, tmp_path):
    add_block(pg_url, "10.0.0.7", NOW - timedelta(days=1), NOW - timedelta(hours=23))
    add_block(pg_url, "10.0.0.8", NOW - timedelta(minutes=5), NOW + timedelta(hours=1),
              lifted_by="admin")
    add_block(pg_url, "10.0.0.9", NOW - timedelta(minutes=1), NOW + timedelta(hours=1))
    with psycopg.connect(pg_url) as conn:
        assert sip_blocks.active_addresses(conn) == ["10.0.0.9"]
        sip_blocks.write_acl(tmp_path, sip_blocks.active_addresses(conn))
    text = (tmp_path / ACL_FILE).read_text()
    assert re.findall(r"^deny = (\S+)$", text, re.M) == ["10.0.0.9/32"]


def test_a_lift_is_stored_and_recorded_even_when_asterisk_is_unreachable(
        client, auth, pg_url, tmp_path, db_rows):
    block_id = add_block(pg_url, "10.0.0.9", NOW - timedelta(minutes=1), NOW + timedelta(hours=1))
    auth.login()
    response = auth.post(f"/sip-blocks/{block_id}/lift", form_page="/sip-blocks/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Блокировка 10.0.0.9 снята, но Asterisk ещё не принял изменение" in page
    assert db_rows("SELECT lifted_by FROM sip_blocks WHERE id = %s", (block_id,)) == [
        {"lifted_by": "admin"}]
    [change] = db_rows("SELECT user_login, action, object_type, object_id, old_value, new_value"
                       " FROM change_log WHERE object_type = 'sip_block'")
    assert (change["user_login"], change["action"], change["object_id"]) == (
        "admin", "update", str(block_id))
    assert change["old_value"]["lifted_by"] is None and change["new_value"]["lifted_by"] == "admin"
    # The ACL file already lets the address in; the server reloads it on its next round.
    acl = (tmp_path / "include" / ACL_FILE).read_text()
    assert "10.0.0.9" not in acl


def test_lifting_twice_or_a_block_that_is_not_there(client, auth, pg_url, db_rows):
    block_id = add_block(pg_url, "10.0.0.7", NOW - timedelta(days=1), NOW - timedelta(hours=23))
    auth.login()
    response = auth.post(f"/sip-blocks/{block_id}/lift", form_page="/sip-blocks/")
    assert response.status_code == 302
    assert "Блокировка 10.0.0.7 уже не действует." in client.get("/sip-blocks/").get_data(
        as_text=True)
    assert db_rows("SELECT count(*) AS n FROM change_log WHERE object_type = 'sip_block'") == [
        {"n": 0}]
    assert auth.post("/sip-blocks/999999/lift", form_page="/sip-blocks/").status_code == 404
    assert client.post(f"/sip-blocks/{block_id}/lift").status_code == 400  # no CSRF token
