"""check()/validate() on queues: each rule, with where it is and how bad."""

from dataclasses import replace

from dialplan.configuration import (AudioFile, Configuration, Handler, Line, Menu, MenuItem,
                                    Phone, Playlist, PlaylistItem, Queue, QueueKey,
                                    TransferSettings, sip_digest)
from dialplan.validate import ERROR, WARNING, check, fallback_problems, validate

MAIN = Menu(1, "Main")
PROV = Line(0, "prov1", "10.0.0.1", outbound_regex=r"^8\d{10}$")
QUEUE = Queue(id=1, name="Операторы", number="92000", members=("201", "202"))
WHERE = "queue 'Операторы' (92000)"


def config(*queues, phones=("201", "202"), items=("90000", "93000"), playlists=()):
    return Configuration(
        phones=tuple(Phone(i, n, sip_digest(n, "pw")) for i, n in enumerate(phones)),
        lines=(PROV,), menus=(MAIN,), playlists=tuple(playlists),
        menu_items=tuple(MenuItem(id=i, menu_id=1, number=n, kind="tts", text="Меню")
                         for i, n in enumerate(items)),
        queues=tuple(queues))


def found(problems):
    """(severity, where, message) of each problem, to compare with what the admin reads."""
    return [(p.severity, p.where, p.message) for p in problems]


def test_a_working_queue_has_no_problems():
    queue = replace(QUEUE, ring_at_once=5, sticky=True, wrap_up_seconds=10, playlist_id=3,
                    stop_when_empty=True, when_empty_number="93000", max_wait_seconds=600,
                    after_max_wait_number="89990000001",
                    keys=(QueueKey("3", "93000"), QueueKey("0", "201"), QueueKey("#", "")))
    hold = Playlist(3, "Ожидание", items=(PlaylistItem("queue_position"),))
    # Five at once with two members rings both: nothing to say.
    assert found(check(config(queue, playlists=[hold]))) == []


def test_its_number_is_in_the_numbering_plan_and_conflicts_are_told():
    problems = found(validate(config(replace(QUEUE, number="201"),
                                     replace(QUEUE, id=2, name="Вторая", number="93000"))))
    assert problems == [
        (ERROR, "queue 'Операторы' (201)", "number 201 is also phone 201"),
        (ERROR, "queue 'Вторая' (93000)", "number 93000 is also menu 'Main', item 93000"),
    ]


def test_a_menu_key_may_lead_to_the_queue_and_the_queue_reaches_the_menu_item():
    menu = replace(config(QUEUE, items=()), menu_items=(
        MenuItem(1, 1, "90000", "tts", text="Меню", handlers=(Handler("key", "92000", key="2"),)),
        MenuItem(2, 1, "93000", "tts", text="Перезвоним")))
    assert found(check(menu)) == [
        (WARNING, "menu 'Main', item 93000", "nothing leads callers here: it is not the first"
         " item of its menu, no handler's target and no line's inbound number (only dialling"
         " 93000 reaches it)")]
    with_key = replace(menu, queues=(replace(QUEUE, keys=(QueueKey("3", "93000"),)),))
    assert found(check(with_key)) == []


def test_members_must_be_phones_and_there_must_be_one():
    assert found(validate(config(replace(QUEUE, members=())))) == [
        (ERROR, WHERE, "the queue has no members: add at least one phone that answers its"
                       " calls")]
    assert found(validate(config(replace(QUEUE, members=("201", "203", "201"))))) == [
        (ERROR, WHERE, "member '203' is not a phone"),
        (ERROR, WHERE, "member 201 is listed twice"),
    ]


def test_keys_and_leaving_numbers_must_lead_somewhere_like_menu_targets():
    queue = replace(QUEUE, keys=(QueueKey("3", "55555"), QueueKey("x", ""), QueueKey("3", "")),
                    stop_when_empty=True, when_empty_number="7999",
                    max_wait_seconds=60, after_max_wait_number="12a")
    assert found(validate(config(queue))) == [
        (ERROR, "queue 'Операторы' (92000), key 3",
         "target 55555 leads nowhere: it is not a menu item, a queue, a phone or a number a"
         " line dials out"),
        (ERROR, "queue 'Операторы' (92000), key x", "key 'x' is not one of 0-9, * or #"),
        (ERROR, "queue 'Операторы' (92000), key 3", "the key is listed twice"),
        (ERROR, "queue 'Операторы' (92000), the number for when no member is online",
         "target 7999 leads nowhere: it is not a menu item, a queue, a phone or a number a"
         " line dials out"),
        (ERROR, "queue 'Операторы' (92000), the number after the maximum wait",
         "target '12a' is not a number (digits, * and #, up to 20, optionally after +)"),
    ]


def test_a_queue_does_not_send_the_callers_it_could_not_serve_back_into_itself():
    queue = replace(QUEUE, stop_when_empty=True, when_empty_number="92000")
    assert found(validate(config(queue))) == [
        (ERROR, "queue 'Операторы' (92000), the number for when no member is online",
         "sends the callers the queue could not serve back into it")]


def test_a_number_for_an_option_that_is_off_is_a_warning_not_a_refusal():
    queue = replace(QUEUE, stop_when_empty=False, when_empty_number="93000",
                    max_wait_seconds=None, after_max_wait_number="nowhere")
    assert validate(config(queue)) == []
    assert found(check(config(queue))) == [
        (WARNING, WHERE, "the number for when no member is online (93000) is not used:"
                         " stopping when no member is online is off"),
        (WARNING, WHERE, "the number after the maximum wait (nowhere) is not used: the queue"
                         " has no maximum wait"),
    ]


def test_the_playlist_must_exist_and_the_limits_hold():
    queue = replace(QUEUE, name="", playlist_id=9, ring_seconds=2, ring_at_once=0,
                    wrap_up_seconds=-1, max_wait_seconds=5, number="9a")
    assert [p[2] for p in found(validate(config(queue)))] == [
        "the name must be 1 to 100 characters",
        "the number must be 2 to 15 digits",
        "the ring time must be 3 to 300 seconds",
        "the number of members to ring at once must be 1 to 100 (or all)",
        "the wrap-up time must be 0 to 3600 seconds",
        "the maximum wait must be 10 to 86400 seconds",
        "playlist 9 does not exist",
    ]
    assert found(validate(config(replace(QUEUE, name="Опер\nаторы")))) == [
        (ERROR, "queue 'Опер\\nаторы' (92000)",
         "the name has line breaks or control characters")]


def test_the_fallback_cannot_be_a_queue():
    """The fallback serves callers when the server is gone; the queue needs the server."""
    assert [p.message for p in fallback_problems(config(QUEUE), "92000")] == [
        "'92000' is neither a phone nor a number a line dials out: a caller the server could"
        " not serve must reach it without the server"]


def test_the_transfer_music_must_be_in_the_library_and_on_disk():
    chosen = replace(config(), transfer=TransferSettings(music_audio_id=7))
    assert found(validate(chosen)) == [
        (ERROR, "the transfer settings", "audio file 7 is not in the audio library")]
    with_audio = replace(chosen, audio_files=(AudioFile(7, "Моцарт"),))
    assert validate(with_audio, audio_on_disk={7}) == []
    assert found(validate(with_audio, audio_on_disk=set())) == [
        (ERROR, "the transfer settings", "audio file 'Моцарт' (id 7) has no recording on"
                                         " disk: upload it again")]


def test_the_callback_key_is_one_key_not_used_by_the_queues_other_keys():
    assert found(check(config(replace(QUEUE, callback_key="5",
                                      keys=(QueueKey("3", "93000"),))))) == []
    assert found(validate(config(replace(QUEUE, callback_key="3",
                                         keys=(QueueKey("3", "93000"),))))) == [
        (ERROR, "queue 'Операторы' (92000), key 3",
         "the key both orders a callback and sends the caller on")]
    assert found(validate(config(replace(QUEUE, callback_key="55")))) == [
        (ERROR, "queue 'Операторы' (92000), key 55",
         "the callback key '55' is not one of 0-9, * or #")]
