"""The server's log after a refused Apply: one WARNING line, never an ERROR or a traceback.

The admin runs inside a real `telecenter serve` (its log is a file). The server
has no AMI of its own here, so Apply opens a short-lived AMI connection, which a
refusal closes before it has connected: that used to leave a cancelled connection
attempt for the event loop to log as an ERROR with two tracebacks.
"""

from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import psycopg

from tests.admin_web.browser import (ADMIN_LOGIN, ADMIN_PASSWORD, create_admin,
                                     empty_admin_tables, running_admin)
from tests.admin_web.conftest import CSRF
from tests.testbed.ports import free_port


class Browser:
    """Just enough of a browser for form posts: cookies and the CSRF token of the last page."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def open(self, path: str, data: dict | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(self.base_url + path, body, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post_form(self, form_page: str, path: str, data: dict) -> tuple[int, str]:
        _status, page = self.open(form_page)
        token = next(group for group in CSRF.search(page).groups() if group)
        return self.open(path, {**data, "csrf_token": token})


def test_a_refused_apply_is_one_warning_in_the_server_log(pg_url, tmp_path):
    empty_admin_tables(pg_url)
    create_admin(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lines (name, host, inbound_number)"
                     " VALUES ('prov1', '10.0.0.9', '55555')")
    env = {"TELECENTER_AMI_USER": "", "TELECENTER_AMI_SECRET": "",
           "TELECENTER_AMI_PORT": str(free_port())}
    try:
        with running_admin(tmp_path / "var", pg_url, env) as (url, server):
            browser = Browser(url)
            browser.post_form("/auth/login", "/auth/login",
                              {"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD})
            before = len(server.log_text())
            status, page = browser.post_form("/apply/", "/apply/run", {})
            assert status == 422, page
            assert browser.open("/apply/")[0] == 200  # the server is still there, log written
            log = server.log_text()[before:]
    finally:
        empty_admin_tables(pg_url)
    assert "Traceback" not in log and " ERROR " not in log and "CRITICAL" not in log, log
    warnings = re.findall(r"^.* WARNING .*$", log, re.M)
    assert len(warnings) == 1, log
    assert "Apply by root refused, nothing changed: line 'prov1': inbound number 55555" \
        in warnings[0]
