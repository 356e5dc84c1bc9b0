"""Apply with voice menus on the test database: validation refuses, fixed texts are spoken first.

Asterisk is the recording fake of test_apply.py; the speech engine is a
recording presynthesizer, except in the one test that uses the real one.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import date

import pytest

from dialplan import apply as applying
from dialplan.apply import AmiAsterisk, ApplyRefused, apply_configuration
from dialplan.configuration import load_configuration
from dialplan.validate import WARNING
from fastagi.ami import AmiError
from fastagi.settings import Settings
from ivr import phrases
from ivr.speaker import presynthesize_for_calls
from ivr.tts import cache_usage, cached_path
from tests.dialplan.conftest import add_phone
from tests.dialplan.test_apply import FakeAsterisk


def _clear_menus(conn) -> None:
    conn.execute("DELETE FROM queues")  # they play playlists
    conn.execute("UPDATE transfer_settings SET music_audio_id = NULL")  # it plays a recording
    conn.execute("DELETE FROM menus")  # items and handlers go with them
    conn.execute("DELETE FROM playlists")
    conn.execute("DELETE FROM audio_files")


@pytest.fixture
def setup(config_db, tmp_path, monkeypatch):
    monkeypatch.setattr(applying, "RELOAD_SETTLE_SECONDS", 0)
    _clear_menus(config_db)
    include = tmp_path / "include"
    yield config_db, FakeAsterisk(include), Settings(var_dir=tmp_path), include
    _clear_menus(config_db)


class RecordingPresynthesizer:
    """Records what it was asked to say and whether the include files existed then."""

    def __init__(self, include, fails=()):
        self.include = include
        self.fails = dict(fails)
        self.calls = []

    def __call__(self, texts, tts, cache_dir):
        written = sorted(p.name for p in self.include.iterdir()) if self.include.exists() else []
        self.calls.append((list(texts), tts, cache_dir, written))
        return [(text, reason) for text, reason in self.fails.items() if text in texts]


def add_menu(conn, name="Main") -> int:
    return conn.execute("INSERT INTO menus (name) VALUES (%s) RETURNING id", (name,)).fetchone()[0]


def add_item(conn, menu_id, number, kind="tts", *handlers, **columns) -> int:
    columns = {"menu_id": menu_id, "number": number, "kind": kind, **columns}
    item_id = conn.execute(
        f"INSERT INTO menu_items ({', '.join(columns)})"
        f" VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
        list(columns.values())).fetchone()[0]
    for position, (kind_, value, target) in enumerate(handlers):
        column = {"key": "key", "timeout": "seconds", "sequence": "pattern"}[kind_]
        conn.execute(f"INSERT INTO menu_handlers (item_id, kind, {column}, target, position)"
                     " VALUES (%s, %s, %s, %s, %s)", (item_id, kind_, value, target, position))
    return item_id


def do_apply(setup, presynthesize):
    conn, asterisk, settings, include = setup
    return asyncio.run(apply_configuration(conn, asterisk, settings, "admin", include_dir=include,
                                           presynthesize=presynthesize))


def test_fixed_texts_are_spoken_before_the_files_are_written(setup):
    conn, asterisk, settings, include = setup
    menu = add_menu(conn)
    add_item(conn, menu, "90000", "tts", ("key", "1", "90001"), ("key", "2", "90002"),
             text="Здравствуйте! Нажмите 1.")
    add_item(conn, menu, "90001", "scenario", scenario="repeat_digits")
    playlist = conn.execute("INSERT INTO playlists (name) VALUES ('wait') RETURNING id"
                            ).fetchone()[0]
    conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, text) VALUES"
                 " (%s, 0, 'tts', 'Пожалуйста, подождите.'), (%s, 1, 'queue_position', '')",
                 (playlist, playlist))
    add_item(conn, menu, "90002", "playlist", playlist_id=playlist)
    speaker = RecordingPresynthesizer(include,
                                      fails={"Пожалуйста, подождите.": "festival: no voice"})

    revision = do_apply(setup, speaker)

    [(texts, tts, cache_dir, written_then)] = speaker.calls
    assert texts == ["Здравствуйте! Нажмите 1.", "Пожалуйста, подождите."]
    assert tts == load_configuration(conn).tts and cache_dir == settings.tts_cache_dir
    assert written_then == []  # nothing was in the include dir yet
    plan = json.loads((include / "telecenter_ivr.json").read_text())
    assert plan["revision"] == revision.id and sorted(plan["items"]) == ["90000", "90001", "90002"]
    # A text no engine could say does not refuse the Apply: it is a warning with its place.
    assert [(w.severity, w.where, w.message) for w in revision.warnings] == [
        (WARNING, "playlist 'wait', item 1", "no speech engine could say this text now"
         " (festival: no voice): callers will hear that the message is unavailable until one"
         " can")]
    assert conn.execute("SELECT id FROM revisions WHERE active").fetchone()[0] == revision.id


def test_menu_errors_refuse_the_apply_and_keep_the_active_revision(setup):
    conn, asterisk, settings, include = setup
    add_phone(conn, "101", "pw")
    speaker = RecordingPresynthesizer(include)
    good = do_apply(setup, speaker)
    asterisk.calls.clear()
    speaker.calls.clear()

    menu = add_menu(conn)
    add_item(conn, menu, "90000", "tts", ("key", "1", "101"), ("key", "2", "55555"),
             ("sequence", "[0-9]*", "90001"), text="Меню")
    add_item(conn, menu, "90001", "tts", ("timeout", 5, "90001"), text="Пусто")
    add_item(conn, menu, "90009", "tts", text="Сюда никто не попадёт")
    with pytest.raises(ApplyRefused) as caught:
        do_apply(setup, speaker)
    assert [str(p) for p in caught.value.problems] == [
        "menu 'Main', item 90000, handler 2 (key 2): target 55555 leads nowhere: it is not a"
        " menu item, a queue, a phone or a number a line dials out",
        "menu 'Main', item 90000, handler 3 (sequence [0-9]*): regex '[0-9]*' matches the empty"
        " sequence: it must need at least one key",
        "menu 'Main', item 90001: items 90001 -> 90001 send the call round in a circle on"
        " timeouts, never waiting for a key",
        "warning: menu 'Main', item 90009: nothing leads callers here: it is not the first item"
        " of its menu, no handler's target and no line's inbound number (only dialling 90009"
        " reaches it)",
    ]
    assert speaker.calls == [] and asterisk.calls == []
    assert {p.name: p.read_text() for p in include.iterdir()} == good.files
    assert conn.execute("SELECT id FROM revisions WHERE active").fetchone()[0] == good.id
    assert conn.execute("SELECT count(*) FROM revisions").fetchone()[0] == 1


def test_an_audio_item_needs_its_recording_on_disk(setup):
    conn, asterisk, settings, include = setup
    audio = conn.execute("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                         " VALUES ('greeting', 1000, 16000) RETURNING id").fetchone()[0]
    add_item(conn, add_menu(conn), "90000", "audio", audio_id=audio)
    with pytest.raises(ApplyRefused, match=r"menu 'Main', item 90000: audio file 'greeting'"
                                           r" \(id \d+\) has no recording on disk"):
        do_apply(setup, RecordingPresynthesizer(include))
    settings.audio_dir.mkdir(parents=True)
    (settings.audio_dir / f"{audio}.wav").write_bytes(b"RIFF")
    assert do_apply(setup, RecordingPresynthesizer(include)).warnings == ()


@pytest.fixture
def cases(config_db):
    """Cases with two statuses (one of them twice) and a service."""
    config_db.execute("DELETE FROM cases")
    config_db.execute("INSERT INTO cases (number, service, status) VALUES"
                      " ('1-01', 'Загранпаспорт', 'В работе'), ('1-02', '', 'В работе'),"
                      " ('1-03', 'Загранпаспорт', 'Ждёт документов')")
    yield ["В работе", "Ждёт документов", "Загранпаспорт"]
    config_db.execute("DELETE FROM cases")


def test_the_statuses_and_services_of_the_cases_are_said_at_apply(setup, cases):
    conn, asterisk, settings, include = setup
    speaker = RecordingPresynthesizer(include)
    do_apply(setup, speaker)
    [(texts, _tts, _cache_dir, _written)] = speaker.calls
    assert texts == cases  # the most common status first, each once; services after


def test_the_calls_presynthesizer_fills_the_tts_cache(setup, cases):
    """The real speech engine (the configured one): after Apply the cache has the fixed text,
    the statuses and services of the cases, and every piece phrases with data are said from."""
    conn, asterisk, settings, include = setup
    add_item(conn, add_menu(conn), "90000", "tts", text="Добрый день.")
    started = time.monotonic()
    revision = do_apply(setup, presynthesize_for_calls)
    print(f"\ncold Apply with the speech of the phrases: {time.monotonic() - started:.1f} s")
    assert revision.warnings == ()
    tts = load_configuration(conn).tts
    texts = ["Добрый день.", *phrases.vocabulary(date.today(), cases)]
    assert all(cached_path(text, tts, settings.tts_cache_dir).is_file() for text in texts)
    assert cache_usage(settings.tts_cache_dir)[0] == len(texts)


class SilentAmi:
    """An AMI client that logs in but never answers an action."""

    async def ready(self, timeout):
        return None

    async def action(self, action):
        await asyncio.Event().wait()


def test_an_asterisk_that_never_answers_does_not_hang_apply(monkeypatch):
    monkeypatch.setattr(applying, "AMI_REPLY_SECONDS", 0.2)
    asterisk = AmiAsterisk(SilentAmi())
    started = time.monotonic()
    with pytest.raises(AmiError, match="did not answer Command within 0.2 s"):
        asyncio.run(asterisk.command("dialplan show s@telecenter-revision"))
    with pytest.raises(AmiError, match="did not answer Reload within 0.2 s"):
        asyncio.run(asterisk.reload())
    assert time.monotonic() - started < 5
