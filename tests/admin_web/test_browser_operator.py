"""The operator's header and the live Queues page in a real browser, at 1280x800 in Russian.

Headless Chromium against `telecenter serve` (tests/admin_web/browser.py); Playwright's
`expect` polls, so nothing sleeps.  Binding from the phone is what ``ivr.bind_phone`` does
when 1*<code> is dialled (the real call is tests/ivr/test_bind_phone_asterisk.py).
"""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from ivr import operators, queue_engine
from tests.admin_web.browser import (SCREENS, browser, create_admin,  # noqa: F401
                                     empty_admin_tables, log_in, open_section, page,
                                     running_admin, screenshot_dir, scrolls_sideways)
from tests.admin_web.test_queue_live import RESET_QUEUE_STATE, office_state

pytestmark = pytest.mark.browser
OPERATOR, PASSWORD = "olga", "Operator-pass-1"


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory, pg_url):
    """A served admin with an administrator and the operator Olga."""
    from admin_web.users import create_user

    empty_admin_tables(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        create_user(conn, OPERATOR, "operator", PASSWORD)
    with running_admin(tmp_path_factory.mktemp("serve"), pg_url) as (url, _server):
        yield url


def olga(pg_url) -> tuple[int, str]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT id, bind_code FROM users WHERE login = %s",
                            (OPERATOR,)).fetchone()


def test_an_operator_binds_their_phone_and_pauses_from_the_header(page, admin_url, pg_url):
    from playwright.sync_api import expect

    user_id, code = olga(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        operators.unbind_phone(conn, user_id)
        operators.set_accepting(conn, user_id, True)
    page.set_viewport_size(SCREENS[0])
    log_in(page, admin_url, OPERATOR, PASSWORD)
    bar = page.locator("#operator-bar")
    toggle = bar.get_by_label("Принимать вызовы из очереди")
    expect(toggle).to_be_checked()
    bar.get_by_role("button", name="Привязать").click()
    expect(bar.locator("#bind-hint")).to_be_visible()
    expect(bar.locator("#bind-hint")).to_have_text(f"Наберите 1*{code} с вашего телефона")
    assert not scrolls_sideways(page)
    page.screenshot(path=str(screenshot_dir() / "operator-bind.png"))

    with psycopg.connect(pg_url, autocommit=True) as conn:  # the operator dials 1*<code>
        operators.bind_phone(conn, code, "101")
    expect(bar.locator("#operator-phone")).to_have_text("Телефон: 101. Отвязать",
                                                        use_inner_text=True)
    assert not scrolls_sideways(page)
    page.screenshot(path=str(screenshot_dir() / "operator-bound.png"))

    toggle.uncheck()
    expect(page.locator("#operator-bar").get_by_label("Принимать вызовы из очереди")
           ).not_to_be_checked()
    with psycopg.connect(pg_url) as conn:
        assert operators.presence(conn, user_id).accepting is False

    page.locator("#operator-bar").get_by_role("button", name="Отвязать").click()
    expect(page.locator("#operator-bar").get_by_role("button", name="Привязать")).to_be_visible()
    with psycopg.connect(pg_url) as conn:
        assert operators.presence(conn, user_id).phone is None


def test_the_live_queues_page_shows_who_waits_and_updates_itself(page, admin_url, pg_url):
    from playwright.sync_api import expect

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queue_state")
        conn.execute("DELETE FROM queues")
        ids = tuple(conn.execute("INSERT INTO queues (name, number) VALUES (%s, %s) RETURNING id",
                                 values).fetchone()[0]
                    for values in (("Приёмная", "92000"), ("Справочная", "92001")))
    try:
        page.set_viewport_size(SCREENS[0])
        log_in(page, admin_url, OPERATOR, PASSWORD)
        open_section(page, "Контакт-центр", "Очереди сейчас")
        first = page.locator("[data-queue]").first
        expect(first).to_contain_text("Никто не ждёт.")

        state = office_state(ids, time.time())
        with psycopg.connect(pg_url, autocommit=True) as conn:  # the server writes its state
            conn.execute("INSERT INTO queue_state (id, version, state) VALUES (1, 1, %s)",
                         (json.dumps(queue_engine.to_rows(state)),))
        expect(first.locator(".queue-callers tbody tr")).to_have_count(2)  # no reload
        expect(first.locator(".queue-callers tbody tr").first).to_contain_text("79990000001")
        expect(first.locator(".queue-members tbody tr[data-phone='102']")).to_contain_text(
            "пауза")
        assert not scrolls_sideways(page)
        page.screenshot(path=str(screenshot_dir() / "queues-live.png"), full_page=True)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(RESET_QUEUE_STATE)
            conn.execute("DELETE FROM queues")
