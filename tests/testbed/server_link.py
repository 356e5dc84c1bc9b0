"""The server's AMI connection without the whole server: for tests that drive the admin
in-process (Flask's test client) and need what `telecenter serve` hands it.

The AMI client and the phones' states run on an asyncio loop in a thread of
their own, as they run on the reactor's loop in the server; the admin gets
the same ``AsteriskLink`` over the same bridge.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastagi.ami import AmiClient
from fastagi.asterisk_link import AsteriskLink
from fastagi.bridge import ReactorBridge
from fastagi.contacts import PhonePresence
from fastagi.settings import Settings


@contextmanager
def server_link(settings: Settings, timeout: float = 15) -> Iterator[AsteriskLink]:
    """An AsteriskLink to ``settings``' AMI, logged in and with the phones' states read."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="reactor-like", daemon=True)
    thread.start()
    bridge = ReactorBridge(loop)

    async def connect():
        ami = AmiClient(settings.ami_host, settings.ami_port, settings.ami_user,
                        settings.ami_secret, base_delay=0.2, max_delay=1)
        presence = PhonePresence(ami)
        presence.start()
        ami.start()
        await ami.ready(timeout)
        return ami, presence

    ami, presence = bridge.call(connect, timeout + 1)
    link = AsteriskLink(bridge, ami, presence)
    try:
        yield link
    finally:
        async def close():
            ami.close()

        bridge.call(close, 5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
