"""Interactive scenarios of the voice menus (spec 6): what a scenario item does.

A scenario is ``async def name(ctx) -> str | None``: it speaks to the caller
through ``ctx.say`` (Russian text, spoken by the TTS engine and written to
the call's log) and returns the number the call goes to next, or None to
let the item's handlers (or a hang-up) decide.  ``ctx.digits`` are the keys
a sequence handler passed on (``19*03*2044#``); they are checked before
anything is looked up.  ``SCENARIOS`` holds one entry per name the
``menu_items.scenario`` column allows.

Numbers, counts and dates are put into Russian words by ``ivr.russian``:
the speech engines would read bare digits in the wrong gender and case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dialplan.ivr_plan import IvrPlan
from ivr.cases import Case, CaseBackend, case_number_from_digits, normalize_phone
from ivr.russian import count_words, russian_date, spoken_number

# Open cases read to a caller in one go; the rest are only counted.
MAX_CASES_READ = 5

# Said when the case database or the callback list cannot be reached (ivr.menu).
SERVICE_UNAVAILABLE = ("Извините, сейчас мы не можем получить эти сведения."
                       " Пожалуйста, попробуйте позже.")

_KEY_WORDS = {"*": "звёздочка", "#": "решётка"}


@dataclass
class ScenarioContext:
    """What a scenario works with: the call, the applied plan, the digits passed on."""

    call: object
    plan: IvrPlan
    digits: str
    say: Callable[[str], Awaitable[str | None]]
    cases: CaseBackend
    callbacks: object  # .order(phone, agi_call_id) (ivr.callback.PgCallbackOrders)


def spoken_keys(keys: str) -> str:
    """Keys as they are said one by one: '12*#' -> '1 2 звёздочка решётка'."""
    return " ".join(_KEY_WORDS.get(key, key) for key in keys)


def _cases_count(count: int) -> str:
    return count_words(count, "дело", "дела", "дел", gender="n")


def _case_text(case: Case) -> str:
    service = f", {case.service}" if case.service else ""
    return (f"Дело номер {spoken_number(case.number)}{service}, от {russian_date(case.opened_on)}."
            f" Статус: {case.status}.")


async def repeat_digits(ctx: ScenarioContext) -> None:
    """Say back the keys the caller typed."""
    if ctx.digits:
        await ctx.say(f"Вы ввели: {spoken_keys(ctx.digits)}.")
    else:
        await ctx.say("Вы ничего не ввели.")


async def case_status(ctx: ScenarioContext) -> None:
    """Say the status of the case whose number the caller typed."""
    number = case_number_from_digits(ctx.digits)
    if number is None:
        await ctx.say("Номер дела введён неверно. Наберите цифры номера, разделяя части"
                      " звёздочкой, и в конце нажмите решётку.")
        return
    case = await ctx.cases.case_by_number(number)
    if case is None:
        await ctx.say(f"Дело номер {spoken_number(number)} не найдено."
                      " Проверьте номер и попробуйте ещё раз.")
        return
    await ctx.say(_case_text(case))


async def open_cases(ctx: ScenarioContext) -> None:
    """Read the open cases of the people with the caller's phone number; a key stops it."""
    phone = normalize_phone(ctx.call.env.caller)
    if phone is None:
        await ctx.say("Не удалось определить ваш номер телефона, поэтому мы не можем найти"
                      " ваши дела. Узнайте статус дела по его номеру.")
        return
    cases = await ctx.cases.open_cases(phone)
    if not cases:
        await ctx.say("Дел в работе по вашему номеру телефона нет.")
        return
    texts = [f"По вашему номеру телефона в работе {_cases_count(len(cases))}.",
             *map(_case_text, cases[:MAX_CASES_READ])]
    for text in texts:
        if await ctx.say(text) is not None:
            return  # a key cuts the list short: the caller has heard enough
    if len(cases) > MAX_CASES_READ:
        await ctx.say(f"И ещё {_cases_count(len(cases) - MAX_CASES_READ)}."
                      f" Подробнее о них расскажет оператор.")


async def callback(ctx: ScenarioContext) -> None:
    """Order a callback to the caller's number and tell them so."""
    phone = normalize_phone(ctx.call.env.caller)
    if phone is None:
        # Whatever the item does next (the demo hangs up), the caller is not promised an
        # operator here: they are told what would work.
        await ctx.say("Не удалось определить ваш номер телефона, поэтому заказать обратный"
                      " звонок не получилось. Пожалуйста, позвоните нам с номера, который"
                      " не скрыт.")
        return
    await ctx.callbacks.order(phone, ctx.call.call_id)
    await ctx.say(f"Заявка на обратный звонок принята. Оператор перезвонит вам на номер"
                  f" {spoken_number(phone)}. Спасибо за звонок.")


async def dial_number(ctx: ScenarioContext) -> str | None:
    """Send the call to the phone number the caller typed, when it is one of our phones."""
    number = ctx.digits.removesuffix("#")
    if not number:
        await ctx.say("Вы не ввели номер.")
        return None
    owner = ctx.plan.numbers.get(number, "") if number.isdigit() else ""
    if not owner.startswith("phone "):
        await ctx.say(f"Номер {spoken_keys(number)} набрать нельзя: такого внутреннего"
                      f" номера нет.")
        return None
    await ctx.say(f"Соединяю с номером {spoken_keys(number)}.")
    return number


SCENARIOS: Mapping[str, Callable[[ScenarioContext], Awaitable[str | None]]] = MappingProxyType({
    "repeat_digits": repeat_digits,
    "case_status": case_status,
    "open_cases": open_cases,
    "callback": callback,
    "dial_number": dial_number,
})
