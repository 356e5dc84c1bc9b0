"""The queue routes' own logic over a scripted call and a recording runtime."""

from __future__ import annotations

import asyncio

import pytest

from dialplan import names
from dialplan.configuration import Playlist, PlaylistItem, Queue, QueueKey
from dialplan.ivr_plan import IvrPlan
from fastagi.settings import Settings
from ivr import phrases
from ivr.queue_route import QueueAnswerRoute, QueueRoute
from ivr.queue_runtime import BridgeTarget
from tests.ivr.fake_call import FakeCall, NullCases, ScriptExhausted

QUEUE = Queue(id=1, name="Справки", number="92000", members=("101",),
              keys=(QueueKey("3", "93000"), QueueKey("0", "")))


class Plans:
    def __init__(self, plan):
        self.plan = plan

    def current(self):
        return self.plan


class Runtime:
    """Records what the routes report; the answers are the test's."""

    can_ring = True

    def __init__(self, joins=True, bridge=None):
        self.reported: list[tuple] = []
        self.joins, self.bridge = joins, bridge
        self.spawned: list = []

    async def join(self, queue, caller_id, channel, number, external):
        self.reported.append(("join", queue.number, caller_id, number, external))
        return self.joins

    def waiting(self, caller_id):
        return True

    def position(self, caller_id):
        return 1

    async def caller_left(self, caller_id, outcome="gave_up"):
        self.reported.append(("left", caller_id, outcome))

    async def answered(self, caller_id, phone):
        self.reported.append(("answered", caller_id, phone))
        return self.bridge

    async def talk_ended(self, caller_id, phone):
        self.reported.append(("talk_ended", caller_id, phone))

    def spawn(self, coro):
        self.spawned.append(coro)
        return coro


class Speaker:
    """Says every text as one file named after it (nothing is synthesised)."""

    async def speak(self, text, tts, fallback_prompt):
        return [f"said/{text}"]

    def prepare(self, text, tts):
        pass


def caller_route(runtime) -> QueueRoute:
    return QueueRoute(Settings(), Plans(IvrPlan(queues={"92000": QUEUE})), runtime, NullCases(),
                      None, speaker=Speaker())


def test_a_key_of_the_queue_leaves_for_its_number_and_other_keys_are_ignored():
    runtime = Runtime()
    call = FakeCall(waits=[None, "5", "3"], extension="92000")
    asyncio.run(caller_route(runtime).handle(call, ("92000",)))
    assert runtime.reported == [("join", "92000", "1.1", "79990000001", False),
                                ("left", "1.1", "key")]
    assert call.variables[names.VAR_QUEUE_JOINED] == "1"
    assert call.variables[names.VAR_NEXT] == "93000"
    assert ("exec_app", "Playtones", "ring") in call.commands


def test_a_caller_from_an_external_line_says_so_when_joining():
    runtime = Runtime()
    call = FakeCall(waits=["0"], variables={names.VAR_EXTERNAL: "yes"})
    asyncio.run(caller_route(runtime).handle(call, ("92000",)))
    assert runtime.reported[0][-1] is True
    assert call.variables[names.VAR_NEXT] == ""


def test_a_queue_call_already_over_is_not_held_again():
    runtime = Runtime(joins=False)
    call = FakeCall()
    asyncio.run(caller_route(runtime).handle(call, ("92000",)))
    assert names.VAR_QUEUE_JOINED not in call.variables
    assert not any(c[0] == "wait_for_digit" for c in call.commands)


def test_a_number_that_is_no_queue_fails_the_route():
    with pytest.raises(LookupError):
        asyncio.run(caller_route(Runtime()).handle(FakeCall(), ("92999",)))


def test_without_a_way_to_ring_members_the_caller_goes_to_the_fallback_at_once():
    runtime = Runtime()
    runtime.can_ring = False
    call = FakeCall()
    with pytest.raises(RuntimeError):
        asyncio.run(caller_route(runtime).handle(call, ("92000",)))
    assert runtime.reported == [] and call.commands == []


def test_the_caller_waits_until_a_key_however_long():
    call = FakeCall(waits=[None] * 50)
    with pytest.raises(ScriptExhausted):
        asyncio.run(caller_route(Runtime()).handle(call, ("92000",)))


@pytest.mark.parametrize("external, options", [(False, "Tt"), (True, "T")])
def test_the_winning_answer_bridges_the_caller_and_ends_in_wrap_up(external, options):
    runtime = Runtime(bridge=BridgeTarget("PJSIP/line-0001", external))
    call = FakeCall(variables={names.VAR_QUEUE_PHONE: "101"})

    async def go():
        await QueueAnswerRoute(runtime).handle(call, ("1.1",))
        for coro in runtime.spawned:
            await coro

    asyncio.run(go())
    assert ("bridge", "PJSIP/line-0001", options) in call.commands
    assert runtime.reported == [("answered", "1.1", "101"), ("talk_ended", "1.1", "101")]


def test_a_late_answer_hangs_up_the_members_leg():
    runtime = Runtime(bridge=None)
    call = FakeCall(variables={names.VAR_QUEUE_PHONE: "101"})
    asyncio.run(QueueAnswerRoute(runtime).handle(call, ("1.1",)))
    assert call.commands[-1] == ("hangup",)
    assert not any(c[0] == "bridge" for c in call.commands)


def test_a_changed_position_is_said_again_between_the_pieces_of_the_playlist():
    class Moving(Runtime):
        positions = [2, 2, 2, 1, 1, 1, 1]

        def position(self, caller_id):
            return self.positions.pop(0) if len(self.positions) > 1 else self.positions[0]

    playlist = Playlist(id=7, name="Ожидание", items=(
        PlaylistItem("queue_position"), PlaylistItem("tts", text="Ждите."),
        PlaylistItem("tts", text="Спасибо.")))
    queue = Queue(id=1, name="Справки", number="92000", playlist_id=7, members=("101",),
                  keys=(QueueKey("3", "93000"),))
    route = QueueRoute(Settings(), Plans(IvrPlan(queues={"92000": queue}, playlists={7: playlist})),
                       Moving(), NullCases(), None, speaker=Speaker())
    call = FakeCall(prompt_keys={5: "3"})
    asyncio.run(route.handle(call, ("92000",)))
    said = call.events.of("say")
    assert said == [str(phrases.queue_position(2)), "Ждите.", str(phrases.queue_position(1)),
                    "Спасибо.", str(phrases.queue_position(1)), "Ждите."], said


# The callback key (spec 8).

class CallbackRuntime(Runtime):
    def __init__(self, callback_id, **kwargs):
        super().__init__(**kwargs)
        self.callback_id = callback_id

    async def callback_requested(self, caller_id):
        self.reported.append(("callback", caller_id))
        return self.callback_id


def callback_route(runtime) -> QueueRoute:
    queue = Queue(id=1, name="Справки", number="92000", members=("101",),
                  keys=(QueueKey("3", "93000"),), callback_key="5")
    return QueueRoute(Settings(), Plans(IvrPlan(queues={"92000": queue})), runtime,
                      NullCases(), None, speaker=Speaker())


def test_the_callback_key_keeps_the_place_tells_the_caller_and_hangs_up():
    runtime = CallbackRuntime(17)
    call = FakeCall(waits=[None, "5"], extension="92000")
    asyncio.run(callback_route(runtime).handle(call, ("92000",)))
    assert runtime.reported[1:] == [("callback", "1.1")]  # not "left": the place is kept
    assert call.events.of("say") == [str(phrases.queue_callback_kept())]
    assert call.commands[-1] == ("hangup",)
    assert names.VAR_NEXT not in call.variables or call.variables[names.VAR_NEXT] == ""


def test_a_caller_without_a_number_to_call_back_is_told_and_keeps_waiting():
    runtime = CallbackRuntime(None)
    call = FakeCall(waits=[None, "5", None, "3"], extension="92000")
    asyncio.run(callback_route(runtime).handle(call, ("92000",)))
    assert runtime.reported[1:] == [("callback", "1.1"), ("left", "1.1", "key")]
    assert call.events.of("say") == [phrases.NO_PHONE_FOR_CALLBACK]
    assert call.variables[names.VAR_NEXT] == "93000"


def test_a_member_who_answers_a_callback_entry_has_the_citizen_dialled():
    runtime = Runtime(bridge=BridgeTarget("", False, callback=True, callback_call=8,
                                          citizen="79990000001"))
    call = FakeCall(variables={names.VAR_QUEUE_PHONE: "101"})
    asyncio.run(QueueAnswerRoute(runtime).handle(call, ("1.1",)))
    assert call.variables[names.VAR_CALLBACK_CALL] == "8"
    assert call.variables[names.VAR_NEXT] == "79990000001"
    assert not any(c[0] in ("bridge", "hangup") for c in call.commands)
    assert runtime.spawned == []  # the talk ends with the call's hangup handler


def test_a_callback_entry_done_meanwhile_hangs_up_the_member_and_ends_the_talk():
    runtime = Runtime(bridge=BridgeTarget("", False, callback=True))
    call = FakeCall(variables={names.VAR_QUEUE_PHONE: "101"})

    async def go():
        await QueueAnswerRoute(runtime).handle(call, ("1.1",))
        for coro in runtime.spawned:
            await coro

    asyncio.run(go())
    assert call.commands[-1] == ("hangup",)
    assert runtime.reported[-1] == ("talk_ended", "1.1", "101")
