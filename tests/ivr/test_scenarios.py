"""The interactive scenarios against a scripted caller and an in-memory case backend."""

from __future__ import annotations

import asyncio
import re
from datetime import date

import pytest

from dialplan.configuration import Handler, MenuItem, NumberOwner, OwnerKind
from dialplan.ivr_plan import IvrPlan
from ivr.callback import CallbackOrder
from ivr.cases import Case, LookupUnavailable, Person
from ivr.menu import MenuServices, run_menu
from ivr.phrases import SERVICE_UNAVAILABLE, spoken_keys
from ivr.scenarios import MAX_CASES_READ, SCENARIOS, ScenarioContext
from tests.ivr.fake_call import FakeCall

IVANOV = Person(1, "Иванов Иван Иванович", "79990000001")
READY = Case("19-03-2044", "Регистрация ИП", "готово к выдаче", date(2026, 3, 12), 1)
IN_WORK = Case("4567", "Выдача паспорта", "на рассмотрении", date(2026, 2, 1), 1)
CLOSED = Case("1200", "Справка", "выдано", date(2025, 1, 9), 1)


class MemoryCases:
    """A CaseBackend over lists: the look-ups the scenarios ask are recorded."""

    def __init__(self, persons=(IVANOV,), cases=(READY, IN_WORK), closed=(CLOSED,)):
        self.persons = list(persons)
        self.cases = list(cases)
        self.closed = {case.number for case in closed}
        self.cases += list(closed)
        self.asked: list[tuple[str, str]] = []

    async def person_by_phone(self, phone):
        self.asked.append(("person", phone))
        return next((p for p in self.persons if p.phone == phone), None)

    async def case_by_number(self, number):
        self.asked.append(("case", number))
        return next((c for c in self.cases if c.number == number), None)

    async def open_cases(self, phone):
        self.asked.append(("open", phone))
        ids = {p.id for p in self.persons if p.phone == phone}
        return [c for c in self.cases if c.person_id in ids and c.number not in self.closed]


class MemoryCallbacks:
    """Callback orders in a list; a number already in it has an open request."""

    def __init__(self, open_phones=()):
        self.open_phones = set(open_phones)
        self.orders: list[tuple[str, str]] = []

    async def order(self, phone, agi_call_id):
        self.orders.append((phone, agi_call_id))
        new = phone not in self.open_phones
        self.open_phones.add(phone)
        return CallbackOrder(len(self.orders), new=new)


PLAN = IvrPlan(numbers={"101": NumberOwner(OwnerKind.PHONE, "101"),
                        "90000": NumberOwner(OwnerKind.MENU_ITEM, "90000"),
                        "99999": NumberOwner(OwnerKind.SELFTEST, "99999")})


def run(name: str, digits: str = "", caller: str = "79990000001", cases=None, callbacks=None,
        prompt_keys=None):
    """Run one scenario; (what it returned, what it said, the backend, the callbacks)."""
    call = FakeCall(caller=caller, prompt_keys=prompt_keys)
    cases = cases or MemoryCases()
    callbacks = callbacks or MemoryCallbacks()
    said: list[str] = []

    async def say(text):
        said.append(text)
        call.events.event("say", text)
        return await call.stream_file(f"tts:{text}")

    ctx = ScenarioContext(call=call, plan=PLAN, digits=digits, say=say, cases=cases,
                          callbacks=callbacks)
    result = asyncio.run(SCENARIOS[name](ctx))
    return result, " ".join(said), cases, callbacks


def test_there_is_one_scenario_per_name_the_schema_allows():
    schema = open("sql/004_voice_menus.sql", encoding="utf-8").read()
    check = re.search(r"scenario\s+text.*?CHECK \(scenario IN \(''(.*?)\)\)", schema, re.S)
    allowed = set(re.findall(r"'([a-z_]+)'", check.group(1)))
    assert set(SCENARIOS) == allowed


def test_keys_are_said_one_by_one():
    assert spoken_keys("12*#") == ["1", "2", "звёздочка", "решётка"]


def test_repeat_digits_says_the_keys_back():
    result, said, _, _ = run("repeat_digits", "12*3#")
    assert result is None
    assert said == "Вы ввели: 1 2 звёздочка 3 решётка."
    assert run("repeat_digits", "")[1] == "Вы ничего не ввели."


def test_case_status_says_the_status_of_the_typed_case():
    result, said, cases, _ = run("case_status", "19*03*2044#")
    assert result is None
    assert cases.asked == [("case", "19-03-2044")]
    assert "готово к выдаче" in said
    assert "девятнадцать, ноль три, две тысячи сорок четыре" in said
    assert "от двенадцатого марта две тысячи двадцать шестого года" in said


def test_case_status_of_an_unknown_case_says_it_was_not_found():
    _, said, cases, _ = run("case_status", "777#")
    assert cases.asked == [("case", "777")]
    assert "Дело номер семьсот семьдесят семь не найдено" in said


@pytest.mark.parametrize("digits", ["#", "*#", "19**03#", "1" * 41 + "#", ""])
def test_case_status_refuses_an_invalid_number_before_looking_it_up(digits):
    _, said, cases, _ = run("case_status", digits)
    assert cases.asked == []
    assert said.startswith("Номер дела введён неверно")


def test_open_cases_reads_the_callers_open_cases_by_their_number():
    _, said, cases, _ = run("open_cases", caller="+7 (999) 000-00-01")
    assert cases.asked == [("open", "79990000001")]
    assert "в работе два дела" in said
    assert "готово к выдаче" in said and "на рассмотрении" in said
    assert "выдано" not in said  # a closed case is not read


def test_a_key_pressed_while_the_cases_are_read_stops_the_reading():
    _, said, _, _ = run("open_cases", prompt_keys={1: "0"})
    assert "готово к выдаче" in said and "на рассмотрении" not in said


def test_open_cases_says_so_when_there_are_none():
    _, said, _, _ = run("open_cases", caller="79990000002")
    assert said == "Дел в работе по вашему номеру телефона нет."


def test_open_cases_without_a_caller_id_looks_nothing_up():
    _, said, cases, _ = run("open_cases", caller="unknown")
    assert cases.asked == []
    assert "Не удалось определить ваш номер телефона" in said


def test_many_open_cases_are_read_up_to_a_limit_and_the_rest_counted():
    many = [Case(str(1000 + n), "", f"статус {n}", date(2026, 1, 1 + n), 1) for n in range(8)]
    _, said, _, _ = run("open_cases", cases=MemoryCases(cases=many, closed=()))
    assert "в работе восемь дел" in said
    assert said.count("Дело номер") == MAX_CASES_READ
    assert "И ещё три дела" in said


def test_callback_orders_a_call_to_the_callers_number_and_confirms_it():
    result, said, _, callbacks = run("callback", caller="89990000001")
    assert result is None
    assert callbacks.orders == [("79990000001", "fake-1")]
    assert "Заявка на обратный звонок принята" in said
    assert "на номер семь, девятьсот девяносто девять, ноль ноль ноль, ноль ноль, ноль один" in said


def test_a_caller_whose_request_is_open_hears_it_stands_not_that_a_new_one_was_taken():
    _, said, _, callbacks = run("callback", caller="89990000001",
                                callbacks=MemoryCallbacks(open_phones={"79990000001"}))
    assert callbacks.orders == [("79990000001", "fake-1")]
    assert said == "Ваша заявка на обратный звонок уже принята, мы перезвоним вам. Спасибо за звонок."
    assert "Заявка на обратный звонок принята" not in said


@pytest.mark.parametrize("caller", ["", "unknown", "anonymous", "Anonymous <sip:x@y>"])
def test_callback_without_a_caller_id_orders_nothing_and_says_why(caller):
    _, said, _, callbacks = run("callback", caller=caller)
    assert callbacks.orders == []
    assert "заказать обратный звонок не получилось" in said
    assert "с номера, который не скрыт" in said  # no promise of an operator who may not come


def test_dial_number_sends_the_call_to_a_phone_of_the_plan():
    result, said, _, _ = run("dial_number", "101#")
    assert result == "101"
    assert "Соединяю" in said


@pytest.mark.parametrize("digits", ["102#", "90000#", "99999", "1*1#", "#"])
def test_dial_number_refuses_anything_but_a_phone(digits):
    result, said, _, _ = run("dial_number", digits)
    assert result is None
    assert "набрать нельзя" in said or "Вы не ввели номер" in said


def test_the_menu_engine_runs_case_status_with_the_digits_a_sequence_passed_on():
    plan = IvrPlan(items={i.number: i for i in (
        MenuItem(1, 1, "91100", "tts", text="Введите номер дела.",
                 handlers=(Handler("sequence", "91110", pattern=r"[0-9*]+#"),)),
        MenuItem(2, 1, "91110", "scenario", scenario="case_status"),
    )})
    call = FakeCall(prompt_keys={0: "4"}, waits=list("567#"))

    async def speak(text):
        return [f"tts:{text}"]

    services = MenuServices(speak=speak, scenarios=SCENARIOS, cases=MemoryCases(),
                            callbacks=MemoryCallbacks())
    ending = asyncio.run(run_menu(call, plan, "91100", services))
    assert ending.hangs_up
    assert any("на рассмотрении" in text for text in call.events.of("say"))


class DatabaseDown:
    """A case backend and callback list whose database does not answer."""

    async def case_by_number(self, number):
        raise LookupUnavailable("case by number: the database is down")

    async def open_cases(self, phone):
        raise LookupUnavailable("open cases by phone: the database is down")

    async def person_by_phone(self, phone):
        raise LookupUnavailable("person by phone: the database is down")

    async def order(self, phone, agi_call_id):
        raise LookupUnavailable("callback order: the database is down")


@pytest.mark.parametrize("scenario", ["case_status", "open_cases", "callback"])
def test_with_the_database_down_the_caller_is_told_and_the_menu_goes_on(scenario):
    """Not silence, not the fallback's hang-up: an apology, then the item's own keys work."""
    plan = IvrPlan(items={i.number: i for i in (
        MenuItem(1, 1, "90000", "tts", text="Главное меню."),
        MenuItem(2, 1, "91100", "tts", text="Введите номер дела.",
                 handlers=(Handler("sequence", "91110", pattern=r"[0-9*]+#"),)),
        MenuItem(3, 1, "91110", "scenario", scenario=scenario,
                 handlers=(Handler("key", "90000", key="0"),)),
    )})
    call = FakeCall(prompt_keys={0: "4"}, waits=["5", "6", "7", "#", "0"])

    async def speak(text):
        return [f"tts:{text}"]

    down = DatabaseDown()
    services = MenuServices(speak=speak, scenarios=SCENARIOS, cases=down, callbacks=down)
    ending = asyncio.run(run_menu(call, plan, "91100", services))
    assert call.events.of("say")[-2:] == [SERVICE_UNAVAILABLE, "Главное меню."]
    assert any("database is down" in e for e in call.events.of("error"))
    assert ending.hangs_up  # the main menu of this plan has no handlers
