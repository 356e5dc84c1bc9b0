"""`telecenter demo`: the whole thing on one machine, on the embedded defaults.

Starts the embedded PostgreSQL, writes the last applied configuration (or
the bare self-test on a fresh install), runs a private Asterisk instance
from var/asterisk (the system's /etc/asterisk is left alone), then the
FastAGI server and the web admin, until Ctrl-C stops all of it.  A fresh
install (nothing ever applied, no menu) gets the demo configuration
(``dialplan.demo_configuration``), applied as its first revision once
Asterisk runs, so 90000 answers with the example menu at once.
"""

from __future__ import annotations

import logging
import secrets

import click
import psycopg

from dialplan.apply import ApplyError, active_revision, apply_now, current_files
from dialplan.demo_configuration import load_demo_configuration
from dialplan.instance import AsteriskInstance
from dialplan.names import CONTEXT_ENTRY, SELFTEST_NUMBER
from dialplan.render import write_files
from fastagi.database import database_url
from fastagi.migrations import apply_migrations
from fastagi.settings import Settings
from ivr.speaker import presynthesize_for_calls
from telecenter.service import serve_forever

log = logging.getLogger(__name__)


def run_demo(settings: Settings, sip_port: int, ami_port: int) -> int:
    instance = AsteriskInstance(
        root=settings.var_dir / "asterisk" / "instance",
        include_dir=settings.include_dir,
        sip_port=sip_port, ami_port=ami_port, ami_secret=secrets.token_urlsafe(24),
    )
    settings = settings.but(ami_host=instance.bind_host, ami_port=ami_port,
                            ami_user=instance.ami_user, ami_secret=instance.ami_secret)
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        with psycopg.connect(url) as conn:
            fresh = active_revision(conn) is None and load_demo_configuration(conn)
            # The last Apply survives a restart; a fresh install starts with the self-test only.
            write_files(settings.include_dir, current_files(conn, settings))
        instance.write_config()
        instance.start()
        try:
            if fresh:
                _apply_demo_configuration(url, settings)
            _tell_how_to_try(instance, settings)
            return serve_forever(settings, url)
        finally:
            instance.stop()


def _apply_demo_configuration(url: str, settings: Settings) -> None:
    """Apply the demo configuration just loaded; the demo runs on without it if that fails."""
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            revision = apply_now(conn, settings, "demo", presynthesize=presynthesize_for_calls)
        except ApplyError as exc:
            log.warning("the demo configuration was not applied: %s", exc)
            return
    log.info("demo configuration applied as revision %s: call 90000", revision.id)


def _tell_how_to_try(instance: AsteriskInstance, settings: Settings) -> None:
    console = f"asterisk -C {instance.conf_path} -r"
    click.echo(
        "\nTelecenter demo is running. Ctrl-C stops it.\n"
        f"  Web admin:         http://{settings.admin_host}:{settings.admin_port}/"
        " (first: telecenter create-admin)\n"
        f"  Asterisk console:  {console}\n"
        f"  Generated dialplan: {console}x 'dialplan show {CONTEXT_ENTRY}'\n"
        f"  Line self-test call ({SELFTEST_NUMBER}):\n"
        f"    {console}x 'channel originate Local/{SELFTEST_NUMBER}@{CONTEXT_ENTRY} application Wait 15'\n"
        f"  Calls are logged in the calls and call_events tables.\n",
        err=True,
    )
