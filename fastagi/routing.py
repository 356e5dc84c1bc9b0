"""The explicit table of FastAGI routes: script path -> handler."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastagi.session import AGICall

Handler = Callable[["AGICall", tuple[str, ...]], Awaitable[None]]


class Router:
    """Maps the path of `agi://host:port/<route>` to `async def handle(call, args)`."""

    def __init__(self, routes: Iterable[tuple[str, Handler]] = ()):
        self._routes: dict[str, Handler] = {}
        for name, handler in routes:
            self.add_route(name, handler)

    def add_route(self, name: str, handler: Handler) -> None:
        """Register one route; a second handler for the same name is a bug."""
        if not name or "/" in name.strip("/"):
            raise ValueError(f"bad route name: {name!r}")
        if name in self._routes:
            raise ValueError(f"route {name!r} is already registered")
        self._routes[name] = handler

    def find(self, name: str) -> Handler | None:
        return self._routes.get(name)

    def names(self) -> list[str]:
        return sorted(self._routes)
