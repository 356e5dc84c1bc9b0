"""Voice menus: what a caller hears and where their keys take them (spec 6).

Theory of operation
-------------------

A call walks menu *items*.  ``run_menu`` enters the item whose number was
dialled and runs the same two steps for every item until the call leaves
the menus:

1. **Play.**  An audio item streams its file, a TTS item speaks its text, a
   playlist item plays its playlist once through, a scenario item runs its
   scenario (which speaks through ``ScenarioContext.say``).  Every prompt is
   interruptible by any key (0-9 * #); the key that cut it short is the first
   of the digits the handlers look at.  For a scenario, the key that cut its
   *last* words short counts the same way; keys it heard earlier were its own.
   A scenario may return a number (``dial_number`` does): the call goes
   there as if a handler had fired.  A scenario whose look-up or order the
   backend cannot carry out now (``ivr.cases.LookupUnavailable``: the
   database down) gets an ``error`` event; the caller hears
   ``SERVICE_UNAVAILABLE`` and the item's handlers go on as after any
   scenario, so they can still reach the main menu or an operator instead of
   hanging up.  Any other failure is a bug: the call leaves through the
   route's fallback.

2. **Listen.**  An item without handlers hangs up once played.  Otherwise the
   digits typed so far are matched after every key:

   - a *key* handler fires when the digits are exactly its one key (before
     any sequence handler looks at them);
   - a *sequence* handler fires as soon as its regex ``re.fullmatch``-es the
     digits, and passes them on to its target (a scenario there sees them
     as ``ctx.digits``); handlers are tried in their order;
   - digits that no key and no sequence could still complete (the ``regex``
     module's partial matching tells) are a wrong entry: a ``handler`` event
     "no handler for 7" is recorded, the digits are forgotten and the item's
     prompt plays again (a scenario is not run again: the caller just gets a
     new wait), so a caller who mistyped hears the choices once more;
   - otherwise the call waits for the next key.

   The wait lasts the timeout handler's seconds, else
   ``MENU_DEFAULT_TIMEOUT_SECONDS``; it starts at the end of the prompt and
   starts again after every key.  When it runs out the timeout handler
   fires; without one the call hangs up.

A handler's target decides what comes next: empty hangs up, a menu item's
number enters that item (in this process, no dialplan round trip; its
override rules are asked first, ``MenuServices.override``, as the dialplan
asks them for every other number), any
other number (a phone, a queue, an outside number) ends the menu with
``MenuExit.transfer_to`` and the route hands it to the dialplan.  A
configuration whose items send calls round in circles without a caller
(timeouts pointing at each other) is cut off after ``MAX_ITEM_ENTRIES``
items with an ``error`` event, and the call hangs up.

Every step is written to the call's log: ``item`` (entering an item),
``say`` (a text spoken), ``handler`` (what fired and where it goes),
``scenario``; the call itself records prompts and digits.  The engine does
no I/O of its own: everything goes through the call and ``MenuServices``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import regex

from dialplan import names
from dialplan.configuration import Handler, MenuItem
from dialplan.ivr_plan import IvrPlan
from dialplan.messages import N_, Message, MessageText, message, quoted
from dialplan.override_rules import Rule
from ivr.cases import LookupUnavailable
from ivr.playlist import play_playlist
from ivr.phrases import SERVICE_UNAVAILABLE
from ivr.rules_route import fired_text
from ivr.scenarios import ScenarioContext

# More item entries than this in one call is a loop in the configuration.
MAX_ITEM_ENTRIES = 100

HANG_UP = message(N_("hang up"))


@dataclass
class MenuServices:
    """What the menus use besides the call: speech, scenarios, case look-ups, queues.

    ``speak(text)`` returns the files STREAM FILE plays back to back for a
    text or an ``ivr.phrases.Phrase`` (``ivr.speaker.Speaker.speak`` in
    production: cached speech, a phrase's pieces and pauses, never more than
    a second's wait).  ``queue_info(call, kind)`` answers a playlist's dynamic items,
    ``kind`` being 'queue_position' (1-based place) or 'estimated_wait'
    (seconds); None when the call is not in a queue.
    """

    speak: Callable[[str], Awaitable[list[str]]]
    scenarios: Mapping[str, Callable[..., Awaitable[str | None]]]
    cases: object
    callbacks: object
    queue_info: Callable[[object, str], Awaitable[int | None]] | None = None
    # The override rule that takes the call to a menu item's number now, or None
    # (``ivr.rules_route.rule_for`` on the caller and the clock); None: no rules.
    override: Callable[[str], Rule | None] | None = None

    async def say(self, call, text: str) -> str | None:
        """Speak a Russian text to the caller; the key that interrupted it, if any."""
        call.events.event("say", text)
        for prompt in await self.speak(text):
            key = await call.stream_file(prompt)
            if key is not None:
                return key
        return None


@dataclass(frozen=True)
class MenuExit:
    """How a walk through the menus ended: hang up, or go on to ``transfer_to``."""

    transfer_to: str | None = None
    reason: Message = Message("")

    @property
    def hangs_up(self) -> bool:
        return not self.transfer_to


@dataclass(frozen=True)
class _Next:
    """Where an item sends the call: a target ('' hangs up) and the digits passed on;
    ``reason`` says why an empty target hangs up."""

    target: str
    digits: str = ""
    reason: Message = Message("")


async def run_menu(call, plan: IvrPlan, number: str, services: MenuServices) -> MenuExit:
    """Walk the menus from item ``number`` until the call hangs up or leaves them."""
    if number not in plan.items:
        raise LookupError(MessageText(N_("no menu item %(number)s in the plan"),
                                      number=quoted(number)))
    digits = ""
    for _ in range(MAX_ITEM_ENTRIES):
        item = plan.items[number]
        call.events.event("item", _describe(item, digits))
        step = await _run_item(call, plan, item, digits, services)
        if not step.target:
            return MenuExit(reason=step.reason)
        step = _after_rules(call, plan, step, services)
        if not step.target:
            return MenuExit(reason=step.reason)
        if step.target not in plan.items:
            return MenuExit(transfer_to=step.target,
                            reason=message(N_("transfer to %(number)s"), number=step.target))
        number, digits = step.target, step.digits
    call.events.event("error", MessageText(
        N_("more than %(count)d menu items in one call (a loop in the menus?): hanging up"),
        count=MAX_ITEM_ENTRIES))
    return MenuExit(reason=message(N_("more than %(count)d menu items in one call"),
                                   count=MAX_ITEM_ENTRIES))


def _after_rules(call, plan: IvrPlan, step: _Next, services: MenuServices) -> _Next:
    """Where a step leads once the override rules of the menu items it enters had their say
    (the dialplan asks them for every other number)."""
    for _ in range(MAX_ITEM_ENTRIES):
        if step.target not in plan.items or services.override is None:
            return step
        rule = services.override(step.target)
        if rule is None:
            return step
        call.events.event("rule", fired_text(plan, rule))
        step = _Next(rule.redirect, "", HANG_UP)
    return _Next("", "", HANG_UP)


def _describe(item: MenuItem, digits: str) -> str:
    """The ``item`` event's text; it starts with the item's number."""
    text = f"{item.number} {item.kind}"
    if item.kind == "scenario":
        text += f" {item.scenario}"
    return text + (f" with digits {digits}" if digits else "")


async def _run_item(call, plan: IvrPlan, item: MenuItem, digits: str,
                    services: MenuServices) -> _Next:
    if item.kind == "scenario":
        number, typed = await _run_scenario(call, plan, item, digits, services)
        if number:
            return _Next(number)
    else:
        typed = await _play(call, plan, item, services)
    if not item.handlers:
        return _Next("", reason=message(N_("item %(number)s has no handlers"),
                                        number=item.number))
    return await _listen(call, plan, item, typed or "", services)


async def _play(call, plan: IvrPlan, item: MenuItem, services: MenuServices) -> str | None:
    """Play an audio, TTS or playlist item once; the key that interrupted it."""
    if item.kind == "audio":
        return await call.stream_file(plan.audio_path(item.audio_id))
    if item.kind == "tts":
        return await services.say(call, item.text)
    if item.kind == "playlist":
        return await play_playlist(call, plan, plan.playlists[item.playlist_id], services)
    raise ValueError(MessageText(N_("menu item %(number)s has an unknown kind %(kind)s"),
                                 number=item.number, kind=quoted(item.kind)))


async def _run_scenario(call, plan: IvrPlan, item: MenuItem, digits: str,
                        services: MenuServices) -> tuple[str | None, str | None]:
    """Run the item's scenario: the number it sends the call to, and the key that cut
    its last words short."""
    scenario = services.scenarios.get(item.scenario)
    if scenario is None:
        raise LookupError(MessageText(N_("menu item %(number)s: no scenario %(scenario)s"),
                                      number=item.number, scenario=quoted(item.scenario)))
    last_key: list[str | None] = [None]

    async def say(text: str) -> str | None:
        last_key[0] = await services.say(call, text)
        return last_key[0]

    call.events.event("scenario", MessageText(N_("%(scenario)s with digits %(digits)s"),
                                              scenario=item.scenario, digits=digits)
                      if digits else MessageText("%(scenario)s", scenario=item.scenario))
    try:
        number = await scenario(ScenarioContext(call=call, plan=plan, digits=digits, say=say,
                                               cases=services.cases,
                                               callbacks=services.callbacks))
    except LookupUnavailable as exc:
        call.events.event("error", MessageText(N_("scenario %(scenario)s: %(error)s"),
                                               scenario=item.scenario, error=exc))
        await say(SERVICE_UNAVAILABLE)
        return None, last_key[0]
    if number:
        call.events.event("scenario", MessageText(N_("%(scenario)s sends the call to %(number)s"),
                                                  scenario=item.scenario, number=number))
    return number, last_key[0]


async def _listen(call, plan: IvrPlan, item: MenuItem, typed: str,
                  services: MenuServices) -> _Next:
    """Collect keys until a handler fires or the wait runs out (see the module doc)."""
    timeout = next((h for h in item.handlers if h.kind == "timeout"), None)
    seconds = timeout.seconds if timeout else names.MENU_DEFAULT_TIMEOUT_SECONDS
    collected = typed
    while True:
        if collected:
            handler = _fired(item.handlers, collected)
            if handler is not None:
                passed = collected if handler.kind == "sequence" else ""
                call.events.event("handler", _fired_text(handler, collected))
                return _Next(handler.target, passed, reason=_empty_target(handler, item))
            if not _could_still_match(item.handlers, collected):
                call.events.event("handler", MessageText(N_("no handler for %(digits)s"),
                                                         digits=collected))
                collected = ""
                if item.kind != "scenario":
                    collected = await _play(call, plan, item, services) or ""
                continue
        key = await call.wait_for_digit(seconds * 1000)
        if key is not None:
            collected += key
        elif timeout is not None:
            call.events.event("handler", MessageText(N_("timeout %(seconds)s s -> %(target)s"),
                                                     seconds=seconds,
                                                     target=timeout.target or HANG_UP))
            return _Next(timeout.target, reason=_empty_target(timeout, item))
        else:
            call.events.event("handler", MessageText(
                N_("no input for %(seconds)s s -> %(target)s"), seconds=seconds, target=HANG_UP))
            return _Next("", reason=message(N_("no input for %(seconds)s s"), seconds=seconds))


def _empty_target(handler: Handler, item: MenuItem) -> Message:
    """Why the call hangs up when ``handler`` fires (used only if its target is empty)."""
    if handler.kind == "key":
        return message(N_("key %(key)s of item %(number)s leads to an empty target"),
                       key=handler.key, number=item.number)
    if handler.kind == "timeout":
        return message(N_("the timeout of item %(number)s leads to an empty target"),
                       number=item.number)
    return message(N_("the digit sequence of item %(number)s leads to an empty target"),
                   number=item.number)


def _fired(handlers: tuple[Handler, ...], collected: str) -> Handler | None:
    """The key or sequence handler the collected digits trigger, if any."""
    if len(collected) == 1:
        for handler in handlers:
            if handler.kind == "key" and handler.key == collected:
                return handler
    for handler in handlers:
        if handler.kind == "sequence" and _pattern(handler.pattern).fullmatch(collected):
            return handler
    return None


def _could_still_match(handlers: tuple[Handler, ...], collected: str) -> bool:
    """Whether more keys could still make a sequence handler match."""
    return any(handler.kind == "sequence"
               and _partial_pattern(handler.pattern).fullmatch(collected, partial=True)
               for handler in handlers)


def _fired_text(handler: Handler, collected: str) -> MessageText:
    target = handler.target or HANG_UP
    if handler.kind == "key":
        return MessageText(N_("key %(key)s -> %(target)s"), key=handler.key, target=target)
    return MessageText(N_("sequence %(pattern)s matched %(digits)s -> %(target)s"),
                       pattern=handler.pattern, digits=collected, target=target)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern:
    return re.compile(pattern)


@lru_cache(maxsize=256)
def _partial_pattern(pattern: str) -> regex.Pattern:
    return regex.compile(pattern)
