"""The queue engine decides as the rules read literally (the benchmark's simplest loop) on
many small random contact centers, one to four members becoming free at once."""

import random
import sys
from dataclasses import replace

import pytest

from fastagi.settings import PROJECT_ROOT
from ivr import queue_engine as qe

sys.path.insert(0, str(PROJECT_ROOT / "bench"))  # the benchmarks are scripts, not a package

from queue_load import NOW, loaded_state, simplest_decisions, wrap_up_ends  # noqa: E402


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
