"""Every FastAGI route Telecenter serves, in one readable list."""

from __future__ import annotations

from dialplan import names
from fastagi.routing import Router
from fastagi.settings import Settings
from ivr import selftest
from ivr.bind_phone import BindPhoneRoute
from ivr.callback import PgCallbackOrders
from ivr.cases import PgCaseBackend
from ivr.menu_route import MenuRoute
from ivr.operators import PgOperators
from ivr.plan_store import PlanStore
from ivr.speaker import Speaker


def build_router(settings: Settings, pool, speaker: Speaker) -> Router:
    """The routes, given what they share: the settings, the database pool, the speaker."""
    menu = MenuRoute(settings, PlanStore(settings.include_dir), PgCaseBackend(pool),
                     PgCallbackOrders(pool), speaker)
    bind_phone = BindPhoneRoute(settings, PlanStore(settings.include_dir), PgOperators(pool),
                                speaker)
    return Router([
        (names.ROUTE_SELFTEST, selftest.SelfTest(settings).handle),
        (names.ROUTE_MENU, menu.handle),
        (names.ROUTE_BIND_PHONE, bind_phone.handle),
    ])
