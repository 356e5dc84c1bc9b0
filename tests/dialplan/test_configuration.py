"""Loading the configuration snapshot, and the helpers the admin shares."""

import hashlib

import psycopg
import pytest

from dialplan.configuration import (
    Configuration,
    Line,
    NumberOwner,
    OwnerKind,
    Phone,
    generate_password,
    load_configuration,
    numbering_plan,
    sip_digest,
)
from tests.dialplan.conftest import add_line, add_phone


def test_load_reads_phones_and_lines_in_order(config_db):
    add_phone(config_db, "102", "pw", "Hall")
    add_phone(config_db, "101", "pw")
    add_line(config_db, "b", "10.0.0.2", position=1, outbound_regex="^9")
    add_line(config_db, "a", "10.0.0.1", position=2, inbound_number="101", external=False)
    config = load_configuration(config_db)
    assert [p.number for p in config.phones] == ["101", "102"]
    assert config.phones[1] == Phone(config.phones[1].id, "102", sip_digest("102", "pw"), "simple", "Hall")
    assert [(l.name, l.position) for l in config.lines] == [("b", 1), ("a", 2)]
    assert config.lines[1].inbound_number == "101" and config.lines[1].external is False
    assert not config.lines[0].registers


def test_load_is_one_snapshot(config_db, pg_url, monkeypatch):
    """Rows saved while the snapshot is being read are not half in it."""
    add_phone(config_db, "101", "pw")
    saved = []
    cursor_execute = psycopg.Cursor.execute

    def execute_then_save_elsewhere(self, query, *args, **kwargs):
        result = cursor_execute(self, query, *args, **kwargs)
        if "FROM phones" in str(query) and not saved:
            with psycopg.connect(pg_url, autocommit=True) as other:
                add_phone(other, "103", "pw")
                add_line(other, "late", "10.0.0.9")
            saved.append(True)
        return result

    monkeypatch.setattr(psycopg.Cursor, "execute", execute_then_save_elsewhere)
    with psycopg.connect(pg_url) as conn:
        config = load_configuration(conn)
    assert saved
    assert [p.number for p in config.phones] == ["101"]
    assert config.lines == ()  # saved after the snapshot was taken


def test_load_needs_a_connection_outside_a_transaction(pg_url):
    with psycopg.connect(pg_url) as conn:
        conn.execute("SELECT 1")
        with pytest.raises(ValueError):
            load_configuration(conn)


def test_sip_digest_is_md5_of_number_realm_password():
    assert sip_digest("101", "secret") == hashlib.md5(b"101:telecenter:secret").hexdigest()


def test_generated_passwords_are_long_mixed_and_different():
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == 20 and password.isalnum()
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password)


def test_numbering_plan_lists_every_owner():
    config = Configuration(phones=(Phone(1, "101", "0" * 32), Phone(2, "99999", "0" * 32)),
                           lines=(Line(1, "a", "10.0.0.1"),))
    assert numbering_plan(config) == {
        "99999": [NumberOwner(OwnerKind.SELFTEST, "99999"), NumberOwner(OwnerKind.PHONE, "99999")],
        "101": [NumberOwner(OwnerKind.PHONE, "101")]}


@pytest.mark.parametrize("owner", [NumberOwner(OwnerKind.SELFTEST, "99999"),
                                   NumberOwner(OwnerKind.PHONE, "101"),
                                   NumberOwner(OwnerKind.MENU_ITEM, "90000"),
                                   NumberOwner(OwnerKind.QUEUE, "92000")])
def test_an_owner_reads_back_from_its_text(owner):
    """The menu plan file keeps owners as text; the server reads the same owner back."""
    assert NumberOwner.parse(str(owner), owner.number) == owner


@pytest.mark.parametrize("text", ["phone 102", "line 101", "phone", ""])
def test_text_that_names_no_owner_of_the_number_is_refused(text):
    with pytest.raises(ValueError):
        NumberOwner.parse(text, "101")
