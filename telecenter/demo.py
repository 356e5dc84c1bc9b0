"""`telecenter demo`: the whole thing on one machine, on the embedded defaults.

Starts the embedded PostgreSQL, writes the last applied configuration (or
the bare self-test on a fresh install), runs a private Asterisk instance
from var/asterisk (the system's /etc/asterisk is left alone), then the
FastAGI server and the web admin, until Ctrl-C stops all of it.  A fresh
install (nothing ever applied, no menu) gets the demo configuration
(``dialplan.demo_configuration``), applied as its first revision once
Asterisk runs, so 90000 answers with the example menu at once, and key 2
reaches the operators' queue 92000.  Its two phones get passwords made
here, kept in var/demo-phones.json (readable by its owner only) and printed
at every start while they still open the phones, so a newcomer can register
two softphones and answer the queue.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

import click
import psycopg
from psycopg.rows import tuple_row

from dialplan.apply import ApplyError, active_revision, apply_now, current_files
from dialplan.configuration import generate_password, sip_digest
from dialplan.demo_configuration import DEMO_PHONES, DEMO_QUEUE_NUMBER, load_demo_configuration
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
            fresh = active_revision(conn) is None and load_demo_configuration(
                conn, demo_phone_passwords(settings.var_dir))
            # The last Apply survives a restart; a fresh install starts with the self-test only.
            write_files(settings.include_dir, current_files(conn, settings))
            phones = phones_to_register(conn, settings.var_dir)
        instance.write_config()
        instance.start()
        try:
            if fresh:
                _apply_demo_configuration(url, settings)
            _tell_how_to_try(instance, settings, phones)
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


PASSWORDS_FILE = "demo-phones.json"


def demo_phone_passwords(var_dir: Path) -> dict[str, str]:
    """The demo phones' SIP passwords: those kept in var/demo-phones.json, else new ones,
    kept there first (owner-only) so every start can print them."""
    path = Path(var_dir) / PASSWORDS_FILE
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    passwords = {number: str(kept.get(number) or generate_password()) for number in DEMO_PHONES}
    if passwords != kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(passwords, out)
    return passwords


def phones_to_register(conn, var_dir: Path) -> dict[str, str]:
    """Demo phone -> its password, for the phones whose password is still the kept one
    (an admin who changed it in the admin knows the new one)."""
    try:
        kept = json.loads((Path(var_dir) / PASSWORDS_FILE).read_text())
    except (OSError, ValueError):
        return {}
    with conn.cursor(row_factory=tuple_row) as cur:
        stored = dict(cur.execute("SELECT number, md5_cred FROM phones WHERE number = ANY(%s)",
                                  (list(DEMO_PHONES),)).fetchall())
    return {number: password for number, password in sorted(kept.items())
            if stored.get(number) == sip_digest(number, str(password))}


def _how_to_reach_an_operator(instance: AsteriskInstance, phones: dict[str, str]) -> str:
    if len(phones) < 2:
        return ""
    (first, first_password), (second, second_password) = list(phones.items())[:2]
    return (
        f"  Talk to an operator (queue {DEMO_QUEUE_NUMBER}): register two softphones"
        f" (Linphone, MicroSIP, baresip...) to\n"
        f"    {instance.bind_host}:{instance.sip_port} (UDP), user {first} password"
        f" {first_password}, and user {second} password {second_password};\n"
        f"    call 90000 from {first}, press 2: {second} rings, answer it and talk.\n")


def _tell_how_to_try(instance: AsteriskInstance, settings: Settings,
                     phones: dict[str, str]) -> None:
    console = f"asterisk -C {instance.conf_path} -r"
    click.echo(
        "\nTelecenter demo is running. Ctrl-C stops it.\n"
        f"  Web admin:         http://{settings.admin_host}:{settings.admin_port}/"
        " (first: telecenter create-admin)\n"
        f"  Asterisk console:  {console}\n"
        f"  Generated dialplan: {console}x 'dialplan show {CONTEXT_ENTRY}'\n"
        f"  Line self-test call ({SELFTEST_NUMBER}):\n"
        f"    {console}x 'channel originate Local/{SELFTEST_NUMBER}@{CONTEXT_ENTRY} application Wait 15'\n"
        + _how_to_reach_an_operator(instance, phones) +
        f"  Calls are logged in the calls and call_events tables.\n",
        err=True,
    )
