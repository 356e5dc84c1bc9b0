"""Calls made for callback requests (spec 8): an operator's Call, and a queue's callback entry.

Theory of operation
-------------------
A request (a ``callbacks`` row) is called by one call at a time.  Whoever
starts a call claims the request first with ONE conditional UPDATE
(``CLAIM``): it sets ``calling_by``/``calling_since`` only while the request
is open and nobody calls it (a claim older than ``CLAIM_STALE_MINUTES`` is
taken over: its server died).  Two operators pressing Call at once: one
UPDATE finds the row, the other finds none and is told who calls.  The claim
and the ``callback_calls`` row (the call's record) are written in one
transaction.

An operator's Call, step by step:

1. The admin claims the request and writes the call's row (operator, their
   bound phone, the citizen's number), then asks the server's AMI to
   originate the operator's phone into ``[telecenter-callback]``
   (``VAR_CALLBACK_CALL``: the row's id; the channel's uniqueid
   ``CALLBACK_CHANNEL_PREFIX`` + id).
2. The phone does not answer (or cannot ring): the originate's outcome comes
   back to ``ring_ended``: the row ends as ``operator_no_answer`` or
   ``failed`` and the claim is released.
3. The phone answers: route ``callback`` (``CallbackRoute``) records the
   answer and names the citizen's number in ``VAR_NEXT``; the dialplan dials
   it through ``[telecenter-dial-out]`` (the line whose outbound regex
   matches, as a phone dials out).
4. However the call ends (either side hangs up, the citizen does not
   answer, no line takes the number), the channel's hangup handler runs route
   ``callback-ended`` (``CallbackEndedRoute``) with Dial's status and the
   talk's seconds: the row gets its outcome (``dial_outcome``), the claim is
   released.  An operator marks the request done themselves, except one a
   queue keeps a place for (below).

A queue's callback entry (``ivr.queue_engine`` rule 8) differs in steps 1-3:
the queue rings its members as for any caller; the member who answers gets
the claim and a call row in the same transaction as the answer
(``QueueRuntime.answered``), and route ``queue-answer`` sends the member's leg
to dial the citizen.  Step 4 is the same, and there the request is marked
done when the citizen talked, and left open (for the operators) when not.
An entry whose request was done meanwhile (an operator called back) leaves
the line before the queue decides anything (``QueueRuntime``).

Every write is conditional on the row not having ended, so a report that
comes twice (or late) changes nothing.

A call whose end was never reported (the server was down when it ended, or
Asterisk restarted) would keep its request claimed.  Whenever the server
logs in to AMI (at start, and after Asterisk came back) ``close_lost``
compares the open rows with the channels Asterisk has: a row whose operator
leg is gone, and older than ``LOST_AFTER_SECONDS`` (a leg is made right after
its row), ends as ``interrupted`` and its request is free again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from dialplan import names
from ivr.cases import normalize_phone

log = logging.getLogger(__name__)

# A claim this old is taken over: the call that made it cannot still be going on.
CLAIM_STALE_MINUTES = 30

# The claim: one conditional UPDATE (parameters: who, request id); a row back means ours.
CLAIM = ("UPDATE callbacks SET calling_by = %s, calling_since = now()"
         " WHERE id = %s AND done_at IS NULL"
         f" AND (calling_by IS NULL OR calling_since < now() - interval '{CLAIM_STALE_MINUTES}"
         " minutes') RETURNING id, phone, source, queue_id")
# The claim's release once the call is over (parameter: request id).
RELEASE = ("UPDATE callbacks SET calling_by = NULL, calling_since = NULL"
           " WHERE id = %s")
# A call's row (callback id, operator login, operator phone, citizen); returns its id.
NEW_CALL = ("INSERT INTO callback_calls (callback_id, operator, operator_phone, citizen)"
            " VALUES (%s, %s, %s, %s) RETURNING id")

# An open call's row younger than this is never taken for lost: its leg may not exist yet.
LOST_AFTER_SECONDS = 60

# Outcomes of callback_calls.outcome.
TALKED = "talked"
OPERATOR_NO_ANSWER = "operator_no_answer"
CITIZEN_NO_ANSWER = "citizen_no_answer"
CITIZEN_BUSY = "citizen_busy"
FAILED = "failed"
INTERRUPTED = "interrupted"

# Originate's Reason codes (OriginateResponse) that mean the phone rang or was busy.
_RANG_REASONS = {"3", "5"}
_DIAL_OUTCOMES = {"ANSWER": TALKED, "NOANSWER": CITIZEN_NO_ANSWER, "BUSY": CITIZEN_BUSY,
                  "CANCEL": INTERRUPTED}
_CALL_ID = re.compile(r"[0-9]{1,18}")
_QUEUE_CALLER = re.compile(r"[0-9A-Za-z_.-]{1,100}")
_PHONE = re.compile(r"[0-9]{2,15}")


def channel_id(call_id: int) -> str:
    """The uniqueid of the operator leg of callback call ``call_id``."""
    return f"{names.CALLBACK_CHANNEL_PREFIX}{call_id}"


def call_of_channel(uniqueid: str) -> int | None:
    """The callback call id an operator leg's uniqueid names, or None."""
    if not uniqueid.startswith(names.CALLBACK_CHANNEL_PREFIX):
        return None
    rest = uniqueid[len(names.CALLBACK_CHANNEL_PREFIX):]
    return int(rest) if _CALL_ID.fullmatch(rest) else None


def ring_outcome(reason: str) -> str:
    """The outcome of a call whose operator never answered, from Originate's Reason: the
    phone rang (3) or was busy (5): no answer; anything else (0, 1, 8, refused): failed."""
    return OPERATOR_NO_ANSWER if reason in _RANG_REASONS else FAILED


def dial_outcome(dial_status: str, answered_seconds: str) -> str:
    """The outcome of a call from Dial's DIALSTATUS when the citizen's leg ended: ANSWER
    talked, NOANSWER/BUSY as said, CANCEL (the operator hung up first) interrupted;
    CHANUNAVAIL, CONGESTION or nothing (no line took the number) failed."""
    outcome = _DIAL_OUTCOMES.get(dial_status, FAILED)
    if outcome == TALKED and not answered_seconds.strip():
        return FAILED
    return outcome


@dataclass(frozen=True)
class Ended:
    """What ``PgCallbackCalls.ended`` found: the request, and the call's outcome."""

    callback_id: int
    outcome: str


class PgCallbackCalls:
    """The callback calls' rows through the FastAGI server's async pool."""

    def __init__(self, pool):
        self.pool = pool

    async def operator_answered(self, call_id: int) -> str | None:
        """The operator answered call ``call_id``: recorded; the citizen's number to dial, or
        None when the call is over already (or unknown)."""
        async with self.pool.connection() as conn:
            row = await (await conn.execute(
                "UPDATE callback_calls SET operator_answered_at = coalesce("
                "operator_answered_at, now()) WHERE id = %s AND ended_at IS NULL"
                " RETURNING citizen", (call_id,))).fetchone()
        return normalize_phone(row[0]) if row else None

    async def ring_ended(self, uniqueid: str, answered: bool, reason: str) -> None:
        """The originate of an operator leg ended; when the phone never answered the call
        ends here (its dialplan never ran) and the claim is released."""
        call_id = call_of_channel(uniqueid)
        if call_id is None or answered:
            return
        await self._end(call_id, ring_outcome(reason), None)

    async def ended(self, call_id: int, dial_status: str, answered_seconds: str) -> Ended | None:
        """The call's channel hung up: its outcome from Dial's status (see ``dial_outcome``);
        None when it had ended already."""
        outcome = dial_outcome(dial_status, answered_seconds)
        seconds = float(answered_seconds) if outcome == TALKED else None
        return await self._end(call_id, outcome, seconds)

    async def close_lost(self, live_channels: set[str]) -> int:
        """End as interrupted the open calls whose operator leg Asterisk no longer has
        (``live_channels``: every channel's uniqueid now), and free their requests."""
        async with self.pool.connection() as conn, conn.transaction():
            rows = await (await conn.execute(
                "UPDATE callback_calls SET ended_at = now(), outcome = %s"
                " WHERE ended_at IS NULL AND started_at < now() - make_interval(secs => %s)"
                " AND NOT coalesce(nullif(channel, ''), %s || id) = ANY(%s)"
                " RETURNING id, callback_id",
                (INTERRUPTED, LOST_AFTER_SECONDS, names.CALLBACK_CHANNEL_PREFIX,
                 sorted(live_channels)))).fetchall()
            for _call_id, callback_id in rows:
                await conn.execute(RELEASE, (callback_id,))
        if rows:
            log.warning("callback calls %s ended unrecorded (the server or Asterisk stopped"
                        " meanwhile): interrupted, their requests free again",
                        ", ".join(str(row[0]) for row in rows))
        return len(rows)

    async def _end(self, call_id: int, outcome: str, talk_seconds: float | None) -> Ended | None:
        async with self.pool.connection() as conn, conn.transaction():
            row = await (await conn.execute(
                "UPDATE callback_calls SET ended_at = now(), outcome = %s,"
                " citizen_answered_at = CASE WHEN %s::float8 IS NULL THEN NULL"
                " ELSE now() - make_interval(secs => %s::float8) END"
                " WHERE id = %s AND ended_at IS NULL RETURNING callback_id, operator,"
                " operator_phone", (outcome, talk_seconds, talk_seconds, call_id))).fetchone()
            if row is None:
                return None
            callback_id, operator, phone = row
            await conn.execute(RELEASE, (callback_id,))
            if outcome == TALKED:
                # A request a queue keeps a place for is done once the citizen talked (so
                # the place is not called again); otherwise the operator decides (done,
                # or "not before").
                await conn.execute(
                    "UPDATE callbacks SET done_at = now(), done_by = %s"
                    " WHERE id = %s AND done_at IS NULL"
                    " AND (source = 'queue' OR queue_id IS NOT NULL)",
                    (operator or phone, callback_id))
        log.info("callback call %s for request %s: %s", call_id, callback_id, outcome)
        return Ended(callback_id, outcome)


@dataclass
class CallbackRoute:
    """The operator answered their phone for a callback call: name the citizen to dial."""

    calls: PgCallbackCalls

    async def handle(self, call, args: tuple[str, ...]) -> None:
        call_id = args[0] if args else ""
        if not _CALL_ID.fullmatch(call_id):
            raise ValueError(f"not a callback call id: {call_id!r}")
        citizen = await self.calls.operator_answered(int(call_id))
        if citizen is None:
            call.events.event("scenario", f"call {call_id} is over: nothing to dial")
            await call.hangup()
            return
        call.events.event("scenario", f"call {call_id}: the operator answered, dialling {citizen}")
        await call.set_variable(names.VAR_NEXT, citizen)


@dataclass
class CallbackEndedRoute:
    """A callback call's channel hung up (its hangup handler): record how it ended; a
    queue member's talk ends too.  One argument: the call's id, Dial's status, the talk's
    seconds, the queue entry and the member's phone, joined by ':'."""

    calls: PgCallbackCalls
    queues: object  # ivr.queue_runtime.QueueRuntime

    async def handle(self, call, args: tuple[str, ...]) -> None:
        fields = (args[0] if args else "").split(":")
        call_id, dial_status, answered, queue_caller, phone = (tuple(fields) + ("",) * 5)[:5]
        if not _CALL_ID.fullmatch(call_id):
            raise ValueError(f"not a callback call id: {call_id!r}")
        if not re.fullmatch(r"[A-Z]{0,20}", dial_status) \
                or not re.fullmatch(r"[0-9]{0,9}(\.[0-9]{1,6})?", answered):
            raise ValueError(f"not Dial's status and seconds: {dial_status!r}, {answered!r}")
        ended = await self.calls.ended(int(call_id), dial_status, answered)
        if ended is not None:
            call.events.event("scenario", f"call {call_id} for request {ended.callback_id}:"
                              f" {ended.outcome}")
        if queue_caller and _QUEUE_CALLER.fullmatch(queue_caller) and _PHONE.fullmatch(phone):
            await self.queues.talk_ended(queue_caller, phone)
