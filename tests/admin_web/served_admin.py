"""The admin (and so the API) served as `telecenter serve` serves it: Twisted's WSGI
container in a process of its own, on a port the kernel picks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastagi.settings import PROJECT_ROOT

SERVE = textwrap.dedent("""
    import sys
    from pathlib import Path
    from fastagi import reactor
    from fastagi.settings import Settings
    reactor.install()
    from twisted.internet import reactor as twisted_reactor
    from admin_web.serving import listen_admin
    settings = Settings(var_dir=Path(sys.argv[2]), database_url=sys.argv[1], admin_port=0)
    port = listen_admin(settings, sys.argv[1])
    print(port.getHost().port, flush=True)
    twisted_reactor.run()
""")


@contextmanager
def served_admin(pg_url: str, var_dir: Path) -> Iterator[str]:
    """The base URL of the admin served on a free port until the block ends."""
    server = subprocess.Popen([sys.executable, "-c", SERVE, pg_url, str(var_dir)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        line = server.stdout.readline()
        if not line.strip().isdigit():
            server.kill()
            raise AssertionError(f"the admin did not start: {server.communicate()[1]}")
        yield f"http://127.0.0.1:{int(line)}"
    finally:
        server.terminate()
        try:
            server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
