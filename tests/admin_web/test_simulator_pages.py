"""The menu simulator page: who may use it, bad input, and the walk it shows."""

import html
import re

import pytest

from tests.admin_web.conftest import PASSWORD

WELCOME = "Здравствуйте. Нажмите один."
SECOND = "Вы во втором пункте. До свидания."


@pytest.fixture
def two_items(db):
    """Items 90000 (TTS, key 1 -> 91000) and 91000 (TTS, no handlers), as saved rows."""
    menu = db.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()["id"]
    first = db.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                       " VALUES (%s, '90000', 'tts', %s) RETURNING id", (menu, WELCOME)
                       ).fetchone()["id"]
    db.execute("INSERT INTO menu_items (menu_id, number, kind, text) VALUES (%s, '91000', 'tts', %s)",
               (menu, SECOND))
    db.execute("INSERT INTO menu_handlers (item_id, kind, key, target) VALUES (%s, 'key', '1', '91000')",
               (first,))
    return menu


def english(auth, login="admin"):
    auth.login(login, PASSWORD)
    auth.post("/language/en")
    return auth


def run(auth, **fields):
    data = {"number": "90000", "caller": "79990000001", "keys": "", **fields}
    return auth.post("/simulator/", data, form_page="/simulator/")


def text_of(response) -> str:
    """The page's text without tags, blanks squeezed."""
    page = response.get_data(as_text=True)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_an_operator_gets_403(client, auth):
    auth.login("olga", PASSWORD)
    assert client.get("/simulator/").status_code == 403


@pytest.mark.parametrize("login", ["boss", "admin"])
def test_managers_and_administrators_walk_a_two_item_menu(auth, two_items, login):
    response = run(english(auth, login), keys="1")
    assert response.status_code == 200
    shown = text_of(response)
    walk = shown[shown.index("90000 Text to speech"):]
    expected = ["90000 Text to speech", f"says {WELCOME}", "caller types 1",
                "handler key 1 -> 91000", "91000 Text to speech", f"says {SECOND}",
                "The call hangs up: item 91000 has no handlers."]
    positions = [walk.find(step) for step in expected]
    assert -1 not in positions, (expected, walk)
    assert positions == sorted(positions)


def test_the_page_says_it_runs_the_saved_configuration_and_starts_at_the_first_item(client, auth, two_items):
    english(auth)
    response = client.get("/simulator/")
    assert "as they are saved now" in text_of(response)
    number_field = re.search(r'<input[^>]*name="number"[^>]*>', response.get_data(as_text=True))
    assert 'value="90000"' in number_field.group()


def test_a_timeout_without_handler_hangs_up(auth, two_items):
    shown = text_of(run(english(auth), keys="timeout"))
    assert "caller types nothing for 15 s" in shown
    assert "The call hangs up: no input for 15 s." in shown


def test_why_the_call_hangs_up_is_said_in_russian(auth, two_items):
    auth.login()  # Russian, the default
    shown = text_of(run(auth, keys="1"))
    assert "Отбой: у пункта 91000 нет обработчиков." in shown
    assert "Отбой: нет ввода 15 с." in text_of(run(auth, keys="timeout"))


def test_the_case_status_scenario_reads_the_real_cases(auth, db, two_items):
    db.execute("TRUNCATE persons, cases RESTART IDENTITY CASCADE")
    db.execute("INSERT INTO cases (number, service, status) VALUES ('19-03', 'Паспорт', 'готово')")
    item = db.execute("INSERT INTO menu_items (menu_id, number, kind, scenario)"
                      " VALUES (%s, '91110', 'scenario', 'case_status') RETURNING id",
                      (two_items,)).fetchone()["id"]
    first = db.execute("SELECT id FROM menu_items WHERE number = '90000'").fetchone()["id"]
    db.execute("INSERT INTO menu_handlers (item_id, kind, pattern, target)"
               " VALUES (%s, 'sequence', %s, '91110')", (first, r"\*[0-9*]+#"))
    try:
        shown = text_of(run(english(auth), keys="*19*03#"))
    finally:
        db.execute("TRUNCATE persons, cases RESTART IDENTITY CASCADE")
    assert "Status of a case entered by keys" in shown
    assert "Статус: готово." in shown


@pytest.mark.parametrize("fields, message", [
    ({"keys": "1,abc"}, "Element 2 (abc) is neither keys (0-9, * and #) nor the word timeout."),
    ({"number": "12345"}, "12345 is not a voice menu item."),
    ({"number": "9x"}, "The number must be 2 to 15 digits."),
    ({"caller": "anonymous"}, "The caller's number must be 3 to 20 digits."),
])
def test_bad_input_gets_a_clear_error(auth, two_items, fields, message):
    response = run(english(auth), **fields)
    assert response.status_code == 400
    assert message in text_of(response)
    assert "The call hangs up" not in text_of(response)


def test_bad_keys_are_explained_in_russian(auth, two_items):
    auth.login()
    page = run(auth, keys="1,abc").get_data(as_text=True)
    assert "Элемент 2 (abc)" in page


def test_a_post_without_csrf_token_is_refused(client, auth, two_items):
    auth.login()
    response = client.post("/simulator/", data={"number": "90000", "caller": "79990000001"})
    assert response.status_code == 400
    assert "The call hangs up" not in response.get_data(as_text=True)


def test_the_steps_are_told_in_russian_with_russian_typography(auth, db, two_items):
    db.execute("TRUNCATE persons, cases RESTART IDENTITY CASCADE")
    db.execute("INSERT INTO menu_items (menu_id, number, kind, scenario)"
               " VALUES (%s, '91110', 'scenario', 'case_status')", (two_items,))
    first = db.execute("SELECT id FROM menu_items WHERE number = '90000'").fetchone()["id"]
    db.execute("INSERT INTO menu_handlers (item_id, kind, pattern, target)"
               " VALUES (%s, 'sequence', %s, '91110')", (first, r"\*[0-9*]+#"))
    auth.login()  # Russian, the default
    shown = text_of(run(auth, keys="7,1"))
    assert "обработчик нет обработчика для 7" in shown
    assert "обработчик клавиша 1 → 91000" in shown
    shown = text_of(run(auth, keys="*19*03#"))
    assert ("обработчик последовательность \\*[0-9*]+# совпала с *19*03# → 91110" in shown)
    assert "сценарий «Статус дела, введённого тоновыми командами» с цифрами *19*03#" in shown
    assert "абонент ничего не набирает в течение 15 с" in text_of(run(auth, keys="timeout"))
    assert "->" not in shown and "with digits" not in shown
