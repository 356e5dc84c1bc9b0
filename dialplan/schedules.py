"""Working hours (spec 10): whether a schedule is open at a moment. Pure.

A schedule has spans of hours per ISO weekday (1 Monday … 7 Sunday; several
a day for a lunch break; a weekday with none is a day off) and dates the
administrator sets apart.  What a date is, first rule that applies:

1. a date the administrator listed: a day off, or a working day with its
   own span (none given: Monday's hours);
2. with the production calendar on, the Russian production calendar (the
   ``holidays`` package's ``RU``): its holidays and moved days off are days
   off, its moved working days (a Saturday worked for a Monday off) work
   Monday's hours;
3. the weekday's hours.

A span holds from its start up to, not including, its end; spans never
pass midnight (the table's CHECK keeps starts < ends).  Times are "HH:MM"
strings so the plan file keeps them as the admin typed them.  A moment is
read in the schedule's ``timezone`` (the office's, ``Settings.timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property, lru_cache
from zoneinfo import ZoneInfo

import holidays

WEEKDAYS = (1, 2, 3, 4, 5, 6, 7)
MONDAY = 1


@dataclass(frozen=True)
class Span:
    """Hours of one weekday: ``starts`` up to ``ends`` ("HH:MM", starts < ends)."""

    weekday: int
    starts: str
    ends: str


@dataclass(frozen=True)
class SpecialDate:
    """A date set apart by the administrator: ``working`` False is a day off; a working
    date with empty ``starts``/``ends`` works Monday's hours."""

    day: str  # ISO date
    working: bool
    starts: str = ""
    ends: str = ""


@dataclass(frozen=True)
class Schedule:
    """A named set of working hours (see the module doc)."""

    id: int
    name: str
    production_calendar: bool = True
    hours: tuple[Span, ...] = ()
    dates: tuple[SpecialDate, ...] = ()
    timezone: str = "UTC"

    @cached_property
    def _by_weekday(self) -> dict[int, tuple[tuple[time, time], ...]]:
        spans: dict[int, list[tuple[time, time]]] = {}
        for span in self.hours:
            spans.setdefault(span.weekday, []).append((parse_hhmm(span.starts),
                                                       parse_hhmm(span.ends)))
        return {weekday: tuple(sorted(found)) for weekday, found in spans.items()}

    @cached_property
    def _by_date(self) -> dict[date, SpecialDate]:
        return {date.fromisoformat(entry.day): entry for entry in self.dates}

    def hours_on(self, day: date) -> tuple[tuple[time, time], ...]:
        """The spans ``day`` works (empty: a day off), by the rules of the module doc."""
        monday = self._by_weekday.get(MONDAY, ())
        special = self._by_date.get(day)
        if special is not None:
            if not special.working:
                return ()
            if special.starts:
                return ((parse_hhmm(special.starts), parse_hhmm(special.ends)),)
            return monday
        if self.production_calendar:
            kind = production_calendar_day(day)
            if kind == "day off":
                return ()
            if kind == "working":
                return monday
        return self._by_weekday.get(day.isoweekday(), ())

    def is_working(self, at: datetime) -> bool:
        """Whether the schedule is open at ``at`` (aware: read in the schedule's zone;
        naive: taken as the office's wall clock)."""
        local = at.astimezone(ZoneInfo(self.timezone)) if at.tzinfo is not None else at
        moment = local.time().replace(second=0, microsecond=0, tzinfo=None)
        return any(starts <= moment < ends for starts, ends in self.hours_on(local.date()))

    def preview(self, first: date, days: int = 14) -> list[tuple[date, tuple[tuple[time, time], ...]]]:
        """Each of ``days`` days from ``first`` with its hours: what the admin page shows."""
        return [(first + timedelta(n), self.hours_on(first + timedelta(n))) for n in range(days)]


def parse_hhmm(text: str) -> time:
    """'09:30' -> time(9, 30); ValueError for anything that is not HH:MM of a day."""
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise ValueError(f"not a time HH:MM: {text!r}")
    return time(int(text[:2]), int(text[3:]))


def hhmm(moment: time) -> str:
    """time(9, 30) -> '09:30'."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


@lru_cache(maxsize=64)
def _calendar(year: int) -> holidays.HolidayBase:
    return holidays.RU(years=year)


def production_calendar_day(day: date) -> str:
    """What the Russian production calendar makes of ``day``: "day off" (a holiday or a
    moved day off), "working" (a weekend day moved to work), or "usual"."""
    calendar = _calendar(day.year)
    if day in calendar:
        return "day off"
    if day in calendar.weekend_workdays:
        return "working"
    return "usual"

