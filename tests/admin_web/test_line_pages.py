"""The External lines section: access, CSRF, Apply's validation on the fields, history rows."""

import pytest

from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


def new_line(admin, **fields):
    data = {"name": "prov1", "host": "sip.example.net", "port": "5060", "transport": "udp",
            "reg_username": "", "reg_domain": "", "reg_password": "",
            "outbound_regex": "^8[0-9]{10}$", "position": "1", "inbound_number": "99999",
            "external": "y", **fields}
    return admin.post("/lines/new", data, form_page="/lines/new")


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/lines/", "/lines/new"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, db_rows):
    assert client.post("/lines/new", data={"name": "prov1"}).status_code == 400
    assert not db_rows("SELECT 1 FROM lines")


def test_create_stores_the_line_and_masks_the_password_in_history(client, admin, db_rows):
    response = new_line(admin, reg_username="user1", reg_domain="sip.example.net",
                        reg_password="Prov-secret-1")
    assert response.status_code == 302
    line = db_rows("SELECT * FROM lines")[0]
    assert (line["name"], line["port"], line["outbound_regex"], line["inbound_number"],
            line["reg_password"], line["external"]) == (
        "prov1", 5060, "^8[0-9]{10}$", "99999", "Prov-secret-1", True)
    change = db_rows("SELECT * FROM change_log")[0]
    assert (change["action"], change["object_type"], change["object_id"]) == (
        "create", "line", "prov1")
    assert change["new_value"]["reg_password"] == "***"
    assert "Prov-secret-1" not in str(change)
    page = client.get("/lines/").get_data(as_text=True)
    assert "prov1" in page and "Prov-secret-1" not in page
    assert "Prov-secret-1" not in client.get(f"/lines/{line['id']}").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"name": "Bad Name"}, "Только строчные латинские буквы, цифры, «_» и «-»"),
    ({"host": "bad host!"}, "Имя хоста или адрес IPv4."),
    ({"port": "70000"}, "Порт от 1 до 65535."),
    ({"outbound_regex": "^8(["},
     "Ошибка в регулярном выражении в позиции 4: незакрытая квадратная скобка."),
    ({"outbound_regex": "^8[0-9]{99999999999}$"},
     "Ошибка в регулярном выражении: слишком большое число повторов."),
    ({"outbound_regex": "^8?$"}, "Это регулярное выражение нельзя использовать: совпадает с "
                                 "пустым номером"),
    ({"outbound_regex": "^8\\w+"}, "здесь не поддерживается"),
    ({"outbound_regex": "^9.+$"}, "пропускает любой символ, в том числе «,» и «&amp;»"),
    ({"outbound_regex": "^9"}, "должно совпадать только с номером целиком"),
    ({"inbound_number": "555"}, "Номера 555 нет в плане нумерации."),
    ({"inbound_number": "5a"}, "Входящий номер должен состоять из цифр."),
    ({"reg_username": "user1"}, "Для регистрации нужен пароль."),
])
def test_create_refuses_bad_input_with_a_message(admin, db_rows, fields, message):
    response = new_line(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM lines")
    assert not db_rows("SELECT 1 FROM change_log")


def test_an_inbound_number_may_be_a_phone(admin, db_rows):
    admin.post("/phones/new", {"number": "101", "kind": "simple"}, form_page="/phones/new")
    assert new_line(admin, inbound_number="101").status_code == 302


def test_names_and_hosts_are_unique(admin, db_rows):
    new_line(admin)
    page = new_line(admin, host="other.example.net").get_data(as_text=True)
    assert "Такое имя уже есть у другой линии." in page
    page = new_line(admin, name="prov2").get_data(as_text=True)
    assert "Этот хост уже есть у другой линии" in page
    assert len(db_rows("SELECT 1 FROM lines")) == 1


def test_edit_keeps_the_password_when_left_empty_and_records_old_and_new(admin, db_rows):
    new_line(admin, reg_username="user1", reg_password="Prov-secret-1")
    line = db_rows("SELECT * FROM lines")[0]
    url = f"/lines/{line['id']}"
    response = admin.post(url, {"name": "prov1", "host": "sip.example.net", "port": "5070",
                                "transport": "tcp", "reg_username": "user1",
                                "outbound_regex": "^9[0-9]+$", "position": "2",
                                "inbound_number": ""}, form_page=url)
    assert response.status_code == 302
    changed = db_rows("SELECT * FROM lines")[0]
    assert (changed["port"], changed["transport"], changed["reg_password"],
            changed["external"]) == (5070, "tcp", "Prov-secret-1", False)
    change = db_rows("SELECT * FROM change_log WHERE action = 'update'")[0]
    assert change["old_value"]["port"] == 5060 and change["new_value"]["port"] == 5070
    assert change["new_value"]["reg_password"] == "***"


def test_delete_is_recorded(admin, db_rows):
    new_line(admin)
    line_id = db_rows("SELECT id FROM lines")[0]["id"]
    assert admin.post(f"/lines/{line_id}/delete", form_page="/lines/").status_code == 302
    assert not db_rows("SELECT 1 FROM lines")
    assert db_rows("SELECT action FROM change_log ORDER BY id")[-1]["action"] == "delete"


def test_the_name_rule_is_shown_before_a_russian_name_is_refused(client, admin, db_rows):
    rule = ("Только строчные латинские буквы, цифры, «_» и «-», в начале буква, не больше 32"
            " знаков: например, rostelecom или office-pbx.")
    form = client.get("/lines/new").get_data(as_text=True)
    assert rule in form
    for shown in ("Имя хоста или адрес IPv4.", "Порт от 1 до 65535.",
                  "До 64 печатных латинских символов без пробелов, «;» и «\\»."):
        assert shown in form
    refused = new_line(admin, name="Ростелеком")
    assert refused.status_code == 400
    assert rule in refused.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM lines")


def test_the_inbound_number_field_offers_the_numbering_plan(client, admin, db):
    db.execute("INSERT INTO phones (number, md5_cred, description)"
               " VALUES ('101', repeat('0', 32), 'Приёмная')")
    form = client.get("/lines/new").get_data(as_text=True)
    assert 'name="inbound_number"' in form and 'list="numbering-plan"' in form
    assert '<option value="101" label="телефон 101: Приёмная">' in form
