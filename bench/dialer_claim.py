"""The robocall dialer's claim among many tasks, and the line limit with two servers at once.

Fills a database with ``--tasks`` robocall tasks (1,000,000 by default:
priorities spread over 0-1000, due times over the past week, a tenth of them
not yet due, a tenth already done), then:

1. **Claim latency.**  ``--claims`` times, the dialer's own ``claim_next``
   (``ivr.dialer_runtime``: the settings row locked, leases that ran out
   taken back, the lines in use counted, the next task taken FOR UPDATE SKIP
   LOCKED, its lease and attempt row written, committed) against a *plain
   indexed query*: the same ordering, ``SELECT id ... ORDER BY priority,
   next_try_at, id LIMIT 1`` on the same partial index, autocommit, nothing
   locked or written.  Both from this process over one connection each; each
   claimed task is finished (its attempt logged, untimed) so the lines stay
   free.  Printed: p50, p99 and max in ms, and the ratio claim/plain.
2. **Two servers at once.**  Two processes (two "servers"), each with
   ``--workers`` connections claiming side by side, claim for ``--seconds``
   with ``--lines`` lines (3 by default: 8 claimers for 3 lines): each claimed
   call "lasts" 0-20 ms, then its attempt is finished.  A third connection
   samples the attempts in progress all the while.  Printed: claims per
   server, the highest number of attempts in progress ever seen (must not
   exceed the line limit), and each server's own view right after each of
   its claims (must not either).

    .venv/bin/python bench/dialer_claim.py                    # 1,000,000 tasks
    .venv/bin/python bench/dialer_claim.py --tasks 100000 --claims 500
    DATABASE_URL=postgresql://... .venv/bin/python bench/dialer_claim.py

Without ``DATABASE_URL`` (or ``--database-url``) it starts an embedded
PostgreSQL in a temporary folder, removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from fastagi.migrations import apply_migrations  # noqa: E402
from ivr import dialer  # noqa: E402
from ivr.dialer_runtime import AttemptReport, claim_next, finish_attempt  # noqa: E402

ALWAYS = lambda settings, now: True  # noqa: E731
LEASE_SECONDS = 60


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]


def fill(url: str, tasks: int) -> float:
    """``tasks`` tasks in a clean table; seconds it took."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE robocall_attempts, robocall_tasks RESTART IDENTITY")
        conn.execute("INSERT INTO dialer_settings (id) VALUES (1) ON CONFLICT DO NOTHING")
        conn.execute("UPDATE dialer_settings SET enabled = true, max_lines = 500")
        conn.execute(
            "INSERT INTO robocall_tasks (phone, text, priority, queued_at, next_try_at, done_at,"
            " outcome)"
            " SELECT '79' || lpad(g::text, 9, '0'), 'Ваше дело ' || g || ' готово',"
            " (g::bigint * 7919) %% 1001, now() - interval '7 days',"
            " now() - make_interval(secs => (g::bigint * 104729) %% 604800)"
            "   + CASE WHEN g %% 10 = 3 THEN interval '8 days' ELSE interval '0' END,"
            " CASE WHEN g %% 10 = 7 THEN now() END, CASE WHEN g %% 10 = 7 THEN 'answered' END"
            " FROM generate_series(1, %s) AS g", (tasks,))
        conn.execute("VACUUM ANALYZE robocall_tasks")
    return time.perf_counter() - started


async def measure(url: str, claims: int) -> tuple[list[float], list[float]]:
    """Claim times and plain-query times, in ms."""
    claim_ms, plain_ms = [], []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn, \
            await psycopg.AsyncConnection.connect(url, autocommit=True) as plain:
        for _ in range(claims):
            started = time.perf_counter()
            claim = await claim_next(conn, "bench", LEASE_SECONDS, ALWAYS)
            claim_ms.append((time.perf_counter() - started) * 1000)
            assert claim is not None, "nothing claimed: too few due tasks"
            await finish_attempt(conn, claim, "bench", AttemptReport(dialer.ANSWERED, "bench"))
            started = time.perf_counter()
            await (await plain.execute(
                "SELECT id FROM robocall_tasks WHERE done_at IS NULL"
                " AND attempt_started_at IS NULL AND next_try_at <= now()"
                " ORDER BY priority, next_try_at, id LIMIT 1")).fetchone()
            plain_ms.append((time.perf_counter() - started) * 1000)
    return claim_ms, plain_ms


def claimer(url: str, server: str, seconds: float, workers: int, out) -> None:
    """One "server" with ``workers`` connections claiming at once (as its dialer claims all
    it may and runs the attempts side by side): claim, hold the line 0-20 ms, finish.
    Reports its claims and the most attempts in progress it saw right after its claims."""
    async def worker(index: int) -> tuple[int, int]:
        claims, highest = 0, 0
        rng = random.Random(f"{server}-{index}")
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                claim = await claim_next(conn, server, LEASE_SECONDS, ALWAYS)
                if claim is None:
                    await asyncio.sleep(0.001)
                    continue
                claims += 1
                busy = (await (await conn.execute(
                    "SELECT count(*) FROM robocall_tasks WHERE attempt_started_at IS NOT NULL"
                )).fetchone())[0]
                highest = max(highest, busy)
                await asyncio.sleep(rng.uniform(0, 0.02))
                await finish_attempt(conn, claim, server,
                                     AttemptReport(dialer.NO_ANSWER, "bench"))
        return claims, highest

    async def run():
        results = await asyncio.gather(*(worker(i) for i in range(workers)))
        return sum(c for c, _h in results), max(h for _c, h in results)
    out.put((server, *asyncio.run(run())))


def two_servers(url: str, lines: int, seconds: float, workers: int) -> dict:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE dialer_settings SET max_lines = %s", (lines,))
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    servers = [context.Process(target=claimer, args=(url, name, seconds, workers, out))
               for name in ("server-a", "server-b")]
    for process in servers:
        process.start()
    seen, samples = 0, 0
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + seconds + 1
        while time.monotonic() < deadline:
            busy = conn.execute("SELECT count(*) FROM robocall_tasks"
                                " WHERE attempt_started_at IS NOT NULL").fetchone()[0]
            seen, samples = max(seen, busy), samples + 1
    results = {}
    for _ in servers:
        name, claims, highest = out.get(timeout=60)
        results[name] = (claims, highest)
    for process in servers:
        process.join(30)
    return {"servers": results, "highest sampled": seen, "samples": samples}


def run(url: str, tasks: int, claims: int, lines: int, seconds: float, workers: int) -> dict:
    apply_migrations(url, ROOT / "sql")
    filled = fill(url, tasks)
    print(f"{tasks:,} tasks written in {filled:.1f} s")
    claim_ms, plain_ms = asyncio.run(measure(url, claims))
    figures = {
        "claim p50": percentile(claim_ms, 50), "claim p99": percentile(claim_ms, 99),
        "claim max": max(claim_ms),
        "plain p50": percentile(plain_ms, 50), "plain p99": percentile(plain_ms, 99),
        "plain max": max(plain_ms),
    }
    print(f"\nclaim of the next due task among {tasks:,} ({claims} claims)")
    print(f"{'':24}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    print(f"{'claim_next (dialer)':24}{figures['claim p50']:10.2f}{figures['claim p99']:10.2f}"
          f"{figures['claim max']:10.2f}")
    print(f"{'plain indexed query':24}{figures['plain p50']:10.2f}{figures['plain p99']:10.2f}"
          f"{figures['plain max']:10.2f}")
    print(f"{'ratio claim/plain':24}{figures['claim p50'] / figures['plain p50']:10.1f}"
          f"{figures['claim p99'] / figures['plain p99']:10.1f}")
    both = two_servers(url, lines, seconds, workers)
    print(f"\ntwo servers, {workers} claimers each, claiming at once for {seconds:g} s"
          f" with {lines} lines")
    for name, (count, highest) in both["servers"].items():
        print(f"  {name}: {count} claims, at most {highest} in progress right after its claims")
    print(f"  sampled {both['samples']} times: at most {both['highest sampled']} in progress"
          f" (limit {lines})")
    figures["two servers"] = both
    figures["limit kept"] = (both["highest sampled"] <= lines
                             and all(h <= lines for _c, h in both["servers"].values()))
    print("  line limit kept" if figures["limit kept"] else "  LINE LIMIT EXCEEDED")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=4, help="claimers per server")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args(argv)
    if args.database_url:
        figures = run(args.database_url, args.tasks, args.claims, args.lines, args.seconds,
                      args.workers)
        return 0 if figures["limit kept"] else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pgserver
    parent = Path(tempfile.mkdtemp(prefix="dialer-bench-pg-"))
    parent.chmod(0o755)
    server = pgserver.get_server(parent / "pgdata", cleanup_mode="delete")
    try:
        figures = run(server.get_uri(), args.tasks, args.claims, args.lines, args.seconds,
                      args.workers)
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)
    return 0 if figures["limit kept"] else 1


if __name__ == "__main__":
    sys.exit(main())
