"""Apply: the configuration in the database becomes what Asterisk serves.

Theory of operation
-------------------

One Apply at a time (a PostgreSQL advisory lock), in these steps::

    LOAD      one snapshot of the configuration (REPEATABLE READ)
      |
    VALIDATE  every problem, with where it is --> any error: ApplyRefused(problems),
      |       (audio recordings looked for on disk)  nothing written, nothing reloaded;
      |                                              warnings alone do not refuse
    ASK       where the phones registered from (Asterisk's contacts): a line on such
      |       an address would take their calls, a warning; unknown when Asterisk
      |       does not answer (then no warning: CONNECT says why)
    SPEAK     every fixed text (TTS menu items, TTS playlist items), and the pieces
      |       phrases with data are said from (numbers, dates, the scenarios' words,
      |       the statuses and services of the case database: ivr.phrases)
      |       synthesised into the TTS cache, so no caller waits for them; a text no
      |       engine can say is a warning, not a refusal: at call time the text is
      |       tried again within a second and, failing that, the caller hears the
      |       shipped "message unavailable" prompt, never silence (and a speech
      |       engine being down must not stop an unrelated change, a new phone,
      |       from being applied)
    RENDER    every include file, headed with the new revision's number
      |
    CONNECT   Asterisk answers over AMI --> else ApplyFailed, nothing written
      |
    WRITE     the chosen transfer music into its own folder (render.transfer_music_dir),
      |       then each file atomically (temporary file + rename) into the include dir
      |
    RELOAD    the dialplan, pjsip, the call features and music on hold through AMI;
      |       a reload keeps calls in progress (a restart would not, so Apply never
      |       restarts)
    CHECK     Asterisk serves the new files: [telecenter-revision] names the new
      |       revision, every endpoint in the files exists and no dropped one is left
      |   rejected --> ROLL BACK: the active revision's files (or, before the first
      |                Apply, the files of an empty configuration) are written and
      |                reloaded again; ApplyFailed(reason); the active revision stays
    STORE     a revisions row (files as JSON, the configuration they were rendered
              from (dialplan.snapshot), sha256, who, active; the only active one) and
              a change_log 'apply' row, in one transaction

The warnings (validation's and speech's) come back on the returned
revision's ``warnings``; they are not stored.

``rollback(revision_id)`` brings back the configuration an earlier
revision was rendered from, then applies it, under the same lock::

    REFUSE    a revision stored before revisions kept their configuration
      |       --> NothingToRestore; the revision's configuration validated first
      |       (a recording deleted since) --> ApplyRefused(problems); nothing changed
    RESTORE   the configuration tables hold exactly the revision's configuration, ids
      |       kept, a change_log 'rollback' row per object changed (dialplan.restore),
      |       in one transaction that stays open through the steps below
    VALIDATE..STORE as above, from what was restored, rendered with the new
              revision's number; the new row has ``rollback_of`` set and its change_log
              row says 'rollback'.  Any refusal or failure rolls the transaction back:
              the configuration and its history are as they were before the rollback.

So the pages show what the rollback brought back, and the next Apply keeps
it.  ``diff(a, b)`` compares two revisions file by file.  ``current_files``
is what to write at start-up.

AMI waits are bounded: AMI_CONNECT_SECONDS to log in, AMI_REPLY_SECONDS for
each answer; past them Asterisk counts as unreachable (or the reload as
rejected), so a hung Asterisk never hangs an Apply.

The database work is synchronous psycopg: Apply runs from the command line
or a web request, never on the FastAGI server's reactor.  Asterisk is reached
through ``AsteriskControl`` (AMI in production, a recording fake in tests);
``apply_now`` and ``rollback_now`` run the coroutines for synchronous callers:
the admin inside the server passes the server's own AMI connection (each
action relayed to the reactor, ``fastagi.asterisk_link``), the command line
gets a short-lived connection of its own.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from psycopg import Connection
from psycopg.rows import dict_row, tuple_row
from psycopg.types.json import Jsonb

from dialplan import names
from dialplan.change_log import record_change
from dialplan.configuration import (Configuration, TtsSettings, audio_file_path,
                                    load_configuration, read_configuration)
from dialplan.messages import N_, Message
from dialplan.render import render_all, transfer_music_dir, write_files
from dialplan.restore import restore_configuration
from dialplan.snapshot import configuration_from_json, configuration_to_json
from dialplan.validate import (WARNING, Problem, check, fallback_problems, item_place,
                               lines_on_phone_addresses, playlist_item_place)
from fastagi.ami import AmiClient, AmiError
from fastagi.contacts import ContactBook
from fastagi.settings import Settings

log = logging.getLogger(__name__)

# pg_advisory_lock key: one Apply (or rollback) at a time.
APPLY_LOCK = 0x7E1EC0

# How long Apply keeps checking after a reload before it counts as rejected.
RELOAD_SETTLE_SECONDS = 5.0

# How long Apply waits for Asterisk to log it in over AMI, then for each answer.
AMI_CONNECT_SECONDS = 10.0
AMI_REPLY_SECONDS = 30.0

# Modules whose reload picks up the generated files: the dialplan, pjsip, the
# call features (featuremap: built into Asterisk 16's core, reloaded by this
# name) and music on hold.
RELOAD_MODULES = ("pbx_config.so", "res_pjsip.so", "features", "res_musiconhold.so")

_REVISION_MARK = re.compile(r"NoOp\(Telecenter revision (\S+)\)")
_ENDPOINT_SECTION = re.compile(r"^\[([^\]\s]+)\]\s*\ntype = endpoint$", re.M)
# "pjsip list endpoints" lines: " Endpoint:  201/201   Unavailable   0 of inf" (id/caller id)
_LISTED_ENDPOINT = re.compile(r"^\s*Endpoint:\s+([^<\s/][^\s/]*)", re.M)


class ApplyError(Exception):
    """Apply did not change what Asterisk serves."""


class ApplyRefused(ApplyError):
    """The configuration has errors; nothing was written.  ``problems`` also lists the warnings."""

    def __init__(self, problems: list[Problem]):
        super().__init__("the configuration has problems: " + "; ".join(map(str, problems)))
        self.problems = problems


class ApplyFailed(ApplyError):
    """Asterisk did not take the new files; the previous revision was put back.

    ``reason`` is the admin's (translatable) text; Asterisk's own words stay in it as
    a parameter, the way Asterisk said them."""

    def __init__(self, template: str, **params):
        self.reason = Message(template, params)
        super().__init__(self.reason.render())


class NothingToRestore(ApplyError):
    """The revision was stored before revisions kept their configuration: a rollback to it
    could not bring the configuration back, so it is refused; nothing was changed."""

    def __init__(self, revision_id: int):
        super().__init__(f"revision {revision_id} was stored before revisions kept the"
                         " configuration they were made from: it cannot be rolled back to")
        self.revision_id = revision_id


class AsteriskControl(Protocol):
    """What Apply needs from Asterisk."""

    async def reload(self) -> None:
        """Reload the dialplan and pjsip; AmiError when Asterisk refuses."""

    async def command(self, command: str) -> str:
        """Run one CLI command and return its output."""

    async def contact_addresses(self) -> dict[str, set[str]] | None:
        """AOR -> the addresses its contacts registered from; None when not known."""


class AmiAsterisk:
    """AsteriskControl over AMI: the server's client relayed from another thread
    (fastagi.asterisk_link.RelayedAmi), or a short-lived one of its own
    (``from_settings``, for the command line).  One serves one Apply: once Asterisk
    did not log it in, it is not waited for again within that Apply."""

    def __init__(self, client):
        self.client = client
        self._unreachable: AmiError | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> AmiAsterisk:
        client = AmiClient.to(settings)
        client.start()
        return cls(client)

    async def reload(self) -> None:
        for module in RELOAD_MODULES:
            await self._action({"Action": "Reload", "Module": module})

    async def command(self, command: str) -> str:
        reply = await self._action({"Action": "Command", "Command": command})
        output = reply.get("Output", "")  # a list when Asterisk sent several lines
        if isinstance(output, list):
            output = "\n".join(output)
        return str(output)

    async def contact_addresses(self) -> dict[str, set[str]] | None:
        """AOR -> addresses, from a PJSIPShowContacts listing; None when Asterisk does not
        answer in time (the CONNECT step then fails with the reason)."""
        try:
            await self._ready()
            listing = await asyncio.wait_for(
                self.client.listing({"Action": "PJSIPShowContacts"}), AMI_REPLY_SECONDS)
        except (AmiError, TimeoutError):
            return None
        book = ContactBook()
        book.replace(listing)
        return book.addresses()

    def close(self) -> None:
        self.client.close()

    async def _action(self, action: dict) -> dict:
        """One AMI action, waiting at most AMI_CONNECT_SECONDS + AMI_REPLY_SECONDS."""
        await self._ready()
        try:
            return await asyncio.wait_for(self.client.action(action), AMI_REPLY_SECONDS)
        except asyncio.TimeoutError:
            raise AmiError(f"Asterisk did not answer {action['Action']} within"
                           f" {AMI_REPLY_SECONDS:g} s") from None

    async def _ready(self) -> None:
        """Logged in, waiting at most AMI_CONNECT_SECONDS the first time; AmiError else."""
        if self._unreachable is not None:
            raise self._unreachable
        try:
            await self.client.ready(AMI_CONNECT_SECONDS)
        except AmiError as exc:
            self._unreachable = exc
            raise


# Synthesise texts into the TTS cache: (texts, tts settings, cache dir) -> [(text, reason)]
# for each text no engine could say (ivr.speaker.presynthesize_for_calls, which adds the
# vocabulary of the phrases with data).
Presynthesizer = Callable[[Iterable[str], TtsSettings, Path], list[tuple[str, str]]]


@dataclass(frozen=True)
class Revision:
    """One stored Apply."""

    id: int
    created_by: str
    files: dict[str, str]
    files_hash: str
    rollback_of: int | None
    active: bool
    created_at: datetime | None = None
    # What it was rendered from (None for a revision stored before revisions kept it).
    configuration: Configuration | None = None
    warnings: tuple[Problem, ...] = ()  # what the Apply that made it warned about; not stored


def files_hash(files: dict[str, str]) -> str:
    """sha256 over the file names and texts, in name order."""
    digest = hashlib.sha256()
    for name in sorted(files):
        for part in (name, files[name]):
            data = part.encode("utf-8")
            digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def endpoints_in(files: dict[str, str]) -> set[str]:
    """The pjsip endpoint ids the generated files define."""
    return {m.group(1) for text in files.values() for m in _ENDPOINT_SECTION.finditer(text)}


def revision_mark(files: dict[str, str]) -> str:
    """What [telecenter-revision] says in these files ("none" for a plain render)."""
    for text in files.values():
        match = _REVISION_MARK.search(text)
        if match:
            return match.group(1)
    raise ValueError("the files have no [telecenter-revision] mark")


def diff(a: Revision, b: Revision) -> dict[str, str]:
    """Unified diff per file from revision ``a`` to ``b``; unchanged files are left out."""
    result = {}
    for name in sorted(set(a.files) | set(b.files)):
        old, new = a.files.get(name, ""), b.files.get(name, "")
        if old == new:
            continue
        result[name] = "".join(difflib.unified_diff(
            old.splitlines(keepends=True), new.splitlines(keepends=True),
            fromfile=f"revision {a.id}/{name}", tofile=f"revision {b.id}/{name}"))
    return result


def get_revision(conn: Connection, revision_id: int) -> Revision:
    """One stored revision; LookupError when there is none with that id."""
    found = _revisions(conn, " WHERE id = %s", (revision_id,))
    if not found:
        raise LookupError(f"no revision {revision_id}")
    return found[0]


def list_revisions(conn: Connection) -> list[Revision]:
    """Every stored revision, newest first (for the admin's list and diff pages)."""
    return _revisions(conn, " ORDER BY id DESC", ())


def _revisions(conn: Connection, rest: str, params: tuple) -> list[Revision]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, created_by, files, files_hash, rollback_of, active, created_at,"
            " configuration FROM revisions" + rest, params).fetchall()
    return [Revision(**{**row, "configuration": None if row["configuration"] is None
                        else configuration_from_json(row["configuration"])})
            for row in rows]


def active_revision(conn: Connection) -> Revision | None:
    """The revision Asterisk serves, if any Apply has succeeded."""
    active = _scalar(conn, "SELECT id FROM revisions WHERE active")
    return get_revision(conn, active) if active is not None else None


def fixed_texts(config: Configuration) -> list[tuple[str, Message]]:
    """Every text the configuration speaks as it is, with where it is: what SPEAK synthesises."""
    texts = [(item.text, item_place(config, item))
             for item in config.menu_items if item.kind == "tts" and item.text.strip()]
    for playlist in config.playlists:
        texts += [(entry.text, playlist_item_place(playlist, index))
                  for index, entry in enumerate(playlist.items)
                  if entry.kind == "tts" and entry.text.strip()]
    return texts


# The statuses and the service names a case phrase may say: the most common this many of each.
MAX_CASE_WORDS = 500


def case_words(conn: Connection) -> list[str]:
    """The statuses and service names of the case database, the most common first: pieces
    of the case phrases, said now so that no caller waits for them."""
    rows = conn.execute(
        "(SELECT status FROM cases GROUP BY status ORDER BY count(*) DESC, status LIMIT %(n)s)"
        " UNION ALL"
        " (SELECT service FROM cases WHERE service <> '' GROUP BY service"
        "  ORDER BY count(*) DESC, service LIMIT %(n)s)", {"n": MAX_CASE_WORDS}).fetchall()
    return list(dict.fromkeys(word for (word,) in rows))


async def presynthesize_texts(config: Configuration, settings: Settings,
                              presynthesize: Presynthesizer,
                              words: Iterable[str] = ()) -> list[Problem]:
    """Put every fixed text, and ``words`` (``case_words``), into the TTS cache; a warning
    for each place whose text failed."""
    texts = fixed_texts(config)
    all_texts = [text for text, _ in texts] + list(words)
    try:
        failed = dict(await asyncio.to_thread(presynthesize, all_texts,
                                              config.tts, settings.tts_cache_dir))
    except OSError as exc:  # the cache folder itself; the texts are tried again at call time
        failed = {text: str(exc) for text, _ in texts}
    return [Problem(place, Message(N_("no speech engine could say this text now (%(reason)s):"
                                      " callers will hear that the message is unavailable"
                                      " until one can"), {"reason": failed[text]}), WARNING)
            for text, place in texts if text in failed]


def audio_on_disk(config: Configuration, settings: Settings) -> set[int]:
    """The ids of the library's audio files whose recording is in the audio folder."""
    return {audio.id for audio in config.audio_files
            if audio_file_path(settings.audio_dir, audio.id).is_file()}


async def apply_configuration(conn: Connection, asterisk: AsteriskControl, settings: Settings,
                              who: str, *, presynthesize: Presynthesizer,
                              include_dir: Path | None = None) -> Revision:
    """Load, validate, speak, render, write, reload and store: the new active revision.

    ``conn`` is a connection outside any transaction (autocommit or idle).
    ``presynthesize`` puts texts into the settings' TTS cache (the callers hand
    ``ivr.speaker.presynthesize_for_calls``: the speech the calls will play is
    ivr's, and dialplan/ does not import it). The revision's ``warnings`` say
    what to look at.
    """
    with _one_apply_at_a_time(conn):
        config = load_configuration(conn)
        problems = _refused_unless_valid(config, settings)
        return await _apply_loaded(conn, asterisk, settings, who, config, problems,
                                   presynthesize=presynthesize, include_dir=include_dir,
                                   rollback_of=None, held=False)


async def rollback(conn: Connection, asterisk: AsteriskControl, settings: Settings,
                   revision_id: int, who: str, *, presynthesize: Presynthesizer,
                   include_dir: Path | None = None) -> Revision:
    """Restore the configuration an earlier revision was made from and apply it, as a new
    revision; LookupError for an unknown revision, NothingToRestore for one that kept no
    configuration, ApplyRefused/ApplyFailed as Apply (the database then as it was)."""
    with _one_apply_at_a_time(conn):
        earlier = get_revision(conn, revision_id)
        conn.commit()
        if earlier.configuration is None:
            raise NothingToRestore(revision_id)
        _refused_unless_valid(earlier.configuration, settings)  # before anything changes
        revision_id = _next_revision_id(conn)
        with conn.transaction():
            restore_configuration(conn, earlier.configuration, who, settings.audio_dir)
            config = read_configuration(conn)
            problems = _refused_unless_valid(config, settings)
            return await _apply_loaded(conn, asterisk, settings, who, config, problems,
                                       revision_id, presynthesize=presynthesize,
                                       include_dir=include_dir, rollback_of=earlier.id,
                                       held=True)


def _refused_unless_valid(config: Configuration, settings: Settings) -> list[Problem]:
    """Validation's problems (warnings only); ApplyRefused when any is an error."""
    problems = (check(config, audio_on_disk=audio_on_disk(config, settings))
                + fallback_problems(config, settings.fallback_number))
    if any(problem.is_error for problem in problems):
        raise ApplyRefused(problems)
    return problems


async def _apply_loaded(conn, asterisk, settings, who, config, problems, revision_id=None, *,
                        presynthesize, include_dir, rollback_of, held) -> Revision:
    """SPEAK..STORE for a validated configuration.  ``held``: inside the rollback's
    transaction, which its caller commits or rolls back (so the revision id is reserved
    before it, ``revision_id``)."""
    warnings = (problems + await lines_on_phones(config, asterisk)
                + await presynthesize_texts(config, settings, presynthesize, case_words(conn)))
    if revision_id is None:
        revision_id = _next_revision_id(conn)
    files = render_all(settings, config, revision=revision_id)
    revision = await _install(conn, asterisk, settings, include_dir, who, revision_id, files,
                              config, rollback_of=rollback_of, held=held)
    return replace(revision, warnings=tuple(warnings))


async def lines_on_phones(config: Configuration, asterisk: AsteriskControl) -> list[Problem]:
    """The lines whose host is where a phone of ``config`` registered from (ASK), as
    warnings; none when Asterisk cannot tell. Lines' own contacts are not phones'."""
    contacts = await asterisk.contact_addresses()
    if contacts is None:
        return []
    phones = {phone.number for phone in config.phones}
    return lines_on_phone_addresses(config, {address for aor, addresses in contacts.items()
                                             if aor in phones for address in addresses})


def apply_now(conn: Connection, settings: Settings, who: str, *,
              presynthesize: Presynthesizer, include_dir: Path | None = None,
              asterisk: AsteriskControl | None = None) -> Revision:
    """apply_configuration for synchronous callers (CLI, a Flask view), over AMI.

    ``asterisk`` is the server's connection (the admin passes
    ``AmiAsterisk(link.client())``); without it a short-lived AMI connection
    is opened to the address in ``settings`` (``telecenter apply`` runs in
    a process of its own).  Raises ApplyRefused (with ``problems``) or
    ApplyFailed (with the reason).
    """
    return _with_ami(settings, asterisk, f"Apply by {who}", lambda control: apply_configuration(
        conn, control, settings, who, include_dir=include_dir, presynthesize=presynthesize))


def rollback_now(conn: Connection, settings: Settings, revision_id: int, who: str,
                 include_dir: Path | None = None,
                 asterisk: AsteriskControl | None = None, *,
                 presynthesize: Presynthesizer) -> Revision:
    """rollback for synchronous callers, over AMI (as apply_now); LookupError for an
    unknown revision, NothingToRestore, ApplyRefused or ApplyFailed as ``rollback``."""
    return _with_ami(settings, asterisk, f"Rollback by {who}", lambda control: rollback(
        conn, control, settings, revision_id, who, include_dir=include_dir,
        presynthesize=presynthesize))


def current_files(conn: Connection, settings: Settings) -> dict[str, str]:
    """The files Asterisk should serve now: the active revision's, else an empty configuration.

    What to write at start-up (demo, render), so that a restart does not
    forget the last Apply.
    """
    active = active_revision(conn)
    return active.files if active is not None else render_all(settings)


def _with_ami(settings: Settings, asterisk: AsteriskControl | None, what: str,
              make_coroutine):
    """Run ``make_coroutine(control)`` to the end on this thread; a short-lived AMI
    connection when no ``asterisk`` is given, closed afterwards.

    A refusal (problems, a reload Asterisk refuses, Asterisk unreachable, a revision with
    nothing to restore) is expected: it is logged as one WARNING line naming ``what``, and
    raised for the caller to show.
    """
    async def main():
        control = asterisk if asterisk is not None else AmiAsterisk.from_settings(settings)
        try:
            return await make_coroutine(control)
        finally:
            if asterisk is None:
                control.close()

    try:
        return asyncio.run(main())
    except ApplyRefused as refused:
        errors = [problem for problem in refused.problems if problem.is_error]
        log.warning("%s refused, nothing changed: %s", what,
                    _one_line("; ".join(map(str, errors))))
        raise
    except ApplyError as failed:  # Asterisk did not take it, or nothing to restore
        log.warning("%s failed: %s", what, _one_line(str(failed)))
        raise


def _one_line(text: str) -> str:
    """``text`` with its line breaks (an Asterisk answer quoted in a reason) as spaces."""
    return " ".join(text.split())


def _scalar(conn: Connection, query: str):
    """The first column of the first row, or None; whatever the connection's row factory."""
    with conn.cursor(row_factory=tuple_row) as cur:
        row = cur.execute(query).fetchone()
    return row[0] if row else None


@contextmanager
def _one_apply_at_a_time(conn: Connection) -> Iterator[None]:
    """Hold Apply's advisory lock (session level) for the with block."""
    conn.execute("SELECT pg_advisory_lock(%s)", (APPLY_LOCK,))
    conn.commit()
    try:
        yield
    finally:
        if not conn.closed:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(%s)", (APPLY_LOCK,))
            conn.commit()


def _next_revision_id(conn: Connection) -> int:
    """Reserve the id of the revision being made (ids of failed Applies are skipped)."""
    value = _scalar(conn, "SELECT nextval(pg_get_serial_sequence('revisions', 'id'))")
    conn.commit()
    return value


async def _install(conn, asterisk, settings, include_dir, who, revision_id, files,
                   configuration, rollback_of, held) -> Revision:
    include_dir = Path(include_dir) if include_dir is not None else settings.include_dir
    previous = active_revision(conn)
    if not held:
        conn.commit()  # no transaction left open while Asterisk reloads
    before = previous.files if previous else render_all(settings)
    try:
        await asterisk.command(f"dialplan show s@{names.CONTEXT_REVISION}")
    except AmiError as exc:
        raise ApplyFailed(N_("Asterisk is not reachable, nothing was changed: %(error)s"),
                          error=str(exc)) from None
    put_transfer_music(configuration, settings)
    write_files(include_dir, files)
    reason = await _reload_and_check(asterisk, files, gone=endpoints_in(before) - endpoints_in(files))
    if reason:
        write_files(include_dir, before)
        undo = await _reload_and_check(asterisk, before, gone=endpoints_in(files) - endpoints_in(before))
        if not undo:
            raise ApplyFailed(N_("Asterisk did not take the new configuration: %(reason)s;"
                                 " the previous files are back"), reason=reason)
        raise ApplyFailed(N_("Asterisk did not take the new configuration: %(reason)s;"
                             " putting the previous files back failed too: %(undo)s"),
                          reason=reason, undo=undo)
    revision = Revision(revision_id, who, files, files_hash(files), rollback_of, True,
                        configuration=configuration)
    _store(conn, revision, held)
    return get_revision(conn, revision_id)


def put_transfer_music(config: Configuration, settings: Settings) -> None:
    """Copy the chosen transfer music into the folder its music class plays (WRITE).

    The folder holds that one recording; validation has seen it on disk."""
    audio_id = config.transfer.music_audio_id
    if audio_id is None:
        return
    folder = transfer_music_dir(settings, audio_id)
    source = audio_file_path(settings.audio_dir, audio_id)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{source.name}.tmp"
    shutil.copyfile(source, temporary)
    os.chmod(temporary, 0o644)
    os.replace(temporary, folder / source.name)


async def _reload_and_check(asterisk: AsteriskControl, files: dict[str, str],
                            gone: set[str]) -> str | None:
    """Reload, then why Asterisk does not serve ``files`` (None when it does).

    res_pjsip finishes a reload on its own thread, so the check is repeated
    for up to RELOAD_SETTLE_SECONDS before it counts as a rejection.
    """
    try:
        await asterisk.reload()
    except AmiError as exc:
        return f"reload refused: {exc}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RELOAD_SETTLE_SECONDS
    while True:
        try:
            reason = await _not_served(asterisk, files, gone)
        except AmiError as exc:
            return f"Asterisk did not answer after the reload: {exc}"
        if reason is None or loop.time() >= deadline:
            return reason
        await asyncio.sleep(0.2)  # poll interval while pjsip settles


async def _not_served(asterisk: AsteriskControl, files: dict[str, str],
                      gone: set[str]) -> str | None:
    mark = revision_mark(files)
    shown = await asterisk.command(f"dialplan show s@{names.CONTEXT_REVISION}")
    if f"Telecenter revision {mark})" not in shown:
        return f"the dialplan was not reloaded (expected revision {mark}): {shown.strip()[:300]}"
    listed = set(_LISTED_ENDPOINT.findall(await asterisk.command("pjsip list endpoints")))
    missing = sorted(endpoints_in(files) - listed)
    if missing:
        return f"pjsip did not load endpoints {', '.join(missing)}"
    left = sorted(gone & listed)
    if left:
        return f"pjsip still has removed endpoints {', '.join(left)}"
    return None


def _store(conn: Connection, revision: Revision, held: bool) -> None:
    action = "rollback" if revision.rollback_of is not None else "apply"
    with conn.transaction():
        conn.execute("UPDATE revisions SET active = false WHERE active")
        conn.execute(
            "INSERT INTO revisions (id, created_by, files, files_hash, rollback_of, active,"
            " configuration) VALUES (%s, %s, %s, %s, %s, true, %s)",
            (revision.id, revision.created_by, Jsonb(revision.files), revision.files_hash,
             revision.rollback_of, None if revision.configuration is None
             else Jsonb(configuration_to_json(revision.configuration))))
        record_change(conn, revision.created_by, action, "revision", revision.id, None,
                      {"files_hash": revision.files_hash, "rollback_of": revision.rollback_of})
    if not held:
        conn.commit()
