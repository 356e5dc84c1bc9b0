"""The menu route: what reaches the dialplan, and what a caller gets when the plan fails."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from datetime import date

import pytest

from dialplan import names
from dialplan.configuration import (AudioFile, Configuration, Handler, MenuItem, Phone, Playlist,
                                    PlaylistItem, TtsSettings)
from dialplan.ivr_plan import IVR_PLAN_FILE
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr import phrases
from ivr.cases import Case, Person
from ivr.menu_route import MenuRoute
from ivr.plan_store import PlanStore
from ivr.simulate import DryRunCallbacks
from ivr.speaker import Speaker, presynthesize_for_calls
from ivr.tts import presynthesize
from tests.conftest import require
from tests.ivr.fake_call import FakeCall, NullCases
from tests.ivr.fake_engines import cached_prompt, fake_engines, runs


def applied(include_dir, target: str) -> None:
    """An applied menu whose one item sends a key 1 to ``target``."""
    item = MenuItem(id=1, menu_id=1, number="90000", kind="audio", audio_id=1,
                    handlers=(Handler(kind="key", key="1", target=target),))
    config = Configuration(phones=(Phone(id=1, number="100", md5_cred="0" * 32),),
                           audio_files=(AudioFile(id=1, name="Приветствие"),),
                           menu_items=(item,))
    write_files(include_dir, render_all(Settings(), config, revision=1))


def route(tmp_path) -> MenuRoute:
    settings = Settings(include_dir_override=tmp_path)
    return MenuRoute(settings, PlanStore(tmp_path), NullCases(), DryRunCallbacks(None),
                     Speaker(settings.tts_cache_dir))


def walk(menu: MenuRoute, call: FakeCall) -> None:
    asyncio.run(menu.handle(call, ("90000",)))


def damage_target(include_dir, target: str) -> None:
    path = include_dir / IVR_PLAN_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["items"]["90000"]["handlers"][0]["target"] = target
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_key_to_a_phone_names_the_phone_for_the_dialplan(tmp_path):
    applied(tmp_path, "100")
    call = FakeCall(prompt_keys={0: "1"})
    walk(route(tmp_path), call)
    assert call.variables[names.VAR_NEXT] == "100"


@pytest.mark.parametrize("target", ["100,1)", "100&Hangup", "${SHELL(id)}", "1 00"])
def test_a_target_that_is_no_number_never_reaches_the_dialplan(tmp_path, target):
    applied(tmp_path, "100")
    damage_target(tmp_path, target)
    call = FakeCall(prompt_keys={0: "1"})
    with pytest.raises(ValueError):  # the server sends the call to the fallback apology
        walk(route(tmp_path), call)
    assert names.VAR_NEXT not in call.variables


def test_without_an_applied_plan_the_call_goes_to_the_fallback(tmp_path):
    call = FakeCall()
    with pytest.raises(LookupError):
        walk(route(tmp_path), call)
    assert call.commands == []  # not even answered: the dialplan's fallback answers


def test_a_damaged_plan_before_any_good_one_goes_to_the_fallback(tmp_path):
    (tmp_path / IVR_PLAN_FILE).write_text("{not json", encoding="utf-8")
    call = FakeCall()
    with pytest.raises(LookupError):
        walk(route(tmp_path), call)
    assert call.commands == []


# Speech at call time (ivr.speaker): real Festival, engines replaced by misbehaving programs.

CASE = Case(number="19-03-2044", service="Консультация", status="В работе",
            opened_on=date(2026, 3, 12), person_id=1)


class OneCaller:
    """A case backend that knows one person and their one case."""

    def __init__(self, case: Case = CASE):
        self.case = case

    async def person_by_phone(self, phone: str):
        return Person(id=1, name="Евлампия Петровна Сидорова", phone=phone, first_name="Евлампия")

    async def case_by_number(self, number: str):
        return self.case if number == self.case.number else None

    async def open_cases(self, phone: str) -> list:
        return [self.case]


@pytest.fixture
def spoken_route(tmp_path):
    """A menu route over an applied configuration; its syntheses still running (a hanging
    engine) are waited for at the end, so none runs into the next test's engines."""
    routes = []

    def make(config: Configuration, cases) -> MenuRoute:
        include = tmp_path / "include"
        settings = Settings(var_dir=tmp_path / "var", include_dir_override=include)
        write_files(include, render_all(settings, config, revision=1))
        routes.append(MenuRoute(settings, PlanStore(include), cases, DryRunCallbacks(None),
                                Speaker(settings.tts_cache_dir)))
        return routes[-1]

    yield make
    for route_ in routes:
        route_.speaker.close(wait=True)


def greeting_plan() -> Configuration:
    item = MenuItem(id=1, menu_id=1, number="90000", kind="playlist", playlist_id=1)
    playlist = Playlist(id=1, name="Ожидание", items=(PlaylistItem(kind="greeting"),))
    return Configuration(menu_items=(item,), playlists=(playlist,))


def case_status_plan() -> Configuration:
    items = (MenuItem(id=1, menu_id=1, number="90000", kind="audio", audio_id=1,
                      handlers=(Handler(kind="sequence", pattern=r"[0-9*]+#", target="90001"),)),
             MenuItem(id=2, menu_id=1, number="90001", kind="scenario", scenario="case_status"))
    return Configuration(audio_files=(AudioFile(id=1, name="Введите номер"),), menu_items=items)


def timed_walk(menu: MenuRoute, call: FakeCall) -> float:
    started = time.monotonic()
    asyncio.run(menu.handle(call, ("90000",)))
    return time.monotonic() - started


@pytest.fixture
def engines_installed():
    require("text2wave", "festival", "espeak-ng", "sox")


def test_a_hanging_engine_keeps_a_greeted_caller_waiting_at_most_a_second(
        tmp_path, monkeypatch, engines_installed, spoken_route):
    menu = spoken_route(greeting_plan(), OneCaller())
    presynthesize(["Здравствуйте"], menu.plans.current().tts, menu.settings.tts_cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "sleep 3")
    call = FakeCall(caller="79990000001")

    waited = timed_walk(menu, call)

    assert waited < 1.5  # the budget of a second, with room for a loaded machine
    assert runs(engines) >= 1  # the name was asked for, and is still being synthesised
    assert call.events.of("say") == ["Здравствуйте, Евлампия!"]
    assert call.prompts == [cached_prompt("Здравствуйте", menu.plans.current().tts,
                                   menu.settings.tts_cache_dir)]


def test_a_case_status_is_said_without_any_engine_run_after_apply(
        tmp_path, monkeypatch, engines_installed, spoken_route):
    menu = spoken_route(case_status_plan(), OneCaller())
    tts_settings = menu.plans.current().tts
    assert presynthesize_for_calls([CASE.status, CASE.service], tts_settings,
                                   menu.settings.tts_cache_dir) == []
    engines = fake_engines(tmp_path / "engines", monkeypatch, "exit 1")
    call = FakeCall(prompt_keys={0: "1"}, waits=[*"9*03*2044#"])

    waited = timed_walk(menu, call)

    assert runs(engines) == 0
    assert call.events.of("say") == [
        "Дело номер девятнадцать, ноль три, две тысячи сорок четыре, Консультация, от"
        " двенадцатого марта две тысячи двадцать шестого года. Статус: В работе."]
    assert call.prompts[-1] == cached_prompt(CASE.status, tts_settings, menu.settings.tts_cache_dir)
    assert waited < 1.5


def test_a_status_new_since_apply_is_left_out_rather_than_kept_waiting_for(
        tmp_path, monkeypatch, engines_installed, spoken_route):
    new_status = Case(**{**CASE.__dict__, "status": "Передано в архив"})
    menu = spoken_route(case_status_plan(), OneCaller(new_status))
    tts_settings = menu.plans.current().tts
    presynthesize_for_calls([CASE.service], tts_settings, menu.settings.tts_cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "sleep 3")
    call = FakeCall(prompt_keys={0: "1"}, waits=[*"9*03*2044#"])

    waited = timed_walk(menu, call)

    assert waited < 1.5
    assert runs(engines) == 1  # the new status, synthesised for the next caller
    # The phrase up to "Статус", without the status it could not have in time.
    assert call.prompts[-1] == cached_prompt(phrases.STATUS, tts_settings,
                                             menu.settings.tts_cache_dir)
    assert cached_prompt(CASE.service, tts_settings, menu.settings.tts_cache_dir) in call.prompts


class CallWithMedia(FakeCall):
    """A fake call whose first prompt takes the time its media would (a recording of 3 s)."""

    __slots__ = ()

    async def stream_file(self, prompt: str, escape_digits: str = "0123456789*#") -> str | None:
        if not self.prompts:
            await asyncio.sleep(3.0)  # the caller listening, not a synchronisation
        return await super().stream_file(prompt, escape_digits)


def test_a_callers_name_is_synthesised_from_the_moment_the_call_arrives(
        tmp_path, monkeypatch, engines_installed, spoken_route):
    """The name takes an engine 2.5 s; the greeting comes after a 3-second recording, so only
    a synthesis started when the call arrived is ready within the greeting's second."""
    items = (MenuItem(id=1, menu_id=1, number="90000", kind="audio", audio_id=1,
                      handlers=(Handler(kind="timeout", seconds=1, target="90001"),)),
             MenuItem(id=2, menu_id=1, number="90001", kind="playlist", playlist_id=1))
    config = Configuration(audio_files=(AudioFile(id=1, name="Музыка"),), menu_items=items,
                           playlists=greeting_plan().playlists,
                           tts=TtsSettings(engine="espeak"))
    menu = spoken_route(config, OneCaller())
    presynthesize(["Здравствуйте"], config.tts, menu.settings.tts_cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch,
                           f'sleep 2.5; exec {shutil.which("espeak-ng")} "$@"')
    call = CallWithMedia(waits=[None])

    timed_walk(menu, call)

    assert runs(engines) == 1
    assert call.events.of("say") == ["Здравствуйте, Евлампия!"]
    # The name is in what was played.
    assert call.prompts[-1] == cached_prompt("Евлампия", config.tts, menu.settings.tts_cache_dir)
