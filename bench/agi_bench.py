"""What the FastAGI load benchmarks share: fake Asterisk, raw responder, server, figures.

- The fake Asterisk opens sessions over TCP with the real FastAGI wire
  protocol: it sends an environment block and answers every command line
  through a *channel* object (``async reply(command) -> reply line``, or
  None when the caller hangs up), which decides what the caller does (press
  a key during a prompt, wait, hang up, ...).  Like Asterisk it closes the
  socket right after answering HANGUP, and sends HANGUP and closes when the
  caller hangs up.
- The raw responder replays a fixed command script, reading one reply per
  command and nothing more: the floor against which telecenter is compared.
- ``TelecenterServer`` runs ``telecenter serve`` in a subprocess with its own
  TELECENTER_VAR, and reads its peak RSS from /proc.
- ``summarize`` and ``print_table`` turn per-session timings into the table
  both benchmarks print (calls/s, think p50/p99, connect p99, failed, RSS).

Each benchmark script (agi_load.py, ivr_load.py) says in its docstring what
its figures mean.
"""

import asyncio
import math
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


# --- the fake Asterisk -------------------------------------------------------


def agi_environment(port, index, route, number, unique_id=None):
    """The environment block Asterisk 16 sends first, unique per session.

    Shaped like the generated dialplan's call: AGI() runs inside the Gosub
    to [telecenter-agi] (extension ``s``) with the dialled number as the
    first argument.
    """
    lines = [
        "agi_network: yes",
        f"agi_network_script: {route}",
        f"agi_request: agi://{HOST}:{port}/{route}",
        f"agi_channel: PJSIP/1001-{index:08x}",
        "agi_language: ru",
        "agi_type: PJSIP",
        f"agi_uniqueid: {unique_id or f'{int(time.time())}.{index}'}",
        "agi_version: 16.28.0",
        f"agi_callerid: {79000000000 + index}",
        "agi_calleridname: ",
        f"agi_dnid: {number}",
        "agi_context: telecenter-agi",
        "agi_extension: s",
        "agi_priority: 2",
        "agi_enhanced: 0.0",
        "agi_accountcode: ",
        "agi_threadid: 1",
        f"agi_arg_1: {number}",
    ]
    return "".join(line + "\n" for line in lines) + "\n"


REPLIES = [
    ("ANSWER", "200 result=0"),
    ("STREAM FILE", "200 result=0 endpos=16000"),
    ("CONTROL STREAM FILE", "200 result=0 endpos=16000"),
    ("GET DATA", "200 result= (timeout)"),
    ("GET OPTION", "200 result=0 endpos=16000"),
    ("SAY DIGITS", "200 result=0"),
    ("SAY NUMBER", "200 result=0"),
    ("SAY ALPHA", "200 result=0"),
    ("SAY DATE", "200 result=0"),
    ("SAY TIME", "200 result=0"),
    ("SAY DATETIME", "200 result=0"),
    ("SAY PHONETIC", "200 result=0"),
    ("SET VARIABLE", "200 result=1"),
    ("GET VARIABLE", "200 result=0"),
    ("VERBOSE", "200 result=1"),
    ("HANGUP", "200 result=1"),
    ("EXEC", "200 result=0"),
    ("WAIT FOR DIGIT", "200 result=0"),  # the wait ran out
]


def command_verb(command):
    """'STREAM FILE "x" "0123"' -> 'STREAM FILE': a known command without its arguments."""
    words = " ".join(command.split()).upper()
    for prefix, _ in REPLIES:
        if words == prefix or words.startswith(prefix + " "):
            return prefix
    return words


# Commands during which Asterisk plays or reads something to the caller.
MEDIA_VERBS = {"STREAM FILE", "CONTROL STREAM FILE", "GET DATA", "GET OPTION", "SAY DIGITS",
               "SAY NUMBER", "SAY ALPHA", "SAY DATE", "SAY TIME", "SAY DATETIME", "SAY PHONETIC",
               "WAIT FOR DIGIT"}
MEDIA_APPS = {"PLAYBACK", "BACKGROUND", "READ", "SAYDIGITS", "SAYNUMBER", "WAIT"}


def takes_media_time(command):
    """Whether Asterisk answers this command only after playing or listening to the caller."""
    verb = command_verb(command)
    if verb == "EXEC":
        words = command.split(None, 2)
        return len(words) > 1 and words[1].strip('"').upper() in MEDIA_APPS
    return verb in MEDIA_VERBS


def asterisk_reply(command):
    """What Asterisk answers when the caller does nothing (no key pressed)."""
    return dict(REPLIES).get(command_verb(command), "510 Invalid or unknown command")


@dataclass
class SessionResult:
    commands: list = field(default_factory=list)
    think: list = field(default_factory=list)  # seconds, one per command
    connect: float = 0.0
    error: str = ""
    unique_id: str = ""


async def run_session(port, index, timeout, channel, route, number, unique_id=None):
    """One call: connect, send the environment, answer until the call ends.

    It ends as it does with Asterisk: the server closes the connection, or
    the server sends HANGUP and this side closes right after answering it,
    or the channel's ``reply`` returns None (the caller hung up) and this
    side sends ``HANGUP`` and closes.  Nothing the server writes after that
    is read.
    """
    result = SessionResult(unique_id=unique_id or "")
    writer = None
    try:
        started = time.perf_counter()
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(HOST, port), timeout)
        result.connect = time.perf_counter() - started
        writer.write(agi_environment(port, index, route, number, unique_id).encode())
        await writer.drain()
        sent = time.perf_counter()
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line:
                break  # the server closed the connection: the call is over
            result.think.append(time.perf_counter() - sent)
            command = line.decode().rstrip("\r\n")
            result.commands.append(command)
            reply = await channel.reply(command)
            if reply is None:  # the caller hung up: Asterisk says so and closes
                writer.write(b"HANGUP\n")
                await writer.drain()
                break
            writer.write((reply + "\n").encode())
            await writer.drain()
            if command_verb(command) == "HANGUP":
                break  # Asterisk closes the socket as soon as it has answered HANGUP
            sent = time.perf_counter()
    except asyncio.TimeoutError:
        result.error = f"no line within {timeout}s after {len(result.commands)} commands"
    except OSError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if writer is not None:
            writer.close()
    return result


async def run_sessions(port, sessions, concurrency, timeout, new_channel, route, number,
                       run_tag=None):
    """N sessions, at most `concurrency` at a time; returns (results, wall seconds).

    ``new_channel(index)`` makes the channel of session ``index`` (1..N).
    With ``run_tag`` each session's unique id is ``<run_tag>.<index>``, so
    the server's call rows of this run can be found again.
    """
    gate = asyncio.Semaphore(concurrency)

    async def gated(index):
        async with gate:
            unique_id = f"{run_tag}.{index}" if run_tag else None
            return await run_session(port, index, timeout, new_channel(index), route, number,
                                     unique_id)

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
    """`telecenter serve` in a subprocess with its own var dir and log file.

    Without ``var_dir`` a fresh temporary one is made; ``env`` adds
    environment variables (e.g. TELECENTER_INCLUDE_DIR).
    """

    def __init__(self, port, database_url, var_dir=None, env=None):
        self.port = port
        self.var_dir = Path(var_dir or tempfile.mkdtemp(prefix="telecenter-bench-"))
        self.log_path = self.var_dir / "serve.log"
        environ = dict(os.environ, TELECENTER_VAR=str(self.var_dir), **(env or {}))
        environ.pop("DATABASE_URL", None)
        if database_url:
            environ["DATABASE_URL"] = database_url
        script = Path(sys.executable).parent / "telecenter"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(script), "serve", "--agi-host", HOST, "--agi-port", str(port),
             "--admin-port", "0"],
            env=environ, stdout=self.log, stderr=subprocess.STDOUT)

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

    def check_alive(self, during):
        """Stop the benchmark with the server's log when it has died."""
        if self.proc.poll() is not None:
            raise SystemExit(f"telecenter serve died during {during}:\n" + self.log_tail())

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


def proc_cpu_seconds(pid):
    """(the process's own CPU seconds, its waited-for children's), from /proc/<pid>/stat.

    Children are the speech engines the server runs (Festival, sox): their
    time counts once they have exited.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    tick = os.sysconf("SC_CLK_TCK")
    return (utime + stime) / tick, (cutime + cstime) / tick


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


def script_length_problem(result, script):
    """A session that sent a different number of commands than the script failed."""
    if len(result.commands) != len(script):
        return f"{len(result.commands)} commands instead of {len(script)}: {result.commands}"
    return ""


def summarize(target, results, wall, script, peak_rss_kib, problem=script_length_problem):
    """Reduce per-session results to one row of the table.

    A session failed when it errored or ``problem(result, script)`` names
    something wrong with it.
    """
    think = [t for r in results for t in r.think]
    errors = [r.error or problem(r, script) for r in results]
    errors = [error for error in errors if error]
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


def print_table(sessions, concurrency, rows, rate="sessions/s"):
    """The figures for one N, then ratios and the first few distinct errors."""
    print(f"\nN={sessions} concurrency={concurrency}")
    width = max(11, *(len(f.target) + 2 for f in rows))
    print(f"{'target':<{width}}{rate:>11}{'think p50 ms':>14}{'think p99 ms':>14}"
          f"{'connect p99 ms':>16}{'failed':>8}{'peak RSS MiB':>14}")
    for f in rows:
        print(f"{f.target:<{width}}{f.sessions_per_s:>11.1f}{f.think_p50_ms:>14.3f}"
              f"{f.think_p99_ms:>14.3f}{f.connect_p99_ms:>16.3f}{f.failed:>8}"
              f"{f.peak_rss_mib:>14.1f}")
    raw = next((f for f in rows if f.target == "raw"), None)
    for tc in rows:
        if raw is not None and tc.target.startswith("telecenter"):
            print(f"{tc.target}/raw: {rate} {tc.sessions_per_s / raw.sessions_per_s:.2f}x, "
                  f"think p50 {tc.think_p50_ms / raw.think_p50_ms:.1f}x, "
                  f"think p99 {tc.think_p99_ms / raw.think_p99_ms:.1f}x")
    print("accept-queue overflows (system-wide TcpExt ListenOverflows): "
          + ", ".join(f"{f.target} {f.listen_overflows}" for f in rows))
    for f in rows:
        for error in sorted(set(f.errors))[:5]:
            print(f"  {f.target} failure ({f.errors.count(error)}x): {error}")


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


# --- runs --------------------------------------------------------------------


async def bench_raw(script, sessions, concurrency, timeout, new_channel, route, number,
                    problem=script_length_problem):
    """N sessions against the raw responder; peak RSS is this process's."""
    reset = reset_own_peak_rss()
    server = await start_raw_responder(script, backlog=max(100, concurrency))
    port = server.sockets[0].getsockname()[1]
    overflows = listen_overflows()
    results, wall = await run_sessions(port, sessions, concurrency, timeout, new_channel,
                                       route, number)
    overflows = listen_overflows() - overflows
    server.close()
    await server.wait_closed()
    if reset:
        peak = proc_status_kib(os.getpid(), "VmHWM")
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    figures = summarize("raw", results, wall, script, peak, problem)
    figures.listen_overflows = overflows
    return figures, results


def add_common_arguments(parser):
    """The command-line options every AGI load benchmark takes."""
    parser.add_argument("--sessions", type=int, action="append",
                        help="sessions per run; repeat for several (default 100 and 1000)")
    parser.add_argument("--concurrency", type=int,
                        help="sessions in flight at once (default: all of them)")
    parser.add_argument("--agi-port", type=int, help="port for telecenter serve")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds to wait for any one line before a session fails")
    parser.add_argument("--startup-timeout", type=float, default=90.0,
                        help="seconds to wait for the server to listen")
    parser.add_argument("--keep-var", action="store_true",
                        help="keep the server's TELECENTER_VAR directory")
