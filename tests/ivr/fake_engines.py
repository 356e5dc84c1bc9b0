"""Speech engines that misbehave: programs put first on PATH in place of the real ones,
so the code under test runs them exactly as it runs Festival and espeak-ng."""

from __future__ import annotations

import os
from pathlib import Path

from dialplan.configuration import TtsSettings
from ivr.tts import cached_path


def fake_engines(folder: Path, monkeypatch, script: str) -> Path:
    """text2wave, festival and espeak-ng programs that run the shell ``script`` (after
    noting the run) first on PATH; the folder they note their runs in (``runs``)."""
    folder.mkdir()
    for name in ("text2wave", "festival", "espeak-ng"):
        program = folder / name
        program.write_text(f"#!/bin/sh\necho {name} \"$@\" >> {folder}/runs\n{script}\n")
        program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def runs(folder: Path) -> int:
    """How many times the fake engines in ``folder`` were run."""
    runs_file = folder / "runs"
    return len(runs_file.read_text().splitlines()) if runs_file.exists() else 0


def cached_prompt(text: str, settings: TtsSettings, cache_dir: Path, engine=None) -> str:
    """What STREAM FILE is given for the cached speech of ``text``: its path without .wav."""
    return str(cached_path(text, settings, cache_dir, engine).with_suffix(""))
