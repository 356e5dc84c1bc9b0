"""Uploads made into what Asterisk plays, with the real sox."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from dialplan.configuration import audio_file_path
from ivr.audio import (MAX_UPLOAD_BYTES, REASON_EMPTY, REASON_NO_SOUND, REASON_TOO_BIG,
                       REASON_TOO_LONG, REASON_UNKNOWN_FORMAT, REASON_UNREADABLE, REASONS,
                       AudioError, convert_upload, sniff_format)
from tests.conftest import require

OLD = b"the library's previous file"


@pytest.fixture(autouse=True)
def sox_installed():
    require("sox")


def made_by_sox(path: Path, *options: str, seconds: float = 1.5) -> Path:
    """A tone (or silence) recorded by sox; the format follows the file name."""
    subprocess.run(["sox", "-n", *options, str(path), "synth", str(seconds), "sine", "440"],
                   check=True, capture_output=True)
    return path


def wav_format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth() * 8


@pytest.fixture
def target(tmp_path):
    """The library's file for id 7, holding an older version a failed upload must keep."""
    path = audio_file_path(tmp_path / "audio", 7)
    path.parent.mkdir()
    path.write_bytes(OLD)
    return path


def untouched(target: Path) -> bool:
    return target.read_bytes() == OLD and list(target.parent.iterdir()) == [target]


@pytest.mark.parametrize("name, options", [
    ("tone.wav", ["-r", "44100", "-c", "2"]),
    ("tone.mp3", ["-r", "22050", "-c", "2"]),
    ("tone.ogg", ["-r", "16000"]),
    ("tone.flac", ["-r", "48000", "-b", "24"]),
])
def test_sox_readable_uploads_become_8khz_mono_16bit(tmp_path, target, name, options):
    # Saved without its extension, as an upload is: the content decides.
    upload = made_by_sox(tmp_path / name, *options).rename(tmp_path / "upload")
    length = convert_upload(upload, target)
    assert wav_format(target) == (8000, 1, 16)
    assert 1400 <= length <= 1600  # mp3 adds a little padding
    assert list(target.parent.iterdir()) == [target]
    assert target.stat().st_mode & 0o044 == 0o044  # Asterisk may run as another user


def refusal(upload, target) -> str:
    """Why ``upload`` was refused; whatever ``target`` held is left as it was."""
    with pytest.raises(AudioError) as refused:
        convert_upload(upload, target)
    assert untouched(target)
    return refused.value.reason


def test_a_renamed_text_file_is_refused(tmp_path, target):
    upload = tmp_path / "song.mp3"
    upload.write_text("Это не музыка, а текст.\n", encoding="utf-8")
    assert refusal(upload, target) == REASON_UNKNOWN_FORMAT


def test_garbage_behind_an_audio_header_is_refused(tmp_path, target):
    upload = tmp_path / "broken.wav"
    upload.write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + b"garbage " * 100)
    assert refusal(upload, target) == REASON_UNREADABLE


def test_an_empty_file_is_refused(tmp_path, target):
    upload = tmp_path / "empty.wav"
    upload.touch()
    assert refusal(upload, target) == REASON_EMPTY


def test_a_wav_without_samples_is_refused(tmp_path, target):
    upload = tmp_path / "nothing.wav"
    with wave.open(str(upload), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
    assert refusal(upload, target) == REASON_NO_SOUND


def test_an_oversize_file_is_refused_before_it_is_read(tmp_path, target):
    upload = made_by_sox(tmp_path / "big.wav")
    with upload.open("r+b") as f:
        f.truncate(MAX_UPLOAD_BYTES + 1)  # sparse: no 20 MiB written
    assert refusal(upload, target) == REASON_TOO_BIG


def test_a_recording_over_an_hour_is_refused(tmp_path, target):
    upload = tmp_path / "long.flac"
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(upload), "trim", "0", "3601"],
                   check=True, capture_output=True)
    assert refusal(upload, target) == REASON_TOO_LONG


def test_a_new_file_is_made_where_there_was_none(tmp_path):
    target = audio_file_path(tmp_path / "audio", "12")
    assert target == tmp_path / "audio" / "12.wav"
    assert convert_upload(made_by_sox(tmp_path / "a.wav"), target) > 0
    assert wav_format(target) == (8000, 1, 16)


def test_audio_ids_are_numbers_only(tmp_path):
    with pytest.raises(ValueError):
        audio_file_path(tmp_path, "../etc/passwd")


def test_formats_are_told_by_their_first_bytes():
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "wav"
    assert sniff_format(b"OggS\x00\x02") == "ogg"
    assert sniff_format(b"fLaC\x00\x00\x00\x22") == "flac"
    assert sniff_format(b"ID3\x04\x00") == "mp3"
    assert sniff_format(b"\xff\xfb\x90\x64") == "mp3"
    assert sniff_format(b"\xff\xe1") is None  # frame sync with the reserved layer
    assert sniff_format(b"RIFF\x00\x00\x00\x00AVI ") is None
    assert sniff_format(b"%PDF-1.7") is None
    assert sniff_format(b"") is None


def test_every_reason_is_a_short_sentence_the_admin_can_translate():
    assert len(set(REASONS)) == len(REASONS)
    assert all(r.endswith(".") and len(r) < 80 for r in REASONS)
