"""The bridge from other threads to the reactor's loop: results, errors, time limits."""

import asyncio
import threading

import pytest

from fastagi.bridge import BridgeTimeout, ReactorBridge


def test_the_work_runs_on_the_loop_and_its_result_comes_back(loop):
    async def where():
        return asyncio.get_running_loop(), threading.get_ident()

    ran_on, thread = ReactorBridge(loop).call(where, timeout=5)
    assert ran_on is loop and thread != threading.get_ident()


def test_an_exception_comes_back_as_it_was_raised(loop):
    class Refused(Exception):
        pass

    async def refuse():
        raise Refused("Reload refused")

    with pytest.raises(Refused, match="Reload refused"):
        ReactorBridge(loop).call(refuse, timeout=5)


def test_work_past_the_time_limit_is_cancelled_on_the_loop(loop):
    cancelled = threading.Event()

    async def hang():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(BridgeTimeout):
        ReactorBridge(loop).call(hang, timeout=0.2)
    assert cancelled.wait(5), "the hung work was left running on the loop"


def test_relay_serves_a_coroutine_on_another_threads_loop(loop):
    bridge = ReactorBridge(loop)
    cancelled = threading.Event()

    async def answer():
        return asyncio.get_running_loop()

    async def hang():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def apply_like():
        ran_on = await bridge.relay(answer, timeout=5)
        with pytest.raises(BridgeTimeout):
            await bridge.relay(hang, timeout=0.2)
        return ran_on

    assert asyncio.run(apply_like()) is loop
    assert cancelled.wait(5)


def test_the_loop_itself_is_refused_instead_of_deadlocking(loop):
    bridge = ReactorBridge(loop)

    async def nothing():
        return None

    async def from_the_loop():
        with pytest.raises(RuntimeError, match="await directly"):
            bridge.call(nothing, timeout=1)
        return "refused"

    assert bridge.call(from_the_loop, timeout=5) == "refused"
