"""The Users section: create, change role, reset password, delete; and their history rows."""

import json

import pytest
from werkzeug.security import check_password_hash

from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


def user_id(db_rows, login):
    return db_rows("SELECT id FROM users WHERE login = %s", (login,))[0]["id"]


def new_user(admin, **fields):
    data = {"login": "ivan", "role": "operator", "password": "Ivan-password-1",
            "repeat": "Ivan-password-1", **fields}
    return admin.post("/users/new", data, form_page="/users/new")


def test_list_shows_every_user_and_role(client, admin):
    page = client.get("/users/").get_data(as_text=True)
    for text in ("admin", "boss", "olga", "Администратор", "Менеджер", "Оператор"):
        assert text in page


def test_a_new_user_has_a_bind_code_and_the_list_shows_bound_phones(client, admin, db_rows,
                                                                    pg_url):
    import psycopg

    from ivr import operators

    assert new_user(admin).status_code == 302
    code = db_rows("SELECT bind_code FROM users WHERE login = 'ivan'")[0]["bind_code"]
    assert len(code) == 5 and code.isdigit()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        operators.bind_phone(conn, code, "105")
    page = client.get("/users/").get_data(as_text=True)
    row = page.split(">ivan</a>", 1)[1].split("</tr>", 1)[0]
    assert '<td class="user-phone">105</td>' in row


def test_create_stores_a_hash_and_records_the_change(admin, db_rows):
    response = new_user(admin)
    assert response.status_code == 302
    stored = db_rows("SELECT * FROM users WHERE login = 'ivan'")[0]
    assert stored["role"] == "operator"
    assert check_password_hash(stored["password_hash"], "Ivan-password-1")
    change = db_rows("SELECT * FROM change_log")[0]
    assert (change["user_login"], change["action"], change["object_type"],
            change["object_id"]) == ("admin", "create", "user", "ivan")
    assert change["old_value"] is None
    assert change["new_value"] == {"login": "ivan", "role": "operator"}


@pytest.mark.parametrize("fields, message", [
    ({"login": ""}, "Введите логин."),
    ({"login": "bad login"}, "От 2 до 64 латинских букв"),
    ({"login": "ivan\n"}, "От 2 до 64 латинских букв"),
    ({"login": "admin"}, "Этот логин уже занят."),
    ({"password": "short", "repeat": "short"}, "Пароль должен быть длиной от 10 до 128"),
    ({"repeat": "Something-else-1"}, "Пароли не совпадают."),
    ({"role": "superuser"}, "Выберите одну из предложенных ролей."),
])
def test_create_refuses_bad_input_with_a_message(admin, db_rows, fields, message):
    response = new_user(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert len(db_rows("SELECT 1 FROM users")) == 3
    assert not db_rows("SELECT 1 FROM change_log")


def test_change_role_records_old_and_new(admin, db_rows):
    olga = user_id(db_rows, "olga")
    response = admin.post(f"/users/{olga}/role", {"role": "manager"}, form_page=f"/users/{olga}")
    assert response.status_code == 302
    assert db_rows("SELECT role FROM users WHERE id = %s", (olga,))[0]["role"] == "manager"
    change = db_rows("SELECT * FROM change_log")[0]
    assert change["action"] == "update" and change["object_id"] == "olga"
    assert change["old_value"] == {"login": "olga", "role": "operator"}
    assert change["new_value"] == {"login": "olga", "role": "manager"}


def test_the_last_administrator_keeps_the_role(admin, db_rows):
    me = user_id(db_rows, "admin")
    response = admin.post(f"/users/{me}/role", {"role": "operator"}, form_page=f"/users/{me}")
    assert response.status_code == 400
    assert "последний администратор" in response.get_data(as_text=True)
    assert db_rows("SELECT role FROM users WHERE id = %s", (me,))[0]["role"] == "administrator"
    assert not db_rows("SELECT 1 FROM change_log")


def test_reset_password_never_puts_a_secret_in_the_history(admin, client, db_rows):
    olga = user_id(db_rows, "olga")
    before = db_rows("SELECT password_hash FROM users WHERE id = %s", (olga,))[0]["password_hash"]
    response = admin.post(f"/users/{olga}/password",
                          {"password": "Olga-new-password", "repeat": "Olga-new-password"},
                          form_page=f"/users/{olga}")
    assert response.status_code == 302
    after = db_rows("SELECT password_hash FROM users WHERE id = %s", (olga,))[0]["password_hash"]
    assert check_password_hash(after, "Olga-new-password")
    history = json.dumps(db_rows("SELECT old_value, new_value FROM change_log"))
    for secret in ("Olga-new-password", before, after, "scrypt"):
        assert secret not in history
    assert '"password_changed": true' in history


def test_reset_password_refuses_a_short_one(admin, db_rows):
    olga = user_id(db_rows, "olga")
    response = admin.post(f"/users/{olga}/password", {"password": "short", "repeat": "short"},
                          form_page=f"/users/{olga}")
    assert response.status_code == 400
    assert "Пароль должен быть длиной" in response.get_data(as_text=True)


def test_delete_records_the_old_values(admin, client, db_rows):
    boss = user_id(db_rows, "boss")
    response = admin.post(f"/users/{boss}/delete", form_page="/users/")
    assert response.status_code == 302
    assert not db_rows("SELECT 1 FROM users WHERE login = 'boss'")
    change = db_rows("SELECT * FROM change_log")[0]
    assert change["action"] == "delete" and change["old_value"] == {"login": "boss",
                                                                     "role": "manager"}
    assert change["new_value"] is None
    assert "Пользователь boss удалён." in client.get("/users/").get_data(as_text=True)


def test_nobody_deletes_themselves(admin, client, db_rows):
    me = user_id(db_rows, "admin")
    admin.post(f"/users/{me}/delete", form_page="/users/")
    assert db_rows("SELECT 1 FROM users WHERE login = 'admin'")
    assert "Нельзя удалить самого себя." in client.get("/users/").get_data(as_text=True)


def test_the_last_administrator_is_never_deleted(app, db_rows):
    from admin_web import users
    from admin_web.db import get_db

    with app.app_context():
        conn = get_db()
        admin = users.find_user(conn, login="admin")
        with pytest.raises(users.LastAdministrator), conn.transaction():
            users.delete_user(conn, admin)
    assert db_rows("SELECT 1 FROM users WHERE login = 'admin'")


def test_unknown_user_is_404(admin, client):
    assert client.get("/users/999").status_code == 404


def test_the_login_and_password_rules_are_shown_before_they_are_broken(client, admin):
    form = client.get("/users/new").get_data(as_text=True)
    assert "От 2 до 64 латинских букв, цифр, точек, дефисов или подчёркиваний." in form
    assert "Пароль должен быть длиной от 10 до 128 символов." in form
