"""Text-to-speech: texts made into files Asterisk plays, cached on disk (spec 4).

Theory of operation
-------------------

A text is spoken by an *engine* with a *voice*: Festival with the Russian
festvox-ru voice, espeak-ng, or Yandex SpeechKit (a cloud engine, used only
when configured).  The result is an 8 kHz mono 16-bit WAV in the cache
folder, named by the SHA-256 of (engine, voice, text): the same text with the
same voice is synthesised once, and changing the voice or the engine makes
new files instead of playing stale ones.  A file appears in the cache whole
or not at all (written beside it, then renamed), so a call never plays half
a file and two calls synthesising the same text at once do no harm.

Engines fail (a voice not installed, a text Festival cannot pronounce, the
cloud down), so speech is tried with the configured engine first, then with
the local ones (``engines_to_try``); when every engine fails the caller hears
a shipped prompt saying the message is unavailable instead of dead air.

Synthesis blocks for up to seconds, so no call waits for it: texts known at
configuration time, and the pieces phrases with data are spoken from
(``ivr.phrases``), are synthesised on Apply by ``presynthesize`` — Festival
says them all in one run, its voice loaded once — and the rare text a call
still needs (a caller's name) goes to ``ivr.speaker``, which bounds the wait.
Every file synthesised has the engine's leading and trailing silence cut to
a short edge (``ivr.audio.trim_silence``), so pieces played back to back leave
no gaps.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import wave
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import jwt

from dialplan.configuration import TtsSettings
from dialplan.messages import N_, MessageText
from dialplan.messages import quoted as in_quotes
from ivr.audio import (CHANNELS, SAMPLE_BYTES, SAMPLE_RATE, asterisk_wav_duration_ms,
                       convert_for_asterisk, temporary_sibling, trim_silence)

log = logging.getLogger(__name__)

FESTIVAL = "festival"
ESPEAK = "espeak"
YANDEX = "yandex"
ENGINES = (FESTIVAL, ESPEAK, YANDEX)

# Longer texts are refused: a prompt, not a book (and a bound on the work).
MAX_TEXT_CHARS = 4000
# How long one engine run (a program or a cloud request) may take.
ENGINE_TIMEOUT_SECONDS = 60
# And how much longer a Festival run saying many texts may take for each text.
BATCH_SECONDS_PER_TEXT = 2

# Voice names an engine is given; they reach a Scheme expression or a command line,
# so the admin form checks them with these same patterns.
FESTIVAL_VOICE = re.compile(r"[A-Za-z0-9_]+")
ESPEAK_VOICE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_+/-]*")
YANDEX_VOICE = re.compile(r"[a-z][a-z0-9_]*")
# What Yandex SpeechKit needs besides a voice (TtsSettings fields).
YANDEX_SETTINGS = ("yandex_service_account_id", "yandex_key_id", "yandex_folder_id",
                   "yandex_private_key_path")
# A cache file's name without ".wav": a ``cache_key``.
CACHE_KEY = re.compile(r"[0-9a-f]{64}")


class TtsError(Exception):
    """A text that could not be made into speech, and why: a ``MessageText``, English in
    the logs, translated on the admin's Speech page."""


class Engine(Protocol):
    name: str

    def synthesize_to(self, text: str, voice: str, wav_path: Path) -> None:
        """Speak ``text`` with ``voice`` into ``wav_path`` (8 kHz mono 16-bit WAV); TtsError."""


def _run(argv: list[str], what: str, timeout: float = ENGINE_TIMEOUT_SECONDS) -> str:
    """Run an engine's program; its stderr, which tells why when it made no sound."""
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError as exc:
        raise TtsError(MessageText(N_("%(what)s is not installed (%(program)s not found)"),
                                   what=what, program=argv[0])) from exc
    except subprocess.TimeoutExpired as exc:
        raise TtsError(MessageText(N_("%(what)s took longer than %(seconds)s s"), what=what,
                                   seconds=f"{timeout:g}")) from exc
    if done.returncode != 0:
        raise TtsError(MessageText(N_("%(what)s failed (exit %(code)s): %(error)s"), what=what,
                                   code=done.returncode, error=_tail(done.stderr)))
    return _tail(done.stderr)


def _tail(stderr: bytes) -> str:
    return stderr.decode("utf-8", "replace").strip()[-300:]


def _convert(raw: Path, wav_path: Path, what: str, stderr: str) -> None:
    # text2wave exits 0 even when its Scheme fails (unknown voice, nothing
    # pronounceable): the missing output tells, and its stderr says why.
    if not raw.exists() or raw.stat().st_size == 0:
        raise TtsError(MessageText(N_("%(what)s produced no sound: %(error)s"), what=what,
                                   error=stderr) if stderr
                       else MessageText(N_("%(what)s produced no sound"), what=what))
    try:
        convert_for_asterisk(raw, wav_path, input_type="wav", timeout=ENGINE_TIMEOUT_SECONDS)
    except subprocess.CalledProcessError as exc:
        raise TtsError(MessageText(N_("%(what)s produced audio sox cannot read: %(error)s"),
                                   what=what, error=_tail(exc.stderr))) from exc
    except subprocess.TimeoutExpired as exc:
        raise TtsError(MessageText(N_("%(what)s took longer than %(seconds)s s"), what="sox",
                                   seconds=ENGINE_TIMEOUT_SECONDS)) from exc
    except FileNotFoundError as exc:
        raise TtsError(MessageText(N_("sox is not installed"))) from exc


# Festival's Russian letter-to-sound rules stop at any character they have no rule for,
# and then no sound is made at all; Russian texts are full of these (quotes, dashes, №).
_FESTIVAL_REWRITES = str.maketrans({
    "«": " ", "»": " ", "„": " ", "“": " ", "”": " ", "—": ", ", "–": ", ", "…": "...",
    "№": " номер ", "%": " процентов ", "&": " и ", "*": " звёздочка ", "/": " ", "\\": " ",
    "_": " ",
})
# What is left after the rewrites and Festival still says: letters, digits, plain punctuation.
_FESTIVAL_UNSAYABLE = re.compile(r"[^0-9A-Za-zА-Яа-яЁё\s.,:;!?()\"'+#-]+")


# Punctuation standing alone between blanks is a word to Festival, and one it cannot say.
_DETACHED_PUNCTUATION = re.compile(r"(^|\s+)([.,:;!?]+)(?=\s|$)")


def festival_text(text: str) -> str:
    """``text`` as Festival's Russian voice can say it: typographic signs put into words
    or pauses, control characters and symbols (emoji) dropped."""
    text = _FESTIVAL_UNSAYABLE.sub(" ", text.translate(_FESTIVAL_REWRITES))
    text = _DETACHED_PUNCTUATION.sub(lambda m: m.group(2) if m.group(1) else "", text)
    return " ".join(text.split())


class _LocalEngine:
    """A synthesiser run as a program; the text goes through a file, never as an argument."""

    name = ""
    title = ""
    voice_pattern: re.Pattern

    def argv(self, voice: str, text_file: Path, raw: Path) -> list[str]:
        raise NotImplementedError

    def engine_text(self, text: str) -> str:
        """The text as this engine is given it (the cache is keyed by the text as written)."""
        return text

    def synthesize_to(self, text: str, voice: str, wav_path: Path) -> None:
        if not self.voice_pattern.fullmatch(voice):
            raise TtsError(MessageText(N_("%(voice)s is not a %(engine)s voice name"),
                                       voice=in_quotes(voice), engine=self.title))
        with tempfile.TemporaryDirectory(prefix="telecenter-tts-") as tmp:
            text_file = Path(tmp) / "text.txt"
            text_file.write_text(self.engine_text(text), encoding="utf-8")
            raw = Path(tmp) / f"{self.name}.wav"
            what = MessageText(N_("%(engine)s (voice %(voice)s)"), engine=self.title,
                               voice=voice)
            stderr = _run(self.argv(voice, text_file, raw), what)
            _convert(raw, wav_path, what, stderr)


class FestivalEngine(_LocalEngine):
    """Festival's text2wave; festvox-ru reads its text as UTF-8."""

    name = FESTIVAL
    title = "Festival"
    voice_pattern = FESTIVAL_VOICE

    def argv(self, voice: str, text_file: Path, raw: Path) -> list[str]:
        return ["text2wave", "-eval", f"(voice_{voice})", "-o", str(raw), str(text_file)]

    def engine_text(self, text: str) -> str:
        return festival_text(text)

    def synthesize_many(self, texts: list[str], voice: str, wav_paths: list[Path]) -> str:
        """Speak each text into its path (8 kHz mono 16-bit WAV) in one Festival run: the
        voice loads once, so a hundred short texts take about a second instead of fifty.

        A text Festival cannot say leaves its path absent and the others go on;
        returns Festival's stderr.  TtsError when Festival itself fails.
        """
        if not self.voice_pattern.fullmatch(voice):
            raise TtsError(MessageText(N_("%(voice)s is not a %(engine)s voice name"),
                                       voice=in_quotes(voice), engine=self.title))
        script = [f"(voice_{voice})"]
        for text, wav_path in zip(texts, wav_paths, strict=True):
            quoted = festival_text(text).replace('"', " ")  # festival_text leaves no backslash
            script.append(f'(unwind-protect (let ((u (utt.synth (Utterance Text "{quoted}"))))'
                          f' (utt.wave.resample u {SAMPLE_RATE})'
                          f' (utt.save.wave u "{Path(wav_path).absolute()}" \'riff)) nil)')
        with tempfile.TemporaryDirectory(prefix="telecenter-tts-") as tmp:
            script_file = Path(tmp) / "say.scm"
            script_file.write_text("\n".join(script) + "\n", encoding="utf-8")
            return _run(["festival", "-b", str(script_file)],
                        MessageText(N_("%(engine)s (voice %(voice)s)"), engine="Festival",
                                    voice=voice),
                        timeout=ENGINE_TIMEOUT_SECONDS + BATCH_SECONDS_PER_TEXT * len(texts))


class EspeakEngine(_LocalEngine):
    """espeak-ng."""

    name = ESPEAK
    title = "espeak-ng"
    voice_pattern = ESPEAK_VOICE

    def argv(self, voice: str, text_file: Path, raw: Path) -> list[str]:
        return ["espeak-ng", "-v", voice, "-w", str(raw), "-f", str(text_file)]


class YandexEngine:
    """Yandex SpeechKit v1 REST, authorised by an IAM token made from a service account key.

    Needs all four settings (service account id, key id, folder id, private
    key path) and the PyJWT package with its ``cryptography`` extra; without
    them it refuses with a TtsError before any network request.
    """

    name = YANDEX
    IAM_URL = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
    TTS_URL = "https://tts.api.cloud.yandex.net/speech/v1/tts:synthesize"
    # IAM tokens live 12 hours; a new one is asked for well before that.
    TOKEN_SECONDS = 3600

    _tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def __init__(self, tts: TtsSettings):
        self.tts = tts

    def missing_settings(self) -> list[str]:
        """The settings still empty, by their field names."""
        return [f for f in YANDEX_SETTINGS if not getattr(self.tts, f, "")]

    def synthesize_to(self, text: str, voice: str, wav_path: Path) -> None:
        missing = self.missing_settings()
        if missing:
            raise TtsError(MessageText(N_("Yandex SpeechKit is not configured: %(fields)s empty"),
                                       fields=", ".join(missing)))
        if not YANDEX_VOICE.fullmatch(voice):
            raise TtsError(MessageText(N_("not a Yandex SpeechKit voice name: %(voice)s"),
                                       voice=in_quotes(voice)))
        form = urllib.parse.urlencode({
            "text": text, "lang": "ru-RU", "voice": voice, "folderId": self.tts.yandex_folder_id,
            "format": "lpcm", "sampleRateHertz": str(SAMPLE_RATE),
        }).encode()
        request = urllib.request.Request(self.TTS_URL, data=form, headers={
            "Authorization": f"Bearer {self._iam_token()}"})
        pcm = self._fetch(request, "Yandex SpeechKit")
        if not pcm:
            raise TtsError(MessageText(N_("Yandex SpeechKit returned no sound")))
        with wave.open(str(wav_path), "wb") as w:
            w.setnchannels(CHANNELS)
            w.setsampwidth(SAMPLE_BYTES)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(pcm)

    def _iam_token(self) -> str:
        key = (self.tts.yandex_service_account_id, self.tts.yandex_key_id)
        cached = self._tokens.get(key)
        if cached and cached[1] > time.time():
            return cached[0]
        now = int(time.time())
        try:
            signed = jwt.encode(
                {"aud": self.IAM_URL, "iss": self.tts.yandex_service_account_id,
                 "iat": now, "exp": now + 3600},
                self._private_key(), algorithm="PS256", headers={"kid": self.tts.yandex_key_id})
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise TtsError(MessageText(N_("the Yandex private key cannot sign: %(error)s"),
                                       error=exc)) from exc
        request = urllib.request.Request(
            self.IAM_URL, data=json.dumps({"jwt": signed}).encode(),
            headers={"Content-Type": "application/json"})
        try:
            token = json.loads(self._fetch(request, "Yandex IAM"))["iamToken"]
        except (ValueError, KeyError) as exc:
            raise TtsError(MessageText(N_("Yandex IAM answered without a token"))) from exc
        self._tokens[key] = (token, time.time() + self.TOKEN_SECONDS)
        return token

    def _private_key(self) -> str:
        """The PEM key from the key file: a PEM file or Yandex's authorized key JSON."""
        path = Path(self.tts.yandex_private_key_path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TtsError(MessageText(N_("cannot read the Yandex private key file: %(error)s"),
                                       error=exc.strerror)) from exc
        if text.lstrip().startswith("{"):
            try:
                text = json.loads(text)["private_key"]
            except (ValueError, KeyError) as exc:
                raise TtsError(MessageText(N_("the Yandex key file has no private_key"))) from exc
        begin = text.find("-----BEGIN")
        if begin < 0:
            raise TtsError(MessageText(N_("the Yandex key file holds no PEM private key")))
        return text[begin:]

    @staticmethod
    def _fetch(request: urllib.request.Request, what: str) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=ENGINE_TIMEOUT_SECONDS) as answer:
                return answer.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()[:300].decode("utf-8", "replace")
            raise TtsError(MessageText(N_("%(what)s refused: HTTP %(code)s %(body)s"), what=what,
                                       code=exc.code, body=body)) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TtsError(MessageText(N_("%(what)s unreachable: %(error)s"), what=what,
                                       error=exc)) from exc


def engine_for(name: str, tts: TtsSettings) -> Engine:
    """The engine called ``name``."""
    if name == FESTIVAL:
        return FestivalEngine()
    if name == ESPEAK:
        return EspeakEngine()
    if name == YANDEX:
        return YandexEngine(tts)
    raise TtsError(f"unknown speech engine {name!r}")


def voice_for(engine_name: str, tts: TtsSettings) -> str:
    """The voice the settings give engine ``engine_name``."""
    voices = {FESTIVAL: tts.festival_voice, ESPEAK: tts.espeak_voice, YANDEX: tts.yandex_voice}
    if engine_name not in voices:
        raise TtsError(f"unknown speech engine {engine_name!r}")
    return voices[engine_name]


def engines_to_try(tts: TtsSettings) -> list[str]:
    """Engine names in the order to try: the configured one, then the local ones."""
    if tts.engine == ESPEAK:
        return [ESPEAK, FESTIVAL]
    if tts.engine == YANDEX:
        return [YANDEX, FESTIVAL, ESPEAK]
    return [FESTIVAL, ESPEAK]


# The programs a local engine runs to speak; sox converts what it makes (``_convert``).
ENGINE_PROGRAMS = {FESTIVAL: ("festival", "text2wave", "sox"), ESPEAK: ("espeak-ng", "sox"),
                   YANDEX: ()}


def engine_lacks(tts: TtsSettings) -> list[str]:
    """What the configured engine lacks to speak, found without saying anything: the
    programs it runs that are not installed, for Yandex the settings left empty."""
    lacking = [program for program in ENGINE_PROGRAMS.get(tts.engine, ())
               if shutil.which(program) is None]
    if tts.engine == YANDEX:
        lacking += YandexEngine(tts).missing_settings()
    return lacking


def cache_key(engine_name: str, voice: str, text: str) -> str:
    """The SHA-256 (hex) naming the cached speech of ``text`` by this engine and voice."""
    joined = "\0".join((engine_name, voice, text))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def cached_path(text: str, tts: TtsSettings, cache_dir: Path,
                engine_name: str | None = None) -> Path:
    """Where the speech of ``text`` is (or would be) cached: ``<cache_dir>/<key>.wav``.

    ``engine_name`` defaults to the configured engine; its voice comes from ``tts``.
    """
    name = engine_name or tts.engine
    return Path(cache_dir) / f"{cache_key(name, voice_for(name, tts), text)}.wav"


def synthesize(text: str, tts: TtsSettings, cache_dir: Path,
               engine: str | Engine | None = None) -> Path:
    """The cached speech of ``text``, synthesised first when it is not cached yet.

    ``engine`` is an engine name or object (default: the configured engine).
    A cache hit runs nothing.  Raises TtsError; nothing is cached then.
    """
    if isinstance(engine, str) or engine is None:
        engine = engine_for(engine or tts.engine, tts)
    if not text.strip():
        raise TtsError(MessageText(N_("there is no text to say")))
    if len(text) > MAX_TEXT_CHARS:
        raise TtsError(MessageText(N_("the text is longer than %(count)s characters"),
                                   count=MAX_TEXT_CHARS))
    target = cached_path(text, tts, cache_dir, engine.name)
    if target.exists():
        return target
    part = temporary_sibling(target)
    try:
        engine.synthesize_to(text, voice_for(engine.name, tts), part)
        _keep(part, target, engine.name)
    finally:
        part.unlink(missing_ok=True)
    return target


def _keep(part: Path, target: Path, engine_name: str) -> None:
    """Put a new speech file into the cache, its padding cut; TtsError for no usable sound."""
    if not asterisk_wav_duration_ms(part):  # not playable as is, or silent
        raise TtsError(MessageText(N_("%(what)s produced no usable sound"), what=engine_name))
    trim_silence(part)
    os.replace(part, target)


def synthesize_any(text: str, tts: TtsSettings, cache_dir: Path,
                   tried: dict[str, str] | None = None) -> tuple[Path | None, list[str]]:
    """The first engine's speech that works, and why the ones before it failed;
    ``tried`` names engines already tried on this text, with why they failed."""
    failures = []
    for name in engines_to_try(tts):
        if tried and name in tried:
            failures.append(f"{name}: {tried[name]}")
            continue
        try:
            return synthesize(text, tts, cache_dir, name), failures
        except TtsError as exc:
            failures.append(f"{name}: {exc}")
    return None, failures


def cached_by_any(text: str, tts: TtsSettings, cache_dir: Path) -> Path | None:
    """Speech of ``text`` some engine already made, in the order engines are tried: a call
    plays it as it is and never waits for an engine that failed on this text before
    (Apply, which tries the configured engine first again, is where a mended one takes over)."""
    for name in engines_to_try(tts):
        path = cached_path(text, tts, cache_dir, name)
        if path.exists():
            return path
    return None


def presynthesize(texts: Iterable[str], tts: TtsSettings, cache_dir: Path) -> list[tuple[str, str]]:
    """Synthesise each distinct text now (cached ones cost nothing).

    Returns ``(text, reason)`` for each text no engine could say; a text
    another engine said after the configured one failed is not a failure.
    """
    failed = []
    texts = [text for text in dict.fromkeys(texts) if text.strip() and len(text) <= MAX_TEXT_CHARS]
    tried = _synthesize_in_one_run(texts, tts, Path(cache_dir))
    for text in texts:
        path, failures = synthesize_any(text, tts, cache_dir, tried.get(text))
        if path is None:
            failed.append((text, "; ".join(failures)))
    return failed


def _synthesize_in_one_run(texts: list[str], tts: TtsSettings,
                           cache_dir: Path) -> dict[str, dict[str, str]]:
    """Say the texts the configured engine has not said yet in one run, when it can (Festival);
    for each text it could not say, {engine name: why}."""
    engine = engine_for(tts.engine, tts)
    todo = [text for text in texts if not cached_path(text, tts, cache_dir).exists()]
    if len(todo) < 2 or not hasattr(engine, "synthesize_many"):
        return {}
    targets = [cached_path(text, tts, cache_dir) for text in todo]
    parts = [temporary_sibling(target) for target in targets]
    try:
        for part in parts:
            part.unlink()  # Festival writes only what it could say
        try:
            stderr = engine.synthesize_many(todo, voice_for(engine.name, tts), parts)
        except TtsError as exc:
            return {text: {engine.name: str(exc)} for text in todo}
        tried = {}
        for text, part, target in zip(todo, parts, targets):
            try:
                _keep(part, target, engine.name)
            except TtsError as exc:
                tried[text] = {engine.name: f"{exc}: {stderr}"[:300]}
        return tried
    finally:
        for part in parts:
            part.unlink(missing_ok=True)


def _cache_files(cache_dir: Path) -> list[Path]:
    folder = Path(cache_dir)
    return [p for p in folder.iterdir() if p.suffix == ".wav" and CACHE_KEY.fullmatch(p.stem)
            and p.is_file()] if folder.is_dir() else []


def cache_usage(cache_dir: Path) -> tuple[int, int]:
    """How many speech files the cache holds and their total size in bytes."""
    files = _cache_files(cache_dir)
    return len(files), sum(p.stat().st_size for p in files)


def clean_cache(cache_dir: Path, keep: set[str]) -> tuple[int, int]:
    """Delete cached speech not in ``keep``; returns (files, bytes) deleted.

    ``keep`` holds cache keys (``cache_key``) or paths of cached files, with
    or without the ``.wav`` extension (``cached_path`` or ``Speaker.speak``
    results) — whichever the caller has.
    """
    kept_keys = {Path(str(k)).name.removesuffix(".wav") for k in keep}
    files = bytes_ = 0
    for path in _cache_files(cache_dir):
        if path.stem in kept_keys:
            continue
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        files += 1
        bytes_ += size
    return files, bytes_
