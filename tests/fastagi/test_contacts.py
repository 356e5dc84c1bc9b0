"""The phones' states from ContactStatus events and PJSIPShowContacts listings."""

import asyncio

from fastagi.contacts import OFFLINE, ONLINE, ContactBook, PhonePresence

# Fields as Asterisk 16 sends them (seen on the test bed's Asterisk).
URI_A = "sip:301@127.0.0.1:48679"
URI_B = "sip:301@127.0.0.1:48700"


def test_a_registration_then_its_removal():
    book = ContactBook()
    book.seen("301", URI_A, "NonQualified")
    assert book.states() == {"301": ONLINE}
    book.seen("301", URI_A, "Removed")
    assert book.states() == {"301": OFFLINE}


def test_a_phone_is_online_while_one_of_its_contacts_is_reachable():
    book = ContactBook()
    book.seen("301", URI_A, "Reachable")
    book.seen("301", URI_B, "Unreachable")
    assert book.states() == {"301": ONLINE}
    book.seen("301", URI_A, "Unreachable")
    assert book.states() == {"301": OFFLINE}


def test_an_update_keeps_what_was_known_of_reachability():
    book = ContactBook()
    book.seen("301", URI_A, "Unreachable")
    book.seen("301", URI_A, "Updated")
    assert book.states() == {"301": OFFLINE}


def test_a_listing_replaces_everything_the_events_said():
    book = ContactBook()
    book.seen("301", URI_A, "Reachable")  # gone while the connection was down
    book.replace([
        {"Event": "ContactList", "ObjectName": "302;@f6ff54390df12be74b813d72f1a5b126",
         "Endpoint": "302", "Uri": "sip:302@127.0.0.1:5062", "Status": "NonQualified"},
        {"Event": "ContactList", "ObjectName": "303;@0a1b", "Endpoint": "303",
         "Uri": "sip:303@127.0.0.1:5063", "Status": "Unreachable"},
    ])
    assert book.states() == {"302": ONLINE, "303": OFFLINE}


class ListingAmi:
    """AMI as PhonePresence uses it: a listing, with events arriving while it is read."""

    logged_in = True
    logins = 1

    def __init__(self, listing, events_meanwhile):
        self._listing = listing
        self._events_meanwhile = events_meanwhile
        self.presence = None

    async def listing(self, action):
        assert action == {"Action": "PJSIPShowContacts"}
        for event in self._events_meanwhile:
            self.presence.on_event(event)
        return self._listing


def test_events_that_arrive_while_the_listing_is_read_are_not_lost():
    ami = ListingAmi(
        listing=[{"ObjectName": "301;@1", "Uri": URI_A, "Status": "NonQualified"}],
        events_meanwhile=[{"AOR": "302", "URI": "sip:302@127.0.0.1:5062",
                           "ContactStatus": "Reachable"}])
    presence = ami.presence = PhonePresence(ami)
    assert presence.states() is None  # nothing read yet: unknown
    asyncio.run(presence.resync())
    assert presence.states() == {"301": ONLINE, "302": ONLINE}


def test_states_are_unknown_after_a_new_login_until_they_are_read_again():
    ami = ListingAmi(listing=[], events_meanwhile=[])
    presence = ami.presence = PhonePresence(ami)
    asyncio.run(presence.resync())
    assert presence.states() == {}
    ami.logins = 2  # Asterisk came back; the listing of this login is not read yet
    assert presence.states() is None


def test_the_addresses_phones_registered_from():
    book = ContactBook()
    book.seen("301", "sip:301@192.168.1.20:5060;transport=udp", "Reachable")
    book.seen("301", "sip:301@192.168.1.21:5062", "Unreachable")
    book.seen("302", "sip:302@[2001:db8::7]:5060", "NonQualified")
    book.seen("303", "sip:303@192.168.1.22:5060", "Created")
    book.seen("303", "sip:303@192.168.1.22:5060", "Removed")
    assert book.addresses() == {"301": {"192.168.1.20", "192.168.1.21"},
                                "302": {"2001:db8::7"}}
