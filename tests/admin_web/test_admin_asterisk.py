"""The admin against the real Asterisk: phones made on its pages, applied, registered, calling.

The admin is the Flask app (its test client), handed an AMI link as the
server hands it its own (``tests.testbed.server_link``), with the test bed's settings:
AMI address and credentials, the FastAGI port, and the test bed's include
dir (``include_dir_override``), so the Apply button writes where the test
bed's Asterisk reads. SIPp plays the phones, with the passwords the pages
showed. (A wrong password refused, lines, Apply during a call and rollback
are in tests/dialplan/test_apply_asterisk.py.)
"""

from __future__ import annotations

import re

import psycopg
import pytest

from admin_web import create_app, site_settings
from dialplan import apply as applying
from ivr.speaker import presynthesize_for_calls
from fastagi.settings import Settings
from tests.admin_web.test_phone_pages import shown_password
from tests.conftest import require
from tests.testbed.callers import wait_for
from tests.testbed.ports import sipp_ports
from tests.testbed.server_link import server_link
from tests.testbed.sipp import register, run_sip_call, start_uas

# A row of the Phones page: the number's link, then its state badge.
_PHONE_ROW = re.compile(r">(\d+)</a></td>.*?<span class=\"badge[^\"]*\" data-state=\"([^\"]+)\">",
                        re.S)


def test_the_apps_settings_keep_the_include_dir_override(pg_url, tmp_path):
    """site_settings() swaps in the app's VAR_DIR and keeps the include dir it was given."""
    settings = Settings(include_dir_override=tmp_path / "include")
    app = create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path / "var"),
                      "TELECENTER_SETTINGS": settings})
    with app.app_context():
        assert site_settings().var_dir == tmp_path / "var"
        assert site_settings().include_dir == tmp_path / "include"


@pytest.fixture
def app(people, pg_url, tmp_path, testbed):
    """The admin as the server runs it: handed the server's AMI connection (its link)."""
    require("sipp")
    settings = testbed.settings()
    with server_link(settings) as link:
        yield create_app({"TESTING": True, "DATABASE_URL": pg_url,
                          "VAR_DIR": str(tmp_path / "var"), "TELECENTER_SETTINGS": settings},
                         asterisk=link)
    with psycopg.connect(pg_url, autocommit=True) as conn:  # leave Asterisk without test phones
        conn.execute("DELETE FROM phones")
        conn.execute("DELETE FROM lines")
        applying.apply_now(conn, settings, "test", presynthesize=presynthesize_for_calls)


def create_phone(auth, number: str) -> str:
    """Create a phone on the New phone page; return the generated password it shows."""
    response = auth.post("/phones/new", {"number": number, "kind": "simple",
                                         "description": f"Desk {number}", "password": ""},
                         form_page="/phones/new")
    assert response.status_code == 200
    return shown_password(response.get_data(as_text=True))


def phones_page_states(client) -> dict[str, str]:
    """Number -> the state the Phones page shows."""
    response = client.get("/phones/")
    assert response.status_code == 200
    return dict(_PHONE_ROW.findall(response.get_data(as_text=True)))


@pytest.mark.asterisk
@pytest.mark.sipp
def test_phones_made_in_the_admin_register_show_online_and_call_each_other(
        client, auth, testbed, tmp_path):
    auth.login()
    password_a = create_phone(auth, "301")
    password_b = create_phone(auth, "302")
    applied = auth.post("/apply/run", form_page="/apply/")
    assert applied.status_code == 302, applied.get_data(as_text=True)
    assert re.search(r"Применено: ревизия \d+ активна\.",
                     client.get(applied.headers["Location"]).get_data(as_text=True))
    endpoints = testbed.asterisk.rx("pjsip list endpoints")
    assert "301/" in endpoints and "302/" in endpoints, endpoints

    assert phones_page_states(client) == {"301": "OFFLINE", "302": "OFFLINE"}

    sip = testbed.asterisk.sip_port
    port_a, _media = sipp_ports()
    registered = register(target_host="127.0.0.1", target_port=sip, user="301",
                          password=password_a, local_port=port_a,
                          workdir=tmp_path / "register-301")
    assert registered.ok, registered.describe()
    wait_for(lambda: phones_page_states(client) == {"301": "ONLINE", "302": "OFFLINE"},
             timeout=15, what="the Phones page to show 301 ONLINE and 302 OFFLINE")

    port_b, media_b = sipp_ports()
    registered = register(target_host="127.0.0.1", target_port=sip, user="302",
                          password=password_b, local_port=port_b,
                          workdir=tmp_path / "register-302")
    assert registered.ok, registered.describe()
    phone_b = start_uas(local_port=port_b, media_port=media_b, workdir=tmp_path / "uas-302")
    try:
        caller_port, caller_media = sipp_ports()
        call = run_sip_call(target_host="127.0.0.1", target_port=sip, number="302", user="301",
                            password=password_a, digits="", local_port=caller_port,
                            media_port=caller_media, caller_hangs_up=True, initial_pause_ms=0,
                            after_digits_ms=1000, timeout=30, workdir=tmp_path / "call-301-302")
        answered = phone_b.wait(timeout=15)
    finally:
        phone_b.stop()
    report = "\n".join(r.describe() for r in (call, answered))
    assert call.ok and answered.ok, report + testbed.asterisk.describe_failure()
    # B got the INVITE, answered it (200 + ACK: connected) and the BYE ended it.
    assert "INVITE sip:302@127.0.0.1" in answered.messages, report
    assert re.search(r"^ACK sip:", answered.messages, re.M), report
    assert re.search(r"^BYE sip:", answered.messages, re.M), report
