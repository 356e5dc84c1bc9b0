"""Load benchmark for the voice menus: callers walk the demo menu to a case status.

What is measured
----------------
N synthetic callers call the demo's main menu (90000) at once.  Each is a
fake Asterisk over TCP speaking the real FastAGI wire protocol to the `menu`
route of `telecenter serve`, shaped like the generated dialplan's call
(``AGI(agi://host:port/menu,90000)`` inside the Gosub).  A caller types the
way ``telecenter simulate --keys`` reads keys: 1 (cases), 1 (case status by
number), then a case number with '*' between its groups and '#'.  The server
answers, plays the menus' prompts, looks the case up in PostgreSQL, says its
status and hangs up (or names the next number in TELECENTER_NEXT).  Like
Asterisk, the fake closes the socket right after answering HANGUP.

Every command that plays or reads something to the caller (STREAM FILE,
GET DATA, SAY *, EXEC Playback and the like, WAIT FOR DIGIT) is answered
after ``--media-ms`` (300 ms by default) of simulated media, so calls
overlap as long as real ones do; a key pressed during a prompt also comes
after that time.

By default every caller asks about the demo's case.  With ``--cases`` the
bench adds demo-like cases to its database (services, statuses and people
of the demo, each with its own number and date) and each caller asks a
different one, so each call's status phrase is a new text; every run of N
callers gets its own set of cases.

The same N callers then call a "raw responder": a minimal asyncio server in
this process that replays the command sequence telecenter sent in its first
call and does nothing else (no parsing, routing, menus, database).  It is the
floor: what the wire and this client cost.

Warm and cold
-------------
Before anything is measured the bench runs the product's real Apply on the
demo configuration (``dialplan.apply.apply_configuration`` with a stand-in
for Asterisk that serves whatever files Apply wrote): it validates, fills
the TTS cache with what Apply synthesises today, renders and writes the
include files and the menu plan into a temporary TELECENTER_INCLUDE_DIR.

- warm (the default): an unmeasured pass of the same N callers first, so
  whatever the calls need synthesised is in the TTS cache;
- ``--cold``: the measured pass starts with the cache exactly as Apply left
  it (the first recorded call asks a case no measured caller asks), then the
  same callers call again and that pass is reported as warm.

Figures, for each N
-------------------
- calls/s: N divided by the wall time for all N calls to finish;
- think p50/p99: decision latency per command, the time from the caller's
  reply (or the blank line that ends the environment) to the server's next
  command, over every step of every call; media time is not in it;
- connect p99, accept-queue overflows: as in agi_load.py;
- failed: calls that errored or timed out, whose menu steps before the case
  look-up or whose ending differ from the first call's, and, for telecenter,
  calls whose record in the server's database does not show their case's
  status said (``call_events`` 'say' with the text the simulator predicts
  for that case, outcome 'completed');
- peak RSS: VmHWM of the server's Python process since it started (not its
  PostgreSQL); for raw, VmHWM of this bench process reset before the run;
- CPU s/call: the server process's utime+stime (/proc/<pid>/stat) over the
  pass, divided by N; "speech" is its exited children's (Festival, sox);
- incomplete records: this pass's callers without a ``calls`` row, or whose
  row has outcome NULL or no ``call_events``, after waiting up to
  ``--records-deadline`` seconds for the batched writes.  Must be 0;

then the ratio of each telecenter think p99 to raw's, against the target
(within 2x), and the decision latency per step of the first call's script.

How to run
----------
    .venv/bin/python bench/ivr_load.py                        # N=100, then N=1000
    .venv/bin/python bench/ivr_load.py --sessions 100 --cases 100 --cold
    .venv/bin/python bench/ivr_load.py --sessions 1000 --cases 1000 --media-ms 0
"""

import argparse
import asyncio
import atexit
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from agi_bench import (HOST, TelecenterServer, add_common_arguments, asterisk_reply, bench_raw,
                       command_verb, free_port, listen_overflows, percentile, print_script,
                       print_table, proc_cpu_seconds, raise_open_file_limit, run_session,
                       run_sessions, summarize, takes_media_time)

from dialplan import names
from ivr.simulate import SimulatedCall, parse_keys, simulated_steps, step_lines

ROUTE = names.ROUTE_MENU
MAIN_MENU = "90000"
CALLER = "79000000001"
TARGET_P99_RATIO = 2.0


# --- the caller --------------------------------------------------------------


class MenuCaller:
    """A caller on the wire who types ``keys`` as ``telecenter simulate --keys`` does.

    The typing rule is the simulator's own (``SimulatedCall``): this class
    only turns its choices into Asterisk's replies, after ``media_s`` for a
    command that plays or listens, and notes what the caller did in reply to
    each command (for naming the steps).
    """

    def __init__(self, keys, media_s):
        self.typist = SimulatedCall(CALLER, MAIN_MENU, keys)
        self.media_s = media_s
        self.actions = []

    async def reply(self, command):
        if self.media_s and takes_media_time(command):
            await asyncio.sleep(self.media_s)  # the prompt plays, the caller listens
        verb = command_verb(command)
        if verb == "STREAM FILE":
            _, _, prompt, escape = (shlex.split(command) + [""])[:4]
            key = await self.typist.stream_file(prompt, escape)
            self.actions.append(f"pressed {key}" if key else "listened to the end")
            return f"200 result={ord(key)} endpos=8000" if key else "200 result=0 endpos=16000"
        if verb == "WAIT FOR DIGIT":
            key = await self.typist.wait_for_digit(int(shlex.split(command)[3]))
            self.actions.append(f"pressed {key}" if key else "waited it out")
            return f"200 result={ord(key) if key else 0}"
        if verb == "GET DATA":  # GET DATA <file> [timeout] [max digits]
            words = shlex.split(command)[3:]
            first = await self.typist.stream_file(shlex.split(command)[2], "0123456789*#")
            keys = await self.typist.read_digits(int(words[1]) if len(words) > 1 else 1024,
                                                 first, int(words[0]) if words else 5000)
            self.actions.append(f"typed {keys}" if keys else "waited it out")
            return f"200 result={keys}" if keys else "200 result= (timeout)"
        self.actions.append(f"{verb} done")
        return asterisk_reply(command)


def new_caller(keys, media_s):
    return lambda index: MenuCaller(keys, media_s)


def walk_of(walks, index):
    """The walk of session ``index`` (1..N): the sessions take the walks in turn."""
    return walks[(index - 1) % len(walks)]


def callers_for(walks, media_s):
    """One caller per session, each typing the keys of its own case."""
    return lambda index: MenuCaller(walk_of(walks, index).keys, media_s)


def script_problem(lookup_step):
    """A call failed when its menu steps or its ending differ from the first call's.

    The steps after the case look-up speak that caller's case, so they may
    differ from call to call; the record check verifies what was said.
    """

    def problem(result, script):
        got, want = result.commands, script
        if got[:lookup_step] != want[:lookup_step] or got[-1:] != want[-1:]:
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                         min(len(got), len(want)))
            shown = got[first] if first < len(got) else "(hung up)"
            wanted = want[first] if first < len(want) else "(hang-up)"
            if got[:lookup_step] == want[:lookup_step]:
                first, shown, wanted = len(got) - 1, got[-1:], want[-1:]
            return f"step {first + 1}: {shown} instead of {wanted}"
        return ""

    return problem


# --- setup: database, cases, Apply -------------------------------------------


@dataclass(frozen=True)
class Walk:
    """One caller's way to a case status and the status phrase it must hear."""

    case_number: str
    keys: list
    status_text: str


def bench_case_numbers(count):
    """Distinct case numbers shaped like the demo's (19-03-2044), none of them the demo's."""
    return [f"{50 + i // 100000}-{i // 1000 % 100:02d}-{1000 + i % 1000:04d}"
            for i in range(count)]


def insert_bench_cases(conn, numbers):
    """Demo-like cases: the demo's services and statuses, its people, a date each."""
    rows = conn.execute("SELECT DISTINCT service, status FROM cases ORDER BY 1, 2").fetchall()
    people = [row[0] for row in conn.execute("SELECT id FROM persons ORDER BY id")]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cases (number, person_id, service, status, is_open, filed_on)"
            " VALUES (%s, %s, %s, %s, true, %s)",
            [(number, people[i % len(people)] if people else None, *rows[i % len(rows)],
              date(2025, 1, 1) + timedelta(days=i % 700))
             for i, number in enumerate(numbers)])


class FilesAsterisk:
    """A stand-in for Asterisk during the bench's Apply: it serves whatever files Apply wrote.

    No Asterisk is involved in this bench (the fake callers speak to the
    server directly); this lets the product's own Apply run unchanged.
    """

    def __init__(self, include_dir):
        self.include_dir = Path(include_dir)

    async def reload(self):
        pass

    async def contact_addresses(self):
        return None  # no phones register in this bench

    async def command(self, command):
        from dialplan.apply import endpoints_in, revision_mark

        files = {path.name: path.read_text() for path in self.include_dir.glob("*")
                 if path.is_file()}
        if command.startswith("dialplan show"):
            return f"NoOp(Telecenter revision {revision_mark(files)})" if files else ""
        if command == "pjsip list endpoints":
            return "".join(f" Endpoint:  {name}/{name}  Unavailable  0 of inf\n"
                           for name in sorted(endpoints_in(files)))
        return ""


def prepare(settings, url, case_count):
    """Migrate, load the demo, add bench cases, Apply; the plan, case numbers, Apply's seconds."""
    import psycopg

    from dialplan.apply import apply_configuration
    from dialplan.demo_configuration import load_demo_configuration
    from dialplan.ivr_plan import IVR_PLAN_FILE, plan_from_json
    from fastagi.migrations import apply_migrations
    from ivr.speaker import presynthesize_for_calls

    apply_migrations(url, settings.sql_dir)
    numbers = bench_case_numbers(case_count)
    with psycopg.connect(url, autocommit=True) as conn:
        load_demo_configuration(conn)
        insert_bench_cases(conn, numbers)
        started = time.monotonic()
        revision = asyncio.run(apply_configuration(
            conn, FilesAsterisk(settings.include_dir), settings, "bench",
            presynthesize=presynthesize_for_calls))
        applied = time.monotonic() - started
    for warning in revision.warnings:
        print(f"Apply warns: {warning}")
    return plan_from_json(revision.files[IVR_PLAN_FILE]), numbers, applied


async def expected_walks(plan, url, case_numbers):
    """The simulator's walk to each case: its keys and the status phrase it says.

    Refuses a case whose walk does not end in its status: the benchmark is
    about calls that get their answer.  Also returns the first walk's steps.
    """
    from fastagi.database import open_pool
    from ivr.cases import PgCaseBackend, case_number_keys

    pool = await open_pool(url, max_size=1)
    walks, first = [], None
    try:
        cases = PgCaseBackend(pool)
        for number in case_numbers:
            keys = parse_keys(f"1,1,{case_number_keys(number)}")
            steps, ending = await simulated_steps(plan, MAIN_MENU, CALLER, keys, cases)
            case = await cases.case_by_number(number)
            scenario = next((i for i, (kind, detail) in enumerate(steps)
                             if kind == "scenario" and detail.startswith("case_status")), None)
            said = [detail for kind, detail in steps[scenario or 0:] if kind == "say"][:1]
            if case is None or scenario is None or not said or case.status not in said[0]:
                raise SystemExit(f"the walk to case {number} does not say its status:\n"
                                 + "\n".join(step_lines(steps, ending)))
            walks.append(Walk(number, keys, said[0]))
            first = first or (steps, ending)
    finally:
        await pool.close()
    return walks, first


# --- verification in the server's database -----------------------------------


def calls_with_status(url, run_tag, expected):
    """Unique ids of this run's calls whose record shows their case's status phrase said.

    ``expected`` maps a call's unique id to the phrase; the outcome must be
    'completed'.
    """
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.unique_id, array_agg(e.detail) FROM calls c"
            " JOIN call_events e ON e.call_id = c.id AND e.kind = 'say'"
            " WHERE c.unique_id LIKE %s AND c.route = %s AND c.outcome = 'completed'"
            " GROUP BY c.unique_id", (run_tag + ".%", ROUTE)).fetchall()
    return {unique_id for unique_id, said in rows if expected.get(unique_id) in said}


def incomplete_records(url, run_tag, unique_ids, deadline_s):
    """Callers of this run whose call record is missing or not complete; waits for it.

    The recorder writes in batches a fraction of a second behind the call,
    so this polls until every record is complete or ``deadline_s`` passes.
    """
    import psycopg

    deadline = time.monotonic() + deadline_s
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            complete = {row[0] for row in conn.execute(
                "SELECT c.unique_id FROM calls c WHERE c.unique_id LIKE %s"
                " AND c.outcome IS NOT NULL"
                " AND EXISTS (SELECT 1 FROM call_events e WHERE e.call_id = c.id)",
                (run_tag + ".%",))}
            missing = set(unique_ids) - complete
            if not missing or time.monotonic() >= deadline:
                return missing
            time.sleep(0.1)  # poll interval while the recorder's last batch lands


def mark_unverified(results, verified):
    """A call the server's record does not confirm is a failure, whatever the client saw."""
    for result in results:
        if not result.error and result.unique_id not in verified:
            result.error = "the server's call record does not show the case status said"


def spoken_texts(url, unique_id):
    """prompt path -> the text it speaks, from one call's record."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT e.kind, e.detail FROM call_events e JOIN calls c ON c.id = e.call_id"
            " WHERE c.unique_id = %s ORDER BY e.seq", (unique_id,)).fetchall()
    texts, said = {}, None
    for kind, detail in rows:
        if kind == "say":
            said = detail
        elif kind == "prompt" and said is not None:
            texts[detail], said = said, None
    return texts


# --- figures -----------------------------------------------------------------


def step_labels(script, actions, texts):
    """Each step named by what the caller did before it and what the server sent."""
    labels = []
    for step, command in enumerate(script):
        before = "environment sent" if step == 0 else actions[step - 1]
        verb = command_verb(command)
        if verb == "STREAM FILE":
            prompt = shlex.split(command)[2]
            shown = texts.get(prompt, Path(prompt).name)
            what = f"{verb} «{shown[:48]}{'…' if len(shown) > 48 else ''}»"
        else:
            what = command if len(command) <= 60 else command[:59] + "…"
        labels.append(f"{before:<20} -> {what}")
    return labels


def print_decision_steps(target, telecenter, raw, labels):
    """Decision latency per step: telecenter p50/p99, raw p99, and the p99 ratio."""
    print(f"decision latency by step, ms ({target} p50, p99; raw p99; p99 ratio):")
    for step, label in enumerate(labels):
        tc = [r.think[step] for r in telecenter if len(r.think) > step]
        floor = [r.think[step] for r in raw if len(r.think) > step]
        tc99, raw99 = percentile(tc, 99) * 1000, percentile(floor, 99) * 1000
        print(f"  {step + 1:>2} {percentile(tc, 50) * 1000:8.2f} {tc99:8.2f} {raw99:8.2f}"
              f" {tc99 / raw99:6.1f}x  {label}")


def print_server_costs(passes, sessions):
    """CPU per call, incomplete records and the p99 target, for each telecenter pass."""
    print("telecenter pass   CPU s/call  speech CPU s/call  incomplete records")
    for p in passes:
        print(f"  {p.figures.target:<16}{p.cpu_s / sessions:>10.4f}"
              f"{p.speech_cpu_s / sessions:>19.4f}{len(p.incomplete):>20}")
        for unique_id in sorted(p.incomplete)[:3]:
            print(f"    incomplete: {unique_id}")


def print_target(passes, raw):
    for p in passes:
        ratio = p.figures.think_p99_ms / raw.think_p99_ms
        met = "met" if ratio <= TARGET_P99_RATIO else "NOT met"
        print(f"target p99 within {TARGET_P99_RATIO:g}x raw, {p.figures.target}:"
              f" {ratio:.1f}x, {met}")


# --- the run -----------------------------------------------------------------


@dataclass
class Pass:
    figures: object
    results: list
    cpu_s: float
    speech_cpu_s: float
    incomplete: set


async def full_bench(args, sizes):
    from fastagi.database import database_url
    from fastagi.settings import Settings

    var_dir = Path(tempfile.mkdtemp(prefix="telecenter-ivr-bench-"))
    keep = [args.keep_var]
    # Registered first, so it runs last: after the embedded PostgreSQL has stopped.
    atexit.register(lambda: keep[0] or shutil.rmtree(var_dir, ignore_errors=True))
    port = args.agi_port or free_port()
    include_dir = var_dir / "include"
    settings = Settings.from_env({"TELECENTER_VAR": str(var_dir),
                                  "TELECENTER_INCLUDE_DIR": str(include_dir),
                                  "TELECENTER_AGI_PORT": str(port)})
    per_run = args.cases or 0
    with database_url(settings) as url:
        started = time.monotonic()
        plan, numbers, applied = await asyncio.to_thread(
            prepare, settings, url, 1 + per_run * len(sizes))
        print(f"demo configuration loaded with {len(numbers)} bench cases; Apply took"
              f" {applied:.1f}s (its speech included); TTS cache after Apply:"
              f" {len(list(settings.tts_cache_dir.glob('*.wav')))} files")
        from dialplan.demo_configuration import DEMO_CASE_NUMBER

        walks, (steps, ending) = await expected_walks(
            plan, url, numbers + ([] if per_run else [DEMO_CASE_NUMBER]))
        print(f"{len(walks)} walks simulated in {time.monotonic() - started:.1f}s since start;"
              f" the first call's walk (a case no measured caller asks):")
        print("\n".join("  " + line for line in step_lines(steps, ending)))
        first_walk = walks[0]
        runs = ([walks[1 + i * per_run:1 + (i + 1) * per_run] for i in range(len(sizes))]
                if per_run else [walks[-1:]] * len(sizes))
        server = TelecenterServer(port, url, var_dir,
                                  env={"TELECENTER_INCLUDE_DIR": str(include_dir)})
        print(f"telecenter serve on {HOST}:{port}, TELECENTER_VAR={var_dir}")
        try:
            await bench_against(server, args, sizes, url, first_walk, runs)
        except BaseException:
            keep[0] = True
            raise
        finally:
            print(f"\ntelecenter serve {server.stop()}")
            if keep[0]:
                print(f"kept {var_dir} (server log: {server.log_path})")
    print("peak RSS: telecenter = VmHWM of the server's Python process since start; "
          "raw = VmHWM of this bench process (client + responder + setup) reset before each run")


async def telecenter_pass(server, args, label, sessions, walks, media_s, lookup_step, script,
                          url):
    """N callers against telecenter, each asking its walk's case; figures and checks."""
    concurrency = args.concurrency or sessions
    run_tag = f"{label}{sessions}-{time.time_ns()}"
    expected = {f"{run_tag}.{i}": walk_of(walks, i).status_text for i in range(1, sessions + 1)}
    cpu_before, speech_before = proc_cpu_seconds(server.proc.pid)
    overflows = listen_overflows()
    results, wall = await run_sessions(server.port, sessions, concurrency, args.timeout,
                                       callers_for(walks, media_s), ROUTE, MAIN_MENU, run_tag)
    overflows = listen_overflows() - overflows
    server.check_alive(f"N={sessions} ({label})")
    incomplete = await asyncio.to_thread(incomplete_records, url, run_tag, expected,
                                         args.records_deadline)
    cpu_after, speech_after = proc_cpu_seconds(server.proc.pid)
    mark_unverified(results, await asyncio.to_thread(calls_with_status, url, run_tag, expected))
    figures = summarize(f"telecenter {label}", results, wall, script,
                        server.status_kib("VmHWM"), script_problem(lookup_step))
    figures.listen_overflows = overflows
    return Pass(figures, results, cpu_after - cpu_before, speech_after - speech_before,
                incomplete)


async def bench_against(server, args, sizes, url, first_walk, runs):
    """The first call (recorded, checked), then each N: telecenter cold/warm, and raw."""
    media_s = args.media_ms / 1000
    started = time.monotonic()
    server.wait_listening(args.startup_timeout)
    print(f"listening after {time.monotonic() - started:.1f}s, "
          f"idle RSS {server.status_kib('VmRSS') / 1024:.1f} MiB")
    caller = MenuCaller(first_walk.keys, media_s)
    first = await run_session(server.port, 0, args.timeout, caller, ROUTE, MAIN_MENU, "first.0")
    await asyncio.to_thread(incomplete_records, url, "first", ["first.0"], args.records_deadline)
    if first.error or "first.0" not in calls_with_status(url, "first",
                                                         {"first.0": first_walk.status_text}):
        raise SystemExit(f"first call failed: {first.error or 'no case status said'};"
                         f" commands {first.commands}\n" + server.log_tail())
    script = first.commands
    lookup_step = max(i for i, action in enumerate(caller.actions, 1) if action == "pressed #")
    print_script(script, "recorded from the first telecenter call")
    labels = step_labels(script, caller.actions, spoken_texts(url, "first.0"))
    print(f"simulated media per playing or listening command: {args.media_ms:g} ms")
    for sessions, walks in zip(sizes, runs):
        passes = []
        if args.cold:
            passes.append(await telecenter_pass(server, args, "cold", sessions, walks, media_s,
                                                lookup_step, script, url))
        else:
            warming = await telecenter_pass(server, args, "warming", sessions, walks, media_s,
                                            lookup_step, script, url)
            print(f"\nN={sessions}: warming pass (not measured):"
                  f" {warming.figures.failed} failed")
        passes.append(await telecenter_pass(server, args, "warm", sessions, walks, media_s,
                                            lookup_step, script, url))
        concurrency = args.concurrency or sessions
        raw, raw_results = await bench_raw(script, sessions, concurrency, args.timeout,
                                           new_caller(first_walk.keys, media_s), ROUTE,
                                           MAIN_MENU, script_problem(lookup_step))
        print_table(sessions, concurrency, [p.figures for p in passes] + [raw], rate="calls/s")
        print_server_costs(passes, sessions)
        print_target(passes, raw)
        for p in passes:
            print_decision_steps(p.figures.target, p.results, raw_results, labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(parser)
    parser.set_defaults(timeout=120.0)
    parser.add_argument("--cases", type=int,
                        help="each run of N callers asks this many distinct demo-like cases"
                             " (default: every caller asks the demo's case)")
    parser.add_argument("--cold", action="store_true",
                        help="measure with the TTS cache as Apply leaves it, then warm")
    parser.add_argument("--media-ms", type=float, default=300.0,
                        help="simulated media per playing or listening command (default 300)")
    parser.add_argument("--records-deadline", type=float, default=15.0,
                        help="seconds to wait for every call record to be complete")
    args = parser.parse_args()
    sizes = args.sessions or [100, 1000]
    if args.cases is not None and args.cases < 1:
        parser.error("--cases must be at least 1")
    raise_open_file_limit(max(args.concurrency or n for n in sizes))
    asyncio.run(full_bench(args, sizes))


if __name__ == "__main__":
    main()
