"""The Phones section: access, CSRF, validation, the password shown once, history rows."""

import re

import psycopg
import pytest

from admin_web import phone_state
from dialplan.configuration import sip_digest
from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


class ServerStates:
    """The server's link as the Phones page reads it: states only, the rest refuses."""

    def __init__(self):
        self.value = None  # None means unknown (AMI down, admin outside the server)

    def contact_states(self):
        return self.value


@pytest.fixture
def states(app):
    """The server's event-fed states, faked; handed to the app as create_app would."""
    link = ServerStates()
    app.extensions["telecenter_asterisk"] = link
    return link


def new_phone(admin, **fields):
    data = {"number": "101", "kind": "simple", "description": "Reception", "password": "",
            **fields}
    return admin.post("/phones/new", data, form_page="/phones/new")


def shown_password(page: str) -> str:
    return re.search(r'id="phone-password">([^<]+)<', page).group(1)


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/phones/", "/phones/new"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, db_rows):
    response = client.post("/phones/new", data={"number": "101", "kind": "simple"})
    assert response.status_code == 400
    assert not db_rows("SELECT 1 FROM phones")


def test_generated_password_is_shown_once_and_only_its_digest_stored(client, admin, db_rows):
    response = new_phone(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    password = shown_password(page)
    assert len(password) >= 16
    stored = db_rows("SELECT * FROM phones")[0]
    assert stored["md5_cred"] == sip_digest("101", password)
    assert password not in str(stored)
    assert password not in client.get("/phones/").get_data(as_text=True)
    assert password not in client.get(f"/phones/{stored['id']}").get_data(as_text=True)
    change = db_rows("SELECT * FROM change_log")[0]
    assert (change["user_login"], change["action"], change["object_type"],
            change["object_id"]) == ("admin", "create", "phone", "101")
    assert change["new_value"] == {"number": "101", "kind": "simple", "description": "Reception"}
    assert password not in str(change) and stored["md5_cred"] not in str(change)


def test_a_typed_password_is_used(admin, db_rows):
    page = new_phone(admin, password="Typed-pass-9").get_data(as_text=True)
    assert shown_password(page) == "Typed-pass-9"
    assert db_rows("SELECT md5_cred FROM phones")[0]["md5_cred"] == sip_digest("101", "Typed-pass-9")


@pytest.mark.parametrize("fields, message", [
    ({"number": ""}, "Введите номер."),
    ({"number": "10a"}, "Номер должен состоять из 2–15 цифр."),
    ({"number": "99999"}, "Номер 99999 занят: самопроверка линии."),
    ({"password": "short"}, "Пароль должен быть длиной от 8 до 64"),
    ({"password": "has space1"}, "Печатные латинские символы"),
])
def test_create_refuses_bad_input_with_a_message(admin, db_rows, fields, message):
    response = new_phone(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM phones")
    assert not db_rows("SELECT 1 FROM change_log")


def test_a_number_is_unique_across_phones(admin, db_rows):
    new_phone(admin)
    response = new_phone(admin, description="Again")
    assert "Номер 101 занят: телефон 101." in response.get_data(as_text=True)
    assert len(db_rows("SELECT 1 FROM phones")) == 1


def test_list_shows_live_state_or_unknown(client, admin, states):
    new_phone(admin)
    new_phone(admin, number="102")
    page = client.get("/phones/").get_data(as_text=True)
    assert page.count("неизвестно") == 2
    states.value = {"101": "ONLINE"}
    page = client.get("/phones/").get_data(as_text=True)
    assert re.search(r"101</a>.*?>в сети</span>", page, re.S)
    assert re.search(r"102</a>.*?>не в сети</span>", page, re.S)
    assert "ONLINE<" not in page and "OFFLINE<" not in page


def test_without_the_servers_link_states_are_unknown():
    assert phone_state.phone_states(None, ["101"]) == {"101": "unknown"}


def test_edit_changes_description_and_password(client, admin, db_rows):
    new_phone(admin)
    phone = db_rows("SELECT * FROM phones")[0]
    url = f"/phones/{phone['id']}"
    response = admin.post(url, {"kind": "simple", "description": "Hall"}, form_page=url)
    assert response.status_code == 302
    assert db_rows("SELECT md5_cred FROM phones")[0]["md5_cred"] == phone["md5_cred"]
    response = admin.post(url, {"kind": "simple", "description": "Hall", "change_password": "y"},
                          form_page=url)
    password = shown_password(response.get_data(as_text=True))
    assert db_rows("SELECT md5_cred FROM phones")[0]["md5_cred"] == sip_digest("101", password)
    changes = db_rows("SELECT * FROM change_log WHERE action = 'update' ORDER BY id")
    assert changes[0]["old_value"]["description"] == "Reception"
    assert changes[0]["new_value"]["description"] == "Hall"
    assert changes[1]["new_value"]["password_changed"] is True
    assert password not in str(changes)


def test_delete_needs_a_post_with_token_and_is_recorded(client, admin, db_rows):
    new_phone(admin)
    phone_id = db_rows("SELECT id FROM phones")[0]["id"]
    assert client.post(f"/phones/{phone_id}/delete").status_code == 400
    assert client.get(f"/phones/{phone_id}/delete").status_code == 405
    response = admin.post(f"/phones/{phone_id}/delete", form_page="/phones/")
    assert response.status_code == 302
    assert not db_rows("SELECT 1 FROM phones")
    change = db_rows("SELECT * FROM change_log WHERE action = 'delete'")[0]
    assert change["object_id"] == "101" and change["new_value"] is None


@pytest.fixture
def menus(pg_url):
    """A connection for menu rows; menus (with their items and handlers) removed after."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn
        conn.execute("DELETE FROM menus")


def test_delete_is_refused_while_a_line_or_a_menu_sends_calls_to_the_phone(
        client, admin, db_rows, menus):
    new_phone(admin)
    phone_id = db_rows("SELECT id FROM phones")[0]["id"]
    menus.execute("INSERT INTO lines (name, host, inbound_number) VALUES ('prov1', '10.0.0.1', '101')")
    menu_id = menus.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()[0]
    item_id = menus.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                            " VALUES (%s, '500', 'tts', 'Здравствуйте') RETURNING id",
                            (menu_id,)).fetchone()[0]
    menus.execute("INSERT INTO menu_handlers (item_id, kind, key, target)"
                  " VALUES (%s, 'key', '1', '101'), (%s, 'key', '2', '101')", (item_id, item_id))

    response = admin.post(f"/phones/{phone_id}/delete", form_page="/phones/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("Телефон 101 не удалён: на него направляют звонки линия prov1 (входящий номер),"
            " пункт меню 500 (обработчик). Сначала измените их.") in page
    assert db_rows("SELECT number FROM phones") == [{"number": "101"}]
    assert not db_rows("SELECT 1 FROM change_log WHERE action = 'delete'")

    menus.execute("UPDATE lines SET inbound_number = ''")
    admin.post(f"/phones/{phone_id}/delete", form_page="/phones/")
    assert db_rows("SELECT number FROM phones") == [{"number": "101"}]  # the menu still does
    menus.execute("DELETE FROM menu_handlers")
    admin.post(f"/phones/{phone_id}/delete", form_page="/phones/")
    assert not db_rows("SELECT 1 FROM phones")


def test_the_number_and_password_rules_are_shown_before_they_are_broken(client, admin):
    form = client.get("/phones/new").get_data(as_text=True)
    assert "Номер должен состоять из 2–15 цифр." in form
    assert ("Пароль должен быть длиной от 8 до 64 символов. Печатные латинские символы без"
            " пробелов, «;» и «\\». Оставьте пустым") in form
