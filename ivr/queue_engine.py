"""The queue engine: who waits in what order, and which members ring for whom (spec 7).

Theory of operation
-------------------
The FastAGI server, not Asterisk's app_queue, is the queue.  This module is
its brain and nothing else: every function here takes the whole state and the
time ``now`` (seconds, given by the caller: the engine reads no clock), and
returns a new state and the decisions to carry out, in order.  It does no
I/O; ringing, bridging and telling the caller are the caller's business, and
so is storing the state (plain rows, see ``to_rows``/``from_rows``), so a
restart or a second server on the same database loses no caller's place.

The state:

- queues (``QueueSettings``): ring seconds per member, how many members ring
  at once for one caller (N, or all), wrap-up seconds after a call, sticky
  operator on/off, stop waiting when no member is online (and where the
  caller goes then), an optional maximum wait (and where the caller goes then);
- members (``Member``): a phone; registered, accepting queue calls (the
  operator's toggle), in a call, in wrap-up until when, the queues it serves,
  and the operator (user) bound to it, if any;
- waiting callers (``Caller``): queue, arrival time and order, number, the
  members already tried in the current round, the members ringing for them
  now and since when, their last told position, and their sticky operator;
- the sticky memory (``StickyEntry``): which phone and operator a number
  talked to, and on which day (the caller of ``answered`` and ``join``
  says what "today" is).

Events: ``join``, ``tick`` (time passed), ``answered``, ``hung_up``, ``keep_for_callback``,
``call_ended``, ``presence_changed``, ``ring_failed`` (a ring Asterisk could
not start or that ended unanswered before its time) and ``reconfigured``
(the applied queues, their members, registrations and operators).  Each applies its change, then
settles the state at ``now`` in this order: rings past their ring time stop
(the member counts as tried for that caller); callers past their maximum wait
leave to the configured number; in a stop-when-empty queue with no member
online (registered), every waiting caller is told and leaves; free members
are offered (below); the callers whose position in their queue changed are
told their new position.  ``next_deadline`` says when ``tick`` has
something to do next.

The rules:

1. Callers are served in order of arrival (``order``, given at ``join``;
   across queues too, for members serving several queues).  A caller never
   loses their place: hanging up, answering or leaving only moves those
   behind up.
2. A member is free when registered, accepting queue calls, not in a call,
   not ringing for anyone and not in wrap-up (``wrap_up_until`` <= now).
   Online means registered: a paused member is online but never offered.
   A ringing member who goes offline, pauses or takes another call stops
   ringing, and is not counted as tried.
3. Free members are offered to the first waiting caller who can use them:
   up to N at once for that caller (counting the members already ringing for
   them), then the next caller in line gets the remaining free members.
   A member rings for one caller at a time, never for two.
4. A member who did not answer in their ring time is tried: they are not
   rung again for that caller in this round while another free member of the
   queue is untried for them.  When every free member of the queue was tried
   and nothing rings for the caller any more, a new round starts (tried is
   forgotten).  Members who cannot ring (offline, paused, busy) are not
   waited for.
5. Sticky operator: in a queue with sticky on, a caller who talked to
   operator X (the user bound to the phone then, else the phone) earlier the
   same day (looked up when they join) is offered to X first as soon as X is
   free, before anyone who waits longer, unless X was already tried in this
   round; this pass over the free members comes before rule 3's.  Among several
   callers sticky to X, the earliest arrival wins.  If the caller already
   rings N members, their newest ring stops (the member is not counted as
   tried and is free for others) so X can ring within N.  If another member
   frees first and the caller is first in line, they take that member
   (rule 3): stickiness only adds priority, it never costs a place.
6. When a member answers, the caller is bridged to them, the caller's other
   rings stop, the caller leaves the line and the member is in a call; the
   sticky memory remembers the pair for today.  When the call ends the
   member is in wrap-up for the queue's wrap-up seconds.
7. Deterministic: the same state, event and ``now`` give the same result.
   Ties: free members are offered longest free first (``wrap_up_until``,
   never-busy first), then by phone; rings of a caller are kept ordered by
   (since, phone), and "newest" is the last of that order.
8. Callback entries (spec 8): a waiting caller who presses the queue's
   callback key (``keep_for_callback``) stays in line as a callback entry
   (``Caller.callback``: the request's id) and hangs up; hanging up no longer
   moves those behind up.  The entry is offered members exactly as a caller
   on the line (rules 1-5); when a member answers, the caller of the
   decisions dials the citizen from the member's phone instead of bridging.
   An entry never leaves by the maximum wait nor for want of a member online:
   nobody is on the line to tell, and the request waits for the next member.

As rows (``to_rows``), the state is five tables: queues, members, callers,
rings (caller, phone, since; a phone at most once: rule 3) and sticky; the
callers' order and told positions are columns, so a reloaded state decides
exactly as the one before the restart.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace

# Why a ring stopped (``StopRinging.reason``).
RING_TIME_OVER = "ring time over"
ANSWERED_ELSEWHERE = "answered elsewhere"
CALLER_GONE = "caller gone"
MEMBER_UNAVAILABLE = "member unavailable"
STICKY_FIRST = "sticky operator first"

# Why a caller left the queue without an answer (``Leave.reason``).
MAX_WAIT = "max wait"
NO_MEMBER_ONLINE = "no member online"


@dataclass(frozen=True)
class QueueSettings:
    """One queue's settings, as the engine needs them."""

    id: int
    ring_seconds: float = 15.0
    ring_at_once: int | None = 1  # None: all free members at once
    wrap_up_seconds: float = 0.0
    sticky: bool = False
    stop_when_empty: bool = False
    when_empty_number: str | None = None  # None: the call ends
    max_wait_seconds: float | None = None  # None: wait for ever
    after_max_wait_number: str | None = None  # None: the call ends

    def __post_init__(self):
        if self.ring_seconds <= 0:
            raise ValueError(f"queue {self.id}: ring time must be positive")
        if self.ring_at_once is not None and self.ring_at_once < 1:
            raise ValueError(f"queue {self.id}: at least one member must ring at once")
        if self.wrap_up_seconds < 0:
            raise ValueError(f"queue {self.id}: wrap-up cannot be negative")
        if self.max_wait_seconds is not None and self.max_wait_seconds <= 0:
            raise ValueError(f"queue {self.id}: maximum wait must be positive")


@dataclass(frozen=True)
class Member:
    """A phone that answers queue calls, and what the engine knows of it."""

    phone: str
    queues: frozenset[int]
    registered: bool = True
    accepting: bool = True  # the operator's "accept queue calls" toggle
    in_call: bool = False
    call_queue: int | None = None  # the queue whose caller it talks to, if any
    wrap_up_until: float | None = None  # also: free since, for fairness
    operator: str | None = None  # the user bound to the phone

    def can_ring(self, now: float) -> bool:
        """Registered, accepting, not in a call and out of wrap-up (rings are not looked at)."""
        return (self.registered and self.accepting and not self.in_call
                and (self.wrap_up_until is None or self.wrap_up_until <= now))


@dataclass(frozen=True, order=True)
class Ringing:
    """A member ringing for a caller since a time."""

    since: float
    phone: str


@dataclass(frozen=True)
class Caller:
    """A caller waiting in a queue."""

    id: str
    queue: int
    number: str
    arrived: float
    order: int  # arrival order, unique among waiting callers
    position: int = 0  # the position last told (0: not told yet)
    tried: frozenset[str] = frozenset()  # phones that did not answer this round
    ringing: tuple[Ringing, ...] = ()  # ordered by (since, phone)
    sticky_phone: str | None = None
    sticky_operator: str | None = None  # when set, it is what stickiness follows
    callback: int | None = None  # a callback entry: the request's id (rule 8)

    def sticks_to(self, member: Member) -> bool:
        """True when ``member`` is this caller's operator of earlier today."""
        if self.sticky_operator is not None:
            return member.operator == self.sticky_operator
        return self.sticky_phone is not None and member.phone == self.sticky_phone


@dataclass(frozen=True)
class StickyEntry:
    """The member a number last talked to, and on which day."""

    number: str
    day: datetime.date
    phone: str
    operator: str | None = None


@dataclass(frozen=True)
class QueueState:
    """Everything the engine decides on; sorted canonically (see ``from_rows``)."""

    queues: tuple[QueueSettings, ...] = ()
    members: tuple[Member, ...] = ()
    callers: tuple[Caller, ...] = ()  # by order
    sticky: tuple[StickyEntry, ...] = ()  # by number

    def caller(self, caller_id: str) -> Caller | None:
        """The waiting caller with this id, or None."""
        return next((c for c in self.callers if c.id == caller_id), None)

    def member(self, phone: str) -> Member | None:
        """The member with this phone, or None."""
        return next((m for m in self.members if m.phone == phone), None)


# Decisions, carried out in the order given.

@dataclass(frozen=True)
class Ring:
    """Ring ``phone`` for ``caller`` for ``seconds``."""

    caller: str
    phone: str
    seconds: float


@dataclass(frozen=True)
class StopRinging:
    """Stop ringing ``phone`` for ``caller`` (or hang up its leg, if it just answered)."""

    caller: str
    phone: str
    reason: str


@dataclass(frozen=True)
class Bridge:
    """Connect ``caller`` with the member ``phone``, who answered."""

    caller: str
    phone: str


@dataclass(frozen=True)
class Leave:
    """``caller`` leaves the queue unanswered: told why, sent to ``number`` or hung up."""

    caller: str
    reason: str
    number: str | None


@dataclass(frozen=True)
class Position:
    """``caller`` is now number ``position`` in their queue (say it again)."""

    caller: str
    position: int


@dataclass(frozen=True)
class Outcome:
    """The state after an event, and what to do about it."""

    state: QueueState
    decisions: tuple = field(default=())


# Events.

def join(state: QueueState, caller_id: str, queue_id: int, number: str, now: float,
         today: datetime.date) -> Outcome:
    """A caller enters a queue at ``now``: last in line, sticky to today's operator if any."""
    queues = {q.id: q for q in state.queues}
    if queue_id not in queues:
        raise ValueError(f"no queue {queue_id}")
    if state.caller(caller_id) is not None:
        raise ValueError(f"caller {caller_id} already waits")
    sticky_phone = sticky_operator = None
    if queues[queue_id].sticky and number:
        entry = next((e for e in state.sticky if e.number == number and e.day == today), None)
        if entry is not None:
            sticky_phone, sticky_operator = entry.phone, entry.operator
    order = max((c.order for c in state.callers), default=0) + 1
    caller = Caller(caller_id, queue_id, number, now, order,
                    sticky_phone=sticky_phone, sticky_operator=sticky_operator)
    return _settle(replace(state, callers=state.callers + (caller,)), now, [], renumber=True)


def tick(state: QueueState, now: float) -> Outcome:
    """Time passed: ring times, maximum waits and wrap-ups that are over take effect."""
    return _settle(state, now, [])


def answered(state: QueueState, caller_id: str, phone: str, now: float,
             today: datetime.date) -> Outcome:
    """The member ``phone`` answered the ring for ``caller_id``.

    A late answer (the caller gone, or the ring already stopped) is refused
    with a ``StopRinging`` for that leg, and nothing else changes.
    """
    caller = state.caller(caller_id)
    member = _member(state, phone)
    if caller is None or all(r.phone != phone for r in caller.ringing):
        return _settle(state, now, [StopRinging(caller_id, phone, CALLER_GONE)])
    decisions = [Bridge(caller_id, phone)]
    decisions += [StopRinging(caller_id, r.phone, ANSWERED_ELSEWHERE)
                  for r in caller.ringing if r.phone != phone]
    members = tuple(replace(m, in_call=True, call_queue=caller.queue) if m.phone == phone else m
                    for m in state.members)
    sticky = state.sticky
    if caller.number:
        kept = [e for e in state.sticky if e.day == today and e.number != caller.number]
        kept.append(StickyEntry(caller.number, today, phone, member.operator))
        sticky = tuple(sorted(kept, key=lambda e: e.number))
    callers = tuple(c for c in state.callers if c.id != caller_id)
    new = replace(state, members=members, callers=callers, sticky=sticky)
    return _settle(new, now, decisions, renumber=True)


def hung_up(state: QueueState, caller_id: str, now: float) -> Outcome:
    """The caller hung up while waiting: their rings stop and those behind move up.
    A callback entry's caller hangs up on purpose: the entry keeps its place (rule 8)."""
    caller = state.caller(caller_id)
    if caller is None or caller.callback is not None:
        return _settle(state, now, [])
    decisions = [StopRinging(caller_id, r.phone, CALLER_GONE) for r in caller.ringing]
    callers = tuple(c for c in state.callers if c.id != caller_id)
    return _settle(replace(state, callers=callers), now, decisions, renumber=True)


def keep_for_callback(state: QueueState, caller_id: str, callback_id: int,
                      now: float) -> Outcome:
    """The caller pressed the callback key: they keep their place as a callback entry for
    request ``callback_id``, their rings go on (rule 8).  Nothing changes for a caller
    who no longer waits."""
    caller = state.caller(caller_id)
    if caller is None:
        return _settle(state, now, [])
    changed = replace(caller, callback=callback_id)
    callers = tuple(changed if c.id == caller_id else c for c in state.callers)
    return _settle(replace(state, callers=callers), now, [])


def withdraw(state: QueueState, caller_id: str, now: float) -> Outcome:
    """A callback entry leaves the line without a call (its request was done or is being
    called elsewhere): its rings stop and those behind move up."""
    caller = state.caller(caller_id)
    if caller is None:
        return _settle(state, now, [])
    decisions = [StopRinging(caller_id, r.phone, CALLER_GONE) for r in caller.ringing]
    callers = tuple(c for c in state.callers if c.id != caller_id)
    return _settle(replace(state, callers=callers), now, decisions, renumber=True)


def call_ended(state: QueueState, phone: str, now: float) -> Outcome:
    """The member's call ended: wrap-up for the queue's seconds, then offers again.

    A second report of the same end changes nothing."""
    member = _member(state, phone)
    if not member.in_call:
        return _settle(state, now, [])
    queues = {q.id: q for q in state.queues}
    wrap = queues[member.call_queue].wrap_up_seconds if member.call_queue in queues else 0.0
    changed = replace(member, in_call=False, call_queue=None, wrap_up_until=now + wrap)
    members = tuple(changed if m.phone == phone else m for m in state.members)
    return _settle(replace(state, members=members), now, [])


def presence_changed(state: QueueState, phone: str, now: float, *, registered: bool | None = None,
                     accepting: bool | None = None, in_call: bool | None = None) -> Outcome:
    """The phone registered or went away, the operator toggled accepting, or a call
    outside the queues began or ended.  A member who can no longer ring stops
    ringing (not counted as tried)."""
    member = _member(state, phone)
    changes = {name: value for name, value in
               (("registered", registered), ("accepting", accepting), ("in_call", in_call))
               if value is not None}
    changed = replace(member, **changes)
    members = tuple(changed if m.phone == phone else m for m in state.members)
    decisions = []
    callers = state.callers
    if not changed.can_ring(now):
        callers = []
        for c in state.callers:
            if any(r.phone == phone for r in c.ringing):
                decisions.append(StopRinging(c.id, phone, MEMBER_UNAVAILABLE))
                c = replace(c, ringing=tuple(r for r in c.ringing if r.phone != phone))
            callers.append(c)
        callers = tuple(callers)
    return _settle(replace(state, members=members, callers=callers), now, decisions)


def ring_failed(state: QueueState, caller_id: str, phone: str, now: float) -> Outcome:
    """Ringing ``phone`` for ``caller_id`` failed (busy, rejected, unreachable, hung up
    before its time): it counts as a ring whose time is over, so the member is tried,
    and the member rests until that ring's time would have been over, so a phone that
    refuses at once is not rung again and again meanwhile (for anyone).

    A report about a ring that no longer exists (already stopped, answered, the
    caller gone) changes nothing."""
    caller = state.caller(caller_id)
    ring = None if caller is None else next((r for r in caller.ringing if r.phone == phone), None)
    if ring is None:
        return _settle(state, now, [])
    changed = replace(caller, ringing=tuple(r for r in caller.ringing if r is not ring),
                      tried=caller.tried | {phone})
    callers = tuple(changed if c.id == caller_id else c for c in state.callers)
    rest_until = ring.since + {q.id: q for q in state.queues}[caller.queue].ring_seconds
    members = tuple(replace(m, wrap_up_until=max(rest_until, m.wrap_up_until or 0.0))
                    if m.phone == phone else m for m in state.members)
    return _settle(replace(state, callers=callers, members=members), now, [])


def reconfigured(state: QueueState, queues: tuple[QueueSettings, ...],
                 members: tuple[Member, ...], now: float) -> Outcome:
    """The queues and their members as configured now, with each member's registration,
    accepting toggle and operator; what the engine learnt itself (calls, wrap-ups,
    rings) is kept.

    A queue that is gone keeps its settings while callers still wait in it (its callback
    entries leave: nobody would ring for them, and their requests stay open); a member
    that is gone stays (serving no queue) while it is in a call, so its end is still
    counted.  A ring that can no longer be (the member gone, offline, paused, or no
    longer serving that queue) stops, not counted as tried.
    """
    settings = {q.id: q for q in queues}
    orphans = [c for c in state.callers if c.callback is not None and c.queue not in settings]
    if orphans:
        state = replace(state, callers=tuple(c for c in state.callers if c not in orphans))
    for q in state.queues:
        if q.id not in settings and any(c.queue == q.id for c in state.callers):
            settings[q.id] = q
    old = {m.phone: m for m in state.members}
    new = {}
    for m in members:
        before = old.get(m.phone)
        new[m.phone] = m if before is None else replace(
            m, in_call=before.in_call, call_queue=before.call_queue,
            wrap_up_until=before.wrap_up_until)
    for phone, before in old.items():
        if phone not in new and before.in_call:
            new[phone] = replace(before, queues=frozenset())
    decisions = []
    callers = []
    for c in state.callers:
        gone = [r for r in c.ringing
                if r.phone not in new or c.queue not in new[r.phone].queues
                or not new[r.phone].can_ring(now)]
        if gone:
            decisions.extend(StopRinging(c.id, r.phone, MEMBER_UNAVAILABLE) for r in gone)
            c = replace(c, ringing=tuple(r for r in c.ringing if r not in gone))
        callers.append(c)
    changed = replace(state, queues=tuple(sorted(settings.values(), key=lambda q: q.id)),
                      members=tuple(sorted(new.values(), key=lambda m: m.phone)),
                      callers=tuple(callers))
    return _settle(changed, now, decisions, renumber=bool(orphans))


def next_deadline(state: QueueState, now: float) -> float | None:
    """The earliest time after ``now`` at which ``tick`` would change something, or None."""
    queues = {q.id: q for q in state.queues}
    times = [m.wrap_up_until for m in state.members if m.wrap_up_until is not None]
    for c in state.callers:
        q = queues[c.queue]
        times += [r.since + q.ring_seconds for r in c.ringing]
        if q.max_wait_seconds is not None and c.callback is None:
            times.append(c.arrived + q.max_wait_seconds)
    return min((t for t in times if t > now), default=None)



# A member's status as operators and the admin see it (spec 7, 15).
OFFLINE = "offline"
PAUSED = "paused"
TALKING = "talking"
RINGING = "ringing"
WRAP_UP = "wrap-up"
FREE = "free"


def member_status(state: QueueState, phone: str, now: float) -> str:
    """Offline (not registered), paused (not accepting), talking, ringing, wrap-up or free."""
    member = _member(state, phone)
    if not member.registered:
        return OFFLINE
    if not member.accepting:
        return PAUSED
    if member.in_call:
        return TALKING
    if any(r.phone == phone for c in state.callers for r in c.ringing):
        return RINGING
    if member.wrap_up_until is not None and member.wrap_up_until > now:
        return WRAP_UP
    return FREE

# Settling: what is due at ``now``.

def _settle(state: QueueState, now: float, decisions: list, renumber: bool = False) -> Outcome:
    queues = {q.id: q for q in state.queues}
    callers = list(state.callers)
    _ring_times_over(callers, queues, now, decisions)
    left = _max_waits_over(callers, queues, now, decisions)
    left |= _empty_queues(callers, queues, state.members, decisions)
    if left:
        callers = [c for c in callers if c.id not in left]
    _offer_free_members(callers, queues, state.members, now, decisions)
    if renumber or left:
        _renumber(callers, decisions)
    return Outcome(replace(state, callers=tuple(callers)), tuple(decisions))


def _ring_times_over(callers, queues, now, decisions) -> None:
    for i, c in enumerate(callers):
        if not c.ringing:
            continue
        ring_seconds = queues[c.queue].ring_seconds
        over = [r for r in c.ringing if r.since + ring_seconds <= now]
        if over:
            decisions.extend(StopRinging(c.id, r.phone, RING_TIME_OVER) for r in over)
            callers[i] = replace(c, ringing=tuple(r for r in c.ringing if r not in over),
                                 tried=c.tried | {r.phone for r in over})


def _max_waits_over(callers, queues, now, decisions) -> set:
    left = set()
    for c in callers:
        q = queues[c.queue]
        if c.callback is None and q.max_wait_seconds is not None \
                and c.arrived + q.max_wait_seconds <= now:
            decisions.extend(StopRinging(c.id, r.phone, CALLER_GONE) for r in c.ringing)
            decisions.append(Leave(c.id, MAX_WAIT, q.after_max_wait_number))
            left.add(c.id)
    return left


def _empty_queues(callers, queues, members, decisions) -> set:
    stopping = {q.id for q in queues.values() if q.stop_when_empty}
    if not stopping:
        return set()
    for m in members:
        if m.registered:
            stopping -= m.queues
    left = set()
    for c in callers:
        if c.queue in stopping and c.callback is None:
            decisions.extend(StopRinging(c.id, r.phone, CALLER_GONE) for r in c.ringing)
            decisions.append(Leave(c.id, NO_MEMBER_ONLINE, queues[c.queue].when_empty_number))
            left.add(c.id)
    return left


def _longest_free_first(member: Member):
    return (member.wrap_up_until is not None, member.wrap_up_until or 0.0, member.phone)


def _limit(queue: QueueSettings, members) -> int:
    return queue.ring_at_once if queue.ring_at_once is not None else len(members)


def _offer_free_members(callers: list, queues, members, now, decisions) -> None:
    """Rules 2-5: ring free members for the callers, in place."""
    ringing = {r.phone for c in callers for r in c.ringing}
    free = [m for m in members if m.phone not in ringing and m.can_ring(now)]
    if not free or not callers:
        return
    free.sort(key=_longest_free_first)
    by_phone = {m.phone: m for m in members}

    # Rule 5: each free member goes first to the earliest caller sticky to them.
    sticky = [i for i, c in enumerate(callers)
              if c.sticky_phone is not None or c.sticky_operator is not None]
    if sticky:
        for member in list(free):
            i = next((i for i in sticky
                      if callers[i].sticks_to(member) and callers[i].queue in member.queues
                      and member.phone not in callers[i].tried), None)
            if i is None:
                continue
            c = callers[i]
            ring = c.ringing
            if len(ring) >= _limit(queues[c.queue], members):
                newest = ring[-1]
                decisions.append(StopRinging(c.id, newest.phone, STICKY_FIRST))
                ring = ring[:-1]
                free.append(by_phone[newest.phone])
                free.sort(key=_longest_free_first)
            free.remove(member)
            decisions.append(Ring(c.id, member.phone, queues[c.queue].ring_seconds))
            callers[i] = replace(c, ringing=tuple(sorted(ring + (Ringing(now, member.phone),))))

    # Rules 1, 3, 4: in order of arrival, each caller takes up to N free members.
    for i, c in enumerate(callers):
        if not free:
            break
        q = queues[c.queue]
        room = _limit(q, members) - len(c.ringing)
        if room <= 0:
            continue
        eligible = [m for m in free if c.queue in m.queues]
        if not eligible:
            continue
        chosen = [m for m in eligible if m.phone not in c.tried]
        if not chosen:
            if c.ringing:
                continue  # this round still waits for an answer
            c = replace(c, tried=frozenset())  # a new round
            chosen = eligible
        chosen = chosen[:room]
        for m in chosen:
            free.remove(m)
            decisions.append(Ring(c.id, m.phone, q.ring_seconds))
        callers[i] = replace(c, ringing=tuple(sorted(
            c.ringing + tuple(Ringing(now, m.phone) for m in chosen))))


def _renumber(callers: list, decisions) -> None:
    counts: dict[int, int] = {}
    for i, c in enumerate(callers):
        position = counts[c.queue] = counts.get(c.queue, 0) + 1
        if c.position != position:
            callers[i] = replace(c, position=position)
            decisions.append(Position(c.id, position))


def _member(state: QueueState, phone: str) -> Member:
    member = state.member(phone)
    if member is None:
        raise ValueError(f"no queue member with phone {phone}")
    return member


# Rows: the state as plain values (numbers, strings, lists), one table per kind.

def to_rows(state: QueueState) -> dict:
    """The state as tables of plain rows (JSON-ready), one dict per row."""
    return {
        "queues": [vars(q).copy() for q in state.queues],
        "members": [dict(vars(m), queues=sorted(m.queues)) for m in state.members],
        "callers": [dict({k: v for k, v in vars(c).items() if k != "ringing"},
                         tried=sorted(c.tried)) for c in state.callers],
        "rings": [{"caller": c.id, "phone": r.phone, "since": r.since}
                  for c in state.callers for r in c.ringing],
        "sticky": [dict(vars(e), day=e.day.isoformat()) for e in state.sticky],
    }


def from_rows(rows: dict) -> QueueState:
    """The state back from ``to_rows``'s tables (in any row order)."""
    rings: dict[str, list[Ringing]] = {}
    for r in rows["rings"]:
        rings.setdefault(r["caller"], []).append(Ringing(r["since"], r["phone"]))
    callers = [Caller(**dict(c, tried=frozenset(c["tried"]),
                             ringing=tuple(sorted(rings.get(c["id"], ())))))
               for c in rows["callers"]]
    return QueueState(
        queues=tuple(sorted((QueueSettings(**q) for q in rows["queues"]), key=lambda q: q.id)),
        members=tuple(sorted((Member(**dict(m, queues=frozenset(m["queues"])))
                              for m in rows["members"]), key=lambda m: m.phone)),
        callers=tuple(sorted(callers, key=lambda c: c.order)),
        sticky=tuple(sorted((StickyEntry(**dict(e, day=datetime.date.fromisoformat(e["day"])))
                             for e in rows["sticky"]), key=lambda e: e.number)),
    )
