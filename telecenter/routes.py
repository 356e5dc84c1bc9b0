"""Every FastAGI route Telecenter serves, in one readable list."""

from __future__ import annotations

from dialplan import names
from fastagi.routing import Router
from fastagi.settings import Settings
from ivr import selftest
from ivr.bind_phone import BindPhoneRoute
from ivr.callback import PgCallbackOrders
from ivr.callback_calls import CallbackEndedRoute, CallbackRoute, PgCallbackCalls
from ivr.dialer_runtime import RobocallRoute
from ivr.cases import PgCaseBackend
from ivr.menu_route import MenuRoute
from ivr.operators import PgOperators
from ivr.plan_store import PlanStore
from ivr.queue_route import QueueAnswerRoute, QueueRoute
from ivr.queue_runtime import QueueRuntime
from ivr.rules_route import RulesRoute, utc_now
from ivr.speaker import Speaker


def build_router(settings: Settings, pool, speaker: Speaker, plans: PlanStore,
                 queues: QueueRuntime, clock=utc_now) -> Router:
    """The routes, given what they share: the settings, the database pool, the speaker,
    the applied plan and the queues' runtime; ``clock`` (aware now) is what the override
    rules are read on."""
    cases, callbacks = PgCaseBackend(pool), PgCallbackOrders(pool)
    callback_calls = PgCallbackCalls(pool)
    menu = MenuRoute(settings, plans, cases, callbacks, speaker, clock=clock)
    queue = QueueRoute(settings, plans, queues, cases, callbacks, speaker)
    bind_phone = BindPhoneRoute(settings, plans, PgOperators(pool), speaker)
    return Router([
        (names.ROUTE_SELFTEST, selftest.SelfTest(settings).handle),
        (names.ROUTE_MENU, menu.handle),
        (names.ROUTE_QUEUE, queue.handle),
        (names.ROUTE_QUEUE_ANSWER, QueueAnswerRoute(queues).handle),
        (names.ROUTE_BIND_PHONE, bind_phone.handle),
        (names.ROUTE_RULES, RulesRoute(settings, plans, clock).handle),
        # Callbacks (spec 8): the operator's leg answered; the call ended.
        (names.ROUTE_CALLBACK, CallbackRoute(callback_calls).handle),
        (names.ROUTE_CALLBACK_ENDED, CallbackEndedRoute(callback_calls, queues).handle),
        (names.ROUTE_ROBOCALL, RobocallRoute(pool, plans, speaker, settings.sounds_dir).handle),
    ])
