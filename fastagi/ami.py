"""The one AMI connection the server owns (panoramisk), with reconnect and backoff.

Everything the server asks of Asterisk goes down this connection: reloads
after an Apply or a SIP block change, the SIP guard's security events, the
phones' registrations (``fastagi.contacts``), and later originates and
queues (``fastagi.queue_calls_ami``). The admin's threads reach it through
``fastagi.bridge``. The login asks for the system, security and call classes
of events (``EVENT_CLASSES``): registrations, failed logins, and the calls'
channels coming and going (the queues need ``OriginateResponse``, which says
a ring failed, and ``Hangup``, which says a waiting caller left), not every
dialplan step. If
Asterisk restarts, the connection comes back by itself, waiting longer after
each failed attempt (1 s, 2 s, 4 s … at most 30 s) and starting over once
logged in; after every login the ``on_login`` callbacks run, so whoever
keeps state from events reads it afresh (what happened while disconnected
was never sent).

Command-line tools that run in a process of their own (``telecenter apply``,
``telecenter render``) open a short-lived client of their own. Such a client
is often closed before it has even connected (an Apply refused for its
problems needs no Asterisk): ``close`` stops the attempt under way and any
reconnect, so closing is silent, never an error logged by the event loop.
"""

from __future__ import annotations

import asyncio
import logging

from panoramisk import Manager

from fastagi.settings import Settings

log = logging.getLogger(__name__)


# Event classes the login subscribes to (AMI "Events:" takes a list of classes):
# system carries ContactStatus (registrations), security the failed logins, call
# OriginateResponse and Hangup (Asterisk 16 sends OriginateResponse in class call
# only: without it an Async Originate's outcome never arrives).
EVENT_CLASSES = "system,security,call"


class AmiError(Exception):
    """Asterisk refused an AMI action, or AMI is not reachable."""


class _BackoffManager(Manager):
    """panoramisk's Manager, but each failed (re)connect waits longer."""

    def __init__(self, base_delay: float, max_delay: float, **config):
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._failures = 0
        # Set once a login was answered; `refused` says how.
        self.answered = asyncio.Event()
        self.refused = False
        # Coroutine functions run after each successful login.
        self.login_callbacks: list = []
        self.logins = 0  # successful logins so far: which session state belongs to
        self.closed = False
        self._attempt: asyncio.Future | None = None  # the connection being made
        super().__init__(**config)

    @property
    def reconnect_timeout(self) -> float:
        return min(self._max_delay, self._base_delay * 2 ** self._failures)

    @reconnect_timeout.setter
    def reconnect_timeout(self, _value) -> None:
        """panoramisk sets a fixed delay; the backoff above replaces it."""

    def connect(self, *args, **kwargs):
        """Start one connection attempt (panoramisk's), unless the client was closed."""
        if self.closed:
            return None
        self._attempt = super().connect(*args, **kwargs)
        return self._attempt

    def connection_made(self, f):
        if f.cancelled() or self.closed:  # closed while connecting
            if not f.cancelled() and f.exception() is None:
                f.result()[0].close()
            return
        if f.exception() is not None:
            log.warning("AMI %s:%s unreachable, next try in %.0f s",
                        self.config["host"], self.config["port"], self.reconnect_timeout)
            self._failures += 1
        super().connection_made(f)

    def connection_lost(self, exc):
        self.answered.clear()
        if self.closed:
            return  # our own close: nothing was lost, nothing to reconnect
        super().connection_lost(exc)
        self._failures += 1

    def login(self, future):
        ok = super().login(future)
        if self.answered.is_set() and not self.refused:
            return ok  # panoramisk may report one login twice when Asterisk has just booted
        self.refused = not ok
        self.answered.set()
        if ok:
            self._failures = 0
            self.logins += 1
            log.info("AMI logged in to %s:%s", self.config["host"], self.config["port"])
            for callback in self.login_callbacks:
                asyncio.ensure_future(_logged(callback))
        else:
            log.error("AMI login to %s:%s refused: check the AMI user and secret",
                      self.config["host"], self.config["port"])
        return ok

    def close(self):
        """Close for good: the attempt under way is cancelled, no reconnect follows."""
        self.closed = True
        if self._attempt is not None and not self._attempt.done():
            self._attempt.cancel()
        super().close()


async def _logged(callback) -> None:
    """Run one on-login callback; its failure is logged, never lost in a task."""
    try:
        await callback()
    except Exception:
        log.exception("AMI on-login callback %s failed",
                      getattr(callback, "__qualname__", callback))


class AmiClient:
    def __init__(self, host: str, port: int, user: str, secret: str,
                 base_delay: float = 1.0, max_delay: float = 30.0):
        self.manager = _BackoffManager(
            base_delay, max_delay, host=host, port=port, username=user, secret=secret,
            events=EVENT_CLASSES, ping_delay=10, log=logging.getLogger("panoramisk"),
            loop=asyncio.get_event_loop(),
        )

    @classmethod
    def to(cls, settings: Settings) -> AmiClient:
        """A client (not started) for the AMI address and user in ``settings``."""
        return cls(settings.ami_host, settings.ami_port, settings.ami_user, settings.ami_secret)

    def start(self) -> None:
        self.manager.connect()

    @property
    def logged_in(self) -> bool:
        """True while the connection is up and Asterisk accepted the login."""
        return self.manager.answered.is_set() and not self.manager.refused

    @property
    def logins(self) -> int:
        """How many times the connection logged in: tells one session from the next."""
        return self.manager.logins

    async def ready(self, timeout: float = 10) -> None:
        """Wait until logged in, or raise AmiError."""
        try:
            await asyncio.wait_for(self.manager.answered.wait(), timeout)
        except asyncio.TimeoutError:
            raise AmiError("AMI is not connected") from None
        if self.manager.refused:
            raise AmiError("AMI login refused: check the AMI user and secret")

    async def action(self, action: dict) -> dict:
        await self.ready()
        reply = await self.manager.send_action(action)
        if not reply.success:
            raise AmiError(f"{action['Action']} refused: {reply.get('Message', reply)}")
        return reply

    async def reload(self, *modules: str) -> None:
        """Reload the named modules, e.g. pbx_config.so, res_pjsip.so."""
        for module in modules:
            await self.action({"Action": "Reload", "Module": module})

    def on_events(self, names, callback) -> None:
        """Call ``callback(event)`` for each event whose name is in ``names``.

        The callback runs on the event loop and must not block; the
        subscription lasts across reconnects.
        """
        for name in names:
            self.manager.register_event(name, lambda _manager, event: callback(event))

    def on_login(self, callback) -> None:
        """Run ``await callback()`` after each successful (re)login, on the event loop."""
        self.manager.login_callbacks.append(callback)

    async def listing(self, action: dict) -> list[dict]:
        """The events of a list action (PJSIPShowContacts …); [] when Asterisk has none."""
        await self.ready()
        reply = await self.manager.send_action(action)
        messages = reply if isinstance(reply, list) else [reply]
        first = messages[0]
        if not first.success:
            if "found" in str(first.get("Message", "")):  # "No Contacts found"
                return []
            raise AmiError(f"{action['Action']} refused: {first.get('Message', first)}")
        return [dict(m) for m in messages[1:] if not str(m.get("Event", "")).endswith("Complete")]

    def close(self) -> None:
        self.manager.close()


async def reload_once(settings: Settings, *modules: str, timeout: float | None = None) -> None:
    """Reload ``modules`` over a connection of this call's own, closed afterwards: for a
    process that has not the server's (the command line, a standalone admin). AmiError
    when Asterisk refuses, cannot be reached, or does not answer within ``timeout``."""
    client = AmiClient.to(settings)
    client.start()
    try:
        await asyncio.wait_for(client.reload(*modules), timeout)
    except asyncio.TimeoutError:
        raise AmiError(f"Asterisk did not reload {', '.join(modules)} within {timeout:g} s"
                       ) from None
    finally:
        client.close()
