"""Load benchmark for the FastAGI server: `telecenter serve` against a raw responder.

What is measured
----------------
A fake Asterisk (asyncio streams, the real FastAGI wire protocol over TCP)
opens N sessions to the `selftest` route, concurrently, and answers every
command the way Asterisk would.  The same N sessions are then run against a
"raw responder": a minimal asyncio server in this process that sends exactly
the command sequence telecenter sent in its first session and does nothing
else.  The raw responder is the floor: what the wire and this client cost.
The gap between the two is what telecenter's protocol, session, routing and
handler layers cost per call.

For each target the bench prints:

- sessions/s: N divided by the wall time for all N sessions to finish;
- think p50/p99: "server think time per command", seen from the client:
  the time from sending a reply (or the blank line that ends the
  environment) to receiving the next command line;
- connect p99: time for the TCP connect; a listen backlog smaller than the
  burst shows here as about one second (the SYN retransmit), and in the
  "accept-queue overflows" line (TcpExt ListenOverflows, system-wide);
- failed: sessions that errored, timed out, or sent a different number of
  commands than the fixed script;
- peak RSS: for telecenter, VmHWM of the server process (the Python process
  only, not its embedded PostgreSQL) since it started; for raw, VmHWM of this
  bench process (client and responder together) with the peak reset through
  /proc/self/clear_refs just before the run (ru_maxrss if that is refused).

It prints ratios telecenter/raw.  It never asserts timing: figures depend on
the machine.  Read the think-time ratios with care: the raw responder shares
one event loop (and one CPU) with the client, so at high concurrency its
think time is mostly the client's own scheduling delay, while telecenter runs
in its own process.  --by-step splits telecenter's think time by command.

How to run
----------
    .venv/bin/python bench/agi_load.py                  # N=100, then N=1000
    .venv/bin/python bench/agi_load.py --sessions 100
    .venv/bin/python bench/agi_load.py --sessions 1000 --concurrency 200
    .venv/bin/python bench/agi_load.py --by-step        # where the time goes
    .venv/bin/python bench/agi_load.py --self-check     # client vs raw only

The server is started as `telecenter serve --agi-host 127.0.0.1 --agi-port P`
(the console script next to this interpreter) with TELECENTER_VAR set to a
fresh temporary directory, so it starts its own embedded PostgreSQL there;
DATABASE_URL is removed from its environment unless --database-url is given.
"""

import argparse
import asyncio
import shutil
import time

from agi_bench import (HOST, TelecenterServer, add_common_arguments, asterisk_reply, bench_raw,
                       command_verb, free_port, listen_overflows, print_script, print_steps,
                       print_table, raise_open_file_limit, run_session, run_sessions,
                       start_raw_responder, summarize)

ROUTE = "selftest"
NUMBER = "99999"

# Used only by --self-check, before a telecenter script has been recorded.
SELF_CHECK_SCRIPT = [
    "ANSWER",
    'STREAM FILE "hello-world" ""',
    'WAIT FOR DIGIT "5000"',
    'WAIT FOR DIGIT "5000"',
    'SAY DIGITS "12" ""',
    'SET VARIABLE "SELFTEST_STATUS" "ok"',
    'GET VARIABLE "SELFTEST_STATUS"',
    'VERBOSE "selftest done" 1',
    'EXEC "NoOp" "x"',
    "GET FULL VARIABLE x",
    "HANGUP",
]


class FakeChannel:
    """Answers AGI commands like Asterisk does for a caller who presses 1, 2.

    Keeps the per-call state that real replies depend on (which digit comes
    next), so the server sees a plausible call rather than fixed strings.
    """

    def __init__(self):
        self.digits = iter([b"1", b"2"])

    async def reply(self, command):
        """The Asterisk reply line (without newline) for one command line."""
        if command_verb(command) == "WAIT FOR DIGIT":
            digit = next(self.digits, None)
            return f"200 result={ord(digit) if digit else 0}"
        return asterisk_reply(command)


def new_channel(index):
    return FakeChannel()


def selftest_sessions(port, sessions, concurrency, timeout):
    return run_sessions(port, sessions, concurrency, timeout, new_channel, ROUTE, NUMBER)


def raw_selftest(script, sessions, concurrency, timeout):
    return bench_raw(script, sessions, concurrency, timeout, new_channel, ROUTE, NUMBER)


async def self_check(args, sizes):
    """Client against raw responder only: checks the wire code without a server."""
    print_script(SELF_CHECK_SCRIPT, "built in (--self-check)")
    server = await start_raw_responder(SELF_CHECK_SCRIPT, backlog=100)
    port = server.sockets[0].getsockname()[1]
    first = await run_session(port, 0, args.timeout, FakeChannel(), ROUTE, NUMBER)
    server.close()
    await server.wait_closed()
    if first.error or first.commands != SELF_CHECK_SCRIPT:
        raise SystemExit(f"self-check: client saw {first.commands} ({first.error})")
    print("self-check: client received the script as sent, one reply per command")
    for sessions in sizes:
        concurrency = args.concurrency or sessions
        raw, _ = await raw_selftest(SELF_CHECK_SCRIPT, sessions, concurrency, args.timeout)
        print_table(sessions, concurrency, [raw])


async def full_bench(args, sizes):
    """Record telecenter's script, then run each N against telecenter and raw."""
    port = args.agi_port or free_port()
    server = TelecenterServer(port, args.database_url)
    print(f"telecenter serve on {HOST}:{port}, TELECENTER_VAR={server.var_dir}")
    ok = False
    try:
        started = time.monotonic()
        server.wait_listening(args.startup_timeout)
        print(f"listening after {time.monotonic() - started:.1f}s, "
              f"idle RSS {server.status_kib('VmRSS') / 1024:.1f} MiB")
        first = await run_session(port, 0, args.timeout, FakeChannel(), ROUTE, NUMBER)
        if first.error or not first.commands:
            raise SystemExit(f"first session failed: {first.error or 'no commands'}; "
                             f"commands {first.commands}\n" + server.log_tail())
        script = first.commands
        print_script(script, "recorded from the first telecenter session")
        for sessions in sizes:
            concurrency = args.concurrency or sessions
            overflows = listen_overflows()
            results, wall = await selftest_sessions(port, sessions, concurrency, args.timeout)
            overflows = listen_overflows() - overflows
            server.check_alive(f"N={sessions}")
            telecenter = summarize("telecenter", results, wall, script,
                                   server.status_kib("VmHWM"))
            telecenter.listen_overflows = overflows
            raw, _ = await raw_selftest(script, sessions, concurrency, args.timeout)
            print_table(sessions, concurrency, [telecenter, raw])
            if args.by_step:
                print_steps("telecenter", results, script)
        ok = True
    finally:
        print(f"\ntelecenter serve {server.stop()}")
        if ok and not args.keep_var:
            shutil.rmtree(server.var_dir, ignore_errors=True)
        else:
            print(f"kept {server.var_dir} (server log: {server.log_path})")
    print("peak RSS: telecenter = VmHWM of the server's Python process since start; "
          "raw = VmHWM of this bench process (client + responder) reset before each run")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_arguments(parser)
    parser.add_argument("--database-url", help="pass DATABASE_URL to the server")
    parser.add_argument("--by-step", action="store_true",
                        help="also print telecenter's think time for each step")
    parser.add_argument("--self-check", action="store_true",
                        help="run the client against the raw responder only")
    args = parser.parse_args()
    sizes = args.sessions or [100, 1000]
    raise_open_file_limit(max(args.concurrency or n for n in sizes))
    asyncio.run(self_check(args, sizes) if args.self_check else full_bench(args, sizes))


if __name__ == "__main__":
    main()
