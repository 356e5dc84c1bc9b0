"""Which phones are registered right now, asked of Asterisk over AMI.

The one place the admin reads live state. ``contact_states`` returns None
when the answer is unknown (AMI not configured, not reachable, too slow):
a page then shows "unknown" rather than failing. Tests replace
``contact_states`` (monkeypatch) instead of running an Asterisk.
"""

from __future__ import annotations

import asyncio
import re

from fastagi.ami import AmiError
from fastagi.settings import Settings

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
UNKNOWN = "unknown"

# How long a page waits for Asterisk before it shows "unknown".
LOOKUP_TIMEOUT_SECONDS = 2.0

# "pjsip show contacts" lines:
#   "  Contact:  201/sip:201@127.0.0.1:5061;ob       6c1b2a3f4e Avail         1.234"
# (the header line has "<Aor/ContactUri...>" and is skipped).
_CONTACT = re.compile(r"^\s*Contact:\s+([^<\s/][^\s/]*)/\S+\s+\S+\s+(\S+)", re.M)
# Statuses of a contact that is registered: qualified, or registered without qualify.
_REACHABLE = frozenset({"Avail", "NonQual"})


def parse_contacts(output: str) -> dict[str, str]:
    """AOR name -> ONLINE/OFFLINE from the text of ``pjsip show contacts``."""
    states: dict[str, str] = {}
    for aor, status in _CONTACT.findall(output):
        if status in _REACHABLE:
            states[aor] = ONLINE
        else:
            states.setdefault(aor, OFFLINE)
    return states


def contact_states(settings: Settings) -> dict[str, str] | None:
    """AOR name -> ONLINE/OFFLINE for every contact Asterisk has; None when unknown."""
    if not settings.ami_configured:
        return None
    from dialplan.apply import AmiAsterisk

    async def ask() -> str:
        asterisk = AmiAsterisk.from_settings(settings)
        try:
            return await asyncio.wait_for(asterisk.command("pjsip show contacts"),
                                          LOOKUP_TIMEOUT_SECONDS)
        finally:
            asterisk.close()

    try:
        return parse_contacts(asyncio.run(ask()))
    except (AmiError, OSError, asyncio.TimeoutError):
        return None


def phone_states(settings: Settings, numbers: list[str]) -> dict[str, str]:
    """Each number's state: ONLINE, OFFLINE, or "unknown" when Asterisk did not say."""
    states = contact_states(settings)
    if states is None:
        return {number: UNKNOWN for number in numbers}
    return {number: states.get(number, OFFLINE) for number in numbers}
