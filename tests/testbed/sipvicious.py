"""SIPVicious (svwar, svcrack) as an attacker on another loopback address.

SIPVicious 0.3.3 (Debian bookworm) reads ``-b ADDRESS`` but never hands it
to its scanners, so they send from whatever address the kernel picks.  The
runner here starts the same scanner class with ``bindingip`` set, so its
packets really leave from ``source`` (127.0.0.2, say) and Asterisk sees that
address.  The tools are run by the interpreter named in their own script,
with the script's folder on the path, as the installed commands do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Runs inside SIPVicious's interpreter: argv = [tool, source, tool arguments...].
_RUNNER = """
import importlib, sys
tool, source = sys.argv[1], sys.argv[2]
module = importlib.import_module("sipvicious." + tool)
scanner = {"svwar": "TakeASip", "svcrack": "ASipOfRedWine"}[tool]
original = getattr(module, scanner).__init__
def bound(self, *args, **kwargs):
    kwargs["bindingip"] = source
    original(self, *args, **kwargs)
getattr(module, scanner).__init__ = bound
sys.argv = [tool] + sys.argv[3:]
sys.exit(module.main())
"""

# A row of the table both tools print at the end: | Extension | Password |
# (svcrack) or | Extension | Authentication | (svwar); "found nothing" without one.
_ROW = re.compile(r"^\|\s*(\S+)\s*\|\s*(\S+)\s*\|$", re.M)


@dataclass(frozen=True)
class ScanResult:
    returncode: int | None  # None: stopped before it finished (a blocked svcrack waits on)
    output: str

    @property
    def extensions_found(self) -> set[str]:
        """What svwar reports as existing extensions."""
        return set(self._rows())

    @property
    def passwords_found(self) -> dict[str, str]:
        """What svcrack reports as cracked passwords, by user."""
        return self._rows()

    def _rows(self) -> dict[str, str]:
        return {first: second for first, second in _ROW.findall(self.output)
                if first != "Extension"}


class ScanProcess:
    """A scanner running in the background; its output goes to a file."""

    def __init__(self, tool: str, source: str, args: list[str], workdir: Path):
        workdir.mkdir(parents=True, exist_ok=True)
        self.output_path = workdir / f"{tool}.out"
        script = shutil.which(tool)
        if script is None:
            raise FileNotFoundError(f"{tool} is not installed (Debian package sipvicious)")
        real = Path(script).resolve()
        interpreter = real.read_text(errors="replace").splitlines()[0].removeprefix("#!").split()
        env = {**os.environ, "PYTHONPATH": str(real.parent)}
        with open(self.output_path, "wb") as out:
            self.process = subprocess.Popen(
                [*interpreter, "-c", _RUNNER, tool, source, *args], stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self, timeout: float) -> ScanResult:
        """Wait up to ``timeout`` seconds for the scan to end, else stop it; its result."""
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            returncode = None
        return ScanResult(returncode, self.output_path.read_text(errors="replace"))


def svwar(*, target_host: str, target_port: int, source: str, local_port: int,
          extensions: str, workdir: Path, timeout: float = 60) -> ScanResult:
    """List extensions by REGISTER (svwar -e RANGE --force: every answer is compared)."""
    return ScanProcess("svwar", source, [
        "--force", "-e", extensions, "-p", str(target_port), "-P", str(local_port),
        "-m", "REGISTER", "--maximumtime", "5", target_host], workdir).finish(timeout)


def start_svcrack(*, target_host: str, target_port: int, source: str, local_port: int,
                  user: str, wordlist: Path, workdir: Path) -> ScanProcess:
    """Start guessing ``user``'s password from ``wordlist`` (svcrack -u USER -d FILE)."""
    return ScanProcess("svcrack", source, [
        "-u", user, "-d", str(wordlist), "-p", str(target_port), "-P", str(local_port),
        "--maximumtime", "5", target_host], workdir)
