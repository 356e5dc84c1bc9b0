"""Callback calls: the outcome rules, the one-UPDATE claim and the records, on a real
PostgreSQL (the calls themselves: tests/ivr/test_callback_asterisk.py)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from fastagi.database import open_pool
from ivr import callback_calls
from ivr.callback_calls import (CallbackEndedRoute, PgCallbackCalls, call_of_channel, channel_id,
                                dial_outcome, ring_outcome)


@pytest.mark.parametrize("status, seconds, outcome", [
    ("ANSWER", "35", "talked"), ("NOANSWER", "", "citizen_no_answer"),
    ("BUSY", "", "citizen_busy"), ("CANCEL", "", "interrupted"),
    ("CHANUNAVAIL", "", "failed"), ("CONGESTION", "", "failed"),
    ("", "", "failed"),  # no line took the number: Dial never ran
    ("ANSWER", "", "failed"),
])
def test_the_outcome_is_told_from_dials_status(status, seconds, outcome):
    assert dial_outcome(status, seconds) == outcome


@pytest.mark.parametrize("reason, outcome", [
    ("3", "operator_no_answer"), ("5", "operator_no_answer"), ("0", "failed"),
    ("1", "failed"), ("8", "failed"), ("no outcome", "failed")])
def test_an_operator_who_never_answered_is_told_from_originates_reason(reason, outcome):
    assert ring_outcome(reason) == outcome


def test_the_operator_leg_is_named_by_the_calls_id():
    assert channel_id(42) == "tcb-42" and call_of_channel("tcb-42") == 42
    assert call_of_channel("tcq-1796.5-101-1") is None and call_of_channel("tcb-x") is None


@pytest.fixture
def request_row(db):
    """An open request of 79995550001 (and its calls), gone afterwards."""
    row = db.execute("INSERT INTO callbacks (phone, source) VALUES ('79995550001', 'api')"
                     " RETURNING id").fetchone()
    yield row["id"]
    db.execute("DELETE FROM callbacks WHERE phone LIKE '7999555%'")


def claim(pg_url, who: str, callback_id: int):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        return conn.execute(callback_calls.CLAIM, (who, callback_id)).fetchone()


def test_of_two_claims_at_once_one_wins(pg_url, request_row, db):
    with ThreadPoolExecutor(2) as pool:
        won = list(pool.map(lambda who: claim(pg_url, who, request_row), ["anna", "boris"]))
    assert sum(1 for row in won if row is not None) == 1
    holder = db.execute("SELECT calling_by FROM callbacks WHERE id = %s",
                        (request_row,)).fetchone()["calling_by"]
    assert holder in ("anna", "boris")
    assert claim(pg_url, "anna", request_row) is None  # held: nobody else
    db.execute("UPDATE callbacks SET calling_since = now() - interval '2 hours'"
               " WHERE id = %s", (request_row,))
    assert claim(pg_url, "boris", request_row) is not None  # a claim whose server died


def test_a_done_request_is_not_claimed(pg_url, request_row, db):
    db.execute("UPDATE callbacks SET done_at = now() WHERE id = %s", (request_row,))
    assert claim(pg_url, "anna", request_row) is None


def run(pg_url, work):
    async def go():
        pool = await open_pool(pg_url, max_size=2)
        try:
            return await work(PgCallbackCalls(pool))
        finally:
            await pool.close()
    return asyncio.run(go())


def new_call(db, callback_id: int) -> int:
    db.execute(callback_calls.CLAIM, ("anna", callback_id))
    return db.execute(callback_calls.NEW_CALL, (callback_id, "anna", "201", "79995550001")
                      ).fetchone()["id"]


def test_a_talk_is_recorded_once_and_frees_the_request(pg_url, request_row, db):
    call_id = new_call(db, request_row)
    assert run(pg_url, lambda calls: calls.operator_answered(call_id)) == "79995550001"
    ended = run(pg_url, lambda calls: calls.ended(call_id, "ANSWER", "12"))
    assert ended.outcome == "talked"
    assert run(pg_url, lambda calls: calls.ended(call_id, "NOANSWER", "")) is None  # once
    row = db.execute("SELECT * FROM callback_calls WHERE id = %s", (call_id,)).fetchone()
    assert row["outcome"] == "talked"
    assert 11 <= (row["ended_at"] - row["citizen_answered_at"]).total_seconds() <= 13
    request = db.execute("SELECT calling_by, done_at FROM callbacks WHERE id = %s",
                         (request_row,)).fetchone()
    assert request == {"calling_by": None, "done_at": None}  # the operator marks it done
    assert run(pg_url, lambda calls: calls.operator_answered(call_id)) is None  # over


def test_a_queues_request_is_done_when_the_citizen_talked(pg_url, request_row, db):
    db.execute("UPDATE callbacks SET source = 'queue', queue_id = 1 WHERE id = %s",
               (request_row,))
    call_id = new_call(db, request_row)
    run(pg_url, lambda calls: calls.ended(call_id, "ANSWER", "3"))
    assert db.execute("SELECT done_by FROM callbacks WHERE id = %s",
                      (request_row,)).fetchone()["done_by"] == "anna"


def test_a_queues_request_not_reached_stays_open(pg_url, request_row, db):
    db.execute("UPDATE callbacks SET source = 'queue', queue_id = 1 WHERE id = %s",
               (request_row,))
    call_id = new_call(db, request_row)
    run(pg_url, lambda calls: calls.ended(call_id, "BUSY", ""))
    assert db.execute("SELECT done_at, calling_by FROM callbacks WHERE id = %s",
                      (request_row,)).fetchone() == {"done_at": None, "calling_by": None}


def test_an_operator_ring_that_got_no_answer_ends_the_call(pg_url, request_row, db):
    call_id = new_call(db, request_row)
    run(pg_url, lambda calls: calls.ring_ended(channel_id(call_id), False, "3"))
    run(pg_url, lambda calls: calls.ring_ended(channel_id(call_id), True, ""))  # no change
    row = db.execute("SELECT outcome, ended_at FROM callback_calls WHERE id = %s",
                     (call_id,)).fetchone()
    assert row["outcome"] == "operator_no_answer" and row["ended_at"] is not None
    assert db.execute("SELECT calling_by FROM callbacks WHERE id = %s",
                      (request_row,)).fetchone()["calling_by"] is None


class FakeCall:
    """What the route touches of a call: its steps."""

    class Events:
        def __init__(self):
            self.seen = []

        def event(self, kind, detail):
            self.seen.append((kind, detail))

    def __init__(self):
        self.events = self.Events()


class FakeQueues:
    def __init__(self):
        self.ended = []

    async def talk_ended(self, caller_id, phone):
        self.ended.append((caller_id, phone))


@pytest.mark.parametrize("argument", ["1;DROP:ANSWER:3::", "12:ANSWER:3\nagi_x: 1::"])
def test_the_ended_route_refuses_what_is_not_its_arguments(pg_url, argument):
    route = CallbackEndedRoute(PgCallbackCalls(None), FakeQueues())
    with pytest.raises(ValueError):
        asyncio.run(route.handle(FakeCall(), (argument,)))


def test_the_ended_route_ends_a_queue_members_talk(pg_url, request_row, db):
    call_id = new_call(db, request_row)
    queues = FakeQueues()
    call = FakeCall()

    async def work(calls):
        await CallbackEndedRoute(calls, queues).handle(
            call, (f"{call_id}:ANSWER:4:1796.5:201",))

    run(pg_url, work)
    assert queues.ended == [("1796.5", "201")]
    assert ("scenario", f"call {call_id} for request {request_row}: talked") in call.events.seen


def test_calls_whose_leg_is_gone_unrecorded_end_interrupted_and_free_their_requests(
        pg_url, request_row, db):
    lost = new_call(db, request_row)
    talking_request = db.execute("INSERT INTO callbacks (phone, source) VALUES ('79995550002',"
                                 " 'api') RETURNING id").fetchone()["id"]
    db.execute(callback_calls.CLAIM, ("boris", talking_request))
    talking = db.execute(callback_calls.NEW_CALL, (talking_request, "", "202", "79995550002")
                         ).fetchone()["id"]
    db.execute("UPDATE callback_calls SET channel = 'tcq-1796.5-202-1' WHERE id = %s", (talking,))
    db.execute("UPDATE callback_calls SET started_at = now() - interval '5 minutes'"
               " WHERE id IN (%s, %s)", (lost, talking))
    fresh_request = db.execute("INSERT INTO callbacks (phone, source) VALUES ('79995550003',"
                               " 'api') RETURNING id").fetchone()["id"]
    db.execute(callback_calls.CLAIM, ("anna", fresh_request))
    fresh = db.execute(callback_calls.NEW_CALL, (fresh_request, "anna", "201", "79995550003")
                       ).fetchone()["id"]  # its leg is being made now

    # Asterisk has the queue member's leg of the second call; the first call's leg is gone.
    closed = run(pg_url, lambda calls: calls.close_lost({"tcq-1796.5-202-1", "other"}))
    assert closed == 1
    outcomes = {row["id"]: row["outcome"] for row in db.execute(
        "SELECT id, outcome FROM callback_calls WHERE id IN (%s, %s, %s)", (lost, talking, fresh))}
    assert outcomes == {lost: "interrupted", talking: None, fresh: None}
    claims = {row["id"]: row["calling_by"] for row in db.execute(
        "SELECT id, calling_by FROM callbacks WHERE id IN (%s, %s, %s)",
        (request_row, talking_request, fresh_request))}
    assert claims == {request_row: None, talking_request: "boris", fresh_request: "anna"}
    assert run(pg_url, lambda calls: calls.close_lost(set())) == 1  # now the talk's leg is gone too
    assert run(pg_url, lambda calls: calls.ended(lost, "ANSWER", "3")) is None  # a late report
