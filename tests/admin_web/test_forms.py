"""Rules every form shares: whole-value patterns, ids from selects, no NUL in a request."""

import re
from types import SimpleNamespace

import pytest
from wtforms.fields.choices import SelectChoice

from admin_web.forms import chosen_id, listed_id, whole


@pytest.mark.parametrize("value", ["90000\n", "\n90000", "9000a", ""])
def test_a_whole_pattern_refuses_a_final_line_break(value):
    assert re.match(whole(r"[0-9]{2,15}"), value) is None


def test_a_whole_pattern_keeps_alternatives_together():
    assert re.match(whole("a|b"), "ab") is None
    assert re.match(whole("a|b"), "b")


@pytest.mark.parametrize("value, expected", [("12", 12), ("", None), (None, None), ("²", None),
                                             ("١", None), ("-1", None), (" 1", None)])
def test_chosen_id_reads_ascii_digits_only(value, expected):
    assert chosen_id(value) == expected


@pytest.mark.parametrize("value, expected", [("9" * 10_000, None), (str(2**31), None),
                                             ("9" * 20, None), (str(2**31 - 1), 2**31 - 1)])
def test_chosen_id_refuses_a_number_no_row_id_can_be(value, expected):
    assert chosen_id(value) == expected


@pytest.mark.parametrize("value, expected", [("3", 3), ("03", 3), ("4", None), ("", None),
                                             ("²", None)])
def test_listed_id_takes_only_an_id_the_select_listed(value, expected):
    select = SimpleNamespace(data=value, choices=[SelectChoice("", "—"),
                                                  SelectChoice("3", "Roxette")])
    assert listed_id(select) == expected


@pytest.fixture
def admin(auth):
    auth.login()
    auth.post("/language/en")
    return auth


def test_a_nul_character_in_a_form_is_refused_and_nothing_is_stored(admin, db_rows):
    response = admin.post("/playlists/new", {"name": "При\x00вет", "mode": "in_order"},
                          form_page="/playlists/new")
    assert response.status_code == 400
    assert db_rows("SELECT name FROM playlists") == []


def test_a_nul_character_in_a_search_is_refused(client, admin):
    assert client.get("/cases/?q=12%00").status_code == 400


def test_a_line_break_after_a_number_is_refused_with_a_message(client, admin, db_rows):
    admin.post("/menus/new", {"name": "Main"}, form_page="/menus/new")
    menu_id = db_rows("SELECT id FROM menus")[0]["id"]
    response = admin.post(f"/menus/{menu_id}/items/new",
                          {"number": "90000\n", "kind": "tts", "text": "Здравствуйте."},
                          form_page=f"/menus/{menu_id}/items/new")
    assert "The number must be 2 to 15 digits." in response.get_data(as_text=True)
    response = admin.post("/phones/new", {"number": "101\n", "kind": "simple"},
                          form_page="/phones/new")
    assert "The number must be 2 to 15 digits." in response.get_data(as_text=True)
    assert db_rows("SELECT 1 FROM menu_items") == db_rows("SELECT 1 FROM phones") == []


def test_a_line_break_at_the_end_of_a_title_is_refused(admin, db_rows):
    response = admin.post("/playlists/new", {"name": "Ожидание\n", "mode": "in_order"},
                          form_page="/playlists/new")
    assert "No line breaks or control characters." in response.get_data(as_text=True)
    assert db_rows("SELECT name FROM playlists") == []
