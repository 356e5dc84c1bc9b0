"""The queue runtime: its pure parts, and its events against a real PostgreSQL with a
recording fake of Asterisk (what a real call does is tests/ivr/test_queue_asterisk.py)."""

from __future__ import annotations

import asyncio
import time

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan import names
from dialplan.configuration import Queue
from dialplan.ivr_plan import IvrPlan
from fastagi.contacts import OFFLINE, ONLINE
from fastagi.database import open_pool
from fastagi.queue_calls_ami import RingOutcome
from fastagi.route_status import STATUS_OK, VAR_STATUS
from ivr.queue_engine import Caller, Member, QueueSettings, QueueState, Ringing
from ivr.operators import Operator
from ivr.queue_runtime import (BridgeTarget, QueueRuntime, engine_members, engine_queue,
                               estimate_wait, outside_call_change, ring_id)


# Pure parts.

def test_a_ring_is_named_by_caller_phone_and_start():
    assert ring_id("1796.5", "101", 12.3456) == "tcq-1796.5-101-12346"
    assert ring_id("1796.5", "101", 12.3456) != ring_id("1796.5", "101", 20.0)


def test_empty_numbers_of_a_queue_end_the_call_in_the_engine():
    settings = engine_queue(Queue(id=4, name="q", number="92000", ring_seconds=20,
                                  ring_at_once=None, max_wait_seconds=300))
    assert settings == QueueSettings(4, ring_seconds=20.0, ring_at_once=None,
                                     max_wait_seconds=300.0)
    assert engine_queue(Queue(id=4, name="q", number="92000", stop_when_empty=True,
                              when_empty_number="93000")).when_empty_number == "93000"


def test_members_serve_every_queue_that_lists_them_with_their_operator():
    queues = [Queue(id=1, name="a", number="92000", members=("101", "102")),
              Queue(id=2, name="b", number="92001", members=("102",))]
    members = engine_members(queues, {"101": ONLINE, "102": OFFLINE},
                             {"102": Operator("anna", accepting=False)}, QueueState())
    assert members == (Member("101", frozenset({1})),
                       Member("102", frozenset({1, 2}), registered=False, accepting=False,
                              operator="anna"))


def test_while_registrations_are_unknown_members_keep_what_was_known():
    before = QueueState(members=(Member("101", frozenset({1}), registered=True),))
    queues = [Queue(id=1, name="a", number="92000", members=("101", "102"))]
    members = engine_members(queues, None, {}, before)
    assert [(m.phone, m.registered) for m in members] == [("101", True), ("102", False)]


def test_the_wait_is_estimated_from_recent_waits_per_place_in_line():
    assert estimate_wait([], 3) is None
    assert estimate_wait([(60.0, 1), (120.0, 2)], 3) == 180
    assert estimate_wait([(90.0, 0)], 1) == 90  # no position told: counts as first


# The runtime against PostgreSQL.

class FakeAsterisk:
    """Records what the runtime asks; rings stay unanswered unless told otherwise."""

    def __init__(self):
        self.done: list[tuple] = []
        self.ring_outcomes: dict[str, RingOutcome] = {}
        self.live: set[str] = set()
        self.devices: dict[str, str] = {}

    async def ring(self, ring_id, channel, context, seconds, caller_id, variables):
        self.done.append(("ring", channel, context, seconds, caller_id, variables))
        outcome = self.ring_outcomes.get(channel)
        if outcome is None:
            await asyncio.sleep(3600)
        return outcome

    async def hang_up(self, channel_or_id):
        self.done.append(("hang_up", channel_or_id))
        return True

    async def set_variables(self, channel, variables):
        self.done.append(("set", channel, variables))

    async def redirect(self, channel, context, exten="s", priority=1):
        self.done.append(("redirect", channel, context))

    async def live_channels(self):
        return self.live

    async def device_states(self):
        return self.devices


class Plans:
    def __init__(self, *queues: Queue):
        self.plan = IvrPlan(queues={q.number: q for q in queues})

    def current(self):
        return self.plan


class Presence:
    def __init__(self, states):
        self._states = states

    def states(self):
        return self._states

    def on_change(self, callback):
        pass


class Clock:
    """Starts at the real time (records are compared with the database's now()); moves
    only when told."""

    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


async def no_operators(_pool):
    return {}


QUEUE = Queue(id=1, name="Справки", number="92000", ring_seconds=10, members=("101", "102"))


def run(db_url, scenario):
    """Run ``scenario(make_runtime)`` on a loop with a pool of the test's database."""
    async def go():
        pool = await open_pool(db_url, max_size=4)
        made = []

        def make(*queues, asterisk=None, clock=None, states=None):
            runtime = QueueRuntime(pool, Plans(*(queues or (QUEUE,))), asterisk or FakeAsterisk(),
                                   Presence(states or {"101": ONLINE, "102": ONLINE}),
                                   clock=clock or Clock(), operators=no_operators)
            made.append(runtime)
            return runtime

        try:
            return await scenario(make)
        finally:
            for runtime in made:
                runtime.stop()
            await pool.close()
    return asyncio.run(go())


def records(db_url) -> dict[str, dict]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return {r["caller_id"]: r for r in conn.execute("SELECT * FROM queue_calls")}


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_caller_who_joins_rings_the_longest_free_member_and_is_recorded(fresh_database):
    asterisk = FakeAsterisk()

    async def scenario(make):
        runtime = make(asterisk=asterisk)
        assert await runtime.join(QUEUE, "1.1", "PJSIP/line-0001", "79990001111", False)
        await settle()
        assert runtime.position("1.1") == 1

    run(fresh_database, scenario)
    assert asterisk.done == [("ring", "PJSIP/101", names.CONTEXT_QUEUE_OPERATOR, 10.0,
                              "79990001111", {names.VAR_QUEUE_CALLER: "1.1",
                                              names.VAR_QUEUE_PHONE: "101"})]
    row = records(fresh_database)["1.1"]
    assert (row["outcome"], row["positions"], row["offered_to"]) == ("waiting", [1], ["101"])


def test_the_first_answer_bridges_and_the_other_ring_is_hung_up_by_its_name(fresh_database):
    asterisk, clock = FakeAsterisk(), Clock()
    queue = Queue(id=1, name="Справки", number="92000", ring_at_once=2, members=("101", "102"))

    async def scenario(make):
        runtime = make(queue, asterisk=asterisk, clock=clock)
        await runtime.join(queue, "1.1", "PJSIP/line-0001", "79990001111", True)
        started = clock.now
        clock.now += 4
        target = await runtime.answered("1.1", "102")
        assert target == BridgeTarget("PJSIP/line-0001", True)
        assert await runtime.answered("1.1", "101") is None  # too late
        await settle()
        clock.now += 30
        await runtime.talk_ended("1.1", "102")
        return started

    started = run(fresh_database, scenario)
    assert ("set", "PJSIP/line-0001", {VAR_STATUS: STATUS_OK}) in asterisk.done
    assert ("hang_up", ring_id("1.1", "101", started)) in asterisk.done
    row = records(fresh_database)["1.1"]
    assert row["outcome"] == "answered" and row["answered_phone"] == "102"
    assert row["wait_seconds"] == pytest.approx(4, abs=0.01)
    assert row["talk_seconds"] == pytest.approx(30, abs=0.01)


def test_a_restarted_server_finds_its_callers_in_their_order(fresh_database):
    async def scenario(make):
        first = make(states={"101": OFFLINE, "102": OFFLINE})
        for caller in ("1.1", "1.2", "1.3"):
            await first.join(QUEUE, caller, f"PJSIP/line-{caller}", "7999", False)
        first.stop()
        again = make(states={"101": OFFLINE, "102": OFFLINE})
        await again.start()
        assert await again.join(QUEUE, "1.2", "PJSIP/line-1.2", "7999", False)
        return [again.position(c) for c in ("1.1", "1.2", "1.3")]

    assert run(fresh_database, scenario) == [1, 2, 3]
    assert sorted(records(fresh_database)) == ["1.1", "1.2", "1.3"]



def test_a_server_starts_and_takes_callers_when_the_state_row_was_deleted(fresh_database):
    """A deleted state row (a careless clean-up) costs nobody a call: it is made again."""
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("DELETE FROM queue_state")

    async def scenario(make):
        runtime = make(states={"101": OFFLINE, "102": OFFLINE})
        await runtime.start()
        assert await runtime.join(QUEUE, "1.1", "PJSIP/line-0001", "7999", False)
        return runtime.position("1.1")

    assert run(fresh_database, scenario) == 1
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute("SELECT count(*) FROM queue_state").fetchone()[0] == 1

def test_a_finished_queue_call_is_not_joined_again(fresh_database):
    async def scenario(make):
        runtime = make()
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)
        await runtime.caller_left("1.1")
        return await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)

    assert run(fresh_database, scenario) is False
    assert records(fresh_database)["1.1"]["outcome"] == "gave_up"


def test_a_ring_that_fails_rings_the_next_member(fresh_database):
    asterisk = FakeAsterisk()
    asterisk.ring_outcomes["PJSIP/101"] = RingOutcome(False, "5")

    async def scenario(make):
        runtime = make(asterisk=asterisk)
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)
        for _ in range(50):
            await asyncio.sleep(0.01)
            if len([d for d in asterisk.done if d[0] == "ring"]) == 2:
                break

    run(fresh_database, scenario)
    assert [d[1] for d in asterisk.done if d[0] == "ring"] == ["PJSIP/101", "PJSIP/102"]
    assert records(fresh_database)["1.1"]["offered_to"] == ["101", "102"]


def test_the_maximum_wait_sends_the_caller_to_the_configured_number(fresh_database):
    asterisk, clock = FakeAsterisk(), Clock()
    queue = Queue(id=1, name="Справки", number="92000", max_wait_seconds=60,
                  after_max_wait_number="93000", members=("101",))

    async def scenario(make):
        runtime = make(queue, asterisk=asterisk, clock=clock, states={"101": OFFLINE})
        await runtime.join(queue, "1.1", "PJSIP/line-1", "7999", False)
        clock.now += 60
        await runtime.tick()
        await settle()

    run(fresh_database, scenario)
    assert asterisk.done == [
        ("set", "PJSIP/line-1", {names.VAR_QUEUE_REASON: names.QUEUE_REASON_MAX_WAIT,
                                 names.VAR_NEXT: "93000"}),
        ("redirect", "PJSIP/line-1", names.CONTEXT_QUEUE_LEAVE)]
    row = records(fresh_database)["1.1"]
    assert row["outcome"] == "max_wait" and row["wait_seconds"] == pytest.approx(60, abs=0.01)


def test_callers_gone_from_asterisk_while_unheard_are_let_go(fresh_database):
    asterisk = FakeAsterisk()
    asterisk.live = {"1.2"}

    async def scenario(make):
        runtime = make(asterisk=asterisk, states={"101": OFFLINE, "102": OFFLINE})
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)
        await runtime.join(QUEUE, "1.2", "PJSIP/line-2", "7999", False)
        await runtime.let_go_vanished_callers()
        return runtime.position("1.2")

    assert run(fresh_database, scenario) == 1
    assert records(fresh_database)["1.1"]["outcome"] == "gave_up"


def test_the_wait_is_estimated_from_the_queues_answered_calls(fresh_database):
    clock = Clock()

    async def scenario(make):
        runtime = make(clock=clock, states={"101": ONLINE, "102": OFFLINE})
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)
        assert await runtime.estimated_wait("1.1") is None  # nothing answered yet
        clock.now += 40
        await runtime.answered("1.1", "101")
        await runtime.join(QUEUE, "1.2", "PJSIP/line-2", "7999", False)
        await runtime.join(QUEUE, "1.3", "PJSIP/line-3", "7999", False)
        return await runtime.estimated_wait("1.3")

    assert run(fresh_database, scenario) == 80  # 40 s for the first place, two places


def test_a_free_member_whose_phone_gets_busy_is_in_an_outside_call_until_it_is_idle():
    free = QueueState(members=(Member("101", frozenset({1})),))
    assert outside_call_change(free, "101", "INUSE") is True
    assert outside_call_change(free, "101", "RINGING") is None
    assert outside_call_change(free, "101", "NOT_INUSE") is None
    busy = QueueState(members=(Member("101", frozenset({1}), in_call=True),))
    assert outside_call_change(busy, "101", "NOT_INUSE") is False
    assert outside_call_change(busy, "101", "INUSE") is None
    assert outside_call_change(free, "999", "INUSE") is None  # no member


def test_the_queues_own_rings_and_talks_are_no_outside_calls():
    talking = QueueState(members=(Member("101", frozenset({1}), in_call=True, call_queue=1),))
    assert outside_call_change(talking, "101", "NOT_INUSE") is None  # talk_ended's business
    ringing = QueueState(
        queues=(QueueSettings(1),), members=(Member("101", frozenset({1})),),
        callers=(Caller("1.1", 1, "7999", 0.0, 1, ringing=(Ringing(0.0, "101"),)),))
    assert outside_call_change(ringing, "101", "INUSE") is None  # answering our ring


def test_after_a_login_a_member_found_busy_is_not_offered(fresh_database):
    asterisk = FakeAsterisk()
    asterisk.devices = {"PJSIP/101": "INUSE", "PJSIP/102": "NOT_INUSE", "Local/x": "INUSE"}

    async def scenario(make):
        runtime = make(asterisk=asterisk)
        await runtime.resync()
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "7999", False)
        await settle()

    run(fresh_database, scenario)
    assert [d[1] for d in asterisk.done if d[0] == "ring"] == ["PJSIP/102"]


# Callback entries (spec 8).

def callback_rows(db_url, sql: str, params=()) -> list[dict]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def test_the_callback_key_keeps_the_place_through_the_hangup_and_the_answer_calls_back(
        fresh_database):
    asterisk = FakeAsterisk()

    async def scenario(make):
        runtime = make(asterisk=asterisk, states={"101": OFFLINE, "102": OFFLINE})
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "79990001111", True)
        await runtime.join(QUEUE, "1.2", "PJSIP/line-2", "79990002222", True)
        request = await runtime.callback_requested("1.1")
        assert await runtime.callback_requested("1.1") == request  # pressed again: the same
        await runtime.caller_left("1.1")  # the Hangup event of the caller's channel
        asterisk.live = {"1.2"}
        await runtime.let_go_vanished_callers()  # after an AMI login: still there
        assert (runtime.position("1.1"), runtime.position("1.2")) == (1, 2)
        runtime.presence = Presence({"101": ONLINE, "102": OFFLINE})
        await runtime.tick()
        await settle()
        target = await runtime.answered("1.1", "101")
        await settle()
        return request, target, runtime.position("1.2")

    request, target, behind = run(fresh_database, scenario)
    [ring] = [d for d in asterisk.done if d[0] == "ring"]
    assert ring[1] == "PJSIP/101" and ring[4] == "79990001111"  # the member sees the citizen
    [row] = callback_rows(fresh_database, "SELECT * FROM callbacks")
    assert (row["id"], row["phone"], row["source"], row["queue_id"]) == \
        (request, "79990001111", "queue", 1)
    assert row["calling_by"] == "101"  # the member's phone, when no operator is bound
    [call] = callback_rows(fresh_database, "SELECT * FROM callback_calls")
    assert target == BridgeTarget("", False, callback=True, callback_call=call["id"],
                                  citizen="79990001111")
    assert (call["operator_phone"], call["citizen"]) == ("101", "79990001111")
    assert call["operator_answered_at"] is not None
    assert behind == 1
    assert not any(d[0] in ("set", "redirect") for d in asterisk.done)  # nobody on the line


def test_a_callback_entry_whose_request_was_done_leaves_the_line(fresh_database):
    async def scenario(make):
        runtime = make(states={"101": OFFLINE, "102": OFFLINE})
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "79990001111", True)
        await runtime.join(QUEUE, "1.2", "PJSIP/line-2", "79990002222", True)
        request = await runtime.callback_requested("1.1")
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("UPDATE callbacks SET done_at = now() WHERE id = %s", (request,))
        await runtime.tick()
        return runtime.waiting("1.1"), runtime.position("1.2")

    assert run(fresh_database, scenario) == (False, 1)


def test_a_caller_without_a_number_gets_no_callback(fresh_database):
    async def scenario(make):
        runtime = make(states={"101": OFFLINE, "102": OFFLINE})
        await runtime.join(QUEUE, "1.1", "PJSIP/line-1", "", True)
        return await runtime.callback_requested("1.1"), runtime.waiting("1.1")

    assert run(fresh_database, scenario) == (None, True)
    assert callback_rows(fresh_database, "SELECT * FROM callbacks") == []
