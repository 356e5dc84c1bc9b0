"""SIP load through a real Asterisk: SIPp callers walk the demo menu to a case status.

What is measured
----------------
A private Asterisk 16 (``dialplan.instance.AsteriskInstance``), the real
`telecenter serve` and an embedded PostgreSQL run on 127.0.0.1, set up as
the end-to-end tests set them up (tests/conftest.py's test bed): the include
files rendered, Asterisk started, the server started, the demo configuration
loaded and applied over AMI.  One SIPp process then places ``--calls`` calls
(default 1000), at most ``--concurrency`` (300) at once, ``--rate`` new calls
per second, from the test bed's SIP phone (digest auth, RFC 4733 DTMF from
the sip-tester captures renumbered for the call, ``tests/testbed/sipp.py``).
Each call dials 90000 and keys 1 (cases), 1 (status by number), then the
demo case's number with '*' between groups and '#'; the server says the
status and Asterisk hangs up.

It prints:

- failed calls: SIPp's failed calls, plus calls it never completed;
- incomplete records: calls from the phone during the run without a
  ``calls`` row, or whose row has outcome NULL or no ``call_events``, after
  waiting up to ``--records-deadline`` seconds for the recorder's batched
  writes (must be 0); then the complete rows that do not show outcome
  'completed' with the case status said, and the count of each outcome;
- CPU seconds (utime+stime from /proc/<pid>/stat) over the run of the
  FastAGI server process, of its exited children (speech engines) and of
  Asterisk's, per call and the ratio server (with speech) to Asterisk;
  SIPp's for context;
- the peak number of calls SIPp had up at once, and wall time.

Everything listens on and talks to 127.0.0.1 only.  The run is bounded:
SIPp is killed after ``--deadline`` seconds.

How to run
----------
    .venv/bin/python bench/sip_load.py                     # 1000 calls, 300 at once
    .venv/bin/python bench/sip_load.py --calls 100 --concurrency 50 --keep
"""

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agi_bench import proc_cpu_seconds, raise_open_file_limit

from fastagi.settings import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT))  # the test bed's helpers start things the tested way

from tests.testbed.agi_server import TELECENTER, AgiServer  # noqa: E402
from tests.testbed.ports import free_ports  # noqa: E402
from tests.testbed.sipp import (LOCAL_IP, PJSIP_TEST_ENDPOINT, SippProcess,  # noqa: E402
                                render_scenario, sipp_binary)

SIP_USER = "7001"
SIP_PASSWORD = "Sipp-load-7001-secret"
MAIN_MENU = "90000"
# Asterisk's RTP ports: two per call (RTP and RTCP), with room to spare.
RTP_PORTS_PER_CALL = 4


def start_asterisk(root, include_dir, agi_port, database_url, concurrency):
    """Render the first include files, then start a private Asterisk on free ports."""
    from dialplan.instance import AsteriskInstance

    sip_port, ami_port, rtp_start = free_ports(3)
    instance = AsteriskInstance(
        root=root / "asterisk", include_dir=include_dir, sip_port=sip_port,
        ami_port=ami_port, rtp_start=rtp_start,
        rtp_end=min(65000, rtp_start + RTP_PORTS_PER_CALL * concurrency + 100),
        extra_pjsip=PJSIP_TEST_ENDPOINT(SIP_USER, SIP_PASSWORD))
    render = subprocess.run(
        [str(TELECENTER), "render", "--out", str(include_dir), "--no-reload",
         "--agi-host", LOCAL_IP, "--agi-port", str(agi_port)],
        capture_output=True, text=True,
        env={**os.environ, "TELECENTER_VAR": str(root / "var"), "DATABASE_URL": database_url})
    if render.returncode:
        raise SystemExit(f"telecenter render failed:\n{render.stderr}")
    instance.write_config()
    instance.start()
    return instance


def ami_env(instance):
    return {"TELECENTER_AMI_PORT": str(instance.ami_port),
            "TELECENTER_AMI_USER": instance.ami_user,
            "TELECENTER_AMI_SECRET": instance.ami_secret}


def load_and_apply_demo(url, instance, server):
    """The demo configuration, applied into this Asterisk over AMI; the case to ask."""
    import psycopg

    from dialplan.apply import apply_now
    from dialplan.demo_configuration import (DEMO_CASE_NUMBER, DEMO_CASE_STATUS,
                                             load_demo_configuration)
    from fastagi.settings import Settings
    from ivr.speaker import presynthesize_for_calls

    settings = Settings(var_dir=server.var_dir, agi_port=server.port,
                        ami_port=instance.ami_port, ami_user=instance.ami_user,
                        ami_secret=instance.ami_secret,
                        include_dir_override=Path(instance.include_dir))
    with psycopg.connect(url, autocommit=True) as conn:
        load_demo_configuration(conn)
        started = time.monotonic()
        revision = apply_now(conn, settings, "bench", presynthesize=presynthesize_for_calls)
    print(f"demo applied as revision {revision.id} in {time.monotonic() - started:.1f}s")
    return DEMO_CASE_NUMBER, DEMO_CASE_STATUS


def sipp_command(instance, scenario, args, workdir):
    local_port, media_port = free_ports(2)
    return [
        sipp_binary(), f"{LOCAL_IP}:{instance.sip_port}",
        "-sf", str(scenario), "-s", MAIN_MENU,
        "-au", SIP_USER, "-ap", SIP_PASSWORD, "-key", "caller_user", SIP_USER,
        "-set", "caller_bye", "no",
        "-m", str(args.calls), "-l", str(args.concurrency), "-r", str(args.rate),
        "-nostdin", "-i", LOCAL_IP, "-mi", LOCAL_IP,
        "-p", str(local_port), "-mp", str(media_port),
        "-trace_stat", "-stf", str(workdir / "stats.csv"), "-fd", "1",
    ]  # fmt: skip


def sipp_counts(stats_path):
    """(successful, failed, peak concurrent calls) from SIPp's statistics file."""
    with open(stats_path, newline="") as stats:
        rows = list(csv.DictReader(stats, delimiter=";"))
    if not rows:
        return 0, 0, 0
    last = rows[-1]
    peak = max(int(row.get("CurrentCall") or 0) for row in rows)
    return int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"]), peak


def call_records(url, after_id, expected, status, deadline_s):
    """How the run's call records look, once the recorder's batched writes have landed.

    Returns (rows, incomplete, not answered, outcomes): incomplete rows have
    outcome NULL or no ``call_events`` (and a missing row counts as
    incomplete); "not answered" rows are complete but do not show outcome
    'completed' with the case status said.  Polls until every expected row is
    complete or ``deadline_s`` passes.
    """
    import psycopg

    deadline = time.monotonic() + deadline_s
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            rows, complete, answered = conn.execute(
                "SELECT count(*),"
                " count(*) FILTER (WHERE c.outcome IS NOT NULL AND EXISTS"
                "   (SELECT 1 FROM call_events e WHERE e.call_id = c.id)),"
                " count(*) FILTER (WHERE c.outcome = 'completed' AND EXISTS"
                "   (SELECT 1 FROM call_events e WHERE e.call_id = c.id"
                "    AND e.kind = 'say' AND strpos(e.detail, %s) > 0))"
                " FROM calls c WHERE c.id > %s AND c.caller = %s",
                (status, after_id, SIP_USER)).fetchone()
            if (rows >= expected and complete == rows) or time.monotonic() >= deadline:
                break
            time.sleep(0.2)  # poll interval while the last batches land
        outcomes = dict(conn.execute(
            "SELECT coalesce(outcome, '(none)'), count(*) FROM calls"
            " WHERE id > %s AND caller = %s GROUP BY 1 ORDER BY 2 DESC",
            (after_id, SIP_USER)).fetchall())
    return rows, max(expected, rows) - complete, complete - answered, outcomes


def newest_call_id(url):
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0]


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(args, root):
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations
    from fastagi.settings import Settings
    from ivr.cases import case_number_keys

    var_dir = root / "var"
    include_dir = root / "include"
    settings = Settings.from_env({"TELECENTER_VAR": str(var_dir)})
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        (agi_port,) = free_ports(1)
        instance = start_asterisk(root, include_dir, agi_port, url, args.concurrency)
        server = AgiServer(agi_port, var_dir, {
            "DATABASE_URL": url, "TELECENTER_INCLUDE_DIR": str(include_dir),
            # Every caller comes from 127.0.0.1: the SIP guard must not block the load.
            "TELECENTER_SIP_TRUSTED": "127.0.0.0/8", **ami_env(instance)})
        try:
            server.start()
            case_number, status = load_and_apply_demo(url, instance, server)
            workdir = root / "sipp"
            workdir.mkdir()
            digits = "11" + case_number_keys(case_number)
            scenario = workdir / "uac_dtmf.xml"
            scenario.write_text(render_scenario(
                digits, workdir=workdir, pause_ms=args.pause_ms,
                initial_pause_ms=args.initial_pause_ms, after_digits_ms=200),
                encoding="iso-8859-1")
            print(f"{args.calls} calls, {args.concurrency} at once, {args.rate}/s, each keying"
                  f" {digits} ({args.pause_ms} ms apart); Asterisk SIP on"
                  f" {LOCAL_IP}:{instance.sip_port}, FastAGI on {LOCAL_IP}:{agi_port}")
            after_id = newest_call_id(url)
            server_before = proc_cpu_seconds(server.process.pid)
            asterisk_before = sum(proc_cpu_seconds(instance.pid))
            sipp_before = children_cpu_seconds()
            started = time.monotonic()
            sipp = SippProcess(sipp_command(instance, scenario, args, workdir), workdir, scenario)
            result = sipp.wait(args.deadline)
            wall = time.monotonic() - started
            rows, incomplete, not_answered, outcomes = call_records(
                url, after_id, args.calls, status, args.records_deadline)
            server_cpu, speech_cpu = (after - before for after, before in zip(
                proc_cpu_seconds(server.process.pid), server_before))
            asterisk_cpu = sum(proc_cpu_seconds(instance.pid)) - asterisk_before
            sipp_cpu = children_cpu_seconds() - sipp_before
            successful, failed, peak = sipp_counts(workdir / "stats.csv")
            print(f"\nSIPp exit code {result.returncode} after {wall:.1f}s;"
                  f" peak {peak} calls up at once")
            print(f"calls: {successful} successful, {failed} failed,"
                  f" {args.calls - successful - failed} never completed")
            print(f"call records: {rows} rows, {incomplete} incomplete (no row, outcome NULL"
                  f" or no events), {not_answered} complete but not 'completed' with the"
                  f" case status said; outcomes: "
                  + ", ".join(f"{outcome} {count}" for outcome, count in outcomes.items()))
            print(f"CPU seconds over the run: server {server_cpu:.1f}"
                  f" ({server_cpu / args.calls * 1000:.1f} ms/call) and its speech engines"
                  f" {speech_cpu:.1f}, Asterisk {asterisk_cpu:.1f}"
                  f" ({asterisk_cpu / args.calls * 1000:.1f} ms/call),"
                  f" server/Asterisk {(server_cpu + speech_cpu) / asterisk_cpu:.2f}x;"
                  f" SIPp {sipp_cpu:.1f}")
            if result.errors.strip():
                print("SIPp errors (first lines):\n"
                      + "\n".join(result.errors.splitlines()[:10]))
            ok = (failed == 0 and successful == args.calls and incomplete == 0
                  and not_answered == 0)
            return ok
        finally:
            server.stop()
            instance.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls in all (default 1000)")
    parser.add_argument("--concurrency", type=int, default=300,
                        help="calls up at once at most (default 300)")
    parser.add_argument("--rate", type=float, default=10.0, help="new calls per second")
    parser.add_argument("--pause-ms", type=int, default=2500,
                        help="from one key to the next (the menus' prompts must have started)")
    parser.add_argument("--initial-pause-ms", type=int, default=2000,
                        help="from the answer to the first key")
    parser.add_argument("--deadline", type=float, default=900.0,
                        help="seconds before SIPp is killed and the run fails")
    parser.add_argument("--records-deadline", type=float, default=30.0,
                        help="seconds to wait for every call record to be complete")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    raise_open_file_limit(args.concurrency * 4)
    root = Path(tempfile.mkdtemp(prefix="telecenter-sip-load-"))
    root.chmod(0o755)  # the embedded PostgreSQL drops root and must reach its data folder
    ok = False
    try:
        ok = run(args, root)
    finally:
        if args.keep or not ok:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
