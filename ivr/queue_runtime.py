"""The queues at run time: the engine's state in PostgreSQL, its decisions carried out.

Theory of operation
-------------------
``ivr.queue_engine`` decides; this module is the state machine around it.
Every change is an *event*: a caller joins, a member answers, a caller hangs
up or presses a key, a talk ends, a ring fails, time passes (a timer set to
the engine's ``next_deadline``), a phone registers, the operators or the
applied plan change.  Events are applied one at a time (one lock per
process, and the row lock below across servers):

1. In one transaction, ``SELECT ... FOR UPDATE`` the single ``queue_state``
   row.  When its version is the one this process wrote last, the state
   kept in memory is used; otherwise (another server wrote, or we just
   started) it is read from the row (``queue_engine.from_rows``).
2. The configuration is brought up to date (``queue_engine.reconfigured``):
   the queues of the applied plan, their member phones, which are registered
   (``fastagi.contacts.PhonePresence``; while unknown, as they were), and
   the operator bound to each phone with their toggle (``ivr.operators``).
   Callback entries (engine rule 8) whose request was done meanwhile leave.
3. The event is applied (a pure function: new state, decisions).
4. The new state is written with version + 1, and the queue call records
   (``queue_calls``) follow in the same transaction: joined, each position
   told, each phone rung, answered by whom after how long, gave up, left.
5. After the commit, the decisions are carried out in order through
   ``QueueActions``: ``Ring`` originates the member's phone (its outcome, if
   a failure, comes back later as the ``ring_failed`` event), ``StopRinging``
   hangs that ring up, ``Leave`` sets the reason and the next number on the
   caller's channel and redirects it, ``Bridge`` marks the caller's route as
   finished well (the member's route, which asked, then bridges), ``Position``
   needs nothing: the caller's route reads positions from the state.
6. The timer is set again to the engine's next deadline.

A caller who presses the queue's callback key becomes a callback entry
(``callback_requested``): the request is written (source 'queue') in the
same transaction, their queue call keeps no channel any more (nothing to
redirect or bridge), and their hangup changes nothing.  When a member
answers an entry, the request is claimed and the callback call's row written
with the answer (``ivr.callback_calls``); the member's route then has the
dialplan dial the citizen.

The routes (``ivr.queue_route``) never bridge or redirect by themselves: the
caller's route holds the caller and reports a key; the member's route
reports the answer and the end of the talk.  A caller who hangs up is seen
in Asterisk's ``Hangup`` event (by the channel's uniqueid, the caller's id),
not in the route: a server that stops also ends its routes, and the callers
must keep their places then.  After every AMI login the callers whose
channel is gone (they hung up while we could not hear) are let go.  A member
whose phone is busy with a call outside the queues (its device state, from
``DeviceStateChange``) is not offered until that call ends.

Rings are named: the originated channel's uniqueid is ``ring_id(caller,
phone, since)``, so any server can hang up a ring another one started, and
a failure reported for an older ring of the same pair is told apart from the
ring now under way.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from psycopg.types.json import Jsonb

from dialplan import names
from dialplan.configuration import Queue
from fastagi.contacts import ONLINE
from fastagi.route_status import STATUS_OK, VAR_STATUS
from ivr import queue_engine as engine
from ivr.queue_engine import Bridge, Leave, Member, Position, QueueSettings, QueueState, Ring, \
    StopRinging
from ivr.callback_calls import CLAIM, NEW_CALL
from ivr.cases import normalize_phone
from ivr.operators import Operator, operator_bindings

log = logging.getLogger(__name__)

# What a queue call record says of a caller who left unanswered, by the engine's reason.
OUTCOME_BY_REASON = {engine.MAX_WAIT: "max_wait", engine.NO_MEMBER_ONLINE: "no_member"}
# What the leave context is told, by the engine's reason.
LEAVE_REASON = {engine.MAX_WAIT: names.QUEUE_REASON_MAX_WAIT,
                engine.NO_MEMBER_ONLINE: names.QUEUE_REASON_NO_MEMBER}
# How many recent answered calls of a queue, and how far back, estimate the wait.
WAIT_SAMPLE_CALLS = 20
WAIT_SAMPLE_HOURS = 2
# Names that reach a channel name or a channel variable through AMI.
_PHONE = re.compile(r"[0-9A-Za-z_.+-]{1,64}")
_CALLER_ID = re.compile(r"[0-9A-Za-z_.-]{1,100}")


# Pure parts.

def ring_id(caller: str, phone: str, since: float) -> str:
    """The uniqueid of the channel that rings ``phone`` for ``caller`` since ``since``."""
    return f"tcq-{caller}-{phone}-{round(since * 1000)}"


def engine_queue(queue: Queue) -> QueueSettings:
    """A configured queue as the engine needs it ('' numbers: the call ends)."""
    return QueueSettings(
        id=queue.id, ring_seconds=float(queue.ring_seconds), ring_at_once=queue.ring_at_once,
        wrap_up_seconds=float(queue.wrap_up_seconds), sticky=queue.sticky,
        stop_when_empty=queue.stop_when_empty, when_empty_number=queue.when_empty_number or None,
        max_wait_seconds=None if queue.max_wait_seconds is None else float(queue.max_wait_seconds),
        after_max_wait_number=queue.after_max_wait_number or None)


def engine_members(queues, registered: dict[str, str] | None,
                   operators: dict[str, Operator], before: QueueState) -> tuple[Member, ...]:
    """The member phones of ``queues`` with their registration (as ``before`` had it while
    ``registered`` is unknown), operator and toggle."""
    serving: dict[str, set[int]] = {}
    for queue in queues:
        for phone in queue.members:
            serving.setdefault(phone, set()).add(queue.id)
    members = []
    for phone, queue_ids in sorted(serving.items()):
        if registered is None:
            old = before.member(phone)
            online = old.registered if old is not None else False
        else:
            online = registered.get(phone) == ONLINE
        operator = operators.get(phone)
        members.append(Member(phone, frozenset(queue_ids), registered=online,
                              accepting=operator.accepting if operator else True,
                              operator=operator.login if operator else None))
    return tuple(members)


def estimate_wait(samples: list[tuple[float, int]], position: int) -> int | None:
    """Seconds a caller at ``position`` may still wait, from recent answered calls
    (their wait, and the position each had when it joined): the line moves one place
    in their average wait per place.  None without samples."""
    per_place = [wait / max(first, 1) for wait, first in samples if wait is not None]
    if not per_place or position < 1:
        return None
    return round(sum(per_place) / len(per_place) * position)


# Device states (AMI DeviceStateChange) of a phone that is busy, whoever it talks to.
BUSY_DEVICE_STATES = frozenset({"INUSE", "BUSY", "RINGINUSE", "ONHOLD"})


def outside_call_change(state: QueueState, phone: str, device_state: str) -> bool | None:
    """Whether a member's phone began (True) or ended (False) a call outside the queues,
    from its device state; None when nothing changes.

    The queues' own rings and talks change the device state too: a phone ringing for a
    queue caller, or talking to one (``call_queue`` set), is the queue's business
    (``answered``, ``talk_ended``), so only a free member becoming busy starts an
    outside call, and only an outside call (no ``call_queue``) ends by going idle.
    """
    member = state.member(phone)
    if member is None:
        return None
    ringing = any(r.phone == phone for c in state.callers for r in c.ringing)
    if device_state in BUSY_DEVICE_STATES:
        return True if not member.in_call and not ringing else None
    if device_state == "NOT_INUSE":
        return False if member.in_call and member.call_queue is None else None
    return None


# I/O.

class QueueActions(Protocol):
    """What carrying out the decisions needs from Asterisk (``fastagi.queue_calls_ami``)."""

    async def ring(self, ring_id: str, channel: str, context: str, seconds: float,
                   caller_id: str, variables: dict[str, str]): ...

    async def hang_up(self, channel_or_id: str) -> bool: ...

    async def set_variables(self, channel: str, variables: dict[str, str]) -> None: ...

    async def redirect(self, channel: str, context: str, exten: str = "s",
                       priority: int = 1) -> None: ...

    async def live_channels(self) -> set[str]: ...

    async def device_states(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class BridgeTarget:
    """The caller an answering member is to be bridged with; for a callback entry, the
    callback call to make instead (``callback_call`` None then: the request was done or
    is being called by somebody else, and the member's leg hangs up)."""

    channel: str
    external: bool
    callback: bool = False
    callback_call: int | None = None
    citizen: str = ""


_LOCK_STATE = "SELECT version, state FROM queue_state WHERE id = 1 FOR UPDATE"


async def _locked_state_row(conn) -> tuple:
    """(version, rows) of the state row, locked for this transaction; a row somebody
    deleted is made again empty (no caller waits, as in a fresh database), never an error
    that would stop the server taking calls."""
    row = await (await conn.execute(_LOCK_STATE)).fetchone()
    if row is None:
        await conn.execute("INSERT INTO queue_state (id) VALUES (1) ON CONFLICT DO NOTHING")
        row = await (await conn.execute(_LOCK_STATE)).fetchone()
    return row


class QueueRuntime:
    """Applies queue events one at a time against PostgreSQL and carries out the decisions."""

    def __init__(self, pool, plans, actions: QueueActions | None, presence=None,
                 clock: Callable[[], float] = time.time,
                 operators: Callable[[object], Awaitable[dict]] = operator_bindings):
        self.pool = pool
        self.plans = plans
        self.actions = actions
        self.presence = presence
        self.clock = clock
        self._read_operators = operators
        self._operators: dict[str, Operator] = {}
        self._lock = asyncio.Lock()
        self._state: QueueState | None = None
        self._version: int | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task] = set()
        self._refresh_pending = False
        self._stopped = False

    # Lifecycle and outside changes.

    async def start(self) -> None:
        """Read the operators and the stored state, and take up the deadlines."""
        await self.refresh_operators()
        await self.tick()

    def stop(self) -> None:
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()

    def listen(self, ami) -> None:
        """Follow Asterisk: callers hanging up, phones registering, logins (resync)."""
        ami.on_events(["Hangup"], self._on_hangup)
        ami.on_events(["DeviceStateChange"], self._on_device_state)
        ami.on_login(self.resync)
        if self.presence is not None:
            self.presence.on_change(self.refresh_soon)

    async def refresh_operators(self) -> None:
        """Read who is bound to which phone again (the admin notified a change)."""
        self._operators = await self._read_operators(self.pool)

    async def operators_changed(self) -> None:
        """The admin changed a binding or a toggle: read the operators, then decide."""
        await self.refresh_operators()
        await self.tick()

    def refresh_soon(self) -> None:
        """Look at registrations and the plan again soon (several changes, one event)."""
        if self._refresh_pending or self._stopped:
            return
        self._refresh_pending = True

        async def refresh():
            self._refresh_pending = False
            await self.tick()

        self.spawn(refresh())

    def spawn(self, coro) -> asyncio.Task:
        """Run ``coro`` in the background; its failure is logged, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("queue task failed", exc_info=task.exception())

    # What the routes ask.

    @property
    def can_ring(self) -> bool:
        """Whether members can be rung at all (no AMI connection configured: never)."""
        return self.actions is not None

    def position(self, caller_id: str) -> int | None:
        """The caller's position in their queue as last decided, or None when not waiting."""
        caller = self._state.caller(caller_id) if self._state is not None else None
        return caller.position or None if caller is not None else None

    def waiting(self, caller_id: str) -> bool:
        return self._state is not None and self._state.caller(caller_id) is not None

    async def join(self, queue: Queue, caller_id: str, channel: str, number: str,
                   external: bool) -> bool:
        """The caller enters ``queue``; True while they hold a place (also when they held
        it already: a route run again after a server restart), False when their queue
        call is already over."""
        if not _CALLER_ID.fullmatch(caller_id):
            raise ValueError(f"not a channel uniqueid: {caller_id!r}")
        result = {}

        def event(state, now):
            if state.caller(caller_id) is not None:
                result["waiting"] = True
                return None
            result["waiting"] = None  # decided by the record below
            return engine.join(state, caller_id, queue.id, number, now,
                               datetime.date.fromtimestamp(now))

        async def record(conn, now, before, outcome):
            if result["waiting"]:
                return
            cur = await conn.execute(
                "INSERT INTO queue_calls (caller_id, queue_id, channel, number, external,"
                " joined_at) VALUES (%s, %s, %s, %s, %s, to_timestamp(%s))"
                " ON CONFLICT (caller_id) DO NOTHING", (caller_id, queue.id, channel, number,
                                                        external, now))
            result["waiting"] = cur.rowcount == 1
            if not result["waiting"]:
                raise _Rollback()  # a finished queue call is not joined again

        await self._apply(event, record)
        return bool(result["waiting"])

    async def answered(self, caller_id: str, phone: str) -> BridgeTarget | None:
        """The member ``phone`` answered for ``caller_id``: whom to bridge, or None when the
        answer came too late (the member's leg is to hang up)."""
        target = {}

        def event(state, now):
            if state.member(phone) is None:
                return None
            return engine.answered(state, caller_id, phone, now, datetime.date.fromtimestamp(now))

        async def record(conn, now, before, outcome):
            if not any(isinstance(d, Bridge) and d.caller == caller_id
                       for d in outcome.decisions):
                return
            caller = before.caller(caller_id)
            if caller is not None and caller.callback is not None:
                target["bridge"] = await _claim_callback(conn, caller, before.member(phone))
                return
            row = await (await conn.execute(
                "SELECT channel, external FROM queue_calls WHERE caller_id = %s",
                (caller_id,))).fetchone()
            if row is not None:
                target["bridge"] = BridgeTarget(row[0], row[1])

        await self._apply(event, record)
        return target.get("bridge")

    async def talk_ended(self, caller_id: str, phone: str) -> None:
        """The member's talk with the caller ended: wrap-up starts, the talk is recorded."""

        def event(state, now):
            return engine.call_ended(state, phone, now) if state.member(phone) else None

        async def record(conn, now, before, outcome):
            await conn.execute(
                "UPDATE queue_calls SET ended_at = to_timestamp(%s),"
                " talk_seconds = greatest(0, %s - extract(epoch FROM answered_at))"
                " WHERE caller_id = %s AND outcome = 'answered' AND ended_at IS NULL",
                (now, now, caller_id))

        await self._apply(event, record)

    async def caller_left(self, caller_id: str, outcome: str = "gave_up") -> None:
        """A waiting caller hung up ('gave_up') or pressed a queue key ('key'); a callback
        entry's caller hangs up on purpose and keeps the place."""

        def event(state, now):
            return engine.hung_up(state, caller_id, now) if state.caller(caller_id) else None

        async def record(conn, now, before, result):
            caller = before.caller(caller_id)
            if caller is None or caller.callback is not None:
                return
            await conn.execute(
                "UPDATE queue_calls SET outcome = %s, ended_at = to_timestamp(%s),"
                " wait_seconds = %s - extract(epoch FROM joined_at)"
                " WHERE caller_id = %s AND outcome = 'waiting'", (outcome, now, now, caller_id))

        await self._apply(event, record)

    async def callback_requested(self, caller_id: str) -> int | None:
        """The caller pressed the queue's callback key: a callback request for their number
        (source 'queue'; the number's open request when it has one) and they keep their
        place as a callback entry.  The request's id; None when the caller no longer
        waits or has no number to call back (nothing changes then)."""
        result = {}

        async def prepare(conn, state, now):
            caller = state.caller(caller_id)
            phone = normalize_phone(caller.number) if caller is not None else None
            if caller is None or phone is None:
                raise _Rollback()
            if caller.callback is not None:
                result["id"] = caller.callback
                return
            row = await (await conn.execute(
                "INSERT INTO callbacks (phone, source, queue_id) VALUES (%s, 'queue', %s)"
                " ON CONFLICT (phone) WHERE done_at IS NULL"
                " DO UPDATE SET queue_id = EXCLUDED.queue_id RETURNING id",
                (phone, caller.queue))).fetchone()
            result["id"] = row[0]
            # Nobody is on the line any more: no redirect, bridge or channel variable.
            await conn.execute("UPDATE queue_calls SET channel = '' WHERE caller_id = %s",
                               (caller_id,))

        def event(state, now):
            caller = state.caller(caller_id)
            if caller is None or caller.callback is not None:
                return None
            return engine.keep_for_callback(state, caller_id, result["id"], now)

        await self._apply(event, prepare=prepare)
        return result.get("id")

    async def ring_failed(self, caller_id: str, phone: str, since: float) -> None:
        """Asterisk says the ring of ``phone`` for ``caller_id`` started at ``since`` did not
        get an answer (a report about an older ring of that pair changes nothing)."""

        def event(state, now):
            caller = state.caller(caller_id)
            if caller is None or not any(r.phone == phone and abs(r.since - since) < 1e-3
                                         for r in caller.ringing):
                return None
            return engine.ring_failed(state, caller_id, phone, now)

        await self._apply(event)

    async def device_changed(self, phone: str, device_state: str) -> None:
        """A member's phone changed its device state: a call outside the queues began or
        ended (the member is not offered meanwhile)."""

        def event(state, now):
            busy = outside_call_change(state, phone, device_state)
            return None if busy is None else engine.presence_changed(state, phone, now,
                                                                     in_call=busy)

        await self._apply(event)

    async def tick(self) -> None:
        """Time passed (or the configuration changed): what is due happens."""
        await self._apply(lambda state, now: engine.tick(state, now))

    async def estimated_wait(self, caller_id: str) -> int | None:
        """Seconds the caller may still wait, from the queue's recent answered calls."""
        caller = self._state.caller(caller_id) if self._state is not None else None
        if caller is None or not caller.position:
            return None
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(
                "SELECT wait_seconds, coalesce(positions[1], 1) FROM queue_calls"
                " WHERE queue_id = %s AND outcome = 'answered'"
                " AND answered_at > now() - make_interval(hours => %s)"
                " ORDER BY answered_at DESC LIMIT %s",
                (caller.queue, WAIT_SAMPLE_HOURS, WAIT_SAMPLE_CALLS))).fetchall()
        return estimate_wait([(w, p) for w, p in rows], caller.position)

    async def resync(self) -> None:
        """After an AMI login: what happened unheard.  Callers gone are let go, and the
        member phones' device states are read (a call outside the queues)."""
        await self.let_go_vanished_callers()
        members = {p for q in self.plans.current().queues.values() for p in q.members}
        for device, device_state in (await self.actions.device_states()).items():
            phone = device[len("PJSIP/"):] if device.startswith("PJSIP/") else ""
            if phone in members:
                await self.device_changed(phone, device_state)

    async def let_go_vanished_callers(self) -> None:
        """After an AMI login: callers whose channel is gone hung up unheard; let them go."""
        if self.actions is None:
            return
        await self.tick()  # the state as stored, so a fresh server knows its callers
        known = [c.id for c in self._state.callers if c.callback is None] if self._state else []
        live = await self.actions.live_channels()  # after ``known``: a newer caller is no ghost
        for caller_id in known:
            if caller_id not in live:
                log.info("queue caller %s is gone from Asterisk: gave up", caller_id)
                await self.caller_left(caller_id)

    def _on_device_state(self, event) -> None:
        device = str(event.get("Device", ""))
        phone = device[len("PJSIP/"):] if device.startswith("PJSIP/") else ""
        if phone and any(phone in q.members for q in self.plans.current().queues.values()):
            self.spawn(self.device_changed(phone, str(event.get("State", ""))))

    def _on_hangup(self, event) -> None:
        caller_id = str(event.get("Uniqueid", ""))
        if self.waiting(caller_id):
            self.spawn(self.caller_left(caller_id))

    # The one way state changes.

    async def _apply(self, event, record=None, prepare=None) -> None:
        async with self._lock:
            decisions, callers, rings = await self._transaction(event, record, prepare)
            if decisions is None:
                return
            for decision in decisions:
                await self._carry_out(decision, callers, rings)
            self._set_timer()

    async def _transaction(self, event, record, prepare=None):
        plan = self.plans.current()
        registered = self.presence.states() if self.presence is not None else None
        try:
            async with self.pool.connection() as conn, conn.transaction():
                version, rows = await _locked_state_row(conn)
                state = (self._state if version == self._version and self._state is not None
                         else engine.from_rows(rows))
                rings = {(c.id, r.phone): r.since for c in state.callers for r in c.ringing}
                now = self.clock()
                configured = engine.reconfigured(
                    state, tuple(engine_queue(q) for q in plan.queues.values()),
                    engine_members(plan.queues.values(), registered, self._operators, state), now)
                if prepare is not None:  # reads or writes the event needs first
                    await prepare(conn, configured.state, now)
                configured = await _withdraw_closed_callbacks(conn, configured, now)
                outcome = event(configured.state, now)
                if outcome is None:
                    outcome = engine.Outcome(configured.state)
                decisions = configured.decisions + outcome.decisions
                if record is not None:
                    await record(conn, now, configured.state, outcome)
                await self._record_decisions(conn, now, configured.state, decisions)
                callers = await self._caller_channels(conn, decisions)
                if outcome.state != state or version != self._version:
                    version, = await (await conn.execute(
                        "UPDATE queue_state SET version = version + 1, state = %s,"
                        " updated_at = now() WHERE id = 1 RETURNING version",
                        (Jsonb(engine.to_rows(outcome.state)),))).fetchone()
        except _Rollback:
            return None, None, None
        self._state, self._version = outcome.state, version
        return decisions, callers, rings

    async def _record_decisions(self, conn, now, before: QueueState, decisions) -> None:
        """The queue call records follow the decisions (same transaction)."""
        for d in decisions:
            if isinstance(d, Ring):
                await conn.execute(
                    "UPDATE queue_calls SET offered_to = offered_to || %s::text"
                    " WHERE caller_id = %s", (d.phone, d.caller))
            elif isinstance(d, Position):
                await conn.execute(
                    "UPDATE queue_calls SET positions = positions || %s::int"
                    " WHERE caller_id = %s", (d.position, d.caller))
            elif isinstance(d, Bridge):
                member = before.member(d.phone)
                await conn.execute(
                    "UPDATE queue_calls SET outcome = 'answered', answered_phone = %s,"
                    " answered_operator = %s, answered_at = to_timestamp(%s),"
                    " wait_seconds = %s - extract(epoch FROM joined_at)"
                    " WHERE caller_id = %s AND outcome = 'waiting'",
                    (d.phone, member.operator if member else None, now, now, d.caller))
            elif isinstance(d, Leave):
                await conn.execute(
                    "UPDATE queue_calls SET outcome = %s, ended_at = to_timestamp(%s),"
                    " wait_seconds = %s - extract(epoch FROM joined_at)"
                    " WHERE caller_id = %s AND outcome = 'waiting'",
                    (OUTCOME_BY_REASON.get(d.reason, "gave_up"), now, now, d.caller))

    async def _caller_channels(self, conn, decisions) -> dict[str, tuple[str, str]]:
        """Caller id -> (channel, number) for the callers the decisions act on."""
        wanted = sorted({d.caller for d in decisions if isinstance(d, (Ring, Leave, Bridge))})
        if not wanted:
            return {}
        rows = await (await conn.execute(
            "SELECT caller_id, channel, number FROM queue_calls WHERE caller_id = ANY(%s)",
            (wanted,))).fetchall()
        return {caller_id: (channel, number) for caller_id, channel, number in rows}

    async def _carry_out(self, decision, callers, rings) -> None:
        """One decision; ``rings`` ((caller, phone) -> since) names the rings to stop."""
        if self.actions is None:
            log.warning("queue decision %s not carried out: no AMI connection", decision)
            return
        if isinstance(decision, Ring):
            since = self._ring_since(decision.caller, decision.phone)
            if since is not None:
                rings[(decision.caller, decision.phone)] = since
                number = callers.get(decision.caller, ("", ""))[1]
                self.spawn(self._ring(decision, since, number))
        elif isinstance(decision, StopRinging):
            since = rings.pop((decision.caller, decision.phone), None)
            if since is not None:  # else a late answer: its own route hangs up
                self.spawn(self.actions.hang_up(ring_id(decision.caller, decision.phone, since)))
        elif isinstance(decision, Leave):
            channel = callers.get(decision.caller, ("", ""))[0]
            if channel:
                self.spawn(self._send_away(channel, decision))
        elif isinstance(decision, Bridge):
            channel = callers.get(decision.caller, ("", ""))[0]
            if channel:
                # The caller's route is over when the member's route bridges: its dialplan
                # ends the call after the talk instead of running the route again.
                try:
                    await self.actions.set_variables(channel, {VAR_STATUS: STATUS_OK})
                except Exception as exc:  # the caller vanished: the bridge will say so
                    log.info("caller %s before the bridge: %s", decision.caller, exc)

    def _ring_since(self, caller_id: str, phone: str) -> float | None:
        caller = self._state.caller(caller_id)
        ring = next((r for r in caller.ringing if r.phone == phone), None) if caller else None
        return ring.since if ring else None

    async def _ring(self, decision: Ring, since: float, number: str) -> None:
        if not (_PHONE.fullmatch(decision.phone) and _CALLER_ID.fullmatch(decision.caller)):
            log.error("queue ring refused: phone %r, caller %r", decision.phone, decision.caller)
            await self.ring_failed(decision.caller, decision.phone, since)
            return
        outcome = await self.actions.ring(
            ring_id(decision.caller, decision.phone, since), f"PJSIP/{decision.phone}",
            names.CONTEXT_QUEUE_OPERATOR, decision.seconds, number,
            {names.VAR_QUEUE_CALLER: decision.caller, names.VAR_QUEUE_PHONE: decision.phone})
        if not outcome.answered:
            log.info("ring of %s for %s failed (%s)", decision.phone, decision.caller,
                     outcome.reason)
            await self.ring_failed(decision.caller, decision.phone, since)

    async def _send_away(self, channel: str, decision: Leave) -> None:
        await self.actions.set_variables(channel, {
            names.VAR_QUEUE_REASON: LEAVE_REASON.get(decision.reason, ""),
            names.VAR_NEXT: decision.number or ""})
        await self.actions.redirect(channel, names.CONTEXT_QUEUE_LEAVE)

    def _set_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._stopped or self._state is None:
            return
        now = self.clock()
        deadline = engine.next_deadline(self._state, now)
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, deadline - now) + 0.01,
                                          lambda: self.spawn(self.tick()))


async def _withdraw_closed_callbacks(conn, configured: engine.Outcome,
                                     now: float) -> engine.Outcome:
    """Callback entries whose request was done meanwhile (an operator called back) leave
    the line before anything is decided."""
    entries = {c.callback: c.id for c in configured.state.callers if c.callback is not None}
    if not entries:
        return configured
    rows = await (await conn.execute(
        "SELECT id FROM callbacks WHERE id = ANY(%s) AND done_at IS NULL",
        (list(entries),))).fetchall()
    state, decisions = configured.state, configured.decisions
    for callback_id in set(entries) - {row[0] for row in rows}:
        withdrawn = engine.withdraw(state, entries[callback_id], now)
        state, decisions = withdrawn.state, decisions + withdrawn.decisions
    return engine.Outcome(state, decisions)


async def _claim_callback(conn, caller: engine.Caller, member: Member | None) -> BridgeTarget:
    """The member answered a callback entry: claim its request (``ivr.callback_calls``) and
    write the call's row, with the member's answer; refused when the request was done or
    somebody else calls it now."""
    operator = member.operator if member is not None and member.operator else ""
    phone = member.phone if member is not None else ""
    claimed = await (await conn.execute(CLAIM, (operator or phone, caller.callback))).fetchone()
    if claimed is None:
        return BridgeTarget("", False, callback=True)
    call_id, = await (await conn.execute(NEW_CALL, (caller.callback, operator, phone,
                                                    claimed[1]))).fetchone()
    ring = next((r for r in caller.ringing if r.phone == phone), None)
    await conn.execute("UPDATE callback_calls SET operator_answered_at = now(), channel = %s"
                       " WHERE id = %s",
                       (ring_id(caller.id, phone, ring.since) if ring else "", call_id))
    return BridgeTarget("", False, callback=True, callback_call=call_id, citizen=claimed[1])


class _Rollback(Exception):
    """Raised inside the transaction to undo an event that must not happen."""
