"""Every FastAGI route Telecenter serves, in one readable list."""

from dialplan import names
from fastagi.routing import Router
from ivr import selftest


def build_router() -> Router:
    return Router([
        (names.ROUTE_SELFTEST, selftest.handle),
    ])
