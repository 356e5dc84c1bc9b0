"""Decision benchmark for the queue engine: a member becomes free -> whom it rings for.

What is measured
----------------
A loaded contact center, built directly as the engine's state
(``ivr.queue_engine.QueueState``): by default 1,000 callers waiting in 20
queues and 200 members (phones), each member serving two queues.  The queues
differ: N (members ringing at once) from 1 to 5, wrap-up 0 or 10 s, sticky
operator on in every other queue, a maximum wait (not reached) in every
fourth.  Almost every member is in a call; a few are paused or offline; a
fifth of the members (40) are ringing for the first callers in line who can
use them (ring times not over).  A fifth of the callers have already tried some members of
their queue this round; some of the callers of sticky queues talked to one of
the queue's members earlier today (to a phone, or to the operator bound to
it).  Seeded (``--seed``): the same figures' inputs every run.

One sample: one member, chosen at random among those in a call, has just
finished their wrap-up (``wrap_up_until`` = now).  The decision is the
engine's ``tick(state, now)``, exactly what the server calls when that time
comes: ring times and maximum waits checked for every caller, the sticky
operator rule, then arrival order with N and the untried-first rule; its
result is the new state and the decisions (``Ring`` for whom, and a
``StopRinging`` when a sticky caller swaps a ring for their operator).

The same decision is then computed by ``simplest_decisions`` below: the
rules read literally, every question answered by scanning the whole state
(is this member free? look at every caller's rings), no indexes.  It is
written to be obviously right, not fast.  Every sample's decisions from both
must be equal (the bench stops with an error otherwise), and the engine's
must contain nothing but rings and stops (nothing else is due in a sample).

Figures
-------
- decisions: the number of samples, each timed alone (``time.perf_counter_ns``
  around one call, after one unmeasured warm-up call per method);
- p50 / p99 / max ms: the decision time over the samples;
- rings per decision: how many members the decision rang (on average);
- same decisions: samples on which the engine and the simplest loop agreed
  (must be all);
- engine/simplest: the engine's p50 and p99 against the simplest loop's;
- rings to a caller sticky to the freed member: how many of the rings went
  to a caller whose operator of earlier today the freed member is.

The engine's time includes building the new state (immutable: the callers'
tuple is rebuilt) and the checks that ``tick`` makes for every caller; the
simplest loop only computes the decisions.  Times are one Python process on
one core; no I/O, no database (the state is already in memory).

How to run
----------
    .venv/bin/python bench/queue_load.py
    .venv/bin/python bench/queue_load.py --callers 1000 --queues 20 --members 200 --samples 500
"""

import argparse
import random
import statistics
import sys
import time
from dataclasses import replace

from agi_bench import percentile

from ivr import queue_engine as qe
from ivr.queue_engine import Caller, Member, QueueSettings, QueueState, Ring, Ringing, StopRinging

NOW = 10_000.0  # seconds on the bench's clock


# --- the loaded state ----------------------------------------------------------


def loaded_state(callers: int, queues: int, members: int, seed: int) -> QueueState:
    """A consistent, busy state: see the module docstring."""
    rng = random.Random(seed)
    settings = tuple(QueueSettings(q, ring_seconds=15, ring_at_once=(q % 5) + 1,
                                   wrap_up_seconds=0 if q % 2 else 10, sticky=q % 2 == 0,
                                   max_wait_seconds=NOW * 2 if q % 4 == 0 else None)
                     for q in range(1, queues + 1))
    people = []
    for i in range(members):
        serves = frozenset({1 + i % queues, 1 + (i * 7 + 3) % queues})
        people.append(Member(f"{1000 + i}", serves, registered=i % 25 != 1, accepting=i % 10 != 0,
                             in_call=True, call_queue=min(serves), wrap_up_until=NOW - 600 + i,
                             operator=f"operator{i}" if i % 2 else None))
    serving = {q.id: [m for m in people if q.id in m.queues] for q in settings}
    waiting = []
    for i in range(callers):
        queue = rng.choice(settings)
        tried = frozenset()
        if rng.random() < 0.2:
            tried = frozenset(m.phone for m in rng.sample(serving[queue.id],
                                                          min(3, len(serving[queue.id]))))
        sticky_phone = sticky_operator = None
        if queue.sticky and rng.random() < 0.3:
            earlier = rng.choice(serving[queue.id])
            sticky_phone, sticky_operator = earlier.phone, earlier.operator
        waiting.append(Caller(f"c{i}", queue.id, f"+7900{rng.randrange(10**7):07d}",
                              arrived=NOW - 3600 + i, order=i + 1, tried=tried,
                              sticky_phone=sticky_phone, sticky_operator=sticky_operator))
    # Some members ring for the first callers in line who can use them.
    limits = {q.id: q.ring_at_once for q in settings}
    can_ring = [m for m in people if m.registered and m.accepting]
    for member in rng.sample(can_ring, min(len(can_ring), members // 5)):
        for i, c in enumerate(waiting):
            if (c.queue in member.queues and len(c.ringing) < limits[c.queue]
                    and member.phone not in c.tried):
                since = NOW - rng.uniform(0, 10)
                waiting[i] = replace(c, ringing=tuple(sorted(c.ringing + (Ringing(since, member.phone),))))
                people[people.index(member)] = replace(member, in_call=False, call_queue=None)
                break
    counts = {}
    for i, c in enumerate(waiting):  # everyone was told their position
        counts[c.queue] = counts.get(c.queue, 0) + 1
        waiting[i] = replace(c, position=counts[c.queue])
    return QueueState(settings, tuple(sorted(people, key=lambda m: m.phone)), tuple(waiting))


def samples(state: QueueState, count: int, seed: int) -> list[QueueState]:
    """``count`` states, each with one busy member whose wrap-up ends now."""
    rng = random.Random(seed + 1)
    busy = [m.phone for m in state.members if m.in_call and m.registered and m.accepting]
    return [wrap_up_ends(state, {rng.choice(busy)}) for _ in range(count)]


def wrap_up_ends(state: QueueState, phones: set) -> QueueState:
    """``state`` with the members ``phones`` out of their calls, their wrap-up ending now."""
    return replace(state, members=tuple(
        replace(m, in_call=False, call_queue=None, wrap_up_until=NOW) if m.phone in phones else m
        for m in state.members))


# --- the rules read literally ------------------------------------------------


def simplest_decisions(state: QueueState, now: float) -> list:
    """The offers due at ``now``, by the theory of operation's rules, scanning everything.

    Assumes no ring time, maximum wait or empty queue is due (the samples have none).
    """
    decisions = []
    members = list(state.members)
    callers = [{"caller": c, "tried": set(c.tried), "ringing": list(c.ringing)}
               for c in sorted(state.callers, key=lambda c: c.order)]

    def queue_of(queue_id):
        for q in state.queues:
            if q.id == queue_id:
                return q
        raise KeyError(queue_id)

    def limit(queue):
        return queue.ring_at_once if queue.ring_at_once is not None else len(members)

    def rings_somewhere(phone):
        for w in callers:
            for r in w["ringing"]:
                if r.phone == phone:
                    return True
        return False

    def is_free(m):
        return (m.registered and m.accepting and not m.in_call
                and (m.wrap_up_until is None or m.wrap_up_until <= now)
                and not rings_somewhere(m.phone))

    def longest_free_first(m):
        return (m.wrap_up_until is not None, m.wrap_up_until or 0.0, m.phone)

    def ring(w, m):
        queue = queue_of(w["caller"].queue)
        decisions.append(Ring(w["caller"].id, m.phone, queue.ring_seconds))
        w["ringing"].append(Ringing(now, m.phone))

    by_fairness = sorted(members, key=longest_free_first)
    # The sticky operator: each member free now goes to the earliest caller sticky to them.
    for m in [m for m in by_fairness if is_free(m)]:
        for w in callers:
            c = w["caller"]
            if c.sticks_to(m) and c.queue in m.queues and m.phone not in w["tried"]:
                if len(w["ringing"]) >= limit(queue_of(c.queue)):
                    newest = max(w["ringing"])
                    w["ringing"].remove(newest)
                    decisions.append(StopRinging(c.id, newest.phone, qe.STICKY_FIRST))
                ring(w, m)
                break
    # Arrival order: each caller takes free members of their queue, one at a time, up to N.
    for w in callers:
        c = w["caller"]
        while len(w["ringing"]) < limit(queue_of(c.queue)):
            free_here = [m for m in by_fairness if is_free(m) and c.queue in m.queues]
            if not free_here:
                break
            untried = [m for m in free_here if m.phone not in w["tried"]]
            if untried:
                ring(w, untried[0])
            elif not w["ringing"]:
                w["tried"] = set()  # everyone free was tried: a new round
                ring(w, free_here[0])
            else:
                break
    return decisions


# --- measuring ----------------------------------------------------------------


def timed(function, states):
    """(results, nanoseconds per call) of ``function(state, NOW)`` over ``states``."""
    function(states[0], NOW)  # warm-up
    results, times = [], []
    for state in states:
        start = time.perf_counter_ns()
        result = function(state, NOW)
        times.append(time.perf_counter_ns() - start)
        results.append(result)
    return results, times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--callers", type=int, default=1000)
    parser.add_argument("--queues", type=int, default=20)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args(argv)

    base = loaded_state(args.callers, args.queues, args.members, args.seed)
    states = samples(base, args.samples, args.seed)
    engine_outcomes, engine_ns = timed(qe.tick, states)
    simple_decisions, simple_ns = timed(simplest_decisions, states)

    engine_decisions = [list(o.decisions) for o in engine_outcomes]
    unexpected = [d for ds in engine_decisions for d in ds if not isinstance(d, (Ring, StopRinging))]
    if unexpected:
        sys.exit(f"the samples were meant to have nothing but offers due; got {unexpected[:3]}")
    same = sum(e == s for e, s in zip(engine_decisions, simple_decisions))
    if same != len(states):
        first = next(i for i, (e, s) in enumerate(zip(engine_decisions, simple_decisions)) if e != s)
        sys.exit(f"sample {first}: the engine decided {engine_decisions[first]}, "
                 f"the simplest loop {simple_decisions[first]}")

    ringing = sum(len(c.ringing) for c in base.callers)
    sticky = sum(c.sticky_phone is not None for c in base.callers)
    print(f"{args.callers} callers in {args.queues} queues, {args.members} members "
          f"({ringing} ringing, {sticky} callers with a sticky operator), seed {args.seed}")
    to_sticky = 0
    for state, ds in zip(states, engine_decisions):
        by_id = {c.id: c for c in state.callers}
        members = {m.phone: m for m in state.members}
        to_sticky += sum(isinstance(d, Ring) and by_id[d.caller].sticks_to(members[d.phone])
                         for d in ds)
    rings = statistics.mean(sum(isinstance(d, Ring) for d in ds) for ds in engine_decisions)
    rows = [("engine (tick)", engine_ns), ("simplest loop", simple_ns)]
    print(f"{'decision':<16}{'decisions':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
          f"{'rings/decision':>16}{'same decisions':>16}")
    for name, ns in rows:
        print(f"{name:<16}{len(ns):>10}{percentile(ns, 50) / 1e6:>10.3f}"
              f"{percentile(ns, 99) / 1e6:>10.3f}{max(ns) / 1e6:>10.3f}{rings:>16.2f}"
              f"{same:>11}/{len(states)}")
    print(f"engine/simplest: p50 {percentile(engine_ns, 50) / percentile(simple_ns, 50):.4f}x, "
          f"p99 {percentile(engine_ns, 99) / percentile(simple_ns, 99):.4f}x "
          f"(the engine {percentile(simple_ns, 50) / percentile(engine_ns, 50):.0f}x faster at p50)")
    print(f"rings to a caller sticky to the freed member: {to_sticky} of "
          f"{sum(isinstance(d, Ring) for ds in engine_decisions for d in ds)}")


if __name__ == "__main__":
    main()
