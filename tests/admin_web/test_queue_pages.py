"""The Queues section and the transfer settings: access, create, edit, every refused setting
with its error and nothing stored lost, delete refused while used, the change history."""

import re

import pytest

from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    """The administrator, reading the pages in English (one test reads them in Russian)."""
    auth.login()
    auth.post("/language/en")
    return auth


@pytest.fixture
def office(db):
    """Phones 101, 102, 103, a hold playlist and a recording; ids by name."""
    phones = {number: db.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)"
                                 " RETURNING id", (number, "0" * 32)).fetchone()["id"]
              for number in ("101", "102", "103")}
    playlist = db.execute("INSERT INTO playlists (name) VALUES ('Песня и номер в очереди')"
                          " RETURNING id").fetchone()["id"]
    song = db.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                      " VALUES ('Вивальди', 1000, 16044) RETURNING id").fetchone()["id"]
    return {"phones": phones, "playlist": playlist, "song": song}


def queue_data(office, **changes) -> dict:
    """A full queue form: members 102 then 101, keys 3 -> 90003 and 0 -> '' (end)."""
    data = {"name": "Поддержка", "number": "92000",
            "members-0": str(office["phones"]["102"]), "members-1": str(office["phones"]["101"]),
            "members-2": "",
            "ring_seconds": "20", "ring_at_once": "2", "wrap_up_seconds": "10",
            "sticky": "y", "stop_when_empty": "y", "when_empty_number": "90001",
            "max_wait_seconds": "600", "after_max_wait_number": "90002",
            "playlist_id": str(office["playlist"]),
            "keys-0-key": "3", "keys-0-target": "90003", "keys-1-key": "0", "keys-1-target": "",
            "keys-2-key": "", "keys-2-target": ""}
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def new_queue(admin, office, **changes):
    return admin.post("/queues/new", queue_data(office, **changes), form_page="/queues/new")


def edit_queue(admin, queue_id, office, **changes):
    return admin.post(f"/queues/{queue_id}", queue_data(office, **changes),
                      form_page=f"/queues/{queue_id}")


def page(response) -> str:
    return response.get_data(as_text=True)


def stored(db) -> dict:
    """Everything a queue keeps, and the number of history rows."""
    return {
        "queues": db.execute("SELECT * FROM queues ORDER BY id").fetchall(),
        "members": db.execute("SELECT queue_id, phone_id, position FROM queue_members"
                              " ORDER BY queue_id, position").fetchall(),
        "keys": db.execute("SELECT * FROM queue_keys ORDER BY queue_id, key").fetchall(),
        "history": db.execute("SELECT count(*) AS n FROM change_log").fetchone()["n"]}


@pytest.fixture
def queue(admin, office, db):
    response = new_queue(admin, office)
    assert response.status_code == 302, page(response)
    return db.execute("SELECT id FROM queues").fetchone()["id"]


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/queues/", "/queues/new", "/transfer/"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, office, db):
    assert client.post("/queues/new", data=queue_data(office)).status_code == 400
    assert client.post("/transfer/", data={"music_audio_id": ""}).status_code == 400
    assert db.execute("SELECT count(*) AS n FROM queues").fetchone()["n"] == 0


def test_a_queue_is_created_with_every_setting_and_listed(client, office, queue, db):
    row = db.execute("SELECT * FROM queues").fetchone()
    assert (row["name"], row["number"], row["ring_seconds"], row["ring_at_once"],
            row["wrap_up_seconds"], row["sticky"], row["stop_when_empty"],
            row["when_empty_number"], row["max_wait_seconds"], row["after_max_wait_number"],
            row["playlist_id"]) == ("Поддержка", "92000", 20, 2, 10, True, True, "90001", 600,
                                    "90002", office["playlist"])
    members = db.execute("SELECT p.number FROM queue_members m JOIN phones p"
                         " ON p.id = m.phone_id ORDER BY m.position").fetchall()
    assert [m["number"] for m in members] == ["102", "101"]
    keys = db.execute("SELECT key, target FROM queue_keys ORDER BY key").fetchall()
    assert [(k["key"], k["target"]) for k in keys] == [("0", ""), ("3", "90003")]
    listed = page(client.get("/queues/"))
    for shown in ("92000", "Поддержка", "102, 101", "2 at once", "20 s each",
                  "wrap-up 10 s", "Песня и номер в очереди",
                  'key 3: to 90003 <span class="text-danger">(unknown number)</span>',
                  "key 0: to end of call", "nobody online: to 90001"):
        assert shown in listed
    history = db.execute("SELECT user_login, action, object_type, object_id, new_value"
                         " FROM change_log").fetchall()
    assert [(h["user_login"], h["action"], h["object_type"], h["object_id"])
            for h in history] == [("admin", "create", "queue", "92000")]
    assert history[0]["new_value"] == {
        "name": "Поддержка", "number": "92000", "ring_seconds": 20, "ring_at_once": 2,
        "wrap_up_seconds": 10, "sticky": True, "stop_when_empty": True,
        "when_empty_number": "90001", "max_wait_seconds": 600, "after_max_wait_number": "90002",
        "playlist": "Песня и номер в очереди", "members": ["102", "101"],
        "keys": [{"key": "3", "target": "90003"}, {"key": "0", "target": ""}],
        "callback_key": ""}


def test_the_edit_form_shows_what_is_stored(client, office, queue):
    form = page(client.get(f"/queues/{queue}"))
    assert 'value="Поддержка"' in form and 'value="92000"' in form
    assert f'<option selected value="{office["phones"]["102"]}">' in form.split(
        'name="members-0"')[1].split("</select>")[0]
    assert '<option selected value="2">' in form.split('name="ring_at_once"')[1]
    assert 'value="90003"' in form
    # the sticky operator's help text, the seed's explanation
    assert "never loses their place" in form


def test_an_edit_changes_members_order_ringing_and_keys_with_history(admin, office, queue, db):
    response = edit_queue(admin, queue, office, **{
        "members-0": str(office["phones"]["101"]), "members-1": str(office["phones"]["103"]),
        "ring_at_once": "all", "sticky": None, "max_wait_seconds": "",
        "after_max_wait_number": "", "playlist_id": "", "keys-0-key": "", "keys-0-target": ""})
    assert response.status_code == 302, page(response)
    row = db.execute("SELECT * FROM queues").fetchone()
    assert (row["ring_at_once"], row["sticky"], row["max_wait_seconds"],
            row["playlist_id"]) == (None, False, None, None)
    members = db.execute("SELECT p.number FROM queue_members m JOIN phones p"
                         " ON p.id = m.phone_id ORDER BY m.position").fetchall()
    assert [m["number"] for m in members] == ["101", "103"]
    assert [k["key"] for k in db.execute("SELECT key FROM queue_keys").fetchall()] == ["0"]
    change = db.execute("SELECT action, old_value, new_value FROM change_log"
                        " ORDER BY id DESC LIMIT 1").fetchone()
    assert change["action"] == "update"
    assert (change["old_value"]["members"], change["new_value"]["members"]) == (
        ["102", "101"], ["101", "103"])
    assert (change["old_value"]["ring_at_once"], change["new_value"]["ring_at_once"]) == (2, None)
    assert change["new_value"]["playlist"] is None
    history = page(admin._client.get("/history/"))
    assert "Queue 92000 changed: " in history
    for title, before, after in (("Members ringing at once", "2", "all at once"),
                                 ("Hold playlist", "Песня и номер в очереди", "plain ringing"),
                                 ("Members", "102; 101", "101; 103")):
        assert re.search(rf'<td class="text-secondary">{title}</td>\s*'
                         rf"<td>{before}</td><td>{after}</td>", history), title
    # saving the same form again changes nothing and writes no history
    before = stored(db)
    edit_queue(admin, queue, office, **{
        "members-0": str(office["phones"]["101"]), "members-1": str(office["phones"]["103"]),
        "ring_at_once": "all", "sticky": None, "max_wait_seconds": "",
        "after_max_wait_number": "", "playlist_id": "", "keys-0-key": "", "keys-0-target": ""})
    assert stored(db)["history"] == before["history"]


BAD_INPUTS = {
    "no name": ({"name": ""}, "Enter a title."),
    "a name on two lines": ({"name": "Поддержка\nвторая"}, "No line breaks"),
    "no number": ({"number": ""}, "Enter a number."),
    "a number with a letter": ({"number": "92a00"}, "The number must be 2 to 15 digits."),
    "a number of a phone": ({"number": "101"}, "Number 101 is taken: phone 101."),
    "ring time too short": ({"ring_seconds": "2"}, "Between 3 and 300 seconds."),
    "ring time not a number": ({"ring_seconds": "abc"}, "Between 3 and 300 seconds."),
    "ring time empty": ({"ring_seconds": ""}, "Enter the seconds."),
    "ringing at once not listed": ({"ring_at_once": "0"}, "Choose one of the listed counts."),
    "wrap-up negative": ({"wrap_up_seconds": "-1"}, "Between 0 and 3600 seconds."),
    "maximum wait too short": ({"max_wait_seconds": "5"},
                               "Between 10 and 86400 seconds; empty: no limit."),
    "number when empty not a number": ({"when_empty_number": "90 01"},
                                       "Up to 20 digits, * or #, optionally after a +."),
    "number after waiting not a number": ({"after_max_wait_number": "abc"},
                                          "Up to 20 digits, * or #, optionally after a +."),
    "a playlist not listed": ({"playlist_id": "9999"}, "Choose one of the listed playlists."),
    "a member not listed": ({"members-2": "9999"}, "Choose one of the listed phones."),
    "a member twice": ({"members-2": "phone 102"}, "This phone is listed already."),
    "a key twice": ({"keys-2-key": "3", "keys-2-target": "90009"}, "Key 3 is given already."),
    "a key not listed": ({"keys-2-key": "A", "keys-2-target": "1"},
                         "Choose one of the listed keys."),
    "a target without its key": ({"keys-2-target": "90009"}, "Choose a key for this number."),
    "a key's target not a number": ({"keys-0-target": "90x03"},
                                    "Up to 20 digits, * or #, optionally after a +."),
    "the callback key also sends on": ({"callback_key": "3"},
                                       "Key 3 already sends the caller on."),
    "a callback key not listed": ({"callback_key": "x"}, "Choose one of the listed keys."),
}


@pytest.mark.parametrize("bad", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_each_bad_setting_is_refused_with_its_error_and_nothing_stored_is_lost(
        admin, office, queue, db, bad):
    changes, error = BAD_INPUTS[bad]
    changes = {name: str(office["phones"]["102"]) if value == "phone 102" else value
               for name, value in changes.items()}
    before = stored(db)
    # a good change (the name) in the same form is refused with the bad one
    response = edit_queue(admin, queue, office, **{"name": "Другое имя", **changes})
    assert response.status_code == 400
    assert error in page(response)
    assert stored(db) == before
    # the new queue form refuses it the same way, and stores nothing either
    response = new_queue(admin, office, **{"name": "Вторая", "number": "93000", **changes})
    assert response.status_code == 400
    assert error in page(response)
    assert stored(db) == before


def test_the_refused_form_keeps_what_was_typed(admin, office, queue):
    response = edit_queue(admin, queue, office, name="Новое имя", ring_seconds="2")
    assert 'value="Новое имя"' in page(response)


def test_a_queue_number_is_in_the_numbering_plan(client, admin, office, queue, db):
    menu = db.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()["id"]
    item = db.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                      " VALUES (%s, '90000', 'tts', 'Здравствуйте') RETURNING id",
                      (menu,)).fetchone()["id"]
    form = page(client.get(f"/menus/items/{item}/handlers/new"))
    assert '<option value="92000" label="queue 92000: Поддержка">' in form
    response = admin.post(f"/menus/{menu}/items/new",
                          {"number": "92000", "kind": "tts", "text": "x"},
                          form_page=f"/menus/{menu}/items/new")
    assert "Number 92000 is taken: queue 92000." in page(response)
    response = admin.post("/phones/new", {"number": "92000", "kind": "simple"},
                          form_page="/phones/new")
    assert "Number 92000 is taken: queue 92000." in page(response)


def test_a_queue_that_calls_are_sent_to_is_not_deleted_nor_renumbered(
        client, admin, office, queue, db):
    menu = db.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()["id"]
    item = db.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                      " VALUES (%s, '90000', 'tts', 'Здравствуйте') RETURNING id",
                      (menu,)).fetchone()["id"]
    handler = db.execute("INSERT INTO menu_handlers (item_id, kind, key, target)"
                         " VALUES (%s, 'key', '2', '92000') RETURNING id", (item,)
                         ).fetchone()["id"]
    before = stored(db)
    response = admin.post(f"/queues/{queue}/delete", form_page="/queues/")
    assert response.status_code == 302
    assert ("Queue Поддержка was not deleted: calls are sent to it by menu item 90000 "
            "(handler). Change them first.") in page(client.get(response.headers["Location"]))
    response = edit_queue(admin, queue, office, number="92001")
    assert ("Number 92000 cannot change: calls are sent to it by menu item 90000 (handler)."
            in page(response))
    assert stored(db) == before

    db.execute("DELETE FROM menu_handlers WHERE id = %s", (handler,))
    new_queue(admin, office, name="Вторая", number="93000", **{"keys-0-target": "92000"})
    response = admin.post(f"/queues/{queue}/delete", form_page="/queues/")
    assert ("calls are sent to it by queue Вторая (key while waiting)"
            in page(client.get(response.headers["Location"])))

    second = db.execute("SELECT id FROM queues WHERE number = '93000'").fetchone()["id"]
    response = admin.post(f"/queues/{second}/delete", form_page="/queues/")
    assert "Queue Вторая deleted." in page(client.get(response.headers["Location"]))
    response = admin.post(f"/queues/{queue}/delete", form_page="/queues/")
    assert "Queue Поддержка deleted." in page(client.get(response.headers["Location"]))
    assert stored(db)["queues"] == [] and stored(db)["members"] == []
    deleted = db.execute("SELECT object_id, old_value FROM change_log WHERE action = 'delete'"
                         " ORDER BY id").fetchall()
    assert [d["object_id"] for d in deleted] == ["93000", "92000"]
    assert deleted[1]["old_value"]["members"] == ["102", "101"]


def test_what_a_queue_uses_is_not_deleted_from_under_it(client, admin, office, queue, db):
    response = admin.post(f"/phones/{office['phones']['101']}/delete", form_page="/phones/")
    assert ("Phone 101 was not deleted: calls are sent to it by queue Поддержка (member)."
            in page(client.get(response.headers["Location"])))
    response = admin.post(f"/playlists/{office['playlist']}/delete", form_page="/playlists/")
    assert ("it is played by queue Поддержка"
            in page(client.get(response.headers["Location"])))
    admin.post("/transfer/", {"music_audio_id": str(office["song"])}, form_page="/transfer/")
    response = admin.post(f"/audio/{office['song']}/delete", form_page="/audio/")
    assert "the transfer settings" in page(client.get(response.headers["Location"]))
    assert len(db.execute("SELECT 1 FROM phones").fetchall()) == 3
    assert len(db.execute("SELECT 1 FROM playlists").fetchall()) == 1
    assert len(db.execute("SELECT 1 FROM audio_files").fetchall()) == 1


def test_the_transfer_music_is_chosen_with_history(client, admin, office, db):
    form = page(client.get("/transfer/"))
    assert "Asterisk&#39;s default music" in form and "Вивальди" in form
    response = admin.post("/transfer/", {"music_audio_id": str(office["song"])},
                          form_page="/transfer/")
    assert response.status_code == 302
    assert db.execute("SELECT music_audio_id FROM transfer_settings").fetchone() == {
        "music_audio_id": office["song"]}
    response = admin.post("/transfer/", {"music_audio_id": "9999"}, form_page="/transfer/")
    assert response.status_code == 400
    assert "Choose one of the listed recordings." in page(response)
    admin.post("/transfer/", {"music_audio_id": ""}, form_page="/transfer/")
    assert db.execute("SELECT music_audio_id FROM transfer_settings").fetchone() == {
        "music_audio_id": None}
    history = db.execute("SELECT action, object_type, old_value, new_value FROM change_log"
                         " ORDER BY id").fetchall()
    assert [(h["action"], h["object_type"], h["old_value"], h["new_value"]) for h in history] == [
        ("update", "transfer settings", {"music": ""}, {"music": "Вивальди"}),
        ("update", "transfer settings", {"music": "Вивальди"}, {"music": ""})]


def test_the_pages_read_in_russian(client, auth, office, db):
    auth.login()
    listing = page(client.get("/queues/"))
    assert "Очереди" in listing and "Новая очередь" in listing
    form = page(client.get("/queues/new"))
    for text in ("Участники", "Время вызова участника, секунд", "Одновременно вызываемых",
                 "все сразу", "Время на завершение вызова, секунд",
                 "Давать приоритет повторно обратившемуся абоненту к тому же оператору",
                 "Прекращать ожидание, если никто из участников не в сети",
                 "Максимальное ожидание, секунд", "обычные гудки", "Клавиши во время ожидания"):
        assert text in form, text
    assert "Музыка Asterisk по умолчанию" in page(client.get("/transfer/"))
    assert "Настройки перевода вызовов" in page(client.get("/transfer/"))


def test_a_name_another_queue_has_is_refused(admin, office, queue, db):
    before = stored(db)
    response = new_queue(admin, office, number="93000")
    assert response.status_code == 400
    assert "Another queue has this name." in page(response)
    assert stored(db) == before


def test_a_menu_item_a_queue_sends_calls_to_is_not_deleted(client, admin, office, db):
    menu = db.execute("INSERT INTO menus (name) VALUES ('Main') RETURNING id").fetchone()["id"]
    items = {number: db.execute("INSERT INTO menu_items (menu_id, number, kind, text)"
                                " VALUES (%s, %s, 'tts', 'Здравствуйте') RETURNING id",
                                (menu, number)).fetchone()["id"]
             for number in ("90001", "90002", "90003")}
    new_queue(admin, office)
    for number, use in (("90001", "when no member is online"),
                        ("90002", "after the maximum wait"), ("90003", "key while waiting")):
        response = admin.post(f"/menus/items/{items[number]}/delete", form_page="/menus/")
        assert (f"Menu item {number} was not deleted: calls are sent to it by queue Поддержка "
                f"({use}).") in page(client.get(response.headers["Location"]))
    assert len(db.execute("SELECT 1 FROM menu_items").fetchall()) == 3


def test_the_callback_key_is_stored_shown_and_kept_in_the_history(client, admin, office, queue,
                                                                   db):
    response = edit_queue(admin, queue, office, callback_key="5")
    assert response.status_code == 302, page(response)
    assert db.execute("SELECT callback_key FROM queues").fetchone()["callback_key"] == "5"
    form = page(client.get(f"/queues/{queue}"))
    assert re.search(r'<option selected value="5">5</option>', form), form
    change = db.execute("SELECT old_value, new_value FROM change_log"
                        " ORDER BY id DESC LIMIT 1").fetchone()
    assert (change["old_value"]["callback_key"], change["new_value"]["callback_key"]) == ("", "5")
    response = edit_queue(admin, queue, office, callback_key="")
    assert response.status_code == 302
    assert db.execute("SELECT callback_key FROM queues").fetchone()["callback_key"] == ""
