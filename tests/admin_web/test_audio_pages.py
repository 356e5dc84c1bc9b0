"""The Audio section: uploads of real audio made with sox, refusals, the player, deletion."""

import subprocess
import wave
from pathlib import Path

import pytest

from admin_web import audio_pages
from ivr import audio
from tests.admin_web.conftest import PASSWORD, csrf_token


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


@pytest.fixture
def sounds(tmp_path):
    """One second of a tone as a 44.1 kHz stereo WAV and as an MP3, made by sox."""
    folder = tmp_path / "sounds"
    folder.mkdir()
    made = {}
    for kind in ("wav", "mp3"):
        made[kind] = folder / f"tone.{kind}"
        subprocess.run(["sox", "-n", "-r", "44100", "-c", "2", str(made[kind]),
                        "synth", "1", "sine", "440"], check=True)
    return made


def upload(client, path, name="Мелодия", filename=None):
    with path.open("rb") as f:
        return client.post("/audio/new", data={
            "name": name, "file": (f, filename or path.name),
            "csrf_token": csrf_token(client, "/audio/new")},
            content_type="multipart/form-data")


def audio_dir(app):
    """The app's audio library folder (its settings' audio_dir)."""
    return Path(app.config["VAR_DIR"]) / "audio"


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/audio/", "/audio/new", "/audio/1.wav"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_an_upload_without_csrf_token_is_refused(client, admin, sounds, db_rows):
    with sounds["wav"].open("rb") as f:
        response = client.post("/audio/new", data={"name": "x", "file": (f, "tone.wav")},
                               content_type="multipart/form-data")
    assert response.status_code == 400
    assert not db_rows("SELECT 1 FROM audio_files")


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_an_upload_is_converted_for_asterisk_listed_played_and_recorded(
        app, client, admin, sounds, db_rows, kind):
    response = upload(client, sounds[kind], filename=f"Tone.{kind}")
    assert response.status_code == 302
    row = db_rows("SELECT * FROM audio_files")[0]
    assert (row["name"], row["original_name"]) == ("Мелодия", f"Tone.{kind}")
    assert 900 <= row["duration_ms"] <= 1200
    stored = audio_dir(app) / f"{row['id']}.wav"
    with wave.open(str(stored)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
    assert row["size_bytes"] == stored.stat().st_size
    page = client.get("/audio/").get_data(as_text=True)
    assert "Мелодия" in page and f'src="/audio/{row["id"]}.wav"' in page
    played = client.get(f"/audio/{row['id']}.wav")
    assert played.status_code == 200 and played.mimetype == "audio/wav"
    assert played.data == stored.read_bytes()
    change = db_rows("SELECT * FROM change_log")[0]
    assert (change["action"], change["object_type"], change["object_id"]) == (
        "create", "audio file", "Мелодия")
    assert change["new_value"]["duration_ms"] == row["duration_ms"]


def test_a_renamed_text_file_is_refused_and_leaves_nothing(app, client, admin, tmp_path,
                                                           db_rows):
    fake = tmp_path / "song.mp3"
    fake.write_text("Это не музыка, а список покупок.\n" * 20)
    response = upload(client, fake)
    assert response.status_code == 400
    assert "Файл не в формате MP3, WAV, OGG или FLAC." in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM audio_files")
    assert not db_rows("SELECT 1 FROM change_log")
    assert not list(audio_dir(app).iterdir())


def test_an_empty_name_and_a_missing_file_are_refused(client, admin, sounds, db_rows):
    page = upload(client, sounds["wav"], name="").get_data(as_text=True)
    assert "Введите название." in page
    page = client.post("/audio/new", data={"name": "x",
                                           "csrf_token": csrf_token(client, "/audio/new")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "Выберите файл." in page
    assert not db_rows("SELECT 1 FROM audio_files")


def test_a_taken_name_is_refused_and_the_first_file_kept(app, client, admin, sounds, db_rows):
    upload(client, sounds["wav"])
    before = (audio_dir(app) / "1.wav").read_bytes()
    response = upload(client, sounds["mp3"])
    assert "Такое название уже есть у другой записи." in response.get_data(as_text=True)
    assert len(db_rows("SELECT 1 FROM audio_files")) == 1
    assert (audio_dir(app) / "1.wav").read_bytes() == before
    assert sorted(p.name for p in audio_dir(app).iterdir()) == ["1.wav"]


def test_a_body_over_the_limit_gets_a_clear_413(app, client, admin, sounds, db_rows):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = upload(client, sounds["wav"])
    assert response.status_code == 413
    assert "Файл слишком большой" in response.get_data(as_text=True)
    assert not db_rows("SELECT 1 FROM audio_files")


def test_the_app_limits_request_bodies_to_the_largest_upload():
    from admin_web import create_app
    app = create_app({"TESTING": True, "DATABASE_URL": "postgresql:///unused",
                      "SECRET_KEY": "x"})
    assert audio.MAX_UPLOAD_BYTES < app.config["MAX_CONTENT_LENGTH"] \
        <= audio.MAX_UPLOAD_BYTES + 1024 * 1024


def test_every_refusal_reason_is_translated():
    assert set(audio_pages.REASON_TITLES) == set(audio.REASONS)


def test_delete_is_refused_while_a_menu_item_or_a_playlist_plays_the_file(
        app, client, admin, sounds, db, db_rows):
    upload(client, sounds["wav"])
    menu = db.execute("INSERT INTO menus (name) VALUES ('Главное') RETURNING id").fetchone()
    db.execute("INSERT INTO menu_items (menu_id, number, kind, audio_id)"
               " VALUES (%s, '91000', 'audio', 1)", (menu["id"],))
    playlist = db.execute("INSERT INTO playlists (name) VALUES ('Ожидание') RETURNING id"
                          ).fetchone()
    db.execute("INSERT INTO playlist_items (playlist_id, kind, audio_id)"
               " VALUES (%s, 'audio', 1)", (playlist["id"],))
    response = admin.post("/audio/1/delete", form_page="/audio/")
    assert response.status_code == 302
    page = client.get("/audio/").get_data(as_text=True)
    assert "Запись Мелодия не удалена" in page
    assert "пункт меню 91000" in page and "плейлист Ожидание" in page
    assert db_rows("SELECT 1 FROM audio_files") and (audio_dir(app) / "1.wav").exists()
    assert [r["action"] for r in db_rows("SELECT action FROM change_log")] == ["create"]


def test_delete_removes_the_row_and_the_file_and_is_recorded(app, client, admin, sounds,
                                                             db_rows):
    upload(client, sounds["wav"])
    assert admin.post("/audio/1/delete", form_page="/audio/").status_code == 302
    assert not db_rows("SELECT 1 FROM audio_files")
    assert not (audio_dir(app) / "1.wav").exists()
    change = db_rows("SELECT * FROM change_log ORDER BY id")[-1]
    assert (change["action"], change["old_value"]["name"]) == ("delete", "Мелодия")
    assert client.get("/audio/1.wav").status_code == 404


def test_delete_without_csrf_token_is_refused(client, admin, sounds, db_rows):
    upload(client, sounds["wav"])
    assert client.post("/audio/1/delete").status_code == 400
    assert db_rows("SELECT 1 FROM audio_files")
