"""The Voice menus section: access, CSRF, validation, targets shown, refusals, history rows."""

import re

import pytest

from admin_web.menu_pages import SCENARIO_TITLES, menu_tree, sequence_pattern_error
from dialplan.configuration import Configuration, Handler, MenuItem
from ivr.scenarios import SCENARIOS
from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    """The administrator, reading the pages in English (one test reads them in Russian)."""
    auth.login()
    auth.post("/language/en")
    return auth


def new_menu(admin, name="Main menu"):
    return admin.post("/menus/new", {"name": name}, form_page="/menus/new")


def new_item(admin, menu_id, **fields):
    data = {"number": "90000", "kind": "tts", "text": "Здравствуйте. Нажмите один.",
            "audio_id": "", "playlist_id": "", "scenario": "", **fields}
    return admin.post(f"/menus/{menu_id}/items/new", data, form_page=f"/menus/{menu_id}/items/new")


def new_handler(admin, item_id, **fields):
    data = {"kind": "key", "key": "1", "seconds": "", "pattern": "", "target": "", "position": "",
            **fields}
    return admin.post(f"/menus/items/{item_id}/handlers/new", data,
                      form_page=f"/menus/items/{item_id}/handlers/new")


@pytest.fixture
def menu(admin, db_rows):
    """A menu with items 90000 (key 1 -> 91000) and 91000, built through the pages."""
    new_menu(admin)
    menu_id = db_rows("SELECT id FROM menus")[0]["id"]
    new_item(admin, menu_id)
    new_item(admin, menu_id, number="91000", text="Вы во втором пункте.")
    items = {r["number"]: r["id"] for r in db_rows("SELECT id, number FROM menu_items")}
    new_handler(admin, items["90000"], key="1", target="91000")
    return {"id": menu_id, "items": items}


def page(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/menus/", "/menus/new"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_item_and_handler_pages_are_refused_to_an_operator(client, auth, menu):
    auth.logout()
    auth.login("olga", PASSWORD)
    for url in (f"/menus/{menu['id']}", f"/menus/items/{menu['items']['90000']}",
                f"/menus/items/{menu['items']['90000']}/handlers/new"):
        assert client.get(url).status_code == 403
    assert auth.post(f"/menus/items/{menu['items']['91000']}/delete").status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, menu, db_rows):
    assert client.post("/menus/new", data={"name": "Other"}).status_code == 400
    response = client.post(f"/menus/{menu['id']}/items/new",
                           data={"number": "92000", "kind": "tts", "text": "Текст"})
    assert response.status_code == 400
    response = client.post(f"/menus/items/{menu['items']['91000']}/delete")
    assert response.status_code == 400
    assert [r["name"] for r in db_rows("SELECT name FROM menus")] == ["Main menu"]
    assert len(db_rows("SELECT 1 FROM menu_items")) == 2


def test_a_menu_is_built_and_shown_with_numbers_and_target_hints(client, menu, db_rows):
    text = page(client.get("/menus/"))
    assert "Main menu" in text and "90000" in text and "91000" in text
    assert "Здравствуйте. Нажмите один." in text
    shown = page(client.get(f"/menus/{menu['id']}"))
    assert "menu item 91000" in shown  # what the target of key 1 is
    handler = db_rows("SELECT * FROM menu_handlers")[0]
    assert (handler["kind"], handler["key"], handler["target"]) == ("key", "1", "91000")
    history = db_rows("SELECT user_login, action, object_type, object_id, new_value"
                      " FROM change_log ORDER BY id")
    assert [(h["action"], h["object_type"], h["object_id"]) for h in history] == [
        ("create", "menu", "Main menu"), ("create", "menu item", "90000"),
        ("create", "menu item", "91000"), ("create", "menu handler", "90000")]
    assert history[1]["new_value"] == {"menu": "Main menu", "number": "90000", "kind": "tts",
                                       "text": "Здравствуйте. Нажмите один."}
    assert history[3]["new_value"] == {"item": "90000", "kind": "key", "key": "1",
                                       "target": "91000", "position": 1}
    assert all(h["user_login"] == "admin" for h in history)


def test_the_menu_page_shows_the_tree_from_the_first_item(client, menu):
    tree = page(client.get(f"/menus/{menu['id']}")).split('id="menu-tree"')[1]
    assert tree.index("90000") < tree.index("key 1") < tree.index("91000")


def test_a_target_that_is_nothing_is_shown_as_unknown(client, admin, menu):
    new_handler(admin, menu["items"]["91000"], key="5", target="55555")
    assert "unknown number" in page(client.get(f"/menus/{menu['id']}"))


def test_an_item_number_taken_by_a_phone_is_refused(client, admin, menu, db):
    db.execute("INSERT INTO phones (number, md5_cred) VALUES ('92000', %s)", ("0" * 32,))
    response = new_item(admin, menu["id"], number="92000")
    assert "Number 92000 is taken: phone 92000." in page(response)
    response = new_item(admin, menu["id"], number="91000")
    assert "Number 91000 is taken: menu item 91000." in page(response)
    response = new_item(admin, menu["id"], number="99999")
    assert "Number 99999 is taken" in page(response)
    assert len(db.execute("SELECT 1 FROM menu_items").fetchall()) == 2


@pytest.mark.parametrize("fields, message", [
    ({"number": "9a"}, "The number must be 2 to 15 digits."),
    ({"kind": "tts", "text": "  "}, "Enter the text to speak."),
    ({"kind": "audio", "audio_id": ""}, "Choose an audio file."),
    ({"kind": "playlist", "playlist_id": "7"}, "Choose a playlist."),
    ({"kind": "scenario", "scenario": "format_disk"}, "Choose one of the listed scenarios."),
    ({"kind": "video"}, "Choose one of the listed types."),
])
def test_bad_items_are_refused_with_a_message(admin, menu, db, fields, message):
    response = new_item(admin, menu["id"], **{"number": "93000", **fields})
    assert response.status_code == 400
    assert message in page(response)
    assert not db.execute("SELECT 1 FROM menu_items WHERE number = '93000'").fetchall()


def test_a_scenario_item_keeps_only_the_scenario(admin, menu, db_rows):
    new_item(admin, menu["id"], number="93000", kind="scenario", scenario="callback",
             text="ignored")
    row = db_rows("SELECT kind, scenario, text FROM menu_items WHERE number = '93000'")[0]
    assert row == {"kind": "scenario", "scenario": "callback", "text": ""}


def test_scenarios_are_offered_with_russian_titles(client, admin, menu):
    with client.session_transaction() as session:
        session["language"] = "ru"
    text = page(client.get(f"/menus/{menu['id']}/items/new"))
    assert 'value="case_status"' in text and "Статус дела" in text
    assert set(SCENARIO_TITLES) == set(SCENARIOS)  # every scenario, and only those, offered


@pytest.mark.parametrize("fields, message", [
    ({"kind": "sequence", "pattern": "[0-9"},
     "Error in the regex at position 1: unclosed square bracket."),
    ({"kind": "sequence", "pattern": "[0-9]*"}, "matches the empty sequence: it must need at least one key"),
    ({"kind": "sequence", "pattern": ""}, "Enter a regex."),
    ({"kind": "key", "key": ""}, "Choose a key."),
    ({"kind": "key", "key": "1"}, "Key 1 already has a handler in this item."),
    ({"kind": "key", "key": "A"}, "Choose one of the listed keys."),
    ({"kind": "timeout", "seconds": ""}, "Enter the seconds."),
    ({"kind": "timeout", "seconds": "0"}, "Between 1 and 600 seconds."),
    ({"kind": "key", "key": "2", "target": "12;Hangup"}, "Up to 20 digits"),
])
def test_bad_handlers_are_refused_with_a_message(admin, menu, db, fields, message):
    response = new_handler(admin, menu["items"]["90000"], **fields)
    assert response.status_code == 400
    assert message in page(response)
    assert len(db.execute("SELECT 1 FROM menu_handlers").fetchall()) == 1


def test_only_one_timeout_handler_per_item(admin, menu, db):
    new_handler(admin, menu["items"]["90000"], kind="timeout", seconds="10", target="91000")
    response = new_handler(admin, menu["items"]["90000"], kind="timeout", seconds="20")
    assert "This item already has a timeout handler." in page(response)
    assert db.execute("SELECT seconds FROM menu_handlers WHERE kind = 'timeout'"
                      ).fetchall() == [{"seconds": 10}]


def test_a_sequence_handler_with_a_good_regex_is_saved(admin, menu, db_rows):
    new_handler(admin, menu["items"]["90000"], kind="sequence", pattern=r"\*[0-9]+#",
                target="91000")
    row = db_rows("SELECT kind, pattern, key, seconds, position FROM menu_handlers"
                  " WHERE kind = 'sequence'")[0]
    assert row == {"kind": "sequence", "pattern": r"\*[0-9]+#", "key": "", "seconds": None,
                   "position": 2}


def test_deleting_an_item_that_a_handler_targets_is_refused_naming_it(client, admin, menu,
                                                                        db_rows):
    response = admin.post(f"/menus/items/{menu['items']['91000']}/delete",
                          form_page=f"/menus/{menu['id']}")
    assert response.status_code == 302
    text = page(client.get(response.headers["Location"]))
    assert "Menu item 91000 was not deleted" in text and "menu item 90000 (handler)" in text
    assert len(db_rows("SELECT 1 FROM menu_items")) == 2
    assert not db_rows("SELECT 1 FROM change_log WHERE action = 'delete'")


def test_an_item_targeted_only_by_itself_is_deleted_with_its_handlers(admin, menu, db_rows):
    new_handler(admin, menu["items"]["91000"], key="0", target="91000")  # "again"
    handler = db_rows("SELECT id FROM menu_handlers WHERE target = '91000' AND key = '1'")[0]
    admin.post(f"/menus/handlers/{handler['id']}/delete",
               form_page=f"/menus/items/{menu['items']['90000']}")
    admin.post(f"/menus/items/{menu['items']['91000']}/delete", form_page=f"/menus/{menu['id']}")
    assert [r["number"] for r in db_rows("SELECT number FROM menu_items")] == ["90000"]
    assert not db_rows("SELECT 1 FROM menu_handlers")
    deleted = db_rows("SELECT object_type, object_id, old_value FROM change_log"
                      " WHERE action = 'delete' ORDER BY id")
    assert [(d["object_type"], d["object_id"]) for d in deleted] == [
        ("menu handler", "90000"), ("menu item", "91000")]
    assert deleted[1]["old_value"]["handlers"] == [
        {"item": "91000", "kind": "key", "key": "0", "target": "91000", "position": 1}]


def test_renumbering_a_targeted_item_is_refused(admin, menu, db_rows):
    response = admin.post(f"/menus/items/{menu['items']['91000']}",
                          {"number": "91001", "kind": "tts", "text": "Другой текст"},
                          form_page=f"/menus/items/{menu['items']['91000']}")
    assert response.status_code == 400
    assert "Number 91000 cannot change: calls are sent to it by menu item 90000 (handler)." \
        in page(response)
    assert db_rows("SELECT number, text FROM menu_items WHERE id = %s",
                   (menu["items"]["91000"],)) == [{"number": "91000",
                                                   "text": "Вы во втором пункте."}]


def test_editing_an_item_and_a_handler_is_recorded(admin, menu, db_rows):
    admin.post(f"/menus/items/{menu['items']['91000']}",
               {"number": "91000", "kind": "tts", "text": "Новый текст"},
               form_page=f"/menus/items/{menu['items']['91000']}")
    handler = db_rows("SELECT id FROM menu_handlers")[0]["id"]
    admin.post(f"/menus/handlers/{handler}", {"kind": "key", "key": "2", "target": "91000",
                                              "position": "1"},
               form_page=f"/menus/handlers/{handler}")
    assert db_rows("SELECT key FROM menu_handlers") == [{"key": "2"}]
    updates = db_rows("SELECT object_type, old_value, new_value FROM change_log"
                      " WHERE action = 'update' ORDER BY id")
    assert updates[0]["old_value"]["text"] == "Вы во втором пункте."
    assert updates[0]["new_value"]["text"] == "Новый текст"
    assert (updates[1]["object_type"], updates[1]["old_value"]["key"],
            updates[1]["new_value"]["key"]) == ("menu handler", "1", "2")


def test_a_menu_is_renamed_and_deleted_with_its_items(client, admin, menu, db_rows):
    admin.post(f"/menus/{menu['id']}/rename", {"name": "Главное меню"},
               form_page=f"/menus/{menu['id']}/rename")
    assert db_rows("SELECT name FROM menus") == [{"name": "Главное меню"}]
    response = admin.post(f"/menus/{menu['id']}/delete", form_page=f"/menus/{menu['id']}")
    assert response.headers["Location"].endswith("/menus/")
    assert not db_rows("SELECT 1 FROM menus") and not db_rows("SELECT 1 FROM menu_items")
    deleted = db_rows("SELECT object_id, old_value FROM change_log WHERE action = 'delete'")[0]
    assert deleted["object_id"] == "Главное меню"
    assert [i["number"] for i in deleted["old_value"]["items"]] == ["90000", "91000"]


def test_a_menu_whose_item_another_menu_targets_is_not_deleted(client, admin, menu, db_rows):
    new_menu(admin, "Second")
    second = db_rows("SELECT id FROM menus WHERE name = 'Second'")[0]["id"]
    new_item(admin, second, number="95000")
    item = db_rows("SELECT id FROM menu_items WHERE number = '95000'")[0]["id"]
    new_handler(admin, item, key="9", target="90000")
    response = admin.post(f"/menus/{menu['id']}/delete", form_page=f"/menus/{menu['id']}")
    assert "menu item 95000 (handler)" in page(client.get(response.headers["Location"]))
    assert len(db_rows("SELECT 1 FROM menus")) == 2


def test_a_duplicate_menu_name_is_refused(admin, menu, db_rows):
    response = new_menu(admin, "Main menu")
    assert response.status_code == 400
    assert "Another menu has this name." in page(response)
    assert len(db_rows("SELECT 1 FROM menus")) == 1


def test_sequence_pattern_rule():
    assert sequence_pattern_error(r"\*[0-9]*#") is None
    assert sequence_pattern_error("(") is not None
    assert sequence_pattern_error("1?") is not None


def test_menu_tree_shows_each_item_once_and_names_other_targets():
    items = (MenuItem(1, 1, "90000", "tts", text="a", handlers=(
                 Handler("key", "91000", key="1"), Handler("key", "90000", key="0"),
                 Handler("timeout", "", seconds=5))),
             MenuItem(2, 1, "91000", "tts", text="b", handlers=(Handler("key", "777", key="1"),)))
    tree = menu_tree(Configuration(menu_items=items), "90000")
    labels = [label for label, _ in tree.branches]
    assert labels == ["key 1", "key 0", "timeout 5 s"]
    first, again, timeout = (node for _, node in tree.branches)
    assert first.item.number == "91000" and not first.repeat
    assert again.repeat and timeout.hint.text == "hang up"
    assert first.branches[0][1].hint.known is False


def test_an_audio_file_deleted_before_the_item_is_saved_gives_a_message(
        admin, menu, db, db_rows, monkeypatch):
    from admin_web import menu_pages

    audio_id = db.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                          " VALUES ('Приветствие', 1000, 16044) RETURNING id").fetchone()["id"]
    names = menu_pages._names

    def listed_then_deleted_by_someone_else(conn):
        listed = names(conn)
        db.execute("DELETE FROM audio_files")
        return listed

    monkeypatch.setattr(menu_pages, "_names", listed_then_deleted_by_someone_else)
    response = new_item(admin, menu["id"], number="92000", kind="audio", audio_id=str(audio_id))
    assert "Choose an audio file." in page(response)
    assert db_rows("SELECT 1 FROM menu_items WHERE number = '92000'") == []


def test_saving_a_handler_deleted_meanwhile_says_so(admin, menu, db, db_rows, monkeypatch):
    from admin_web import menu_pages

    handler_id = db_rows("SELECT id FROM menu_handlers")[0]["id"]
    read = menu_pages._handler_or_404

    def read_then_deleted_by_someone_else(row_id):
        row = read(row_id)
        db.execute("DELETE FROM menu_handlers WHERE id = %s", (row_id,))
        return row

    monkeypatch.setattr(menu_pages, "_handler_or_404", read_then_deleted_by_someone_else)
    response = admin.post(f"/menus/handlers/{handler_id}",
                          {"kind": "key", "key": "2", "target": "91000", "position": "1"},
                          form_page="/menus/new")
    assert response.status_code == 404
    assert "Someone else deleted this while you were changing it." in page(response)
    assert db_rows("SELECT 1 FROM change_log WHERE object_type = 'menu handler'"
                   " AND action = 'update'") == []


def test_handlers_are_listed_by_key_with_the_timeout_last(client, admin, menu, db_rows):
    """Made in the order timeout, 0, #, sequence, 2: listed 1 2 0 #, the sequence, timeout."""
    item = menu["items"]["90000"]
    for fields in ({"kind": "timeout", "seconds": "10", "target": "91000"},
                   {"key": "0"}, {"key": "#"},
                   {"kind": "sequence", "pattern": r"\*[0-9]+#", "target": "91000"},
                   {"key": "2", "target": "91000"}):
        assert new_handler(admin, item, **fields).status_code == 302
    expected = ["key 1", "key 2", "key 0", "key #", r"sequence \*[0-9]+#", "timeout 10 s"]

    def listed(text: str, start: str) -> list[str]:
        text = text[text.index(start):]
        found = [(text.find(label), label) for label in expected]
        assert all(at >= 0 for at, _label in found), text
        return [label for _at, label in sorted(found)]

    assert listed(page(client.get(f"/menus/items/{item}")), 'id="item-handlers"') == expected
    assert listed(page(client.get(f"/menus/{menu['id']}")), 'id="menu-items"') == expected
    assert listed(page(client.get("/menus/")), "90000") == expected


def test_menu_tree_lists_branches_in_handler_order():
    item = MenuItem(1, 1, "90000", "tts", text="Меню", handlers=(
        Handler("timeout", "", seconds=5), Handler("key", "", key="#"),
        Handler("sequence", "", pattern="[0-9]+#"), Handler("key", "", key="3")))
    tree = menu_tree(Configuration(menu_items=(item,)), "90000")
    assert [label for label, _node in tree.branches] == [
        "key 3", "key #", "sequence [0-9]+#", "timeout 5 s"]


def test_the_target_field_offers_every_number_with_its_owner(client, admin, menu, db):
    db.execute("INSERT INTO phones (number, md5_cred, description)"
               " VALUES ('101', repeat('0', 32), 'Reception desk')")
    text = page(client.get(f"/menus/items/{menu['items']['90000']}/handlers/new"))
    assert 'list="numbering-plan"' in text
    datalist = text[text.index('<datalist id="numbering-plan">'):]
    datalist = datalist[:datalist.index("</datalist>")]
    options = re.findall(r'<option value="([^"]+)" label="([^"]+)">', datalist)
    assert ("101", "phone 101: Reception desk") in options
    assert ("90000", "menu item 90000, menu Main menu") in options
    assert ("91000", "menu item 91000, menu Main menu") in options
    assert [number for number, _label in options] == sorted(
        (number for number, _label in options), key=lambda n: (len(n), n))


def test_field_rules_are_shown_before_they_are_broken(client, admin, menu):
    item_page = page(client.get(f"/menus/{menu['id']}/items/new"))
    assert "The number must be 2 to 15 digits. Calling this number" in item_page
    handler_page = page(client.get(f"/menus/items/{menu['items']['90000']}/handlers/new"))
    assert "Between 1 and 600 seconds." in handler_page
    assert "Up to 20 digits, * or #, optionally after a +." in handler_page
    refused = new_item(admin, menu["id"], number="9")
    assert refused.status_code == 400
    assert "The number must be 2 to 15 digits." in page(refused)
