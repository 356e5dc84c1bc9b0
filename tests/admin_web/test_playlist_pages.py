"""The Playlists section: access, CSRF, items added, moved and removed, validation, history."""

import pytest

from tests.admin_web.conftest import PASSWORD


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


@pytest.fixture
def song(db):
    """A recording in the library (its file is not needed by these pages)."""
    return db.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                      " VALUES ('Roxette', 1000, 16044) RETURNING id").fetchone()["id"]


def new_playlist(admin, name="Ожидание", mode="in_order"):
    return admin.post("/playlists/new", {"name": name, "mode": mode}, form_page="/playlists/new")


def add_item(admin, playlist_id, kind, audio_id="", text=""):
    url = f"/playlists/{playlist_id}"
    return admin.post(f"{url}/items", {"kind": kind, "audio_id": audio_id, "text": text},
                      form_page=url)


def items(db_rows, playlist_id=1):
    return [(r["kind"], r["audio_id"], r["text"]) for r in db_rows(
        "SELECT kind, audio_id, text FROM playlist_items WHERE playlist_id = %s"
        " ORDER BY position", (playlist_id,))]


def item_ids(db_rows, playlist_id=1):
    return [r["id"] for r in db_rows("SELECT id FROM playlist_items WHERE playlist_id = %s"
                                     " ORDER BY position", (playlist_id,))]


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/playlists/", "/playlists/new"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, db_rows):
    assert client.post("/playlists/new", data={"name": "x", "mode": "random"}).status_code == 400
    new_playlist(admin)
    assert client.post("/playlists/1/items", data={"kind": "greeting"}).status_code == 400
    assert db_rows("SELECT name FROM playlists") == [{"name": "Ожидание"}]
    assert not items(db_rows)


def test_create_then_edit_name_and_mode_with_history(client, admin, db_rows):
    response = new_playlist(admin)
    assert response.status_code == 302 and response.headers["Location"] == "/playlists/1"
    assert "Ожидание" in client.get("/playlists/").get_data(as_text=True)
    response = admin.post("/playlists/1", {"name": "Музыка", "mode": "random"},
                          form_page="/playlists/1")
    assert response.status_code == 302
    assert db_rows("SELECT name, mode FROM playlists") == [{"name": "Музыка", "mode": "random"}]
    changes = db_rows("SELECT action, old_value, new_value FROM change_log ORDER BY id")
    assert [c["action"] for c in changes] == ["create", "update"]
    assert (changes[1]["old_value"]["mode"], changes[1]["new_value"]["mode"]) == (
        "in_order", "random")


@pytest.mark.parametrize("fields, message", [
    ({"name": ""}, "Введите название."),
    ({"name": "x" * 101}, "Не более 100 символов."),
    ({"mode": "loud"}, "Выберите один из режимов списка."),
])
def test_create_refuses_bad_input_with_a_message(admin, db_rows, fields, message):
    response = admin.post("/playlists/new", {"name": "Ожидание", "mode": "in_order", **fields},
                          form_page="/playlists/new")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM playlists")


def test_names_are_unique(admin, db_rows):
    new_playlist(admin)
    page = new_playlist(admin).get_data(as_text=True)
    assert "Такое название уже есть у другого плейлиста." in page
    assert len(db_rows("SELECT 1 FROM playlists")) == 1


def test_items_of_every_kind_are_added_in_order_and_shown(client, admin, song, db_rows):
    new_playlist(admin)
    for kind, audio_id, text in (("queue_position", "", ""), ("audio", str(song), ""),
                                 ("tts", "", "Пожалуйста, оставайтесь на линии."),
                                 ("greeting", "", "ignored"), ("estimated_wait", "", "")):
        assert add_item(admin, 1, kind, audio_id, text).status_code == 302
    assert items(db_rows) == [("queue_position", None, ""), ("audio", song, ""),
                              ("tts", None, "Пожалуйста, оставайтесь на линии."),
                              ("greeting", None, ""), ("estimated_wait", None, "")]
    page = client.get("/playlists/").get_data(as_text=True)
    for shown in ("Позиция в очереди", "Запись: Roxette", "Пожалуйста, оставайтесь на линии.",
                  "Приветствие по имени", "Примерное время ожидания"):
        assert shown in page
    change = db_rows("SELECT old_value, new_value FROM change_log ORDER BY id")[-1]
    assert len(change["old_value"]["items"]) == 4
    assert change["new_value"]["items"][1] == {"kind": "audio", "audio": "Roxette"}


@pytest.mark.parametrize("kind, audio_id, text, message", [
    ("tts", "", "   ", "Введите текст, который нужно сказать."),
    ("audio", "", "", "Выберите запись."),
    ("audio", "999", "", "Выберите запись."),
    ("music", "", "", "Выберите один из элементов списка."),
])
def test_an_item_without_what_it_needs_is_refused(admin, db_rows, kind, audio_id, text,
                                                  message):
    new_playlist(admin)
    response = add_item(admin, 1, kind, audio_id, text)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not items(db_rows)


def test_items_move_up_and_down_and_are_removed(admin, song, db_rows):
    new_playlist(admin)
    add_item(admin, 1, "queue_position")
    add_item(admin, 1, "audio", str(song))
    add_item(admin, 1, "greeting")
    first, second, third = item_ids(db_rows)
    assert admin.post(f"/playlists/1/items/{third}/up", form_page="/playlists/1"
                      ).status_code == 302
    assert item_ids(db_rows) == [first, third, second]
    admin.post(f"/playlists/1/items/{first}/down", form_page="/playlists/1")
    assert item_ids(db_rows) == [third, first, second]
    changes = len(db_rows("SELECT 1 FROM change_log"))
    admin.post(f"/playlists/1/items/{third}/up", form_page="/playlists/1")  # already first
    admin.post(f"/playlists/1/items/{second}/down", form_page="/playlists/1")  # already last
    assert item_ids(db_rows) == [third, first, second]
    assert len(db_rows("SELECT 1 FROM change_log")) == changes  # nothing changed, no history
    admin.post(f"/playlists/1/items/{first}/delete", form_page="/playlists/1")
    assert item_ids(db_rows) == [third, second]
    assert [r["position"] for r in db_rows("SELECT position FROM playlist_items"
                                           " ORDER BY position")] == [0, 1]
    change = db_rows("SELECT old_value, new_value FROM change_log ORDER BY id")[-1]
    assert [i["kind"] for i in change["old_value"]["items"]] == [
        "greeting", "queue_position", "audio"]
    assert [i["kind"] for i in change["new_value"]["items"]] == ["greeting", "audio"]


def test_an_item_of_another_playlist_is_404(admin, db_rows):
    new_playlist(admin)
    new_playlist(admin, "Другой")
    add_item(admin, 2, "greeting")
    item = item_ids(db_rows, 2)[0]
    assert admin.post(f"/playlists/1/items/{item}/delete", form_page="/playlists/1"
                      ).status_code == 404
    assert item_ids(db_rows, 2) == [item]


def test_delete_is_refused_while_a_menu_item_plays_the_playlist(client, admin, db, db_rows):
    new_playlist(admin)
    add_item(admin, 1, "greeting")
    menu = db.execute("INSERT INTO menus (name) VALUES ('Главное') RETURNING id").fetchone()
    db.execute("INSERT INTO menu_items (menu_id, number, kind, playlist_id)"
               " VALUES (%s, '92000', 'playlist', 1)", (menu["id"],))
    admin.post("/playlists/1/delete", form_page="/playlists/")
    page = client.get("/playlists/").get_data(as_text=True)
    assert "Плейлист Ожидание не удалён" in page and "пункт меню 92000" in page
    assert db_rows("SELECT 1 FROM playlists")
    db.execute("DELETE FROM menu_items")
    admin.post("/playlists/1/delete", form_page="/playlists/")
    assert not db_rows("SELECT 1 FROM playlists") and not items(db_rows)
    change = db_rows("SELECT * FROM change_log ORDER BY id")[-1]
    assert (change["action"], change["old_value"]["items"]) == ("delete", [{"kind": "greeting"}])


def test_a_recording_id_that_is_no_number_is_refused_with_a_message(admin, db_rows):
    new_playlist(admin)
    response = add_item(admin, 1, "audio", audio_id="²")
    assert response.status_code == 400
    assert "Выберите запись" in response.get_data(as_text=True)
    assert items(db_rows) == []


def test_saving_a_playlist_deleted_meanwhile_says_so(admin, db, db_rows, monkeypatch):
    from admin_web import playlist_pages

    new_playlist(admin)
    read = playlist_pages._playlist_or_404

    def read_then_deleted_by_someone_else(playlist_id, lock=False):
        row = read(playlist_id, lock)
        db.execute("DELETE FROM playlists WHERE id = %s", (playlist_id,))
        return row

    monkeypatch.setattr(playlist_pages, "_playlist_or_404", read_then_deleted_by_someone_else)
    response = admin.post("/playlists/1", {"name": "Новое", "mode": "random"},
                          form_page="/playlists/new")
    assert response.status_code == 404
    assert "Nothing was saved" in response.get_data(as_text=True) \
        or "Ничего не сохранено" in response.get_data(as_text=True)
    assert db_rows("SELECT 1 FROM change_log WHERE action = 'update'") == []
