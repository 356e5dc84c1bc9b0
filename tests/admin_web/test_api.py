"""The external API through HTTP, as the host information system meets it: the admin served
on a port by Twisted (as `telecenter serve` serves it), a real PostgreSQL behind it."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
import requests
from psycopg.rows import dict_row

from admin_web import api_tokens
from tests.admin_web.served_admin import served_admin

API = "/api/v1"


@pytest.fixture(scope="module")
def base_url(pg_url, tmp_path_factory):
    with served_admin(pg_url, tmp_path_factory.mktemp("api-var")) as url:
        yield url


@pytest.fixture
def conn(pg_url):
    with psycopg.connect(pg_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.fixture
def empty(conn):
    """No tasks, callback requests, tokens or test calls before the test."""
    conn.execute("DELETE FROM robocall_tasks")
    conn.execute("DELETE FROM callbacks")
    conn.execute("DELETE FROM api_tokens")
    conn.execute("DELETE FROM queue_calls WHERE caller_id LIKE 'api-test-%'")
    conn.execute("DELETE FROM calls WHERE agi_call_id LIKE 'api-test-%'")


@pytest.fixture
def token(conn, empty) -> str:
    return api_tokens.make_token(conn, "CRM", "admin").token


class Client:
    """The host system: every request with its token, unless told otherwise."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.base_url + API + path, headers=headers,
                                timeout=10, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def host(base_url, token) -> Client:
    return Client(base_url, token)


def count(conn, table: str) -> int:
    return conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]


# -- The description -------------------------------------------------------------------------

def test_the_description_and_its_page_are_served_without_a_token(base_url):
    spec = requests.get(f"{base_url}{API}/openapi.json", timeout=10)
    assert spec.status_code == 200 and spec.headers["Content-Type"] == "application/json"
    described = spec.json()
    assert set(described["paths"]) == {f"{API}/robocall-tasks", f"{API}/robocall-tasks/{{task_id}}",
                                       f"{API}/callbacks", f"{API}/calls"}
    assert described["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert described["security"] == [{"bearer": []}]
    page = requests.get(f"{base_url}{API}/docs", timeout=10)
    assert page.status_code == 200
    assert f"{API}/robocall-tasks" in page.text and "TaskNew" in page.text


# -- Tokens ----------------------------------------------------------------------------------

@pytest.mark.parametrize("authorization", [
    None, "", "Bearer", "Bearer ", "Basic YWRtaW46cGFzcw==", "Bearer tc_not-a-token",
    "Bearer " + "x" * 5000, "Token tc_x"])
def test_a_request_without_a_valid_token_is_refused_and_stores_nothing(
        base_url, token, conn, authorization):
    headers = {"Accept-Language": "en"}
    if authorization is not None:
        headers["Authorization"] = authorization
    answer = requests.post(f"{base_url}{API}/robocall-tasks", headers=headers, timeout=10,
                           json={"phone": "+79990000001", "text": "Hello"})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert answer.json()["code"] == 401 and "Bearer" in answer.json()["message"]
    assert count(conn, "robocall_tasks") == 0
    for path in ("/robocall-tasks", "/robocall-tasks/1", "/calls"):
        assert requests.get(f"{base_url}{API}{path}", headers=headers,
                            timeout=10).status_code == 401


def test_a_revoked_token_is_refused_from_the_next_request_and_another_still_works(
        host, conn, token):
    other = api_tokens.make_token(conn, "Portal", "admin").token
    assert host.get("/robocall-tasks").status_code == 200
    row = conn.execute("SELECT id FROM api_tokens WHERE token_hash = %s",
                       (hashlib.sha256(token.encode()).hexdigest(),)).fetchone()
    api_tokens.revoke_token(conn, row["id"], "admin")
    assert host.get("/robocall-tasks").status_code == 401
    assert host.get("/robocall-tasks", headers={
        "Authorization": f"Bearer {other}"}).status_code == 200


def test_tokens_are_kept_hashed_and_their_use_is_noted(host, conn, token):
    rows = conn.execute("SELECT token_hash, shown_prefix, last_used_at FROM api_tokens"
                        ).fetchall()
    assert len(rows) == 1 and rows[0]["last_used_at"] is None
    assert token not in json.dumps(rows, default=str)
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(rows[0]["shown_prefix"])
    host.get("/calls")
    used = conn.execute("SELECT last_used_at FROM api_tokens").fetchone()["last_used_at"]
    assert used is not None and abs(datetime.now(timezone.utc) - used) < timedelta(minutes=1)


# -- Robocall tasks --------------------------------------------------------------------------

def test_a_task_is_added_read_listed_and_deleted(host, conn):
    later = datetime.now(timezone.utc) + timedelta(hours=2)
    added = host.post("/robocall-tasks", json={
        "phone": "+79990000001", "text": "  Ваши документы готовы.  ", "priority": 5,
        "not_before": later.isoformat()})
    assert added.status_code == 201, added.text
    task = added.json()
    assert task["phone"] == "79990000001" and task["text"] == "Ваши документы готовы."
    assert task["priority"] == 5 and task["source"] == "api"
    assert datetime.fromisoformat(task["not_before"]) == later
    assert (task["done"], task["attempts"], task["answered"], task["call_now"]) == (
        False, 0, 0, False)
    stored = conn.execute("SELECT phone, source, next_try_at FROM robocall_tasks").fetchall()
    assert [(r["phone"], r["source"]) for r in stored] == [("79990000001", "api")]
    assert stored[0]["next_try_at"] >= later - timedelta(seconds=1)  # the dialer waits

    second = host.post("/robocall-tasks", json={"phone": "84951234567", "text": "Second"})
    assert second.status_code == 201 and second.json()["priority"] == 100
    assert second.json()["not_before"] is None

    assert host.get(f"/robocall-tasks/{task['id']}").json() == task
    listed = host.get("/robocall-tasks").json()
    assert [t["id"] for t in listed["items"]] == [second.json()["id"], task["id"]]
    assert (listed["limit"], listed["offset"]) == (100, 0)
    assert [t["id"] for t in host.get("/robocall-tasks", params={
        "number": "9990"}).json()["items"]] == [task["id"]]
    assert [t["id"] for t in host.get("/robocall-tasks", params={
        "limit": 1, "offset": 1}).json()["items"]] == [task["id"]]
    conn.execute("UPDATE robocall_tasks SET done_at = now(), outcome = 'answered', answered = 1"
                 " WHERE id = %s", (task["id"],))
    done = host.get("/robocall-tasks", params={"done": "true"}).json()["items"]
    assert [(t["id"], t["done"], t["outcome"]) for t in done] == [(task["id"], True, "answered")]
    assert [t["id"] for t in host.get("/robocall-tasks", params={
        "done": "false"}).json()["items"]] == [second.json()["id"]]

    deleted = host.delete(f"/robocall-tasks/{task['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert host.get(f"/robocall-tasks/{task['id']}").status_code == 404
    again = host.delete(f"/robocall-tasks/{task['id']}")
    assert again.status_code == 404 and again.json()["code"] == 404
    assert count(conn, "robocall_tasks") == 1


@pytest.mark.parametrize("path", ["/robocall-tasks/0", "/robocall-tasks/99999999",
                                  "/robocall-tasks/9223372036854775808",
                                  "/robocall-tasks/" + "9" * 400])
def test_a_task_that_is_not_there_is_404(host, path):
    for method in ("GET", "DELETE"):
        answer = host.request(method, path)
        assert answer.status_code == 404 and answer.json()["message"] == "Not found."


BAD_TASKS = [
    ({"text": "Hello"}, {"phone": "Required."}),
    ({"phone": "+79990000001"}, {"text": "Required."}),
    ({"phone": "12", "text": "Hello"}, {"phone": "Digits, 3 to 15 of them, an optional + first."}),
    ({"phone": "+7 999 000", "text": "Hello"},
     {"phone": "Digits, 3 to 15 of them, an optional + first."}),
    ({"phone": "79990000001\n", "text": "Hello"},
     {"phone": "Digits, 3 to 15 of them, an optional + first."}),
    ({"phone": 79990000001, "text": "Hello"}, {"phone": "Must be a string."}),
    ({"phone": "+79990000001", "text": "   "},
     {"text": "Say something: at least one character that is not a space, no NUL characters."}),
    ({"phone": "+79990000001", "text": "\u3000\x1c\ufeff"},
     {"text": "Say something: at least one character that is not a space, no NUL characters."}),
    ({"phone": "+79990000001", "text": "a\u0000b"},
     {"text": "Say something: at least one character that is not a space, no NUL characters."}),
    ({"phone": "+79990000001", "text": "x" * 1001}, {"text": "From 1 to 1000 characters."}),
    ({"phone": "+79990000001", "text": "Hi", "priority": 1001},
     {"priority": "A whole number from 0 to 1000."}),
    ({"phone": "+79990000001", "text": "Hi", "priority": -1},
     {"priority": "A whole number from 0 to 1000."}),
    ({"phone": "+79990000001", "text": "Hi", "priority": 1.5},
     {"priority": "Must be a whole number."}),
    ({"phone": "+79990000001", "text": "Hi", "priority": "5"},
     {"priority": "Must be a whole number."}),
    ({"phone": "+79990000001", "text": "Hi", "not_before": "2030-01-01T09:00:00"},
     {"not_before": "Must be a date and time in ISO 8601 with its time zone,"
                    " e.g. 2030-01-31T09:00:00+03:00."}),
    ({"phone": "+79990000001", "text": "Hi", "not_before": "tomorrow"},
     {"not_before": "Must be a date and time in ISO 8601 with its time zone,"
                    " e.g. 2030-01-31T09:00:00+03:00."}),
    ({"phone": "+79990000001", "text": "Hi", "id": 5}, {"id": "Unknown field."}),
    ({"phone": "+79990000001", "text": "Hi", "not_before": "9999-12-31T23:59:59-12:00"},
     {"not_before": "A time from the year 2000 to 8999."}),
    ({"phone": "+79990000001", "text": "Hi", "not_before": "0001-01-01T00:00:00+01:00"},
     {"not_before": "A time from the year 2000 to 8999."}),
]


@pytest.mark.parametrize("body, errors", BAD_TASKS)
def test_a_bad_task_is_refused_field_by_field_and_nothing_is_stored(host, conn, body, errors):
    answer = host.post("/robocall-tasks", json=body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.json()["errors"] == errors
    assert answer.json()["message"] == "Some values are wrong; see errors."
    assert count(conn, "robocall_tasks") == 0


@pytest.mark.parametrize("data, content_type, status, errors", [
    ("{not json", "application/json", 400, {"body": "The body is not valid JSON."}),
    ("[1, 2]", "application/json", 422, {"body": "The body must be a JSON object."}),
    ("null", "application/json", 422, {"body": "The body must be a JSON object."}),
    ("phone=79990000001&text=Hi", "application/x-www-form-urlencoded", 422,
     {"phone": "Required.", "text": "Required."}),
])
def test_a_body_that_is_no_json_object_is_refused(host, conn, data, content_type, status,
                                                  errors):
    answer = host.post("/robocall-tasks", data=data, headers={"Content-Type": content_type})
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"] == errors
    assert count(conn, "robocall_tasks") == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(host, conn):
    body = json.dumps({"phone": "+79990000001", "text": "x" * (64 * 1024)})
    answer = host.post("/robocall-tasks", data=body,
                       headers={"Content-Type": "application/json"})
    assert answer.status_code == 413
    assert answer.json()["message"] == "The body is too large: at most 65536 bytes."
    assert count(conn, "robocall_tasks") == 0


def test_a_body_of_unknown_length_is_refused(host, conn):
    def chunks(size):
        body = json.dumps({"phone": "+79990000001", "text": "x" * size}).encode()
        for start in range(0, len(body), 4096):
            yield body[start:start + 4096]

    for size in (100, 100_000):
        answer = host.post("/robocall-tasks", data=chunks(size),
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 411
        assert answer.json()["message"] == "Send the body with its length (Content-Length)."
    assert count(conn, "robocall_tasks") == 0


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": "many"}, "limit"),
    ({"offset": -1}, "offset"), ({"offset": 10**30}, "offset"), ({"done": "maybe"}, "done"),
    ({"number": "79a"}, "number"), ({"number": "\u0661\u0662"}, "number"),
    ({"number": "79\n"}, "number"),
    ({"sort": "id"}, "sort"),
])
def test_bad_list_filters_are_refused(host, params, field):
    answer = host.get("/robocall-tasks", params=params)
    assert answer.status_code == 422, answer.text
    assert list(answer.json()["errors"]) == [field]


def test_messages_are_russian_unless_the_client_asks_for_english(host):
    english = host.post("/robocall-tasks", json={"text": "Hi"})
    russian = host.post("/robocall-tasks", json={"text": "Hi"},
                        headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    default = host.post("/robocall-tasks", json={"text": "Hi"},
                        headers={"Accept-Language": ""})
    assert english.json()["errors"] == {"phone": "Required."}
    assert russian.json()["errors"] == {"phone": "Обязательное поле."}
    assert default.json()["errors"] == russian.json()["errors"]
    assert russian.json()["message"] == "Некоторые значения неверны: см. errors."


# -- Callback requests -----------------------------------------------------------------------

def test_a_callback_is_ordered_once_per_number(host, conn):
    first = host.post("/callbacks", json={"phone": "+79990000002"})
    assert first.status_code == 201, first.text
    assert first.json() == {"id": first.json()["id"], "phone": "79990000002", "new": True}
    again = host.post("/callbacks", json={"phone": "89990000002"})  # the same number
    assert again.status_code == 200
    assert again.json() == {**first.json(), "new": False}
    rows = conn.execute("SELECT phone, source, not_before FROM callbacks").fetchall()
    assert rows == [{"phone": "79990000002", "source": "api", "not_before": None}]
    later = datetime(2030, 1, 31, 9, 0, tzinfo=timezone(timedelta(hours=3)))
    other = host.post("/callbacks", json={"phone": "+441234567890",
                                          "not_before": later.isoformat()})
    assert other.status_code == 201 and other.json()["new"] is True
    assert conn.execute("SELECT not_before FROM callbacks WHERE id = %s",
                        (other.json()["id"],)).fetchone()["not_before"] == later


@pytest.mark.parametrize("body, field", [
    ({}, "phone"), ({"phone": "abc"}, "phone"), ({"phone": None}, "phone"),
    ({"phone": "+79990000002", "not_before": "2030-01-01"}, "not_before"),
    ({"phone": "+79990000002", "not_before": "9999-12-31T23:59:59-12:00"}, "not_before"),
    ({"phone": "+79990000002", "not_before": "1999-12-31T23:59:59+00:00"}, "not_before"),
    ({"phone": "+79990000002", "text": "x"}, "text"),
])
def test_a_bad_callback_is_refused_and_nothing_is_stored(host, conn, body, field):
    answer = host.post("/callbacks", json=body)
    assert answer.status_code == 422, answer.text
    assert list(answer.json()["errors"]) == [field]
    assert count(conn, "callbacks") == 0


# -- Call history ----------------------------------------------------------------------------

def _call(conn, n: int, caller: str, called: str, started: datetime, events=(),
          queue: dict | None = None) -> int:
    unique_id = f"api-test-{n}"
    call_id = conn.execute(
        "INSERT INTO calls (agi_call_id, unique_id, caller, called, route, started_at, ended_at,"
        " outcome) VALUES (%s, %s, %s, %s, 'ivr', %s, %s, 'hangup') RETURNING id",
        (unique_id, unique_id, caller, called, started, started + timedelta(seconds=65))
    ).fetchone()["id"]
    for seq, (kind, detail) in enumerate(events):
        conn.execute("INSERT INTO call_events (call_id, seq, at, kind, detail)"
                     " VALUES (%s, %s, %s, %s, %s)",
                     (call_id, seq, started + timedelta(seconds=seq), kind, detail))
    if queue:
        conn.execute(
            "INSERT INTO queue_calls (caller_id, queue_id, number, joined_at, answered_phone,"
            " answered_operator, answered_at, wait_seconds, outcome)"
            " VALUES (%s, 999999, %s, %s, '201', %s, %s, %s, 'answered')",
            (unique_id, caller, started + timedelta(seconds=5), queue["operator"],
             started + timedelta(seconds=5 + queue["wait"]), queue["wait"]))
    return call_id


def test_call_history_with_steps_queue_wait_and_operator_and_filters(host, conn):
    base = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    menu = _call(conn, 1, "79161112233", "90000", base,
                 [("command", "ANSWER"), ("digits", "1"), ("say", "Ваше дело готово"),
                  ("prompt", "menu-1"), ("item", "Статус дела")])
    queued = _call(conn, 2, "79031234567", "90001", base + timedelta(hours=1),
                   [("queue", "90001: waiting as api-test-2")],
                   {"operator": "olga", "wait": 42.5})
    _call(conn, 3, "201", "79161112233", base + timedelta(days=1))

    period = {"from": base.isoformat(), "to": (base + timedelta(hours=2)).isoformat()}
    calls = host.get("/calls", params=period).json()["items"]
    assert [c["id"] for c in calls] == [queued, menu]
    first = calls[1]
    assert (first["caller"], first["called"], first["outcome"], first["duration_seconds"]) == (
        "79161112233", "90000", "hangup", 65.0)
    assert [(s["kind"], s["detail"]) for s in first["steps"]] == [
        ("digits", "1"), ("say", "Ваше дело готово"), ("item", "Статус дела")]
    assert first["queue"] is None and first["operator"] is None
    assert calls[0]["queue"]["wait_seconds"] == 42.5
    assert calls[0]["queue"]["operator"] == calls[0]["operator"] == "olga"
    assert calls[0]["queue"]["name"] is None  # its queue is gone

    assert host.get("/calls", params={"from": period["to"], "to": period["from"]}
                    ).json()["items"] == []
    by_number = host.get("/calls", params={"number": "+7916111"}).json()["items"]
    assert sorted(c["caller"] for c in by_number) == ["201", "79161112233"]
    page = host.get("/calls", params={"number": "7916111", "limit": 1, "offset": 1}).json()
    assert [c["id"] for c in page["items"]] == [menu] and page["limit"] == 1


@pytest.mark.parametrize("params, field", [
    ({"from": "2026-03-02T10:00:00"}, "from"), ({"to": "yesterday"}, "to"),
    ({"number": "abc"}, "number"), ({"limit": 5000}, "limit"),
])
def test_bad_call_filters_are_refused(host, params, field):
    answer = host.get("/calls", params=params)
    assert answer.status_code == 422, answer.text
    assert list(answer.json()["errors"]) == [field]


# -- What no view serves ---------------------------------------------------------------------

def test_unknown_paths_and_methods_are_answered_in_json(host):
    missing = host.get("/nothing")
    assert missing.status_code == 404 and missing.json()["code"] == 404
    wrong = host.request("PUT", "/robocall-tasks")
    assert wrong.status_code == 405 and wrong.json()["code"] == 405
    nul = host.get("/calls", params={"number": "7\u00009"})
    assert nul.status_code in (400, 422) and nul.json()["code"] == nul.status_code
