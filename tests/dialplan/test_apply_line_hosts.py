"""Apply warns about a line whose host is where phones register from (it would take their
calls), with the addresses Asterisk's contacts tell; the recording fake of test_apply.py."""

from __future__ import annotations

import asyncio

import pytest

from dialplan.apply import AmiAsterisk
from fastagi.ami import AmiError
from tests.dialplan.conftest import add_line, add_phone
from tests.dialplan.test_apply import do_apply, setup  # noqa: F401

TAKEOVER = ("warning: line 'office': host 192.168.1.20 is an address phones register from:"
            " Asterisk would take their calls for calls arriving on this line (it recognises"
            " a line by the address first)")


def test_a_line_on_a_phones_address_is_applied_with_a_warning(setup):
    conn, asterisk, _settings, include = setup
    add_phone(conn, "101", "pw")
    add_line(conn, "office", "192.168.1.20")
    add_line(conn, "prov1", "10.0.0.9")
    # Phone 101 registered from the office line's host; the lines' own contacts are their hosts.
    asterisk.contacts = {"101": {"192.168.1.20"}, "line-office": {"192.168.1.20"},
                         "line-prov1": {"10.0.0.9"}}
    revision = do_apply(setup)
    assert [str(p) for p in revision.warnings] == [TAKEOVER]
    assert "[line-office]" in (include / "pjsip_telecenter_external.conf").read_text()


def test_no_warning_when_no_phone_is_there_or_asterisk_cannot_tell(setup):
    conn, asterisk, _settings, _include = setup
    add_phone(conn, "101", "pw")
    add_line(conn, "office", "192.168.1.20")
    asterisk.contacts = {"101": {"192.168.1.30"}, "line-office": {"192.168.1.20"}}
    assert do_apply(setup).warnings == ()
    asterisk.contacts = None
    assert do_apply(setup).warnings == ()


class ListingClient:
    """An AMI client that answers PJSIPShowContacts as Asterisk 16 does; nothing else."""

    def __init__(self, listing):
        self.listing_events = listing
        self.actions: list[str] = []

    async def ready(self, timeout: float = 10) -> None:
        pass

    async def listing(self, action: dict) -> list[dict]:
        self.actions.append(action["Action"])
        return self.listing_events


def test_ami_contact_addresses_come_from_the_contact_listing():
    client = ListingClient([
        {"Event": "ContactList", "ObjectName": "101;@0a1b2c", "Uri": "sip:101@192.168.1.20:5060",
         "Status": "Reachable"},
        {"Event": "ContactList", "ObjectName": "line-prov1;@9f8e",
         "Uri": "sip:10.0.0.9:5060", "Status": "Unknown"}])
    addresses = asyncio.run(AmiAsterisk(client).contact_addresses())
    assert addresses == {"101": {"192.168.1.20"}, "line-prov1": {"10.0.0.9"}}
    assert client.actions == ["PJSIPShowContacts"]


class SilentClient:
    """An AMI client Asterisk never logs in: each wait for it counts."""

    def __init__(self):
        self.waits = 0

    async def ready(self, timeout: float = 10) -> None:
        self.waits += 1
        raise AmiError("AMI is not connected")


def test_unreachable_asterisk_is_waited_for_once_per_apply():
    """No addresses (no warning), and CONNECT fails at once instead of waiting again."""
    client = SilentClient()
    control = AmiAsterisk(client)

    async def ask_then_connect():
        addresses = await control.contact_addresses()
        with pytest.raises(AmiError, match="not connected"):
            await control.command("dialplan show s@telecenter-revision")
        return addresses

    assert asyncio.run(ask_then_connect()) is None
    assert client.waits == 1
