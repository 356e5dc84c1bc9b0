"""The `telecenter` command: serve, migrate, render, apply, create-admin, demo, simulate."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from fastagi.settings import Settings

log = logging.getLogger("telecenter")


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log debug messages too.")
def main(verbose: bool) -> None:
    """Telecenter: the telephone side of a contact center on Asterisk."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("pgserver").setLevel(logging.WARNING)


def _agi_options(func):
    func = click.option("--agi-port", type=click.IntRange(0, 65535), default=None,
                        help="FastAGI port (TELECENTER_AGI_PORT, default 4573).")(func)
    return click.option("--agi-host", default=None,
                        help="FastAGI address (TELECENTER_AGI_HOST, default 127.0.0.1).")(func)


def _admin_options(func):
    func = click.option("--admin-port", type=click.IntRange(0, 65535), default=None,
                        help="Web admin port (TELECENTER_ADMIN_PORT, default 8080).")(func)
    return click.option("--admin-host", default=None,
                        help="Web admin address (TELECENTER_ADMIN_HOST, default 127.0.0.1).")(func)


def _settings(agi_host: str | None = None, agi_port: int | None = None, **admin) -> Settings:
    settings = Settings.from_env().but(**{k: v for k, v in admin.items() if v is not None})
    if agi_host is not None:
        settings = settings.but(agi_host=agi_host)
    if agi_port is not None:
        settings = settings.but(agi_port=agi_port)
    return settings


@main.command()
def migrate() -> None:
    """Create or update the database schema."""
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations

    settings = _settings()
    with database_url(settings) as url:
        applied = apply_migrations(url, settings.sql_dir)
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date")


@main.command()
@_agi_options
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the include files (default var/asterisk/include).")
@click.option("--reload/--no-reload", default=True, help="Reload Asterisk through AMI afterwards.")
def render(agi_host, agi_port, out_dir, reload) -> None:
    """Write the active revision's include files, then reload Asterisk.

    Before the first Apply there is no revision, and the files of an empty
    configuration (the self-test and the fallback) are written, served by the
    FastAGI server at --agi-host/--agi-port. An active revision keeps the
    address it was applied with: those options are refused then.
    """
    from pathlib import Path

    import psycopg

    from dialplan.apply import active_revision, put_transfer_music
    from dialplan.render import render_all, write_files
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations

    settings = _settings(agi_host, agi_port)
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        with psycopg.connect(url) as conn:
            active = active_revision(conn)
    if active is not None and (agi_host is not None or agi_port is not None):
        raise click.ClickException(
            f"revision {active.id} is active and serves the FastAGI address it was applied "
            "with; to change it, set TELECENTER_AGI_HOST/TELECENTER_AGI_PORT and run "
            "'telecenter apply'")
    target = Path(out_dir) if out_dir else settings.include_dir
    files = active.files if active is not None else render_all(settings)
    if active is not None and active.configuration is not None:
        try:
            put_transfer_music(active.configuration, settings)  # the folder its files name
        except OSError as exc:
            click.echo(f"the transfer music was not copied ({exc}): callers hear none until"
                       " the next Apply", err=True)
    for path in write_files(target, files):
        click.echo(f"wrote {path}")
    click.echo(f"revision {active.id}" if active is not None
               else "no revision applied yet: an empty configuration")
    if reload:
        if not settings.ami_configured:
            raise click.ClickException("AMI is not configured: set TELECENTER_AMI_USER and "
                                       "TELECENTER_AMI_SECRET, or pass --no-reload")
        asyncio.run(_reload(settings))
        click.echo("Asterisk reloaded")


async def _reload(settings: Settings) -> None:
    """Reload Asterisk over a short-lived AMI connection of this command's own: the
    command runs in a process of its own, not in the server that owns the long-lived one."""
    from dialplan.apply import RELOAD_MODULES
    from fastagi.ami import AmiError, reload_once

    try:
        await reload_once(settings, *RELOAD_MODULES)
    except AmiError as exc:
        raise click.ClickException(f"Asterisk was not reloaded: {exc}") from None


@main.command()
@_agi_options
@click.option("--user", "who", default="cli", show_default=True,
              help="Who applies, as recorded in the revision and the change history.")
@click.option("--rollback", "rollback_to", type=int, default=None,
              help="Restore the configuration of this earlier revision and apply it instead.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for the include files (default var/asterisk/include).")
def apply(agi_host, agi_port, who, rollback_to, out_dir) -> None:
    """Validate the configuration, render it, reload Asterisk, keep a revision."""
    from pathlib import Path

    import psycopg

    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations

    settings = _settings(agi_host, agi_port)
    if not settings.ami_configured:
        raise click.ClickException("AMI is not configured: set TELECENTER_AMI_USER and "
                                   "TELECENTER_AMI_SECRET")
    include_dir = Path(out_dir) if out_dir else None
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            revision = _apply_or_roll_back(conn, settings, who, rollback_to, include_dir)
    for warning in revision.warnings:
        click.echo(str(warning), err=True)
    click.echo(f"revision {revision.id} applied ({revision.files_hash[:12]})")


def _apply_or_roll_back(conn, settings, who, rollback_to, include_dir):
    """Run one Apply (or rollback) and turn its refusals into command-line errors."""
    from dialplan import apply as applying
    from ivr.speaker import presynthesize_for_calls

    try:
        if rollback_to is None:
            return applying.apply_now(conn, settings, who, include_dir=include_dir,
                                      presynthesize=presynthesize_for_calls)
        return applying.rollback_now(conn, settings, rollback_to, who, include_dir,
                                     presynthesize=presynthesize_for_calls)
    except applying.ApplyRefused as refused:
        for problem in refused.problems:
            click.echo(f"problem: {problem}", err=True)
        raise click.ClickException("nothing applied: fix the problems above") from None
    except (applying.ApplyError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@_agi_options
@_admin_options
def serve(agi_host, agi_port, admin_host, admin_port) -> None:
    """Run the FastAGI server and the web admin (migrating the database first)."""
    settings = _settings(agi_host, agi_port, admin_host=admin_host, admin_port=admin_port)
    sys.exit(_serve(settings))


def _serve(settings: Settings) -> int:
    from fastagi.database import database_url
    from telecenter.service import serve_forever

    with database_url(settings) as url:
        return serve_forever(settings, url)


@main.command("create-admin")
@click.option("--login", prompt=True, help="The administrator's login name.")
@click.password_option(help="Asked twice when not given.")
def create_admin(login: str, password: str) -> None:
    """Create the first administrator (or reset an administrator's password)."""
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations
    from admin_web.users import UserError, save_administrator

    settings = _settings()
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        try:
            created = save_administrator(url, login, password)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"administrator {login} {'created' if created else 'updated'}")


@main.command()
@_agi_options
@_admin_options
@click.option("--sip-port", type=click.IntRange(1, 65535), default=5060, show_default=True)
@click.option("--ami-port", type=click.IntRange(1, 65535), default=5038, show_default=True)
def demo(agi_host, agi_port, admin_host, admin_port, sip_port, ami_port) -> None:
    """Run everything on this machine: database, Asterisk, FastAGI server, web admin."""
    from telecenter.demo import run_demo

    settings = _settings(agi_host, agi_port, admin_host=admin_host, admin_port=admin_port)
    sys.exit(run_demo(settings, sip_port=sip_port, ami_port=ami_port))


@main.command("simulate")
@click.argument("number")
@click.option("--from", "caller", required=True, help="The caller's number (digits).")
@click.option("--keys", default="", show_default=False,
              help='What the caller types, one element per prompt or wait: '
                   'e.g. "1,*123*#,timeout".')
@click.option("--at", "at_text", default="",
              help='When the call is made, on the office clock (TELECENTER_TIMEZONE): '
                   '"2024-03-12 10:00"; the override rules are read then (default: now).')
def simulate_command(number: str, caller: str, keys: str, at_text: str) -> None:
    """Walk the voice menus from NUMBER as a caller typing KEYS, without calling anyone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import psycopg

    from dialplan.configuration import load_configuration
    from dialplan.ivr_plan import build_plan
    from fastagi.database import database_url
    from fastagi.migrations import apply_migrations
    from ivr.simulate import (UnknownMenuNumber, parse_keys, simulated_steps_over_database,
                              step_lines)

    for name, value in (("NUMBER", number), ("--from", caller)):
        if not value.isascii() or not value.isdigit() or len(value) > 20:
            raise click.BadParameter(f"{value!r} is not a phone number (digits only)",
                                     param_hint=name)
    try:
        typed = parse_keys(keys)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--keys") from None
    settings = _settings()
    zone = ZoneInfo(settings.timezone)
    try:
        at = (datetime.strptime(at_text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
              if at_text.strip() else datetime.now(zone))
    except ValueError:
        raise click.BadParameter(f"{at_text!r} is not a date and time YYYY-MM-DD HH:MM",
                                 param_hint="--at") from None
    with database_url(settings) as url:
        apply_migrations(url, settings.sql_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            plan = build_plan(load_configuration(conn), settings)
        try:
            ending = asyncio.run(simulated_steps_over_database(url, plan, number, caller, typed,
                                                               at))
        except UnknownMenuNumber as exc:
            raise click.ClickException(str(exc)) from None
    for line in step_lines(*ending):
        click.echo(line)
