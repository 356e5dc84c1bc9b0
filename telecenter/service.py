"""The running Telecenter process: database pool, FastAGI listener, AMI and the admin.

The process owns one AMI connection; the SIP guard, the phones' states and
the queues (``ivr.queue_runtime``) use it on the reactor, the admin's
threads through one ``AsteriskLink`` (``fastagi.bridge``) handed to
``create_app``.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from functools import partial
from dataclasses import dataclass

from admin_web.serving import listen_admin
from dialplan.sip_blocks import SipGuard
from dialplan.sip_guard import BlockPolicy
from fastagi.ami import AmiClient
from fastagi.asterisk_link import AsteriskLink
from fastagi.bridge import ReactorBridge
from fastagi.call_records import CallRecorder, close_abandoned_calls
from fastagi.contacts import PhonePresence
from fastagi.database import open_pool
from fastagi.migrations import apply_migrations
from fastagi import reactor as shared_loop
from fastagi.reactor import as_future
from fastagi.queue_calls_ami import QueueCallsAmi
from fastagi.robocall_ami import RobocallAmi
from fastagi.server import AGIServerFactory
from fastagi.settings import Settings
from ivr.callback_calls import PgCallbackCalls
from ivr.dialer_runtime import DialerRuntime, default_server_name
from ivr.plan_store import PlanStore
from ivr.operators import watch_operator_changes
from ivr.queue_runtime import QueueRuntime
from ivr.rules_route import utc_now
from ivr.speaker import Speaker
from telecenter.routes import build_router

log = logging.getLogger(__name__)

# How long a stopping server has to write the last call records.
RECORDS_FLUSH_SECONDS = 10.0

# Calls arrive in bursts (a queue releasing, a campaign starting); Twisted's
# default of 50 pending connections drops some of them.
LISTEN_BACKLOG = 1024


@dataclass
class Services:
    factory: AGIServerFactory
    records: CallRecorder
    speaker: Speaker
    shutdown_grace: float
    ami: AmiClient | None
    sip_guard: SipGuard | None
    queues: QueueRuntime
    dialer: DialerRuntime | None
    _pool: object
    _port: object
    _admin_port: object

    async def stop(self) -> None:
        """Stop taking calls, let active ones finish (bounded), write their records,
        then close AMI and the database."""
        await as_future(self._port.stopListening())
        await as_future(self._admin_port.stopListening())
        await self.factory.drain(self.shutdown_grace)
        await self.records.close(RECORDS_FLUSH_SECONDS)
        self.speaker.close()
        self.queues.stop()
        if self.dialer is not None:
            self.dialer.stop()
        if self.sip_guard is not None:
            self.sip_guard.stop()
        if self.ami is not None:
            self.ami.close()
        await self._pool.close()


async def start_services(settings: Settings, db_url: str, clock=utc_now) -> Services:
    """Everything the process runs; ``clock`` (aware now) is what the override rules are
    read on (tests fix it)."""
    from twisted.internet import reactor

    policy = BlockPolicy.from_values(settings.sip_block_failures, settings.sip_block_window,
                                     settings.sip_block_seconds, settings.sip_trusted)
    pool = await open_pool(db_url)
    await close_abandoned_calls(pool)
    records = CallRecorder(pool)
    records.open()
    speaker = Speaker(settings.tts_cache_dir)
    plans = PlanStore(settings.include_dir)
    ami = sip_guard = link = presence = None
    if settings.ami_configured:
        ami = AmiClient.to(settings)
        presence = PhonePresence(ami)
        presence.start()
    else:
        log.warning("AMI is not configured (TELECENTER_AMI_USER/TELECENTER_AMI_SECRET): "
                    "reloads, originates, queues and blocking SIP password guessers are "
                    "unavailable")
    calls_ami = QueueCallsAmi(ami) if ami else None
    queues = QueueRuntime(pool, plans, calls_ami, presence)
    await queues.start()
    if ami is not None:
        queues.listen(ami)
    queues.spawn(watch_operator_changes(db_url, queues.operators_changed))
    factory = AGIServerFactory(build_router(settings, pool, speaker, plans, queues, clock), records)
    port = reactor.listenTCP(settings.agi_port, factory, interface=settings.agi_host,
                             backlog=LISTEN_BACKLOG)
    log.info("FastAGI server listening on %s:%s (routes: %s)", settings.agi_host,
             port.getHost().port, ", ".join(factory.router.names()))
    if ami is not None:
        ami.start()
        sip_guard = SipGuard(policy, pool, ami, settings.include_dir)
        sip_guard.start()
        callback_calls = PgCallbackCalls(pool)
        link = AsteriskLink(ReactorBridge(asyncio.get_running_loop()), ami, presence,
                            originated=callback_calls.ring_ended)
        ami.on_login(partial(close_lost_callback_calls, callback_calls, calls_ami))
    dialer = await start_dialer(settings, db_url, pool, plans, speaker, ami)
    admin_port = listen_admin(settings, db_url, asterisk=link)
    return Services(factory, records, speaker, settings.shutdown_grace_seconds, ami, sip_guard,
                    queues, dialer, pool, port, admin_port)


async def close_lost_callback_calls(calls: PgCallbackCalls, actions: QueueCallsAmi) -> None:
    """After each AMI login: callback calls whose end went unrecorded free their requests."""
    try:
        await calls.close_lost(await actions.live_channels())
    except Exception:  # the next login tries again; calls are not held up by it
        log.exception("callback calls: looking for calls that ended unrecorded failed")


async def start_dialer(settings: Settings, db_url: str, pool, plans: PlanStore,
                       speaker: Speaker, ami: AmiClient | None) -> DialerRuntime | None:
    """The robocall dialer (``ivr.dialer_runtime``); none without AMI, which it dials with."""
    if not settings.dialer_on:
        log.info("the robocall dialer is off on this server (TELECENTER_DIALER=off)")
        return None
    if ami is None:
        log.warning("the robocall dialer is off: it needs AMI to dial")
        return None
    dialer = DialerRuntime(
        pool, db_url, plans, speaker, RobocallAmi(ami),
        server=settings.server_name or default_server_name(settings.agi_port),
        timezone_name=settings.timezone, sounds_dir=settings.sounds_dir,
        lease_seconds=settings.dialer_lease_seconds, poll_seconds=settings.dialer_poll_seconds)
    await dialer.start()
    return dialer


def serve_forever(settings: Settings, db_url: str, clock=utc_now) -> int:
    """Migrate, then take calls until SIGINT/SIGTERM; returns the exit code."""
    apply_migrations(db_url, settings.sql_dir)
    shared_loop.install()

    async def main():
        services = await start_services(settings, db_url, clock)
        # Everything built to start (modules, the admin app, the pools) lives as long as the
        # process: out of the collector's full passes, each of which would otherwise hold
        # every call's next command for some 50 ms (bench/ivr_load.py).
        gc.freeze()
        return services.stop

    return shared_loop.run(main)

