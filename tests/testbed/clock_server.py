"""`telecenter serve` whose override rules read the time from a file: tests fix the clock.

    python -m tests.testbed.clock_server CLOCK_FILE AGI_PORT

CLOCK_FILE holds an ISO time with its offset (``2024-03-12T10:00:00+03:00``); the
server reads it at every rules decision, so a test moves the clock by writing it.
Everything else is the real server, configured from the environment.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

from fastagi.settings import Settings
from telecenter.service import serve_forever


def main() -> int:
    clock_file, agi_port = Path(sys.argv[1]), int(sys.argv[2])
    settings = Settings.from_env().but(agi_host="127.0.0.1", agi_port=agi_port, admin_port=0)

    def clock() -> datetime:
        return datetime.fromisoformat(clock_file.read_text().strip())

    return serve_forever(settings, os.environ["DATABASE_URL"], clock=clock)


if __name__ == "__main__":
    sys.exit(main())
