"""A dry run of the voice menus: walk them with typed keys, no Asterisk, no TTS.

``telecenter simulate 90000 --from 79990000001 --keys "1,1,2024*7#"`` shows
an administrator what a caller would hear and where their keys would take
them, before or after Apply.  The walk is the real engine (``ivr.menu``)
over a simulated call; the real scenarios run too, reading the case
database, but nothing is spoken and nothing is written: callback orders
are only reported.

The simulated caller types one element of ``keys`` during each prompt or
wait, in turn: a burst such as ``*123*#`` is typed key after key (its first
key cuts the prompt short, the rest answer the waits that follow), and
``timeout`` types nothing until that wait runs out.  When the keys run out
the caller listens to every prompt to its end and every wait runs out.

Given a moment (``at``, on the office's clock), the override rules have their
say as on a real call: the number's own rules first (a rule's step says which
fired; a redirect to a menu item walks on from there), and the rules of
every item the walk enters.  Without one, no rule is looked at.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import PurePath

from dialplan import names
from dialplan.ivr_plan import IvrPlan
from dialplan.messages import N_, MessageText, message
from fastagi.protocol import AGIEnv
from fastagi.session import DIGITS, AGICall
from ivr.callback import CallbackOrder, PgCallbackOrders
from ivr.menu import MAX_ITEM_ENTRIES, MenuExit, MenuServices, run_menu
from ivr.rules_route import fired_text, none_text, rule_for
from ivr.scenarios import SCENARIOS

TIMEOUT = "timeout"
_BURST = re.compile(r"[0-9*#]+")
_SPOKEN = "tts:"  # what the simulated speech puts before a text instead of a file


class UnknownMenuNumber(ValueError):
    """The number to start from is no voice menu item."""


def parse_keys(text: str) -> list[str]:
    """'1,*123*#,timeout' -> ['1', '*123*#', 'timeout']; ValueError on anything else."""
    if not text.strip():
        return []
    keys = []
    for position, part in enumerate(text.split(","), 1):
        part = part.strip()
        if part.lower() == TIMEOUT:
            keys.append(TIMEOUT)
        elif _BURST.fullmatch(part):
            keys.append(part)
        else:
            shown = part if len(part) <= 20 else part[:20] + "…"
            raise ValueError(f"keys: element {position} ({shown!r}) is neither keys "
                             f"(0-9, * and #) nor the word 'timeout'; separate them with commas,"
                             f" e.g. \"1,*123*#,timeout\"")
    return keys


async def simulate(plan: IvrPlan, number: str, caller: str, keys: list[str],
                   cases) -> list[str]:
    """Walk the menus from ``number`` as ``caller`` typing ``keys``; the steps, in words."""
    return step_lines(*await simulated_steps(plan, number, caller, keys, cases))


async def simulated_steps(plan: IvrPlan, number: str, caller: str, keys: list[str],
                          cases, open_requests=None,
                          at: datetime | None = None) -> tuple[list[tuple[str, str]], MenuExit]:
    """The same walk as ``simulate``: its (kind, detail) steps and how it ended.

    For callers that show the steps their own way (the admin's simulator page).
    ``open_requests`` is ``DryRunCallbacks``'s; ``at`` the moment the rules are read at.
    """
    call = SimulatedCall(caller, number, keys)
    if at is not None:
        number, ending = _number_after_rules(call, plan, number, caller, at)
        if ending is not None:
            return call.events.steps, ending
    if number not in plan.items:
        known = ", ".join(sorted(plan.items)[:10]) or "none"
        raise UnknownMenuNumber(f"{number} is not a voice menu item (menu items: {known})")
    services = MenuServices(speak=_speak_nothing, scenarios=SCENARIOS, cases=cases,
                            callbacks=DryRunCallbacks(call.events, open_requests),
                            queue_info=None,
                            override=None if at is None else
                            (lambda target: rule_for(plan, target, caller, at)))
    ending = await run_menu(call, plan, number, services)
    return call.events.steps, ending


def _number_after_rules(call, plan: IvrPlan, number: str, caller: str,
                        at: datetime) -> tuple[str, MenuExit | None]:
    """Where the override rules send a call to ``number``: the menu item to walk from, or
    how the call ends when it does not reach the menus."""
    redirected = False
    for _ in range(MAX_ITEM_ENTRIES):
        rule = rule_for(plan, number, caller, at)
        if rule is None:
            if number in plan.rules:
                call.events.event("rule", none_text(number))
            break
        call.events.event("rule", fired_text(plan, rule))
        if not rule.redirect:
            return number, MenuExit(reason=message(N_("override rule of %(number)s"),
                                                   number=number))
        number, redirected = rule.redirect, True
    # A number neither ruled nor sent elsewhere by a rule must be a menu item: the walk
    # was asked to start there.
    if (redirected or number in plan.rules) and number not in plan.items:
        return number, MenuExit(transfer_to=number,
                                reason=message(N_("transfer to %(number)s"), number=number))
    return number, None


async def simulated_steps_over_database(url: str, plan: IvrPlan, number: str, caller: str,
                                        keys: list[str], at: datetime | None = None
                                        ) -> tuple[list[tuple[str, str]], MenuExit]:
    """``simulated_steps`` with the case look-ups and open callback requests read from the
    database at ``url``."""
    from fastagi.database import open_pool
    from ivr.cases import PgCaseBackend

    pool = await open_pool(url, max_size=1)
    try:
        return await simulated_steps(plan, number, caller, keys, PgCaseBackend(pool),
                                     PgCallbackOrders(pool).is_open, at)
    finally:
        await pool.close()


async def _speak_nothing(text: str) -> list[str]:
    return [_SPOKEN + text]


class DryRunCallbacks:
    """Callback orders that are reported, never written.

    ``open_requests`` (an async phone -> bool, ``PgCallbackOrders.is_open``) tells whether
    a real order would find the caller's open request and keep it; without it every order
    counts as new.
    """

    def __init__(self, events, open_requests=None):
        self.events = events
        self.open_requests = open_requests

    async def order(self, phone: str, *args, **kwargs) -> CallbackOrder:
        """Report the order, new or found open, as a real order would end."""
        if self.open_requests is not None and await self.open_requests(phone):
            self.events.event("callback", MessageText(
                N_("%(phone)s has an open request already: it would be kept"), phone=phone))
            return CallbackOrder(0, new=False)
        self.events.event("callback", MessageText(N_("would order a callback for %(phone)s"),
                                                  phone=phone))
        return CallbackOrder(0, new=True)


class _Steps:
    """The simulated call's log: (kind, detail) in order."""

    def __init__(self):
        self.steps: list[tuple[str, str]] = []

    def event(self, kind: str, detail: str) -> None:
        self.steps.append((kind, detail))


class SimulatedCall:
    """AGICall's commands over a caller who types ``keys`` (see the module doc)."""

    def __init__(self, caller: str, number: str, keys: list[str]):
        self.env = AGIEnv({"callerid": caller, "extension": number}, route=names.ROUTE_MENU)
        self.call_id = "simulated"
        self.events = _Steps()
        self._keys = list(keys)
        self._typing = ""  # the rest of the burst being typed
        self._variables: dict[str, str] = {}

    async def command(self, verb: str, *args: object):
        raise NotImplementedError(f"a simulated call does not run raw AGI commands ({verb})")

    async def answer(self) -> None:
        pass

    async def hangup(self) -> None:
        pass

    async def verbose(self, message: str, level: int = 1) -> None:
        pass

    async def set_variable(self, name: str, value: str) -> None:
        self._variables[name] = value

    async def get_variable(self, name: str) -> str | None:
        return self._variables.get(name)

    async def get_full_variable(self, expression: str) -> str | None:
        """Nothing: a simulated call has no channel for Asterisk to evaluate on."""
        return None

    async def stream_file(self, prompt: str, escape_digits: str = DIGITS) -> str | None:
        self.events.event("prompt", prompt)
        if not self._typing and self._keys and self._keys[0] != TIMEOUT:
            self._typing = self._keys.pop(0)
        if self._typing and self._typing[0] in escape_digits:
            return self._key()
        return None

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        if not self._typing and self._keys:
            element = self._keys.pop(0)
            if element != TIMEOUT:
                self._typing = element
        if self._typing:
            return self._key()
        self.events.event("silence", MessageText(N_("%(seconds)d s"), seconds=timeout_ms // 1000))
        return None

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        if any(ch not in DIGITS for ch in digits):
            raise ValueError(f"not a digit string: {digits!r}")
        self.events.event("say digits", digits)
        return None

    async def exec_app(self, app: str, *args: object) -> int:
        self.events.event("app", " ".join([app, *map(str, args)]))
        return 0

    async def bridge(self, channel: str, options: str = "") -> int:
        self.events.event("app", f"Bridge {channel} {options}".rstrip())
        return 0

    read_digits = AGICall.read_digits

    def _key(self) -> str:
        key, self._typing = self._typing[0], self._typing[1:]
        self.events.event("digits", key)
        return key


_LINES = {
    "say": "  says: {}",
    "prompt": "  plays: {}",
    "say digits": "  says the digits: {}",
    "silence": "  caller types nothing for {}",
    "handler": "  handler: {}",
    "scenario": "  scenario: {}",
    "callback": "  {}",
    "app": "  would run: {}",
    "error": "  error: {}",
    "rule": "  {}",
}


def step_lines(steps: list[tuple[str, str]], ending: MenuExit) -> list[str]:
    """The simulated call's steps as lines an administrator reads."""
    lines: list[str] = []
    typed = ""
    for kind, detail in steps:
        if kind == "digits":
            typed += detail
            continue
        if typed:
            lines.append(f"  caller types {typed}")
            typed = ""
        if kind == "item":
            lines.append(f"item {detail}")
        elif kind == "prompt" and detail.startswith(_SPOKEN):
            continue  # already shown as what was said
        elif kind == "prompt":
            lines.append(_LINES[kind].format(PurePath(detail).name))
        else:
            lines.append(_LINES.get(kind, "  " + kind + ": {}").format(detail))
    if typed:
        lines.append(f"  caller types {typed}")
    if ending.transfer_to:
        lines.append(f"end: the call goes to {ending.transfer_to}")
    else:
        lines.append(f"end: hang up ({ending.reason})")
    return lines
