"""Load benchmark for the voice menus: callers walk the demo menu to a case status.

What is measured
----------------
N synthetic callers call the demo's main menu (90000) at once.  Each is a
fake Asterisk over TCP speaking the real FastAGI wire protocol to the `menu`
route of `telecenter serve`, shaped like the generated dialplan's call
(``AGI(agi://host:port/menu,90000)`` inside the Gosub).  The caller types
``--keys`` exactly as ``telecenter simulate --keys`` reads them (one element
per prompt or wait; the first key of an element cuts the prompt short): by
default 1 (cases), 1 (case status by number), then a demo case number and
'#'.  The server answers, plays the menus' prompts, looks the case up in
PostgreSQL, says its status and hangs up (or names the next number in
TELECENTER_NEXT): the server closing the connection ends the call.

The same N callers then call a "raw responder": a minimal asyncio server in
this process that replays the command sequence telecenter sent in its first
call and does nothing else (no parsing, routing, menus, database).  It is the
floor: what the wire and this client cost.

For each N it prints, for telecenter and raw:

- calls/s: N divided by the wall time for all N calls to finish;
- think p50/p99: decision latency, the time from the caller's reply (or the
  blank line that ends the environment) to the server's next command, over
  every step of every call;
- connect p99, accept-queue overflows: as in agi_load.py;
- failed: calls that errored or timed out, whose commands differ from the
  first call's (a different prompt, a missing step, another ending), and,
  for telecenter, calls whose record in the server's database does not show
  the case status said (``call_events`` 'say' with the status text, outcome
  'completed'), matched to the caller by its Asterisk unique id;
- peak RSS: VmHWM of the server's Python process since it started (not its
  PostgreSQL); for raw, VmHWM of this bench process (client and responder)
  reset just before the run.  This process also holds the setup's modules
  (psycopg, the menu engine), so the raw figure is higher than agi_load's;

then the decision latency per step (p50 and p99 for telecenter, p99 for raw,
and their ratio), each step named by what the caller did before it and the
command the server sent (a spoken prompt shows its text): the step after
the last key of the case number is the case look-up.

Setup (not measured)
--------------------
A fresh temporary TELECENTER_VAR holds an embedded PostgreSQL, started by
this bench and passed to the server as DATABASE_URL.  The bench migrates it,
loads the demo configuration (``dialplan.demo_configuration``), renders the
include files with the menu plan ``telecenter_ivr.json`` into a temporary
TELECENTER_INCLUDE_DIR (no Asterisk is involved: nothing is reloaded),
walks the keys with the simulator against the same database to learn what
will be said (and that the walk does reach the case status), and
synthesises those texts into the server's TTS cache
(``ivr.tts.presynthesize``), so no caller waits on speech synthesis: it
happens once per text in production too, and its cost is the TTS engine's,
not the server's.  One unmeasured first call records the script.

How to run
----------
    .venv/bin/python bench/ivr_load.py                  # N=100, then N=1000
    .venv/bin/python bench/ivr_load.py --sessions 100
    .venv/bin/python bench/ivr_load.py --keys "1,1,19*03*2044#"
"""

import argparse
import asyncio
import atexit
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from agi_bench import (HOST, TelecenterServer, add_common_arguments, asterisk_reply, bench_raw,
                       command_verb, free_port, listen_overflows, percentile, print_script,
                       print_table, raise_open_file_limit, run_session, run_sessions,
                       summarize)

from dialplan import names
from ivr.simulate import SimulatedCall, parse_keys, simulated_steps, step_lines

ROUTE = names.ROUTE_MENU
MAIN_MENU = "90000"
CALLER = "79000000001"


# --- the caller --------------------------------------------------------------


class MenuCaller:
    """A caller on the wire who types ``keys`` as ``telecenter simulate --keys`` does.

    The typing rule is the simulator's own (``SimulatedCall``): this class
    only turns its choices into Asterisk's replies, and notes what the caller
    did in reply to each command (for naming the steps).
    """

    def __init__(self, keys):
        self.typist = SimulatedCall(CALLER, MAIN_MENU, keys)
        self.actions = []

    async def reply(self, command):
        verb = command_verb(command)
        if verb == "STREAM FILE":
            _, _, prompt, escape = shlex.split(command)[:4]
            key = await self.typist.stream_file(prompt, escape)
            self.actions.append(f"pressed {key}" if key else "listened to the end")
            return f"200 result={ord(key)} endpos=8000" if key else "200 result=0 endpos=16000"
        if verb == "WAIT FOR DIGIT":
            key = await self.typist.wait_for_digit(int(shlex.split(command)[3]))
            self.actions.append(f"pressed {key}" if key else "waited it out")
            return f"200 result={ord(key) if key else 0}"
        self.actions.append(f"{verb} done")
        return asterisk_reply(command)


def new_caller(keys):
    return lambda: MenuCaller(keys)


def ending_problem(result, script):
    """A call failed when its commands differ from the first call's."""
    if result.commands != script:
        first = next((i for i, (a, b) in enumerate(zip(result.commands, script)) if a != b),
                     min(len(result.commands), len(script)))
        got = result.commands[first] if first < len(result.commands) else "(hung up)"
        want = script[first] if first < len(script) else "(hang-up)"
        return f"step {first + 1}: {got} instead of {want}"
    return ""


# --- setup: database, demo configuration, include files, speech -------------


def demo_keys():
    """The keys from the main menu to the status of a demo case."""
    from dialplan.demo_configuration import DEMO_CASE_NUMBER
    from ivr.cases import case_number_keys

    return f"1,1,{case_number_keys(DEMO_CASE_NUMBER)}"


def prepare(settings, url):
    """Migrate, load the demo configuration, write the include files; the plan."""
    import psycopg

    from dialplan.configuration import load_configuration
    from dialplan.demo_configuration import load_demo_configuration
    from dialplan.ivr_plan import IVR_PLAN_FILE, plan_from_json
    from dialplan.render import render_all, write_files
    from fastagi.migrations import apply_migrations

    apply_migrations(url, settings.sql_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        load_demo_configuration(conn)
        config = load_configuration(conn)
    files = render_all(settings, config)
    write_files(settings.include_dir, files)
    return plan_from_json(files[IVR_PLAN_FILE])


async def expected_walk(plan, url, keys):
    """The simulator's walk with these keys: its steps, and the texts of the case status.

    Refuses keys that do not reach a case that exists: the benchmark is
    about calls that get their answer.
    """
    from fastagi.database import open_pool
    from ivr.cases import PgCaseBackend, case_number_from_digits

    pool = await open_pool(url, max_size=1)
    try:
        cases = PgCaseBackend(pool)
        steps, ending = await simulated_steps(plan, MAIN_MENU, CALLER, keys, cases)
        scenario = next((i for i, (kind, detail) in enumerate(steps)
                         if kind == "scenario" and detail.startswith("case_status")), None)
        if scenario is None:
            raise SystemExit("the keys do not reach the case status:\n"
                             + "\n".join(step_lines(steps, ending)))
        typed = steps[scenario][1].partition(" with digits ")[2]
        case = await cases.case_by_number(case_number_from_digits(typed) or "")
    finally:
        await pool.close()
    status_texts = [detail for kind, detail in steps[scenario:] if kind == "say"][:1]
    if case is None or not status_texts or case.status not in status_texts[0]:
        raise SystemExit(f"the keys reach the case status but no case is found for {typed!r}:\n"
                         + "\n".join(step_lines(steps, ending)))
    return steps, ending, status_texts


def presynthesize_walk(plan, steps, settings):
    """Put every text of the walk into the TTS cache; seconds it took."""
    from ivr.tts import presynthesize

    texts = list(dict.fromkeys(detail for kind, detail in steps if kind == "say"))
    started = time.monotonic()
    failed = presynthesize(texts, plan.tts, settings.tts_cache_dir)
    if failed:
        raise SystemExit("no speech engine could say:\n"
                         + "\n".join(f"  {text!r}: {reason}" for text, reason in failed))
    return len(texts), time.monotonic() - started


# --- verification in the server's database -----------------------------------


def calls_with_status(url, run_tag, status_texts):
    """Unique ids of this run's calls whose record shows the case status said."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.unique_id FROM calls c"
            " WHERE c.unique_id LIKE %s AND c.route = %s AND c.outcome = 'completed'"
            "   AND (SELECT count(DISTINCT e.detail) FROM call_events e"
            "        WHERE e.call_id = c.id AND e.kind = 'say' AND e.detail = ANY(%s)) = %s",
            (run_tag + ".%", ROUTE, status_texts, len(set(status_texts)))).fetchall()
    return {row[0] for row in rows}


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


def print_decision_steps(telecenter, raw, labels):
    """Decision latency per step: telecenter p50/p99, raw p99, and the p99 ratio."""
    print("decision latency by step, ms (telecenter p50, p99; raw p99; p99 ratio):")
    for step, label in enumerate(labels):
        tc = [r.think[step] for r in telecenter if len(r.think) > step]
        floor = [r.think[step] for r in raw if len(r.think) > step]
        tc99, raw99 = percentile(tc, 99) * 1000, percentile(floor, 99) * 1000
        print(f"  {step + 1:>2} {percentile(tc, 50) * 1000:8.2f} {tc99:8.2f} {raw99:8.2f}"
              f" {tc99 / raw99:6.1f}x  {label}")


# --- the run -----------------------------------------------------------------


async def full_bench(args, sizes):
    from fastagi.database import database_url
    from fastagi.settings import Settings, use_settings

    var_dir = Path(tempfile.mkdtemp(prefix="telecenter-ivr-bench-"))
    keep = [args.keep_var]
    # Registered first, so it runs last: after the embedded PostgreSQL has stopped.
    atexit.register(lambda: keep[0] or shutil.rmtree(var_dir, ignore_errors=True))
    port = args.agi_port or free_port()
    include_dir = var_dir / "include"
    settings = Settings.from_env({"TELECENTER_VAR": str(var_dir),
                                  "TELECENTER_INCLUDE_DIR": str(include_dir),
                                  "TELECENTER_AGI_PORT": str(port)})
    use_settings(settings)
    keys = parse_keys(args.keys or demo_keys())
    with database_url(settings) as url:
        started = time.monotonic()
        plan = prepare(settings, url)
        steps, ending, status_texts = await expected_walk(plan, url, keys)
        print(f"demo configuration loaded and rendered in {time.monotonic() - started:.1f}s;"
              f" the walk with keys {','.join(keys)} (simulated):")
        print("\n".join("  " + line for line in step_lines(steps, ending)))
        count, seconds = presynthesize_walk(plan, steps, settings)
        print(f"{count} texts synthesised into the TTS cache in {seconds:.1f}s")
        server = TelecenterServer(port, url, var_dir,
                                  env={"TELECENTER_INCLUDE_DIR": str(include_dir)})
        print(f"telecenter serve on {HOST}:{port}, TELECENTER_VAR={var_dir}")
        try:
            await bench_against(server, args, sizes, url, keys, status_texts)
        except BaseException:
            keep[0] = True
            raise
        finally:
            print(f"\ntelecenter serve {server.stop()}")
            if keep[0]:
                print(f"kept {var_dir} (server log: {server.log_path})")
    print("peak RSS: telecenter = VmHWM of the server's Python process since start; "
          "raw = VmHWM of this bench process (client + responder + setup) reset before each run")


async def bench_against(server, args, sizes, url, keys, status_texts):
    """The first call (recorded, checked), then each N against telecenter and raw."""
    port = server.port
    started = time.monotonic()
    server.wait_listening(args.startup_timeout)
    print(f"listening after {time.monotonic() - started:.1f}s, "
          f"idle RSS {server.status_kib('VmRSS') / 1024:.1f} MiB")
    caller = MenuCaller(keys)
    first = await run_session(port, 0, args.timeout, caller, ROUTE, MAIN_MENU, "first.0")
    if first.error or "first.0" not in calls_with_status(url, "first", status_texts):
        raise SystemExit(f"first call failed: {first.error or 'no case status said'};"
                         f" commands {first.commands}\n" + server.log_tail())
    script = first.commands
    print_script(script, "recorded from the first telecenter call")
    labels = step_labels(script, caller.actions, spoken_texts(url, "first.0"))
    for sessions in sizes:
        concurrency = args.concurrency or sessions
        run_tag = f"n{sessions}-{int(time.time())}"
        overflows = listen_overflows()
        results, wall = await run_sessions(port, sessions, concurrency, args.timeout,
                                           new_caller(keys), ROUTE, MAIN_MENU, run_tag)
        overflows = listen_overflows() - overflows
        server.check_alive(f"N={sessions}")
        mark_unverified(results, calls_with_status(url, run_tag, status_texts))
        telecenter = summarize("telecenter", results, wall, script,
                               server.status_kib("VmHWM"), ending_problem)
        telecenter.listen_overflows = overflows
        raw, raw_results = await bench_raw(script, sessions, concurrency, args.timeout,
                                           new_caller(keys), ROUTE, MAIN_MENU, ending_problem)
        print_table(sessions, concurrency, [telecenter, raw], rate="calls/s")
        print_decision_steps(results, raw_results, labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--keys", help="what each caller types, as for telecenter simulate"
                                       " (default: the demo's way to a case status)")
    args = parser.parse_args()
    sizes = args.sessions or [100, 1000]
    raise_open_file_limit(max(args.concurrency or n for n in sizes))
    asyncio.run(full_bench(args, sizes))


if __name__ == "__main__":
    main()
