"""The admin's HTTP defences: security headers on every response, cookie flags, the proxy."""

import re

import pytest

from admin_web import create_app
from tests.admin_web.conftest import CSRF, PASSWORD, AuthActions, csrf_token

SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options",
                    "Referrer-Policy")


def assert_secured(response):
    headers = response.headers
    missing = [name for name in SECURITY_HEADERS if name not in headers]
    assert not missing, f"{response.request.path} ({response.status_code}) lacks {missing}"
    policy = dict(part.strip().split(" ", 1) for part in
                  headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


def test_every_kind_of_response_carries_the_security_headers(app, client, auth):
    assert_secured(client.get("/auth/login"))                      # a page, anonymous
    assert_secured(client.get("/"))                                # a redirect to the login
    assert_secured(client.get("/static/admin.js"))                 # our static file
    assert_secured(client.get("/bootstrap/static/css/bootstrap.min.css"))
    assert_secured(client.get("/no-such-page"))                    # 404
    assert_secured(client.post("/auth/login", data={"login": "admin"}))  # 400, no CSRF token
    assert_secured(client.get("/cases/?q=1%00"))                   # refused before any view
    assert_secured(auth.login())                                   # the redirect after login
    assert_secured(client.get("/users/"))                          # a page, logged in
    assert_secured(auth.post("/users/1/role", {"role": "operator"}))  # 400: last administrator


def test_the_login_limit_answer_carries_the_security_headers(app, client, auth):
    app.config["LOGIN_RATE_LIMIT"] = "1 per minute"
    auth.login(password="Wrong-password-1")
    limited = auth.login(password="Wrong-password-1")
    assert limited.status_code == 429
    assert_secured(limited)


def test_an_error_500_carries_the_security_headers(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/broken")
    def broken():
        raise RuntimeError("a bug")

    response = client.get("/broken")
    assert response.status_code == 500
    assert_secured(response)


INLINE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.mark.parametrize("url", ["/auth/login", "/", "/users/", "/users/new", "/cases/new",
                                 "/phones/", "/menus/new", "/playlists/new", "/tts/"])
def test_pages_hold_no_inline_script_or_style_the_policy_would_block(client, auth, url):
    auth.login()
    page = client.get(url).get_data(as_text=True)
    assert INLINE.findall(page) == []


def test_cookies_are_httponly_and_samesite_and_not_secure_over_plain_http(client, auth):
    cookie = session_cookie(auth.login())
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Strict-Transport-Security" not in client.get("/auth/login").headers


def session_cookie(response) -> str:
    """The Set-Cookie line of the session cookie."""
    found = [line for line in response.headers.getlist("Set-Cookie")
             if line.startswith("session=")]
    assert found, response.headers
    return found[0]


@pytest.fixture
def https_app(people, pg_url, tmp_path, monkeypatch):
    """The admin configured as a newcomer would behind one TLS-ending proxy."""
    monkeypatch.setenv("TELECENTER_ADMIN_HTTPS", "1")
    monkeypatch.setenv("TELECENTER_ADMIN_PROXIES", "1")
    return create_app({"TESTING": True, "DATABASE_URL": pg_url, "VAR_DIR": str(tmp_path)})


PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "admin.example",
           "X-Forwarded-For": "198.51.100.7",
           "Referer": "https://admin.example/auth/login"}  # Flask-WTF checks it over HTTPS


def log_in_through_proxy(client, password=PASSWORD, **headers):
    """A login as a browser sends it through the proxy: the form page, then the post."""
    headers = {**PROXIED, **headers}
    page = client.get("/auth/login", headers=headers).get_data(as_text=True)
    token = CSRF.search(page)
    return client.post("/auth/login", headers=headers, data={
        "login": "admin", "password": password, "csrf_token": token.group(1) or token.group(2)})


def test_over_https_cookies_are_secure_and_browsers_keep_to_https(https_app):
    client = https_app.test_client()
    response = log_in_through_proxy(client)
    assert response.status_code == 302
    assert "Secure" in session_cookie(response)
    assert response.headers["Location"] == "/"
    assert client.get("/auth/login", headers=PROXIED).headers[
        "Strict-Transport-Security"].startswith("max-age=")


def test_behind_a_proxy_the_login_limit_counts_the_forwarded_client(https_app):
    """Every request comes from the proxy's address; the limit must see the real clients."""
    https_app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    stranger, admin = https_app.test_client(), https_app.test_client()
    refused = [log_in_through_proxy(stranger, "Wrong-password-1",
                                    **{"X-Forwarded-For": "203.0.113.9"}).status_code
               for _ in range(3)]
    assert refused == [200, 200, 429]
    assert log_in_through_proxy(admin).status_code == 302


def test_without_a_proxy_setting_forwarded_headers_are_ignored(app):
    """Anyone can send X-Forwarded-For; trusted, it would let a guesser dodge the limit."""
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    statuses = [client.post("/auth/login",
                            headers={"X-Forwarded-For": f"203.0.113.{n}"},
                            data={"login": "admin", "password": "Wrong-password-1",
                                  "csrf_token": csrf_token(client)}).status_code
                for n in range(3)]
    assert statuses == [200, 200, 429]
    assert AuthActions(client).login().status_code == 429
