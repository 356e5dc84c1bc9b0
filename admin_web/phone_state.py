"""Which phones are registered right now: the server's event-fed states, read over the bridge.

The server keeps each AOR's state from Asterisk's ContactStatus events and
reads them all again after every AMI (re)login (``fastagi.contacts``); a
page only reads that table through the app's ``AsteriskLink``, so no AMI
command is sent per page load. A state is "unknown" when the admin has no
link (it runs outside the server) or AMI is down.
"""

from __future__ import annotations

from collections.abc import Iterable

from fastagi.asterisk_link import AsteriskLink
from fastagi.contacts import OFFLINE, ONLINE

UNKNOWN = "unknown"

__all__ = ["ONLINE", "OFFLINE", "UNKNOWN", "phone_addresses", "phone_states"]


def phone_states(asterisk: AsteriskLink | None, numbers: list[str]) -> dict[str, str]:
    """Each number's state: ONLINE, OFFLINE, or "unknown" when the server does not know."""
    states = asterisk.contact_states() if asterisk is not None else None
    if states is None:
        return {number: UNKNOWN for number in numbers}
    return {number: states.get(number, OFFLINE) for number in numbers}


def phone_addresses(asterisk: AsteriskLink | None, numbers: Iterable[str]) -> set[str]:
    """The addresses the phones ``numbers`` registered from, as the server knows them now;
    empty when it does not know (no link, AMI down). Lines' own contacts are left out."""
    contacts = asterisk.contact_addresses() if asterisk is not None else None
    if not contacts:
        return set()
    return {address for number in numbers for address in contacts.get(number, ())}
