"""The admin in a real browser: headless Chromium against a real `telecenter serve`.

Playwright waits for each element and `expect` polls until its condition
holds, so no test sleeps. The admin runs as in production, from the
`telecenter serve` subprocess; the first administrator comes from
`telecenter create-admin`.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.admin_web.browser import (ADMIN_LOGIN, SCREENS, browser,  # noqa: F401
                                     create_admin, empty_admin_tables, log_in, open_section,
                                     page, running_admin, screenshot_dir, scrolls_sideways)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def admin_url(tmp_path_factory, pg_url):
    """A served admin with one administrator, made by `telecenter create-admin`; its server
    has AMI credentials but no Asterisk answers them (an office whose Asterisk is down)."""
    from tests.testbed.ports import free_port

    empty_admin_tables(pg_url)
    create_admin(pg_url)
    no_asterisk = {"TELECENTER_AMI_USER": "telecenter", "TELECENTER_AMI_SECRET": "no-asterisk",
                   "TELECENTER_AMI_HOST": "127.0.0.1", "TELECENTER_AMI_PORT": str(free_port())}
    with running_admin(tmp_path_factory.mktemp("serve"), pg_url, no_asterisk) as (url, _server):
        yield url


def test_administrator_logs_in_switches_language_and_creates_an_operator(page, admin_url):
    from playwright.sync_api import expect

    log_in(page, admin_url)
    navbar = page.locator("nav.navbar")
    expect(navbar).to_contain_text("Пользователи")
    expect(navbar).to_contain_text("Выйти")
    expect(navbar).to_contain_text(ADMIN_LOGIN)

    navbar.get_by_role("button", name="English").click()
    expect(navbar).to_contain_text("Users")
    expect(navbar).to_contain_text("Log out")
    expect(navbar.get_by_role("button", name="Русский")).to_be_visible()

    open_section(page, "System", "Users")
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_role("link", name="New user").click()
    page.get_by_label("Login").fill("anna")
    page.get_by_label("Role").select_option("operator")
    page.get_by_label("Password", exact=True).fill("Operator-pass-1")
    page.get_by_label("Repeat the password").fill("Operator-pass-1")
    page.locator("main").get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/users/$"))
    expect(page.get_by_role("alert")).to_contain_text("User anna created.")
    row = page.locator("tbody tr", has=page.get_by_role("link", name="anna", exact=True))
    expect(row).to_contain_text("Operator")


def test_wrong_password_is_refused_with_a_message(page, admin_url):
    from playwright.sync_api import expect

    log_in(page, admin_url, password="not-the-password")
    expect(page.locator("main")).to_contain_text("Неверный логин или пароль.")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    expect(page.locator("nav.navbar")).not_to_contain_text("Выйти")


def test_pages_keep_to_the_content_security_policy_and_still_confirm(page, admin_url):
    """Chromium reports each thing the policy blocks on the console; none may be blocked,
    and the confirmation a delete asks for (static script, no inline handler) still shows."""
    from playwright.sync_api import expect

    blocked, questions = [], []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    log_in(page, admin_url)
    for path in ("/", "/users/", "/users/new", "/phones/", "/menus/", "/tts/"):
        page.goto(admin_url + path)
        expect(page.locator("nav.navbar")).to_contain_text(ADMIN_LOGIN)
    page.locator("main").get_by_role("button", name="Очистить кэш").click()
    assert questions and questions[0].startswith("Удалить речь из кэша?")
    expect(page.get_by_role("alert")).to_have_count(0)  # dismissed: nothing was cleared
    assert blocked == []


@pytest.fixture
def office_data(pg_url):
    """What an office's admin holds: the demo menu and people, phones, callback requests.

    Returns the ids nested pages are opened by; everything is removed afterwards.
    """
    import psycopg

    from dialplan.demo_configuration import load_demo_configuration

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")
        conn.execute("TRUNCATE persons, cases, callbacks RESTART IDENTITY CASCADE")
        load_demo_configuration(conn)
        phone = conn.execute(  # besides the demo queue's phones 201 and 202
            "INSERT INTO phones (number, md5_cred, description) VALUES"
            " ('211', %(cred)s, 'Приёмная'), ('212', %(cred)s, 'Бухгалтерия') RETURNING id",
            {"cred": "0" * 32}).fetchone()[0]
        conn.execute("INSERT INTO callbacks (phone, source, requested_at, done_at, done_by)"
                     " VALUES ('79990000001', 'ivr', now() - interval '2 hours', NULL, NULL),"
                     " ('79990000002', 'ivr', now() - interval '1 hour', NULL, NULL),"
                     " ('79990000003', 'ivr', now() - interval '3 hours', now(), %s)",
                     (ADMIN_LOGIN,))
        # Robocall tasks: one waiting, one being called, one answered (and its attempts).
        conn.execute("DELETE FROM robocall_attempts")
        conn.execute("DELETE FROM robocall_tasks")
        tasks = conn.execute(
            "INSERT INTO robocall_tasks (phone, text, priority, not_before, done_at, outcome,"
            " attempts, answered, attempt_started_at, claimed_by, claimed_until) VALUES"
            " ('79990000011', 'Ваше дело № 19-03-2044 готово, приходите за документами.', 0,"
            "  now() + interval '1 day', NULL, NULL, 0, 0, NULL, NULL, NULL),"
            " ('79990000012', 'Проверка связи.', 100, NULL, NULL, NULL, 1, 0, now(), 'demo',"
            "  now() + interval '1 minute'),"
            " ('79990000013', 'Привет, Костя. Проверка связи.', 100, NULL, now(), 'answered',"
            "  2, 1, NULL, NULL, NULL) RETURNING id").fetchall()
        conn.execute(
            "INSERT INTO robocall_attempts (task_id, phone, text, line, started_at, dialed_at,"
            " answered_at, ended_at, outcome, reason) VALUES"
            " (%(t)s, '79990000013', 'Привет, Костя. Проверка связи.', 'provider',"
            "  now() - interval '40 min', now() - interval '40 min', NULL,"
            "  now() - interval '39 min', 'no_answer', 'reason 3, cause 0, rang'),"
            " (%(t)s, '79990000013', 'Привет, Костя. Проверка связи.', 'provider',"
            "  now() - interval '10 min', now() - interval '10 min', now() - interval '9 min',"
            "  now() - interval '9 min' + interval '6 s', 'answered', 'answered')",
            {"t": tasks[2][0]})
        # A schedule (weekdays, a lunch break, a day off) and the main number's override rules.
        conn.execute("DELETE FROM override_rules")
        conn.execute("UPDATE dialer_settings SET schedule_id = NULL")
        conn.execute("DELETE FROM schedules")
        schedule = conn.execute("INSERT INTO schedules (name) VALUES ('Приём граждан')"
                                " RETURNING id").fetchone()[0]
        for weekday in range(1, 6):
            conn.execute("INSERT INTO schedule_hours (schedule_id, weekday, starts, ends) VALUES"
                         " (%(s)s, %(d)s, '09:00', '13:00'), (%(s)s, %(d)s, '14:00', '18:00')",
                         {"s": schedule, "d": weekday})
        conn.execute("INSERT INTO schedule_dates (schedule_id, day, working) VALUES"
                     " (%s, '2026-12-31', false)", (schedule,))
        rule = conn.execute(
            "INSERT INTO override_rules (called_number, caller_numbers, caller_regexes, position,"
            " redirect, comment) VALUES ('90000', '{79990000003}', '{}', 0, '', 'Спам')"
            " RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO override_rules (called_number, schedule_id, schedule_inside,"
                     " position, redirect, comment) VALUES ('90000', %s, false, 1, '93000',"
                     " 'Вне часов приёма: обратный звонок')", (schedule,))
        menu, item = conn.execute("SELECT menu_id, id FROM menu_items WHERE number = '90000'"
                                  ).fetchone()
        handler = conn.execute("SELECT id FROM menu_handlers WHERE item_id = %s"
                               " ORDER BY position LIMIT 1", (item,)).fetchone()[0]
        case = conn.execute("SELECT id FROM cases ORDER BY id LIMIT 1").fetchone()[0]
        user = conn.execute("SELECT id FROM users WHERE login = %s", (ADMIN_LOGIN,)).fetchone()[0]
        callback = conn.execute("SELECT id FROM callbacks ORDER BY id LIMIT 1").fetchone()[0]
        queue = conn.execute("SELECT id FROM queues ORDER BY id LIMIT 1").fetchone()[0]
    yield {"phone": phone, "menu": menu, "item": item, "handler": handler, "case": case,
           "user": user, "schedule": schedule, "rule": rule, "callback": callback,
           "queue": queue}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queues")  # the demo's, whose members are phones
        conn.execute("DELETE FROM menus")
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM playlists")
        conn.execute("TRUNCATE persons, cases, callbacks RESTART IDENTITY CASCADE")
        conn.execute("DELETE FROM robocall_attempts")
        conn.execute("DELETE FROM robocall_tasks")
        conn.execute("DELETE FROM override_rules")
        conn.execute("DELETE FROM schedules")


def navbar_sections(page) -> list[tuple[str, str, str]]:
    """[group, section, path] of every section the navbar offers, in order."""
    return page.locator("nav.navbar [data-group] .dropdown-item").evaluate_all(
        """items => items.map(a => [
             a.closest('[data-group]').querySelector('.dropdown-toggle').textContent.trim(),
             a.textContent.trim(), a.getAttribute('href')])""")


def assert_fits_with_user_menu(page, width: int, login: str) -> None:
    """No sideways scroll; the login and the language button are in view."""
    from playwright.sync_api import expect

    assert not scrolls_sideways(page), f"{page.url} scrolls sideways at {width} px"
    user = page.locator("#user-menu > .dropdown-toggle")
    language = page.locator("nav.navbar button[lang=en]")
    expect(user).to_have_text(login)
    for element in (user, language):
        expect(element).to_be_in_viewport()
        box = element.bounding_box()
        assert box["x"] + box["width"] <= width, page.url


# Nested pages (forms, a menu and its items, a handler) with their screenshot names.
NESTED_PAGES = (
    ("phone-new", "/phones/new"), ("phone-edit", "/phones/{phone}"), ("line-new", "/lines/new"),
    ("menu", "/menus/{menu}"), ("menu-item", "/menus/items/{item}"),
    ("menu-handler", "/menus/handlers/{handler}"), ("playlist-new", "/playlists/new"),
    ("audio-upload", "/audio/new"), ("case", "/cases/{case}"), ("user-new", "/users/new"),
    ("user-edit", "/users/{user}"), ("schedule", "/schedules/{schedule}"),
    ("rule", "/rules/{rule}"), ("callback", "/callbacks/{callback}"), ("queue", "/queues/{queue}"),
)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s['width']}px")
def test_every_page_fits_the_screen_with_the_login_and_language_in_view(
        page, admin_url, office_data, screen):
    """At 1280 and 1366 px in Russian: each section opened from its navbar dropdown, and the
    nested pages, never scroll sideways and keep the login and the language switch in view.
    At 1280 px every page is photographed whole (screenshot_dir(): the CI keeps them)."""
    from playwright.sync_api import expect

    width = screen["width"]
    shots = screenshot_dir() if width == 1280 else None
    page.set_viewport_size(screen)
    if shots:
        page.goto(f"{admin_url}/auth/login")
        page.screenshot(path=str(shots / "login.png"), full_page=True)
    log_in(page, admin_url)
    expect(page.locator("#state-ami")).to_have_text("нет связи")  # the server's own AMI link
    assert_fits_with_user_menu(page, width, ADMIN_LOGIN)
    if shots:
        page.screenshot(path=str(shots / "home.png"), full_page=True)
    sections = navbar_sections(page)
    assert [group for group in dict.fromkeys(g for g, _s, _p in sections)] == [
        "Телефония", "Голосовые меню", "Контакт-центр", "Журналы", "Система"]
    for group, section, path in sections:
        open_section(page, group, section)
        expect(page).to_have_url(admin_url + path)
        expect(page.locator("nav.navbar .dropdown-toggle.active")).to_have_text(group)
        assert_fits_with_user_menu(page, width, ADMIN_LOGIN)
        if shots:
            page.screenshot(path=str(shots / f"{path.strip('/').replace('/', '-')}.png"),
                            full_page=True)
    for name, path in NESTED_PAGES:
        page.goto(admin_url + path.format(**office_data))
        expect(page.locator("main .breadcrumb")).to_be_visible()
        assert_fits_with_user_menu(page, width, ADMIN_LOGIN)
        if shots:
            page.screenshot(path=str(shots / f"{name}.png"), full_page=True)


def test_an_operator_sees_only_the_contact_center_and_their_callbacks(
        page, admin_url, office_data, pg_url):
    """Before, an operator's navbar was empty and their home page said nothing."""
    import psycopg
    from playwright.sync_api import expect

    from admin_web.users import create_user

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM users WHERE login = 'olga'")
        create_user(conn, "olga", "operator", "Operator-pass-1")
    page.set_viewport_size(SCREENS[0])
    log_in(page, admin_url, "olga", "Operator-pass-1")
    navbar = page.locator("nav.navbar")
    expect(navbar.locator(".dropdown-toggle")).to_have_text(["Контакт-центр", "olga"])
    expect(page.locator("#open-callbacks")).to_contain_text("2")
    page.screenshot(path=str(screenshot_dir() / "operator-home.png"), full_page=True)
    expect(page.locator("#system-state")).to_have_count(0)
    assert navbar_sections(page) == [["Контакт-центр", "Обратные звонки", "/callbacks/"],
                                     ["Контакт-центр", "Очереди сейчас", "/queues/live/"]]
    open_section(page, "Контакт-центр", "Обратные звонки")
    expect(page.locator("#callbacks tbody tr")).to_have_count(2)
    page.locator("#callbacks tbody tr").first.get_by_role("button", name="Перезвонили").click()
    expect(page.get_by_role("alert")).to_contain_text("Заявка с номера 79990000002 выполнена.")
    expect(page.locator("#callbacks tbody tr")).to_have_count(1)
    assert_fits_with_user_menu(page, SCREENS[0]["width"], "olga")


@pytest.mark.asterisk
def test_administrator_creates_a_phone_applies_and_sees_it_listed(
        page, testbed, pg_url, tmp_path):
    """The issue's browser test: log in, create a phone, Apply into the real Asterisk."""
    from playwright.sync_api import expect

    empty_admin_tables(pg_url)
    create_admin(pg_url)
    # Apply writes where the test bed's Asterisk reads.
    env = {**testbed.ami_env(), "TELECENTER_INCLUDE_DIR": str(testbed.asterisk.include_dir)}
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            log_in(page, url)
            navbar = page.locator("nav.navbar")
            navbar.get_by_role("button", name="English").click()
            expect(navbar).to_contain_text("Log out")

            open_section(page, "Telephony", "Phones")
            page.locator("main").get_by_role("link", name="New phone").click()
            page.get_by_label("Number").fill("251")
            page.get_by_label("Description").fill("Reception desk")
            page.get_by_label("Password", exact=True).fill("Browser-phone-251")
            page.locator("main").get_by_role("button", name="Create").click()
            expect(page.locator("main")).to_contain_text("Phone 251 created.")
            expect(page.locator("#phone-password")).to_have_text("Browser-phone-251")

            open_section(page, "System", "Apply")
            page.get_by_role("button", name="Apply the configuration").click()
            expect(page.locator("main")).to_contain_text(
                re.compile(r"Applied: revision \d+ is active\."))
            assert "251" in testbed.asterisk.rx("pjsip show endpoints"), server.log_text()

            open_section(page, "Telephony", "Phones")
            row = page.locator("tbody tr", has=page.get_by_role("link", name="251", exact=True))
            expect(row).to_contain_text("Reception desk")
            expect(row).to_contain_text("offline")
    finally:
        _leave_asterisk_as_found(testbed, pg_url)


@pytest.mark.asterisk
def test_a_menu_built_in_the_admin_is_walked_by_a_real_call(page, testbed, pg_url, tmp_path):
    """Two TTS items made on the pages (96000: key 1 -> 96100; 96100: no handlers), Apply,
    then a call to 96000 that presses 1 walks from the first item to the second."""
    from playwright.sync_api import expect

    from tests.testbed.callers import place_call

    empty_admin_tables(pg_url)
    _empty_menus(pg_url)
    create_admin(pg_url)
    env = {**testbed.ami_env(), "TELECENTER_INCLUDE_DIR": str(testbed.asterisk.include_dir)}
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            log_in(page, url)
            navbar = page.locator("nav.navbar")
            navbar.get_by_role("button", name="English").click()
            expect(navbar).to_contain_text("Log out")
            main = page.locator("main")

            open_section(page, "Voice menus", "Voice menus")
            main.get_by_role("link", name="New menu").click()
            page.get_by_label("Name").fill("Browser menu")
            main.get_by_role("button", name="Save").click()
            expect(main).to_contain_text("Menu Browser menu created.")
            for number, text in (("96000", "Здравствуйте. Нажмите единицу."),
                                 ("96100", "Вы во втором пункте. До свидания.")):
                main.get_by_role("link", name="New item").first.click()
                page.get_by_label("Number").fill(number)
                page.get_by_label("Type").select_option("tts")
                expect(page.get_by_label("Audio file")).to_be_hidden()  # only what TTS needs
                page.get_by_label("Text to speak").fill(text)
                main.get_by_role("button", name="Save").click()
                expect(main).to_contain_text(f"Menu item {number} created.")
                main.get_by_role("link", name="Back to menu Browser menu").click()

            main.get_by_role("link", name="96000", exact=True).click()
            main.get_by_role("link", name="New handler").click()
            page.get_by_label("Event").select_option("timeout")
            expect(page.get_by_label("Key", exact=True)).to_be_hidden()
            page.get_by_label("Event").select_option("key")
            expect(page.get_by_label("Seconds")).to_be_hidden()
            page.get_by_label("Key", exact=True).select_option("1")
            page.get_by_label("Target number").fill("96100")
            main.get_by_role("button", name="Save").click()
            expect(main).to_contain_text("Handler of item 96000 saved: key 1.")
            expect(page.locator("#item-handlers")).to_contain_text("menu item 96100")

            open_section(page, "System", "Apply")
            page.get_by_role("button", name="Apply the configuration").click()
            expect(main).to_contain_text(re.compile(r"Applied: revision \d+ is active\."))

            mark = testbed.mark()
            place_call(testbed.asterisk, "96000", "w2/d1/w10/h", caller="79990000042")
            call = testbed.finished_call("79990000042", mark, timeout=60)
            items = testbed.events(call, "item")
            assert [item.split()[0] for item in items] == ["96000", "96100"], \
                (testbed.events(call), server.log_text())
            assert any("key 1" in h for h in testbed.events(call, "handler"))
    finally:
        _leave_asterisk_as_found(testbed, pg_url)


def _empty_menus(pg_url: str) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")


def _leave_asterisk_as_found(testbed, pg_url: str) -> None:
    """No queues, phones, lines or menus, applied with the test bed's own FastAGI address."""
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queues")
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM lines")
        conn.execute("DELETE FROM menus")
        # Playwright's sync API keeps an event loop running in this thread.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(testbed.apply, conn).result()
