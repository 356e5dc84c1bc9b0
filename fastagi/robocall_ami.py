"""What the dialer asks of Asterisk over the server's one AMI connection.

A robocall is an Async ``Originate`` of ``PJSIP/<number>@<line endpoint>``
whose channel gets the id we choose (``ChannelId``), as a queue's ring does
(``fastagi.queue_calls_ami``, whose ``ring`` this reuses).  Its
``OriginateResponse`` says answered or not, but its ``Reason`` alone cannot
tell why not: seen on the test bed (Asterisk 16, chan_pjsip), a provider
that rang until the ring time was over, and one that never replied at all,
both give ``Reason: 3``; a 486 Busy gives ``Reason: 0``.  So the channel's
own events are watched from before the ring: ``Newstate`` with
``ChannelState: 5`` (Ringing: the provider said the phone rang) and
``Hangup`` with its ``Cause`` (17 user busy, 34 congestion, 19 no answer,
0 when Asterisk gave up by itself) and together they make the report
``ivr.dialer.outcome_of`` reads.  An answered call then runs the robocall
context; it has ended once the channel's ``Hangup`` came (or, should that
event be lost to a reconnect, once ``CoreShowChannels`` no longer lists it).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from fastagi.ami import AmiClient, AmiError
from fastagi.queue_calls_ami import QueueCallsAmi

log = logging.getLogger(__name__)

# How often a call's end is checked by listing the channels, should its Hangup event not come.
GONE_POLL_SECONDS = 5.0
# How long after a failed ring its Hangup event (with the cause) is waited for.
CAUSE_WAIT_SECONDS = 2.0
# Newstate's ChannelState of a channel whose far end rings.
STATE_RINGING = "5"


@dataclass
class RobocallReport:
    """Asterisk's word on one robocall: answered, the Originate reason code, whether the
    far end rang, and the hangup cause ('' when none came)."""

    answered: bool
    reason: str = ""
    rang: bool = False
    cause: str = ""


@dataclass
class _Watch:
    rang: bool = False
    cause: str = ""
    ended: asyncio.Event = field(default_factory=asyncio.Event)


class RobocallAmi:
    """Originate a robocall, learn how and when it ended, hang up a leftover one."""

    def __init__(self, ami: AmiClient):
        self.ami = ami
        self.calls = QueueCallsAmi(ami)
        self._watches: dict[str, _Watch] = {}
        ami.on_events(["Hangup"], self._on_hangup)
        ami.on_events(["Newstate"], self._on_state)

    @property
    def connected(self) -> bool:
        """Whether AMI is logged in now: without it no robocall can be dialled."""
        return self.ami.logged_in

    def on_connected(self, callback) -> None:
        """Call ``callback()`` after each AMI login (the dialer looks for due tasks then)."""
        async def logged_in():
            callback()
        self.ami.on_login(logged_in)

    def _on_state(self, event) -> None:
        watch = self._watches.get(str(event.get("Uniqueid", "")))
        if watch is not None and str(event.get("ChannelState", "")) == STATE_RINGING:
            watch.rang = True

    def _on_hangup(self, event) -> None:
        watch = self._watches.get(str(event.get("Uniqueid", "")))
        if watch is not None:
            watch.cause = str(event.get("Cause", ""))
            watch.ended.set()

    async def originate(self, channel_id: str, channel: str, context: str, seconds: float,
                        caller_id: str, variables: dict[str, str]) -> RobocallReport:
        """Ring ``channel`` for ``seconds``; returns once Asterisk said answered or not (and,
        when not, why: see the module doc).  An answered call's end: ``wait_ended``."""
        watch = self._watches.setdefault(channel_id, _Watch())
        ring = await self.calls.ring(channel_id, channel, context, seconds, caller_id, variables)
        if ring.answered:
            return RobocallReport(True, ring.reason, watch.rang)
        try:
            await asyncio.wait_for(watch.ended.wait(), CAUSE_WAIT_SECONDS)
        except asyncio.TimeoutError:
            pass
        self._watches.pop(channel_id, None)
        return RobocallReport(False, ring.reason, watch.rang, watch.cause)

    async def wait_ended(self, channel_id: str, limit: float) -> None:
        """Return once the channel ``channel_id`` is gone, or after ``limit`` seconds."""
        watch = self._watches.setdefault(channel_id, _Watch())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            while loop.time() < deadline:
                try:
                    await asyncio.wait_for(watch.ended.wait(),
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
            self._watches.pop(channel_id, None)

    async def hang_up(self, channel_id: str) -> bool:
        """Hang up a robocall's channel (a leftover of an interrupted attempt)."""
        try:
            return await self.calls.hang_up(channel_id)
        except (ConnectionError, asyncio.TimeoutError) as exc:
            log.info("robocall %s: not hung up (%s)", channel_id, exc)
            return False
