"""Pending changes in words: the banner on every page, the Apply page's list, the revision
diff, and Apply's problems linked to the forms that fix them.

Real PostgreSQL, a logged-in administrator, and the recording fake Asterisk of
test_apply_pages.py for each Apply.
"""

import re

import pytest

from tests.admin_web.conftest import PASSWORD, csrf_token
from tests.admin_web.test_apply_pages import (add_phone, admin, asterisk, include,  # noqa: F401
                                              run_apply)

BANNER = re.compile(r'<div id="pending-banner".*?</div>', re.S)


def banner(client, url="/phones/") -> str:
    """The banner's text on ``url`` ('' when there is none), tags and spacing removed."""
    found = BANNER.search(client.get(url).get_data(as_text=True))
    return " ".join(re.sub(r"<[^>]+>", " ", found.group()).split()) if found else ""


def pending_list(client) -> str:
    """The Apply page's list of what Apply will change, as text."""
    page = client.get("/apply/").get_data(as_text=True)
    found = re.search(r'<div id="pending-changes".*?</div>\s*</div>', page, re.S)
    assert found, "no list of pending changes on the Apply page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group()).split())


def add_menu_item(db_rows, number="90000", handlers=(("1", "91000"),)):
    """A menu 'Main' with one TTS item and key handlers; the item's id."""
    menu = db_rows("INSERT INTO menus (name) VALUES ('Main') RETURNING id")[0]["id"]
    item = db_rows("INSERT INTO menu_items (menu_id, number, kind, text)"
                   " VALUES (%s, %s, 'tts', 'Здравствуйте') RETURNING id",
                   (menu, number))[0]["id"]
    for key, target in handlers:
        db_rows("INSERT INTO menu_handlers (item_id, kind, key, target)"
                " VALUES (%s, 'key', %s, %s) RETURNING id", (item, key, target))
    return item


def test_the_banner_counts_an_edit_in_words_and_goes_after_apply(client, admin, asterisk):
    assert run_apply(admin).status_code == 302  # the empty configuration is applied
    assert banner(client) == ""

    add_phone(admin, "203")
    add_phone(admin, "204")
    text = banner(client, "/users/")
    assert text.startswith("Есть неприменённые изменения: 2")
    assert "добавлен телефон 203" in text and "добавлен телефон 204" in text
    assert 'href="/apply/"' in client.get("/users/").get_data(as_text=True)

    assert run_apply(admin).status_code == 302
    assert banner(client) == "" and banner(client, "/apply/") == ""


def test_operators_and_managers_see_no_banner(client, auth, admin, asterisk):
    add_phone(admin, "203")
    assert banner(client, "/") != ""
    admin.logout()
    for login in ("olga", "boss"):
        auth.login(login, PASSWORD)
        assert banner(client, "/") == ""
        auth.logout()


def test_before_the_first_apply_everything_configured_is_pending(client, admin, db_rows):
    add_phone(admin, "203")
    db_rows("INSERT INTO lines (name, host) VALUES ('prov1', 'sip.example.org') RETURNING id")
    assert banner(client).startswith("Есть неприменённые изменения: 2")
    assert "добавлена линия prov1" in banner(client)


def test_the_banner_says_three_in_words_and_counts_the_rest(client, admin, db_rows):
    for number in ("201", "202", "203", "204", "205"):
        add_phone(admin, number)
    text = banner(client)
    assert text.startswith("Есть неприменённые изменения: 5")
    assert "добавлен телефон 203; и ещё 2." in text and "204" not in text


@pytest.fixture
def speech_settings_kept(db_rows):
    """The speech settings as they were, put back after the test (other tests read them)."""
    engine = db_rows("SELECT engine FROM tts_settings")[0]["engine"]
    yield
    db_rows("UPDATE tts_settings SET engine = %s RETURNING id", (engine,))


def test_the_apply_page_lists_what_apply_will_change(client, admin, asterisk, db_rows,
                                                     speech_settings_kept):
    assert "Изменений нет: ещё ничего не настроено." in pending_list(client)
    item = add_menu_item(db_rows, handlers=(("1", "91000"), ("2", "92000")))
    for number in ("91000", "92000"):
        db_rows("INSERT INTO menu_items (menu_id, number, kind, scenario)"
                " SELECT id, %s, 'scenario', 'callback' FROM menus RETURNING id", (number,))
    db_rows("INSERT INTO lines (name, host) VALUES ('prov1', 'sip.example.org') RETURNING id")
    assert run_apply(admin).status_code in (200, 302)
    assert "Изменений нет: конфигурация совпадает с активной ревизией." in pending_list(client)

    add_phone(admin, "203")
    db_rows("UPDATE menu_handlers SET target = '91000' WHERE item_id = %s AND key = '2'"
            " RETURNING id", (item,))
    db_rows("DELETE FROM lines WHERE name = 'prov1' RETURNING id")
    db_rows("UPDATE tts_settings SET engine = CASE engine WHEN 'espeak' THEN 'festival'"
            " ELSE 'espeak' END RETURNING id")
    text = pending_list(client)
    assert "Применение изменит (4):" in text
    assert ("добавлен телефон 203 удалена линия prov1"
            " изменён обработчик клавиши 2 пункта 90000: номер назначения"
            " изменены настройки синтеза речи: движок") in text

    client.post("/language/en", data={"csrf_token": csrf_token(client, "/")})
    text = pending_list(client)
    assert "Apply will change (4):" in text
    assert "handler of key 2 of item 90000 changed: target number" in text


def test_the_diff_of_two_revisions_is_told_in_words_with_the_files_a_click_away(
        client, admin, asterisk, db_rows):
    add_phone(admin, "101")
    assert run_apply(admin).status_code == 302
    add_phone(admin, "102")
    db_rows("DELETE FROM phones WHERE number = '101' RETURNING id")
    assert run_apply(admin).status_code == 302

    page = client.get("/apply/diff?a=1&b=2").get_data(as_text=True)
    words = re.search(r'<div id="revision-changes".*?</div>', page, re.S).group()
    assert "Изменения (2):" in words
    assert "удалён телефон 101" in words and "добавлен телефон 102" in words
    assert 'data-bs-target="#file-diff"' in page and "Показать различия файлов" in page
    assert re.search(r'<div id="file-diff" class="collapse">.*\+\[102\]', page, re.S)
    same = client.get("/apply/diff?a=2&b=2").get_data(as_text=True)
    assert "Конфигурация двух ревизий совпадает." in same


def test_a_revision_without_its_configuration_shows_the_files_and_says_why(
        client, admin, asterisk, db_rows):
    add_phone(admin, "101")
    assert run_apply(admin).status_code == 302
    add_phone(admin, "102")
    assert run_apply(admin).status_code == 302
    db_rows("UPDATE revisions SET configuration = NULL WHERE id = 1 RETURNING id")

    page = client.get("/apply/diff?a=1&b=2").get_data(as_text=True)
    assert "Ревизия 1 создана до того, как ревизии стали хранить конфигурацию" in page
    assert re.search(r'<div id="file-diff" class="">.*\+\[102\]', page, re.S)
    assert "Показать различия файлов" not in page


def test_an_active_revision_without_its_configuration_cannot_tell(client, admin, asterisk,
                                                                 db_rows):
    assert run_apply(admin).status_code == 302
    db_rows("UPDATE revisions SET configuration = NULL RETURNING id")
    add_phone(admin, "203")
    assert banner(client) == ""
    assert "что изменит применение, сказать нельзя" in pending_list(client)


def test_each_apply_problem_links_to_the_form_that_fixes_it(client, admin, asterisk, db_rows):
    line = db_rows("INSERT INTO lines (name, host, inbound_number) VALUES ('prov1', 'h1', '555')"
                   " RETURNING id")[0]["id"]
    item = add_menu_item(db_rows, handlers=(("1", "55555"),))
    handler = db_rows("SELECT id FROM menu_handlers WHERE item_id = %s", (item,))[0]["id"]
    response = run_apply(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert (f'<a class="fw-semibold" href="/lines/{line}">линия «prov1»</a>:'
            " входящего номера 555 не существует") in page
    assert (f'<a class="fw-semibold" href="/menus/handlers/{handler}">меню «Main»,'
            " пункт 90000, обработчик 1 (клавиша 1)</a>: назначение 55555 никуда не ведёт") in page
    for url in (f"/lines/{line}", f"/menus/handlers/{handler}"):
        assert client.get(url).status_code == 200


def test_a_warning_links_to_its_item(client, admin, asterisk, db_rows):
    add_menu_item(db_rows, handlers=())
    second = db_rows("INSERT INTO menu_items (menu_id, number, kind, scenario)"
                     " SELECT id, '90001', 'scenario', 'callback' FROM menus"
                     " RETURNING id")[0]["id"]
    page = run_apply(admin).get_data(as_text=True)
    assert (f'<a class="fw-semibold" href="/menus/items/{second}">меню «Main»,'
            " пункт 90001</a>: сюда ничто не ведёт звонящих") in page



def test_the_home_page_says_how_many_changes_wait_for_apply(client, admin, asterisk):
    assert run_apply(admin).status_code == 302
    summary = re.compile(r'<div id="pending-changes-summary">(.*?)</div>', re.S)
    found = summary.search(client.get("/").get_data(as_text=True)).group(1)
    assert "Всё сохранённое применено." in found
    add_phone(admin, "203")
    found = summary.search(client.get("/").get_data(as_text=True)).group(1)
    assert 'href="/apply/"' in found and "Есть неприменённые изменения: 1" in found

