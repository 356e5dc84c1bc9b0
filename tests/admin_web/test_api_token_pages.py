"""The «API» page: an administrator makes a token (shown once), lists and revokes tokens."""

from __future__ import annotations

import hashlib
import re

import pytest

from tests.admin_web.conftest import csrf_token

TOKEN = re.compile(r'id="token">(tc_[A-Za-z0-9_-]+)<')


@pytest.fixture(autouse=True)
def no_tokens(db):
    db.execute("DELETE FROM api_tokens")


def make(auth, name="CRM"):
    return auth.post("/api-tokens/", {"name": name}, form_page="/api-tokens/")


def test_only_an_administrator_sees_the_page(client, auth):
    assert client.get("/api-tokens/").status_code == 302  # to the login
    for login in ("olga", "boss"):
        auth.login(login)
        assert client.get("/api-tokens/").status_code == 403
        assert client.post("/api-tokens/", data={"name": "x"}).status_code in (400, 403)
        auth.logout()
    auth.login("admin")
    page = client.get("/api-tokens/")
    assert page.status_code == 200
    assert 'href="/api-tokens/"' in client.get("/").get_data(as_text=True)  # in the navbar


def test_a_token_is_shown_once_kept_hashed_and_works_until_revoked(client, auth, db_rows):
    auth.login("admin")
    made = make(auth, "CRM of the registry office")
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    token = TOKEN.search(made.get_data(as_text=True)).group(1)
    rows = db_rows("SELECT id, name, token_hash, shown_prefix, created_by, revoked_at"
                   " FROM api_tokens")
    assert len(rows) == 1
    row = rows[0]
    assert (row["name"], row["created_by"], row["revoked_at"]) == (
        "CRM of the registry office", "admin", None)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row["shown_prefix"]) and len(row["shown_prefix"]) < len(token)
    assert token not in client.get("/api-tokens/").get_data(as_text=True)  # never again
    assert row["shown_prefix"] in client.get("/api-tokens/").get_data(as_text=True)

    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/robocall-tasks", headers=api).status_code == 200
    revoked = auth.post(f"/api-tokens/{row['id']}/revoke", form_page="/api-tokens/")
    assert revoked.status_code == 302
    assert client.get("/api/v1/robocall-tasks", headers=api).status_code == 401
    listed = client.get("/api-tokens/").get_data(as_text=True)
    assert f'data-token="{row["id"]}"' in listed
    assert f'action="/api-tokens/{row["id"]}/revoke"' not in listed
    again = auth.post(f"/api-tokens/{row['id']}/revoke", form_page="/api-tokens/")
    assert again.status_code == 302  # said so, nothing changed


def test_making_and_revoking_are_in_the_change_history_without_the_token(client, auth,
                                                                        db_rows):
    auth.login("admin")
    token = TOKEN.search(make(auth, "Portal").get_data(as_text=True)).group(1)
    token_id = db_rows("SELECT id FROM api_tokens")[0]["id"]
    auth.post(f"/api-tokens/{token_id}/revoke", form_page="/api-tokens/")
    changes = db_rows("SELECT user_login, action, object_type, object_id, old_value,"
                      " new_value FROM change_log ORDER BY id")
    assert [(c["user_login"], c["action"], c["object_type"], c["object_id"]) for c in changes] \
        == [("admin", "create", "api token", str(token_id)),
            ("admin", "update", "api token", str(token_id))]
    assert changes[1]["new_value"]["revoked_by"] == "admin"
    assert changes[1]["old_value"]["revoked_at"] is None
    assert token not in str(changes) and token[:20] not in str(changes)
    history = client.get("/history/").get_data(as_text=True)
    assert "Portal" in history


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "two\nlines"])
def test_a_bad_name_is_refused_and_nothing_is_stored(client, auth, db_rows, name):
    auth.login("admin")
    page = make(auth, name)
    assert page.status_code == 400
    assert not TOKEN.search(page.get_data(as_text=True))
    assert db_rows("SELECT id FROM api_tokens") == []
    assert db_rows("SELECT id FROM change_log") == []


def test_revoking_needs_the_form_and_a_token_that_exists(client, auth):
    auth.login("admin")
    assert client.post("/api-tokens/1/revoke").status_code == 400  # no CSRF token
    assert auth.post("/api-tokens/424242/revoke", form_page="/api-tokens/").status_code == 404
    assert auth.post(f"/api-tokens/{2**40}/revoke", form_page="/api-tokens/").status_code == 404


def test_the_page_is_russian_by_default_and_english_on_request(client, auth):
    auth.login("admin")
    assert '<html lang="ru">' in client.get("/api-tokens/").get_data(as_text=True)
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/api-tokens/")})
    page = client.get("/api-tokens/").get_data(as_text=True)
    assert '<html lang="en">' in page and "Make a token" in page
