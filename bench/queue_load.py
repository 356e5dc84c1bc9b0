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

With ``--asterisk``: the same callers on the real parts
-------------------------------------------------------
After the engine's figures, a run on a private Asterisk 16, the real
`telecenter serve` and an embedded PostgreSQL, set up as bench/sip_load.py
sets them up (include files rendered, Asterisk and the server started, the
configuration applied by Apply over AMI).  The configuration: ``--operators``
phones (SIPp operator phones, tests/testbed/operator_phone.py) that are the
members of queue 92000, whose hold playlist says the caller's position
("вы N-й в очереди", again when it changes) and a recorded-by-TTS request to
stay on the line, in a loop; ring time 15 s, two members ring at once,
no wrap-up.

``--real-callers`` callers (200 by default) dial 92000 at ``--rate`` a
second: Local channels with a script (tests/testbed/callers.py) entering
where a phone's call enters, each hanging up after a hold time drawn from
``--hold`` (seconds after Telecenter answered); with ``--sip``, SIP calls
instead, from one SIPp process as the test bed's phone 7001 (digest auth,
RTP from Asterisk to SIPp), each hanging up after the middle of ``--hold``
unless Asterisk hangs up first (served).  The operators register only
once every caller waits, so all of them wait at once; each then answers
every ring after 1 s and hangs up after ``--talk`` seconds.  A caller is
served (answered, then the operator hangs up) or gives up (their own hang-up).
The run ends when Asterisk has no channel left and no queue call is
waiting, or after ``--deadline`` seconds.

It prints:

- waiting at once: the most callers the stored queue state held at one time;
- failed calls: callers who never got a queue record (never joined) plus
  queue-route calls whose record says the route failed (outcome ``failed``,
  ``no route``, ``server lost``, ...), plus, with ``--sip``, calls SIPp did
  not complete successfully: must be 0;
- incomplete queue records, after waiting up to ``--records-deadline`` s:
  ``queue_calls`` rows still ``waiting`` or without ``ended_at``, answered
  ones without ``talk_seconds``: must be 0; then the outcomes (answered,
  gave_up, ...) and how many positions were told;
- CPU seconds over the run (from the first call to the last end) of the
  server process (and its exited children: speech), of Asterisk, the ratio
  server/Asterisk, and, for context, of the embedded PostgreSQL (postmaster
  and backends: the queue state is written there on every event) and of the
  SIPp operator phones.

How to run
----------
    .venv/bin/python bench/queue_load.py
    .venv/bin/python bench/queue_load.py --callers 1000 --queues 20 --members 200 --samples 500
    .venv/bin/python bench/queue_load.py --asterisk                       # + 200 real callers
    .venv/bin/python bench/queue_load.py --asterisk --real-callers 300 --operators 6 --keep
    .venv/bin/python bench/queue_load.py --asterisk --sip                 # SIP callers
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from agi_bench import percentile, proc_cpu_seconds, raise_open_file_limit
from sip_load import sipp_counts

from fastagi.settings import PROJECT_ROOT
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
    parser.add_argument("--asterisk", action="store_true",
                        help="then run callers through a real Asterisk (see the docstring)")
    parser.add_argument("--real-callers", type=int, default=200)
    parser.add_argument("--operators", type=int, default=4)
    parser.add_argument("--rate", type=float, default=20.0, help="new callers per second")
    parser.add_argument("--hold", type=float, nargs=2, default=(60.0, 100.0), metavar=("MIN", "MAX"),
                        help="a caller hangs up this many seconds after the answer, at most")
    parser.add_argument("--talk", type=float, default=3.0, help="an operator's talk, seconds")
    parser.add_argument("--deadline", type=float, default=600.0)
    parser.add_argument("--records-deadline", type=float, default=30.0)
    parser.add_argument("--sip", action="store_true",
                        help="SIPp UAC callers (each hangs up after the middle of --hold)"
                             " instead of Local channels")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)

    engine_figures(args)
    if args.asterisk:
        real = RealRun(callers=args.real_callers, operators=args.operators, rate=args.rate,
                       hold=tuple(args.hold), talk=args.talk, deadline=args.deadline,
                       records_deadline=args.records_deadline, seed=args.seed, sip=args.sip)
        outcome = run_on_asterisk(real, keep=args.keep)
        print(outcome.report())
        sys.exit(0 if outcome.ok else 1)


def engine_figures(args) -> None:
    """The engine against the simplest loop (the module docstring's first part)."""
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



# --- the real parts: Asterisk, the server, PostgreSQL, SIPp operators ----------

QUEUE_NUMBER = "92000"
OPERATOR_FIRST = 301  # the operators' phone numbers: 301, 302, ...
RTP_PORTS_PER_OPERATOR = 8
SIP_CALLER, SIP_CALLER_PASSWORD = "7001", "Queue-load-7001-secret"
ROUTE_FAILED = ("failed", "no route", "bad environment", "server stopped",
                "no reply from Asterisk", "server lost")


@dataclass
class RealRun:
    callers: int = 200
    operators: int = 4
    rate: float = 20.0
    hold: tuple[float, float] = (60.0, 100.0)
    talk: float = 3.0
    deadline: float = 600.0
    records_deadline: float = 30.0
    seed: int = 13
    sip: bool = False  # callers are SIPp UAC calls instead of Local channels


@dataclass
class RealOutcome:
    run: RealRun
    peak_waiting: int
    failed: int
    no_record: int
    route_failed: int
    sip_failed: int
    incomplete: int
    outcomes: dict
    positions_told: int
    server_cpu: float
    speech_cpu: float
    asterisk_cpu: float
    database_cpu: float
    phones_cpu: float
    wall: float
    channels_left: int

    @property
    def ok(self) -> bool:
        return (self.failed == 0 and self.incomplete == 0 and self.channels_left == 0
                and self.peak_waiting == self.run.callers)

    def report(self) -> str:
        r = self.run
        calls = max(r.callers, 1)
        return "\n".join([
            f"\nreal Asterisk: {r.callers} {'SIP' if r.sip else 'Local channel'} callers into"
            f" queue {QUEUE_NUMBER} at {r.rate:g}/s, hanging up "
            + (f"{(r.hold[0] + r.hold[1]) / 2:g}" if r.sip else f"{r.hold[0]:g}-{r.hold[1]:g}")
            + f" s after the answer unless served; {r.operators}"
            f" operators talking {r.talk:g} s; {self.wall:.1f} s from the first call to the last end",
            f"waiting at once: {self.peak_waiting} (of {r.callers})",
            f"failed calls: {self.failed} ({self.no_record} without a queue record,"
            f" {self.route_failed} whose queue route failed, {self.sip_failed} failed in SIPp);"
            f" channels left: {self.channels_left}",
            f"incomplete queue records: {self.incomplete} (waiting, no end, or answered without"
            f" talk seconds); outcomes: "
            + ", ".join(f"{k} {v}" for k, v in self.outcomes.items())
            + f"; positions told: {self.positions_told}",
            f"CPU seconds over the run: server {self.server_cpu:.1f}"
            f" ({self.server_cpu / calls * 1000:.1f} ms/caller) and its speech engines"
            f" {self.speech_cpu:.1f}, Asterisk {self.asterisk_cpu:.1f}"
            f" ({self.asterisk_cpu / calls * 1000:.1f} ms/caller), server/Asterisk"
            f" {(self.server_cpu + self.speech_cpu) / max(self.asterisk_cpu, 0.01):.2f}x;"
            f" PostgreSQL {self.database_cpu:.1f};"
            f" SIPp operator phones (and CLI probes) {self.phones_cpu:.1f}",
        ])


def run_on_asterisk(run: RealRun, keep: bool = False) -> RealOutcome:
    """Set up the real parts in a temporary folder, run the callers, measure; see the docstring."""
    raise_open_file_limit(run.callers * 4)
    root = Path(tempfile.mkdtemp(prefix="telecenter-queue-load-"))
    root.chmod(0o755)  # the embedded PostgreSQL drops root and must reach its data folder
    outcome = None
    try:
        outcome = _run_on_asterisk(run, root)
        return outcome
    finally:
        stop_postgres(root / "var" / "pgdata")
        if keep or outcome is None or not outcome.ok:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def stop_postgres(data_dir: Path, timeout: float = 30.0) -> None:
    """Stop the embedded PostgreSQL of ``data_dir`` now (fast shutdown).

    Its own clean-up runs only when the process exits, and finds nothing to stop once
    the folder is gone: a test running the bench twice would leave a server behind."""
    import signal

    try:
        postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return  # never started, or already stopped
    try:
        os.kill(postmaster, signal.SIGINT)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{postmaster}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)  # poll interval for the postmaster to exit


def _run_on_asterisk(run: RealRun, root: Path) -> RealOutcome:
    sys.path.insert(0, str(PROJECT_ROOT))  # the test bed's helpers start things the tested way
    from dialplan.instance import AsteriskInstance
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations
    from fastagi.settings import Settings
    from tests.testbed.agi_server import TELECENTER, AgiServer
    from tests.testbed.callers import CALLER_DIALPLAN
    from tests.testbed.operator_phone import OperatorPhones
    from tests.testbed.ports import free_ports
    from tests.testbed.sipp import PJSIP_TEST_ENDPOINT

    var_dir, include_dir = root / "var", root / "include"
    settings = Settings.from_env({"TELECENTER_VAR": str(var_dir)})
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        agi_port, sip_port, ami_port, rtp_start = free_ports(4)
        instance = AsteriskInstance(
            root=root / "asterisk", include_dir=include_dir, sip_port=sip_port,
            ami_port=ami_port, rtp_start=rtp_start,
            rtp_end=min(65000, rtp_start + RTP_PORTS_PER_OPERATOR * run.operators + 100
                        + (RTP_PORTS_PER_OPERATOR * run.callers if run.sip else 0)),
            extra_extensions=CALLER_DIALPLAN,
            extra_pjsip=PJSIP_TEST_ENDPOINT(SIP_CALLER, SIP_CALLER_PASSWORD) if run.sip else "")
        render = subprocess.run(
            [str(TELECENTER), "render", "--out", str(include_dir), "--no-reload",
             "--agi-host", "127.0.0.1", "--agi-port", str(agi_port)],
            capture_output=True, text=True,
            env={**os.environ, "TELECENTER_VAR": str(var_dir), "DATABASE_URL": url})
        if render.returncode:
            raise SystemExit(f"telecenter render failed:\n{render.stderr}")
        instance.write_config()
        instance.start()
        server = AgiServer(agi_port, var_dir, {
            "DATABASE_URL": url, "TELECENTER_INCLUDE_DIR": str(include_dir),
            "TELECENTER_SIP_TRUSTED": "127.0.0.0/8",
            "TELECENTER_AMI_PORT": str(instance.ami_port),
            "TELECENTER_AMI_USER": instance.ami_user,
            "TELECENTER_AMI_SECRET": instance.ami_secret})
        try:
            server.start()
            passwords = configure_queue(url, instance, server, run.operators)
            with OperatorPhones(instance.sip_port, root / "phones") as phones:
                return _callers_and_operators(run, url, instance, server, phones, passwords)
        finally:
            server.stop()
            instance.stop()


def configure_queue(url, instance, server, operators: int) -> dict[str, str]:
    """Operators' phones, the hold playlist and queue 92000, applied; the phones' passwords."""
    import psycopg

    from dialplan.apply import apply_now
    from dialplan.configuration import sip_digest
    from fastagi.settings import Settings
    from ivr.speaker import presynthesize_for_calls

    passwords = {str(OPERATOR_FIRST + i): f"Operator-{OPERATOR_FIRST + i}-bench"
                 for i in range(operators)}
    settings = Settings(var_dir=server.var_dir, agi_port=server.port,
                        ami_port=instance.ami_port, ami_user=instance.ami_user,
                        ami_secret=instance.ami_secret,
                        include_dir_override=Path(instance.include_dir))
    with psycopg.connect(url, autocommit=True) as conn:
        for number, password in passwords.items():
            conn.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)",
                         (number, sip_digest(number, password)))
        playlist = conn.execute("INSERT INTO playlists (name) VALUES ('Ожидание')"
                                " RETURNING id").fetchone()[0]
        conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, text) VALUES"
                     " (%s, 0, 'queue_position', ''),"
                     " (%s, 1, 'tts', 'Пожалуйста, оставайтесь на линии.')",
                     (playlist, playlist))
        queue = conn.execute("INSERT INTO queues (name, number, ring_seconds, ring_at_once,"
                             " playlist_id) VALUES ('Операторы', %s, 15, 2, %s) RETURNING id",
                             (QUEUE_NUMBER, playlist)).fetchone()[0]
        for position, number in enumerate(passwords):
            conn.execute("INSERT INTO queue_members (queue_id, phone_id, position)"
                         " SELECT %s, id, %s FROM phones WHERE number = %s",
                         (queue, position, number))
        started = time.monotonic()
        revision = apply_now(conn, settings, "bench", presynthesize=presynthesize_for_calls)
    print(f"queue {QUEUE_NUMBER} with {operators} operators applied as revision {revision.id}"
          f" in {time.monotonic() - started:.1f}s")
    return passwords


def _callers_and_operators(run, url, instance, server, phones, passwords) -> RealOutcome:
    import psycopg

    from dialplan.names import CONTEXT_ENTRY
    from tests.testbed.callers import CALLER_CONTEXT, VAR_SCRIPT, ami_session

    rng = random.Random(run.seed)
    numbers = ([SIP_CALLER] if run.sip else
               [f"7999{i:07d}" for i in range(1, run.callers + 1)])
    since = _database_now(url)
    server_before = proc_cpu_seconds(server.process.pid)
    asterisk_before = sum(proc_cpu_seconds(instance.pid))
    postmaster = int((server.var_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    database_before = database_cpu(postmaster)
    phones_before = _children_cpu()
    started = time.monotonic()
    peak = 0
    with psycopg.connect(url, autocommit=True) as conn:
        def waiting() -> int:
            row = conn.execute("SELECT jsonb_array_length(state->'callers') FROM queue_state"
                               " WHERE id = 1").fetchone()
            return row[0] if row and row[0] is not None else 0

        sipp = _start_sip_callers(run, instance, server.var_dir.parent / "sipp") if run.sip \
            else None
        with ami_session(instance) as manager:
            for i, number in enumerate(numbers if sipp is None else ()):
                hold = rng.uniform(*run.hold)
                reply = manager.originate(
                    channel=f"Local/{QUEUE_NUMBER}@{CONTEXT_ENTRY}", context=CALLER_CONTEXT,
                    exten="s", priority="1", timeout="60000", caller_id=number,
                    variables={VAR_SCRIPT: f"w{hold:.1f}/h"}, run_async=True)
                if reply.get_header("Response") != "Success":
                    raise SystemExit(f"Originate refused: {reply.get_header('Message')}")
                # Pace the calls: the i-th goes at i / rate seconds.
                time.sleep(max(0.0, started + (i + 1) / run.rate - time.monotonic()))
                if i % 20 == 0:
                    peak = max(peak, waiting())
        # Every caller in line before any operator is online.
        deadline = started + run.deadline
        while time.monotonic() < deadline:
            peak = max(peak, waiting())
            if peak >= run.callers or time.monotonic() > started + run.callers / run.rate + 30:
                break
            time.sleep(0.2)  # poll interval
        print(f"{peak} callers waiting at once after {time.monotonic() - started:.1f}s;"
              f" {run.operators} operators come online")
        for number, password in passwords.items():
            phones.add(number, password, answer_after=1.0, script=f"w{run.talk:g}/h")
        while time.monotonic() < deadline:
            still = waiting()
            if still == 0 and _channels(instance) == 0 and (
                    sipp is None or sipp.proc.poll() is not None):
                break
            time.sleep(0.5)  # poll interval
        wall = time.monotonic() - started
        server_cpu, speech_cpu = (after - before for after, before in zip(
            proc_cpu_seconds(server.process.pid), server_before))
        asterisk_cpu = sum(proc_cpu_seconds(instance.pid)) - asterisk_before
        database = database_cpu(postmaster) - database_before
        left = _channels(instance)
        sip_failed = 0
        if sipp is not None:
            sipp.wait(30)
            successful, failed, _peak = sipp_counts(sipp.workdir / "stats.csv")
            sip_failed = run.callers - successful
        phones.stop_all()
        phones_cpu = _children_cpu() - phones_before
        no_record, route_failed, incomplete, outcomes, told = queue_records(
            conn, numbers, run.callers, since, run.records_deadline)
    return RealOutcome(run, peak, no_record + route_failed + sip_failed, no_record, route_failed,
                       sip_failed, incomplete, outcomes, told, server_cpu, speech_cpu,
                       asterisk_cpu, database, phones_cpu, wall, left)


def _database_now(url):
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute("SELECT now()").fetchone()[0]


def _start_sip_callers(run, instance, workdir):
    """One SIPp process placing every caller's call from the test phone 7001: it waits for
    Asterisk's BYE (served) or hangs up itself after the middle of ``run.hold``."""
    from tests.testbed.ports import free_ports
    from tests.testbed.sipp import LOCAL_IP, SippProcess, render_scenario, sipp_binary

    workdir.mkdir(parents=True)
    hold_ms = int((run.hold[0] + run.hold[1]) / 2 * 1000)
    waits = (f'<recv request="BYE" timeout="{hold_ms}" ontimeout="caller_hangs_up" />'
             '<send><![CDATA[\n\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n'
             '      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n'
             '      Contact: <sip:[caller_user]@[local_ip]:[local_port]>\n'
             '      Content-Length: 0\n\n    ]]></send><nop next="done" />')
    text = render_scenario("", workdir=workdir, pause_ms=500, initial_pause_ms=0,
                           after_digits_ms=0)
    scenario = workdir / "queue_caller.xml"
    scenario.write_text(text.replace("<!-- no digits -->", waits), encoding="iso-8859-1")
    local_port, media_port = free_ports(2)
    command = [
        sipp_binary(), f"{LOCAL_IP}:{instance.sip_port}",
        "-sf", str(scenario), "-s", QUEUE_NUMBER,
        "-au", SIP_CALLER, "-ap", SIP_CALLER_PASSWORD, "-key", "caller_user", SIP_CALLER,
        "-set", "caller_bye", "yes",
        "-m", str(run.callers), "-l", str(run.callers), "-r", f"{run.rate:g}",
        "-nostdin", "-i", LOCAL_IP, "-mi", LOCAL_IP,
        "-p", str(local_port), "-mp", str(media_port),
        "-trace_stat", "-stf", str(workdir / "stats.csv"), "-fd", "1",
    ]  # fmt: skip
    return SippProcess(command, workdir, scenario)


def queue_records(conn, numbers, expected, since, deadline_s):
    """(callers without a queue record, queue-route calls that failed, incomplete queue
    records, outcomes, positions told) of the calls from ``numbers`` since ``since``,
    polling until the ``expected`` records are there and complete or ``deadline_s`` passes."""
    deadline = time.monotonic() + deadline_s
    run = " FROM queue_calls WHERE number = ANY(%s) AND joined_at >= %s"
    while True:
        rows, incomplete = conn.execute(
            "SELECT count(*),"
            " count(*) FILTER (WHERE outcome = 'waiting' OR ended_at IS NULL"
            "   OR (outcome = 'answered' AND talk_seconds IS NULL))" + run,
            (numbers, since)).fetchone()
        if (rows >= expected and incomplete == 0) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)  # poll interval while the last records land
    route_failed = conn.execute(
        "SELECT count(*) FROM calls WHERE route = 'queue' AND caller = ANY(%s)"
        " AND started_at >= %s AND (outcome IS NULL OR outcome = ANY(%s))",
        (numbers, since, list(ROUTE_FAILED))).fetchone()[0]
    outcomes = dict(conn.execute("SELECT outcome, count(*)" + run + " GROUP BY 1 ORDER BY 2 DESC",
                                 (numbers, since)).fetchall())
    told = conn.execute("SELECT coalesce(sum(cardinality(positions)), 0)" + run,
                        (numbers, since)).fetchone()[0]
    return max(0, expected - rows), route_failed, incomplete, outcomes, told


def database_cpu(postmaster: int) -> float:
    """CPU seconds of the embedded PostgreSQL so far: the postmaster, its backends that
    ended (counted in the postmaster's children's time) and those still running."""
    own, ended = proc_cpu_seconds(postmaster)
    running = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[1]) == postmaster:
            running += proc_cpu_seconds(int(stat.parent.name))[0]
    return own + ended + running


def _channels(instance) -> int:
    import re

    output = instance.rx("core show channels count")
    return int(re.search(r"(\d+) active channels?", output).group(1))


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
