"""The rollback story end to end: real Asterisk, SIPp, the real server, and a browser.

Revision A has phone 301 and a menu (97000: key 1 → 97100; 97100), spoken by
espeak-ng.  Then the speech engine becomes Festival, 301 gets a new
password, phone 302 is added and the menu changes (key 1 → a new 97200;
97100 deleted); that is applied as revision B.  Rolling back to A must give
A's configuration everywhere: on the pages, in what Asterisk serves
(``pjsip show endpoints``, ``dialplan show``), and on a call: 301, with its
first password again, calls 97000, presses 1 and reaches 97100.

The first test drives the admin's routes (the Flask app handed the server's
kind of AMI link, as in test_admin_asterisk.py); the second clicks the
same story through a served admin in Chromium, in Russian, at 1280x800.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from admin_web import create_app
from dialplan import names
from tests.admin_web.browser import (browser, create_admin, empty_admin_tables,  # noqa: F401
                                     log_in, page, running_admin)
from tests.admin_web.test_phone_pages import shown_password
from tests.conftest import require
from tests.dialplan.test_apply_menus import add_item, add_menu
from tests.testbed.ports import sipp_ports
from tests.testbed.server_link import server_link
from tests.testbed.sipp import run_sip_call

pytestmark = pytest.mark.asterisk

FIRST_TEXT = "Первый пункт. Нажмите единицу."
# An Apply from the browser may first say the phrases' vocabulary with a new engine.
APPLY_MS = 60_000


def seed_revision_a(conn) -> dict[str, int]:
    """A's menu and speech engine (its phone is made on the pages)."""
    menu = add_menu(conn, "Откат")
    root = add_item(conn, menu, "97000", "tts", ("key", "1", "97100"), text=FIRST_TEXT)
    second = add_item(conn, menu, "97100", "tts", text="Второй пункт.")
    conn.execute("UPDATE tts_settings SET engine = 'espeak'")
    return {"menu": menu, "root": root, "second": second}


def change_menus(conn, ids) -> None:
    """B's menu: key 1 goes to a new 97200; 97100 is gone."""
    add_item(conn, ids["menu"], "97200", "tts", text="Третий пункт.")
    conn.execute("UPDATE menu_handlers SET target = '97200' WHERE item_id = %s", (ids["root"],))
    conn.execute("DELETE FROM menu_items WHERE id = %s", (ids["second"],))


def leave_asterisk_as_found(testbed, pg_url: str) -> None:
    """No phones, lines or menus, the default engine, applied with the test bed's address."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM lines")
        conn.execute("DELETE FROM menus")
        conn.execute("UPDATE tts_settings SET engine = 'festival'")
        # Playwright's sync API keeps an event loop running in the browser test's thread.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(testbed.apply, conn).result()


def assert_asterisk_serves_revision_a(testbed, revision: int) -> None:
    asterisk = testbed.asterisk
    endpoints = asterisk.rx("pjsip show endpoints")
    assert re.search(r"Endpoint:\s+301\b", endpoints), endpoints
    assert not re.search(r"Endpoint:\s+302\b", endpoints), endpoints
    entry = asterisk.rx(f"dialplan show {names.CONTEXT_ENTRY}")
    assert "'97100'" in entry and "'97200'" not in entry, entry
    assert f"Telecenter revision {revision})" in asterisk.rx(
        f"dialplan show s@{names.CONTEXT_REVISION}")


@pytest.fixture
def app(people, pg_url, tmp_path, testbed):
    """The admin as the server runs it, handed the server's kind of AMI link."""
    require("sipp")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")
    settings = testbed.settings()
    try:
        with server_link(settings) as link:
            yield create_app({"TESTING": True, "DATABASE_URL": pg_url,
                              "VAR_DIR": str(settings.var_dir),  # the server's speech cache
                              "TELECENTER_SETTINGS": settings}, asterisk=link)
    finally:
        leave_asterisk_as_found(testbed, pg_url)


def applied(auth, client) -> int:
    response = auth.post("/apply/run", form_page="/apply/")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    return int(re.search(r"Применено: ревизия (\d+) активна\.", page).group(1))


def selected_engine(client) -> str:
    page = client.get("/tts/").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="engine".*?</select>', page, re.S).group(0)
    return re.search(r'<option selected value="(\w+)"|<option value="(\w+)" selected',
                     select).group(0).split('"')[1]


@pytest.mark.sipp
def test_a_rollback_brings_back_the_pages_asterisk_and_the_menu_a_call_walks(
        client, auth, testbed, pg_url, tmp_path):
    auth.login()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ids = seed_revision_a(conn)
    made = auth.post("/phones/new", {"number": "301", "kind": "simple", "password": ""},
                     form_page="/phones/new")
    first_password = shown_password(made.get_data(as_text=True))
    revision_a = applied(auth, client)

    # Revision B: another engine (on the speech page), another password, a new phone, menus.
    settings_form = {"engine": "festival", "festival_voice": "msu_ru_nsh_clunits",
                     "espeak_voice": "ru", "yandex_voice": "alena"}
    assert auth.post("/tts/", settings_form, form_page="/tts/").status_code == 302
    phone_301 = int(re.search(r'href="/phones/(\d+)"', client.get("/phones/").get_data(
        as_text=True)).group(1))
    assert auth.post(f"/phones/{phone_301}", {"kind": "simple", "description": "",
                                             "change_password": "y", "password": ""},
                     form_page=f"/phones/{phone_301}").status_code == 200
    auth.post("/phones/new", {"number": "302", "kind": "simple", "password": ""},
              form_page="/phones/new")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        change_menus(conn, ids)
    revision_b = applied(auth, client)
    assert "'97200'" in testbed.asterisk.rx(f"dialplan show {names.CONTEXT_ENTRY}")

    response = auth.post(f"/apply/rollback/{revision_a}", form_page="/apply/")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    rolled = int(re.search(rf"Откат к ревизии {revision_a}: её конфигурация восстановлена и"
                           r" применена как ревизия (\d+)\.", page).group(1))
    assert rolled > revision_b

    # The pages show revision A again.
    phones = client.get("/phones/").get_data(as_text=True)
    assert ">301</a>" in phones and ">302</a>" not in phones
    menu = client.get(f"/menus/{ids['menu']}").get_data(as_text=True)
    assert "97100" in menu and "97200" not in menu
    assert selected_engine(client) == "espeak"
    history = client.get("/history/").get_data(as_text=True)
    assert "97100" in history and "302" in history
    # Asterisk serves it.
    assert_asterisk_serves_revision_a(testbed, rolled)
    # And a call walks it: 301 with its first password, key 1 to 97100.
    sip, media = sipp_ports()
    mark = testbed.mark()
    result = run_sip_call(target_host="127.0.0.1", target_port=testbed.asterisk.sip_port,
                          number="97000", user="301", password=first_password, digits="1",
                          initial_pause_ms=2500,  # 97100 has no handlers: Asterisk hangs up
                          local_port=sip, media_port=media, timeout=60,
                          workdir=tmp_path / "sipp")
    call = testbed.finished_call("301", mark)
    assert result.returncode == 0, (result.describe(), testbed.events(call),
                                    testbed.server.log_text()[-3000:])
    items = [item.split()[0] for item in testbed.events(call, "item")]
    assert items == ["97000", "97100"], testbed.events(call)


@pytest.mark.browser
def test_an_administrator_rolls_back_with_the_buttons(page, testbed, pg_url, tmp_path):
    """The same story clicked through in Russian at 1280x800: Apply, change the engine and
    the menu on their pages, Apply, Откатить (the confirmation says what comes back)."""
    from playwright.sync_api import expect

    empty_admin_tables(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")
        ids = seed_revision_a(conn)
        handler = conn.execute("SELECT id FROM menu_handlers WHERE item_id = %s",
                               (ids["root"],)).fetchone()[0]
    env = {**testbed.ami_env(), "TELECENTER_INCLUDE_DIR": str(testbed.asterisk.include_dir)}
    questions: list[str] = []
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.accept()))
    page.set_viewport_size({"width": 1280, "height": 800})
    # The speech the bed's server has made already is not made again (an Apply with a cold
    # cache says the phrases' whole vocabulary first: some seconds per engine).
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "tts-cache").symlink_to(testbed.server.var_dir / "tts-cache",
                                                target_is_directory=True)
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            log_in(page, url)
            main = page.locator("main")

            def apply() -> int:
                page.goto(f"{url}/apply/")
                main.get_by_role("button", name="Применить конфигурацию").click(
                    timeout=APPLY_MS)
                notice = page.get_by_role("alert").filter(has_text="Применено: ревизия")
                expect(notice).to_be_visible(timeout=APPLY_MS)
                return int(re.search(r"ревизия (\d+)", notice.inner_text()).group(1))

            revision_a = apply()

            page.goto(f"{url}/tts/")
            page.locator("select[name=engine]").select_option("festival")
            page.locator(f"form[action='/tts/'] [type=submit]").click()
            expect(page.locator("select[name=engine]")).to_have_value("festival")
            page.goto(f"{url}/menus/items/{ids['root']}")
            page.locator(f"form[action='/menus/handlers/{handler}/delete'] button").click()
            expect(page.get_by_role("alert")).to_contain_text("удалён")
            page.goto(f"{url}/menus/{ids['menu']}")
            page.locator(f"form[action='/menus/items/{ids['second']}/delete'] button").click()
            expect(main.get_by_role("link", name="97100", exact=True)).to_have_count(0)
            apply()

            page.goto(f"{url}/apply/")
            main.locator(f"form[action='/apply/rollback/{revision_a}'] button").click(
                timeout=APPLY_MS)
            notice = page.get_by_role("alert").filter(has_text="её конфигурация восстановлена")
            expect(notice).to_contain_text(f"Откат к ревизии {revision_a}", timeout=APPLY_MS)
            rolled = int(re.search(r"как ревизия (\d+)", notice.inner_text()).group(1))
            question = questions[-1]
            assert question.startswith(f"Откатить к ревизии {revision_a}? "), question
            assert "изменений: 3" in question, question
            assert page.evaluate("document.documentElement.scrollWidth") <= 1280

            page.goto(f"{url}/menus/{ids['menu']}")
            expect(main.get_by_role("link", name="97100", exact=True)).to_be_visible()
            page.goto(f"{url}/menus/items/{ids['root']}")
            expect(main).to_contain_text("97100")  # key 1's handler is back
            page.goto(f"{url}/tts/")
            expect(page.locator("select[name=engine]")).to_have_value("espeak")
            entry = testbed.asterisk.rx(f"dialplan show {names.CONTEXT_ENTRY}")
            assert "'97100'" in entry, (entry, server.log_text())
            assert f"Telecenter revision {rolled})" in testbed.asterisk.rx(
                f"dialplan show s@{names.CONTEXT_REVISION}")
    finally:
        leave_asterisk_as_found(testbed, pg_url)
