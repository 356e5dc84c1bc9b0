"""Audio for Asterisk: uploads and synthesised speech made into what it plays (spec 3).

Asterisk plays 8 kHz, mono, 16-bit signed WAV without transcoding, so every
file Telecenter plays is converted to that once, here, with sox.  An upload
is judged by its content (magic bytes), never by its name; a conversion
writes a temporary file beside the target and renames it, so a failure never
leaves a partial file and never touches an existing one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import wave
from array import array
from pathlib import Path

SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_BYTES = 2

# Uploads bigger than this are refused before sox sees them.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Longer recordings are refused: a prompt or a waiting tune, not an archive.
MAX_DURATION_SECONDS = 3600
# How long one sox run may take before it is killed.
SOX_TIMEOUT_SECONDS = 120

# Speech engines pad what they say with silence; a piece of a phrase keeps this much of it
# at each end, so two pieces played back to back sound like two words of one sentence.
SPEECH_EDGE_MS = 30
# Quieter than this (about -40 dBFS) counts as silence when the padding is cut.
SILENCE_AMPLITUDE = 330

# Why an upload was refused, as the admin pages show it (they translate these).
REASON_EMPTY = "The file is empty."
REASON_TOO_BIG = "The file is too big."
REASON_UNKNOWN_FORMAT = "The file is not MP3, WAV, OGG or FLAC audio."
REASON_UNREADABLE = "The audio in the file could not be read."
REASON_TOO_LONG = "The recording is longer than one hour."
REASON_NO_SOUND = "The file holds no sound."
REASONS = (REASON_EMPTY, REASON_TOO_BIG, REASON_UNKNOWN_FORMAT, REASON_UNREADABLE,
           REASON_TOO_LONG, REASON_NO_SOUND)


class AudioError(ValueError):
    """An audio file that cannot be used; ``reason`` is one of ``REASONS``."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason} {detail}".strip())
        self.reason = reason
        self.detail = detail


def sniff_format(head: bytes) -> str | None:
    """The audio format the first bytes of a file show: 'mp3', 'wav', 'ogg', 'flac' or None.

    Sixteen bytes are enough.  MP3 is an ID3 tag or an MPEG audio frame sync
    (11 set bits, layer bits not 00).
    """
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06:
        return "mp3"
    return None


def convert_upload(src: Path, target: Path) -> int:
    """Make an uploaded file the library's WAV at ``target``; its duration in ms.

    Refuses with AudioError (``target`` untouched, no file left behind) an
    empty or too big file, one whose content is not MP3/WAV/OGG/FLAC, audio
    sox cannot read, and a recording longer than MAX_DURATION_SECONDS.
    """
    src, target = Path(src), Path(target)
    size = src.stat().st_size
    if size == 0:
        raise AudioError(REASON_EMPTY)
    if size > MAX_UPLOAD_BYTES:
        raise AudioError(REASON_TOO_BIG, f"({size} bytes; at most {MAX_UPLOAD_BYTES})")
    with src.open("rb") as f:
        kind = sniff_format(f.read(16))
    if kind is None:
        raise AudioError(REASON_UNKNOWN_FORMAT)
    part = temporary_sibling(target)
    try:
        try:
            # One second over the limit is enough to tell the recording is too long.
            convert_for_asterisk(src, part, input_type=kind, max_seconds=MAX_DURATION_SECONDS + 1)
        except subprocess.CalledProcessError as exc:
            detail = exc.stderr.decode("utf-8", "replace").strip()[-300:]
            raise AudioError(REASON_UNREADABLE, detail) from exc
        except subprocess.TimeoutExpired as exc:
            raise AudioError(REASON_UNREADABLE, "sox took too long") from exc
        except FileNotFoundError as exc:
            raise AudioError(REASON_UNREADABLE, "sox is not installed") from exc
        length = asterisk_wav_duration_ms(part)
        if length is None:
            raise AudioError(REASON_UNREADABLE, "sox wrote no WAV")
        if length == 0:
            raise AudioError(REASON_NO_SOUND)
        if length > MAX_DURATION_SECONDS * 1000:
            raise AudioError(REASON_TOO_LONG)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return length


def asterisk_wav_duration_ms(path: Path) -> int | None:
    """Length in ms of a WAV Asterisk plays as is (8 kHz, mono, 16-bit); None for anything else.

    One read answers both questions a new file raises: is it playable, and is it silent.
    """
    try:
        with wave.open(str(path), "rb") as w:
            if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (
                    SAMPLE_RATE, CHANNELS, SAMPLE_BYTES):
                return None
            return w.getnframes() * 1000 // SAMPLE_RATE
    except (OSError, EOFError, wave.Error):
        return None


def convert_for_asterisk(src: Path, dst: Path, input_type: str | None = None,
                         max_seconds: float | None = None,
                         timeout: float = SOX_TIMEOUT_SECONDS) -> None:
    """Convert ``src`` to 8 kHz mono 16-bit WAV at ``dst`` with sox (``dst`` is overwritten).

    ``input_type`` names sox's reader (from the content, not the file name);
    ``max_seconds`` cuts the output there, so a huge input costs bounded
    work.  Raises ``subprocess.CalledProcessError`` / ``TimeoutExpired``.
    """
    argv = ["sox", "-q", "-V1"]
    if input_type:
        argv += ["-t", input_type]
    argv += [str(Path(src).absolute()),
             "-t", "wav", "-r", str(SAMPLE_RATE), "-c", str(CHANNELS),
             "-b", str(SAMPLE_BYTES * 8), "-e", "signed-integer",
             str(Path(dst).absolute())]
    if max_seconds is not None:
        argv += ["trim", "0", str(max_seconds)]
    subprocess.run(argv, check=True, capture_output=True, timeout=timeout,
                   stdin=subprocess.DEVNULL)


def temporary_sibling(target: Path, suffix: str = ".wav") -> Path:
    """A new empty file in ``target``'s folder, for writing then renaming onto ``target``.

    Readable by everyone (mkstemp makes it owner-only): Asterisk, often
    another user, plays what is renamed from it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=suffix + ".part",
                                dir=target.parent)
    os.fchmod(fd, 0o644)
    os.close(fd)
    return Path(name)


def _samples(frames: bytes) -> array:
    samples = array("h", frames)
    if sys.byteorder == "big":  # WAV is little-endian
        samples.byteswap()
    return samples


def _frames(samples: array) -> bytes:
    if sys.byteorder == "big":
        samples = array("h", samples)
        samples.byteswap()
    return samples.tobytes()


def trim_silence(path: Path, edge_ms: int = SPEECH_EDGE_MS) -> None:
    """Cut the silence an engine put before and after the speech in an Asterisk WAV,
    keeping ``edge_ms`` of it at each end; a file that is all silence is left as it is."""
    with wave.open(str(path), "rb") as w:
        samples = _samples(w.readframes(w.getnframes()))
    first = next((i for i, s in enumerate(samples) if abs(s) > SILENCE_AMPLITUDE), None)
    if first is None:
        return
    last = next(i for i in range(len(samples) - 1, -1, -1) if abs(samples[i]) > SILENCE_AMPLITUDE)
    edge = SAMPLE_RATE * edge_ms // 1000
    kept = samples[max(0, first - edge):min(len(samples), last + 1 + edge)]
    write_asterisk_wav(path, _frames(kept))


def write_asterisk_wav(path: Path, frames: bytes) -> None:
    """Write PCM frames as an 8 kHz mono 16-bit WAV at ``path``, whole or not at all."""
    path = Path(path)
    part = temporary_sibling(path)
    try:
        with wave.open(str(part), "wb") as w:
            w.setnchannels(CHANNELS)
            w.setsampwidth(SAMPLE_BYTES)
            w.setframerate(SAMPLE_RATE)
            w.writeframes(frames)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
