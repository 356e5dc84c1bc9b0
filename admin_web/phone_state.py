"""Which phones are registered right now, asked of Asterisk over AMI.

The one place the admin reads live state. ``contact_states`` returns None
when the answer is unknown (AMI not configured, not reachable, too slow):
a page then shows "unknown" rather than failing. Each ask opens its own AMI
connection; ``ContactStateCache`` keeps one answer for a few seconds so a
burst of page loads (reloads, several administrators) asks once. Tests
replace ``contact_states`` (monkeypatch) instead of running an Asterisk.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from typing import Callable

from fastagi.ami import AmiError
from fastagi.settings import Settings

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
UNKNOWN = "unknown"

# How long a page waits for Asterisk before it shows "unknown".
LOOKUP_TIMEOUT_SECONDS = 2.0
# How long one answer serves later pages: short, so a phone that has just
# registered shows ONLINE a few seconds later.
CACHE_SECONDS = 3.0

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


class ContactStateCache:
    """The last ``contact_states`` answer, reused for ``seconds`` (one per app).

    "Unknown" is kept too, so a slow Asterisk costs one timeout per period,
    not one per page. While one request asks, the others wait for its
    answer instead of opening connections of their own.
    """

    def __init__(self, seconds: float = CACHE_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._answer: tuple[Settings, float, dict[str, str] | None] | None = None

    def contact_states(self, settings: Settings) -> dict[str, str] | None:
        """``contact_states(settings)``, asked of Asterisk at most once per period."""
        with self._lock:
            asked_at = self._clock()
            if self._answer is not None:
                for_settings, at, states = self._answer
                if for_settings == settings and asked_at - at < self.seconds:
                    return states
            states = contact_states(settings)
            self._answer = (settings, asked_at, states)
            return states


def phone_states(settings: Settings, numbers: list[str],
                 cache: ContactStateCache | None = None) -> dict[str, str]:
    """Each number's state: ONLINE, OFFLINE, or "unknown" when Asterisk did not say."""
    states = cache.contact_states(settings) if cache is not None else contact_states(settings)
    if states is None:
        return {number: UNKNOWN for number in numbers}
    return {number: states.get(number, OFFLINE) for number in numbers}
