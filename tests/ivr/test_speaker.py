"""Speech at call time: phrases said from cached pieces, open text within a second.

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
from ivr.tts import cache_usage, cached_by_any, cached_path, presynthesize
from tests.conftest import require
from tests.ivr.fake_engines import cached_prompt, fake_engines, runs

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


def test_a_case_status_is_said_from_cached_pieces_in_order_without_engines_or_new_files(
        tmp_path, speaker, monkeypatch):
    presynthesize([*CASE.pieces], FESTIVAL, speaker.cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "echo 'an engine ran' >&2; exit 1")
    monkeypatch.setattr(tts.subprocess, "run", _no_programs)
    files_before = sorted(speaker.cache_dir.rglob("*"))

    played = asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK))

    assert runs(engines) == 0
    assert sorted(speaker.cache_dir.rglob("*")) == files_before  # nothing written per call
    # The pieces in the phrase's order, a pause of its punctuation's length between two.
    speech = [p for p in played if Path(p).parent == speaker.cache_dir]
    assert speech == [cached_prompt(piece, FESTIVAL, speaker.cache_dir) for piece in CASE.pieces]
    pauses = [len(pcm(p)) // 8 for p in played if Path(p).parent != speaker.cache_dir]
    assert pauses == [max(PAUSES_MS[mark] for mark in group)
                      for group in _marks_between_pieces(CASE.parts)]
    # Played back to back there is no silence longer than the longest punctuation's (a full
    # stop between sentences) and none the engine padded the pieces with.
    samples = array("h", b"".join(pcm(p).tobytes() for p in played))
    assert max(silences_ms(samples)) <= max(PAUSES_MS.values()) + 100


def _marks_between_pieces(parts: tuple[str, ...]) -> list[list[str]]:
    """The punctuation marks standing between two pieces, a group for each gap."""
    groups, marks, seen_piece = [], [], False
    for part in parts:
        if part in PAUSES_MS:
            marks.append(part)
        else:
            if seen_piece and marks:
                groups.append(marks)
            marks, seen_piece = [], True
    return groups


def test_a_piece_found_before_costs_the_next_caller_one_stat(speaker, monkeypatch):
    """The next caller's phrase is not looked up engine by engine again; a piece whose file
    the cache cleaning removed is noticed and looked up again."""
    presynthesize([*CASE.pieces], FESTIVAL, speaker.cache_dir)
    played = asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK))
    looked_up = []

    def look_up(text, settings, cache_dir):
        looked_up.append(text)
        return cached_by_any(text, settings, cache_dir)

    monkeypatch.setattr("ivr.speaker.cached_by_any", look_up)
    assert asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK)) == played
    assert looked_up == []

    status = cached_prompt(CASE.pieces[-1], FESTIVAL, speaker.cache_dir)
    os.unlink(status + ".wav")
    monkeypatch.setattr(speaker, "prepare", lambda text, settings: None)
    again = asyncio.run(speaker.speak(CASE, FESTIVAL, FALLBACK))
    assert set(looked_up) == {CASE.pieces[-1]}
    assert again == played[:-2]  # said without the status and the pause before it


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
    assert all(said == played[0] for said in played)
    assert played[0][-1] == cached_prompt("Аполлинария", settings, speaker.cache_dir)


def test_a_hanging_engine_costs_a_caller_at_most_a_second(tmp_path, speaker, monkeypatch):
    presynthesize([phrases.HELLO], FESTIVAL, speaker.cache_dir)
    engines = fake_engines(tmp_path / "engines", monkeypatch, "sleep 3")

    started = time.monotonic()
    played = asyncio.run(speaker.speak(phrases.greeting("Евлампия"), FESTIVAL, FALLBACK))
    waited = time.monotonic() - started

    assert waited < 1.5
    assert runs(engines) == 1
    # Said without the name it could not have in time: "Здравствуйте!"
    assert played == [cached_prompt(phrases.HELLO, FESTIVAL, speaker.cache_dir)]


def test_a_plain_text_is_its_cached_file(patient_speaker):
    speaker = patient_speaker
    played = asyncio.run(speaker.speak("Ваше дело готово.", FESTIVAL, FALLBACK))
    assert played == [cached_prompt("Ваше дело готово.", FESTIVAL, speaker.cache_dir)]
    assert len(pcm(played[0])) > 4000


def test_a_broken_engine_falls_back_to_the_other(patient_speaker, caplog):
    speaker = patient_speaker
    played = asyncio.run(speaker.speak("Ваше дело готово.", BROKEN_FESTIVAL, FALLBACK))
    assert played == [cached_prompt("Ваше дело готово.", BROKEN_FESTIVAL, speaker.cache_dir, "espeak")]
    assert "no_such_voice" in caplog.text


def test_when_every_engine_fails_the_caller_hears_the_fallback_prompt(speaker, caplog):
    assert asyncio.run(speaker.speak("Ваше дело готово.", BROKEN_BOTH, FALLBACK)) == [FALLBACK]
    assert cache_usage(speaker.cache_dir) == (0, 0)
    assert "said without" in caplog.text
