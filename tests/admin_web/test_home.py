"""The home page: each role's work, and the administrator's glance at the system."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import psycopg
import pytest

from admin_web import create_app
from admin_web.phone_state import OFFLINE, ONLINE
from fastagi.settings import Settings
from tests.admin_web.conftest import AuthActions


class ServerLink:
    """The server's link as the home page reads it: AMI up or down, the phones' states."""

    def __init__(self, connected: bool | None, states: dict[str, str] | None):
        self.connected = connected
        self.states = states

    def ami_connected(self):
        return self.connected

    def contact_states(self):
        return self.states


@pytest.fixture
def tables(pg_url):
    """No calls, callbacks, phones or revisions; the speech engine a fresh install has."""
    def empty():
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("TRUNCATE calls, callbacks, phones, revisions RESTART IDENTITY CASCADE")
            conn.execute("UPDATE tts_settings SET engine = 'festival'")
    empty()
    yield
    empty()


class _ElementText(HTMLParser):
    """Collects the text inside the element with one id."""

    VOID = {"br", "hr", "img", "input", "meta", "link"}

    def __init__(self, element_id: str):
        super().__init__()
        self.element_id = element_id
        self.depth = 0  # open elements inside the one sought, itself included
        self.found = False
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in self.VOID:
            return
        if self.depth:
            self.depth += 1
        elif dict(attrs).get("id") == self.element_id:
            self.depth, self.found = 1, True

    def handle_endtag(self, tag):
        if self.depth and tag not in self.VOID:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.parts.append(data)


def card(page: str, element_id: str) -> str:
    """The text of the element with this id, spaces squeezed."""
    reader = _ElementText(element_id)
    reader.feed(page)
    assert reader.found, f"no #{element_id} on the page"
    return " ".join(" ".join(reader.parts).split())


def add_callback(pg_url, phone: str, done: bool = False) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO callbacks (phone, source, done_at, done_by)"
                     " VALUES (%s, 'ivr', %s, %s)",
                     (phone, datetime.now(timezone.utc) if done else None,
                      "olga" if done else None))


def test_an_operator_sees_their_open_callback_requests_and_nothing_of_the_system(
        client, auth, tables, pg_url):
    """Before, an operator's home listed no section and said nothing of their work."""
    for phone, done in (("79990000001", False), ("79990000002", False), ("79990000003", True)):
        add_callback(pg_url, phone, done)
    auth.login("olga")
    page = client.get("/").get_data(as_text=True)
    assert card(page, "open-callbacks") == "Обратные звонки 2 Открытые заявки Открыть список"
    assert '<a class="card-link" href="/callbacks/">' in page
    for not_theirs in ("system-state", "calls-today", "pending-changes-summary"):
        assert f'id="{not_theirs}"' not in page


def test_a_manager_sees_the_callbacks_and_the_calls_of_today_not_the_system(
        client, auth, tables):
    auth.login("boss")
    page = client.get("/").get_data(as_text=True)
    assert 'id="open-callbacks"' in page and 'id="calls-today"' in page
    assert 'id="system-state"' not in page


@pytest.fixture
def moscow(people, pg_url, tmp_path):
    """A client of an admin whose display time zone is Moscow's, and its AuthActions."""
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path),
                      "DISPLAY_TIMEZONE": "Europe/Moscow"})
    client = app.test_client()
    return app, client, AuthActions(client)


def test_calls_today_count_from_midnight_of_the_display_time_zone(moscow, tables, pg_url):
    _app, client, auth = moscow
    midnight = datetime.now(ZoneInfo("Europe/Moscow")).replace(hour=0, minute=0, second=0,
                                                                microsecond=0)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for started in (midnight - timedelta(minutes=1), midnight + timedelta(seconds=1),
                        datetime.now(timezone.utc)):
            conn.execute("INSERT INTO calls (agi_call_id, started_at) VALUES ('home', %s)",
                         (started,))
    auth.login("boss")
    assert card(client.get("/").get_data(as_text=True), "calls-today") == \
        "Звонки за сегодня 2 с полуночи"


def test_without_the_server_the_administrator_is_told_its_state_is_unknown(
        app, client, auth, tables):
    app.config["TELECENTER_SETTINGS"] = Settings(ami_user="telecenter", ami_secret="secret")
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert card(page, "state-ami") == "неизвестно админка запущена без сервера"
    assert card(page, "state-revision").startswith("нет: ещё ничего не применялось")
    assert card(page, "state-phones") == "неизвестно из 0"
    assert 'id="pending-changes-summary"' in page  # the pending changes' line goes here


def test_without_ami_credentials_the_administrator_is_told_what_to_set(app, client, auth,
                                                                       tables):
    app.config["TELECENTER_SETTINGS"] = Settings(ami_user="", ami_secret="")
    auth.login()
    assert card(client.get("/").get_data(as_text=True), "state-ami") == (
        "не настроен Задайте пользователя и пароль AMI"
        " (TELECENTER_AMI_USER, TELECENTER_AMI_SECRET).")


def test_a_server_that_does_not_answer_leaves_ami_unknown(app, client, auth, tables):
    app.extensions["telecenter_asterisk"] = ServerLink(None, None)
    auth.login()
    assert card(client.get("/").get_data(as_text=True), "state-ami") == \
        "неизвестно сервер не ответил"


def test_the_administrator_sees_ami_revision_and_phones_online(app, client, auth, tables,
                                                               pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for number in ("201", "202", "203"):
            conn.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)",
                         (number, "0" * 32))
        conn.execute("INSERT INTO revisions (created_by, created_at, files, files_hash, active)"
                     " VALUES ('anna', '2026-11-30 09:15:00+00', '{}', 'x', false),"
                     " ('admin', '2026-12-01 10:05:00+00', '{}', 'y', true)")
    app.extensions["telecenter_asterisk"] = ServerLink(True, {"201": ONLINE, "202": OFFLINE,
                                                              "203": ONLINE})
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert card(page, "state-ami") == "подключён"
    assert card(page, "state-revision").startswith("№ 2 , 2026-12-01 10:05, admin")
    assert '<a href="/apply/">№ 2</a>' in page
    assert card(page, "state-phones") == "2 из 3"


def test_ami_down_reads_not_connected_and_phones_unknown(app, client, auth, tables, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO phones (number, md5_cred) VALUES ('201', %s)", ("0" * 32,))
    app.extensions["telecenter_asterisk"] = ServerLink(False, None)
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert card(page, "state-ami") == "нет связи"
    assert card(page, "state-phones") == "неизвестно из 1"


def installed(directory, *programs: str) -> str:
    """A PATH of one directory holding these programs (empty scripts)."""
    for program in programs:
        path = directory / program
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    return str(directory)


def test_the_speech_engine_is_ready_when_its_programs_are_installed(
        client, auth, tables, pg_url, tmp_path, monkeypatch):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE tts_settings SET engine = 'espeak'")
    monkeypatch.setenv("PATH", installed(tmp_path, "espeak-ng", "sox"))
    auth.login()
    assert card(client.get("/").get_data(as_text=True), "state-tts") == "espeak-ng работает"


def test_the_speech_engine_missing_its_programs_says_which(client, auth, tables, tmp_path,
                                                           monkeypatch):
    monkeypatch.setenv("PATH", installed(tmp_path, "sox"))
    auth.login()
    assert card(client.get("/").get_data(as_text=True), "state-tts") == \
        "Festival (русский голос festvox-ru) не работает Не хватает: festival, text2wave"


def test_yandex_without_its_account_says_what_is_missing(client, auth, tables, pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE tts_settings SET engine = 'yandex'")
    auth.login()
    text = card(client.get("/").get_data(as_text=True), "state-tts")
    assert "не работает" in text and "yandex_folder_id" in text
