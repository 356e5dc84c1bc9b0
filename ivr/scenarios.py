"""Interactive scenarios of the voice menus (spec 6): what a scenario item does.

A scenario is ``async def name(ctx) -> str | None``: it speaks to the caller
through ``ctx.say`` (a ``ivr.phrases.Phrase``, spoken from pieces synthesised
at Apply and written to the call's log as its text) and returns the number
the call goes to next, or None to let the item's handlers (or a hang-up)
decide.  ``ctx.digits`` are the keys a sequence handler passed on
(``19*03*2044#``); they are checked before anything is looked up.
``SCENARIOS`` holds one entry per name the ``menu_items.scenario`` column
allows.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dialplan.configuration import OwnerKind
from dialplan.ivr_plan import IvrPlan
from ivr import phrases
from ivr.cases import Case, CaseBackend, case_number_from_digits, normalize_phone
from ivr.phrases import Phrase

# Open cases read to a caller in one go; the rest are only counted.
MAX_CASES_READ = 5


@dataclass
class ScenarioContext:
    """What a scenario works with: the call, the applied plan, the digits passed on."""

    call: object
    plan: IvrPlan
    digits: str
    say: Callable[[str], Awaitable[str | None]]
    cases: CaseBackend
    callbacks: object  # .order(phone, agi_call_id) -> CallbackOrder (ivr.callback)


def _case_text(case: Case) -> Phrase:
    return phrases.case_status(case.number, case.service, case.opened_on, case.status)


async def repeat_digits(ctx: ScenarioContext) -> None:
    """Say back the keys the caller typed."""
    await ctx.say(phrases.keys_typed(ctx.digits))


async def case_status(ctx: ScenarioContext) -> None:
    """Say the status of the case whose number the caller typed."""
    number = case_number_from_digits(ctx.digits)
    if number is None:
        await ctx.say(Phrase(phrases.WRONG_CASE_NUMBER))
        return
    case = await ctx.cases.case_by_number(number)
    if case is None:
        await ctx.say(phrases.case_not_found(number))
        return
    await ctx.say(_case_text(case))


async def open_cases(ctx: ScenarioContext) -> None:
    """Read the open cases of the people with the caller's phone number; a key stops it."""
    phone = normalize_phone(ctx.call.env.caller)
    if phone is None:
        await ctx.say(Phrase(phrases.NO_PHONE_FOR_CASES))
        return
    cases = await ctx.cases.open_cases(phone)
    if not cases:
        await ctx.say(Phrase(phrases.NO_OPEN_CASES))
        return
    texts = [phrases.open_cases_count(len(cases)), *map(_case_text, cases[:MAX_CASES_READ])]
    for text in texts:
        if await ctx.say(text) is not None:
            return  # a key cuts the list short: the caller has heard enough
    if len(cases) > MAX_CASES_READ:
        await ctx.say(phrases.more_cases(len(cases) - MAX_CASES_READ))


async def callback(ctx: ScenarioContext) -> None:
    """Order a callback to the caller's number and tell them so; a caller whose request is
    still open hears that it stands, not that a new one was taken."""
    phone = normalize_phone(ctx.call.env.caller)
    if phone is None:
        # Whatever the item does next (the demo hangs up), the caller is not promised an
        # operator here: they are told what would work.
        await ctx.say(Phrase(phrases.NO_PHONE_FOR_CALLBACK))
        return
    order = await ctx.callbacks.order(phone, ctx.call.call_id)
    if order.new:
        await ctx.say(phrases.callback_ordered(phone))
    else:
        await ctx.say(phrases.callback_already_ordered())


async def dial_number(ctx: ScenarioContext) -> str | None:
    """Send the call to the phone number the caller typed, when it is one of our phones."""
    number = ctx.digits.removesuffix("#")
    if not number:
        await ctx.say(Phrase(phrases.NO_NUMBER_TYPED))
        return None
    owner = ctx.plan.numbers.get(number) if number.isdigit() else None
    if owner is None or owner.kind is not OwnerKind.PHONE:
        await ctx.say(phrases.cannot_dial(number))
        return None
    await ctx.say(phrases.connecting_to(number))
    return number


SCENARIOS: Mapping[str, Callable[[ScenarioContext], Awaitable[str | None]]] = MappingProxyType({
    "repeat_digits": repeat_digits,
    "case_status": case_status,
    "open_cases": open_cases,
    "callback": callback,
    "dial_number": dial_number,
})
