"""Telecenter's settings: environment variables with working defaults.

Everything has a default that runs on one machine (embedded database, local
Asterisk); a deployment overrides by environment. Secrets (AMI, database)
come only from the environment or from files under the var/ folder, never
from the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str | None = None
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = ""
    ami_secret: str = ""
    sounds_dir: Path = PROJECT_ROOT / "sounds"
    sql_dir: Path = PROJECT_ROOT / "sql"
    language: str = "ru"
    admin_host: str = "127.0.0.1"
    admin_port: int = 8080
    include_dir_override: Path | None = None
    # SIP guessers: this many failed logins from one address within the
    # window (seconds) block it for sip_block_seconds; trusted networks never.
    sip_block_failures: int = 10
    sip_block_window: int = 60
    sip_block_seconds: int = 3600
    sip_trusted: tuple[str, ...] = ()
    # A stopping server lets active calls go on this long, then sends them to the fallback.
    shutdown_grace_seconds: float = 10.0
    # Where a call goes when its route could not serve it: a phone, or a number a line
    # dials out, reached by plain dialplan; empty: the apology.
    fallback_number: str = ""
    # The office's clock: override rules' hours and weekdays, schedules and the
    # dialer's daily window are read in this zone (as the admin shows times).
    timezone: str = "UTC"
    # The robocall dialer: this server's name in its claims (empty: host name and AGI
    # port), how long a claim holds without renewal, how often due tasks are looked for.
    server_name: str = ""
    dialer_on: bool = True  # TELECENTER_DIALER=off: this server never claims robocalls
    dialer_lease_seconds: float = 60.0
    dialer_poll_seconds: float = 5.0

    @property
    def include_dir(self) -> Path:
        """Where `render` and Apply write the Asterisk include files (and the server reads the menus)."""
        return self.include_dir_override or self.var_dir / "asterisk" / "include"

    @property
    def audio_dir(self) -> Path:
        """The audio library: <id>.wav files, converted for Asterisk."""
        return self.var_dir / "audio"

    @property
    def tts_cache_dir(self) -> Path:
        """Synthesised speech, one file per (engine, voice, text) hash."""
        return self.var_dir / "tts-cache"

    @property
    def ami_configured(self) -> bool:
        return bool(self.ami_user and self.ami_secret)

    @classmethod
    def from_env(cls, environ=os.environ) -> Settings:
        env = environ.get
        defaults = cls()
        return cls(
            var_dir=Path(env("TELECENTER_VAR", defaults.var_dir)),
            database_url=env("DATABASE_URL") or None,
            agi_host=env("TELECENTER_AGI_HOST", defaults.agi_host),
            agi_port=int(env("TELECENTER_AGI_PORT", defaults.agi_port)),
            ami_host=env("TELECENTER_AMI_HOST", defaults.ami_host),
            ami_port=int(env("TELECENTER_AMI_PORT", defaults.ami_port)),
            ami_user=env("TELECENTER_AMI_USER", ""),
            ami_secret=env("TELECENTER_AMI_SECRET", ""),
            sounds_dir=Path(env("TELECENTER_SOUNDS", defaults.sounds_dir)),
            language=env("TELECENTER_LANGUAGE", defaults.language),
            admin_host=env("TELECENTER_ADMIN_HOST", defaults.admin_host),
            admin_port=int(env("TELECENTER_ADMIN_PORT", defaults.admin_port)),
            include_dir_override=Path(env("TELECENTER_INCLUDE_DIR")) if env("TELECENTER_INCLUDE_DIR") else None,
            sip_block_failures=int(env("TELECENTER_SIP_BLOCK_FAILURES", defaults.sip_block_failures)),
            sip_block_window=int(env("TELECENTER_SIP_BLOCK_WINDOW", defaults.sip_block_window)),
            sip_block_seconds=int(env("TELECENTER_SIP_BLOCK_SECONDS", defaults.sip_block_seconds)),
            sip_trusted=tuple(n.strip() for n in env("TELECENTER_SIP_TRUSTED", "").split(",")
                              if n.strip()),
            shutdown_grace_seconds=float(env("TELECENTER_SHUTDOWN_GRACE",
                                             defaults.shutdown_grace_seconds)),
            fallback_number=env("TELECENTER_FALLBACK_NUMBER", "").strip(),
            timezone=env("TELECENTER_TIMEZONE", defaults.timezone),
            server_name=env("TELECENTER_SERVER_NAME", "").strip(),
            dialer_on=env("TELECENTER_DIALER", "on").strip().lower() != "off",
            dialer_lease_seconds=float(env("TELECENTER_DIALER_LEASE",
                                           defaults.dialer_lease_seconds)),
            dialer_poll_seconds=float(env("TELECENTER_DIALER_POLL",
                                          defaults.dialer_poll_seconds)),
        )

    def but(self, **changes) -> Settings:
        return replace(self, **changes)
