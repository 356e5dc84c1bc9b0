"""`telecenter demo` tells a newcomer how to register the demo phones and reach an operator."""

import stat

import psycopg
from psycopg.rows import dict_row

from dialplan.demo_configuration import load_demo_configuration
from dialplan.instance import AsteriskInstance
from telecenter.demo import (PASSWORDS_FILE, _how_to_reach_an_operator, demo_phone_passwords,
                             phones_to_register)


def test_the_demo_phones_passwords_are_made_once_and_kept_for_their_owner_only(tmp_path):
    first = demo_phone_passwords(tmp_path)
    assert sorted(first) == ["201", "202"] and first["201"] != first["202"]
    assert all(len(password) >= 16 for password in first.values())
    assert demo_phone_passwords(tmp_path) == first  # the next start prints the same
    mode = (tmp_path / PASSWORDS_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_only_passwords_that_still_open_the_phones_are_printed(tmp_path, fresh_database):
    passwords = demo_phone_passwords(tmp_path)
    with psycopg.connect(fresh_database, autocommit=True, row_factory=dict_row) as conn:
        assert load_demo_configuration(conn, passwords)
        assert phones_to_register(conn, tmp_path) == passwords
        conn.execute("UPDATE phones SET md5_cred = %s WHERE number = '202'", ("0" * 32,))
        assert phones_to_register(conn, tmp_path) == {"201": passwords["201"]}
    assert phones_to_register(conn=None, var_dir=tmp_path / "elsewhere") == {}


def test_the_start_message_says_where_to_register_and_what_to_dial(tmp_path):
    instance = AsteriskInstance(root=tmp_path / "a", include_dir=tmp_path / "i", sip_port=5070)
    text = _how_to_reach_an_operator(instance, {"201": "Pass-201", "202": "Pass-202"})
    assert "127.0.0.1:5070" in text
    assert "user 201 password Pass-201" in text and "user 202 password Pass-202" in text
    assert "call 90000 from 201, press 2: 202 rings" in text
    assert _how_to_reach_an_operator(instance, {"201": "Pass-201"}) == ""
