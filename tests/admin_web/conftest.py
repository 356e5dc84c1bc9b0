"""Fixtures for the admin, flaskr style: `app`, `client`, `auth`, on the real test database."""

from __future__ import annotations

import re

import psycopg
import pytest

from admin_web import create_app
from admin_web.users import create_user

TOUCHED_TABLES = ("users", "phone_bindings", "change_log", "phones", "lines", "revisions",
                  "menus", "menu_items", "menu_handlers", "audio_files", "playlists",
                  "playlist_items", "persons", "cases", "queues", "queue_members", "queue_keys",
                  "transfer_settings")
PASSWORD = "Correct-horse-1"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def people(pg_url):
    """Empty users and change_log tables, then one user of each role."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TOUCHED_TABLES)} RESTART IDENTITY")
        conn.execute("INSERT INTO transfer_settings (id) VALUES (1)")  # its one row
        for login, role in (("admin", "administrator"), ("boss", "manager"),
                            ("olga", "operator")):
            create_user(conn, login, role, PASSWORD)


@pytest.fixture
def app(people, pg_url, tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path)})
    yield app


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, url: str = "/auth/login") -> str:
    """The CSRF token of this client's session, read from a form on `url`."""
    page = client.get(url).get_data(as_text=True)
    found = CSRF.search(page)
    assert found, f"no CSRF token on {url}"
    return found.group(1) or found.group(2)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, login="admin", password=PASSWORD):
        return self._client.post("/auth/login", data={
            "login": login, "password": password, "csrf_token": csrf_token(self._client)})

    def logout(self):
        return self._client.post("/auth/logout",
                                 data={"csrf_token": csrf_token(self._client, "/")})

    def post(self, url, data=None, form_page="/"):
        """POST `data` to `url` with a valid CSRF token, as a browser would."""
        return self._client.post(url, data={**(data or {}),
                                            "csrf_token": csrf_token(self._client, form_page)})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def db_rows(pg_url):
    def rows(sql, params=()):
        with psycopg.connect(pg_url, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute(sql, params).fetchall()
    return rows
