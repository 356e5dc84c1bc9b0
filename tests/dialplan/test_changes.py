"""What differs between two configurations: every kind of object, added, removed, changed."""

from dataclasses import replace

from dialplan.changes import Action, Change, FieldChange, Kind, changes
from dialplan.configuration import (AudioFile, Configuration, Handler, Line, Menu, MenuItem,
                                    Phone, Playlist, PlaylistItem, Queue, QueueKey,
                                    TransferSettings, TtsSettings)

MD5 = "0" * 32

MENU = Menu(1, "Главное")
ITEM = MenuItem(10, 1, "90000", "tts", text="Здравствуйте",
                handlers=(Handler("key", "91000", key="1"), Handler("key", "92000", key="2"),
                          Handler("timeout", "92000", seconds=15),
                          Handler("sequence", "91110", pattern="[0-9]+#")))
AUDIO = AudioFile(5, "Приветствие", 3000)
PLAYLIST = Playlist(7, "Ожидание", "in_order",
                    (PlaylistItem("audio", audio_id=5), PlaylistItem("tts", text="Ждите")))
BASE = Configuration(
    phones=(Phone(1, "201", MD5), Phone(2, "202", MD5, description="Приёмная")),
    lines=(Line(1, "prov1", "sip.example.org", reg_username="u", reg_password="secret1"),),
    audio_files=(AUDIO,), playlists=(PLAYLIST,), menus=(MENU,), menu_items=(ITEM,))


def test_the_same_configuration_has_no_changes():
    assert changes(BASE, BASE) == []
    assert changes(Configuration(), Configuration()) == []


def test_phones_added_removed_and_changed():
    new = replace(BASE, phones=(Phone(2, "202", "f" * 32, description="Касса"),
                                Phone(3, "203", MD5)))
    assert changes(BASE, new) == [
        Change(Action.REMOVED, Kind.PHONE, "201"),
        Change(Action.CHANGED, Kind.PHONE, "202", fields=(
            FieldChange("md5_cred", secret=True), FieldChange("description", "Приёмная", "Касса"))),
        Change(Action.ADDED, Kind.PHONE, "203"),
    ]


def test_a_renumbered_phone_is_one_change_naming_the_old_number():
    new = replace(BASE, phones=(Phone(1, "211", MD5), BASE.phones[1]))
    assert changes(BASE, new) == [Change(Action.CHANGED, Kind.PHONE, "211",
                                         fields=(FieldChange("number", "201", "211"),),
                                         old_key="201")]


def test_lines_with_the_password_changed_without_its_value():
    line = BASE.lines[0]
    new = replace(BASE, lines=(replace(line, reg_password="secret2", port=5080),
                               Line(2, "prov2", "sip2.example.org")))
    found = changes(BASE, new)
    assert found == [
        Change(Action.CHANGED, Kind.LINE, "prov1", fields=(
            FieldChange("port", 5060, 5080), FieldChange("reg_password", secret=True))),
        Change(Action.ADDED, Kind.LINE, "prov2"),
    ]
    assert "secret1" not in repr(found) and "secret2" not in repr(found)
    assert changes(new, BASE)[1] == Change(Action.REMOVED, Kind.LINE, "prov2")


def test_audio_files_and_a_new_recording_under_the_same_name():
    new = replace(BASE, audio_files=(AudioFile(6, "Приветствие", 4000), AudioFile(8, "Музыка")))
    assert changes(BASE, new)[:2] == [
        Change(Action.ADDED, Kind.AUDIO_FILE, "Музыка"),
        Change(Action.CHANGED, Kind.AUDIO_FILE, "Приветствие",
               fields=(FieldChange("recording"),)),
    ]
    assert changes(replace(BASE, audio_files=()), BASE)[0] == Change(
        Action.ADDED, Kind.AUDIO_FILE, "Приветствие")


def test_playlists_and_their_items_by_position():
    changed = replace(PLAYLIST, mode="random", items=(
        PlaylistItem("tts", text="Минуту"), PLAYLIST.items[1], PlaylistItem("queue_position")))
    other = Playlist(9, "Музыка")
    new = replace(BASE, playlists=(changed, other))
    assert changes(BASE, new) == [
        Change(Action.ADDED, Kind.PLAYLIST, "Музыка"),
        Change(Action.CHANGED, Kind.PLAYLIST, "Ожидание",
               fields=(FieldChange("mode", "in_order", "random"),)),
        Change(Action.CHANGED, Kind.PLAYLIST_ITEM, "1", owner="Ожидание", fields=(
            FieldChange("kind", "audio", "tts"), FieldChange("audio", "Приветствие", None),
            FieldChange("text", "", "Минуту"))),
        Change(Action.ADDED, Kind.PLAYLIST_ITEM, "3", owner="Ожидание"),
    ]
    assert changes(new, BASE)[0] == Change(Action.REMOVED, Kind.PLAYLIST, "Музыка")
    assert changes(new, BASE)[-1] == Change(Action.REMOVED, Kind.PLAYLIST_ITEM, "3",
                                            owner="Ожидание")


def test_a_removed_playlist_takes_its_items_with_it():
    assert changes(BASE, replace(BASE, playlists=())) == [
        Change(Action.REMOVED, Kind.PLAYLIST, "Ожидание")]


def test_menus_and_a_renamed_menu_leaves_its_items_alone():
    new = replace(BASE, menus=(Menu(1, "Основное"), Menu(2, "Запасное")))
    assert changes(BASE, new) == [
        Change(Action.ADDED, Kind.MENU, "Запасное"),
        Change(Action.CHANGED, Kind.MENU, "Основное",
               fields=(FieldChange("name", "Главное", "Основное"),), old_key="Главное"),
    ]
    moved = replace(new, menu_items=(replace(ITEM, menu_id=2),))
    assert changes(new, moved) == [Change(Action.CHANGED, Kind.MENU_ITEM, "90000", fields=(
        FieldChange("menu", "Основное", "Запасное"),))]


def test_menu_items_added_removed_and_changed():
    extra = MenuItem(11, 1, "91000", "scenario", scenario="open_cases")
    new = replace(BASE, menu_items=(replace(ITEM, kind="playlist", playlist_id=7, text=""),
                                    extra))
    assert changes(BASE, new) == [
        Change(Action.CHANGED, Kind.MENU_ITEM, "90000", fields=(
            FieldChange("kind", "tts", "playlist"), FieldChange("playlist", None, "Ожидание"),
            FieldChange("text", "Здравствуйте", ""))),
        Change(Action.ADDED, Kind.MENU_ITEM, "91000"),
    ]
    assert changes(new, BASE)[-1] == Change(Action.REMOVED, Kind.MENU_ITEM, "91000")


def test_a_removed_item_takes_its_handlers_with_it():
    assert changes(BASE, replace(BASE, menu_items=())) == [
        Change(Action.REMOVED, Kind.MENU_ITEM, "90000")]


def test_handlers_by_key_timeout_and_pattern_keys_first_timeout_last():
    handlers = (Handler("timeout", "93000", seconds=20),
                Handler("sequence", "91110", pattern="[0-9]+#"),
                Handler("key", "92000", key="2"), Handler("key", "90000", key="0"))
    new = replace(BASE, menu_items=(replace(ITEM, handlers=handlers),))
    assert changes(BASE, new) == [
        Change(Action.ADDED, Kind.HANDLER, "0", owner="90000", event="key"),
        Change(Action.REMOVED, Kind.HANDLER, "1", owner="90000", event="key"),
        Change(Action.CHANGED, Kind.HANDLER, "", owner="90000", event="timeout", fields=(
            FieldChange("target", "92000", "93000"), FieldChange("seconds", 15, 20))),
    ]
    no_sequence = replace(BASE, menu_items=(replace(ITEM, handlers=ITEM.handlers[:3]),))
    assert changes(BASE, no_sequence) == [
        Change(Action.REMOVED, Kind.HANDLER, "[0-9]+#", owner="90000", event="sequence")]


def test_a_changed_item_comes_with_its_handlers():
    new = replace(BASE, menu_items=(replace(ITEM, text="Добрый день", handlers=ITEM.handlers[1:]),))
    assert [(c.kind, c.action) for c in changes(BASE, new)] == [
        (Kind.MENU_ITEM, Action.CHANGED), (Kind.HANDLER, Action.REMOVED)]


def test_speech_settings_with_keys_changed_without_their_values():
    new = replace(BASE, tts=TtsSettings(engine="yandex", yandex_key_id="key-1",
                                        yandex_folder_id="b1g"))
    assert changes(BASE, new) == [Change(Action.CHANGED, Kind.SPEECH, fields=(
        FieldChange("engine", "festival", "yandex"), FieldChange("yandex_key_id", secret=True),
        FieldChange("yandex_folder_id", "", "b1g")))]


def test_everything_configured_from_nothing_is_listed_in_kind_order():
    found = changes(Configuration(), BASE)
    assert [(c.kind, c.key) for c in found] == [
        (Kind.PHONE, "201"), (Kind.PHONE, "202"), (Kind.LINE, "prov1"),
        (Kind.AUDIO_FILE, "Приветствие"), (Kind.PLAYLIST, "Ожидание"), (Kind.MENU, "Главное"),
        (Kind.MENU_ITEM, "90000")]
    assert {c.action for c in found} == {Action.ADDED}


def test_numbers_sort_as_numbers():
    old = Configuration(phones=(Phone(1, "99", MD5),))
    new = Configuration(phones=(Phone(2, "100", MD5), Phone(1, "99", MD5), Phone(3, "1000", MD5)))
    assert [c.key for c in changes(old, new)] == ["100", "1000"]


def test_names_of_digit_like_characters_sort_as_names():
    new = Configuration(menus=(Menu(1, "²"), Menu(2, "10"), Menu(3, "٣")))
    assert [c.key for c in changes(Configuration(), new)] == ["10", "²", "٣"]


QUEUE = Queue(3, "Поддержка", "92000", ring_at_once=2, playlist_id=7, members=("201", "202"),
              keys=(QueueKey("3", "90000"),))
WITH_QUEUE = replace(BASE, queues=(QUEUE,))


def test_queues_added_removed_and_changed_by_number():
    assert changes(BASE, WITH_QUEUE) == [Change(Action.ADDED, Kind.QUEUE, "92000")]
    assert changes(WITH_QUEUE, BASE) == [Change(Action.REMOVED, Kind.QUEUE, "92000")]
    new = replace(WITH_QUEUE, queues=(replace(QUEUE, ring_at_once=None, sticky=True),))
    assert changes(WITH_QUEUE, new) == [Change(Action.CHANGED, Kind.QUEUE, "92000", fields=(
        FieldChange("ring_at_once", 2, None), FieldChange("sticky", False, True)))]


def test_a_queue_s_members_order_keys_and_playlist_are_its_fields():
    other = Playlist(8, "Музыка")
    old = replace(WITH_QUEUE, playlists=(PLAYLIST, other))
    new = replace(old, queues=(replace(QUEUE, members=("202", "201"), playlist_id=8,
                                       keys=(QueueKey("3", ""),)),))
    assert changes(old, new) == [Change(Action.CHANGED, Kind.QUEUE, "92000", fields=(
        FieldChange("playlist", "Ожидание", "Музыка"),
        FieldChange("members", ("201", "202"), ("202", "201")),
        FieldChange("keys", (QueueKey("3", "90000"),), (QueueKey("3", ""),))))]
    renamed = replace(PLAYLIST, name="Ожидание ответа")
    assert [c.kind for c in changes(old, replace(old, playlists=(renamed, other)))] == [
        Kind.PLAYLIST]  # renaming its playlist does not change the queue


def test_a_renumbered_queue_is_one_change_naming_the_old_number():
    new = replace(WITH_QUEUE, queues=(replace(QUEUE, number="92001"),))
    assert changes(WITH_QUEUE, new) == [Change(
        Action.CHANGED, Kind.QUEUE, "92001", fields=(FieldChange("number", "92000", "92001"),),
        old_key="92000")]


def test_the_transfer_music_by_the_recording_s_name():
    new = replace(BASE, transfer=TransferSettings(music_audio_id=5))
    assert changes(BASE, new) == [Change(Action.CHANGED, Kind.TRANSFER, fields=(
        FieldChange("music", None, "Приветствие"),))]
    assert changes(new, BASE) == [Change(Action.CHANGED, Kind.TRANSFER, fields=(
        FieldChange("music", "Приветствие", None),))]


def test_queues_come_after_menu_items_and_transfer_after_speech():
    new = replace(WITH_QUEUE, tts=TtsSettings(engine="espeak"),
                  transfer=TransferSettings(music_audio_id=5))
    assert [c.kind for c in changes(Configuration(), new)][-4:] == [
        Kind.MENU_ITEM, Kind.QUEUE, Kind.SPEECH, Kind.TRANSFER]
