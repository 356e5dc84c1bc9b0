"""Speech at call time: nothing synthesised that Apply could have, nobody waiting long.

Theory of operation
-------------------

Everything a call says is a text or an ``ivr.phrases.Phrase``: pieces with
pauses between them.  ``Speaker.speak`` turns it into the one file STREAM
FILE plays:

1. **Pieces.**  Each piece's speech is looked up in the TTS cache, where
   Apply put the vocabulary of every phrase.  Found: nothing else to do.
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
4. **Joining.**  Several pieces are joined into one 8 kHz WAV (plain PCM
   back to back, the punctuation's pauses as silence), cached by the list
   of pieces it was made of under ``phrases/`` in the cache folder, so the
   caller hears one prompt without gaps and the same phrase is joined once.

The pool's threads run the engines (``ivr.tts``); a call's coroutine only
waits on them, on whichever event loop it runs (the server's, or
``asyncio.run`` in the simulator and tests).
"""

from __future__ import annotations

import asyncio
import hashlib
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
from ivr.audio import join_wavs
from ivr.phrases import PUNCTUATION, parts_of, vocabulary
from ivr.tts import MAX_TEXT_CHARS, PHRASES_DIR, cached_by_any, presynthesize, synthesize_any

log = logging.getLogger(__name__)

# Engines run at call time on this many threads (the machine's cores are for the calls).
WORKERS = 2
# The longest a caller waits for speech that is not in the cache yet.
BUDGET_SECONDS = 1.0
# How many phrases said in full the speaker remembers the file of (a few MB at most).
REMEMBERED_PHRASES = 20_000
# Silence for the punctuation between pieces, in ms: a comma is a breath, a full stop a pause.
PAUSES_MS = {",": 150, ":": 250, ".": 350, "!": 350, "?": 350}


class Speaker:
    """Speech for calls: one per server, shared by every call (see the module doc)."""

    def __init__(self, cache_dir: Path, workers: int = WORKERS,
                 budget_seconds: float = BUDGET_SECONDS):
        self.cache_dir = Path(cache_dir)
        self.budget_seconds = budget_seconds
        self._pool = _Workers(workers)
        self._running: dict[tuple[str, TtsSettings], Future] = {}
        self._lock = threading.RLock()
        # The file each phrase said in full was played from: the next caller's
        # prompt costs one stat on the loop (a cleaned cache is noticed and rebuilt).
        self._said: OrderedDict[tuple[tuple[str, ...], TtsSettings], Path] = OrderedDict()

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

    async def speak(self, text: str, tts: TtsSettings, fallback_prompt: str) -> str:
        """What STREAM FILE plays for ``text`` (a Phrase or a plain text), without
        extension; within ``budget_seconds`` whatever the engines do."""
        parts = parts_of(text)
        known = self._said.get((parts, tts))
        if known is not None and known.exists():
            self._said.move_to_end((parts, tts))
            return str(known.with_suffix(""))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget_seconds
        pieces = list(dict.fromkeys(part for part in parts if part not in PUNCTUATION))
        runs = [run for run in (self.prepare(piece, tts) for piece in pieces) if run is not None]
        if runs:
            await asyncio.wait([_woken_by(run, loop) for run in runs],
                               timeout=max(0.0, deadline - loop.time()))
        # Looking files up and joining them is disk work: off the loop, so that no other
        # call's next command waits for it.
        said, whole = await asyncio.to_thread(self._phrase_file, parts, pieces, tts)
        if said is None:
            return fallback_prompt
        if whole:
            self._remember((parts, tts), said)
        return str(said.with_suffix(""))

    def _remember(self, key: tuple[tuple[str, ...], TtsSettings], path: Path) -> None:
        self._said[key] = path
        self._said.move_to_end(key)
        while len(self._said) > REMEMBERED_PHRASES:
            self._said.popitem(last=False)

    def _phrase_file(self, parts: tuple[str, ...], pieces: list[str],
                     tts: TtsSettings) -> tuple[Path | None, bool]:
        """The one file that says ``parts`` from the pieces in the cache (None if none is),
        and whether it says all of them."""
        files = {piece: cached_by_any(piece, tts, self.cache_dir) for piece in pieces}
        missing = [piece for piece, path in files.items() if path is None]
        if missing:
            log.warning("said without %s: no speech for it within %g s",
                        ", ".join(repr(piece[:60]) for piece in missing), self.budget_seconds)
        if len(missing) == len(pieces):
            return None, False
        joined = _with_pauses([files[part] if part not in PUNCTUATION else PAUSES_MS[part]
                               for part in parts if part in PUNCTUATION or files[part]])
        return (joined[0] if len(joined) == 1 else self._joined(joined)), not missing

    def _joined(self, parts: list[Path | int]) -> Path:
        """The cached file of these speech files and pauses played back to back."""
        digest = hashlib.sha256(repr([p if isinstance(p, int) else p.name for p in parts])
                                .encode()).hexdigest()
        target = self.cache_dir / PHRASES_DIR / f"{digest}.wav"
        if not target.exists():
            join_wavs(parts, target)
        return target

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
