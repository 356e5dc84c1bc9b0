"""`telecenter serve` as a subprocess, the way Asterisk meets it in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TELECENTER = Path(sys.executable).with_name("telecenter")


class AgiServer:
    """Starts and stops one `telecenter serve` on a fixed port; its log is a file.

    The web admin listens on `admin_port` when given (a browser test reaches
    it there), else on a port of the kernel's choosing.
    """

    def __init__(self, port: int, var_dir: Path, env: dict[str, str],
                 admin_port: int | None = None, command: list[str] | None = None):
        # ``command``: another way to start the same server (tests/testbed/clock_server.py).
        self.command = command
        self.port = port
        self.admin_port = admin_port
        self.var_dir = var_dir
        self.env = env
        self.log_path = var_dir / "serve.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        self.var_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.command or [
                str(TELECENTER), "serve", "--agi-host", "127.0.0.1", "--agi-port", str(self.port),
                "--admin-port", str(self.admin_port or 0)],
            env={**os.environ, "TELECENTER_VAR": str(self.var_dir), **self.env},
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + timeout
        waiting_for = [self.port] + ([self.admin_port] if self.admin_port else [])
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"telecenter serve exited:\n{self.log_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", waiting_for[0]), timeout=0.5).close()
            except OSError:
                time.sleep(0.05)  # poll interval for the port to open
                continue
            waiting_for.pop(0)
            if not waiting_for:
                return
        self.stop()
        raise RuntimeError(f"telecenter serve did not listen in {timeout} s:\n{self.log_text()[-3000:]}")

    def stop(self, timeout: float = 15) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
