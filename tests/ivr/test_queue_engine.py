"""The queue engine's decisions against a fake clock (plain seconds): one test or more per rule
of the theory of operation in ivr/queue_engine.py."""

from __future__ import annotations

import datetime
import json
import random
from dataclasses import replace

import pytest

from ivr import queue_engine as qe
from ivr.queue_engine import (Bridge, Leave, Member, Position, QueueSettings, QueueState, Ring,
                              StopRinging)

TODAY = datetime.date(2026, 12, 2)
TOMORROW = TODAY + datetime.timedelta(days=1)
Q = 1


class Line:
    """A queue under test: the state, a clock, and every decision so far."""

    def __init__(self, queue: QueueSettings, phones=("101", "102", "103"), **member_fields):
        members = tuple(Member(p, frozenset({queue.id}), **member_fields) for p in phones)
        self.state = QueueState(queues=(queue,), members=members)
        self.now = 0.0
        self.today = TODAY

    def _apply(self, outcome: qe.Outcome) -> list:
        self.state = outcome.state
        return list(outcome.decisions)

    def at(self, seconds: float) -> list:
        self.now = seconds
        return self._apply(qe.tick(self.state, seconds))

    def join(self, caller_id, number="") -> list:
        return self._apply(qe.join(self.state, caller_id, Q, number or f"+7900{caller_id}",
                                   self.now, self.today))

    def answer(self, caller_id, phone) -> list:
        return self._apply(qe.answered(self.state, caller_id, phone, self.now, self.today))

    def hang_up(self, caller_id) -> list:
        return self._apply(qe.hung_up(self.state, caller_id, self.now))

    def end_call(self, phone) -> list:
        return self._apply(qe.call_ended(self.state, phone, self.now))

    def presence(self, phone, **changes) -> list:
        return self._apply(qe.presence_changed(self.state, phone, self.now, **changes))

    def ringing(self, caller_id) -> list[str]:
        return [r.phone for r in self.state.caller(caller_id).ringing]

    def waiting(self) -> list[str]:
        return [c.id for c in self.state.callers]


def rings(decisions) -> list[tuple[str, str]]:
    return [(d.caller, d.phone) for d in decisions if isinstance(d, Ring)]


def stops(decisions) -> list[tuple[str, str, str]]:
    return [(d.caller, d.phone, d.reason) for d in decisions if isinstance(d, StopRinging)]


def positions(decisions) -> dict[str, int]:
    return {d.caller: d.position for d in decisions if isinstance(d, Position)}


def busy_line(queue: QueueSettings, phones=("101", "102", "103")) -> Line:
    """Every member talking to someone who came before the test's callers."""
    line = Line(queue, phones)
    for phone in phones:
        line.presence(phone, in_call=True)
    return line


# Rule 1: order by arrival; positions; those behind move up.

def test_callers_are_served_in_order_of_arrival():
    line = busy_line(QueueSettings(Q))
    for caller in ("a", "b", "c"):
        line.join(caller)
    assert rings(line.presence("102", in_call=False)) == [("a", "102")]
    assert rings(line.presence("101", in_call=False)) == [("b", "101")]


def test_each_caller_is_told_their_position_and_told_again_when_it_changes():
    line = busy_line(QueueSettings(Q))
    assert positions(line.join("a")) == {"a": 1}
    assert positions(line.join("b")) == {"b": 2}
    assert positions(line.join("c")) == {"c": 3}
    assert positions(line.hang_up("a")) == {"b": 1, "c": 2}
    assert positions(line.at(10)) == {}  # said again only when it changes


def test_positions_count_within_each_queue():
    queues = (QueueSettings(1), QueueSettings(2))
    state = QueueState(queues=queues, members=(Member("101", frozenset({1, 2}), in_call=True),))
    state = qe.join(state, "a", 1, "", 0, TODAY).state
    state = qe.join(state, "b", 2, "", 0, TODAY).state
    assert [c.position for c in state.callers] == [1, 1]


# Rule 2: what a free member is.

def test_a_paused_member_gets_no_offers():
    line = Line(QueueSettings(Q, ring_at_once=None))
    line.presence("102", accepting=False)
    assert rings(line.join("a")) == [("a", "101"), ("a", "103")]
    assert rings(line.presence("102", accepting=True)) == [("a", "102")]


def test_an_unregistered_member_gets_no_offers_and_a_ringing_one_that_leaves_stops():
    line = Line(QueueSettings(Q, ring_at_once=2))
    line.presence("101", registered=False)
    assert rings(line.join("a")) == [("a", "102"), ("a", "103")]
    decisions = line.presence("103", registered=False)
    assert stops(decisions) == [("a", "103", qe.MEMBER_UNAVAILABLE)]
    assert line.state.caller("a").tried == frozenset()  # it did not get the chance to answer


def test_wrap_up_delays_the_next_offer():
    line = busy_line(QueueSettings(Q, wrap_up_seconds=30), phones=("101",))
    line.join("a")
    line.presence("101", in_call=False)
    line.answer("a", "101")
    line.join("b")
    line.at(100)
    assert rings(line.end_call("101")) == []
    assert rings(line.at(129.9)) == []
    assert rings(line.at(130)) == [("b", "101")]
    assert qe.next_deadline(line.state, 129.9) == 130


def test_a_member_in_a_call_outside_the_queue_gets_no_offers():
    line = Line(QueueSettings(Q), phones=("101", "102"))
    line.presence("101", in_call=True)
    assert rings(line.join("a")) == [("a", "102")]


# Rule 3: up to N at once for the first caller, the rest to the next.

def test_three_members_ring_at_once_for_the_first_caller():
    line = Line(QueueSettings(Q, ring_at_once=3), phones=("101", "102", "103", "104"))
    assert rings(line.join("a")) == [("a", "101"), ("a", "102"), ("a", "103")]
    assert all(d.seconds == 15 for d in line.join("b") if isinstance(d, Ring))
    assert line.ringing("b") == ["104"]


def test_the_next_caller_gets_the_members_the_first_cannot_use():
    line = busy_line(QueueSettings(Q, ring_at_once=2), phones=("101", "102", "103"))
    line.join("a")
    line.join("b")
    line.presence("101", in_call=False)
    line.presence("102", in_call=False)
    assert rings(line.presence("103", in_call=False)) == [("b", "103")]
    assert line.ringing("a") == ["101", "102"]


def test_all_means_every_free_member():
    line = Line(QueueSettings(Q, ring_at_once=None), phones=("101", "102", "103", "104"))
    assert len(rings(line.join("a"))) == 4


def test_a_member_never_rings_for_two_callers_at_once():
    line = Line(QueueSettings(Q, ring_at_once=None))
    line.join("a")
    assert rings(line.join("b")) == []
    ringing = [r.phone for c in line.state.callers for r in c.ringing]
    assert sorted(ringing) == ["101", "102", "103"]


def test_members_serving_two_queues_take_callers_across_queues_by_arrival():
    queues = (QueueSettings(1), QueueSettings(2))
    state = QueueState(queues=queues, members=(Member("101", frozenset({1, 2}), in_call=True),))
    state = qe.join(state, "late-in-1", 1, "", 5, TODAY).state
    state = qe.join(state, "early-in-2", 2, "", 6, TODAY).state
    outcome = qe.presence_changed(state, "101", 7, in_call=False)
    assert rings(outcome.decisions) == [("late-in-1", "101")]


# Answer, hang-up, call end.

def test_the_first_to_answer_is_bridged_and_the_others_stop_ringing():
    line = Line(QueueSettings(Q, ring_at_once=3))
    line.join("a")
    line.join("b")
    line.at(3)
    decisions = line.answer("a", "102")
    assert decisions[0] == Bridge("a", "102")
    assert stops(decisions) == [("a", "101", qe.ANSWERED_ELSEWHERE),
                                ("a", "103", qe.ANSWERED_ELSEWHERE)]
    # the two members freed go to the next caller at once
    assert rings(decisions) == [("b", "101"), ("b", "103")]
    assert positions(decisions) == {"b": 1}
    assert line.state.member("102").in_call
    assert line.waiting() == ["b"]


def test_a_late_answer_for_a_caller_who_left_hangs_up_that_leg():
    line = Line(QueueSettings(Q))
    line.join("a")
    line.hang_up("a")
    decisions = line.answer("a", "101")
    assert decisions == [StopRinging("a", "101", qe.CALLER_GONE)]
    assert not line.state.member("101").in_call


def test_a_caller_hanging_up_while_members_ring_stops_the_ringing():
    line = Line(QueueSettings(Q, ring_at_once=2))
    line.join("a")
    line.join("b")
    line.join("c")
    decisions = line.hang_up("a")
    assert stops(decisions) == [("a", "101", qe.CALLER_GONE), ("a", "102", qe.CALLER_GONE)]
    assert rings(decisions) == [("b", "101"), ("c", "102")]  # b had only 103 of its 2
    assert positions(decisions) == {"b": 1, "c": 2}
    assert line.waiting() == ["b", "c"]


def test_when_a_call_ends_without_wrap_up_the_member_is_offered_at_once():
    line = busy_line(QueueSettings(Q), phones=("101",))
    line.join("a")
    assert rings(line.end_call("101")) == [("a", "101")]


# Rule 4: ring time, tried members, rounds.

def test_a_member_who_does_not_answer_in_the_ring_time_stops_and_counts_as_tried():
    line = Line(QueueSettings(Q, ring_seconds=10))
    line.join("a")
    assert rings(line.at(9.9)) == []
    decisions = line.at(10)
    assert stops(decisions) == [("a", "101", qe.RING_TIME_OVER)]
    assert rings(decisions) == [("a", "102")]
    assert line.state.caller("a").tried == {"101"}


def test_untried_members_come_first_and_then_a_new_round_starts():
    line = Line(QueueSettings(Q, ring_seconds=10))
    line.join("a")
    assert line.ringing("a") == ["101"]
    line.at(10)
    assert line.ringing("a") == ["102"]
    line.at(20)
    assert line.ringing("a") == ["103"]
    line.at(30)  # all three tried: the round starts again
    assert line.ringing("a") == ["101"]
    assert line.state.caller("a").tried == frozenset()
    line.at(40)
    assert line.ringing("a") == ["102"]


def test_after_a_round_each_caller_is_offered_the_member_they_have_not_tried():
    line = Line(QueueSettings(Q, ring_seconds=10), phones=("101", "102"))
    line.join("a")
    line.join("b")
    assert (line.ringing("a"), line.ringing("b")) == (["101"], ["102"])
    decisions = line.at(10)
    assert stops(decisions) == [("a", "101", qe.RING_TIME_OVER), ("b", "102", qe.RING_TIME_OVER)]
    assert rings(decisions) == [("a", "102"), ("b", "101")]


def test_when_every_member_rang_out_together_a_new_round_starts_at_once():
    line = Line(QueueSettings(Q, ring_seconds=10, ring_at_once=2), phones=("101", "102"))
    line.join("a")
    decisions = line.at(10)
    assert rings(decisions) == [("a", "101"), ("a", "102")]
    assert line.state.caller("a").tried == frozenset()


def test_while_the_round_still_rings_a_tried_member_goes_to_the_next_caller():
    line = Line(QueueSettings(Q, ring_seconds=10, ring_at_once=2), phones=("101", "102"))
    line.presence("102", in_call=True)
    line.join("a")  # 101 at 0
    line.now = 5
    assert rings(line.presence("102", in_call=False)) == [("a", "102")]  # 102 at 5
    line.now = 6
    line.join("b")
    decisions = line.at(10)  # 101 is over for a, whose round still rings 102
    assert stops(decisions) == [("a", "101", qe.RING_TIME_OVER)]
    assert rings(decisions) == [("b", "101")]
    assert line.ringing("a") == ["102"]


# Rule 5: the sticky operator.

def sticky_line() -> Line:
    """Number +7900x talked to phone 102 earlier today; now 101 and 102 are both busy, and
    caller "first" waits longer than the returning caller "back"."""
    line = Line(QueueSettings(Q, sticky=True), phones=("101", "102"))
    line.state = replace(line.state, sticky=(qe.StickyEntry("+7900x", TODAY, "102"),))
    line.presence("101", in_call=True)
    line.presence("102", in_call=True)
    line.now = 100
    line.join("first", number="+7900first")
    line.join("back", number="+7900x")
    return line


def test_a_returning_caller_gets_their_operator_first_when_that_operator_frees_first():
    line = sticky_line()
    assert rings(line.end_call("102")) == [("back", "102")]
    assert rings(line.end_call("101")) == [("first", "101")]
    assert [c.position for c in line.state.callers] == [1, 2]


def test_a_returning_caller_first_in_line_takes_another_member_who_frees_first():
    line = sticky_line()
    line.hang_up("first")
    assert rings(line.end_call("101")) == [("back", "101")]


def test_a_returning_caller_behind_others_keeps_their_place_when_another_member_frees_first():
    line = sticky_line()
    assert rings(line.end_call("101")) == [("first", "101")]
    line.answer("first", "101")
    assert rings(line.end_call("102")) == [("back", "102")]


def test_the_sticky_operator_was_yesterdays_so_order_of_arrival_rules():
    line = sticky_line()
    line.today = TOMORROW
    line.join("back-tomorrow", number="+7900x")
    line.hang_up("back")
    assert rings(line.end_call("102")) == [("first", "102")]


def test_stickiness_needs_the_queue_setting():
    line = sticky_line()
    line.state = replace(line.state, queues=(QueueSettings(Q, sticky=False),))
    line.hang_up("back")
    line.join("back", number="+7900x")
    assert rings(line.end_call("102")) == [("first", "102")]


def test_an_answer_remembers_the_operator_for_the_rest_of_the_day():
    line = Line(QueueSettings(Q, sticky=True), phones=())
    line.state = replace(line.state, members=(Member("101", frozenset({Q}), operator="ivanova"),
                                              Member("102", frozenset({Q}), operator="petrov")))
    line.join("a", number="+7900a")
    line.answer("a", "101")
    assert line.state.sticky == (qe.StickyEntry("+7900a", TODAY, "101", "ivanova"),)
    line.presence("102", in_call=True)
    line.join("other")
    line.join("again", number="+7900a")
    # ivanova sat down at phone 102 meanwhile: stickiness follows the operator
    line.state = replace(line.state, members=(
        replace(line.state.member("101"), operator="petrov"),
        replace(line.state.member("102"), operator="ivanova")))
    assert rings(line.presence("102", in_call=False)) == [("again", "102")]


def test_a_sticky_caller_already_ringing_n_members_swaps_the_newest_for_their_operator():
    line = Line(QueueSettings(Q, sticky=True, ring_at_once=1), phones=("101", "102"))
    line.state = replace(line.state, sticky=(qe.StickyEntry("+7900x", TODAY, "102"),))
    line.presence("102", in_call=True)
    line.join("back", number="+7900x")
    assert line.ringing("back") == ["101"]
    line.now = 2
    decisions = line.presence("102", in_call=False)
    assert stops(decisions) == [("back", "101", qe.STICKY_FIRST)]
    assert rings(decisions) == [("back", "102")]
    assert line.state.caller("back").tried == frozenset()


def test_a_sticky_operator_who_did_not_answer_is_not_preferred_again_this_round():
    line = Line(QueueSettings(Q, sticky=True, ring_seconds=10), phones=("101", "102"))
    line.state = replace(line.state, sticky=(qe.StickyEntry("+7900x", TODAY, "102"),))
    assert rings(line.join("back", number="+7900x")) == [("back", "102")]
    assert rings(line.at(10)) == [("back", "101")]


# Leaving without an answer.

def test_after_the_maximum_wait_the_caller_goes_to_the_configured_number():
    line = Line(QueueSettings(Q, max_wait_seconds=60, after_max_wait_number="93000",
                              ring_seconds=100), phones=("101",))
    line.join("a")
    line.join("b")
    line.now = 30
    line.join("c")
    decisions = line.at(60)
    assert stops(decisions) == [("a", "101", qe.CALLER_GONE)]
    assert [d for d in decisions if isinstance(d, Leave)] == [Leave("a", qe.MAX_WAIT, "93000"),
                                                             Leave("b", qe.MAX_WAIT, "93000")]
    assert rings(decisions) == [("c", "101")]
    assert positions(decisions) == {"c": 1}
    assert qe.next_deadline(line.state, 60) == 90


def test_with_stop_when_empty_and_no_member_online_the_caller_is_told_and_leaves():
    line = Line(QueueSettings(Q, stop_when_empty=True, when_empty_number="94000"),
                phones=("101",), registered=False)
    assert line.join("a") == [Leave("a", qe.NO_MEMBER_ONLINE, "94000")]
    assert line.waiting() == []


def test_stop_when_empty_sends_away_those_waiting_when_the_last_member_goes_offline():
    line = Line(QueueSettings(Q, stop_when_empty=True), phones=("101",))
    line.presence("101", in_call=True)
    line.join("a")
    decisions = line.presence("101", registered=False, in_call=False)
    assert decisions == [Leave("a", qe.NO_MEMBER_ONLINE, None)]


def test_a_paused_member_still_counts_as_online_for_stop_when_empty():
    line = Line(QueueSettings(Q, stop_when_empty=True), phones=("101",), accepting=False)
    assert line.join("a") == [Position("a", 1)]


def test_without_stop_when_empty_callers_wait_for_members_to_come_online():
    line = Line(QueueSettings(Q), phones=("101",), registered=False)
    line.join("a")
    assert rings(line.presence("101", registered=True)) == [("a", "101")]


# Rule 7 and restarts.

def test_decisions_are_the_same_for_the_same_input():
    def run():
        line = Line(QueueSettings(Q, ring_at_once=2, ring_seconds=7))
        decisions = []
        for i, caller in enumerate("abcde"):
            line.now = i
            decisions += line.join(caller)
        decisions += line.at(7) + line.answer("b", "103") + line.at(14)
        return decisions
    assert run() == run()


def test_the_longest_free_member_is_offered_first():
    line = Line(QueueSettings(Q), phones=("101", "102", "103"))
    line.state = replace(line.state, members=tuple(
        Member(p, frozenset({Q}), wrap_up_until=t)
        for p, t in (("101", 50.0), ("102", None), ("103", 20.0))))
    line.now = 60
    assert rings(line.join("a")) == [("a", "102")]
    assert rings(line.join("b")) == [("b", "103")]


def test_a_restart_keeps_everyones_place_order_and_rings():
    line = Line(QueueSettings(Q, ring_at_once=2, ring_seconds=10, sticky=True, wrap_up_seconds=5),
                phones=("101", "102", "103"))
    line.join("a", number="+7900a")
    line.answer("a", "101")
    line.now = 1
    for caller in ("b", "c", "d"):
        line.join(caller)
    line.at(10)
    line.end_call("101")
    before = line.state
    stored = json.loads(json.dumps(qe.to_rows(before)))
    stored["callers"].reverse()  # a database returns rows in no particular order
    stored["rings"].reverse()
    after = qe.from_rows(stored)
    assert after == before
    assert [(c.id, c.position) for c in after.callers] == [("b", 1), ("c", 2), ("d", 3)]
    # and the restarted engine decides as the old one would have
    assert qe.tick(after, 15) == qe.tick(before, 15)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        QueueSettings(Q, ring_at_once=0)
    with pytest.raises(ValueError):
        QueueSettings(Q, ring_seconds=0)
    with pytest.raises(ValueError):
        qe.join(QueueState(), "a", 7, "", 0, TODAY)


# Every rule at once: random days of a small contact center, the invariants checked after
# every event (seeded, so a failure replays).

def check_invariants(state: QueueState, now: float) -> None:
    queues = {q.id: q for q in state.queues}
    members = {m.phone: m for m in state.members}
    ringing = [r.phone for c in state.callers for r in c.ringing]
    assert len(ringing) == len(set(ringing)), "a member rings for two callers"
    orders = [c.order for c in state.callers]
    assert orders == sorted(set(orders)), "callers out of arrival order"
    told: dict[int, list[int]] = {}
    for c in state.callers:
        q = queues[c.queue]
        told.setdefault(c.queue, []).append(c.position)
        assert len(c.ringing) <= (q.ring_at_once or len(members))
        assert list(c.ringing) == sorted(c.ringing)
        for r in c.ringing:
            m = members[r.phone]
            assert m.can_ring(now) and c.queue in m.queues, f"{m} rings for {c.id}"
            assert r.since + q.ring_seconds > now, "a ring past its time"
        assert q.max_wait_seconds is None or c.arrived + q.max_wait_seconds > now
    assert all(p == list(range(1, len(p) + 1)) for p in told.values()), told
    for m in members.values():
        if m.can_ring(now) and m.phone not in ringing:
            for c in state.callers:
                q = queues[c.queue]
                if c.queue in m.queues and len(c.ringing) < (q.ring_at_once or len(members)):
                    # only a member tried this round may stay free, while the round rings
                    assert m.phone in c.tried and c.ringing, f"{m.phone} left free for {c.id}"
    assert qe.from_rows(json.loads(json.dumps(qe.to_rows(state)))) == state


@pytest.mark.parametrize("seed", range(40))
def test_random_days_keep_every_rule(seed):
    rng = random.Random(seed)
    queues = tuple(QueueSettings(q, ring_seconds=rng.choice([5, 10]),
                                 ring_at_once=rng.choice([1, 2, 3, None]),
                                 wrap_up_seconds=rng.choice([0, 3]), sticky=rng.random() < 0.5,
                                 stop_when_empty=rng.random() < 0.3,
                                 max_wait_seconds=rng.choice([None, 60]))
                   for q in (1, 2, 3))
    members = tuple(Member(f"10{i}", frozenset(rng.sample([1, 2, 3], rng.randint(1, 2))),
                           operator=rng.choice([None, f"op{i}"])) for i in range(6))
    state, now, count = QueueState(queues, members), 0.0, 0
    for _ in range(300):
        event = rng.random()
        ringing = [(c.id, r.phone) for c in state.callers for r in c.ringing]
        if event < 0.25:
            count += 1
            outcome = qe.join(state, f"c{count}", rng.choice([1, 2, 3]),
                              f"+7900{rng.randint(1, 8)}", now, TODAY)
        elif event < 0.45:
            now += rng.choice([0.5, 1, 3, 5, 10])
            outcome = qe.tick(state, now)
        elif event < 0.6 and ringing:
            outcome = qe.answered(state, *rng.choice(ringing), now, TODAY)
        elif event < 0.7:
            outcome = qe.hung_up(state, rng.choice([f"c{i}" for i in range(count + 1)]), now)
        elif event < 0.85:
            outcome = qe.call_ended(state, rng.choice(members).phone, now)
        else:
            change = rng.choice(["registered", "accepting", "in_call"])
            outcome = qe.presence_changed(state, rng.choice(members).phone, now,
                                          **{change: rng.random() < 0.7})
        state = outcome.state
        check_invariants(state, now)


def test_a_members_status_says_what_an_operator_is_doing():
    """The Queues page shows each member as offline, paused, talking, ringing, wrap-up or free."""
    queue = qe.QueueSettings(1, ring_seconds=10, wrap_up_seconds=30)
    state = qe.QueueState(queues=(queue,), members=(
        qe.Member("101", frozenset({1})), qe.Member("102", frozenset({1}), registered=False),
        qe.Member("103", frozenset({1}), accepting=False),
        qe.Member("104", frozenset({1}), in_call=True, call_queue=1),
        qe.Member("105", frozenset({1}), wrap_up_until=130.0)))
    state = qe.join(state, "c1", 1, "5550001", 100.0, TODAY).state
    statuses = {m.phone: qe.member_status(state, m.phone, 100.0) for m in state.members}
    assert statuses == {"101": "ringing", "102": "offline", "103": "paused", "104": "talking",
                        "105": "wrap-up"}
    assert qe.member_status(state, "105", 130.0) == "free"


# A ring Asterisk could not start (busy, rejected, unreachable).

def test_a_ring_that_fails_at_once_counts_as_tried_and_the_next_member_rings():
    line = Line(QueueSettings(Q, ring_seconds=10))
    line.join("a")
    assert line.ringing("a") == ["101"]
    line.now = 0.5
    decisions = line._apply(qe.ring_failed(line.state, "a", "101", line.now))
    assert rings(decisions) == [("a", "102")]
    assert line.state.caller("a").tried == {"101"}


def test_a_phone_that_refuses_is_not_rung_again_before_its_ring_time_is_over():
    line = Line(QueueSettings(Q, ring_seconds=10), phones=("101",))
    line.join("a")
    line.now = 0.5
    assert rings(line._apply(qe.ring_failed(line.state, "a", "101", line.now))) == []
    assert qe.member_status(line.state, "101", line.now) == qe.WRAP_UP
    assert qe.next_deadline(line.state, line.now) == 10
    assert rings(line.at(10)) == [("a", "101")]


def test_a_failure_report_of_a_ring_that_is_over_changes_nothing():
    line = Line(QueueSettings(Q, ring_seconds=10))
    line.join("a")
    line.answer("a", "101")
    before = line.state
    assert line._apply(qe.ring_failed(line.state, "a", "101", 1)) == []
    assert line.state == before


# The configuration changes (Apply, registrations, operators' toggles).

def test_reconfiguring_keeps_calls_and_wrap_ups_and_takes_new_members():
    line = Line(QueueSettings(Q, ring_seconds=10, wrap_up_seconds=30), phones=("101",))
    line.join("a")
    line.answer("a", "101")
    line.now = 5
    line.end_call("101")
    line.join("b")
    members = (Member("101", frozenset({Q}), operator="anna"), Member("102", frozenset({Q})))
    decisions = line._apply(qe.reconfigured(line.state, line.state.queues, members, line.now))
    assert rings(decisions) == [("b", "102")]
    assert line.state.member("101").wrap_up_until == 35
    assert line.state.member("101").operator == "anna"


def test_a_member_removed_or_paused_stops_ringing_and_is_not_tried():
    line = Line(QueueSettings(Q, ring_seconds=10, ring_at_once=2), phones=("101", "102"))
    line.join("a")
    members = (Member("101", frozenset({Q}), accepting=False),)
    decisions = line._apply(qe.reconfigured(line.state, line.state.queues, members, 1))
    assert sorted(stops(decisions)) == [("a", "101", qe.MEMBER_UNAVAILABLE),
                                        ("a", "102", qe.MEMBER_UNAVAILABLE)]
    assert line.state.caller("a").tried == frozenset()
    assert [m.phone for m in line.state.members] == ["101"]


def test_a_queue_removed_while_callers_wait_keeps_its_settings_until_they_leave():
    queue = QueueSettings(Q, ring_seconds=10)
    line = Line(queue, phones=("101",))
    line.presence("101", in_call=True)
    line.join("a")
    line._apply(qe.reconfigured(line.state, (), line.state.members, 1))
    assert line.state.queues == (queue,)
    line.hang_up("a")
    line._apply(qe.reconfigured(line.state, (), line.state.members, 2))
    assert line.state.queues == ()


def test_a_member_removed_during_a_call_still_ends_it():
    line = Line(QueueSettings(Q, wrap_up_seconds=30), phones=("101",))
    line.join("a")
    line.answer("a", "101")
    line._apply(qe.reconfigured(line.state, line.state.queues, (), 1))
    assert line.state.member("101").queues == frozenset()
    line.now = 2
    line.end_call("101")
    line._apply(qe.reconfigured(line.state, line.state.queues, (), 3))
    assert line.state.members == ()


# Rule 8: callback entries.

def _callback(line: Line, caller_id: str, callback_id: int) -> list:
    return line._apply(qe.keep_for_callback(line.state, caller_id, callback_id, line.now))


def test_a_callback_entry_keeps_its_place_after_the_caller_hangs_up():
    line = Line(QueueSettings(Q), phones=("101",), registered=True, in_call=True)
    line.join("a")
    line.join("b")
    _callback(line, "a", 7)
    assert line.hang_up("a") == []
    assert line.waiting() == ["a", "b"]
    assert line.state.caller("a").callback == 7 and line.state.caller("a").position == 1
    line.end_call("101")
    assert line.ringing("a") == ["101"] and line.ringing("b") == []  # b does not get ahead


def test_the_member_who_answers_a_callback_entry_gets_the_bridge_decision_and_the_line_moves():
    line = Line(QueueSettings(Q), phones=("101",))
    line.join("a")
    _callback(line, "a", 7)
    line.hang_up("a")
    line.join("b")
    decisions = line.answer("a", "101")
    assert decisions[0] == Bridge("a", "101")
    assert Position("b", 1) in decisions and line.waiting() == ["b"]


def test_a_callback_entry_whose_member_does_not_answer_goes_to_the_next_member():
    line = Line(QueueSettings(Q, ring_seconds=10), phones=("101", "102"))
    line.join("a")
    _callback(line, "a", 7)
    line.hang_up("a")
    assert line.ringing("a") == ["101"]
    decisions = line.at(10)
    assert StopRinging("a", "101", qe.RING_TIME_OVER) in decisions
    assert Ring("a", "102", 10) in decisions


def test_a_callback_entry_never_leaves_by_the_maximum_wait_or_an_empty_queue():
    line = Line(QueueSettings(Q, max_wait_seconds=30, stop_when_empty=True), phones=("101",),
                in_call=True)
    line.join("a")
    line.join("b")
    _callback(line, "a", 7)
    line.hang_up("a")
    decisions = line.at(30)
    assert [d for d in decisions if isinstance(d, Leave)] == [Leave("b", qe.MAX_WAIT, None)]
    assert line.waiting() == ["a"]
    assert qe.next_deadline(line.state, 30) is None
    line.presence("101", registered=False)
    assert line.waiting() == ["a"]


def test_a_withdrawn_callback_entry_stops_ringing_and_the_line_moves():
    line = Line(QueueSettings(Q), phones=("101",))
    line.join("a")
    line.join("b")
    _callback(line, "a", 7)
    decisions = line._apply(qe.withdraw(line.state, "a", line.now))
    assert StopRinging("a", "101", qe.CALLER_GONE) in decisions
    assert line.waiting() == ["b"] and Position("b", 1) in decisions


def test_a_callback_entry_survives_the_rows():
    line = Line(QueueSettings(Q), phones=("101",), in_call=True)
    line.join("a")
    _callback(line, "a", 7)
    rows = json.loads(json.dumps(qe.to_rows(line.state)))
    assert qe.from_rows(rows) == line.state
    del rows["callers"][0]["callback"]  # a state stored before callbacks
    assert qe.from_rows(rows).caller("a").callback is None


def test_callback_entries_of_a_queue_that_is_gone_leave_and_callers_stay():
    line = Line(QueueSettings(Q), phones=("101",), in_call=True)
    line.join("a")
    line.join("b")
    _callback(line, "a", 7)
    decisions = line._apply(qe.reconfigured(line.state, (), line.state.members, line.now))
    assert line.waiting() == ["b"] and Position("b", 1) in decisions
