"""Speech from texts with the real Festival (festvox-ru), espeak-ng and sox."""

from __future__ import annotations

import wave
from dataclasses import replace
from pathlib import Path

import pytest

from dialplan.configuration import TtsSettings
from ivr import tts
from ivr.tts import (EspeakEngine, FestivalEngine, TtsError, YandexEngine, cache_key,
                     cache_usage, cached_path, clean_cache, engines_to_try, festival_text,
                     presynthesize, synthesize)
from tests.conftest import require

TEXT = "Ваше дело готово."
FESTIVAL = TtsSettings(engine="festival")
ESPEAK = TtsSettings(engine="espeak")
# Voices no engine has: each engine fails the way a misconfigured one does.
BROKEN_FESTIVAL = replace(FESTIVAL, festival_voice="no_such_voice")
BROKEN_BOTH = replace(BROKEN_FESTIVAL, espeak_voice="nosuchvoice")


@pytest.fixture(autouse=True)
def engines_installed():
    require("text2wave", "espeak-ng", "sox")


def wav_format(path: Path) -> tuple[int, int, int, float]:
    """(rate, channels, bits, seconds) of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return (w.getframerate(), w.getnchannels(), w.getsampwidth() * 8,
                w.getnframes() / w.getframerate())


class CountingEngine:
    """A real engine that counts how often it is asked to speak."""

    def __init__(self, engine):
        self.engine = engine
        self.name = engine.name
        self.calls = 0

    def synthesize_to(self, text, voice, wav_path):
        self.calls += 1
        self.engine.synthesize_to(text, voice, wav_path)


@pytest.mark.parametrize("settings", [FESTIVAL, ESPEAK], ids=["festival", "espeak"])
def test_russian_text_becomes_speech_asterisk_plays(tmp_path, settings):
    path = synthesize(TEXT, settings, tmp_path)
    rate, channels, bits, seconds = wav_format(path)
    assert (rate, channels, bits) == (8000, 1, 16)
    assert seconds > 0.5
    assert path == cached_path(TEXT, settings, tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left behind
    assert path.stat().st_mode & 0o044 == 0o044  # Asterisk may run as another user


def test_the_same_text_is_synthesised_once(tmp_path):
    counting = CountingEngine(FestivalEngine())
    first = synthesize(TEXT, FESTIVAL, tmp_path, counting)
    stamp = first.stat().st_mtime_ns
    second = synthesize(TEXT, FESTIVAL, tmp_path, counting)
    assert counting.calls == 1
    assert second == first and second.stat().st_mtime_ns == stamp


def test_the_cache_key_covers_engine_voice_and_text(tmp_path):
    keys = {cache_key("festival", "v", "a"), cache_key("espeak", "v", "a"),
            cache_key("festival", "w", "a"), cache_key("festival", "v", "b")}
    assert len(keys) == 4
    assert cached_path("a", FESTIVAL, tmp_path).name == cache_key(
        "festival", FESTIVAL.festival_voice, "a") + ".wav"
    assert cached_path("a", FESTIVAL, tmp_path, "espeak").name == cache_key(
        "espeak", FESTIVAL.espeak_voice, "a") + ".wav"


def test_engines_fall_back_to_the_local_ones():
    assert engines_to_try(FESTIVAL) == ["festival", "espeak"]
    assert engines_to_try(ESPEAK) == ["espeak", "festival"]
    assert engines_to_try(TtsSettings(engine="yandex")) == ["yandex", "festival", "espeak"]


def test_empty_text_is_refused(tmp_path):
    with pytest.raises(TtsError, match="no text"):
        synthesize("  ", FESTIVAL, tmp_path)


def test_a_voice_name_cannot_smuggle_scheme_or_options(tmp_path):
    with pytest.raises(TtsError, match="not a Festival voice name"):
        FestivalEngine().synthesize_to(TEXT, "x) (system \"touch /tmp/x\"", tmp_path / "a.wav")
    with pytest.raises(TtsError, match="not a Festival voice name"):
        FestivalEngine().synthesize_many([TEXT], "x) (system \"touch /tmp/x\"",
                                         [tmp_path / "a.wav"])
    with pytest.raises(TtsError, match="not a espeak-ng voice name"):
        EspeakEngine().synthesize_to(TEXT, "--help", tmp_path / "a.wav")


def test_yandex_refuses_clearly_when_not_configured(tmp_path):
    settings = TtsSettings(engine="yandex", yandex_folder_id="b1g")
    with pytest.raises(TtsError, match="not configured: yandex_service_account_id, "
                                       "yandex_key_id, yandex_private_key_path"):
        synthesize(TEXT, settings, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_texts_said_in_one_festival_run_cannot_smuggle_scheme(tmp_path, monkeypatch):
    """A case status is a text from the database, and Festival reads many in one Scheme run."""
    monkeypatch.chdir(tmp_path)  # where a smuggled command would leave its file
    marker = tmp_path / "smuggled"
    status = 'Готово") (system "touch smuggled") ("\\'
    assert presynthesize([status, "В работе"], FESTIVAL, tmp_path / "cache") == []
    assert not marker.exists()
    assert tts.cached_by_any(status, FESTIVAL, tmp_path / "cache") is not None


def test_presynthesize_says_each_text_once_and_reports_what_no_engine_can_say(tmp_path):
    texts = ["Добрый день.", "Добрый день.", "Наберите номер дела."]
    assert presynthesize(texts, FESTIVAL, tmp_path) == []
    assert cache_usage(tmp_path)[0] == 2

    failed = presynthesize(["Добрый день.", "Новый текст."], BROKEN_BOTH, tmp_path)
    assert [text for text, _ in failed] == ["Добрый день.", "Новый текст."]
    assert all("festival" in reason and "espeak" in reason for _, reason in failed)


def test_cache_usage_and_cleaning_keep_what_is_still_used(tmp_path):
    kept = synthesize("Один.", ESPEAK, tmp_path)
    by_key = synthesize("Два.", ESPEAK, tmp_path)
    gone = synthesize("Три.", ESPEAK, tmp_path)
    other = tmp_path / "notes.txt"
    other.write_text("not speech")
    files, size = cache_usage(tmp_path)
    assert files == 3 and size == sum(p.stat().st_size for p in (kept, by_key, gone))

    removed = clean_cache(tmp_path, {str(kept.with_suffix("")), by_key.stem})
    assert removed == (1, size - kept.stat().st_size - by_key.stat().st_size)
    assert kept.exists() and by_key.exists() and not gone.exists() and other.exists()
    assert cache_usage(tmp_path)[0] == 2


def test_yandex_engine_lists_missing_settings():
    engine = YandexEngine(TtsSettings(yandex_service_account_id="aje", yandex_key_id="k"))
    assert engine.missing_settings() == ["yandex_folder_id", "yandex_private_key_path"]


def test_festival_itself_says_a_text_with_russian_typography(tmp_path):
    """Quotes, dashes, № and emoji do not push the text to the other voice or to silence."""
    text = "Статус дела №5: «готово к выдаче» — 100% 😀 \x07 подробности…"
    path = synthesize(text, FESTIVAL, tmp_path, "festival")
    assert path == cached_path(text, FESTIVAL, tmp_path, "festival")
    assert wav_format(path)[3] > 1.0
    assert festival_text("«да» — №5") == "да, номер 5"
