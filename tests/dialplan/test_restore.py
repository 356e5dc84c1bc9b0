"""A rollback brings the configuration back: the tables, the ids, the history, then Apply.

The real test database and the recording fake Asterisk of test_apply.py;
each test builds a configuration, applies it, changes it, applies again and
rolls back to the first revision.  The real Asterisk, SIPp and the admin's
pages are in tests/admin_web/test_rollback_asterisk.py.
"""

from __future__ import annotations

import asyncio

import pytest
from psycopg.rows import dict_row

from dialplan import apply as applying
from dialplan.apply import ApplyFailed, ApplyRefused, NothingToRestore, rollback
from dialplan.configuration import load_configuration, sip_digest
from dialplan.render import render_all
from dialplan.restore import restore_configuration
from tests.dialplan.conftest import add_line, add_phone
from tests.dialplan.test_apply import FakeAsterisk
from tests.dialplan.test_apply_menus import _clear_menus, add_item, add_menu
from fastagi.settings import Settings


def quiet(texts, tts, cache_dir):
    """A speech engine that says everything (speech is not what these tests are about)."""
    return []


@pytest.fixture
def setup(config_db, tmp_path, monkeypatch):
    monkeypatch.setattr(applying, "RELOAD_SETTLE_SECONDS", 0)
    _clear_menus(config_db)
    config_db.execute("DELETE FROM change_log")
    config_db.execute("UPDATE tts_settings SET engine = 'festival'")
    include = tmp_path / "include"
    settings = Settings(var_dir=tmp_path)
    settings.audio_dir.mkdir(parents=True)
    yield config_db, FakeAsterisk(include), settings, include
    _clear_menus(config_db)
    config_db.execute("UPDATE tts_settings SET engine = 'festival'")


def do_apply(setup, who="admin"):
    conn, asterisk, settings, include = setup
    return asyncio.run(applying.apply_configuration(conn, asterisk, settings, who,
                                                    include_dir=include, presynthesize=quiet))


def do_rollback(setup, revision_id, who="chief"):
    conn, asterisk, settings, include = setup
    return asyncio.run(rollback(conn, asterisk, settings, revision_id, who, include_dir=include,
                                presynthesize=quiet))


def add_audio(conn, settings, name) -> int:
    audio_id = conn.execute("INSERT INTO audio_files (name, original_name, duration_ms,"
                            " size_bytes) VALUES (%s, %s, 1500, 4) RETURNING id",
                            (name, f"{name}.mp3")).fetchone()[0]
    (settings.audio_dir / f"{audio_id}.wav").write_bytes(b"RIFF")
    return audio_id


def build_first(conn, settings) -> dict:
    """Every kind of object: phones, a line, audio, a playlist, menus, items, handlers, TTS,
    a queue with members and keys, the transfer music."""
    add_phone(conn, "201", "first-201", "Reception")
    add_phone(conn, "202", "first-202")
    add_line(conn, "prov1", "10.0.0.9", outbound_regex="^9[0-9]+$", reg_username="u1",
             reg_password="provider-secret")
    hello = add_audio(conn, settings, "hello")
    music = conn.execute("INSERT INTO playlists (name) VALUES ('Wait') RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, audio_id)"
                 " VALUES (%s, 0, 'audio', %s)", (music, hello))
    conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, text)"
                 " VALUES (%s, 1, 'tts', 'Ждите')", (music,))
    main = add_menu(conn, "Main")
    root = add_item(conn, main, "90000", "tts", ("key", "1", "91000"), ("key", "2", "92000"),
                    ("timeout", 10, "91000"), text="Здравствуйте. Нажмите единицу.")
    first = add_item(conn, main, "91000", "audio", audio_id=hello)
    second = add_item(conn, main, "92000", "playlist", playlist_id=music)
    conn.execute("UPDATE tts_settings SET engine = 'espeak', espeak_voice = 'ru'")
    queue = conn.execute("INSERT INTO queues (name, number, ring_at_once, sticky, playlist_id)"
                         " VALUES ('Support', '93000', 2, true, %s) RETURNING id",
                         (music,)).fetchone()[0]
    conn.execute("INSERT INTO queue_members (queue_id, phone_id, position)"
                 " SELECT %s, id, CASE number WHEN '202' THEN 0 ELSE 1 END FROM phones", (queue,))
    conn.execute("INSERT INTO queue_keys (queue_id, key, target) VALUES (%s, '3', '90000')",
                 (queue,))
    conn.execute("UPDATE transfer_settings SET music_audio_id = %s", (hello,))
    return {"hello": hello, "music": music, "main": main, "root": root, "first": first,
            "second": second, "queue": queue}


def change_everything(conn, settings, ids) -> None:
    """The later configuration: a phone gone, one changed, numbers traded, a new menu..."""
    conn.execute("DELETE FROM queue_members")
    conn.execute("DELETE FROM phones WHERE number = '202'")
    conn.execute("UPDATE phones SET number = '203', md5_cred = %s, description = 'Desk'"
                 " WHERE number = '201'", (sip_digest("203", "later"),))
    add_phone(conn, "201", "later-201")
    conn.execute("UPDATE lines SET host = '10.0.0.10', reg_password = 'later-secret'")
    add_line(conn, "prov2", "10.0.0.11")
    bye = add_audio(conn, settings, "bye")
    conn.execute("UPDATE audio_files SET name = 'hello-old' WHERE id = %s", (ids["hello"],))
    conn.execute("DELETE FROM playlist_items")
    conn.execute("INSERT INTO playlist_items (playlist_id, kind, audio_id) VALUES (%s, 'audio', %s)",
                 (ids["music"], bye))
    conn.execute("UPDATE playlists SET mode = 'random'")
    # Items trade numbers, one plays the new recording, the root's handlers change.
    conn.execute("UPDATE menu_items SET number = '99999' WHERE id = %s", (ids["first"],))
    conn.execute("UPDATE menu_items SET number = '91000' WHERE id = %s", (ids["second"],))
    conn.execute("UPDATE menu_items SET number = '92000', audio_id = %s WHERE id = %s",
                 (bye, ids["first"]))
    conn.execute("DELETE FROM menu_handlers WHERE kind = 'timeout'")
    conn.execute("UPDATE menu_handlers SET target = '92000' WHERE key = '1'")
    conn.execute("UPDATE menus SET name = 'Main (old)'")
    later = add_menu(conn, "Later")
    add_item(conn, later, "95000", "audio", ("key", "0", "90000"), audio_id=bye)
    conn.execute("UPDATE tts_settings SET engine = 'festival'")
    # The queue is renumbered, takes the new 201 only, plays nothing, has another key;
    # a second queue takes the first one's name (phone 203 answers it); the transfer
    # plays the new recording.
    conn.execute("UPDATE queues SET name = 'Support (old)', number = '93001',"
                 " ring_at_once = NULL, playlist_id = NULL")
    conn.execute("INSERT INTO queue_members (queue_id, phone_id)"
                 " SELECT %s, id FROM phones WHERE number = '201'", (ids["queue"],))
    conn.execute("UPDATE queue_keys SET key = '#', target = ''")
    second = conn.execute("INSERT INTO queues (name, number, playlist_id)"
                          " VALUES ('Support', '94000', %s) RETURNING id",
                          (ids["music"],)).fetchone()[0]
    conn.execute("INSERT INTO queue_members (queue_id, phone_id)"
                 " SELECT %s, id FROM phones WHERE number = '203'", (second,))
    conn.execute("UPDATE transfer_settings SET music_audio_id = %s", (bye,))


def rows(conn, query, *params):
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def test_a_rollback_restores_every_kind_of_object_with_its_ids(setup):
    conn, asterisk, settings, include = setup
    ids = build_first(conn, settings)
    first = do_apply(setup)
    change_everything(conn, settings, ids)
    second = do_apply(setup)
    assert load_configuration(conn) != first.configuration

    back = do_rollback(setup, first.id)

    restored = load_configuration(conn)
    assert restored == first.configuration  # ids, passwords, handlers, the engine: all of it
    assert back.configuration == first.configuration
    assert back.rollback_of == first.id and back.active and back.id > second.id
    # Asterisk serves the earlier configuration, rendered as the new revision.
    assert back.files == render_all(settings, first.configuration, revision=back.id)
    assert asterisk.served == back.files
    assert "[202]" in back.files["pjsip_telecenter_internal.conf"]
    assert "[203]" not in back.files["pjsip_telecenter_internal.conf"]
    # Columns the snapshot does not hold: kept where the row stayed, defaulted where it came back.
    hello = rows(conn, "SELECT name, original_name, size_bytes FROM audio_files WHERE id = %s",
                 ids["hello"])
    assert hello == [{"name": "hello", "original_name": "hello.mp3", "size_bytes": 4}]
    assert rows(conn, "SELECT position, kind FROM playlist_items ORDER BY position") == [
        {"position": 0, "kind": "audio"}, {"position": 1, "kind": "tts"}]
    # The next new rows do not collide with the ids brought back.
    add_phone(conn, "204", "pw")
    menu = add_menu(conn, "Next")
    assert menu > ids["main"]
    assert add_item(conn, menu, "96000", "tts", text="x") > max(ids["root"], ids["second"])
    # And the next Apply keeps what the rollback restored (only the new rows are new).
    conn.execute("DELETE FROM phones WHERE number = '204'")
    conn.execute("DELETE FROM menus WHERE id = %s", (menu,))
    assert do_apply(setup).configuration == first.configuration


def test_the_change_history_says_what_the_rollback_changed(setup):
    conn, asterisk, settings, include = setup
    ids = build_first(conn, settings)
    first = do_apply(setup)
    change_everything(conn, settings, ids)
    do_apply(setup)
    conn.execute("DELETE FROM change_log")

    do_rollback(setup, first.id, who="chief")

    log = rows(conn, "SELECT user_login, action, object_type, object_id, old_value, new_value"
                     " FROM change_log ORDER BY id")
    assert {r["user_login"] for r in log} == {"chief"}
    assert {r["action"] for r in log} == {"rollback"}
    by_object = {(r["object_type"], r["object_id"]): r for r in log}
    assert set(by_object) == {
        ("tts settings", ""), ("phone", "201"), ("phone", "202"), ("line", "prov1"),
        ("line", "prov2"), ("audio file", "hello"), ("audio file", "bye"),
        ("playlist", "Wait"), ("menu", "Main"), ("menu", "Later"), ("menu item", "90000"),
        ("menu item", "91000"), ("menu item", "92000"), ("menu item", "95000"),
        ("queue", "93000"), ("queue", "94000"), ("transfer settings", ""),
        ("revision", str(first.id + 2))}
    assert by_object[("tts settings", "")]["old_value"]["engine"] == "festival"
    assert by_object[("tts settings", "")]["new_value"]["engine"] == "espeak"
    # 202 comes back; the later phone 201 (another row) goes, the first 201 comes back from 203.
    assert by_object[("phone", "202")]["old_value"] is None
    assert by_object[("phone", "202")]["new_value"] == {"number": "202", "kind": "simple",
                                                        "description": ""}
    reception = [r for r in log if r["object_id"] == "201" and r["new_value"]]
    assert reception[0]["old_value"]["number"] == "203"
    assert reception[0]["new_value"] == {"number": "201", "kind": "simple",
                                         "description": "Reception", "password_changed": True}
    assert by_object[("line", "prov2")]["new_value"] is None
    line = by_object[("line", "prov1")]
    assert (line["old_value"]["host"], line["new_value"]["host"]) == ("10.0.0.10", "10.0.0.9")
    assert line["old_value"]["reg_password"] == line["new_value"]["reg_password"] == "***"
    root = by_object[("menu item", "90000")]
    assert [h["target"] for h in root["old_value"]["handlers"]] == ["92000", "92000"]
    assert root["new_value"]["handlers"] == [
        {"item": "90000", "kind": "key", "key": "1", "target": "91000"},
        {"item": "90000", "kind": "key", "key": "2", "target": "92000"},
        {"item": "90000", "kind": "timeout", "seconds": 10, "target": "91000"}]
    assert by_object[("menu item", "91000")]["new_value"]["audio"] == "hello"
    assert by_object[("menu item", "95000")]["new_value"] is None
    queue = by_object[("queue", "93000")]
    assert (queue["old_value"]["number"], queue["old_value"]["members"],
            queue["old_value"]["playlist"], queue["old_value"]["keys"]) == (
        "93001", ["201"], None, [{"key": "#", "target": ""}])
    assert queue["new_value"] == {
        "name": "Support", "number": "93000", "ring_seconds": 15, "ring_at_once": 2,
        "wrap_up_seconds": 0, "sticky": True, "stop_when_empty": False, "when_empty_number": "",
        "max_wait_seconds": None, "after_max_wait_number": "", "playlist": "Wait",
        "members": ["202", "201"], "keys": [{"key": "3", "target": "90000"}],
        "callback_key": ""}
    assert by_object[("queue", "94000")]["new_value"] is None
    transfer = by_object[("transfer settings", "")]
    assert (transfer["old_value"], transfer["new_value"]) == ({"music": "bye"},
                                                             {"music": "hello"})
    assert "secret" not in str(log) and sip_digest("201", "first-201") not in str(log)


def test_a_rollback_to_a_revision_whose_recording_is_gone_is_refused_and_changes_nothing(setup):
    conn, asterisk, settings, include = setup
    ids = build_first(conn, settings)
    first = do_apply(setup)
    conn.execute("UPDATE menu_items SET kind = 'tts', audio_id = NULL, text = 'x'"
                 " WHERE id = %s", (ids["first"],))
    conn.execute("DELETE FROM playlist_items WHERE audio_id IS NOT NULL")
    conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")
    conn.execute("DELETE FROM audio_files")  # as the Audio page does: the recording goes too
    (settings.audio_dir / f"{ids['hello']}.wav").unlink()
    second = do_apply(setup)
    before, log_before = load_configuration(conn), rows(conn, "SELECT id FROM change_log")
    calls = len(asterisk.calls)

    with pytest.raises(ApplyRefused) as refused:
        do_rollback(setup, first.id)

    errors = [str(p) for p in refused.value.problems if p.is_error]
    assert errors and all(f"audio file 'hello' (id {ids['hello']}) has no recording on disk"
                          in error for error in errors), errors
    assert load_configuration(conn) == before
    assert rows(conn, "SELECT id FROM change_log") == log_before
    assert len(asterisk.calls) == calls
    assert applying.active_revision(conn).id == second.id


def test_a_rollback_asterisk_rejects_leaves_the_database_as_it_was(setup):
    conn, asterisk, settings, include = setup
    ids = build_first(conn, settings)
    first = do_apply(setup)
    change_everything(conn, settings, ids)
    second = do_apply(setup)
    before = load_configuration(conn)
    log_before = rows(conn, "SELECT id FROM change_log")
    asterisk.reject_next = 1

    with pytest.raises(ApplyFailed, match="reload refused.*previous files are back"):
        do_rollback(setup, first.id)

    assert load_configuration(conn) == before
    assert rows(conn, "SELECT id FROM change_log") == log_before
    assert applying.active_revision(conn).id == second.id
    assert asterisk.served == second.files
    # The ids were not moved either: the next rollback still works and restores them.
    assert do_rollback(setup, first.id).configuration == first.configuration


def test_a_revision_without_a_stored_configuration_is_refused(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "201", "pw")
    first = do_apply(setup)
    conn.execute("UPDATE revisions SET configuration = NULL WHERE id = %s", (first.id,))
    add_phone(conn, "202", "pw")
    do_apply(setup)
    before = load_configuration(conn)
    with pytest.raises(NothingToRestore, match=f"revision {first.id} was stored before"):
        do_rollback(setup, first.id)
    assert load_configuration(conn) == before


def test_restoring_the_same_configuration_changes_nothing(setup):
    conn, asterisk, settings, include = setup
    build_first(conn, settings)
    config = load_configuration(conn)
    with conn.transaction():
        assert restore_configuration(conn, config, "chief", settings.audio_dir) == 0
    assert load_configuration(conn) == config
    assert rows(conn, "SELECT id FROM change_log") == []


def test_queues_that_traded_names_numbers_and_members_are_restored(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "201", "pw")
    add_phone(conn, "202", "pw")
    for name, number, member in (("Sales", "93000", "201"), ("Support", "94000", "202")):
        queue = conn.execute("INSERT INTO queues (name, number) VALUES (%s, %s) RETURNING id",
                             (name, number)).fetchone()[0]
        conn.execute("INSERT INTO queue_members (queue_id, phone_id)"
                     " SELECT %s, id FROM phones WHERE number = %s", (queue, member))
    config = load_configuration(conn)
    conn.execute("UPDATE queues SET name = 'x-' || name, number = number || '1'")
    conn.execute("UPDATE queues SET name = CASE name WHEN 'x-Sales' THEN 'Support'"
                 " ELSE 'Sales' END, number = CASE number WHEN '930001' THEN '94000'"
                 " ELSE '93000' END")
    conn.execute("DELETE FROM queue_members")
    conn.execute("DELETE FROM phones WHERE number = '202'")
    with conn.transaction():
        assert restore_configuration(conn, config, "chief", settings.audio_dir) == 3
    assert load_configuration(conn) == config
