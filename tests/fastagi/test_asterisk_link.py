"""The server's one AMI connection, seen from Asterisk: the admin opens none of its own.

A real `telecenter serve` (FastAGI, the admin in its thread pool, the AMI
client on the reactor) against a private Asterisk, with a database of its
own. The admin is driven over HTTP like a browser; SIPp plays the phone.
An observer AMI session counts every AMI login Asterisk accepts
(SuccessfulAuth events of the AMI service), so a connection opened by a
page load or an Apply, however short, is seen.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from http.cookiejar import CookieJar
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, Request, build_opener

import psycopg
import pytest

from tests.admin_web.browser import create_admin
from tests.admin_web.conftest import CSRF
from tests.conftest import new_database, require
from tests.testbed.agi_server import TELECENTER, AgiServer
from tests.testbed.callers import ami_session, wait_for
from tests.testbed.ports import free_port, sipp_ports
from tests.testbed.sipp import register

pytestmark = [pytest.mark.asterisk]

ADMIN, PASSWORD = "root", "Link-admin-1"
PHONE = "301"
# A row of the Phones page: the number's link, then its state badge.
_PHONE_ROW = re.compile(r">(\d+)</a></td>.*?<span class=\"badge[^\"]*\" data-state=\"([^\"]+)\">",
                        re.S)
_CONNECTED = re.compile(r"^(\d+) users? connected", re.M)


class AdminSession:
    """The admin over HTTP with a cookie jar, as a browser uses it."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._opener = build_opener(HTTPCookieProcessor(CookieJar()))

    def get(self, path: str) -> str:
        with self._opener.open(self.base_url + path, timeout=30) as response:
            return response.read().decode()

    def post(self, path: str, data: dict, form_page: str) -> str:
        found = CSRF.search(self.get(form_page))
        assert found, f"no CSRF token on {form_page}"
        body = urlencode({**data, "csrf_token": found.group(1) or found.group(2)}).encode()
        with self._opener.open(Request(self.base_url + path, data=body), timeout=120) as response:
            return response.read().decode()

    def phone_states(self) -> dict[str, str]:
        return dict(_PHONE_ROW.findall(self.get("/phones/")))

    def ami_state(self) -> str:
        """What the home page says of the server's AMI link."""
        found = re.search(r'id="state-ami">(.*?)</dd>', self.get("/"), re.S)
        assert found, "no AMI state on the home page"
        return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


class AmiLogins:
    """Counts the AMI logins Asterisk accepts, but the observer's own, from its events."""

    def __init__(self, manager):
        self.count = 0
        self._lock = threading.Lock()
        # pyst2 keeps its socket as a file; the observer's own login comes from this port.
        self._own = f"/{manager._sock._sock.getsockname()[1]}"
        manager.register_event("SuccessfulAuth", self._on_auth)

    def _on_auth(self, event, _manager) -> None:
        headers = event.headers
        if headers.get("Service") == "AMI" and not headers.get("RemoteAddress", "").endswith(
                self._own):
            with self._lock:
                self.count += 1


class Served:
    """Asterisk + `telecenter serve` with its admin; ``admin`` is logged in."""

    def __init__(self, instance, server: AgiServer, admin: AdminSession, tmp_path, db_url):
        self.instance = instance
        self.db_url = db_url
        self.server = server
        self.admin = admin
        self.tmp_path = tmp_path
        self.password = ""

    def ami_sessions(self) -> int:
        found = _CONNECTED.search(self.instance.rx("manager show connected"))
        return int(found.group(1)) if found else 0

    def register(self, local_port: int, expires: int = 3600) -> None:
        done = register(target_host="127.0.0.1", target_port=self.instance.sip_port, user=PHONE,
                        password=self.password, local_port=local_port, expires=expires,
                        workdir=self.tmp_path / f"register-{time.monotonic_ns()}")
        assert done.ok, done.describe()

    def wait_state(self, state: str, timeout: float = 15) -> None:
        wait_for(lambda: self.admin.phone_states().get(PHONE) == state, timeout=timeout,
                 what=f"the Phones page to show {PHONE} {state}"
                      f" (it shows {self.admin.phone_states()})")

    def block(self, address: str) -> int:
        """A SIP block in force, as the server's guard makes one; returns its id."""
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            return conn.execute(
                "INSERT INTO sip_blocks (address, since, until, failures, last_event)"
                " VALUES (%s, now(), now() + interval '1 hour', 5, 'InvalidPassword')"
                " RETURNING id", (address,)).fetchone()[0]

    def create_and_apply_phone(self) -> None:
        page = self.admin.post("/phones/new", {"number": PHONE, "kind": "simple",
                                               "description": "Desk", "password": ""},
                               form_page="/phones/new")
        self.password = re.search(r'id="phone-password">([^<]+)<', page).group(1)
        applied = self.admin.post("/apply/run", {}, form_page="/apply/")
        assert re.search(r"Применено: ревизия \d+ активна\.", applied), applied[-2000:]


@pytest.fixture
def served(pg_url, tmp_path):
    require("asterisk", "sipp")
    from dialplan.instance import AsteriskInstance

    with new_database(pg_url, "telecenter_link") as db_url:
        instance = AsteriskInstance(root=tmp_path / "asterisk", include_dir=tmp_path / "include",
                                    sip_port=free_port(), ami_port=free_port(),
                                    rtp_start=free_port())
        instance.rtp_end = instance.rtp_start + 100
        agi_port = free_port()
        env = {"DATABASE_URL": db_url, "TELECENTER_VAR": str(tmp_path / "var")}
        rendered = subprocess.run(
            [str(TELECENTER), "render", "--out", str(instance.include_dir), "--no-reload",
             "--agi-host", "127.0.0.1", "--agi-port", str(agi_port)],
            capture_output=True, text=True, env={**os.environ, **env})
        assert rendered.returncode == 0, rendered.stderr
        instance.write_config()
        instance.start()
        create_admin(db_url, ADMIN, PASSWORD)
        server = AgiServer(agi_port, tmp_path / "var", {
            **env, "TELECENTER_INCLUDE_DIR": str(instance.include_dir),
            "TELECENTER_SECRET_KEY": "link-test-secret-key",
            "TELECENTER_SIP_TRUSTED": "127.0.0.0/8",
            "TELECENTER_AMI_PORT": str(instance.ami_port),
            "TELECENTER_AMI_USER": instance.ami_user,
            "TELECENTER_AMI_SECRET": instance.ami_secret}, admin_port=free_port())
        server.start()
        admin = AdminSession(f"http://127.0.0.1:{server.admin_port}")
        admin.post("/auth/login", {"login": ADMIN, "password": PASSWORD}, form_page="/auth/login")
        try:
            yield Served(instance, server, admin, tmp_path, db_url)
        finally:
            server.stop()
            instance.stop()


def test_page_loads_an_apply_and_a_block_lift_open_no_ami_connection(served):
    wait_for(lambda: served.ami_sessions() == 1, timeout=15, what="the server's AMI login")
    with ami_session(served.instance) as observer:
        logins = AmiLogins(observer)
        served.create_and_apply_phone()
        started = time.monotonic()
        for _ in range(20):
            assert served.admin.phone_states() == {PHONE: "OFFLINE"}
        per_page = (time.monotonic() - started) / 20
        applied = served.admin.post("/apply/run", {}, form_page="/apply/")
        assert re.search(r"Применено: ревизия \d+ активна\.", applied)
        block_id = served.block("192.0.2.7")
        lifted = served.admin.post(f"/sip-blocks/{block_id}/lift", {}, form_page="/sip-blocks/")
        assert "Блокировка 192.0.2.7 снята." in lifted
        # The observer's own session and the server's: nothing else logged in, then or now.
        assert served.ami_sessions() == 2
        assert logins.count == 0, (f"{logins.count} AMI logins during page loads, an Apply"
                                   " and a block lift")
    print(f"Phones page: {per_page * 1000:.0f} ms per load over the server's connection")


def test_states_follow_registrations_and_are_read_again_after_asterisk_restarts(served):
    served.create_and_apply_phone()
    served.wait_state("OFFLINE")
    phone_port, _media = sipp_ports()
    with ami_session(served.instance) as observer:
        logins = AmiLogins(observer)
        served.register(phone_port)
        served.wait_state("ONLINE")
        served.register(phone_port, expires=0)  # the phone unregisters
        served.wait_state("OFFLINE")
        served.register(phone_port)
        served.wait_state("ONLINE")
        assert logins.count == 0

    assert served.admin.ami_state() == "подключён"  # the home page reads the same link

    served.instance.stop()
    served.wait_state("unknown")  # AMI down: unknown, not the last state seen
    assert served.admin.ami_state() == "нет связи"
    # Asterisk comes back without the registration it had (its astdb is gone):
    # only a fresh read after the new login can tell.
    shutil.rmtree(served.instance.root / "db")
    (served.instance.root / "db").mkdir()
    served.instance.start()
    served.wait_state("OFFLINE", timeout=40)
    wait_for(lambda: served.ami_sessions() == 1, timeout=15, what="one AMI session again")
    wait_for(lambda: served.admin.ami_state() == "подключён", timeout=15,
             what="the home page to show AMI connected again")
    served.register(phone_port)  # events flow on the new connection
    served.wait_state("ONLINE")


def test_a_line_on_the_address_a_phone_registers_from_is_warned_about(served):
    """The server's AMI connection knows where the phone registered from (127.0.0.1): the
    line form warns on save and Apply warns, and applies the line all the same."""
    served.create_and_apply_phone()
    phone_port, _media = sipp_ports()
    served.register(phone_port)
    served.wait_state("ONLINE")
    warning = ("хост 127.0.0.1 — адрес, с которого регистрируются телефоны: Asterisk будет"
               " принимать их звонки за звонки, пришедшие по этой линии")
    line = {"name": "office", "host": "127.0.0.1", "port": "5070", "transport": "udp",
            "reg_username": "", "reg_domain": "", "reg_password": "", "outbound_regex": "",
            "position": "0", "inbound_number": "", "external": "y"}
    saved = served.admin.post("/lines/new", line, form_page="/lines/new")
    assert "Линия office создана." in saved
    assert f"Линия office: {warning}" in saved
    elsewhere = served.admin.post("/lines/new", {**line, "name": "prov1", "host": "10.0.0.9"},
                                  form_page="/lines/new")
    assert "Линия prov1 создана." in elsewhere and "Линия prov1: хост" not in elsewhere
    applied = served.admin.post("/apply/run", {}, form_page="/apply/")
    assert re.search(r"Применено: ревизия \d+ активна\.", applied), applied[-2000:]
    assert "Применено с предупреждениями" in applied and warning in applied
    assert applied.count(warning) == 1  # line 'office' only
    assert "line-office" in served.instance.rx("pjsip show endpoints")
