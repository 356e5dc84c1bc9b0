"""Override rules (spec 10): which rule, if any, takes a call. Pure.

A rule belongs to one called number.  Its conditions are lists (caller
numbers, caller regexes, time ranges, weekdays) and a schedule (inside or
outside its hours); an empty list or no schedule is no condition.  A rule
fires when every filled condition holds: the caller is one of its numbers,
the caller matches one of its regexes (``re.search``: anchor with ^ and $
for whole numbers), the time of day is in one of its ranges, the weekday is
one of its weekdays, the schedule is open (or closed, for "outside").  The
rules of a number are tried in position order; the first that fires wins,
and the call goes to its redirect ('' ends the call).

A time range is "HH:MM-HH:MM", from its start up to, not including, its
end.  An end before the start passes midnight: "22:00-06:00" holds from
22:00 to 23:59 and from 00:00 to 05:59 (of any day the weekdays allow: the
weekday is the one of the moment, not of the evening the range began).
"24:00" may end a range (to the end of the day); a range whose start equals
its end is refused (``time_range_problem``).  Moments are read on the
office's clock: the caller of ``first_match`` passes ``at`` in that zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time

from dialplan.messages import N_, Message, quoted
from dialplan.schedules import Schedule

_RANGE = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
END_OF_DAY = 24 * 60


@dataclass(frozen=True)
class Rule:
    """One override rule, as its row holds it (see the module doc)."""

    id: int
    called_number: str
    caller_numbers: tuple[str, ...] = ()
    caller_regexes: tuple[str, ...] = ()
    time_ranges: tuple[str, ...] = ()
    weekdays: tuple[int, ...] = ()
    schedule_id: int | None = None
    schedule_inside: bool = True
    redirect: str = ""
    position: int = 0
    comment: str = ""


def range_minutes(text: str) -> tuple[int, int]:
    """'09:00-18:00' -> (540, 1080) minutes of the day; ValueError when it is not a range
    (see ``time_range_problem`` for why)."""
    problem = time_range_problem(text)
    if problem is not None:
        raise ValueError(problem.render())
    match = _RANGE.fullmatch(text)
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def time_range_problem(text: str) -> Message | None:
    """Why ``text`` is not a time range "HH:MM-HH:MM", or None."""
    match = _RANGE.fullmatch(text)
    if match is None:
        return Message(N_("time range %(text)s is not HH:MM-HH:MM (e.g. 09:00-18:00)"),
                       {"text": quoted(text)})
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        return Message(N_("time range %(text)s has a time that is not on a clock (00:00 to"
                          " 23:59; 24:00 may end a range)"), {"text": quoted(text)})
    if h1 * 60 + m1 == h2 * 60 + m2:
        return Message(N_("time range %(text)s starts when it ends: it would hold never (or"
                          " always): use 00:00-24:00 for the whole day"), {"text": quoted(text)})
    return None


def in_range(text: str, moment: time) -> bool:
    """Whether ``moment`` is in range ``text``; a range past midnight wraps round."""
    starts, ends = range_minutes(text)
    minute = moment.hour * 60 + moment.minute
    if starts < ends:
        return starts <= minute < ends
    return minute >= starts or minute < ends


def holds(rule: Rule, caller: str, at: datetime,
          schedules: Mapping[int, Schedule]) -> bool:
    """Whether every filled condition of ``rule`` holds for ``caller`` at ``at``.

    A rule whose schedule is unknown never fires (Apply refuses such a rule;
    a plan file from elsewhere must not make it fire by accident).
    """
    if rule.caller_numbers and caller not in rule.caller_numbers:
        return False
    if rule.caller_regexes and not any(re.search(pattern, caller)
                                       for pattern in rule.caller_regexes):
        return False
    if rule.weekdays and at.isoweekday() not in rule.weekdays:
        return False
    if rule.time_ranges and not any(in_range(text, at.time()) for text in rule.time_ranges):
        return False
    if rule.schedule_id is not None:
        schedule = schedules.get(rule.schedule_id)
        if schedule is None or schedule.is_working(at) != rule.schedule_inside:
            return False
    return True


def first_match(rules: Iterable[Rule], called: str, caller: str, at: datetime,
                schedules: Mapping[int, Schedule]) -> Rule | None:
    """The rule that takes a call from ``caller`` to ``called`` at ``at``, or None:
    the first, by position, of ``called``'s rules whose conditions all hold."""
    mine = sorted((rule for rule in rules if rule.called_number == called),
                  key=lambda rule: (rule.position, rule.id))
    return next((rule for rule in mine if holds(rule, caller, at, schedules)), None)
