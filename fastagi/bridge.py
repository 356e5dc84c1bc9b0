"""The one bridge between other threads (the admin's WSGI workers) and the reactor.

Everything long-lived the server owns (the AMI connection, the phones'
states) lives on the reactor's asyncio loop and is touched only there. A
WSGI thread that needs it hands the loop a coroutine *factory*: the
coroutine is created and run on the loop, and the thread waits for its
result for a bounded time. Exceptions come back as they were raised; past
the time limit the work is cancelled on the loop and ``BridgeTimeout`` is
raised, so a hung Asterisk never holds an admin worker for ever.

``call`` blocks the calling thread; ``relay`` is the same for a coroutine
running on a loop of its own in that thread (an Apply runs that way).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class BridgeTimeout(TimeoutError):
    """The reactor did not finish the work in time; the work was cancelled."""


class ReactorBridge:
    """Runs coroutines on the reactor's loop for callers on other threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    def call(self, coro_factory: Callable[[], Awaitable[T]], timeout: float) -> T:
        """Run ``coro_factory()`` on the loop; its result, or its exception, or BridgeTimeout."""
        future = self._submit(coro_factory)
        try:
            return future.result(timeout)
        except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError (3.11)
            future.cancel()
            raise BridgeTimeout(f"the server did not answer within {timeout:g} s") from None

    async def relay(self, coro_factory: Callable[[], Awaitable[T]], timeout: float) -> T:
        """``call`` for a coroutine on another loop: awaits instead of blocking that loop."""
        try:
            return await asyncio.wait_for(asyncio.wrap_future(self._submit(coro_factory)),
                                          timeout)
        except asyncio.TimeoutError:
            raise BridgeTimeout(f"the server did not answer within {timeout:g} s") from None

    def _submit(self, coro_factory):
        if self._on_loop_thread():
            raise RuntimeError("ReactorBridge is for other threads; on the reactor, await directly")

        async def run():
            return await coro_factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def _on_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

