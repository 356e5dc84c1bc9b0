"""The Cases section: who may see and change, search by phone and number, validation, history."""

import pytest

from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


def new_person(admin, **fields):
    data = {"full_name": "Иванов Иван Петрович", "first_name": "Иван Петрович",
            "phone": "+7 (999) 000-00-01", **fields}
    return admin.post("/cases/persons/new", data, form_page="/cases/persons/new")


def new_case(admin, **fields):
    data = {"number": "19-03-2044", "person_id": "1", "service": "Загранпаспорт",
            "status": "готово к выдаче", "is_open": "y", "filed_on": "2024-03-19", **fields}
    return admin.post("/cases/new", data, form_page="/cases/new")


def test_operators_get_403(client, auth):
    auth.login("olga", PASSWORD)
    for url in ("/cases/", "/cases/new", "/cases/persons/new"):
        assert client.get(url).status_code == 403


def test_managers_see_and_search_but_do_not_change(client, auth, admin, db_rows):
    new_person(admin)
    new_case(admin)
    auth.logout()
    auth.login("boss", PASSWORD)
    page = client.get("/cases/").get_data(as_text=True)
    assert "Иванов Иван Петрович" in page and "19-03-2044" in page
    assert "/cases/new" not in page and "/delete" not in page
    for url in ("/cases/new", "/cases/1", "/cases/persons/new", "/cases/persons/1"):
        assert client.get(url).status_code == 403
    assert auth.post("/cases/1/delete", form_page="/").status_code == 403
    assert db_rows("SELECT 1 FROM cases")


def test_a_post_without_csrf_token_is_refused(client, admin, db_rows):
    response = client.post("/cases/persons/new", data={"full_name": "X", "phone": "101"})
    assert response.status_code == 400
    assert not db_rows("SELECT 1 FROM persons")


def test_a_phone_is_stored_normalized_and_found_in_any_form(client, admin, db_rows):
    assert new_person(admin).status_code == 302
    new_case(admin)
    new_case(admin, number="20-01-2045", status="в работе", filed_on="2024-04-01")
    assert db_rows("SELECT phone FROM persons") == [{"phone": "79990000001"}]
    for query in ("89990000001", "+7 999 000 00 01", "9990000001"):
        page = client.get("/cases/", query_string={"q": query}).get_data(as_text=True)
        assert "Иванов Иван Петрович" in page, query
        assert "19-03-2044" in page and "20-01-2045" in page, query
    page = client.get("/cases/", query_string={"q": "79990000002"}).get_data(as_text=True)
    assert "Никого не найдено." in page and "Дел не найдено." in page


def test_a_case_is_found_by_its_number_or_its_beginning(client, admin):
    new_person(admin)
    new_case(admin)
    new_case(admin, number="20-01-2045", person_id="")
    client.get("/cases/")  # shows the messages of the saves
    page = client.get("/cases/", query_string={"q": "19-03"}).get_data(as_text=True)
    assert "19-03-2044" in page and "20-01-2045" not in page
    page = client.get("/cases/", query_string={"q": "%"}).get_data(as_text=True)
    assert "19-03-2044" not in page


def test_changes_are_recorded(admin, db_rows):
    new_person(admin)
    new_case(admin)
    admin.post("/cases/1", {"number": "19-03-2044", "person_id": "1", "service": "Загранпаспорт",
                            "status": "выдано", "filed_on": "2024-03-19"}, form_page="/cases/1")
    admin.post("/cases/persons/1", {"full_name": "Иванов Иван Петрович", "first_name": "Иван",
                                    "phone": "101"}, form_page="/cases/persons/1")
    case = db_rows("SELECT status, is_open FROM cases")[0]
    assert case == {"status": "выдано", "is_open": False}
    assert db_rows("SELECT phone FROM persons")[0]["phone"] == "101"
    changes = db_rows("SELECT action, object_type, object_id, old_value, new_value"
                      " FROM change_log ORDER BY id")
    assert [(c["action"], c["object_type"]) for c in changes] == [
        ("create", "person"), ("create", "case"), ("update", "case"), ("update", "person")]
    assert changes[2]["object_id"] == "19-03-2044"
    assert (changes[2]["old_value"]["status"], changes[2]["new_value"]["status"]) == (
        "готово к выдаче", "выдано")
    assert changes[1]["new_value"]["filed_on"] == "2024-03-19"
    assert changes[1]["new_value"]["person"] == "Иванов Иван Петрович (79990000001)"


@pytest.mark.parametrize("fields, message", [
    ({"phone": "звоните"}, "Это не номер телефона"),
    ({"phone": "12"}, "Это не номер телефона"),
    ({"full_name": ""}, "Введите полное имя."),
    ({"full_name": "Иванов\nИван"}, "Без переводов строки и управляющих символов."),
])
def test_a_bad_person_is_refused_with_a_message(admin, db_rows, fields, message):
    response = new_person(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM persons")


@pytest.mark.parametrize("fields, message", [
    ({"number": "19--03"}, "Группы цифр через «-»"),
    ({"number": "A-19"}, "Группы цифр через «-»"),
    ({"number": ""}, "Введите номер дела."),
    ({"status": ""}, "Введите статус."),
    ({"filed_on": "2024-02-30"}, "Введите правильную дату."),
    ({"filed_on": "вчера"}, "Введите правильную дату."),
    ({"person_id": "999"}, "Выберите человека из списка."),
])
def test_a_bad_case_is_refused_with_a_message(admin, db_rows, fields, message):
    new_person(admin)
    response = new_case(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM cases")


def test_case_numbers_are_unique(admin, db_rows):
    new_person(admin)
    new_case(admin)
    page = new_case(admin).get_data(as_text=True)
    assert "Такой номер уже есть у другого дела." in page
    assert len(db_rows("SELECT 1 FROM cases")) == 1


def test_deleting_a_person_keeps_their_cases(client, admin, db_rows):
    new_person(admin)
    new_case(admin)
    assert admin.post("/cases/persons/1/delete", form_page="/cases/").status_code == 302
    assert not db_rows("SELECT 1 FROM persons")
    assert db_rows("SELECT person_id FROM cases") == [{"person_id": None}]
    admin.post("/cases/1/delete", form_page="/cases/")
    assert not db_rows("SELECT 1 FROM cases")
    deletes = db_rows("SELECT object_type, old_value FROM change_log WHERE action = 'delete'"
                      " ORDER BY id")
    assert [d["object_type"] for d in deletes] == ["person", "case"]
    assert deletes[0]["old_value"]["cases"] == ["19-03-2044"]  # left without a person
    assert deletes[1]["old_value"]["person"] is None


def test_a_person_id_that_is_no_number_is_refused_with_a_message(admin, db_rows):
    response = new_case(admin, person_id="²")
    assert response.status_code == 400
    assert db_rows("SELECT 1 FROM cases") == []


def test_a_person_deleted_before_the_case_is_saved_gives_a_message(admin, db, db_rows,
                                                                   monkeypatch):
    from flask import request

    from admin_web import case_pages

    new_person(admin)
    case_form = case_pages._case_form

    def listed_then_deleted_by_someone_else(data=None):
        form = case_form(data)
        if request.method == "POST":
            db.execute("DELETE FROM persons")
        return form

    monkeypatch.setattr(case_pages, "_case_form", listed_then_deleted_by_someone_else)
    response = new_case(admin)
    assert response.status_code == 400
    assert db_rows("SELECT 1 FROM cases") == []


def test_saving_a_person_deleted_meanwhile_says_so(admin, db, db_rows, monkeypatch):
    from admin_web import case_pages

    new_person(admin)
    person_id = db_rows("SELECT id FROM persons")[0]["id"]
    read = case_pages._person_or_404

    def read_then_deleted_by_someone_else(row_id):
        row = read(row_id)
        db.execute("DELETE FROM persons WHERE id = %s", (row_id,))
        return row

    monkeypatch.setattr(case_pages, "_person_or_404", read_then_deleted_by_someone_else)
    response = admin.post(f"/cases/persons/{person_id}",
                          {"full_name": "Петров", "first_name": "", "phone": "101"},
                          form_page="/cases/persons/new")
    assert response.status_code == 404
    assert db_rows("SELECT 1 FROM change_log WHERE action = 'update'") == []


def test_a_search_too_long_to_be_a_phone_or_case_number_is_explained(client, admin):
    new_person(admin)
    response = client.get("/cases/", query_string={"q": "1" * 61})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Не более 60 символов." in page
    assert "Иванов Иван Петрович" in page  # the latest rows stay on the page
