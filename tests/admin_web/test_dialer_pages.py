"""The robocall section: settings, the task queue (add, delete, tick and delete, call now)
and the log with its period and number filters."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.admin_web.conftest import csrf_token


@pytest.fixture
def dialer_db(pg_url, people):
    """No tasks nor attempts, the settings row at its defaults."""
    with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("DELETE FROM robocall_attempts")
        conn.execute("DELETE FROM robocall_tasks")
        conn.execute("DELETE FROM dialer_settings")
        conn.execute("INSERT INTO dialer_settings (id) VALUES (1)")
        yield conn


SETTINGS = {"enabled": "y", "retry_minutes": "15", "max_lines": "3", "give_up_no_answers": "4",
            "give_up_failures": "6", "window_start": "08:30", "window_end": "21:00",
            "ring_seconds": "25", "schedule_id": ""}


def test_the_settings_are_saved_and_recorded_in_the_history(client, auth, dialer_db, db_rows):
    auth.login()
    page = client.get("/dialer/settings").get_data(as_text=True)
    assert "Настройки автообзвона" in page and "Число доступных линий" in page
    response = auth.post("/dialer/settings", SETTINGS, form_page="/dialer/settings")
    assert response.status_code == 302
    row = dialer_db.execute("SELECT * FROM dialer_settings").fetchone()
    assert (row["enabled"], row["retry_minutes"], row["max_lines"], row["give_up_no_answers"],
            row["give_up_failures"], row["ring_seconds"]) == (True, 15, 3, 4, 6, 25)
    assert (str(row["window_start"]), str(row["window_end"])) == ("08:30:00", "21:00:00")
    change, = db_rows("SELECT * FROM change_log WHERE object_type = 'dialer settings'")
    assert change["new_value"]["max_lines"] == 3 and change["old_value"]["max_lines"] == 2
    assert change["new_value"]["window_start"] == "08:30"


def test_refused_settings_keep_what_was_typed_and_store_nothing(client, auth, dialer_db):
    auth.login()
    bad = {**SETTINGS, "max_lines": "0", "window_end": "08:00", "retry_minutes": "x"}
    response = auth.post("/dialer/settings", bad, form_page="/dialer/settings")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Целое число от 1 до 500." in page
    assert "Конец периода должен быть позже начала." in page
    assert 'value="08:00"' in page
    row = dialer_db.execute("SELECT max_lines, window_end FROM dialer_settings").fetchone()
    assert (row["max_lines"], str(row["window_end"])) == (2, "20:00:00")


def test_settings_are_for_administrators_and_the_queue_for_managers(client, auth, dialer_db):
    auth.login("boss")
    assert client.get("/dialer/settings").status_code == 403
    assert client.get("/dialer/").status_code == 200
    auth.logout()
    auth.login("olga")
    assert client.get("/dialer/").status_code == 403


def test_a_task_added_by_hand_is_listed_and_in_the_history(client, auth, dialer_db, db_rows):
    auth.login()
    response = auth.post("/dialer/", {"phone": "+7 999", "text": "", "priority": "2000"},
                         form_page="/dialer/")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Say what the robot should say." not in page  # Russian by default
    assert "Целое число от 0 до 1000." in page and "Скажите, что должен произнести робот." in page
    assert dialer_db.execute("SELECT count(*) AS n FROM robocall_tasks").fetchone()["n"] == 0

    response = auth.post("/dialer/", {"phone": "79990001122", "text": "Ваше дело готово",
                                      "priority": "5", "not_before": "2030-01-02T10:00"},
                         form_page="/dialer/")
    assert response.status_code == 302
    task = dialer_db.execute("SELECT * FROM robocall_tasks").fetchone()
    assert (task["phone"], task["priority"], task["source"]) == ("79990001122", 5, "admin")
    assert task["not_before"] == datetime(2030, 1, 2, 10, 0, tzinfo=timezone.utc)
    page = client.get("/dialer/").get_data(as_text=True)
    assert "79990001122" in page and "Ваше дело готово" in page and "02.01.30 10:00" in page
    change, = db_rows("SELECT * FROM change_log WHERE object_type = 'robocall task'")
    assert change["action"] == "create" and change["new_value"]["phone"] == "79990001122"


def test_a_refused_phone_gets_its_own_error(client, auth, dialer_db):
    auth.login()
    response = auth.post("/dialer/", {"phone": "12", "text": "Привет", "priority": "1"},
                         form_page="/dialer/")
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Это не номер телефона" in page
    assert 'value="12"' in page and "Привет" in page


def add(conn, phone):
    return conn.execute("INSERT INTO robocall_tasks (phone, text) VALUES (%s, 'Текст')"
                        " RETURNING id", (phone,)).fetchone()["id"]


def test_delete_one_tick_several_and_call_now(client, auth, dialer_db):
    ids = [add(dialer_db, f"7999000000{i}") for i in range(4)]
    auth.login("boss")
    assert auth.post(f"/dialer/tasks/{ids[0]}/delete", form_page="/dialer/").status_code == 302
    response = client.post("/dialer/tasks/delete", data={
        "task": [str(ids[1]), str(ids[2])],
        "csrf_token": csrf_token(client, "/dialer/")})
    assert response.status_code == 302
    left = [r["id"] for r in dialer_db.execute("SELECT id FROM robocall_tasks")]
    assert left == [ids[3]]
    assert auth.post(f"/dialer/tasks/{ids[3]}/call-now", form_page="/dialer/").status_code == 302
    row = dialer_db.execute("SELECT call_now FROM robocall_tasks").fetchone()
    assert row["call_now"] is True
    page = client.get("/dialer/").get_data(as_text=True)
    assert "вызвать сейчас" in page


def test_the_task_list_refreshes_itself_when_asked(client, auth, dialer_db):
    add(dialer_db, "79990000001")
    auth.login("boss")
    page = client.get("/dialer/?refresh=1").get_data(as_text=True)
    assert 'data-refresh-url="/dialer/tasks/list?refresh=1' in page
    fragment = client.get("/dialer/tasks/list?refresh=1").get_data(as_text=True)
    assert fragment.lstrip().startswith("<div id=\"task-list\"") and "79990000001" in fragment
    assert "/dialer/tasks/list" not in client.get("/dialer/").get_data(as_text=True)


def test_the_log_filters_by_period_and_number_fragment(client, auth, dialer_db):
    old = datetime.now(timezone.utc) - timedelta(days=10)
    for phone, started, outcome in (("79991112233", old, "busy"),
                                    ("79994445566", datetime.now(timezone.utc), "answered"),
                                    ("78880000000", datetime.now(timezone.utc), None)):
        dialer_db.execute("INSERT INTO robocall_attempts (phone, text, started_at, outcome)"
                          " VALUES (%s, 'Текст', %s, %s)", (phone, started, outcome))
    auth.login("boss")
    page = client.get("/dialer/log").get_data(as_text=True)
    assert "Найдено попыток: 3" in page and "занято" in page and "идёт" in page
    page = client.get("/dialer/log?number=999").get_data(as_text=True)
    assert "Найдено попыток: 2" in page and "78880000000" not in page
    since = (datetime.now(timezone.utc) - timedelta(days=2)).date().isoformat()
    page = client.get(f"/dialer/log?number=7999&since={since}").get_data(as_text=True)
    assert "Найдено попыток: 1" in page and "79994445566" in page
    response = client.get("/dialer/log?number=abc")
    assert response.status_code == 400


def test_the_pages_speak_english_when_asked(client, auth, dialer_db):
    auth.login()
    client.post("/language/en", data={"csrf_token": csrf_token(client, "/")})
    page = client.get("/dialer/settings").get_data(as_text=True)
    assert "Lines to use at most" in page and "Число доступных линий" not in page


def test_the_navbar_marks_the_dialer_page_that_is_open(client, auth, dialer_db):
    auth.login()
    page = client.get("/dialer/log").get_data(as_text=True)
    assert re.search(r'dropdown-item active"\s+aria-current="page" href="/dialer/log"', page)
    assert not re.search(r'dropdown-item active"\s+aria-current="page" href="/dialer/"', page)


def test_the_history_names_the_settings_fields_as_the_form_does(client, auth, dialer_db):
    auth.login()
    auth.post("/dialer/settings", SETTINGS, form_page="/dialer/settings")
    page = client.get("/history/").get_data(as_text=True)
    assert "Изменены настройки автообзвона" in page
    assert "Число доступных линий" in page and "max_lines" not in page
