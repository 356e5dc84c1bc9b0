"""The phones' states from ContactStatus events and PJSIPShowContacts listings (pure)."""

from fastagi.contacts import OFFLINE, ONLINE, ContactBook

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
