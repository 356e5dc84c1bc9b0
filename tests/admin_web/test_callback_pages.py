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


# Due requests, Call, not before, the number's history (spec 8).

class FakeLink:
    """The server's AsteriskLink as the Call button uses it: records each originate."""

    def __init__(self):
        self.originated: list[tuple] = []
        self.connected = True

    def ami_connected(self):
        return self.connected

    def originate(self, uniqueid, channel, context, seconds, caller_id, variables):
        self.originated.append((uniqueid, channel, context, seconds, caller_id, variables))


@pytest.fixture
def link(app):
    fake = FakeLink()
    app.extensions["telecenter_asterisk"] = fake
    return fake


def bind(pg_url, login: str, phone: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO phone_bindings (user_id, phone_number)"
                     " SELECT id, %s FROM users WHERE login = %s", (phone, login))


def press_call(auth, callback_id: int):
    return auth.post(f"/callbacks/{callback_id}/call", form_page="/callbacks/")


def english(auth, login: str = "olga"):
    auth.login(login)
    auth.post("/language/en")


def test_a_request_not_to_be_called_before_later_is_hidden_until_then(client, auth, callbacks,
                                                                      db_rows, pg_url):
    later = callbacks("79990000001", at(1))
    callbacks("79990000002", at(2))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE callbacks SET not_before = now() + interval '1 hour' WHERE id = %s",
                     (later,))
    english(auth)
    assert listed(client.get("/callbacks/").get_data(as_text=True)) == ["79990000002"]
    page = client.get("/callbacks/?state=open").get_data(as_text=True)
    assert listed(page) == ["79990000002", "79990000001"] and "not before" in page
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE callbacks SET not_before = now() - interval '1 minute'"
                     " WHERE id = %s", (later,))
    assert listed(client.get("/callbacks/").get_data(as_text=True)) == [
        "79990000002", "79990000001"]


def test_call_rings_the_operators_bound_phone_for_the_citizen(client, auth, callbacks, link,
                                                              db_rows, pg_url):
    request = callbacks("79990000001", at(1))
    bind(pg_url, "olga", "201")
    english(auth)
    response = press_call(auth, request)
    assert response.status_code == 302 and response.headers["Location"] == f"/callbacks/{request}"
    [call] = db_rows("SELECT * FROM callback_calls")
    assert (call["callback_id"], call["operator"], call["operator_phone"], call["citizen"]) == \
        (request, "olga", "201", "79990000001")
    assert link.originated == [(f"tcb-{call['id']}", "PJSIP/201", "telecenter-callback", 30,
                                "79990000001", {"TELECENTER_CALLBACK_CALL": str(call["id"])})]
    row = db_rows("SELECT calling_by, calling_since FROM callbacks")[0]
    assert row["calling_by"] == "olga" and row["calling_since"] is not None
    page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert "Your phone 201 rings: answer it and 79990000001 is dialled." in page
    assert "olga is calling" in page and "ringing the operator" in page


def test_two_operators_pressing_call_make_one_call_and_the_second_is_told_who_calls(
        app, client, auth, callbacks, link, db_rows, pg_url):
    request = callbacks("79990000001", at(1))
    bind(pg_url, "olga", "201")
    bind(pg_url, "boss", "202")
    english(auth)
    other = app.test_client()
    other_auth = AuthActions(other)
    english(other_auth, "boss")
    press_call(auth, request)
    press_call(other_auth, request)
    assert len(link.originated) == 1 and link.originated[0][1] == "PJSIP/201"
    assert len(db_rows("SELECT id FROM callback_calls")) == 1
    page = other.get(f"/callbacks/{request}").get_data(as_text=True)
    assert "olga is calling 79990000001 now." in page
    listed_page = other.get("/callbacks/").get_data(as_text=True)
    assert "olga is calling" in listed_page


def test_call_needs_a_bound_phone(client, auth, callbacks, link, db_rows):
    request = callbacks("79990000001", at(1))
    english(auth)
    code = db_rows("SELECT bind_code FROM users WHERE login = 'olga'")[0]["bind_code"]
    press_call(auth, request)
    assert link.originated == [] and db_rows("SELECT id FROM callback_calls") == []
    assert db_rows("SELECT calling_by FROM callbacks")[0]["calling_by"] is None
    page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert f"Bind a phone to yourself first: dial 1*{code} from it." in page


@pytest.mark.parametrize("server", ["without a link", "with AMI down"])
def test_call_without_the_servers_asterisk_connection_is_refused(app, client, auth, callbacks,
                                                                 db_rows, pg_url, server):
    if server == "with AMI down":
        app.extensions["telecenter_asterisk"] = FakeLink()
        app.extensions["telecenter_asterisk"].connected = False
    request = callbacks("79990000001", at(1))
    bind(pg_url, "olga", "201")
    english(auth)
    press_call(auth, request)
    assert db_rows("SELECT id FROM callback_calls") == []
    assert db_rows("SELECT calling_by FROM callbacks")[0]["calling_by"] is None
    assert "the server has no connection to Asterisk" in client.get(
        f"/callbacks/{request}").get_data(as_text=True)


def test_a_request_done_is_not_called(client, auth, callbacks, link, pg_url):
    request = callbacks("79990000001", at(1), done_by="boss")
    bind(pg_url, "olga", "201")
    english(auth)
    press_call(auth, request)
    assert link.originated == []
    assert "already done by boss" in client.get(f"/callbacks/{request}").get_data(as_text=True)


def test_the_request_page_sets_not_before_and_done_with_history(client, auth, callbacks,
                                                                 db_rows, moscow):
    request = callbacks("79990000001", at(1))
    client, auth = moscow
    english(auth)
    response = auth.post(f"/callbacks/{request}", {"not_before_date": "2030-01-02",
                                                   "not_before_time": "09:30"},
                         form_page=f"/callbacks/{request}")
    assert response.status_code == 302
    row = db_rows("SELECT not_before, done_at FROM callbacks")[0]
    assert row["not_before"] == datetime(2030, 1, 2, 9, 30, tzinfo=MOSCOW)
    assert row["done_at"] is None
    page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert 'value="2030-01-02"' in page and 'value="09:30"' in page
    response = auth.post(f"/callbacks/{request}", {"done": "y"},
                         form_page=f"/callbacks/{request}")
    row = db_rows("SELECT not_before, done_at, done_by FROM callbacks")[0]
    assert row["done_by"] == "olga" and row["not_before"] is None
    changes = db_rows("SELECT new_value FROM change_log ORDER BY id")
    assert [c["new_value"]["done_by"] for c in changes] == [None, "olga"]


def test_a_time_without_a_date_is_refused_and_nothing_is_stored(client, auth, callbacks,
                                                                db_rows):
    request = callbacks("79990000001", at(1))
    english(auth)
    response = auth.post(f"/callbacks/{request}", {"not_before_time": "09:30", "done": "y"},
                         form_page=f"/callbacks/{request}")
    assert response.status_code == 400
    assert "Give the date too." in response.get_data(as_text=True)
    assert db_rows("SELECT done_at, not_before FROM callbacks")[0] == {"done_at": None,
                                                                       "not_before": None}


def test_beside_the_request_the_history_of_the_number(client, auth, callbacks, pg_url):
    number = "79997770001"  # a number no other test calls from
    request = callbacks(number, at(1))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO calls (agi_call_id, caller, called, route, started_at)"
                     " VALUES ('history-1', %s, '90000', 'menu', %s)", (number, at(1, 9)))
        conn.execute("INSERT INTO callback_calls (callback_id, operator, operator_phone,"
                     " citizen, started_at, outcome) VALUES (%s, 'boss', '202', %s,"
                     " %s, 'citizen_no_answer')", (request, number, at(1, 15)))
        conn.execute("INSERT INTO calls (agi_call_id, caller, called, route)"
                     " VALUES ('history-2', '79997770002', '90000', 'menu')")  # another number
        conn.execute("INSERT INTO calls (agi_call_id, caller, called, route) VALUES"
                     " ('history-3', %s, 's', 'callback')", (number,))  # the callback's leg
    try:
        english(auth)
        page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM calls WHERE agi_call_id LIKE 'history-%'")
    history = page.split('id="number-history"')[1]
    kinds = re.findall(r'<tr data-kind="(\w+)">', history)
    assert kinds == ["callback", "request", "call"]
    assert "callback call by boss from 202" in history and "no answer" in history
    assert "call from the number to 90000" in history
    assert "79997770002" not in history


def test_the_call_under_way_refreshes_itself_until_it_ended(client, auth, callbacks, link,
                                                           pg_url):
    request = callbacks("79990000001", at(1))
    bind(pg_url, "olga", "201")
    english(auth)
    press_call(auth, request)
    page = client.get(f"/callbacks/{request}").get_data(as_text=True)
    assert f'data-refresh-url="/callbacks/{request}/calls"' in page
    part = client.get(f"/callbacks/{request}/calls").get_data(as_text=True)
    assert part.lstrip().startswith('<div id="callback-calls-live"') and "<html" not in part
    assert "ringing the operator" in part
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE callback_calls SET operator_answered_at = now()")
        assert "in progress" in client.get(f"/callbacks/{request}/calls").get_data(as_text=True)
        conn.execute("UPDATE callback_calls SET ended_at = now(), outcome = 'citizen_busy'")
    part = client.get(f"/callbacks/{request}/calls").get_data(as_text=True)
    assert "busy" in part and "data-refresh-url" not in part
