"""Serving the admin from the running server process: Twisted's WSGI container.

The Flask app runs in its own Twisted thread pool, so a slow page or query
holds a worker thread and never the reactor that carries the calls.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

MAX_THREADS = 10


def listen_admin(settings, db_url: str, asterisk=None):
    """Start serving the admin on settings.admin_host:admin_port; returns the listening port.

    ``asterisk`` (``fastagi.asterisk_link.AsteriskLink``) is the server's AMI
    connection as the admin's threads reach it: Apply, block lifts and phone
    states go through it.

    Call with the reactor installed (running or about to run); the thread
    pool stops when the reactor shuts down, after the pages under way are written.
    """
    from twisted.internet import reactor, threads
    from twisted.python.threadpool import ThreadPool
    from twisted.web.server import Site
    from twisted.web.wsgi import WSGIResource

    from admin_web import create_app

    app = create_app({"DATABASE_URL": db_url, "VAR_DIR": str(settings.var_dir)},
                     asterisk=asterisk, settings=settings)
    pool = ThreadPool(minthreads=1, maxthreads=MAX_THREADS, name="admin_web")
    reactor.callWhenRunning(pool.start)
    # Stopping joins the workers; a worker still writing a page waits for the reactor to
    # send it, so the join runs in a thread of its own while the reactor keeps going (joined
    # on the reactor's thread, the process would wait for ever).
    reactor.addSystemEventTrigger("before", "shutdown",
                                  lambda: threads.deferToThread(pool.stop))
    site = Site(WSGIResource(reactor, pool, app))
    port = reactor.listenTCP(settings.admin_port, site, interface=settings.admin_host)
    log.info("web admin on http://%s:%s/", settings.admin_host, port.getHost().port)
    return port
