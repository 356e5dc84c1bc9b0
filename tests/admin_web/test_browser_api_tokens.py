"""The «API» page in a real browser against `telecenter serve`, and the API it serves: an
administrator makes a token, the host system uses it, the administrator revokes it."""

from __future__ import annotations

import re

import pytest
import requests

from tests.admin_web.browser import (browser, create_admin,  # noqa: F401
                                     empty_admin_tables, log_in, page, running_admin,
                                     screenshot_dir)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory, pg_url):
    import psycopg

    empty_admin_tables(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM api_tokens")
        conn.execute("DELETE FROM robocall_tasks")
    create_admin(pg_url)
    with running_admin(tmp_path_factory.mktemp("serve"), pg_url) as (url, _server):
        yield url


def test_a_token_made_in_the_browser_works_until_it_is_revoked(page, admin_url):
    from playwright.sync_api import expect

    questions = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    log_in(page, admin_url)
    page.goto(f"{admin_url}/api-tokens/")
    expect(page.locator("h1")).to_have_text("API")
    page.locator("input[name=name]").fill("CRM ЗАГСа")
    page.locator("main input[type=submit]").click()
    token = page.locator("#token").inner_text()
    assert re.fullmatch(r"tc_[A-Za-z0-9_-]{43}", token)
    page.screenshot(path=str(screenshot_dir() / "api-tokens-made.png"), full_page=True)

    api = f"{admin_url}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    added = requests.post(f"{api}/robocall-tasks", headers=headers, timeout=10,
                          json={"phone": "+79990000001", "text": "Ваши документы готовы."})
    assert added.status_code == 201, added.text

    page.goto(f"{admin_url}/api-tokens/")
    row = page.locator("#api-tokens tbody tr", has_text="CRM ЗАГСа")
    expect(row).to_contain_text(token[:10])
    expect(page.locator("main")).not_to_contain_text(token)  # shown that once only
    expect(row).not_to_contain_text("никогда")  # it was used
    row.locator("button[type=submit]").click()
    expect(row.locator(".badge")).to_contain_text("отозван")
    assert questions and "CRM ЗАГСа" in questions[0]
    assert requests.get(f"{api}/robocall-tasks", headers=headers, timeout=10
                        ).status_code == 401

    page.goto(f"{api}/docs")
    expect(page.locator("h1")).to_contain_text("Telecenter API")
    page.screenshot(path=str(screenshot_dir() / "api-docs.png"), full_page=True)
