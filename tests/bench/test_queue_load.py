"""The queue engine decides as the rules read literally (the benchmark's simplest loop) on
many small random contact centers, one to four members becoming free at once; and the
benchmark's real-Asterisk part still runs, at a small size."""

import random
import sys
from dataclasses import replace

import pytest

from fastagi.settings import PROJECT_ROOT
from ivr import queue_engine as qe
from tests.conftest import require

sys.path.insert(0, str(PROJECT_ROOT / "bench"))  # the benchmarks are scripts, not a package

from queue_load import (NOW, RealRun, loaded_state, run_on_asterisk,  # noqa: E402
                        simplest_decisions, wrap_up_ends)


@pytest.mark.parametrize("seed", range(300))
def test_the_engine_offers_free_members_as_the_simplest_loop_does(seed):
    rng = random.Random(seed)
    state = loaded_state(callers=rng.randint(1, 30), queues=rng.randint(1, 4),
                         members=rng.randint(2, 12), seed=seed)
    busy = [m.phone for m in state.members if m.in_call]
    freed = set(rng.sample(busy, min(len(busy), rng.randint(1, 4))))
    state = wrap_up_ends(state, freed)
    if seed % 2:  # a caller whose members already ring is sticky to one just freed
        for c in state.callers:
            operator = next((m for m in state.members
                             if m.phone in freed and c.queue in m.queues), None)
            if c.ringing and operator is not None:
                sticky = replace(c, sticky_phone=operator.phone, sticky_operator=None)
                state = replace(state, callers=tuple(sticky if x is c else x
                                                     for x in state.callers))
                break
    assert list(qe.tick(state, NOW).decisions) == simplest_decisions(state, NOW)


@pytest.mark.asterisk
@pytest.mark.parametrize("sip", [False, True], ids=["Local channel callers", "SIP callers"])
def test_callers_waiting_on_the_real_asterisk_are_served_or_give_up_with_complete_records(sip):
    """The benchmark's real part at a small size: every caller waited at once, none failed,
    some were answered, and no queue record is left incomplete."""
    require("asterisk", "sipp")
    outcome = run_on_asterisk(RealRun(callers=8, operators=2, rate=10, hold=(12, 20), talk=2,
                                      deadline=120, records_deadline=20, sip=sip))
    assert outcome.ok, outcome.report()
    assert outcome.outcomes.get("answered", 0) >= 2, outcome.report()
    assert set(outcome.outcomes) <= {"answered", "gave_up"}, outcome.report()
    assert outcome.positions_told >= 8, outcome.report()
