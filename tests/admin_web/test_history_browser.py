"""The change history in a real browser at an office's screen: a day's changes fit."""

from __future__ import annotations

import psycopg
import pytest

from admin_web.audit import record_change
from tests.admin_web.browser import (ADMIN_LOGIN, browser,  # noqa: F401
                                     create_admin, empty_admin_tables, log_in, page,
                                     running_admin, scrolls_sideways)

pytestmark = pytest.mark.browser

LONG_TEXT = ("Здравствуйте! Вы позвонили в многофункциональный центр. Для записи на приём "
             "нажмите один, чтобы узнать статус дела — два, для связи с оператором — ноль. ") * 3


def a_days_changes(conn) -> None:
    """37 changes as an administrator setting up an office makes them."""
    for n in range(10):
        number = f"20{n}"
        record_change(conn, ADMIN_LOGIN, "create", "phone", number, None,
                      {"number": number, "kind": "simple", "description": f"Окно {n}"})
        record_change(conn, ADMIN_LOGIN, "update", "phone", number,
                      {"number": number, "kind": "simple", "description": f"Окно {n}"},
                      {"number": number, "kind": "simple", "description": f"Кабинет {n}"})
    record_change(conn, ADMIN_LOGIN, "create", "line", "rostelecom", None, {
        "name": "rostelecom", "host": "sip.rt.ru", "port": 5060, "transport": "udp",
        "reg_username": "mfc-user", "reg_domain": "sip.rt.ru", "reg_password": "secret",
        "outbound_regex": "^8[0-9]{10}$", "position": 0, "inbound_number": "90000",
        "external": True})
    for n in range(8):
        number = f"9{n}000"
        item = {"menu": "Главное", "number": number, "kind": "tts", "text": LONG_TEXT}
        record_change(conn, ADMIN_LOGIN, "create", "menu item", number, None, item)
        record_change(conn, ADMIN_LOGIN, "create", "menu handler", number, None,
                      {"item": number, "kind": "key", "key": "1", "target": "201",
                       "position": 0})
    record_change(conn, ADMIN_LOGIN, "update", "tts settings", "",
                  {"engine": "festival", "yandex_folder_id": ""},
                  {"engine": "yandex", "yandex_folder_id": "b1g2abcdefghijklmnop"})
    record_change(conn, ADMIN_LOGIN, "apply", "revision", 1, None,
                  {"files_hash": "0" * 64, "rollback_of": None})


@pytest.fixture
def admin_url(tmp_path, pg_url):
    empty_admin_tables(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        a_days_changes(conn)
        total = conn.execute("SELECT count(*) FROM change_log").fetchone()[0]
    assert total >= 37  # and the administrator's own creation
    with running_admin(tmp_path / "serve", pg_url) as (url, _server):
        yield url, total
    empty_admin_tables(pg_url)


def test_a_days_changes_fit_a_few_screens_at_1280_px(page, admin_url):
    from playwright.sync_api import expect

    url, total = admin_url
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, url)
    page.goto(f"{url}/history/")
    expect(page.locator("main")).to_contain_text(f"Найдено изменений: {total}")
    expect(page.locator("main")).to_contain_text("Изменены настройки синтеза речи: движок")
    expect(page.locator("main")).to_contain_text("Изменён телефон 209: описание")
    assert not scrolls_sideways(page)
    height = page.evaluate("document.scrollingElement.scrollHeight")
    assert height < 4 * 800, f"the history page is {height} px high"
    page.get_by_role("link", name="Старее").click()
    expect(page.locator("main")).to_contain_text("Добавлен телефон 200")
    assert not scrolls_sideways(page)
