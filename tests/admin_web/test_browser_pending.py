"""The pending-changes banner in a real browser, at 1280x800 in Russian: it appears after an
edit and disappears after Apply into the test bed's real Asterisk.

Headless Chromium against `telecenter serve` (tests/admin_web/browser.py); Playwright's
`expect` polls, so nothing sleeps.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.admin_web.browser import (browser, create_admin, empty_admin_tables,  # noqa: F401
                                     log_in, page, running_admin)

pytestmark = [pytest.mark.browser, pytest.mark.asterisk]


def _empty_configuration(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM lines")
        conn.execute("DELETE FROM menus")


def test_the_banner_appears_after_an_edit_and_disappears_after_apply(
        page, testbed, pg_url, tmp_path):
    from playwright.sync_api import expect

    empty_admin_tables(pg_url)
    _empty_configuration(pg_url)
    create_admin(pg_url)
    env = {**testbed.ami_env(), "TELECENTER_INCLUDE_DIR": str(testbed.asterisk.include_dir)}
    page.set_viewport_size({"width": 1280, "height": 800})
    banner = page.locator("#pending-banner")
    main = page.locator("main")
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            log_in(page, url)
            page.goto(f"{url}/apply/")
            page.get_by_role("button", name="Применить конфигурацию").click()
            expect(main).to_contain_text(re.compile(r"Применено: ревизия \d+ активна\."))
            expect(banner).to_have_count(0)

            page.goto(f"{url}/phones/new")
            page.get_by_label("Номер").fill("251")
            page.get_by_label("Пароль", exact=True).fill("Browser-phone-251")
            main.get_by_role("button", name="Создать").click()
            expect(main).to_contain_text("Телефон 251 создан.")
            expect(banner).to_contain_text("Есть неприменённые изменения: 1")
            expect(banner).to_contain_text("добавлен телефон 251")
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280

            page.goto(f"{url}/users/")
            expect(banner).to_be_visible()
            banner.get_by_role("link", name="Есть неприменённые изменения: 1").click()
            expect(page).to_have_url(re.compile(r"/apply/$"))
            expect(page.locator("#pending-changes")).to_contain_text("добавлен телефон 251")
            page.get_by_role("button", name="Применить конфигурацию").click()
            expect(main).to_contain_text(re.compile(r"Применено: ревизия \d+ активна\."))
            assert "251" in testbed.asterisk.rx("pjsip show endpoints"), server.log_text()
            expect(banner).to_have_count(0)
            page.goto(f"{url}/phones/")
            expect(main.get_by_role("link", name="251", exact=True)).to_be_visible()
            expect(banner).to_have_count(0)
    finally:
        _empty_configuration(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn, ThreadPoolExecutor(1) as thread:
            # Playwright's sync API keeps an event loop running in this thread.
            thread.submit(testbed.apply, conn).result()
