"""Case look-ups for the voice menus (spec 18): people by phone, cases by number.

Scenarios ask a ``CaseBackend``; the default one, ``PgCaseBackend``, reads
the ``persons`` and ``cases`` tables of our own database, and a host
information system can plug in another with the same three methods.

What a caller supplies is checked here before any look-up: ``normalize_phone``
turns a caller id into the one form phones are stored in (``79990000001``),
``case_number_from_digits`` turns keys typed on a phone into a case number
(``19*03*2044#`` -> ``19-03-2044``).  Both say None for anything else.

Many callers asking at the same moment (a hundred reaching the case status
step together, or arriving at once to be greeted by name) cost one query,
not one each: ``PgCaseBackend`` gathers the case numbers (or the phones)
asked within one turn of the event loop and looks them up with one
``= ANY`` (aiodataloader's batching, without its cache: what the tables say
is always read fresh).

A backend that cannot answer (the database down, the host system
unreachable) raises ``LookupUnavailable``, within ``LOOKUP_WAIT_SECONDS``
at the most: the menu then tells the caller and goes on (``ivr.menu``),
rather than leaving them in silence or hanging up on them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import psycopg
from aiodataloader import DataLoader
from psycopg.rows import class_row

# How long a caller may wait for a free database connection before hearing that
# the information is unavailable (the pool's own default is 30 s of silence).
LOOKUP_WAIT_SECONDS = 5


class LookupUnavailable(Exception):
    """A look-up or an order the backend could not carry out now; the menu tells the caller."""


@contextmanager
def unavailable_when_database_fails(what: str) -> Iterator[None]:
    """Turn a database failure during ``what`` into ``LookupUnavailable``."""
    try:
        yield
    except psycopg.Error as exc:
        raise LookupUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc


@dataclass(frozen=True)
class Person:
    """Someone whose cases the center handles; ``name`` is the full name,
    ``first_name`` what a greeting calls them ('' when nobody entered one)."""

    id: int
    name: str
    phone: str
    first_name: str = ""


@dataclass(frozen=True)
class Case:
    """A case (an application for a service) and where it stands."""

    number: str
    service: str
    status: str
    opened_on: date
    person_id: int | None


class CaseBackend(Protocol):
    """Where scenarios look cases up; each method may raise ``LookupUnavailable``."""

    async def person_by_phone(self, phone: str) -> Person | None: ...
    async def case_by_number(self, number: str) -> Case | None: ...
    async def open_cases(self, phone: str) -> list[Case]: ...


# What people write between the digits of a phone number: +7 (999) 000-00-01.
_PHONE_FORMATTING = re.compile(r"[\s().-]")
_PHONE_DIGITS = re.compile(r"[0-9]{3,15}")  # E.164 has at most 15 digits
# A case number as stored (sql/004: ^[0-9][0-9-]{0,39}$), groups of digits joined by '-'.
_CASE_NUMBER = re.compile(r"[0-9]+(?:-[0-9]+)*")
CASE_NUMBER_MAX_LENGTH = 40
# The most case numbers (or phones) one query looks up for callers asking at the same moment.
MAX_KEYS_PER_QUERY = 500


def normalize_phone(raw: str | None) -> str | None:
    """A caller id in the form phones are stored in, or None when it is no phone number.

    Russian numbers become 11 digits starting with 7: '+7 999 000-00-01',
    '89990000001', '9990000001' and '79990000001' are all '79990000001'.
    Other numbers (an internal phone '101', a foreign '+44...') keep their
    digits.  Letters, 'unknown', an empty id or too few/many digits: None.
    """
    if raw is None:
        return None
    text = _PHONE_FORMATTING.sub("", raw.strip())
    if text.startswith("+"):
        text = text[1:]
    if not _PHONE_DIGITS.fullmatch(text):
        return None
    if len(text) == 11 and text[0] == "8":
        return "7" + text[1:]
    if len(text) == 10 and text[0] == "9":
        return "7" + text
    return text


def phone_variants(phone: str) -> list[str]:
    """The ways a normalized Russian number may have been stored: 7..., 8..., 10 digits."""
    if len(phone) == 11 and phone[0] == "7":
        return [phone, "8" + phone[1:], phone[1:]]
    return [phone]


def case_number_from_digits(digits: str | None) -> str | None:
    """The case number a caller typed, or None when the keys are no case number.

    The caller ends with '#' and types '*' between the groups of a number
    such as 19-03-2044 ('19*03*2044#'); a leading '*' is ignored.  Empty
    groups ('19**03'), other characters, or more than 40 characters: None.
    """
    if not digits:
        return None
    text = digits.removesuffix("#").removeprefix("*")
    number = text.replace("*", "-")
    if len(number) > CASE_NUMBER_MAX_LENGTH or not _CASE_NUMBER.fullmatch(number):
        return None
    return number


def case_number_keys(number: str) -> str:
    """What a caller keys for a case number: '*' for each '-', then '#' (19*03*2044#)."""
    return number.replace("-", "*") + "#"


_CASE_COLUMNS = "c.number, c.service, c.status, c.filed_on AS opened_on, c.person_id"


class PgCaseBackend:
    """The default backend: ``persons`` and ``cases`` in our database, through an async pool."""

    def __init__(self, pool):
        self.pool = pool
        self._loaders: dict[str, DataLoader] = {}

    def _batched(self, name: str, load_many) -> DataLoader:
        """The loader that gathers this turn's look-ups of ``name`` into one ``load_many``."""
        loop = asyncio.get_running_loop()
        loader = self._loaders.get(name)
        if loader is None or loader.loop is not loop:
            loader = self._loaders[name] = DataLoader(
                load_many, cache=False, loop=loop, max_batch_size=MAX_KEYS_PER_QUERY)
        return loader

    async def person_by_phone(self, phone: str) -> Person | None:
        """The one person with this phone; None when nobody or several people have it
        (a family sharing a phone is not greeted by one of their names)."""
        normalized = normalize_phone(phone)
        if normalized is None:
            return None
        return await self._batched("persons", self._persons_by_phones).load(normalized)

    async def _persons_by_phones(self, phones: list[str]) -> list[Person | None]:
        """The one person of each normalized phone (None: nobody or several), in one query."""
        variants = {phone: phone_variants(phone) for phone in phones}
        with unavailable_when_database_fails("person by phone"):
            async with self.pool.connection(timeout=LOOKUP_WAIT_SECONDS) as conn:
                cur = conn.cursor(row_factory=class_row(Person))
                await cur.execute(
                    "SELECT id, full_name AS name, phone, first_name FROM persons"
                    " WHERE phone = ANY(%s) ORDER BY id",
                    ([v for found in variants.values() for v in found],))
                people = await cur.fetchall()
        answers = []
        for phone in phones:
            theirs = [person for person in people if person.phone in variants[phone]]
            answers.append(theirs[0] if len(theirs) == 1 else None)
        return answers

    async def case_by_number(self, number: str) -> Case | None:
        return await self._batched("cases", self._cases_by_numbers).load(number)

    async def _cases_by_numbers(self, numbers: list[str]) -> list[Case | None]:
        """The case of each number (None where there is none), in one query."""
        with unavailable_when_database_fails("case by number"):
            async with self.pool.connection(timeout=LOOKUP_WAIT_SECONDS) as conn:
                cur = conn.cursor(row_factory=class_row(Case))
                await cur.execute(f"SELECT {_CASE_COLUMNS} FROM cases c WHERE c.number = ANY(%s)",
                                  (numbers,))
                found = {case.number: case for case in await cur.fetchall()}
        return [found.get(number) for number in numbers]

    async def open_cases(self, phone: str) -> list[Case]:
        """Open cases of everyone with this phone, oldest first."""
        normalized = normalize_phone(phone)
        if normalized is None:
            return []
        with unavailable_when_database_fails("open cases by phone"):
            async with self.pool.connection(timeout=LOOKUP_WAIT_SECONDS) as conn:
                cur = conn.cursor(row_factory=class_row(Case))
                await cur.execute(
                    f"SELECT {_CASE_COLUMNS} FROM cases c JOIN persons p ON p.id = c.person_id"
                    " WHERE p.phone = ANY(%s) AND c.is_open ORDER BY c.filed_on, c.number",
                    (phone_variants(normalized),))
                return await cur.fetchall()
