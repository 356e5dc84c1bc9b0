"""Which phones are registered, kept from Asterisk's events on the server's AMI connection.

pjsip sends a ``ContactStatus`` event (class "system") whenever a contact
of an AOR appears, is qualified, becomes unreachable or goes away::

    Event: ContactStatus
    URI: sip:7001@127.0.0.1:48679
    ContactStatus: NonQualified      (Created, Reachable, Unreachable, Removed, Updated …)
    AOR: 7001

An AOR is ONLINE while one of its contacts is reachable (or registered
without qualify), OFFLINE otherwise. Events sent while the connection was
down are lost, so after every (re)login the whole table is read again with
the ``PJSIPShowContacts`` action, whose ``ContactList`` events carry the
same facts (``ObjectName: 7001;@hash``, ``Uri``, ``Status``). While AMI is
down the states are unknown (None), never stale. ``ContactBook`` is the pure
table; ``PhonePresence`` feeds it from AMI.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

ONLINE = "ONLINE"
OFFLINE = "OFFLINE"

# Contact statuses of a phone that can be called: qualified, registered without
# qualify, or just registered (a failed qualify follows as Unreachable).
_REACHABLE = frozenset({"Reachable", "NonQualified", "Created", "Avail", "NonQual"})
_GONE = "Removed"
_UPDATED = "Updated"  # the contact's details changed, not its reachability
# The host of a contact URI: sip:7001@192.168.1.20:5060;transport=udp, sip:[2001:db8::1]:5060
_URI_HOST = re.compile(r"^sips?:(?:[^@;>]*@)?(?:\[([^\]]+)\]|([^:;>]+))")


def contact_host(uri: str) -> str | None:
    """The address a contact URI points at (where the phone registered from); None if
    the URI is not a SIP URI."""
    match = _URI_HOST.match(uri)
    return (match.group(1) or match.group(2)) if match else None


class ContactBook:
    """AOR -> contact URI -> its last status; pure, fed by events and listings."""

    def __init__(self):
        self._contacts: dict[str, dict[str, str]] = {}

    def seen(self, aor: str, uri: str, status: str) -> None:
        """One ContactStatus event."""
        contacts = self._contacts.setdefault(aor, {})
        if status == _GONE:
            contacts.pop(uri, None)
        elif status == _UPDATED:
            contacts.setdefault(uri, "Created")
        else:
            contacts[uri] = status

    def replace(self, listing: list[dict]) -> None:
        """Forget everything and take a PJSIPShowContacts listing (ContactList events)."""
        self._contacts = {}
        for item in listing:
            aor = str(item.get("ObjectName", "")).split(";@", 1)[0]
            if aor:
                self.seen(aor, str(item.get("Uri", "")), str(item.get("Status", "")))

    def states(self) -> dict[str, str]:
        """AOR -> ONLINE/OFFLINE for every AOR that has or had a contact."""
        return {aor: ONLINE if any(s in _REACHABLE for s in contacts.values()) else OFFLINE
                for aor, contacts in self._contacts.items()}

    def addresses(self) -> dict[str, set[str]]:
        """AOR -> the addresses its contacts point at (reachable or not), for every AOR
        that has a contact now."""
        found = {aor: {host for host in map(contact_host, contacts) if host}
                 for aor, contacts in self._contacts.items()}
        return {aor: hosts for aor, hosts in found.items() if hosts}


class PhonePresence:
    """The phones' states from the server's AMI client; lives on the reactor's loop."""

    def __init__(self, ami):
        self.ami = ami
        self.book = ContactBook()
        self.resyncs = 0  # how many listings were taken (one per login)
        self._synced_login = None  # the login whose listing the book holds
        self._during_listing: list[tuple[str, str, str]] | None = None
        # Called with no arguments after every change the book takes (an event, a listing).
        self.change_callbacks: list = []

    def on_change(self, callback) -> None:
        """Call ``callback()`` (on the loop, must not block) whenever a phone's state may
        have changed: whoever decides on registrations (the queues) looks again."""
        self.change_callbacks.append(callback)

    def _changed(self) -> None:
        for callback in self.change_callbacks:
            try:
                callback()
            except Exception:
                log.exception("phone state callback %r failed", callback)

    def start(self) -> None:
        self.ami.on_events(["ContactStatus"], self.on_event)
        self.ami.on_login(self.resync)

    def on_event(self, event) -> None:
        seen = (str(event.get("AOR", "")), str(event.get("URI", "")),
                str(event.get("ContactStatus", "")))
        self.book.seen(*seen)
        if self._during_listing is not None:
            self._during_listing.append(seen)
        self._changed()

    async def resync(self) -> None:
        """Read every contact again (after a login: what was missed while disconnected).

        Events that arrive while the listing is read are applied again on top
        of it, in order: the last word on a contact is the newest one.
        """
        login = self.ami.logins
        self._during_listing = []
        try:
            listing = await self.ami.listing({"Action": "PJSIPShowContacts"})
            self.book.replace(listing)
            for seen in self._during_listing:
                self.book.seen(*seen)
        finally:
            self._during_listing = None
        self._synced_login = login
        self.resyncs += 1
        self._changed()
        log.info("phone states read from Asterisk: %d online",
                 sum(s == ONLINE for s in self.book.states().values()))

    def states(self) -> dict[str, str] | None:
        """AOR -> ONLINE/OFFLINE; None while AMI is down or not yet read (unknown)."""
        if not self._known():
            return None
        return self.book.states()

    def addresses(self) -> dict[str, set[str]] | None:
        """AOR -> the addresses its contacts point at; None while unknown (as ``states``)."""
        if not self._known():
            return None
        return self.book.addresses()

    def _known(self) -> bool:
        return self.ami.logged_in and self._synced_login == self.ami.logins
