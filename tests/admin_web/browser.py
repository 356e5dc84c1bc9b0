"""Headless Chromium (Debian's, driven by Playwright) against a real `telecenter serve`.

Playwright's own browser downloads are never used: the browser is
/usr/bin/chromium, installed by scripts/install-system.sh --test. Without it
or the `playwright` package the browser tests are skipped, unless
TELECENTER_REQUIRE_ASTERISK=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.conftest import REQUIRE_ASTERISK, require
from tests.testbed.agi_server import TELECENTER, AgiServer
from tests.testbed.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
TIMEOUT_MS = 15_000
ADMIN_LOGIN = "root"
ADMIN_PASSWORD = "Browser-admin-1"
TOUCHED_TABLES = ("users", "phone_bindings", "change_log", "phones", "lines", "revisions",
                  "queues", "queue_members", "queue_keys", "menus", "menu_items",
                  "menu_handlers", "playlists", "playlist_items")
# The screen sizes of the offices the admin is used in.
SCREENS = ({"width": 1280, "height": 800}, {"width": 1366, "height": 768})


def require_browser() -> None:
    """Skip (or, when required, fail) unless Chromium and Playwright are installed."""
    require(str(CHROMIUM))
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        message = "not installed: playwright (pip install -e '.[test]')"
        if REQUIRE_ASTERISK:
            pytest.fail(message + " (TELECENTER_REQUIRE_ASTERISK=1)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium per test module, with a fresh profile.

    Module scope, not session: while Playwright's sync API runs, its event
    loop counts as running in this thread, and code under test that calls
    asyncio.run (Apply does) would refuse to run in later modules.
    """
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with tempfile.TemporaryDirectory(prefix="telecenter-chromium-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=list(CHROMIUM_ARGS))
        yield context
        context.close()


@pytest.fixture
def page(browser, request, tmp_path):
    """A page with no cookies; on failure its screenshot lands in the test's tmp dir."""
    browser.clear_cookies()
    page = browser.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the failed page: {shot}")
    page.close()


def empty_admin_tables(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TOUCHED_TABLES)} RESTART IDENTITY")


def create_admin(pg_url: str, login: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD) -> None:
    """The first administrator, made the way a newcomer makes it."""
    done = subprocess.run(
        [str(TELECENTER), "create-admin", "--login", login, "--password", password],
        capture_output=True, text=True, env={**os.environ, "DATABASE_URL": pg_url})
    assert done.returncode == 0, done.stdout + done.stderr


@contextmanager
def running_admin(var_dir: Path, pg_url: str, env: dict[str, str] | None = None):
    """`telecenter serve` with its admin on a known port; yields the admin's base URL."""
    server = AgiServer(free_port(), var_dir, {
        "DATABASE_URL": pg_url, "TELECENTER_SECRET_KEY": "browser-test-secret-key",
        **(env or {})}, admin_port=free_port())
    server.start()
    try:
        yield f"http://127.0.0.1:{server.admin_port}", server
    finally:
        server.stop()


def log_in(page, base_url: str, login: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD):
    """Fill the login form (in whatever language the page is) and send it."""
    page.goto(f"{base_url}/auth/login")
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill(password)
    page.locator("main input[type=submit]").click()


def screenshot_dir() -> Path:
    """Where the admin's screenshots go: $TELECENTER_SCREENSHOTS, else artifacts/screenshots."""
    folder = Path(os.environ.get("TELECENTER_SCREENSHOTS") or REPO / "artifacts" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_section(page, group: str, section: str) -> None:
    """Open a section the way a user does: its group's dropdown in the navbar, then the section."""
    navbar = page.locator("nav.navbar")
    navbar.get_by_role("button", name=group, exact=True).click()
    navbar.locator(".dropdown-menu.show").get_by_role("link", name=section, exact=True).click()


def scrolls_sideways(page) -> bool:
    """True when the page is wider than the window (a horizontal scroll bar)."""
    return page.evaluate("document.scrollingElement.scrollWidth"
                         " > document.scrollingElement.clientWidth")
