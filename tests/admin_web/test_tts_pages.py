"""The Speech synthesis section: settings, the listen test with real engines, the cache."""

import re
from datetime import date
from pathlib import Path

import pytest

from dialplan.configuration import load_configuration
from ivr import phrases, tts
from tests.admin_web.conftest import PASSWORD

DEFAULTS = {"engine": "festival", "festival_voice": "msu_ru_nsh_clunits", "espeak_voice": "ru",
            "yandex_voice": "alena", "yandex_service_account_id": "", "yandex_key_id": "",
            "yandex_folder_id": "", "yandex_private_key_path": ""}
SPEECH = re.compile(r'<audio[^>]* src="(/tts/speech/[0-9a-f]{64}\.wav)"')


@pytest.fixture(autouse=True)
def default_settings(db):
    """The one settings row as a fresh database has it, before and after each test."""
    def reset():
        db.execute("DELETE FROM tts_settings")
        db.execute("INSERT INTO tts_settings (id) VALUES (1)")
    reset()
    yield
    reset()


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


def save(admin, **fields):
    return admin.post("/tts/", {**DEFAULTS, **fields}, form_page="/tts/")


def listen(admin, text="Проверка связи."):
    return admin.post("/tts/listen", {"text": text}, form_page="/tts/")


def settings(db_rows):
    row = db_rows("SELECT * FROM tts_settings")[0]
    return {k: row[k] for k in DEFAULTS}


@pytest.mark.parametrize("login", ["olga", "boss"])
def test_operators_and_managers_get_403(client, auth, login):
    auth.login(login, PASSWORD)
    assert client.get("/tts/").status_code == 403
    assert auth.post("/tts/listen", {"text": "Проверка."}).status_code == 403
    assert auth.post("/tts/cache/clear").status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, db_rows):
    assert client.post("/tts/", data={**DEFAULTS, "engine": "espeak"}).status_code == 400
    assert client.post("/tts/cache/clear").status_code == 400
    assert settings(db_rows) == DEFAULTS


def test_saving_changes_the_row_and_records_old_and_new(client, admin, db_rows):
    response = save(admin, engine="espeak", espeak_voice="ru+f3")
    assert response.status_code == 302
    assert settings(db_rows) == {**DEFAULTS, "engine": "espeak", "espeak_voice": "ru+f3"}
    change = db_rows("SELECT * FROM change_log")[0]
    assert (change["action"], change["object_type"]) == ("update", "tts settings")
    assert (change["old_value"]["engine"], change["new_value"]["engine"]) == ("festival",
                                                                              "espeak")
    assert "Настройки синтеза речи сохранены." in client.get("/tts/").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"festival_voice": "voice;(quit)"}, "Только латинские буквы, цифры и «_»."),
    ({"espeak_voice": "-ru"}, "Латинская буква или цифра"),
    ({"espeak_voice": ""}, "Введите голос."),
    ({"engine": "gtts"}, "Выберите один из движков списка."),
    ({"engine": "yandex"}, "Это нужно для Yandex SpeechKit."),
    ({"yandex_private_key_path": "keys/key.pem"}, "Полный путь, начиная с «/»."),
])
def test_bad_settings_are_refused_with_a_message(admin, db_rows, fields, message):
    response = save(admin, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert settings(db_rows) == DEFAULTS
    assert not db_rows("SELECT 1 FROM change_log")


def test_the_page_shows_the_key_path_never_the_key(client, admin, tmp_path, db_rows):
    key = tmp_path / "authorized_key.json"
    key.write_text('{"private_key": "-----BEGIN PRIVATE KEY-----\\nVERY-SECRET-KEY\\n"}')
    response = save(admin, engine="yandex", yandex_service_account_id="aje123",
                    yandex_key_id="ajekey", yandex_folder_id="b1gfolder",
                    yandex_private_key_path=str(key))
    assert response.status_code == 302
    page = client.get("/tts/").get_data(as_text=True)
    assert str(key) in page and "VERY-SECRET-KEY" not in page
    assert "VERY-SECRET-KEY" not in str(db_rows("SELECT * FROM change_log"))


@pytest.mark.parametrize("engine", ["festival", "espeak"])
def test_listen_says_the_text_with_the_saved_engine_and_plays_it(app, client, admin, engine):
    save(admin, engine=engine)
    page = listen(admin).get_data(as_text=True)
    found = SPEECH.search(page)
    assert found, page
    played = client.get(found.group(1))
    assert played.status_code == 200 and played.mimetype == "audio/wav"
    assert played.data[:4] == b"RIFF"
    cache = app.config["VAR_DIR"] + "/tts-cache"
    assert tts.cache_usage(cache)[0] == 1
    assert "Файлов: 1" in client.get("/tts/").get_data(as_text=True)


def test_a_synthesis_failure_is_shown(admin):
    save(admin, festival_voice="no_such_voice")
    page = listen(admin).get_data(as_text=True)
    assert "Речь не удалось получить:" in page and "Festival" in page
    assert "Festival (голос no_such_voice) не выдал звука" in page  # in Russian, not Python's
    assert not SPEECH.search(page)


def test_listen_needs_a_text(admin):
    response = listen(admin, text="")
    assert response.status_code == 400
    assert "Введите текст." in response.get_data(as_text=True)


def test_clearing_the_cache_keeps_the_speech_of_configured_texts(app, client, admin, db,
                                                                 db_rows):
    kept_text = "Оставайтесь на линии."
    playlist = db.execute("INSERT INTO playlists (name) VALUES ('Ожидание') RETURNING id"
                          ).fetchone()
    db.execute("INSERT INTO playlist_items (playlist_id, kind, text) VALUES (%s, 'tts', %s)",
               (playlist["id"], kept_text))
    save(admin, engine="espeak")
    kept = SPEECH.search(listen(admin, kept_text).get_data(as_text=True)).group(1)
    dropped = SPEECH.search(listen(admin, "Проверка.").get_data(as_text=True)).group(1)
    response = admin.post("/tts/cache/clear", form_page="/tts/")
    assert response.status_code == 302
    assert "Удалено файлов: 1." in client.get("/tts/").get_data(as_text=True)
    assert client.get(kept).status_code == 200
    assert client.get(dropped).status_code == 404
    change = db_rows("SELECT * FROM change_log ORDER BY id")[-1]
    assert (change["action"], change["object_type"], change["old_value"]["files"]) == (
        "delete", "tts cache", 1)


def test_clearing_the_cache_keeps_the_pieces_phrases_with_data_are_said_from(app, admin, db):
    """Without them the first callers after a clean would hear case statuses with holes."""
    save(admin, engine="espeak")
    config = load_configuration(db)
    cache_dir = Path(app.config["VAR_DIR"]) / "tts-cache"
    kept = [phrases.vocabulary(date.today())[0], "пять"]
    for text in kept:
        path = tts.cached_path(text, config.tts, cache_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    assert admin.post("/tts/cache/clear", form_page="/tts/").status_code == 302
    assert all(tts.cached_path(text, config.tts, cache_dir).is_file() for text in kept)


def test_only_cache_file_names_are_served(client, admin):
    assert client.get("/tts/speech/../../secret_key.wav").status_code == 404
    assert client.get("/tts/speech/" + "a" * 64 + ".wav").status_code == 404
