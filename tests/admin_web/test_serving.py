"""The admin served by Twisted's WSGI container inside a running reactor."""

import subprocess
import sys
import textwrap
import urllib.request

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
