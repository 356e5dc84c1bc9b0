"""What the queues ask of Asterisk over the server's one AMI connection.

Ringing a member is an Async ``Originate`` whose channel gets the id we
choose (``ChannelId``), so it can be hung up by that id later: Asterisk 16's
``Hangup`` action takes a uniqueid where a channel name is expected (seen on
the test bed: "Channel Hungup").  Its outcome arrives as an
``OriginateResponse`` event (class "call"): ``Response: Success`` once the
phone answered and the dialplan runs, ``Response: Failure`` when it never
did (busy, rejected, unreachable, no answer within ``Timeout``, or hung up
by us), e.g.::

    Event: OriginateResponse
    Response: Failure
    Channel: PJSIP/101
    Reason: 0          (0 failed/hung up, 3 no answer, 5 busy, 8 congestion)
    Uniqueid: tcq-1796199830.16-101-1796199830160

A caller's channel (one that runs an AGI route) is sent elsewhere with
``Setvar`` then ``Redirect``: its AGI gets ``200 result=-1``, then
``HANGUP``, and the dialplan goes on where it was redirected (seen on the
test bed).  Nothing here knows what the names mean; the caller says.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from fastagi.ami import AmiClient, AmiError

log = logging.getLogger(__name__)

# How long after its ring time an Originate's outcome may still come.
OUTCOME_GRACE_SECONDS = 15.0


@dataclass(frozen=True)
class RingOutcome:
    """How an originated ring ended: answered, or failed with Asterisk's reason code."""

    answered: bool
    reason: str = ""


class QueueCallsAmi:
    """Originate, Hangup, Setvar and Redirect for the queues, over one ``AmiClient``."""

    def __init__(self, ami: AmiClient):
        self.ami = ami

    async def ring(self, ring_id: str, channel: str, context: str, seconds: float,
                   caller_id: str, variables: dict[str, str]) -> RingOutcome:
        """Ring ``channel`` (e.g. PJSIP/101) for ``seconds``; when it answers it runs
        ``context``,s,1 with ``variables`` set.  Returns once Asterisk says how it ended
        (answered, or not); a refused or lost action counts as failed."""
        action = {
            "Action": "Originate", "Channel": channel, "Context": context, "Exten": "s",
            "Priority": "1", "Timeout": str(int(seconds * 1000)), "Async": "true",
            "ChannelId": ring_id, "CallerID": caller_id,
            "Variable": [f"{name}={value}" for name, value in variables.items()],
        }
        try:
            await self.ami.ready()
            reply = await asyncio.wait_for(self.ami.manager.send_action(action),
                                           seconds + OUTCOME_GRACE_SECONDS)
        except (AmiError, asyncio.TimeoutError, ConnectionError) as exc:
            log.warning("ring %s of %s: no outcome from Asterisk (%s)", ring_id, channel,
                        exc or type(exc).__name__)
            return RingOutcome(False, "no outcome")
        messages = reply if isinstance(reply, list) else [reply]
        outcome = next((m for m in messages if m.get("Event") == "OriginateResponse"), None)
        if outcome is None:  # refused at once: a bad channel name, no such endpoint
            return RingOutcome(False, str(messages[0].get("Message", "refused")))
        if outcome.get("Response") == "Success":
            return RingOutcome(True)
        return RingOutcome(False, str(outcome.get("Reason", "")))

    async def hang_up(self, channel_or_id: str) -> bool:
        """Hang up a channel by name or uniqueid; False when it is already gone."""
        try:
            await self.ami.action({"Action": "Hangup", "Channel": channel_or_id})
        except AmiError as exc:
            log.info("hang up %s: %s", channel_or_id, exc)
            return False
        return True

    async def set_variables(self, channel: str, variables: dict[str, str]) -> None:
        """Set channel variables on a live channel (AmiError when it is gone)."""
        for name, value in variables.items():
            await self.ami.action({"Action": "Setvar", "Channel": channel, "Variable": name,
                                   "Value": value})

    async def redirect(self, channel: str, context: str, exten: str = "s",
                       priority: int = 1) -> None:
        """Send a channel to ``context``,``exten``,``priority`` (its AGI gets HANGUP)."""
        await self.ami.action({"Action": "Redirect", "Channel": channel, "Context": context,
                               "Exten": exten, "Priority": str(priority)})

    async def live_channels(self) -> set[str]:
        """The uniqueids of every channel Asterisk has now."""
        listing = await self.ami.listing({"Action": "CoreShowChannels"})
        return {str(item.get("Uniqueid", "")) for item in listing if item.get("Uniqueid")}
