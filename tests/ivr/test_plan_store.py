"""The server walks the menus of the files Apply wrote last, and survives a broken file."""

import json
import os

from dialplan.configuration import (AudioFile, Configuration, MenuItem, Phone, Playlist,
                                    PlaylistItem, Queue, QueueKey, TransferSettings, sip_digest)
from dialplan.ivr_plan import IVR_PLAN_FILE, plan_from_json
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.plan_store import PlanStore


def applied(include_dir, revision, *numbers):
    config = Configuration(menu_items=tuple(
        MenuItem(id=i, menu_id=1, number=n, kind="tts", text=f"Пункт {n}")
        for i, n in enumerate(numbers, 1)))
    write_files(include_dir, render_all(Settings(), config, revision=revision))


def test_before_any_apply_there_are_no_menus(tmp_path):
    assert PlanStore(tmp_path).current().items == {}


def test_a_new_apply_is_picked_up_on_the_next_call(tmp_path):
    store = PlanStore(tmp_path)
    applied(tmp_path, 1, "90000")
    assert set(store.current().items) == {"90000"}
    applied(tmp_path, 2, "90000", "91000")
    plan = store.current()
    assert plan.revision == 2 and set(plan.items) == {"90000", "91000"}
    assert plan.items["91000"].text == "Пункт 91000"


def test_a_broken_file_keeps_the_last_good_menus(tmp_path):
    store = PlanStore(tmp_path)
    applied(tmp_path, 1, "90000")
    assert store.current().revision == 1
    path = tmp_path / IVR_PLAN_FILE
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))  # a different stamp even within one clock tick
    plan = store.current()
    assert plan.revision == 1 and set(plan.items) == {"90000"}


def test_the_queues_and_the_transfer_music_reach_the_server_as_applied(tmp_path):
    """The server finds the queue a caller was sent to, with every setting, in the file."""
    queue = Queue(id=1, name="Операторы", number="92000", ring_seconds=20, ring_at_once=2,
                  wrap_up_seconds=10, sticky=True, stop_when_empty=True,
                  when_empty_number="93000", max_wait_seconds=600,
                  after_max_wait_number="93000", playlist_id=3, members=("201", "202"),
                  keys=(QueueKey("3", "93000"), QueueKey("#", "")))
    config = Configuration(
        phones=tuple(Phone(i, n, sip_digest(n, "x")) for i, n in ((1, "201"), (2, "202"))),
        menu_items=(MenuItem(id=1, menu_id=1, number="93000", kind="tts", text="Перезвоним"),),
        audio_files=(AudioFile(7, "Музыка"),),
        playlists=(Playlist(3, "Ожидание", items=(PlaylistItem("queue_position"),)),),
        queues=(queue,), transfer=TransferSettings(music_audio_id=7))
    write_files(tmp_path, render_all(Settings(), config, revision=4))
    plan = PlanStore(tmp_path).current()
    assert plan.queues == {"92000": queue}
    assert plan.transfer == TransferSettings(music_audio_id=7)
    assert str(plan.numbers["92000"]) == "queue 92000"


def test_a_file_from_before_queues_reads_as_no_queues(tmp_path):
    applied(tmp_path, 1, "90000")
    data = json.loads((tmp_path / IVR_PLAN_FILE).read_text())
    del data["queues"], data["transfer"]
    plan = plan_from_json(json.dumps(data))
    assert plan.queues == {} and plan.transfer.music_audio_id is None
    assert set(plan.items) == {"90000"}
