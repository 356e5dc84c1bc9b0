"""How Twisted and asyncio share one loop: the one place that decides it.

Twisted's asyncio reactor runs on an asyncio loop, so the FastAGI protocol
(Twisted), AMI (panoramisk) and the database (psycopg async) all run on the
same thread without locks. Must be called before anything imports
`twisted.internet.reactor`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def install() -> None:
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)


def run(main: Callable[[], Awaitable[Callable[[], Awaitable[None]]]]) -> int:
    """Run `main` on the reactor until SIGINT/SIGTERM.

    `main` starts the services and returns a coroutine function that stops
    them; that runs before the reactor shuts down. A failing `main` stops
    the reactor and makes the exit code 1.
    """
    from twisted.internet import defer, reactor

    state = {"stop": None, "code": 0}

    async def start() -> None:
        try:
            state["stop"] = await main()
        except Exception:
            log.exception("could not start")
            state["code"] = 1
            reactor.stop()

    def before_shutdown():
        if state["stop"] is None:
            return None
        return defer.Deferred.fromFuture(asyncio.ensure_future(state["stop"]()))

    reactor.callWhenRunning(lambda: asyncio.ensure_future(start()))
    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    reactor.run()
    return state["code"]


def as_future(result) -> asyncio.Future:
    """A Deferred (or a plain value) as something an asyncio task can await."""
    from twisted.internet import defer

    return defer.maybeDeferred(lambda: result).asFuture(asyncio.get_event_loop())
