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
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
ROUTE = "selftest"

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


# --- the fake Asterisk -------------------------------------------------------


def agi_environment(port, index):
    """The environment block Asterisk 16 sends first, unique per session."""
    lines = [
        "agi_network: yes",
        f"agi_network_script: {ROUTE}",
        f"agi_request: agi://{HOST}:{port}/{ROUTE}",
        f"agi_channel: PJSIP/1001-{index:08x}",
        "agi_language: ru",
        "agi_type: PJSIP",
        f"agi_uniqueid: {int(time.time())}.{index}",
        "agi_version: 16.28.0",
        f"agi_callerid: {79000000000 + index}",
        "agi_calleridname: ",
        "agi_dnid: 99999",
        "agi_context: telecenter-agi",
        "agi_extension: s",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 1",
        "agi_arg_1: 99999",
    ]
    return "".join(line + "\n" for line in lines) + "\n"


REPLIES = [
    ("ANSWER", "200 result=0"),
    ("STREAM FILE", "200 result=0 endpos=16000"),
    ("SAY DIGITS", "200 result=0"),
    ("SET VARIABLE", "200 result=1"),
    ("GET VARIABLE", "200 result=0"),
    ("VERBOSE", "200 result=1"),
    ("HANGUP", "200 result=1"),
    ("EXEC", "200 result=0"),
]


class FakeChannel:
    """Answers AGI commands like Asterisk does for a caller who presses 1, 2.

    Keeps the per-call state that real replies depend on (which digit comes
    next), so the server sees a plausible call rather than fixed strings.
    """

    def __init__(self):
        self.digits = iter([b"1", b"2"])

    def reply(self, command):
        """The Asterisk reply line (without newline) for one command line."""
        verb = " ".join(command.split()).upper()
        if verb.startswith("WAIT FOR DIGIT"):
            digit = next(self.digits, None)
            return f"200 result={ord(digit) if digit else 0}"
        for prefix, answer in REPLIES:
            if verb == prefix or verb.startswith(prefix + " "):
                return answer
        return "510 Invalid or unknown command"


@dataclass
class SessionResult:
    commands: list = field(default_factory=list)
    think: list = field(default_factory=list)  # seconds, one per command
    connect: float = 0.0
    error: str = ""


async def run_session(port, index, timeout):
    """One call: connect, send the environment, answer until the server hangs up."""
    result = SessionResult()
    channel = FakeChannel()
    writer = None
    try:
        started = time.perf_counter()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), timeout)
        result.connect = time.perf_counter() - started
        writer.write(agi_environment(port, index).encode())
        await writer.drain()
        sent = time.perf_counter()
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                break  # the server closed the connection: the call is over
            result.think.append(time.perf_counter() - sent)
            command = line.decode().rstrip("\r\n")
            result.commands.append(command)
            writer.write((channel.reply(command) + "\n").encode())
            await writer.drain()
            sent = time.perf_counter()
    except asyncio.TimeoutError:
        result.error = f"no line within {timeout}s after {len(result.commands)} commands"
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    return result


async def run_sessions(port, sessions, concurrency, timeout):
    """N sessions, at most `concurrency` at a time; returns (results, wall seconds)."""
    gate = asyncio.Semaphore(concurrency)

    async def gated(index):
        async with gate:
            return await run_session(port, index, timeout)

    started = time.perf_counter()
    results = await asyncio.gather(*(gated(i) for i in range(1, sessions + 1)))
    return results, time.perf_counter() - started


# --- the raw responder -------------------------------------------------------


async def start_raw_responder(script, backlog):
    """A server that does the least a FastAGI server can: replay `script`.

    It reads the environment up to the blank line, sends each command and
    reads its reply, then closes.  No parsing, routing or database.
    """

    async def handle(reader, writer):
        try:
            while (await reader.readline()).strip():
                pass
            for command in script:
                writer.write((command + "\n").encode())
                await writer.drain()
                if not await reader.readline():
                    break
        except OSError:
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, HOST, 0, backlog=backlog)


# --- the telecenter server subprocess ---------------------------------------


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class TelecenterServer:
    """`telecenter serve` in a subprocess with its own var dir and log file."""

    def __init__(self, port, database_url):
        self.port = port
        self.var_dir = Path(tempfile.mkdtemp(prefix="telecenter-bench-"))
        self.log_path = self.var_dir / "serve.log"
        env = dict(os.environ, TELECENTER_VAR=str(self.var_dir))
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        script = Path(sys.executable).parent / "telecenter"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(script), "serve", "--agi-host", HOST, "--agi-port", str(port), "--admin-port", "0"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def log_tail(self, lines=30):
        """The end of the server's log, for error messages."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def wait_listening(self, deadline_s):
        """Poll until the AGI port accepts connections; fail if the server exits."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"telecenter serve exited with {self.proc.returncode}:\n"
                    + self.log_tail())
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(
            f"telecenter serve not listening on {self.port} after {deadline_s}s:\n"
            + self.log_tail())

    def status_kib(self, key):
        """A memory figure (VmHWM, VmRSS) of the server process, in KiB."""
        return proc_status_kib(self.proc.pid, key)

    def stop(self):
        """SIGTERM, wait, then kill; returns how it ended, for the report."""
        if self.proc.poll() is not None:
            how = f"had already exited with {self.proc.returncode}"
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
                how = f"exited with {self.proc.returncode} after SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                how = "did not exit within 15s of SIGTERM; killed"
        self.log.close()
        return how


def proc_status_kib(pid, key):
    """One `kB` line of /proc/<pid>/status, e.g. VmHWM (peak RSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def listen_overflows():
    """System-wide count of connections dropped because an accept queue was full.

    A listen backlog smaller than the burst of connects shows here, and as a
    connect time of about one second (the client's SYN retransmit).
    """
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            return int(dict(zip(names.split(), values.split()))["ListenOverflows"])
    return 0


def reset_own_peak_rss():
    """Reset this process's VmHWM so the next reading covers one run only.

    Returns False where the kernel refuses; then ru_maxrss (lifetime peak)
    is all there is.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def raise_open_file_limit(concurrency):
    """Room for both ends of every connection (client and raw responder)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * concurrency + 256
    if soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


# --- figures -----------------------------------------------------------------


@dataclass
class Figures:
    target: str
    sessions_per_s: float
    think_p50_ms: float
    think_p99_ms: float
    connect_p99_ms: float
    failed: int
    peak_rss_mib: float
    errors: list
    listen_overflows: int = 0


def percentile(values, pct):
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


def summarize(target, results, wall, script, peak_rss_kib):
    """Reduce per-session results to one row of the table."""
    think = [t for r in results for t in r.think]
    errors = []
    for r in results:
        if r.error:
            errors.append(r.error)
        elif len(r.commands) != len(script):
            errors.append(f"{len(r.commands)} commands instead of {len(script)}: "
                          f"{r.commands}")
    return Figures(
        target=target,
        sessions_per_s=len(results) / wall,
        think_p50_ms=percentile(think, 50) * 1000,
        think_p99_ms=percentile(think, 99) * 1000,
        connect_p99_ms=percentile([r.connect for r in results if r.connect], 99) * 1000,
        failed=len(errors),
        peak_rss_mib=peak_rss_kib / 1024,
        errors=errors,
    )


def print_table(sessions, concurrency, rows):
    """The figures for one N, then ratios and the first few distinct errors."""
    print(f"\nN={sessions} concurrency={concurrency}")
    print(f"{'target':<11}{'sessions/s':>11}{'think p50 ms':>14}{'think p99 ms':>14}"
          f"{'connect p99 ms':>16}{'failed':>8}{'peak RSS MiB':>14}")
    for f in rows:
        print(f"{f.target:<11}{f.sessions_per_s:>11.1f}{f.think_p50_ms:>14.3f}"
              f"{f.think_p99_ms:>14.3f}{f.connect_p99_ms:>16.3f}{f.failed:>8}"
              f"{f.peak_rss_mib:>14.1f}")
    by_target = {f.target: f for f in rows}
    if {"telecenter", "raw"} <= by_target.keys():
        tc, raw = by_target["telecenter"], by_target["raw"]
        print(f"telecenter/raw: sessions/s {tc.sessions_per_s / raw.sessions_per_s:.2f}x, "
              f"think p50 {tc.think_p50_ms / raw.think_p50_ms:.1f}x, "
              f"think p99 {tc.think_p99_ms / raw.think_p99_ms:.1f}x")
    print("accept-queue overflows (system-wide TcpExt ListenOverflows): "
          + ", ".join(f"{f.target} {f.listen_overflows}" for f in rows))
    for f in rows:
        for error in sorted(set(f.errors))[:5]:
            print(f"  {f.target} failure ({f.errors.count(error)}x): {error}")


# --- runs --------------------------------------------------------------------


async def bench_raw(script, sessions, concurrency, timeout):
    """N sessions against the raw responder; peak RSS is this process's."""
    reset = reset_own_peak_rss()
    server = await start_raw_responder(script, backlog=max(100, concurrency))
    port = server.sockets[0].getsockname()[1]
    overflows = listen_overflows()
    results, wall = await run_sessions(port, sessions, concurrency, timeout)
    overflows = listen_overflows() - overflows
    server.close()
    await server.wait_closed()
    if reset:
        peak = proc_status_kib(os.getpid(), "VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = summarize("raw", results, wall, script, peak)
    figures.listen_overflows = overflows
    return figures


def print_steps(target, results, script):
    """Think time per step of the script: shows which command carries the cost."""
    print(f"{target} think ms by step (p50 / p99):")
    for step, command in enumerate(script):
        times = [r.think[step] for r in results if len(r.think) > step]
        print(f"  {step + 1:>2} {percentile(times, 50) * 1000:9.3f} "
              f"{percentile(times, 99) * 1000:9.3f}  {command.split(' ')[0]}")


def print_script(script, source):
    """Show the fixed script, so a changed route is visible in the output."""
    print(f"fixed script: {len(script)} commands, {source}")
    for command in script:
        print(f"  {command}")


async def self_check(args, sizes):
    """Client against raw responder only: checks the wire code without a server."""
    print_script(SELF_CHECK_SCRIPT, "built in (--self-check)")
    server = await start_raw_responder(SELF_CHECK_SCRIPT, backlog=100)
    port = server.sockets[0].getsockname()[1]
    first = await run_session(port, 0, args.timeout)
    server.close()
    await server.wait_closed()
    if first.error or first.commands != SELF_CHECK_SCRIPT:
        raise SystemExit(f"self-check: client saw {first.commands} ({first.error})")
    print("self-check: client received the script as sent, one reply per command")
    for sessions in sizes:
        concurrency = args.concurrency or sessions
        print_table(sessions, concurrency,
                    [await bench_raw(SELF_CHECK_SCRIPT, sessions, concurrency,
                                     args.timeout)])


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
        first = await run_session(port, 0, args.timeout)
        if first.error or not first.commands:
            raise SystemExit(f"first session failed: {first.error or 'no commands'}; "
                             f"commands {first.commands}\n" + server.log_tail())
        script = first.commands
        print_script(script, "recorded from the first telecenter session")
        for sessions in sizes:
            concurrency = args.concurrency or sessions
            overflows = listen_overflows()
            results, wall = await run_sessions(port, sessions, concurrency, args.timeout)
            overflows = listen_overflows() - overflows
            if server.proc.poll() is not None:
                raise SystemExit(f"telecenter serve died during N={sessions}:\n"
                                 + server.log_tail())
            telecenter = summarize("telecenter", results, wall, script,
                                   server.status_kib("VmHWM"))
            telecenter.listen_overflows = overflows
            raw = await bench_raw(script, sessions, concurrency, args.timeout)
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
    parser.add_argument("--sessions", type=int, action="append",
                        help="sessions per run; repeat for several (default 100 and 1000)")
    parser.add_argument("--concurrency", type=int,
                        help="sessions in flight at once (default: all of them)")
    parser.add_argument("--agi-port", type=int, help="port for telecenter serve")
    parser.add_argument("--database-url", help="pass DATABASE_URL to the server")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for any one line before a session fails")
    parser.add_argument("--startup-timeout", type=float, default=90.0,
                        help="seconds to wait for the server to listen")
    parser.add_argument("--keep-var", action="store_true",
                        help="keep the server's TELECENTER_VAR directory")
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
