"""The navbar's groups by role, the user menu and language switch, breadcrumbs on nested pages."""

from __future__ import annotations

import re

import psycopg
import pytest

from admin_web.navigation import GROUPS

_GROUP = re.compile(r'<li class="nav-item dropdown" data-group="([a-z_]+)">(.*?)</ul>', re.S)
_LINK = re.compile(r'href="([^"#]+)"')
_CRUMBS = re.compile(r'<ol class="breadcrumb">(.*?)</ol>', re.S)


def navbar(page: str) -> dict[str, list[str]]:
    """Group key -> the section links of its dropdown, as the page shows them."""
    bar = page.split("<main", 1)[0]
    return {key: _LINK.findall(body) for key, body in _GROUP.findall(bar)}


def crumbs(page: str) -> list[tuple[str | None, str]]:
    """The breadcrumb trail: (link or None for the page itself, text)."""
    found = _CRUMBS.search(page)
    assert found, "no breadcrumbs on the page"
    items = re.findall(r'<li class="breadcrumb-item[^"]*"[^>]*>(.*?)</li>', found.group(1), re.S)
    trail = []
    for item in items:
        link = re.match(r'<a href="([^"]+)">(.*)</a>', item.strip())
        trail.append((link.group(1), link.group(2)) if link else (None, item.strip()))
    return trail


def test_the_administrator_sees_every_group_in_order_with_its_sections(client, auth):
    auth.login()
    groups = navbar(client.get("/").get_data(as_text=True))
    assert list(groups) == ["telephony", "voice", "contact_center", "logs", "system"]
    assert groups["telephony"] == ["/phones/", "/lines/", "/sip-blocks/"]
    assert groups["voice"] == ["/menus/", "/queues/", "/playlists/", "/audio/", "/tts/",
                               "/transfer/", "/rules/", "/schedules/", "/simulator/",
                               "/cases/"]
    assert groups["contact_center"] == ["/callbacks/", "/queues/live/", "/dialer/", "/dialer/log",
                                        "/dialer/settings"]
    assert groups["logs"] == ["/history/"]
    assert groups["system"] == ["/users/", "/apply/", "/api-tokens/"]


def test_groups_read_in_russian(client, auth):
    auth.login()
    bar = client.get("/").get_data(as_text=True).split("<main", 1)[0]
    for title in ("Телефония", "Голосовые меню", "Контакт-центр", "Журналы", "Система",
                  "Обратные звонки"):
        assert f">{title}</a>" in bar


def test_an_operator_sees_only_the_contact_center_with_their_callbacks(client, auth):
    """Before, an operator's navbar was empty."""
    auth.login("olga")
    assert navbar(client.get("/").get_data(as_text=True)) == {"contact_center": ["/callbacks/", "/queues/live/"]}


def test_a_manager_sees_what_their_role_opens_and_no_empty_group(client, auth):
    auth.login("boss")
    assert navbar(client.get("/").get_data(as_text=True)) == {
        "voice": ["/simulator/", "/cases/"],
        "contact_center": ["/callbacks/", "/queues/live/", "/dialer/", "/dialer/log"],
        "logs": ["/history/"]}


def test_every_section_of_the_navbar_opens_for_the_roles_that_see_it(client, auth):
    for login in ("admin", "boss", "olga"):
        auth.login(login)
        for links in navbar(client.get("/").get_data(as_text=True)).values():
            for link in links:
                assert client.get(link).status_code == 200, (login, link)
        auth.logout()


def test_no_section_is_listed_twice():
    endpoints = [section.endpoint for group in GROUPS for section in group.sections]
    assert len(endpoints) == len(set(endpoints))


def test_the_group_and_section_of_the_page_are_marked(client, auth):
    auth.login()
    page = client.get("/lines/").get_data(as_text=True).split("<main", 1)[0]
    telephony = page.split('data-group="telephony"', 1)[1].split("</li>\n", 1)[0]
    assert 'dropdown-toggle active"' in telephony
    assert re.search(r'dropdown-item active"\s+aria-current="page" href="/lines/"', page)
    assert page.count("dropdown-toggle active") == 1


@pytest.mark.parametrize("login", ["admin", "olga"])
def test_the_login_log_out_and_language_switch_are_on_every_page(client, auth, login):
    auth.login(login)
    page = client.get("/callbacks/").get_data(as_text=True).split("<main", 1)[0]
    user_menu = page.split('id="user-menu"', 1)[1]
    assert f">{login}</a>" in user_menu and ">Выйти</button>" in user_menu
    assert re.search(r'<button class="btn btn-sm btn-outline-light" type="submit" lang="en">'
                     r"English</button>", page)


@pytest.fixture
def menu_with_a_handler(pg_url):
    """Menu "Main" with item 90000 (TTS) and a key 1 handler to 90100."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")
        menu = conn.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()[0]
        item = conn.execute(
            "INSERT INTO menu_items (menu_id, number, kind, text) VALUES (%s, '90000', 'tts',"
            " 'Здравствуйте') RETURNING id", (menu,)).fetchone()[0]
        handler = conn.execute(
            "INSERT INTO menu_handlers (item_id, kind, key, target) VALUES (%s, 'key', '1',"
            " '90100') RETURNING id", (item,)).fetchone()[0]
    yield menu, item, handler
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM menus")


def test_nested_pages_show_where_they_are(client, auth, menu_with_a_handler):
    menu, item, handler = menu_with_a_handler
    auth.login()
    expected = {
        "/phones/new": [("/phones/", "Телефоны"), (None, "Новый телефон")],
        "/users/new": [("/users/", "Пользователи"), (None, "Новый пользователь")],
        "/users/1": [("/users/", "Пользователи"), (None, "Пользователь admin")],
        f"/menus/{menu}": [("/menus/", "Голосовые меню"), (None, "Меню Main")],
        f"/menus/{menu}/rename": [("/menus/", "Голосовые меню"), (f"/menus/{menu}", "Меню Main"),
                                  (None, "Переименовать")],
        f"/menus/{menu}/items/new": [("/menus/", "Голосовые меню"),
                                     (f"/menus/{menu}", "Меню Main"), (None, "Новый пункт")],
        f"/menus/items/{item}": [("/menus/", "Голосовые меню"), (f"/menus/{menu}", "Меню Main"),
                                 (None, "Пункт меню 90000")],
        f"/menus/handlers/{handler}": [("/menus/", "Голосовые меню"),
                                       (f"/menus/items/{item}", "Пункт меню 90000"),
                                       (None, "Обработчик")],
        "/cases/new": [("/cases/", "Дела"), (None, "Новое дело")],
        "/lines/new": [("/lines/", "Внешние линии"), (None, "Новая линия")],
        "/audio/new": [("/audio/", "Аудиозаписи"), (None, "Загрузить файл")],
        "/playlists/new": [("/playlists/", "Плейлисты"), (None, "Новый плейлист")],
    }
    for url, trail in expected.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert crumbs(response.get_data(as_text=True)) == trail, url


def test_a_section_page_has_no_breadcrumbs(client, auth):
    auth.login()
    assert 'class="breadcrumb"' not in client.get("/phones/").get_data(as_text=True)
