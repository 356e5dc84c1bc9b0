"""A queue built in the admin, applied into the real Asterisk, and a real caller waiting in it,
seen on the live Queues page: in a real browser, in Russian at 1280x800.

Headless Chromium against `telecenter serve` (tests/admin_web/browser.py) wired to the test
bed's Asterisk; the caller is a Local channel (tests/testbed/callers.py).  The queue's only
member is offline and the queue does not stop when nobody is online, so the caller waits.
Playwright's `expect` polls, so nothing sleeps.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from dialplan.configuration import sip_digest
from tests.admin_web.browser import (SCREENS, browser, create_admin,  # noqa: F401
                                     empty_admin_tables, log_in, open_section, page,
                                     running_admin, screenshot_dir, scrolls_sideways)
from tests.testbed.callers import place_call, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]

QUEUE_NUMBER = "92100"
CALLER = "79990000301"


def _empty_configuration(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queues")
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM lines")
        conn.execute("DELETE FROM menus")


def test_a_caller_waiting_in_a_queue_built_in_the_admin_shows_on_the_live_page(
        page, testbed, pg_url, tmp_path):
    from playwright.sync_api import expect

    empty_admin_tables(pg_url)
    _empty_configuration(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO phones (number, md5_cred, description)"
                     " VALUES ('201', %s, 'Приёмная')", (sip_digest("201", "Offline-201-pass"),))
    # Apply writes where the test bed's Asterisk reads.
    env = {**testbed.ami_env(), "TELECENTER_INCLUDE_DIR": str(testbed.asterisk.include_dir)}
    page.set_viewport_size(SCREENS[0])
    main = page.locator("main")
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            log_in(page, url)
            open_section(page, "Голосовые меню", "Очереди")
            page.get_by_role("link", name="Новая очередь").click()
            form = page.locator("#queue-form")
            form.get_by_label("Название").fill("Приёмная граждан")
            form.get_by_label("Номер", exact=True).fill(QUEUE_NUMBER)
            form.get_by_label("Участник 1").select_option(label="201 Приёмная")
            form.get_by_label("Время вызова участника, секунд").fill("20")
            expect(form.get_by_label("Прекращать ожидание, если никто из участников не в сети")
                   ).not_to_be_checked()
            form.get_by_role("button", name="Сохранить").click()
            expect(page.get_by_role("alert")).to_contain_text("Очередь Приёмная граждан создана.")

            open_section(page, "Система", "Применить")
            page.get_by_role("button", name="Применить конфигурацию").click()
            expect(main).to_contain_text("Применено: ревизия")
            assert QUEUE_NUMBER in testbed.asterisk.rx("dialplan show telecenter"), \
                server.log_text()[-3000:]

            place_call(testbed.asterisk, QUEUE_NUMBER, "w120/h", caller=CALLER)
            open_section(page, "Контакт-центр", "Очереди сейчас")
            queue = page.locator("[data-queue]", has_text=QUEUE_NUMBER)
            callers = queue.locator(".queue-callers tbody tr")
            expect(callers).to_have_count(1)  # the page updates itself: no reload
            expect(callers.locator("td").nth(0)).to_have_text("1")
            expect(callers.locator("td").nth(2)).to_have_text(CALLER)
            expect(queue.locator(".queue-waiting-count")).to_contain_text("1")
            expect(queue.locator(".queue-members tbody tr[data-phone='201']")).to_contain_text(
                "не в сети")
            assert not scrolls_sideways(page)
            page.screenshot(path=str(screenshot_dir() / "queues-live-waiting.png"),
                            full_page=True)
    finally:
        testbed.asterisk.rx("channel request hangup all")
        _empty_configuration(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn, ThreadPoolExecutor(1) as thread:
            # Playwright's sync API keeps an event loop running in this thread.
            thread.submit(testbed.apply, conn).result()
        wait_for(lambda: "Local/" not in testbed.asterisk.rx("core show channels concise"), 20,
                 what="the caller's call to end")
