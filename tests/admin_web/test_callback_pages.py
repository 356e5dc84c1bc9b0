"""The Callbacks section: who sees it, its filters and pages, marking a request done."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from admin_web import create_app
from tests.admin_web.conftest import AuthActions

MOSCOW = timezone(timedelta(hours=3))
_ROW = re.compile(r'<tr data-callback="(\d+)">(.*?)</tr>', re.S)


@pytest.fixture
def callbacks(pg_url):
    """An empty callbacks table; add(phone, requested_at, done_by=None) adds a request."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE callbacks RESTART IDENTITY CASCADE")

    def add(phone: str, requested_at: datetime, done_by: str | None = None) -> int:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            return conn.execute(
                "INSERT INTO callbacks (phone, requested_at, source, done_at, done_by)"
                " VALUES (%s, %s, 'ivr', %s, %s) RETURNING id",
                (phone, requested_at, requested_at + timedelta(hours=1) if done_by else None,
                 done_by)).fetchone()[0]
    return add


@pytest.fixture
def moscow(people, pg_url, tmp_path):
    """A client of an admin whose display time zone is Moscow's, and its AuthActions."""
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path),
                      "DISPLAY_TIMEZONE": "Europe/Moscow"})
    client = app.test_client()
    return client, AuthActions(client)


def listed(page: str) -> list[str]:
    """The phone numbers of the listed requests, top to bottom."""
    return [re.search(r"<code>([^<]+)</code>", row).group(1) for _id, row in _ROW.findall(page)]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=MOSCOW)


@pytest.mark.parametrize("login", ["olga", "boss", "admin"])
def test_operators_and_above_see_the_list(client, auth, login, callbacks):
    callbacks("79990000001", at(1))
    auth.login(login)
    response = client.get("/callbacks/")
    assert response.status_code == 200
    assert listed(response.get_data(as_text=True)) == ["79990000001"]


def test_nobody_logged_in_is_sent_to_log_in(client):
    response = client.get("/callbacks/")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_open_requests_newest_first_by_default_done_ones_on_request(client, auth, callbacks):
    callbacks("79990000001", at(1))
    callbacks("79990000002", at(3))
    callbacks("79990000003", at(2), done_by="olga")
    auth.login("olga")
    page = client.get("/callbacks/").get_data(as_text=True)
    assert listed(page) == ["79990000002", "79990000001"]
    assert "Найдено заявок: 2" in page
    done = client.get("/callbacks/?state=done").get_data(as_text=True)
    assert listed(done) == ["79990000003"]
    assert "выполнена" in done and "olga" in done
    assert listed(client.get("/callbacks/?state=all").get_data(as_text=True)) == [
        "79990000002", "79990000003", "79990000001"]


def test_a_period_takes_whole_days_of_the_display_time_zone(moscow, callbacks):
    client, auth = moscow
    callbacks("79990000001", at(2, hour=0) + timedelta(minutes=30))  # 2 Nov, 00:30 in Moscow
    callbacks("79990000002", at(3, hour=23))
    callbacks("79990000003", at(4, hour=0) + timedelta(minutes=1))
    auth.login("olga")
    page = client.get("/callbacks/?since=2026-11-02&until=2026-11-03").get_data(as_text=True)
    assert listed(page) == ["79990000002", "79990000001"]
    assert "2026-11-02 00:30" in page  # shown in the display time zone too


def test_a_number_fragment_finds_the_requests_with_it(client, auth, callbacks):
    callbacks("79991112233", at(1))
    callbacks("79994445566", at(2))
    auth.login("olga")
    assert listed(client.get("/callbacks/?number=1122").get_data(as_text=True)) == [
        "79991112233"]
    assert listed(client.get("/callbacks/?number=%2B7999").get_data(as_text=True)) == [
        "79994445566", "79991112233"]


@pytest.mark.parametrize("query, message", [
    ("number=7999%25", "Только цифры, например 7999 или 0012."),
    ("number=abc", "Только цифры, например 7999 или 0012."),
    ("since=2026-11-05&until=2026-11-01", "Конец периода раньше его начала."),
    ("state=lost", "Выберите одно из состояний списка."),
])
def test_a_bad_filter_is_refused_with_a_message_and_lists_nothing(client, auth, callbacks,
                                                                  query, message):
    callbacks("79990000001", at(1))
    auth.login("olga")
    response = client.get(f"/callbacks/?{query}")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in page
    assert listed(page) == []


def test_pages_go_from_newest_to_oldest_and_keep_the_filters(app, client, auth, callbacks):
    app.config["CALLBACKS_PAGE_SIZE"] = 2
    for day in range(1, 6):
        callbacks(f"7999000000{day}", at(day))
    auth.login("olga")
    first = client.get("/callbacks/?number=7999").get_data(as_text=True)
    assert listed(first) == ["79990000005", "79990000004"]
    assert "1 / 3" in first
    assert 'href="/callbacks/?page=2&amp;number=7999"' in first
    last = client.get("/callbacks/?number=7999&page=99").get_data(as_text=True)
    assert listed(last) == ["79990000001"]  # a page past the end shows the last one


def mark_done(auth, callback_id: int, back: str = "/callbacks/"):
    return auth.post(f"/callbacks/{callback_id}/done", {"back": back}, form_page="/callbacks/")


def test_an_operator_marks_a_request_done_and_the_history_keeps_who(client, auth, callbacks,
                                                                    db_rows):
    request = callbacks("79990000001", at(1))
    auth.login("olga")
    response = mark_done(auth, request, back="/callbacks/?number=7999")
    assert response.status_code == 302
    assert response.headers["Location"] == "/callbacks/?number=7999"
    row = db_rows("SELECT done_at, done_by FROM callbacks WHERE id = %s", (request,))[0]
    assert row["done_at"] is not None and row["done_by"] == "olga"
    [change] = db_rows("SELECT user_login, action, object_type, object_id, old_value, new_value"
                       " FROM change_log")
    assert (change["user_login"], change["action"], change["object_type"],
            change["object_id"]) == ("olga", "update", "callback", str(request))
    assert change["old_value"]["done_by"] is None and change["new_value"]["done_by"] == "olga"
    page = client.get("/callbacks/").get_data(as_text=True)
    assert "Заявка с номера 79990000001 выполнена." in page
    assert listed(page) == []


def test_a_request_done_already_is_left_as_it_was(client, auth, callbacks, db_rows):
    request = callbacks("79990000001", at(1), done_by="boss")
    before = db_rows("SELECT done_at, done_by FROM callbacks WHERE id = %s", (request,))
    auth.login("olga")
    mark_done(auth, request)
    assert db_rows("SELECT done_at, done_by FROM callbacks WHERE id = %s", (request,)) == before
    assert db_rows("SELECT 1 FROM change_log") == []
    page = client.get("/callbacks/").get_data(as_text=True)
    assert "Заявка с номера 79990000001 уже выполнена (boss)." in page


def test_marking_done_needs_the_forms_token(client, auth, callbacks, db_rows):
    request = callbacks("79990000001", at(1))
    auth.login("olga")
    assert client.post(f"/callbacks/{request}/done").status_code == 400
    assert db_rows("SELECT done_at FROM callbacks WHERE id = %s", (request,))[0]["done_at"] is None


@pytest.mark.parametrize("callback_id", ["999", "99999999999999"])
def test_marking_a_request_that_does_not_exist_is_not_found(auth, callbacks, callback_id):
    auth.login("olga")
    assert mark_done(auth, int(callback_id)).status_code == 404


def test_the_way_back_stays_on_the_callbacks_page(auth, callbacks):
    request = callbacks("79990000001", at(1))
    auth.login("olga")
    response = mark_done(auth, request, back="https://elsewhere.example/")
    assert response.headers["Location"] == "/callbacks/"
