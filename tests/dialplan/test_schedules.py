"""Schedules: hours per weekday, the administrator's dates, the Russian production calendar."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from dialplan.schedules import Schedule, Span, SpecialDate, parse_hhmm, production_calendar_day

MSK = ZoneInfo("Europe/Moscow")
WEEKDAYS_9_TO_18 = tuple(Span(day, "09:00", "13:00") for day in range(1, 6)) + tuple(
    Span(day, "14:00", "18:00") for day in range(1, 6))


def office(**changes) -> Schedule:
    return Schedule(**{"id": 1, "name": "office", "hours": WEEKDAYS_9_TO_18,
                       "timezone": "Europe/Moscow", **changes})


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=MSK)


def test_open_in_the_weekday_hours_and_closed_at_lunch_and_at_the_end():
    schedule = office()
    assert schedule.is_working(at("2024-03-12 09:00"))      # Tuesday, the first minute
    assert not schedule.is_working(at("2024-03-12 08:59"))
    assert not schedule.is_working(at("2024-03-12 13:30"))  # lunch
    assert schedule.is_working(at("2024-03-12 17:59"))
    assert not schedule.is_working(at("2024-03-12 18:00"))  # the end is not in the span
    assert not schedule.is_working(at("2024-03-16 10:00"))  # Saturday: no hours


def test_a_moment_is_read_on_the_office_clock():
    schedule = office()
    # 06:30 UTC is 09:30 in Moscow.
    assert schedule.is_working(datetime(2024, 3, 12, 6, 30, tzinfo=timezone.utc))
    assert not schedule.is_working(datetime(2024, 3, 12, 5, 30, tzinfo=timezone.utc))


def test_the_production_calendar_closes_holidays_and_opens_moved_saturdays():
    schedule = office()
    assert not schedule.is_working(at("2024-03-08 10:00"))  # Friday, Women's Day
    assert not schedule.is_working(at("2024-04-29 10:00"))  # Monday, moved day off
    assert schedule.is_working(at("2024-04-27 10:00"))      # Saturday worked for it
    assert production_calendar_day(date(2024, 1, 3)) == "day off"
    assert production_calendar_day(date(2024, 11, 2)) == "working"
    assert production_calendar_day(date(2024, 3, 12)) == "usual"


def test_without_the_production_calendar_only_weekdays_count():
    schedule = office(production_calendar=False)
    assert schedule.is_working(at("2024-03-08 10:00"))
    assert not schedule.is_working(at("2024-04-27 10:00"))


def test_the_administrators_dates_come_before_the_calendar():
    schedule = office(dates=(
        SpecialDate("2024-03-08", True, "10:00", "15:00"),   # open on a holiday, short
        SpecialDate("2024-03-12", False),                    # a Tuesday off
        SpecialDate("2024-03-16", True),                     # a Saturday with Monday's hours
    ))
    assert schedule.is_working(at("2024-03-08 14:59"))
    assert not schedule.is_working(at("2024-03-08 09:30"))
    assert not schedule.is_working(at("2024-03-12 10:00"))
    assert schedule.is_working(at("2024-03-16 09:00"))
    assert not schedule.is_working(at("2024-03-16 13:30"))


def test_preview_lists_each_day_with_its_hours():
    days = office().preview(date(2024, 3, 7), days=3)
    assert days == [
        (date(2024, 3, 7), ((time(9), time(13)), (time(14), time(18)))),
        (date(2024, 3, 8), ()),
        (date(2024, 3, 9), ()),
    ]


@pytest.mark.parametrize("text", ["9:00", "24:01", "09:60", "0900", "09-00", ""])
def test_bad_times_are_refused(text):
    with pytest.raises(ValueError):
        parse_hhmm(text)
