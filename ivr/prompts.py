"""Where the shipped prompts are, as Asterisk wants them: a path without extension."""

from fastagi.settings import current_settings


def prompt_path(name: str, language: str | None = None) -> str:
    settings = current_settings()
    return str(settings.sounds_dir / (language or settings.language) / name)
