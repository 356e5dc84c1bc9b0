"""Checking what callers type, and the default case backend on a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from fastagi.database import open_pool
from ivr.cases import Case, PgCaseBackend, Person, case_number_from_digits, normalize_phone


@pytest.mark.parametrize("raw, phone", [
    ("+7 999 000-00-01", "79990000001"),
    ("+7 (999) 000-00-01", "79990000001"),
    ("89990000001", "79990000001"),
    ("79990000001", "79990000001"),
    ("9990000001", "79990000001"),
    ("101", "101"),
    ("+441632960961", "441632960961"),
])
def test_caller_ids_become_the_stored_form(raw, phone):
    assert normalize_phone(raw) == phone


@pytest.mark.parametrize("raw", ["", "unknown", "anonymous", "12", "7999000000112345678",
                                 "+7 999 abc", "79990000001;DROP", "++79990000001", None])
def test_anything_else_is_no_phone(raw):
    assert normalize_phone(raw) is None


@pytest.mark.parametrize("digits, number", [
    ("4567#", "4567"),
    ("4567", "4567"),
    ("19*03*2044#", "19-03-2044"),
    ("*19*03*2044#", "19-03-2044"),
    ("0#", "0"),
])
def test_typed_keys_become_a_case_number(digits, number):
    assert case_number_from_digits(digits) == number


@pytest.mark.parametrize("digits", ["", "#", "*#", "**#", "19**03#", "19*#", "12#3#", "12##",
                                    "1" * 41 + "#", "12a#", None])
def test_keys_that_are_no_case_number_are_refused(digits):
    assert case_number_from_digits(digits) is None


@pytest.fixture
def people(db):
    """Two people sharing nothing, one stored with an 8-prefixed phone; removed afterwards."""
    anna = db.execute("INSERT INTO persons (full_name, first_name, phone)"
                      " VALUES ('Смирнова Анна Петровна', 'Анна', '79995550001') RETURNING id"
                      ).fetchone()["id"]
    oleg = db.execute("INSERT INTO persons (full_name, first_name, phone)"
                      " VALUES ('Петров Олег', 'Олег', '89995550002') RETURNING id"
                      ).fetchone()["id"]
    rows = [("55-01", anna, "Паспорт", "готово к выдаче", True, date(2026, 3, 12)),
            ("55-02", anna, "Справка", "на рассмотрении", True, date(2026, 1, 5)),
            ("55-03", anna, "Пособие", "выдано", False, date(2025, 6, 1)),
            ("55-04", oleg, "Регистрация ИП", "принято", True, date(2026, 2, 2))]
    with db.cursor() as cur:
        cur.executemany("INSERT INTO cases (number, person_id, service, status, is_open, filed_on)"
                        " VALUES (%s, %s, %s, %s, %s, %s)", rows)
    yield {"anna": anna, "oleg": oleg}
    db.execute("DELETE FROM cases WHERE number LIKE '55-0_'")
    db.execute("DELETE FROM persons WHERE id IN (%s, %s)", (anna, oleg))


def ask(pg_url, method: str, *args):
    async def go():
        pool = await open_pool(pg_url, max_size=2)
        try:
            return await getattr(PgCaseBackend(pool), method)(*args)
        finally:
            await pool.close()
    return asyncio.run(go())


def test_a_case_is_found_by_its_number(pg_url, people):
    assert ask(pg_url, "case_by_number", "55-01") == Case(
        "55-01", "Паспорт", "готово к выдаче", date(2026, 3, 12), people["anna"])
    assert ask(pg_url, "case_by_number", "55-09") is None
    assert ask(pg_url, "case_by_number", "55-01' OR '1'='1") is None


class CountingPool:
    """A real pool that counts the connections taken from it."""

    def __init__(self, pool):
        self.pool = pool
        self.taken = 0

    def connection(self, *args, **kwargs):
        self.taken += 1
        return self.pool.connection(*args, **kwargs)


def ask_at_once(pg_url, method: str, keys: list[str]):
    """Every key asked of one backend at the same moment: the answers, and how many
    connections the backend took from its pool for them."""
    async def go():
        pool = CountingPool(await open_pool(pg_url, max_size=2))
        try:
            backend = PgCaseBackend(pool)
            found = await asyncio.gather(*(getattr(backend, method)(key) for key in keys))
            return found, pool.taken
        finally:
            await pool.pool.close()
    return asyncio.run(go())


def test_callers_asking_at_the_same_moment_cost_one_query_each_get_their_case(pg_url, people):
    """A hundred callers reaching the case status together do not queue for the pool's
    connections one query each; each still hears their own case, fresh from the table."""
    numbers = ["55-01", "55-02", "55-09", "55-04", "55-01"] * 20
    found, taken = ask_at_once(pg_url, "case_by_number", numbers)
    assert [case.number if case else None for case in found] == [
        None if number == "55-09" else number for number in numbers]
    assert found[1].status == "на рассмотрении" and found[3].person_id == people["oleg"]
    assert taken == 1


def test_callers_greeted_at_the_same_moment_cost_one_query_each_get_their_person(
        pg_url, people, db):
    """A hundred callers arriving together are looked up by phone in one query; each gets
    the one person with their number, nobody for an unknown or shared number."""
    db.execute("INSERT INTO persons (full_name, first_name, phone)"
               " VALUES ('Смирнов Пётр', 'Пётр', '79995550003'),"
               " ('Смирнова Мария', 'Мария', '89995550003')")
    phones = ["+7 999 555-00-01", "89995550002", "79995550009", "79995550003"] * 25
    try:
        found, taken = ask_at_once(pg_url, "person_by_phone", phones)
    finally:
        db.execute("DELETE FROM persons WHERE phone IN ('79995550003', '89995550003')")
    assert [person.first_name if person else None for person in found] == [
        "Анна", "Олег", None, None] * 25
    assert taken == 1


def test_open_cases_are_the_persons_open_ones_oldest_first(pg_url, people):
    found = ask(pg_url, "open_cases", "+7 999 555-00-01")
    assert [case.number for case in found] == ["55-02", "55-01"]


def test_a_phone_stored_with_8_is_found_by_the_normalized_caller_id(pg_url, people):
    assert [case.number for case in ask(pg_url, "open_cases", "79995550002")] == ["55-04"]
    assert ask(pg_url, "person_by_phone", "79995550002") == Person(
        people["oleg"], "Петров Олег", "89995550002", "Олег")


def test_a_phone_shared_by_two_people_names_nobody(pg_url, people, db):
    """A greeting by name is for the one person with the number (spec 5), not a guess."""
    assert ask(pg_url, "person_by_phone", "79995550001").first_name == "Анна"
    db.execute("INSERT INTO persons (full_name, first_name, phone)"
               " VALUES ('Смирнов Пётр', 'Пётр', '79995550001')")
    try:
        assert ask(pg_url, "person_by_phone", "79995550001") is None
    finally:
        db.execute("DELETE FROM persons WHERE full_name = 'Смирнов Пётр'")


def test_nobody_is_found_for_an_unknown_or_junk_phone(pg_url, people):
    assert ask(pg_url, "person_by_phone", "79995550009") is None
    assert ask(pg_url, "open_cases", "79995550009") == []
    assert ask(pg_url, "open_cases", "unknown") == []
    assert ask(pg_url, "person_by_phone", "not a phone") is None



def test_a_database_that_does_not_answer_makes_the_lookup_unavailable_quickly(monkeypatch):
    """The caller hears that the information is unavailable within seconds, not 30 s."""
    from ivr import cases
    from tests.ivr.test_callback import database_down

    monkeypatch.setattr(cases, "LOOKUP_WAIT_SECONDS", 0.5)

    async def look_up():
        async with database_down() as pool:
            backend = PgCaseBackend(pool)
            for lookup in (backend.case_by_number("4567"),
                           backend.open_cases("79990000001"),
                           backend.person_by_phone("79990000001")):
                with pytest.raises(cases.LookupUnavailable):
                    await asyncio.wait_for(lookup, timeout=10)
    asyncio.run(look_up())
