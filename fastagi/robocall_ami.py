"""What the dialer asks of Asterisk over the server's one AMI connection.

A robocall is an Async ``Originate`` of ``PJSIP/<number>@<line endpoint>``
whose channel gets the id we choose (``ChannelId``), as a queue's ring does
(``fastagi.queue_calls_ami``, whose ``ring`` this reuses): its
``OriginateResponse`` tells answered or not, with Asterisk's reason code.
An answered call then runs the robocall context; it has ended once its
channel's ``Hangup`` event came (or, should that event be lost to a
reconnect, once ``CoreShowChannels`` no longer lists it).
"""

from __future__ import annotations

import asyncio
import logging

from fastagi.ami import AmiClient, AmiError
from fastagi.queue_calls_ami import QueueCallsAmi, RingOutcome

log = logging.getLogger(__name__)

# How often a call's end is checked by listing the channels, should its Hangup event not come.
GONE_POLL_SECONDS = 5.0


class RobocallAmi:
    """Originate a robocall, learn when it ended, hang up a leftover one."""

    def __init__(self, ami: AmiClient):
        self.calls = QueueCallsAmi(ami)
        self._ended: dict[str, asyncio.Event] = {}
        ami.on_events(["Hangup"], self._on_hangup)

    def _on_hangup(self, event) -> None:
        ended = self._ended.get(str(event.get("Uniqueid", "")))
        if ended is not None:
            ended.set()

    async def originate(self, channel_id: str, channel: str, context: str, seconds: float,
                        caller_id: str, variables: dict[str, str]) -> RingOutcome:
        """Ring ``channel`` for ``seconds``; returns once Asterisk said answered or not.
        The channel's end is watched from before the ring (``wait_ended``)."""
        self._ended.setdefault(channel_id, asyncio.Event())
        return await self.calls.ring(channel_id, channel, context, seconds, caller_id, variables)

    async def wait_ended(self, channel_id: str, limit: float) -> None:
        """Return once the channel ``channel_id`` is gone, or after ``limit`` seconds."""
        ended = self._ended.setdefault(channel_id, asyncio.Event())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            while loop.time() < deadline:
                try:
                    await asyncio.wait_for(ended.wait(),
                                           min(GONE_POLL_SECONDS, deadline - loop.time()))
                    return
                except asyncio.TimeoutError:
                    pass
                try:
                    if channel_id not in await self.calls.live_channels():
                        return
                except (AmiError, ConnectionError) as exc:
                    log.info("robocall %s: cannot list the channels (%s)", channel_id, exc)
        finally:
            self._ended.pop(channel_id, None)

    async def hang_up(self, channel_id: str) -> bool:
        """Hang up a robocall's channel (a leftover of an interrupted attempt)."""
        try:
            return await self.calls.hang_up(channel_id)
        except (ConnectionError, asyncio.TimeoutError) as exc:
            log.info("robocall %s: not hung up (%s)", channel_id, exc)
            return False
