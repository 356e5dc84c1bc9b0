"""The admin's defences at the HTTP level, in one place: headers, cookies, the proxy.

Flask-Talisman puts the security headers on every response the app makes
(pages, redirects, error pages, static files, the login limit's 429). The
pages carry no inline script or style (they live in ``static/``), so the
Content-Security-Policy allows nothing but this site's own files.

Two settings, from the environment like the rest of the admin's:

- ``TELECENTER_ADMIN_HTTPS=1``: people reach the admin over HTTPS (a
  reverse proxy ends TLS), so cookies are sent over HTTPS only and browsers
  are told to keep to HTTPS (HSTS).
- ``TELECENTER_ADMIN_PROXIES=N``: N reverse proxies stand in front of the
  admin; the client address (for the login limit) and the scheme are read
  from the X-Forwarded-* headers those proxies set (werkzeug's ProxyFix).
  Without it those headers are ignored, as anyone could send them.
"""

from __future__ import annotations

import os

from flask import Flask
from flask_talisman import Talisman
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "img-src": "'self' data:",  # Bootstrap draws its small icons as data: SVG
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
HSTS_SECONDS = 365 * 24 * 3600


def settings_from_environment() -> dict:
    """The admin's HTTPS and proxy settings as app config, from the environment."""
    proxies = os.environ.get("TELECENTER_ADMIN_PROXIES", "0")
    if not (proxies.isascii() and proxies.isdigit()):
        raise ValueError(f"TELECENTER_ADMIN_PROXIES: a number of proxies, not {proxies!r}")
    return {"ADMIN_HTTPS": os.environ.get("TELECENTER_ADMIN_HTTPS", "") == "1",
            "ADMIN_PROXIES": int(proxies)}


def init_app(app: Flask) -> None:
    """Security headers, cookie flags and, when configured, the proxy's headers on `app`."""
    https = bool(app.config["ADMIN_HTTPS"])
    app.config.update(SESSION_COOKIE_SECURE=https, REMEMBER_COOKIE_SECURE=https,
                      SESSION_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_HTTPONLY=True,
                      REMEMBER_COOKIE_SAMESITE="Lax")
    app.extensions["talisman"] = Talisman(
        app,
        force_https=False,  # the proxy that ends TLS redirects; the admin itself speaks HTTP
        strict_transport_security=https,
        strict_transport_security_max_age=HSTS_SECONDS,
        session_cookie_secure=https,
        session_cookie_http_only=True,
        session_cookie_samesite="Lax",
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        referrer_policy="same-origin",  # kept for our own pages: Flask-WTF checks it over HTTPS
    )
    proxies = int(app.config["ADMIN_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,
                                x_host=proxies, x_port=proxies, x_prefix=proxies)
