"""What the fastagi tests share."""

import asyncio
import threading

import pytest


@pytest.fixture
def loop():
    """An asyncio loop running on a thread of its own, as the reactor's does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()
