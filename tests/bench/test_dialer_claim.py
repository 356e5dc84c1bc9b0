"""The dialer's claim benchmark runs, prints its figures and finds the line limit kept."""

import sys

from fastagi.settings import PROJECT_ROOT
from tests.conftest import new_database

sys.path.insert(0, str(PROJECT_ROOT / "bench"))  # the benchmarks are scripts, not a package

from dialer_claim import run  # noqa: E402


def test_a_small_run_claims_and_keeps_the_line_limit_with_two_servers(pg_url, capsys):
    with new_database(pg_url, "telecenter_dialer_bench", migrate=False) as url:
        figures = run(url, tasks=2000, claims=50, lines=2, seconds=1.0, workers=3)
    printed = capsys.readouterr().out
    assert "claim_next (dialer)" in printed and "plain indexed query" in printed
    assert figures["limit kept"] and figures["two servers"]["highest sampled"] <= 2
    assert all(claims > 0 for claims, _ in figures["two servers"]["servers"].values())
    assert 0 < figures["claim p50"] and 0 < figures["plain p50"]
