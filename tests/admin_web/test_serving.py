"""The admin served by Twisted's WSGI container inside a running reactor."""

import subprocess
import sys
import textwrap
import urllib.request

from fastagi.settings import PROJECT_ROOT
from tests.admin_web.served_admin import SERVE


def test_listen_admin_serves_pages_and_stops_on_sigterm(people, pg_url, tmp_path):
    server = subprocess.Popen([sys.executable, "-c", SERVE, pg_url, str(tmp_path)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(f"{base}/auth/login", timeout=10) as page:
            assert page.status == 200 and "Вход" in page.read().decode()
        with urllib.request.urlopen(f"{base}/bootstrap/static/css/bootstrap.min.css",
                                    timeout=10) as css:
            assert css.status == 200
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=15)
    assert server.returncode == 0, err


SERVE_SLOW_PAGE = SERVE.replace("print(port.getHost().port, flush=True)\n", textwrap.dedent("""
    import time
    app = port.factory.resource._application

    @app.route("/slow")
    def slow():
        print("started", flush=True)
        time.sleep(1)  # the server is told to stop meanwhile
        return "done"

    print(port.getHost().port, flush=True)
"""))


def test_a_server_told_to_stop_during_a_page_finishes_it_and_exits(people, pg_url, tmp_path):
    """A page still being made when the service manager stops the server: once it wrote
    its answer the process ends (it used to wait for ever for that page's worker)."""
    import threading

    server = subprocess.Popen([sys.executable, "-c", SERVE_SLOW_PAGE, pg_url, str(tmp_path)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        port = int(server.stdout.readline())
        answers = []
        reader = threading.Thread(target=lambda: answers.append(_read_quietly(
            f"http://127.0.0.1:{port}/slow")))
        reader.start()
        assert server.stdout.readline().strip() == "started"
        server.terminate()
        _out, err = server.communicate(timeout=15)
        reader.join(15)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, err


def _read_quietly(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as page:
            return page.read().decode()
    except OSError:
        return None
