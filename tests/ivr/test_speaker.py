"""Speech at call time: phrases joined from cached pieces, open text within a second.

Real engines (Festival, espeak-ng) and real files; an engine that hangs or
counts its runs is a program put first on PATH, so the code under test runs
the engine exactly as in production.
"""

from __future__ import annotations

import asyncio
import os
import time
import wave
from array import array
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from dialplan.configuration import TtsSettings
from ivr import phrases, tts
from ivr.speaker import PAUSES_MS, Speaker, presynthesize_for_calls
from ivr.tts import cache_usage, cached_path, presynthesize
from tests.conftest import require
from tests.ivr.fake_engines import fake_engines, runs

FALLBACK = "/sounds/ru/telecenter-tts-failed"
FESTIVAL = TtsSettings(engine="festival")
BROKEN_FESTIVAL = replace(FESTIVAL, festival_voice="no_such_voice")
BROKEN_BOTH = replace(BROKEN_FESTIVAL, espeak_voice="nosuchvoice")
CASE = phrases.case_status("19-03-2044", "Консультация", date(2026, 3, 12), "В работе")
CASE_WORDS = ["В работе", "Консультация"]


@pytest.fixture(autouse=True)
def engines_installed():
    require("text2wave", "festival", "espeak-ng", "sox")


@pytest.fixture
def speaker(tmp_path):
    speaker = Speaker(tmp_path / "cache")
    yield speaker
    speaker.close(wait=True)  # no synthesis runs on into the next test's engines


@pytest.fixture
def patient_speaker(tmp_path):
    """A speaker that waits for the real engines whatever the machine's load (the default
    second is for callers, not for tests of what the engines say)."""
    speaker = Speaker(tmp_path / "cache", budget_seconds=60)
    yield speaker
    speaker.close(wait=True)


def pcm(path: str) -> array:
    with wave.open(path + ".wav", "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        return array("h", w.readframes(w.getnframes()))


def silences_ms(samples: array, at_least_ms: int = 50) -> list[int]:
    """The lengths of the quiet stretches (below about -40 dBFS) inside the speech."""
    found, start = [], None
    for i, sample in enumerate(samples):
        if abs(sample) < 330:
            start = i if start is None else start
        else:
            if start is not None and start > 0 and (i - start) * 1000 // 8000 >= at_least_ms:
                found.append((i - start) * 1000 // 8000)
            start = None
    return found


def test_apply_says_the_whole_vocabulary_of_the_phrases_once(tmp_path):
    cache = tmp_path / "cache"
    pieces = phrases.vocabulary(date.today(), CASE_WORDS)
    started = time.monotonic()
    assert presynthesize_for_calls(CASE_WORDS, FESTIVAL, cache) == []
    cold = time.monotonic() - started
    files, size = cache_usage(cache)
    assert files == len(pieces) > 250
    assert all(cached_path(piece, FESTIVAL, cache).is_file() for piece in pieces)
    print(f"\n{files} pieces, {size / 1e6:.1f} MB, cold in {cold:.1f} s")
    started = time.monotonic()
    presynthesize_for_calls(CASE_WORDS, FESTIVAL, cache)
    assert time.monotonic() - started < 2  # a second Apply finds them all cached


def test_a_case_status_is_joined_from_cached_pieces_into_one_prompt_without_engines(
        tmp_path, speaker, monkeypatch):
    presynthesize([*CASE.pieces], FESTIVAL, speaker.cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "echo 'an engine ran' >&2; exit 1")
    monkeypatch.setattr(tts.subprocess, "run", _no_programs)

    played = asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK))

    assert runs(engines) == 0
    assert Path(played).parent.name == "phrases"
    samples = pcm(played)
    pieces_ms = sum(len(pcm(str(cached_path(p, FESTIVAL, speaker.cache_dir).with_suffix(""))))
                    for p in CASE.parts if p not in phrases.PUNCTUATION) // 8
    # Every piece is in it, with no pause longer than the longest punctuation's (a full
    # stop between sentences) and no silence the engine padded the pieces with.
    assert len(samples) // 8 >= pieces_ms
    assert max(silences_ms(samples)) <= max(PAUSES_MS.values()) + 100
    assert len(samples) // 8 <= pieces_ms + sum(PAUSES_MS[p] for p in CASE.parts[:-1]
                                                 if p in PAUSES_MS)
    # The same phrase again is the same file, not joined anew.
    stamp = os.stat(played + ".wav").st_mtime_ns
    assert asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK)) == played
    assert os.stat(played + ".wav").st_mtime_ns == stamp


def test_a_phrase_said_before_costs_the_next_caller_no_disk_work(speaker, monkeypatch):
    """The next caller's prompt is one stat on the event loop, not a look-up of every
    piece; a phrase whose file the cache cleaning removed is joined again."""
    presynthesize([*CASE.pieces], FESTIVAL, speaker.cache_dir)
    played = asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK))

    def looked_up(*args):
        raise AssertionError("the pieces were looked up again")

    with monkeypatch.context() as patched:
        patched.setattr(speaker, "_phrase_file", looked_up)
        assert asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK)) == played
    os.unlink(played + ".wav")
    assert asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK)) == played
    assert os.path.isfile(played + ".wav")


def _no_programs(*args, **kwargs):
    raise AssertionError("a phrase with data ran a program at call time")


def test_one_synthesis_for_a_name_however_many_callers_need_it(tmp_path, patient_speaker,
                                                              monkeypatch):
    speaker = patient_speaker
    presynthesize([phrases.HELLO], FESTIVAL, speaker.cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch,
                           'sleep 0.3; exec /usr/bin/espeak-ng "$@"')
    settings = replace(FESTIVAL, engine="espeak")

    async def hundred_callers():
        return await asyncio.gather(*(speaker.speak(phrases.greeting("Аполлинария"), settings,
                                                    FALLBACK) for _ in range(100)))

    played = asyncio.run(hundred_callers())
    assert runs(engines) == 1
    assert len(set(played)) == 1 and Path(played[0]).parent.name == "phrases"


def test_a_hanging_engine_costs_a_caller_at_most_a_second(tmp_path, speaker, monkeypatch):
    presynthesize([phrases.HELLO], FESTIVAL, speaker.cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "sleep 3")

    started = time.monotonic()
    played = asyncio.run(speaker.speak(phrases.greeting("Евлампия"), FESTIVAL, FALLBACK))
    waited = time.monotonic() - started

    assert waited < 1.5
    assert runs(engines) == 1
    # Said without the name it could not have in time: "Здравствуйте!"
    assert played == str(cached_path(phrases.HELLO, FESTIVAL, speaker.cache_dir).with_suffix(""))


def test_a_plain_text_is_its_cached_file(patient_speaker):
    speaker = patient_speaker
    played = asyncio.run(speaker.speak("Ваше дело готово.", FESTIVAL, FALLBACK))
    assert played == str(cached_path("Ваше дело готово.", FESTIVAL,
                                     speaker.cache_dir).with_suffix(""))
    assert len(pcm(played)) > 4000


def test_a_broken_engine_falls_back_to_the_other(patient_speaker, caplog):
    speaker = patient_speaker
    played = asyncio.run(speaker.speak("Ваше дело готово.", BROKEN_FESTIVAL, FALLBACK))
    assert played == str(cached_path("Ваше дело готово.", BROKEN_FESTIVAL, speaker.cache_dir,
                                     "espeak").with_suffix(""))
    assert "no_such_voice" in caplog.text


def test_when_every_engine_fails_the_caller_hears_the_fallback_prompt(speaker, caplog):
    assert asyncio.run(speaker.speak("Ваше дело готово.", BROKEN_BOTH, FALLBACK)) == FALLBACK
    assert cache_usage(speaker.cache_dir) == (0, 0)
    assert "said without" in caplog.text
