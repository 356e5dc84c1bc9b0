"""Playlists against a scripted caller: order, shuffle, looping, dynamic items (spec 5)."""

from __future__ import annotations

import asyncio
import pytest

from dialplan.configuration import Playlist, PlaylistItem
from dialplan.ivr_plan import IvrPlan
from ivr.cases import LookupUnavailable, Person
from ivr.menu import MenuServices
from ivr.phrases import estimated_wait
from ivr.playlist import play_playlist
from tests.ivr.fake_call import FakeCall

PLAN = IvrPlan(audio={1: "/audio/1", 2: "/audio/2"})
SONG, JINGLE = PlaylistItem("audio", audio_id=1), PlaylistItem("audio", audio_id=2)
NOTICE = PlaylistItem("tts", text="Все операторы заняты.")


class Cases:
    """The case backend's person look-up: one person per known number."""

    def __init__(self, people: dict[str, Person]):
        self.people = people
        self.asked: list[str] = []

    async def person_by_phone(self, phone: str):
        self.asked.append(phone)
        return self.people.get(phone)


async def fake_speak(text: str) -> list[str]:
    return [f"tts:{text}"]


def play(call, playlist, cases=None, queue=None, **options):
    async def queue_info(call_, kind):
        assert call_ is call
        return (queue or {}).get(kind)

    services = MenuServices(speak=fake_speak, scenarios={}, cases=cases, callbacks=None,
                            queue_info=queue_info if queue is not None else None)
    return asyncio.run(play_playlist(call, PLAN, playlist, services, **options))


def playlist(*items, mode="in_order") -> Playlist:
    return Playlist(7, "ожидание", mode, items)


def test_items_play_in_order_once():
    call = FakeCall()
    assert play(call, playlist(SONG, NOTICE, JINGLE)) is None
    assert call.prompts == ["/audio/1", "tts:Все операторы заняты.", "/audio/2"]
    assert call.events.of("say") == ["Все операторы заняты."]


def test_a_key_stops_the_playlist_and_is_returned():
    call = FakeCall(prompt_keys={1: "5"})
    assert play(call, playlist(SONG, NOTICE, JINGLE)) == "5"
    assert len(call.prompts) == 2


def test_a_looping_playlist_goes_round_until_a_key():
    call = FakeCall(prompt_keys={4: "#"})
    assert play(call, playlist(SONG, JINGLE), loop=True) == "#"
    assert call.prompts == ["/audio/1", "/audio/2"] * 2 + ["/audio/1"]


class Reversing:
    """A stand-in for random: each shuffle reverses, and shuffles are counted."""

    shuffles = 0

    def shuffle(self, items):
        self.shuffles += 1
        items.reverse()


def test_random_mode_shuffles_each_round_anew():
    rng = Reversing()
    call = FakeCall(prompt_keys={3: "1"})
    play(call, playlist(SONG, NOTICE, JINGLE, mode="random"), loop=True, rng=rng)
    assert call.prompts[:4] == ["/audio/2", "tts:Все операторы заняты.", "/audio/1", "/audio/2"]
    assert rng.shuffles == 2


def test_in_order_mode_never_shuffles():
    rng = Reversing()
    play(FakeCall(), playlist(SONG, JINGLE), rng=rng)
    assert rng.shuffles == 0


def anna(first_name: str) -> Person:
    """A person as the case backend returns one."""
    return Person(1, "Смирнова Анна Петровна", "79990000001", first_name)


def test_the_greeting_names_the_one_person_with_the_callers_number():
    cases = Cases({"79990000001": anna("Анна")})
    call = FakeCall(caller="79990000001")
    play(call, playlist(PlaylistItem("greeting"), SONG), cases=cases)
    assert call.events.of("say") == ["Здравствуйте, Анна!"]
    assert cases.asked == ["79990000001"]


@pytest.mark.parametrize("caller, people", [
    ("79990000002", {"79990000001": anna("Анна")}),  # nobody (or several) with this number
    ("79990000001", {"79990000001": anna("")}),  # a person without a first name
    ("", {"": anna("Анна")}),  # no caller id
])
def test_no_greeting_without_exactly_one_named_person(caller, people):
    call = FakeCall(caller=caller)
    play(call, playlist(PlaylistItem("greeting"), SONG), cases=Cases(people))
    assert call.prompts == ["/audio/1"]


def test_with_the_case_database_down_the_wait_goes_on_without_a_greeting():
    class DatabaseDown:
        async def person_by_phone(self, phone):
            raise LookupUnavailable("person by phone: the database is down")

    call = FakeCall(caller="79990000001")
    play(call, playlist(PlaylistItem("greeting"), SONG), cases=DatabaseDown())
    assert call.prompts == ["/audio/1"]


def test_queue_position_and_wait_are_said_when_the_queue_answers():
    call = FakeCall()
    play(call, playlist(PlaylistItem("queue_position"), PlaylistItem("estimated_wait")),
         queue={"queue_position": 3, "estimated_wait": 130})
    assert call.events.of("say") == ["Ваш номер в очереди: три.",
                                     "Примерное время ожидания: три минуты."]


def test_queue_items_are_skipped_outside_a_queue():
    items = playlist(PlaylistItem("queue_position"), SONG, PlaylistItem("estimated_wait"))
    without_hook, unanswered = FakeCall(), FakeCall()
    play(without_hook, items)
    play(unanswered, items, queue={})
    assert without_hook.prompts == unanswered.prompts == ["/audio/1"]


def test_a_looping_playlist_with_nothing_to_say_stops_instead_of_spinning():
    call = FakeCall()
    assert play(call, playlist(PlaylistItem("queue_position")), loop=True) is None
    assert call.prompts == []


@pytest.mark.parametrize("seconds, text", [
    (30, "меньше минуты"), (60, "одна минута"), (61, "две минуты"), (300, "пять минут"),
    (660, "одиннадцать минут"), (1260, "двадцать одна минута"), (1320, "двадцать две минуты"),
    (840, "четырнадцать минут"),
])
def test_estimated_wait_is_said_in_whole_minutes_with_russian_plurals(seconds, text):
    assert text in estimated_wait(seconds)
