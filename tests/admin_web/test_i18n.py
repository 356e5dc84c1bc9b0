"""Russian by default, English on request; the catalogs are complete and compiled."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import url_for

from admin_web.audit import record_change
from tests.admin_web.conftest import csrf_token

TRANSLATIONS = Path(__file__).resolve().parents[2] / "admin_web" / "translations"


def test_switch_to_english_and_back(client, auth):
    auth.login()
    assert "Пользователи" in client.get("/users/").get_data(as_text=True)
    response = client.post("/language/en", data={"next": "/users/",
                                                 "csrf_token": csrf_token(client, "/")})
    assert response.headers["Location"] == "/users/"
    page = client.get("/users/").get_data(as_text=True)
    assert "Users" in page and "Пользователи" not in page and 'lang="en"' in page
    client.post("/language/ru", data={"csrf_token": csrf_token(client, "/")})
    assert "Пользователи" in client.get("/users/").get_data(as_text=True)


def test_the_switch_works_before_login(client):
    client.post("/language/en", data={"csrf_token": csrf_token(client)})
    assert "Log in" in client.get("/auth/login").get_data(as_text=True)


def test_unknown_language_is_404(client):
    assert client.post("/language/xx", data={"csrf_token": csrf_token(client)}).status_code == 404


def test_every_catalog_is_translated_and_its_mo_is_current():
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as f:
            po = read_po(f)
        with po_path.with_suffix(".mo").open("rb") as f:
            mo = read_mo(f)
        untranslated = [m.id for m in po if m.id and not m.string]
        assert not untranslated, f"{po_path}: not translated: {untranslated}"
        assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}, \
            f"{po_path.with_suffix('.mo')} is out of date: run pybabel compile"


@pytest.mark.parametrize("language, size, shown", [
    ("ru", 0, "0 Б"), ("ru", 16044, "15,7 КБ"), ("ru", 3 * 1024 * 1024, "3 МБ"),
    ("en", 1023, "1,023 B"), ("en", 16044, "15.7 KB"), ("en", 5 * 1024 ** 4, "5,120 GB")])
def test_file_sizes_are_shown_in_the_admins_language(app, language, size, shown):
    from admin_web.i18n import file_size

    with app.test_request_context():
        from flask import session
        session["language"] = language
        assert file_size(size).replace("\xa0", " ") == shown


# --- no English left in Russian pages -------------------------------------------------------

class _VisibleText(HTMLParser):
    """The text a reader sees on a page: text outside scripts and styles, and the attributes
    that are read out or shown (titles, placeholders, labels, button values)."""

    SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt", "data-bs-title")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        attrs = dict(attrs)
        self.parts += [attrs[a] for a in self.SHOWN_ATTRIBUTES if attrs.get(a)]
        if tag == "input" and attrs.get("type") in ("submit", "button") and attrs.get("value"):
            self.parts.append(attrs["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden and data.strip():
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _VisibleText()
    parser.feed(page)
    return "\n".join(parser.parts)


_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _english_texts() -> dict[str, re.Pattern]:
    """Every msgid whose Russian differs from it, as a pattern finding it in a page's text
    (placeholders match any one word or number)."""
    with (TRANSLATIONS / "ru" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        po = read_po(f)
    found = {}
    for entry in po:
        if not entry.id or not isinstance(entry.id, str) or entry.string == entry.id:
            continue
        literal = _PLACEHOLDER.sub("", entry.id)
        if len(re.findall(r"[A-Za-z]", literal)) < 2:
            continue  # nothing English of its own, e.g. "%(size)s B"
        parts = [re.escape(p) for p in _PLACEHOLDER.split(entry.id)]
        found[entry.id] = re.compile(r"(?<![\w-])" + r"\S+".join(parts) + r"(?![\w-])")
    return found


@pytest.fixture
def rows(db):
    """One of each thing the admin edits, with Russian names, and their history."""
    def one(sql, params=()):
        return db.execute(sql + " RETURNING id", params).fetchone()["id"]

    db.execute("TRUNCATE persons, cases, callbacks, playlists, audio_files RESTART IDENTITY "
               "CASCADE")
    ids = {
        "phone_id": one("INSERT INTO phones (number, md5_cred, description)"
                        " VALUES ('203', %s, 'Приёмная')", ("0" * 32,)),
        "line_id": one("INSERT INTO lines (name, host, outbound_regex, inbound_number)"
                       " VALUES ('rt', 'sip.example.ru', '^8[0-9]{10}$', '90000')"),
        "menu_id": one("INSERT INTO menus (name) VALUES ('Главное')"),
        "audio_id": one("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                        " VALUES ('Приветствие', 1500, 24000)"),
        "playlist_id": one("INSERT INTO playlists (name) VALUES ('Ожидание')"),
        "person_id": one("INSERT INTO persons (full_name, first_name, phone)"
                         " VALUES ('Иванова Анна', 'Анна', '79990000001')"),
        "user_id": db.execute("SELECT id FROM users WHERE login = 'olga'").fetchone()["id"],
    }
    db.execute("INSERT INTO playlist_items (playlist_id, kind, text) VALUES (%s, 'tts', 'Ждите')",
               (ids["playlist_id"],))
    ids["case_id"] = one("INSERT INTO cases (number, person_id, service, status)"
                         " VALUES ('19-03', %s, 'Паспорт', 'готово')", (ids["person_id"],))
    ids["callback_id"] = one("INSERT INTO callbacks (phone, source) VALUES ('79990000001', 'ivr')")
    db.execute("INSERT INTO callback_calls (callback_id, operator, operator_phone, citizen,"
               " outcome, ended_at) VALUES (%s, 'olga', '203', '79990000001', 'talked', now())",
               (ids["callback_id"],))
    db.execute("INSERT INTO calls (agi_call_id, caller, called, route, outcome)"
               " VALUES ('i18n-1', '79990000001', '90000', 'menu', 'completed')")
    ids["item_id"] = one("INSERT INTO menu_items (menu_id, number, kind, text)"
                         " VALUES (%s, '90000', 'tts', 'Здравствуйте')", (ids["menu_id"],))
    scenario = one("INSERT INTO menu_items (menu_id, number, kind, scenario)"
                   " VALUES (%s, '91110', 'scenario', 'case_status')", (ids["menu_id"],))
    ids["handler_id"] = one("INSERT INTO menu_handlers (item_id, kind, key, target)"
                            " VALUES (%s, 'key', '1', '203')", (ids["item_id"],))
    db.execute("INSERT INTO menu_handlers (item_id, kind, pattern, target, position)"
               " VALUES (%s, 'sequence', %s, '91110', 1)", (ids["item_id"], r"\*[0-9*]+#"))
    db.execute("INSERT INTO menu_handlers (item_id, kind, seconds, target, position)"
               " VALUES (%s, 'timeout', 5, '', 2)", (ids["item_id"],))
    db.execute("INSERT INTO menu_handlers (item_id, kind, key, target) VALUES (%s, 'key', '0', '')",
               (scenario,))
    record_change(db, "admin", "create", "phone", "203", None,
                  {"number": "203", "kind": "simple", "description": "Приёмная"})
    record_change(db, "admin", "update", "line", "rt", {"name": "rt", "external": False},
                  {"name": "rt", "external": True, "reg_password": "x"})
    record_change(db, "admin", "create", "menu handler", "90000", None,
                  {"item": "90000", "kind": "sequence", "pattern": r"\*[0-9*]+#",
                   "target": "91110", "position": 1})
    record_change(db, "admin", "apply", "revision", 1, None,
                  {"files_hash": "0" * 64, "rollback_of": None})
    try:
        yield ids
    finally:
        db.execute("TRUNCATE persons, cases, callbacks, playlists, audio_files RESTART IDENTITY "
                   "CASCADE")
        db.execute("DELETE FROM calls WHERE agi_call_id = 'i18n-1'")


def _pages(app, ids):
    """Every GET page of the admin: those without arguments, and those of the rows made."""
    skipped = {"static", "bootstrap.static", "audio.play", "tts.speech"}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in skipped:
            continue
        # The API answers JSON to tokens; its description's page shows the description's
        # English, as openapi.json has it (the page's own words are translated).
        if rule.endpoint.split(".")[0] in ("api", "api-docs", "api_docs"):
            continue
        if set(rule.arguments) <= set(ids):
            with app.test_request_context():
                yield url_for(rule.endpoint, **{a: ids[a] for a in rule.arguments})


def _untranslated(text: str, english: dict[str, re.Pattern]) -> list[str]:
    return [msgid for msgid, pattern in english.items() if pattern.search(text)]


def test_russian_pages_hold_no_english_message(app, client, auth, rows):
    english = _english_texts()
    del english["admin"]  # the msgid of a callback's source, and the login shown in the navbar
    auth.login()  # Russian, the default
    seen, problems = 0, {}
    for url in sorted(set(_pages(app, rows))):
        response = client.get(url)
        assert response.status_code in (200, 302, 400), (url, response.status_code)
        if response.status_code == 302 or response.mimetype != "text/html":
            continue
        seen += 1
        text = visible_text(response.get_data(as_text=True))
        found = _untranslated(text, english) + (["->"] if "->" in text else [])
        if found:
            problems[url] = found
    # The simulator's walk, and a form refused with its errors.
    form = "/simulator/"
    for keys in ("7,1", "*19*03#", "timeout"):
        response = auth.post(form, {"number": "90000", "caller": "79990000001", "keys": keys},
                             form_page=form)
        text = visible_text(response.get_data(as_text=True))
        found = _untranslated(text, english) + (["->"] if "->" in text else [])
        if found:
            problems[f"{form} keys={keys}"] = found
    # What a manager and an operator see of the same.
    for login in ("boss", "olga"):
        auth.logout()
        auth.login(login)
        for url in ("/", "/callbacks/", "/cases/", "/history/", "/simulator/"):
            response = client.get(url)
            if response.status_code == 200:
                text = visible_text(response.get_data(as_text=True))
                found = _untranslated(text, english) + (["->"] if "->" in text else [])
                if found:
                    problems[f"{url} as {login}"] = found
    assert seen > 25
    assert not problems, "\n".join(f"{url}: {found}" for url, found in problems.items())
