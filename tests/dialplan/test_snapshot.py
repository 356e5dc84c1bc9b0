"""A revision's configuration as JSON and back (dialplan/snapshot.py)."""

from __future__ import annotations

import json

from dialplan.configuration import (AudioFile, Configuration, Handler, Line, Menu, MenuItem,
                                    Phone, Playlist, PlaylistItem, Queue, QueueKey,
                                    TransferSettings, TtsSettings)
from dialplan.snapshot import configuration_from_json, configuration_to_json

CONFIG = Configuration(
    phones=(Phone(1, "101", "d41d8cd9", "simple", "Приёмная"),),
    lines=(Line(2, "prov1", "10.0.0.9", outbound_regex="^9[0-9]+$", reg_password="s3cret"),),
    audio_files=(AudioFile(3, "Музыка", 4200),),
    playlists=(Playlist(4, "Ожидание", "random",
                        (PlaylistItem("audio", audio_id=3), PlaylistItem("tts", text="Ждите"))),),
    menus=(Menu(5, "Главное"),),
    menu_items=(MenuItem(6, 5, "90000", "tts", text="Здравствуйте",
                         handlers=(Handler("key", "91000", key="1"),
                                   Handler("timeout", "", seconds=5))),),
    tts=TtsSettings(engine="espeak"),
    queues=(Queue(7, "Поддержка", "92000", ring_at_once=None, sticky=True, stop_when_empty=True,
                  when_empty_number="90001", max_wait_seconds=600, playlist_id=4,
                  members=("101",), keys=(QueueKey("3", "90000"), QueueKey("#", ""))),),
    transfer=TransferSettings(music_audio_id=3),
)


def test_a_configuration_survives_json_as_it_was():
    text = json.dumps(configuration_to_json(CONFIG), ensure_ascii=False)
    assert configuration_from_json(json.loads(text)) == CONFIG


def test_json_without_a_field_added_later_takes_its_default():
    data = configuration_to_json(CONFIG)
    del data["phones"][0]["description"]
    del data["tts"]
    restored = configuration_from_json(data)
    assert restored.phones[0].description == ""
    assert restored.tts == TtsSettings()


def test_a_revision_made_before_queues_has_none_and_the_default_transfer_music():
    data = configuration_to_json(CONFIG)
    del data["queues"], data["transfer"]
    restored = configuration_from_json(data)
    assert restored.queues == () and restored.transfer == TransferSettings()
