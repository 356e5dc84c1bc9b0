"""The History section: each change in words with a table of what changed; filters, pages."""

import ast
import importlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from admin_web.audit import record_change
from admin_web.change_titles import OBJECT_TITLES, SUMMARIES

ADMIN_WEB = Path(__file__).resolve().parents[2] / "admin_web"


@pytest.fixture
def changes(pg_url):
    """Seven changes by two people to phones and lines, one a day for a week."""
    now = datetime.now(timezone.utc)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for day in range(7):
            if day % 2:
                record_change(conn, "admin", "update", "phone", f"20{day}",
                              {"number": f"20{day}", "kind": "simple", "description": "old"},
                              {"number": f"20{day}", "kind": "simple",
                               "description": f"room {day}"})
            else:
                record_change(conn, "boss", "update", "line", f"trunk{day}",
                              {"name": f"trunk{day}", "host": "10.0.0.1", "port": 5060},
                              {"name": f"trunk{day}", "host": "10.0.0.2", "port": 5060})
            conn.execute("UPDATE change_log SET at = %s WHERE id = (SELECT max(id) FROM change_log)",
                         (now - timedelta(days=day),))
    return now


SUMMARY = {"phone": "Изменён телефон 20{day}: описание",
           "line": "Изменена линия «trunk{day}»: хост"}


def shown(client, query=""):
    """The days whose change the page shows (phones on odd days, lines on even), in its order."""
    page = client.get(f"/history/{query}").get_data(as_text=True)
    found = [(page.index(SUMMARY[kind].format(day=day)), f"{kind}-{day}")
             for day in range(7) for kind in ("phone", "line")
             if SUMMARY[kind].format(day=day) in page]
    return [name for _, name in sorted(found)], page


def test_newest_first(client, auth, changes):
    auth.login("boss")
    ids, _ = shown(client)
    assert ids == ["line-0", "phone-1", "line-2", "phone-3", "line-4", "phone-5", "line-6"]


def test_filter_by_user_and_object_type(client, auth, changes):
    auth.login("boss")
    assert shown(client, "?user=admin")[0] == ["phone-1", "phone-3", "phone-5"]
    assert shown(client, "?object_type=line&user=boss")[0] == ["line-0", "line-2", "line-4",
                                                                 "line-6"]


def test_the_object_filter_names_objects_in_the_admins_language(client, auth, changes):
    auth.login("boss")
    page = client.get("/history/").get_data(as_text=True)
    assert '<option value="phone">Телефон</option>' in page
    assert '<option value="line">Линия</option>' in page


def test_filter_by_period(client, auth, changes):
    auth.login("boss")
    since = (changes - timedelta(days=3)).date().isoformat()
    until = (changes - timedelta(days=2)).date().isoformat()
    assert shown(client, f"?since={since}&until={until}")[0] == ["line-2", "phone-3"]


def test_a_period_ending_before_it_starts_is_explained(client, auth, changes):
    auth.login("boss")
    ids, page = shown(client, "?since=2026-05-02&until=2026-05-01")
    assert ids == [] and "Конец периода раньше его начала." in page


def test_pages(app, client, auth, changes):
    app.config["HISTORY_PAGE_SIZE"] = 3
    auth.login("boss")
    first, page = shown(client)
    assert first == ["line-0", "phone-1", "line-2"] and "1 / 3" in page
    assert shown(client, "?page=3")[0] == ["line-6"]
    assert shown(client, "?user=boss&page=2")[0] == ["line-6"]


def test_a_page_past_the_end_shows_the_last_page(app, client, auth, changes):
    app.config["HISTORY_PAGE_SIZE"] = 3
    auth.login("boss")
    for far in ("4", "99999999999999999999"):
        rows, page = shown(client, f"?page={far}")
        assert rows == ["line-6"] and "3 / 3" in page


def test_a_change_shows_only_the_fields_it_changed_without_json(client, auth, changes):
    auth.login("boss")
    page = client.get("/history/?user=admin&object_type=phone").get_data(as_text=True)
    assert "Изменён телефон 201: описание" in page
    assert "<td>old</td><td>room 1</td>" in page
    assert "Простой SIP-телефон" not in page  # the type did not change
    assert "&#34;" not in page and "{" not in page.split("<main", 1)[-1].split("</main>")[0]


def test_additions_applies_and_secrets_read_as_words(pg_url, client, auth):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        record_change(conn, "admin", "create", "menu item", "91000", None,
                      {"menu": "Главное", "number": "91000", "kind": "scenario",
                       "scenario": "case_status"})
        record_change(conn, "admin", "create", "line", "rt",
                      {}, {"name": "rt", "reg_password": "s3cret-word", "external": True})
        record_change(conn, "admin", "create", "menu handler", "91000", None,
                      {"item": "91000", "kind": "key", "key": "2", "target": "203",
                       "position": 0})
        record_change(conn, "admin", "apply", "revision", 5, None,  # as Apply writes it
                      {"files_hash": "0" * 64, "rollback_of": None})
    auth.login("admin")
    page = client.get("/history/").get_data(as_text=True)
    assert "Применена ревизия 5" in page and "0" * 64 not in page
    assert "Добавлен пункт меню 91000" in page
    assert "Статус дела, введённого тоновыми командами" in page
    assert "Добавлен обработчик пункта 91000 (клавиша 2)" in page
    assert "Добавлена линия «rt»" in page and "***" in page and "s3cret-word" not in page
    assert "Внешняя:</span>\n                да" in page


def test_a_rollback_tells_each_object_it_restored(pg_url, client, auth):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        record_change(conn, "admin", "rollback", "phone", "203",
                      {"number": "203", "kind": "simple", "description": "Приёмная"},
                      {"number": "203", "kind": "simple", "description": "Касса"})
        record_change(conn, "admin", "rollback", "menu", "Ночное", {"name": "Ночное"}, None)
        record_change(conn, "admin", "rollback", "tts settings", "",
                      {"engine": "yandex"}, {"engine": "festival"})
        record_change(conn, "admin", "rollback", "revision", 7, None,
                      {"files_hash": "0" * 64, "rollback_of": 5})
    auth.login("admin")
    page = client.get("/history/").get_data(as_text=True)
    assert "Откат: изменён телефон 203: описание" in page
    assert "<td>Приёмная</td><td>Касса</td>" in page
    assert "Откат: удалено меню «Ночное»" in page
    assert "Откат: изменены настройки синтеза речи: движок" in page
    assert "<td>Yandex SpeechKit (облако)</td><td>Festival (русский голос festvox-ru)</td>" in page
    assert "Откат к ревизии 5 (новая ревизия 7)" in page


def _record_change_object_types():
    """(module, action, object_type) of every record_change call in the admin."""
    found = []
    for path in ADMIN_WEB.glob("*.py"):
        module = importlib.import_module(f"admin_web.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "record_change"):
                action, kind = node.args[2], node.args[3]
                kind = kind.value if isinstance(kind, ast.Constant) else getattr(module, kind.id)
                found.append((path.stem, action.value, kind))
    # A rollback writes its rows for every kind of object it compares.
    restore = ast.parse((ADMIN_WEB.parent / "dialplan" / "restore.py").read_text())
    for node in ast.walk(restore):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "compare":
            found.append(("restore", "rollback", node.args[0].value))
    return found


def test_every_object_the_admin_records_has_a_title_and_a_summary():
    calls = _record_change_object_types() + [("apply", "apply", "revision"),
                                             ("apply", "rollback", "revision")]
    assert len(calls) > 30
    for module, action, kind in calls:
        assert kind in OBJECT_TITLES, (module, kind)
        # A rollback's row for an object re-adds, changes or removes it.
        needed = (("create", "update", "delete") if action == "rollback" and kind != "revision"
                  else (action,))
        for done in ("update",) if kind == "tts settings" else needed:
            assert done in SUMMARIES[kind], (module, done, kind)


def test_in_english_the_history_reads_in_english(client, auth, changes):
    auth.login("boss")
    auth.post("/language/en")
    page = client.get("/history/?object_type=phone").get_data(as_text=True)
    assert "Phone 201 changed: description" in page
    assert '<option value="phone">Phone</option>' in client.get("/history/").get_data(as_text=True)
