"""No 5xx for any id or field value: every form of the admin gets oversized and odd values.

The walk is generic, so a new page is covered without touching this file:
every page the URL map lists is fetched (ids of rows seeded here put in its
URL), every form on it is read (action, fields, their current values), and
each field in turn gets each odd value while the others keep theirs. Forms
that carry nothing but a CSRF token (delete, move, roll back) act at once, so
only their URLs get odd ids. A refused post (4xx) must leave every stored
row as it was.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from tests.admin_web.conftest import TOUCHED_TABLES

ODD_VALUES = {
    "10,000 digits": "9" * 10_000,
    "a huge string": "я" * 30_000,
    "beyond bigint": "9" * 20,
    "beyond integer": str(2**31),
    "negative": "-1",
    "zero": "0",
    "non-ASCII digits": "١٢٣",
    "fullwidth digits": "１２",
    "a superscript": "²",
    "empty": "",
    "NUL": "a\x00b",
    "a lone surrogate": "a\udcffb",
    "a line separator": "1\u20282",
    "a final line break": "12\n",
    "not a number": "NaN",
    "an exponent": "1e999",
    "an impossible date": "2026-02-30",
    "a far date": "99999-12-31",
    "markup": "<script>alert(1)</script>",
}
ODD_IDS = ("0", "9" * 10_000, "9" * 20, str(2**31), str(2**63))
# Logging in and out is test_auth's (the walk stays logged in).
# The API takes JSON, not forms: tests/admin_web/test_api*.py send it odd bodies.
SKIPPED_ENDPOINTS = {"auth.login", "auth.logout", "api.add_task", "api.add_callback"}
ID_ARGUMENT = re.compile(r"<int:(\w+)>")
STATIC_ENDPOINTS = ("static", "bootstrap.static")


class FormReader(HTMLParser):
    """The forms of a page: action, method and each field's name and current value
    (a select's chosen option, else its first)."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "option" and self._select and self.forms:
            fields = self.forms[-1]["fields"]  # the chosen option, else the first
            if fields[self._select] is None or "selected" in attrs:
                fields[self._select] = attrs.get("value", "")
        elif tag == "form":
            self.forms.append({"action": attrs.get("action") or self.page_url,
                               "method": (attrs.get("method") or "get").lower(),
                               "fields": {}})
        elif not self.forms or not attrs.get("name"):
            return
        elif tag == "input":
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                self.forms[-1]["fields"].setdefault(attrs["name"], None)
                return
            self.forms[-1]["fields"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "select":
            self._select = attrs["name"]
            self.forms[-1]["fields"][self._select] = None
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.forms[-1]["fields"][self._textarea] = ""

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            self.forms[-1]["fields"][self._textarea] += data


def forms_on(page_url: str, html: str) -> list[dict]:
    reader = FormReader(page_url)
    reader.feed(html)
    return reader.forms


@pytest.fixture
def seeded(db, app, tmp_path):
    """One row of everything a URL can name, so every form page shows its form."""
    audio_id = db.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                          " VALUES ('Мелодия', 1000, 16000) RETURNING id").fetchone()["id"]
    db.execute("INSERT INTO phones (number, md5_cred) VALUES ('101', %s)", ("0" * 32,))
    db.execute("INSERT INTO phone_bindings (user_id, phone_number)"  # the header's Unbind
               " SELECT id, '101' FROM users WHERE login = 'admin'")
    db.execute("INSERT INTO lines (name, host, inbound_number, outbound_regex)"
               " VALUES ('prov1', '10.0.0.1', '555', '^9[0-9]+$')")
    playlist = db.execute("INSERT INTO playlists (name) VALUES ('Ожидание') RETURNING id"
                          ).fetchone()["id"]
    db.execute("INSERT INTO playlist_items (playlist_id, kind, audio_id)"
               " VALUES (%s, 'audio', %s)", (playlist, audio_id))
    db.execute("INSERT INTO playlist_items (playlist_id, kind, text)"
               " VALUES (%s, 'tts', 'Ждите')", (playlist,))
    menu = db.execute("INSERT INTO menus (name) VALUES ('Главное') RETURNING id"
                      ).fetchone()["id"]
    item = db.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                      " VALUES (%s, '90000', 'tts', 'Здравствуйте') RETURNING id",
                      (menu,)).fetchone()["id"]
    db.execute("INSERT INTO menu_handlers (item_id, kind, key, target)"
               " VALUES (%s, 'key', '1', '101')", (item,))
    person = db.execute("INSERT INTO persons (full_name, first_name, phone)"
                        " VALUES ('Иванов Иван', 'Иван', '79990000001') RETURNING id"
                        ).fetchone()["id"]
    db.execute("INSERT INTO cases (number, person_id, status)"
               " VALUES ('19-03-2044', %s, 'открыто')", (person,))
    queue = db.execute("INSERT INTO queues (name, number, playlist_id) VALUES ('Поддержка',"
                       " '92000', %s) RETURNING id", (playlist,)).fetchone()["id"]
    db.execute("INSERT INTO queue_members (queue_id, phone_id) SELECT %s, id FROM phones",
               (queue,))
    db.execute("INSERT INTO queue_keys (queue_id, key, target) VALUES (%s, '3', '90000')",
               (queue,))
    # Schedules and override rules (not truncated by the fixtures: the dialer's settings
    # refer to schedules), removed again afterwards.
    schedule = db.execute("INSERT INTO schedules (name) VALUES ('Офис (проверка)') RETURNING id"
                          ).fetchone()["id"]
    db.execute("INSERT INTO schedule_hours (schedule_id, weekday, starts, ends)"
               " VALUES (%s, 1, '09:00', '18:00')", (schedule,))
    db.execute("INSERT INTO override_rules (called_number, schedule_id, redirect)"
               " VALUES ('101', %s, '90000')", (schedule,))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug shows as the 500 a browser would get
    yield
    db.execute("DELETE FROM override_rules")
    db.execute("DELETE FROM schedules WHERE id NOT IN (SELECT schedule_id FROM dialer_settings"
               " WHERE schedule_id IS NOT NULL)")


STORED = ", ".join(f"(SELECT md5(coalesce(string_agg(r::text, '|' ORDER BY r::text), ''))"
                   f" FROM {table} r) AS {table}" for table in (*TOUCHED_TABLES, "tts_settings", "schedules",
                                                 "schedule_hours", "schedule_dates",
                                                 "override_rules"))


def stored_rows(db) -> dict:
    """A digest of every row the admin can change, table by table (one query: it runs often)."""
    return db.execute(f"SELECT {STORED}").fetchone()


def url_with_ids(rule: str, ids) -> str:
    """The rule's URL with every <int:...> replaced by `ids(name)`."""
    return ID_ARGUMENT.sub(lambda m: ids(m.group(1)), rule)


def first_ids(db) -> dict:
    """The id of the seeded row each URL argument names (user_id: the operator)."""
    one = {name: db.execute(f"SELECT min(id) AS id FROM {table}").fetchone()["id"]
           for name, table in (("audio_id", "audio_files"), ("phone_id", "phones"),
                               ("line_id", "lines"), ("playlist_id", "playlists"),
                               ("menu_id", "menus"), ("item_id", "menu_items"),
                               ("handler_id", "menu_handlers"), ("person_id", "persons"),
                               ("case_id", "cases"), ("revision_id", "revisions"),
                               ("queue_id", "queues"), ("schedule_id", "schedules"),
                               ("rule_id", "override_rules"), ("task_id", "robocall_tasks"),
                               ("token_id", "api_tokens"), ("callback_id", "callbacks"))}
    one["user_id"] = db.execute("SELECT id FROM users WHERE login = 'olga'").fetchone()["id"]
    return {name: str(value or 1) for name, value in one.items()}


def encoded(pairs: list[tuple[str, str]]) -> bytes:
    """A form body as raw bytes: a lone surrogate goes out as the bytes that encode it."""
    return urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")


def send(client, method: str, url: str, pairs: list[tuple[str, str]]):
    if method == "get":
        return client.get(url, query_string=encoded(pairs).decode("ascii"))
    return client.post(url, data=encoded(pairs),
                       content_type="application/x-www-form-urlencoded")


def every_form(app, client, ids) -> dict[tuple[str, str], dict]:
    """Every form on every page of the admin, by (method, action path)."""
    found = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in STATIC_ENDPOINTS \
                or re.search(r"<(?!int:)", rule.rule):
            continue
        url = url_with_ids(rule.rule, lambda name: ids[name])
        response = client.get(url)
        assert response.status_code < 500, url
        if response.mimetype != "text/html":
            continue
        for form in forms_on(url, response.get_data(as_text=True)):
            action = urlsplit(form["action"]).path
            found.setdefault((form["method"], action), {**form, "action": form["action"]})
    return found


def test_no_odd_value_in_any_form_field_gives_a_server_error(app, client, auth, db, seeded):
    auth.login()
    ids = first_ids(db)
    forms = every_form(app, client, ids)
    adapter = app.url_map.bind("localhost")
    endpoint = {action: adapter.match(action, method=method.upper())[0]
                for method, action in forms}
    unreached = {rule.endpoint for rule in app.url_map.iter_rules()
                 if "POST" in rule.methods and not ID_ARGUMENT.search(rule.rule)} \
        - set(endpoint.values()) - SKIPPED_ENDPOINTS
    assert unreached == set()  # every form a URL without an id takes was found on a page
    failures = []
    for (method, action), form in sorted(forms.items()):
        fields = {name: value or "" for name, value in form["fields"].items()}
        odd_fields = [name for name in fields if name not in ("csrf_token", "submit")]
        if endpoint[action] in SKIPPED_ENDPOINTS or not odd_fields:
            continue
        for field in [*odd_fields, None]:  # None: every field odd at once
            for label, value in [*ODD_VALUES.items(), ("an array", None)]:
                pairs = []
                for name, default in fields.items():
                    if field is not None and name != field or name == "csrf_token":
                        pairs.append((name, default))
                    elif value is None:
                        pairs += [(name, default or "1"), (name, "2")]
                    else:
                        pairs.append((name, value))
                before = stored_rows(db) if method == "post" else None
                response = send(client, method, form["action"], pairs)
                where = f"{method.upper()} {form['action']} {field or 'every field'}: {label}"
                if response.status_code >= 500:
                    failures.append(f"{where} -> {response.status_code}")
                elif before is not None and response.status_code >= 400 \
                        and stored_rows(db) != before:
                    failures.append(f"{where} -> refused ({response.status_code}) but stored")
    assert failures == []


def test_no_odd_id_in_any_url_gives_a_server_error(app, client, auth, db, seeded):
    auth.login()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                      client.get("/users/").get_data(as_text=True)).group(1)
    rules = [rule for rule in app.url_map.iter_rules() if ID_ARGUMENT.search(rule.rule)]
    assert len(rules) > 20
    before = stored_rows(db)
    failures = []
    for rule in rules:
        for odd in ODD_IDS:
            url = url_with_ids(rule.rule, lambda _name: odd)
            if "GET" in rule.methods:
                response = client.get(url)
            else:
                response = send(client, "post", url, [("csrf_token", token)])
            if response.status_code >= 500:
                failures.append(f"{url[:60]}… ({len(odd)} digits) -> {response.status_code}")
    assert failures == []
    assert stored_rows(db) == before
