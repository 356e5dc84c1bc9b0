"""The server's Asterisk connection as other threads see it: what the admin is handed.

The AMI client and the phones' states live on the reactor's loop; the
admin's WSGI threads reach them only through ``ReactorBridge``, so the admin
opens no AMI connection of its own. ``create_app(..., asterisk=link)``
receives one of these from the service assembly; a Flask app made without
one (tests, a command-line tool) shows the phones' states as unknown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from fastagi.ami import AmiClient, AmiError
from fastagi.bridge import BridgeTimeout, ReactorBridge
from fastagi.contacts import PhonePresence
from fastagi.queue_calls_ami import QueueCallsAmi

log = logging.getLogger(__name__)

# What is told how an originated call's first leg ended: (uniqueid, answered, reason).
Originated = Callable[[str, bool, str], Awaitable[None]]

# How long a page waits for the reactor to read the states before it shows "unknown".
STATES_SECONDS = 2.0


class AsteriskLink:
    """Thread-safe access to the server's AMI client and phone states."""

    def __init__(self, bridge: ReactorBridge, ami: AmiClient, presence: PhonePresence,
                 originated: Originated | None = None):
        self.bridge = bridge
        self._ami = ami
        self._presence = presence
        self._calls = QueueCallsAmi(ami)
        self._originated = originated
        self._ringing: set = set()  # originates under way (kept from the collector)

    def originate(self, uniqueid: str, channel: str, context: str, seconds: float,
                  caller_id: str, variables: dict[str, str]) -> None:
        """Ring ``channel`` (e.g. PJSIP/101) for ``seconds``; when it answers it runs
        ``context``,s,1 with ``variables`` and the uniqueid ``uniqueid``.  Returns at once:
        how the ring ended goes to the ``originated`` callback the server gave, on the
        reactor (a refused or lost action: not answered).  AmiError when the reactor
        does not take the work (the server is stopping)."""

        async def start():
            task = asyncio.ensure_future(self._originate(uniqueid, channel, context, seconds,
                                                         caller_id, variables))
            self._ringing.add(task)
            task.add_done_callback(self._ringing.discard)

        try:
            self.bridge.call(start, STATES_SECONDS)
        except BridgeTimeout as exc:
            raise AmiError(f"the server did not start the call: {exc}") from None

    async def _originate(self, uniqueid, channel, context, seconds, caller_id, variables):
        outcome = await self._calls.ring(uniqueid, channel, context, seconds, caller_id,
                                         variables)
        if self._originated is not None:
            try:
                await self._originated(uniqueid, outcome.answered, outcome.reason)
            except Exception:  # logged with its call, never lost silently
                log.exception("recording how originated call %s ended failed", uniqueid)

    def contact_states(self) -> dict[str, str] | None:
        """AOR -> ONLINE/OFFLINE as the server's events left it; None when unknown."""
        return self._read(self._presence.states)

    def ami_connected(self) -> bool | None:
        """True while the server is logged in to Asterisk's AMI; None when the reactor
        does not answer in time (unknown)."""
        return self._read(lambda: self._ami.logged_in)

    def _read(self, get):
        """``get()`` run on the reactor, where the server's state lives; None when the
        reactor does not answer within STATES_SECONDS."""

        async def read():
            return get()

        try:
            return self.bridge.call(read, STATES_SECONDS)
        except BridgeTimeout:
            return None

    def reload(self, *modules: str, timeout: float) -> None:
        """Reload the named modules now; AmiError when Asterisk refuses or does not answer."""
        try:
            self.bridge.call(lambda: self._ami.reload(*modules), timeout)
        except BridgeTimeout as exc:
            raise AmiError(f"Asterisk did not reload {', '.join(modules)}: {exc}") from None

    def contact_addresses(self) -> dict[str, set[str]] | None:
        """AOR -> the addresses its contacts registered from, as the server's events left
        them; None when unknown (AMI down, the reactor slow)."""
        return self._read(self._presence.addresses)

    def client(self) -> RelayedAmi:
        """The AMI client for a coroutine running on another thread's loop (an Apply)."""
        return RelayedAmi(self.bridge, self._ami)


class RelayedAmi:
    """``AmiClient``'s ready/action for another loop: each call runs on the reactor.

    Closing it does nothing: the connection belongs to the server.
    """

    # Bound on one relayed call; the callers put tighter bounds of their own.
    RELAY_SECONDS = 120.0

    def __init__(self, bridge: ReactorBridge, ami: AmiClient):
        self._bridge = bridge
        self._ami = ami

    async def ready(self, timeout: float = 10) -> None:
        await self._bridge.relay(lambda: self._ami.ready(timeout), timeout + 1)

    async def action(self, action: dict) -> dict:
        return await self._bridge.relay(lambda: self._ami.action(action), self.RELAY_SECONDS)

    async def reload(self, *modules: str) -> None:
        await self._bridge.relay(lambda: self._ami.reload(*modules), self.RELAY_SECONDS)

    async def listing(self, action: dict) -> list[dict]:
        return await self._bridge.relay(lambda: self._ami.listing(action), self.RELAY_SECONDS)

    def close(self) -> None:
        """The server's connection stays open."""
