"""The web admin (Flask): users and roles, change history, configuration sections.

`create_app` is the application factory (Flask's flaskr tutorial is the
model). It is handed the server's settings (`fastagi.settings.Settings`);
`test_config` overrides them.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

from flask import Flask
from flask_bootstrap import Bootstrap5
from flask_wtf import CSRFProtect

from fastagi.settings import Settings

csrf = CSRFProtect()
bootstrap = Bootstrap5()


def create_app(test_config: dict | None = None, asterisk=None,
               settings: Settings | None = None) -> Flask:
    """The admin app.  ``asterisk`` is the server's ``fastagi.asterisk_link.AsteriskLink``
    when the admin runs inside the server; without it phone states are unknown and
    Apply and block lifts open a short-lived AMI connection of their own. ``settings``
    are the server's; without them they are read from the environment (tests)."""
    from admin_web import api as external_api
    from admin_web import api_token_pages
    from admin_web import (apply_pages, audio_pages, auth, callback_pages, case_pages, db,
                           errors, forms,
                           history, home, i18n, line_pages, menu_pages, navigation,
                           operator_header, phone_pages, playlist_pages, queue_live, queue_pages,
                           security, simulator_pages, sip_block_pages, transfer_pages, tts_pages,
                           user_pages)
    from admin_web import rule_pages, schedule_pages  # schedules and override rules
    from admin_web import dialer_pages
    from admin_web.secret_key import load_or_create

    app = Flask(__name__)
    settings = settings if settings is not None else Settings.from_env()
    app.config.from_mapping(
        VAR_DIR=str(settings.var_dir),
        DATABASE_URL=settings.database_url,
        LOGIN_RATE_LIMIT="5 per minute",  # per address and login
        LOGIN_RATE_LIMIT_PER_ADDRESS="30 per minute",
        BOOTSTRAP_SERVE_LOCAL=True,
        BOOTSTRAP_BTN_STYLE="primary",
        SESSION_COOKIE_SAMESITE="Lax",
        HISTORY_PAGE_SIZE=25,
        CALLBACKS_PAGE_SIZE=50,
        DISPLAY_TIMEZONE=os.environ.get("TELECENTER_TIMEZONE", "UTC"),
        TELECENTER_SETTINGS=settings,  # AMI address and credentials (tests put a fake one)
        **security.settings_from_environment(),
    )
    if os.environ.get("TELECENTER_SECRET_KEY"):
        app.config["SECRET_KEY"] = os.environ["TELECENTER_SECRET_KEY"]
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create(Path(app.config["VAR_DIR"]))
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = _embedded_database(app, settings)
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["DISPLAY_TIMEZONE"]

    app.extensions["telecenter_asterisk"] = asterisk
    security.init_app(app)
    db.init_app(app)
    csrf.init_app(app)
    bootstrap.init_app(app)
    i18n.init_app(app)
    auth.init_app(app)
    navigation.init_app(app)
    errors.init_app(app)
    forms.init_app(app)
    for section in (home, phone_pages, line_pages, audio_pages, playlist_pages, tts_pages,
                    menu_pages, queue_pages, transfer_pages, simulator_pages, case_pages,
                    callback_pages, apply_pages, sip_block_pages, history, user_pages,
                    operator_header, queue_live, dialer_pages):
        app.register_blueprint(section.bp)
    for section in (schedule_pages, rule_pages):  # schedules and override rules
        app.register_blueprint(section.bp)
    # The external API (spec 18) and its tokens' page.
    app.register_blueprint(api_token_pages.bp)
    external_api.init_app(app)
    return app


def site_settings():
    """The settings of this app: the process's, with the app's VAR_DIR (so its include dir)."""
    from flask import current_app

    return current_app.config["TELECENTER_SETTINGS"].but(
        var_dir=Path(current_app.config["VAR_DIR"]))


def server_asterisk():
    """This app's link to the server's AMI connection (AsteriskLink), or None."""
    from flask import current_app

    return current_app.extensions.get("telecenter_asterisk")


def _embedded_database(app: Flask, settings) -> str:
    """The embedded PostgreSQL's URL, started (and left running) when no URL is set."""
    from fastagi.database import database_url

    stack = ExitStack()
    app.extensions["telecenter_database"] = stack
    return stack.enter_context(database_url(settings, keep_running=True))
