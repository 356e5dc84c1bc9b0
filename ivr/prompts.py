"""Where the shipped prompts are, as Asterisk wants them: a path without extension."""

from pathlib import Path


def prompt_path(sounds_dir: Path, language: str, name: str) -> str:
    """sounds/<language>/<name>, for STREAM FILE and Playback."""
    return str(Path(sounds_dir) / language / name)
