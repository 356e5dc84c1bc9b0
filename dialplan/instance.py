"""A private Asterisk instance: its configuration directory and its process.

Telecenter does not touch the system's /etc/asterisk.  It runs Asterisk
from a directory of its own (``root``): configuration in ``etc/``, control
socket in ``run/``, logs in ``log/``, plus ``spool/``, ``db/`` (astdb),
``keys/`` and ``cache/``.  Modules, sounds and AGI scripts are shared
read-only with the system package.  Every port is a parameter and modules that would bind a
fixed port are not loaded, so the end-to-end tests and ``telecenter demo``
can run several instances on one machine at the same time.

The call logic itself is not here: Telecenter renders
``extensions_telecenter.conf`` (and maybe ``pjsip_telecenter*.conf``),
``features_telecenter.conf`` and ``musiconhold_telecenter.conf`` into
``include_dir``; the files written here only include them.

Typical use::

    instance = AsteriskInstance(root, include_dir, sip_port=5070, ami_port=5039)
    instance.write_config()
    with instance:               # start() ... stop()
        print(instance.rx("core show version"))
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import jinja2

from dialplan.config_templates import asterisk_templates
from dialplan.names import SIP_REALM
from dialplan.sip_guard import ACL_FILE, USER_AGENT

# Files written into etc/, each from "<name>.j2" in dialplan/templates/instance.
CONFIG_FILES = (
    "asterisk.conf",
    "modules.conf",
    "logger.conf",
    "manager.conf",
    "rtp.conf",
    "indications.conf",
    "pjsip.conf",
    "extensions.conf",
    "features.conf",
    "musiconhold.conf",
)

# Telecenter's generated files in include_dir.
EXTENSIONS_INCLUDE = "extensions_telecenter.conf"
FEATURES_INCLUDE = "features_telecenter.conf"
MUSICONHOLD_INCLUDE = "musiconhold_telecenter.conf"
PJSIP_INCLUDE_GLOB = "pjsip_telecenter*.conf"

# A Unix socket path longer than this is silently cut short by Asterisk, and
# then "asterisk -r" cannot find the running instance.
_MAX_SOCKET_PATH = 107

_AMI_USER = re.compile(r"[A-Za-z0-9_.-]+")
_UNSAFE_IN_CONFIG = re.compile(r'[;"\n\r]')  # starts a comment / ends a line


class AsteriskError(RuntimeError):
    """Asterisk did not start, answer or stop as expected."""


def _environment() -> jinja2.Environment:
    return asterisk_templates("instance")


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


@dataclass
class AsteriskInstance:
    """One Asterisk process with its own configuration under ``root``."""

    root: Path
    include_dir: Path
    sip_port: int = 5060
    ami_port: int = 5038
    ami_user: str = "telecenter"
    ami_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    bind_host: str = "127.0.0.1"
    rtp_start: int = 10000
    rtp_end: int = 10999
    extra_extensions: str = ""
    extra_pjsip: str = ""
    binary: str = "asterisk"

    _process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _output: IO[bytes] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()
        self.include_dir = Path(self.include_dir).absolute()

    # -- where things are ---------------------------------------------------

    @property
    def etc_dir(self) -> Path:
        return self.root / "etc"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def conf_path(self) -> Path:
        """The asterisk.conf to pass as ``-C``; it names all other directories."""
        return self.etc_dir / "asterisk.conf"

    @property
    def log_path(self) -> Path:
        """Asterisk's "messages" log: warnings and every dialplan step."""
        return self.log_dir / "messages"

    @property
    def output_path(self) -> Path:
        """Standard output and error of the asterisk process."""
        return self.log_dir / "asterisk.out"

    @property
    def socket_path(self) -> Path:
        """The control socket that ``asterisk -r`` connects to."""
        return self.run_dir / "asterisk.ctl"

    @property
    def pid(self) -> int | None:
        """The process id while this object's process is running."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    # -- configuration ------------------------------------------------------

    def check(self) -> list[str]:
        """Problems that would give a broken or unreachable instance."""
        problems = []
        for name in ("sip_port", "ami_port", "rtp_start", "rtp_end"):
            if not 1 <= getattr(self, name) <= 65535:
                problems.append(f"{name}={getattr(self, name)} is not a port number")
        if self.rtp_start >= self.rtp_end:
            problems.append(f"rtp_start={self.rtp_start} is not below rtp_end={self.rtp_end}")
        if not _AMI_USER.fullmatch(self.ami_user) or self.ami_user == "general":
            problems.append(f"ami_user={self.ami_user!r} is not a usable manager.conf section")
        if not self.ami_secret or re.search(r"\s|;", self.ami_secret):
            problems.append("ami_secret is empty or has blanks or ';'")
        for name in ("root", "include_dir", "bind_host"):
            if _UNSAFE_IN_CONFIG.search(str(getattr(self, name))):
                problems.append(
                    f"{name} has ';', '\"' or a line break, which config files cannot hold"
                )
        if len(str(self.socket_path).encode()) > _MAX_SOCKET_PATH:
            problems.append(
                f"root is too deep: {self.socket_path} exceeds {_MAX_SOCKET_PATH} bytes"
            )
        return problems

    def _context(self) -> dict:
        # The ACL is included on its own line, whether it exists yet or not.
        pjsip_includes = sorted(path for path in self.include_dir.glob(PJSIP_INCLUDE_GLOB)
                                if path.name != ACL_FILE)
        extensions_include = self.include_dir / EXTENSIONS_INCLUDE
        return {
            "root": self.root,
            "conf_path": self.conf_path,
            "etc_dir": self.etc_dir,
            "run_dir": self.run_dir,
            "log_dir": self.log_dir,
            "spool_dir": self.root / "spool",
            "db_dir": self.root / "db",
            "cache_dir": self.root / "cache",
            "include_dir": self.include_dir,
            "bind_host": self.bind_host,
            "sip_port": self.sip_port,
            "ami_port": self.ami_port,
            "ami_user": self.ami_user,
            "ami_secret": self.ami_secret,
            # A wildcard bind accepts AMI logins from anywhere the secret is known.
            "ami_permit": None if self.bind_host in ("0.0.0.0", "::") else self.bind_host,
            "rtp_start": self.rtp_start,
            "rtp_end": self.rtp_end,
            # Asterisk 16 rejects the whole file when an #include finds no
            # file, so only files present now are included.
            "includes": pjsip_includes,
            "include": extensions_include if extensions_include.exists() else None,
            # Blocked addresses; "#tryinclude" takes it once the server writes it.
            "acl_include": self.include_dir / ACL_FILE,
            # "#tryinclude": taken on the next reload once Telecenter writes them.
            "features_include": self.include_dir / FEATURES_INCLUDE,
            "musiconhold_include": self.include_dir / MUSICONHOLD_INCLUDE,
            "realm": SIP_REALM,
            "user_agent": USER_AGENT,
        }

    def render(self) -> dict[str, str]:
        """The text of every file in etc/, by file name."""
        problems = self.check()
        if problems:
            raise ValueError("cannot configure Asterisk: " + "; ".join(problems))
        env = _environment()
        context = self._context()
        files = {}
        for name in CONFIG_FILES:
            extra = {"extensions.conf": self.extra_extensions, "pjsip.conf": self.extra_pjsip}
            template = env.get_template(name + ".j2")
            files[name] = template.render(context, extra=extra.get(name, "").strip())
        return files

    def write_config(self) -> None:
        """Create the directory tree and (re)write every file in etc/.

        Call it again, then ``rx("core reload")``, after Telecenter's include
        files appear or disappear: includes are resolved at write time.
        """
        files = self.render()
        for sub in ("etc", "run", "log", "spool", "db", "cache", "keys"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (self.etc_dir / name).write_text(text)

    # -- the process --------------------------------------------------------

    def _command(self, *args: str) -> list[str]:
        binary = shutil.which(self.binary)
        if binary is None:
            raise AsteriskError(f"{self.binary!r} is not installed or not on PATH")
        return [binary, "-C", str(self.conf_path), *args]

    def start(self, timeout: float = 30) -> None:
        """Run Asterisk in the foreground of a child process until fully booted.

        Raises AsteriskError, with the end of its output and log, when the
        process exits or does not finish booting within ``timeout`` seconds.
        """
        if self.pid is not None:
            raise AsteriskError(f"Asterisk is already running as pid {self.pid}")
        if not self.conf_path.exists():
            raise AsteriskError(f"{self.conf_path} is missing: call write_config() first")
        command = self._command("-f", "-n")
        self._output = open(self.output_path, "ab")
        self._process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._output, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                self._close_output()
                raise AsteriskError(
                    f"Asterisk exited with code {self._process.returncode} while booting\n"
                    + self.describe_failure()
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise AsteriskError(
                    f"Asterisk did not boot within {timeout} s\n" + self.describe_failure()
                )
            if self.socket_path.exists():
                try:
                    # Blocks until every module has loaded; fails until the
                    # control socket accepts connections.
                    self.rx("core waitfullybooted", timeout=remaining)
                    return
                except (AsteriskError, subprocess.TimeoutExpired):
                    pass
            time.sleep(0.05)

    def rx(self, command: str, timeout: float = 10) -> str:
        """Run one CLI command in the running instance and return its output."""
        result = subprocess.run(
            self._command("-rx", command),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 or output.startswith("Unable to connect to remote asterisk"):
            raise AsteriskError(
                f"asterisk -rx {command!r} failed ({result.returncode}): {output.strip()}"
            )
        return output

    def stop(self, timeout: float = 10) -> None:
        """Stop gracefully ("core stop now"), else terminate, else kill."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            asked = False
            if self.socket_path.exists():
                try:
                    self.rx("core stop now", timeout=timeout)
                    asked = True
                except (AsteriskError, subprocess.TimeoutExpired):
                    pass  # Not answering: signals below.
            try:
                process.wait(timeout if asked else 0)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._process = None
        self._close_output()

    def _close_output(self) -> None:
        if self._output is not None:
            self._output.close()
            self._output = None

    def describe_failure(self, lines: int = 30) -> str:
        """The end of the process output and of the messages log, for errors."""
        return (
            f"--- {self.output_path}\n{_tail(self.output_path, lines)}\n"
            f"--- {self.log_path}\n{_tail(self.log_path, lines)}"
        )

    def __enter__(self) -> AsteriskInstance:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
