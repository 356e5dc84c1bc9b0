"""The voice menu engine against a scripted caller: every rule of spec 6.

The fixture is the seed's example menu: 90000 main menu -> 91000 cases
submenu -> 91100 enter a case number -> 91110 case status; 91200 open
cases; 92000 (not an item: a queue) and 93000 callback.  The seed's
sequence ``*[0-9]*#`` is not a valid regex; ``[0-9*]+#`` says what it
means (digits with ``*`` as separator, ``#`` ends).
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from dialplan.configuration import Handler, MenuItem, Playlist, PlaylistItem
from dialplan.ivr_plan import IvrPlan
from fastagi.session import AGICall
from ivr.menu import MAX_ITEM_ENTRIES, MenuServices, run_menu
from tests.ivr.fake_call import FakeCall, ScriptExhausted

MAIN = "Здравствуйте. Для получения информации о делах нажмите единицу."
CASES = "Чтобы узнать статус дела нажмите единицу. Список дел в работе - двойка."
ENTER = "Введите номер дела. Решетка означает окончание ввода."


def key(k: str, target: str) -> Handler:
    return Handler("key", target, key=k)


def timeout(seconds: int, target: str) -> Handler:
    return Handler("timeout", target, seconds=seconds)


def sequence(pattern: str, target: str) -> Handler:
    return Handler("sequence", target, pattern=pattern)


def item(number: str, kind: str = "tts", *handlers: Handler, **fields) -> MenuItem:
    if kind == "tts":
        fields.setdefault("text", f"пункт {number}")
    return MenuItem(id=int(number), menu_id=1, number=number, kind=kind, handlers=handlers,
                    **fields)


def plan_of(*items: MenuItem, **fields) -> IvrPlan:
    return IvrPlan(items={i.number: i for i in items}, **fields)


SEED = plan_of(
    item("90000", "tts", key("0", "90000"), key("1", "91000"), timeout(15, "92000"),
         key("2", "92000"), key("3", "93000"), text=MAIN),
    item("91000", "tts", key("1", "91100"), key("2", "91200"), text=CASES),
    item("91100", "tts", sequence(r"[0-9*]+#", "91110"), text=ENTER),
    item("91110", "scenario", scenario="case_status"),
    item("91200", "scenario", scenario="open_cases"),
    item("93000", "scenario", scenario="callback"),
)


class Scenarios:
    """Scenario stand-ins that remember the contexts they ran with."""

    def __init__(self, says: dict[str, list[str]] | None = None,
                 returns: dict[str, str] | None = None):
        self.says = says or {}
        self.returns = returns or {}
        self.ran: list[tuple[str, str]] = []  # (scenario, digits)

    def mapping(self) -> dict:
        def make(name):
            async def scenario(ctx):
                self.ran.append((name, ctx.digits))
                assert ctx.plan is not None and ctx.cases == "cases"
                for text in self.says.get(name, []):
                    if await ctx.say(text) is not None:
                        break
                return self.returns.get(name)
            return scenario
        return {name: make(name) for name in
                ("repeat_digits", "case_status", "open_cases", "callback", "dial_number")}


async def fake_speak(text: str) -> list[str]:
    return [f"tts:{text}"]


def walk(plan: IvrPlan, number: str, call: FakeCall, scenarios: Scenarios | None = None):
    services = MenuServices(speak=fake_speak, scenarios=(scenarios or Scenarios()).mapping(),
                            cases="cases", callbacks="callbacks")
    ending = asyncio.run(run_menu(call, plan, number, services))
    assert call.unused_script() == ({}, []), "the caller had keys left to press"
    return ending


def entered(call: FakeCall) -> list[str]:
    return [detail.split()[0] for detail in call.events.of("item")]


def test_an_item_without_handlers_hangs_up_once_played():
    plan = plan_of(item("95000", "tts", text="До свидания."))
    call = FakeCall()
    ending = walk(plan, "95000", call)
    assert ending.hangs_up and "no handlers" in str(ending.reason)
    assert call.prompts == ["tts:До свидания."]
    assert call.events.of("say") == ["До свидания."]
    assert call.wait_timeouts_ms == []


def test_a_key_typed_during_a_prompt_of_an_item_without_handlers_changes_nothing():
    plan = plan_of(item("95000", "tts", text="До свидания."))
    call = FakeCall(prompt_keys={0: "1"})
    assert walk(plan, "95000", call).hangs_up
    assert call.events.of("digits") == ["1"] and call.events.of("handler") == []


def test_an_empty_target_hangs_up():
    plan = plan_of(item("95000", "tts", key("1", ""), key("2", "95000")))
    call = FakeCall(waits=["1"])
    ending = walk(plan, "95000", call)
    assert ending.hangs_up and ending.transfer_to is None
    assert call.events.of("handler") == ["key 1 -> hang up"]


def test_silence_without_a_timeout_handler_hangs_up_after_15_seconds():
    call = FakeCall(waits=[None])
    ending = walk(SEED, "91000", call)
    assert ending.hangs_up
    assert call.wait_timeouts_ms == [15000]
    assert call.events.of("handler") == ["no input for 15 s -> hang up"]


def test_silence_goes_where_the_timeout_handler_says_after_its_seconds():
    plan = plan_of(item("95000", "tts", key("1", "95001"), timeout(4, "95001")),
                   item("95001", "tts", text="Соединяю."))
    call = FakeCall(waits=[None])
    ending = walk(plan, "95000", call)
    assert call.wait_timeouts_ms == [4000]
    assert call.events.of("handler") == ["timeout 4 s -> 95001"]
    assert entered(call) == ["95000", "95001"] and ending.hangs_up


def test_the_main_menus_timeout_sends_the_caller_to_the_queue():
    call = FakeCall(waits=[None])
    ending = walk(SEED, "90000", call)
    assert ending.transfer_to == "92000" and not ending.hangs_up


def test_a_key_press_enters_its_item():
    call = FakeCall(waits=["1", "2"])
    scenarios = Scenarios()
    walk(SEED, "90000", call, scenarios)
    assert entered(call) == ["90000", "91000", "91200"]
    assert call.prompts == [f"tts:{MAIN}", f"tts:{CASES}"]
    assert call.events.of("handler") == ["key 1 -> 91000", "key 2 -> 91200"]
    assert scenarios.ran == [("open_cases", "")]


def test_a_key_typed_during_the_prompt_counts_at_once():
    call = FakeCall(prompt_keys={0: "1", 1: "2"})
    walk(SEED, "90000", call)
    assert entered(call) == ["90000", "91000", "91200"]
    assert call.wait_timeouts_ms == []


def test_a_key_to_a_number_outside_the_menus_transfers_the_call():
    call = FakeCall(waits=["2"])
    ending = walk(SEED, "90000", call)
    assert ending.transfer_to == "92000"
    assert call.events.of("handler") == ["key 2 -> 92000"]


def test_a_case_number_reaches_the_case_status_scenario_with_its_digits():
    call = FakeCall(prompt_keys={2: "2"}, waits=["1", "1", "0", "2", "4", "*", "7", "#"])
    scenarios = Scenarios()
    ending = walk(SEED, "90000", call, scenarios)
    assert entered(call) == ["90000", "91000", "91100", "91110"]
    assert scenarios.ran == [("case_status", "2024*7#")]
    assert call.events.of("handler")[-1] == "sequence [0-9*]+# matched 2024*7# -> 91110"
    assert "91110 scenario case_status with digits 2024*7#" in call.events.of("item")
    assert ending.hangs_up  # the case status item has no handlers


def test_a_sequence_completed_by_the_key_typed_during_the_prompt_fires_without_waiting():
    plan = plan_of(item("95000", "tts", sequence("[4-9]", "95001"), key("1", "")),
                   item("95001", "scenario", scenario="repeat_digits"))
    call = FakeCall(prompt_keys={0: "7"})
    scenarios = Scenarios()
    walk(plan, "95000", call, scenarios)
    assert call.wait_timeouts_ms == []
    assert scenarios.ran == [("repeat_digits", "7")]


def test_the_wait_starts_again_after_every_key():
    call = FakeCall(waits=["1", "2", None])
    walk(SEED, "91100", call)
    assert call.wait_timeouts_ms == [15000, 15000, 15000]
    assert call.events.of("handler") == ["no input for 15 s -> hang up"]


def test_a_wrong_key_is_noticed_and_the_choices_are_said_again():
    call = FakeCall(prompt_keys={0: "7", 1: "1"}, waits=["2"])
    walk(SEED, "90000", call)
    assert call.events.of("handler")[:2] == ["no handler for 7", "key 1 -> 91000"]
    assert call.prompts[:2] == [f"tts:{MAIN}", f"tts:{MAIN}"]
    assert entered(call) == ["90000", "91000", "91200"]


def test_digits_that_no_sequence_can_complete_are_a_wrong_entry():
    plan = plan_of(item("95000", "tts", sequence(r"\*[0-9]+#", "95001")),
                   item("95001", "scenario", scenario="case_status"))
    scenarios = Scenarios()
    call = FakeCall(waits=["*", "1", "*", "*", "1", "#"])
    walk(plan, "95000", call, scenarios)
    assert call.events.of("handler") == ["no handler for *1*",
                                         r"sequence \*[0-9]+# matched *1# -> 95001"]
    assert len(call.prompts) == 2  # the prompt was said again after the wrong entry
    assert scenarios.ran == [("case_status", "*1#")]


def test_a_wrong_key_after_a_scenario_waits_again_without_running_it_twice():
    plan = plan_of(item("95000", "scenario", key("0", "95001"), scenario="callback"),
                   item("95001", "tts", text="Главное меню."))
    scenarios = Scenarios(says={"callback": ["Заявка принята."]})
    call = FakeCall(waits=["5", "0"])
    walk(plan, "95000", call, scenarios)
    assert scenarios.ran == [("callback", "")]
    assert call.events.of("handler") == ["no handler for 5", "key 0 -> 95001"]
    assert call.wait_timeouts_ms == [15000, 15000]


def test_a_scenario_without_handlers_hangs_up_after_it_ran():
    scenarios = Scenarios(says={"callback": ["Заявка на обратный звонок принята."]})
    call = FakeCall()
    ending = walk(SEED, "93000", call, scenarios)
    assert ending.hangs_up and scenarios.ran == [("callback", "")]
    assert call.events.of("say") == ["Заявка на обратный звонок принята."]
    assert call.events.of("scenario") == ["callback"]


def test_the_key_that_cuts_a_scenarios_last_words_short_counts():
    plan = plan_of(item("95000", "scenario", key("0", "90000"), scenario="open_cases"),
                   *SEED.items.values())
    scenarios = Scenarios(says={"open_cases": ["Дело 1: готово.", "Дело 2: в работе."]})
    call = FakeCall(prompt_keys={1: "0", 2: "2"})
    ending = walk(plan, "95000", call, scenarios)
    assert call.events.of("handler") == ["key 0 -> 90000", "key 2 -> 92000"]
    assert ending.transfer_to == "92000"


def test_a_number_returned_by_a_scenario_is_where_the_call_goes():
    plan = plan_of(item("95000", "scenario", key("1", ""), scenario="dial_number"))
    scenarios = Scenarios(returns={"dial_number": "101"})
    call = FakeCall()
    ending = walk(plan, "95000", call, scenarios)
    assert ending.transfer_to == "101"
    assert call.events.of("scenario") == ["dial_number", "dial_number sends the call to 101"]
    assert call.wait_timeouts_ms == []


def test_audio_and_playlist_items_play_their_files():
    plan = plan_of(item("95000", "audio", key("1", "95001"), audio_id=3),
                   item("95001", "playlist", playlist_id=7),
                   audio={3: "/audio/3", 4: "/audio/4"},
                   playlists={7: Playlist(7, "ожидание", items=(
                       PlaylistItem("audio", audio_id=4), PlaylistItem("tts", text="Ждите.")))})
    call = FakeCall(prompt_keys={0: "1"})
    ending = walk(plan, "95000", call)
    assert call.prompts == ["/audio/3", "/audio/4", "tts:Ждите."]  # the playlist once
    assert ending.hangs_up


def test_a_loop_without_a_caller_is_cut_off():
    plan = plan_of(item("95000", "tts", timeout(1, "95001")),
                   item("95001", "tts", timeout(1, "95000")))
    call = FakeCall(waits=[None] * MAX_ITEM_ENTRIES)
    ending = walk(plan, "95000", call)
    assert ending.hangs_up
    assert len(call.events.of("item")) == MAX_ITEM_ENTRIES
    assert len(call.events.of("error")) == 1 and "loop" in call.events.of("error")[0]


def test_an_unknown_number_is_refused():
    with pytest.raises(LookupError, match="12345"):
        walk(SEED, "12345", FakeCall())


def test_an_unexpected_wait_fails_the_fake_call():
    with pytest.raises(ScriptExhausted):
        asyncio.run(run_menu(FakeCall(), SEED, "91000", MenuServices(
            speak=fake_speak, scenarios={}, cases=None, callbacks=None)))


def test_the_fake_call_has_exactly_the_commands_of_the_real_one():
    def public(cls):
        return {name for name, value in inspect.getmembers(cls)
                if not name.startswith("_") and inspect.isfunction(value)}

    assert public(FakeCall) - {"unused_script"} == public(AGICall)
    with pytest.raises(AttributeError):
        FakeCall().play_music = None
