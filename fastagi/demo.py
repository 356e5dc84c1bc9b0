"""`telecenter demo`: the whole thing on one machine, on the embedded defaults.

Starts the embedded PostgreSQL, renders the dialplan, runs a private
Asterisk instance from var/asterisk (the system's /etc/asterisk is left
alone) and then the FastAGI server, until Ctrl-C stops all of it.
"""

from __future__ import annotations

import logging
import secrets

import click

from dialplan.instance import AsteriskInstance
from dialplan.names import CONTEXT_ENTRY, SELFTEST_NUMBER
from dialplan.render import render_all, write_files
from fastagi.database import database_url
from fastagi.service import serve_forever
from fastagi.settings import Settings, use_settings

log = logging.getLogger(__name__)


def run_demo(settings: Settings, sip_port: int, ami_port: int) -> int:
    instance = AsteriskInstance(
        root=settings.var_dir / "asterisk" / "instance",
        include_dir=settings.include_dir,
        sip_port=sip_port, ami_port=ami_port, ami_secret=secrets.token_urlsafe(24),
    )
    settings = settings.but(ami_host=instance.bind_host, ami_port=ami_port,
                            ami_user=instance.ami_user, ami_secret=instance.ami_secret)
    use_settings(settings)
    write_files(settings.include_dir, render_all(settings))
    instance.write_config()
    instance.start()
    try:
        with database_url(settings) as url:
            _tell_how_to_try(instance)
            return serve_forever(settings, url)
    finally:
        instance.stop()


def _tell_how_to_try(instance: AsteriskInstance) -> None:
    console = f"asterisk -C {instance.conf_path} -r"
    click.echo(
        "\nTelecenter demo is running. Ctrl-C stops it.\n"
        f"  Asterisk console:  {console}\n"
        f"  Generated dialplan: {console}x 'dialplan show {CONTEXT_ENTRY}'\n"
        f"  Line self-test call ({SELFTEST_NUMBER}):\n"
        f"    {console}x 'channel originate Local/{SELFTEST_NUMBER}@{CONTEXT_ENTRY} application Wait 15'\n"
        f"  Calls are logged in the calls and call_events tables.\n",
        err=True,
    )
