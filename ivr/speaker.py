"""Speech at call time: nothing synthesised that Apply could have, nobody waiting long.

Theory of operation
-------------------

Everything a call says is a text or an ``ivr.phrases.Phrase``: pieces with
pauses between them.  ``Speaker.speak`` turns it into the files STREAM FILE
plays back to back, the way Asterisk's own SayNumber plays a number from its
digit files:

1. **Pieces.**  Each piece's speech is looked up in the TTS cache, where
   Apply put the vocabulary of every phrase.  Found: nothing else to do (the
   speaker remembers where, so the next call's look-up is one stat a piece).
2. **Missing pieces** (a caller's name, which no vocabulary holds; a status
   that appeared in the case database since the last Apply) are synthesised
   on a small pool of ``WORKERS`` threads, one synthesis per text however
   many calls need it at once: a second call asking for a text already
   being synthesised waits for the same run (single flight).
   ``prepare`` starts one as early as the call knows the text (the menu
   route prepares the caller's name as soon as the call arrives).
3. **Budget.**  The phrase waits for its missing pieces at most
   ``BUDGET_SECONDS`` from the moment it is needed, whatever the engine
   does (hangs, crashes, is slow).  A piece still missing then is left out
   and the rest is said ("Здравствуйте!" without the name; a case's status
   phrase without a status it cannot say yet, rather than no answer at all);
   the synthesis goes on in the background, so the next call has it.  When
   nothing of the phrase can be said the caller hears the shipped "message
   unavailable" prompt instead of silence.
4. **Pauses.**  The punctuation between pieces is a silence file of its
   length (``PAUSES_MS``), made once in ``pauses/`` of the cache folder.
   Nothing is written per call: a phrase with a caller's data costs no disk
   work and leaves no file behind, however many different cases are asked.

The pool's threads run the engines (``ivr.tts``); a call's coroutine only
waits on them, on whichever event loop it runs (the server's, or
``asyncio.run`` in the simulator and tests).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from datetime import date
from pathlib import Path

from dialplan.configuration import TtsSettings
from ivr.audio import SAMPLE_BYTES, SAMPLE_RATE, write_asterisk_wav
from ivr.phrases import PUNCTUATION, parts_of, vocabulary
from ivr.tts import MAX_TEXT_CHARS, cached_by_any, presynthesize, synthesize_any

log = logging.getLogger(__name__)

# Engines run at call time on this many threads (the machine's cores are for the calls).
WORKERS = 2
# The longest a caller waits for speech that is not in the cache yet.
BUDGET_SECONDS = 1.0
# How many pieces the speaker remembers the cached file of (a few MB at most).
REMEMBERED_PIECES = 50_000
# Silence for the punctuation between pieces, in ms: a comma is a breath, a full stop a pause.
PAUSES_MS = {",": 150, ":": 250, ".": 350, "!": 350, "?": 350}
# The cache's folder of silence files, one per pause length.
PAUSES_DIR = "pauses"


class Speaker:
    """Speech for calls: one per server, shared by every call (see the module doc)."""

    def __init__(self, cache_dir: Path, workers: int = WORKERS,
                 budget_seconds: float = BUDGET_SECONDS):
        self.cache_dir = Path(cache_dir)
        self.budget_seconds = budget_seconds
        self._pool = _Workers(workers)
        self._running: dict[tuple[str, TtsSettings], Future] = {}
        self._lock = threading.RLock()
        # Where each piece's speech was found: the next call's look-up is one stat
        # (a cleaned cache is noticed and looked up again).
        self._found: OrderedDict[tuple[str, TtsSettings], Path] = OrderedDict()
        self._pauses = {ms: _silence_file(self.cache_dir / PAUSES_DIR, ms)
                        for ms in set(PAUSES_MS.values())}

    def prepare(self, text: str, tts: TtsSettings) -> Future | None:
        """Start synthesising ``text`` unless its speech is cached or already on its way;
        the run it shares, None when there is nothing to wait for."""
        if not text.strip() or len(text) > MAX_TEXT_CHARS:
            return None
        if cached_by_any(text, tts, self.cache_dir) is not None:
            return None
        key = (text, tts)
        with self._lock:
            running = self._running.get(key)
            if running is None:
                running = self._pool.submit(self._synthesize, text, tts)
                self._running[key] = running
        running.add_done_callback(lambda done: self._forget(key, done))
        return running

    def _forget(self, key: tuple[str, TtsSettings], done: Future) -> None:
        with self._lock:
            if self._running.get(key) is done:
                del self._running[key]

    def _synthesize(self, text: str, tts: TtsSettings) -> Path | None:
        path, failures = synthesize_any(text, tts, self.cache_dir)
        for failure in failures:
            log.warning("speech for %r: %s", text[:60], failure)
        return path

    async def speak(self, text: str, tts: TtsSettings, fallback_prompt: str) -> list[str]:
        """The files STREAM FILE plays back to back for ``text`` (a Phrase or a plain text),
        without extension; within ``budget_seconds`` whatever the engines do."""
        parts = parts_of(text)
        found = {piece: self._cached(piece, tts) for piece in parts if piece not in PUNCTUATION}
        missing = [piece for piece, path in found.items() if path is None]
        if missing:
            loop = asyncio.get_running_loop()
            runs = [run for run in (self.prepare(piece, tts) for piece in missing)
                    if run is not None]
            if runs:
                await asyncio.wait([_woken_by(run, loop) for run in runs],
                                   timeout=self.budget_seconds)
            found.update((piece, self._cached(piece, tts)) for piece in missing)
            unsaid = [piece for piece in missing if found[piece] is None]
            if unsaid:
                log.warning("said without %s: no speech for it within %g s",
                            ", ".join(repr(piece[:60]) for piece in unsaid), self.budget_seconds)
        played = _with_pauses([PAUSES_MS[part] if part in PUNCTUATION else found[part]
                               for part in parts if part in PUNCTUATION or found[part]])
        if not played:
            return [fallback_prompt]
        return [str((self._pauses[part] if isinstance(part, int) else part).with_suffix(""))
                for part in played]

    def _cached(self, piece: str, tts: TtsSettings) -> Path | None:
        """The cached speech of ``piece``, if any engine made it."""
        key = (piece, tts)
        path = self._found.get(key)
        if path is not None and path.exists():
            self._found.move_to_end(key)
            return path
        path = cached_by_any(piece, tts, self.cache_dir)
        if path is not None:
            self._found[key] = path
            while len(self._found) > REMEMBERED_PIECES:
                self._found.popitem(last=False)
        return path

    def close(self, wait: bool = False) -> None:
        """Stop taking syntheses; the running ones end within the engine's own time limit
        (``wait``: return when they have)."""
        self._pool.close(wait)


def texts_for_calls(texts: Iterable[str]) -> list[str]:
    """What Apply puts into the cache for the calls: ``texts`` and every piece of the
    phrases with data. What the admin's cache cleaning keeps, too."""
    return [*texts, *vocabulary(date.today())]


def presynthesize_for_calls(texts: Iterable[str], tts: TtsSettings,
                            cache_dir: Path) -> list[tuple[str, str]]:
    """Apply's speech: ``texts`` (fixed texts, case statuses and services) and the vocabulary
    of every phrase with data, into the cache; ``(text, reason)`` for each of ``texts`` no
    engine could say (a vocabulary piece that failed is logged: a call retries it)."""
    texts = list(texts)
    started = time.monotonic()
    failed = presynthesize(texts_for_calls(texts), tts, cache_dir)
    mine = set(texts)
    pieces_failed = [text for text, _ in failed if text not in mine]
    if pieces_failed:
        log.warning("%d pieces of phrases could not be said, e.g. %r: %s", len(pieces_failed),
                    pieces_failed[0], dict(failed)[pieces_failed[0]])
    log.info("speech for calls ready in %.1f s", time.monotonic() - started)
    return [(text, reason) for text, reason in failed if text in mine]


def _silence_file(folder: Path, ms: int) -> Path:
    """The file of ``ms`` milliseconds of silence in ``folder``, made if missing."""
    path = folder / f"{ms}.wav"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        write_asterisk_wav(path, bytes(SAMPLE_RATE * ms // 1000 * SAMPLE_BYTES))
    return path


def _with_pauses(parts: list[Path | int]) -> list[Path | int]:
    """Pauses only between speech: none at the ends, one (the longest) between two pieces."""
    result: list[Path | int] = []
    for part in parts:
        if isinstance(part, int):
            if result and isinstance(result[-1], int):
                result[-1] = max(result[-1], part)
            elif result:
                result.append(part)
        else:
            result.append(part)
    while result and isinstance(result[-1], int):
        result.pop()
    return result


class _Workers:
    """A fixed number of daemon threads running jobs in order.

    Not ``ThreadPoolExecutor``: its threads are joined when the process exits,
    so a hanging engine would hold a stopping server for the engine's whole
    time limit; these are let go (the engine's program ends by its own limit).
    """

    def __init__(self, count: int):
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"speech-{n}", daemon=True)
                         for n in range(count)]
        for thread in self._threads:
            thread.start()

    def submit(self, job: Callable, *args) -> Future:
        future: Future = Future()
        self._jobs.put((future, job, args))
        return future

    def close(self, wait: bool) -> None:
        """Cancel the jobs not started; with ``wait``, return when the running ones end."""
        while True:
            try:
                future, _, _ = self._jobs.get_nowait()
            except queue.Empty:
                break
            if future is not None:
                future.cancel()
        for _ in self._threads:
            self._jobs.put((None, None, ()))
        if wait:
            for thread in self._threads:
                thread.join()

    def _work(self) -> None:
        while True:
            future, job, args = self._jobs.get()
            if future is None:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job(*args))
            except BaseException as exc:  # the caller of submit sees it, as with an executor
                future.set_exception(exc)


def _woken_by(run: Future, loop: asyncio.AbstractEventLoop) -> asyncio.Future:
    """An asyncio future done when ``run`` is; giving up on it leaves ``run`` going on for
    the other calls that share it and for the cache."""
    woken = loop.create_future()

    def wake() -> None:
        if not woken.done():
            woken.set_result(None)

    def on_done(_run: Future) -> None:
        try:
            loop.call_soon_threadsafe(wake)
        except RuntimeError:
            pass  # that call's loop has ended; the speech is cached all the same

    run.add_done_callback(on_done)
    return woken
