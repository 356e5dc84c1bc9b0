"""A queue built in a real browser, in Russian at 1280x800: the form, its errors, the list,
the transfer music; no page scrolls sideways.

Headless Chromium against `telecenter serve` (tests/admin_web/browser.py); Playwright's
`expect` polls, so nothing sleeps.
"""

from __future__ import annotations

import re

import psycopg
import pytest

from tests.admin_web.browser import (SCREENS, browser, create_admin,  # noqa: F401
                                     empty_admin_tables, log_in, open_section, page,
                                     running_admin, screenshot_dir, scrolls_sideways)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory, pg_url):
    """A served admin with phones 201 and 202, a hold playlist and a recording."""
    from tests.testbed.ports import free_port

    empty_admin_tables(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")
        conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")
        conn.execute("DELETE FROM playlists")
        conn.execute("DELETE FROM audio_files")
        conn.execute("INSERT INTO phones (number, md5_cred, description) VALUES"
                     " ('201', %(cred)s, 'Приёмная'), ('202', %(cred)s, 'Бухгалтерия')",
                     {"cred": "0" * 32})
        conn.execute("INSERT INTO playlists (name) VALUES ('Песня и номер в очереди')")
        conn.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                     " VALUES ('Вивальди', 1000, 16044)")
    no_asterisk = {"TELECENTER_AMI_USER": "telecenter", "TELECENTER_AMI_SECRET": "no-asterisk",
                   "TELECENTER_AMI_HOST": "127.0.0.1", "TELECENTER_AMI_PORT": str(free_port())}
    try:
        with running_admin(tmp_path_factory.mktemp("serve"), pg_url, no_asterisk) as (url, _s):
            yield url
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM queues")
            conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")
            conn.execute("DELETE FROM playlists")
            conn.execute("DELETE FROM audio_files")
            conn.execute("DELETE FROM phones")


def test_an_administrator_builds_a_queue_and_picks_the_transfer_music(page, admin_url):
    from playwright.sync_api import expect

    width = SCREENS[0]["width"]
    page.set_viewport_size(SCREENS[0])
    log_in(page, admin_url)
    open_section(page, "Голосовые меню", "Очереди")
    expect(page.get_by_role("heading", name="Очереди")).to_be_visible()
    page.get_by_role("link", name="Новая очередь").click()

    form = page.locator("#queue-form")
    form.get_by_label("Название").fill("Поддержка")
    form.get_by_label("Номер", exact=True).fill("92000")
    form.get_by_label("Участник 1").select_option(label="202 Бухгалтерия")
    form.get_by_label("Участник 2").select_option(label="201 Приёмная")
    form.get_by_label("Время вызова участника, секунд").fill("2")  # too short
    form.get_by_label("Одновременно вызываемых").select_option(label="все сразу")
    form.get_by_label("Давать приоритет повторно обратившемуся абоненту к тому же оператору"
                      ).check()
    form.get_by_label("Плейлист ожидания").select_option(label="Песня и номер в очереди")
    form.get_by_label("Клавиша строки 1").select_option("3")
    form.get_by_label("Номер назначения строки 1").fill("90000")
    form.get_by_role("button", name="Сохранить").click()

    expect(form).to_contain_text("От 3 до 300 секунд.")
    assert not scrolls_sideways(page), f"the refused queue form scrolls sideways at {width} px"
    # nothing typed was lost: only the bad field needs fixing
    expect(form.get_by_label("Название")).to_have_value("Поддержка")
    expect(form.get_by_label("Номер назначения строки 1")).to_have_value("90000")
    page.screenshot(path=str(screenshot_dir() / "queue-refused.png"), full_page=True)
    form.get_by_label("Время вызова участника, секунд").fill("20")
    form.get_by_role("button", name="Сохранить").click()

    expect(page.get_by_role("alert")).to_contain_text("Очередь Поддержка создана.")
    row = page.locator("#queues tbody tr")
    expect(row).to_have_count(1)
    for shown in ("92000", "Поддержка", "202, 201", "все сразу", "по 20 с",
                  "повторно обратившемуся — тот же оператор", "клавиша 3: на 90000",
                  "Песня и номер в очереди"):
        expect(row).to_contain_text(shown)
    assert not scrolls_sideways(page)
    page.screenshot(path=str(screenshot_dir() / "queues.png"), full_page=True)

    row.get_by_role("link", name="Поддержка").click()
    expect(page.locator("main .breadcrumb")).to_contain_text("Поддержка")
    expect(page.locator("#queue-form").get_by_label("Участник 1")).to_have_value(
        re.compile(r"\d+"))
    assert not scrolls_sideways(page), f"the queue form scrolls sideways at {width} px"
    page.screenshot(path=str(screenshot_dir() / "queue-edit.png"), full_page=True)

    open_section(page, "Голосовые меню", "Настройки перевода вызовов")
    page.get_by_label("Музыка при переводе").select_option(label="Вивальди")
    page.locator("main").get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("alert")).to_contain_text("Настройки перевода вызовов сохранены.")
    expect(page.get_by_label("Музыка при переводе")).to_have_value(re.compile(r"\d+"))
    assert not scrolls_sideways(page)
