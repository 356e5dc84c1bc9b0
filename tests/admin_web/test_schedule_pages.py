"""The schedules section: hours per weekday, dates, the calendar, the 14-day preview, errors."""

import html

import pytest

from tests.admin_web.test_rule_pages import clean  # noqa: F401


@pytest.fixture
def admin(auth, clean):  # noqa: F811
    auth.login()
    auth.post("/language/en")
    return auth


def schedule_data(**changes) -> dict:
    data = {"name": "Офис", "production_calendar": "y", "day1": "09:00-13:00, 14:00-18:00",
            "day2": "9:00-18:00", "day3": "", "day4": "", "day5": "09:00-17:00", "day6": "",
            "day7": "", "dates": "2030-01-09 off\n2030-01-12 10:00-15:00\n2030-01-13 on"}
    data.update(changes)
    return data


def page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_schedule_is_stored_with_its_hours_and_dates(admin, clean):  # noqa: F811
    response = admin.post("/schedules/new", schedule_data(), form_page="/schedules/new")
    assert response.status_code == 302
    sid = clean.execute("SELECT id FROM schedules WHERE name = 'Офис'").fetchone()["id"]
    hours = clean.execute("SELECT weekday, starts::text, ends::text FROM schedule_hours"
                          " WHERE schedule_id = %s ORDER BY weekday, starts", (sid,)).fetchall()
    assert [(h["weekday"], h["starts"], h["ends"]) for h in hours] == [
        (1, "09:00:00", "13:00:00"), (1, "14:00:00", "18:00:00"), (2, "09:00:00", "18:00:00"),
        (5, "09:00:00", "17:00:00")]
    dates = clean.execute("SELECT day::text, working, starts::text FROM schedule_dates"
                          " WHERE schedule_id = %s ORDER BY day", (sid,)).fetchall()
    assert [(d["day"], d["working"], d["starts"]) for d in dates] == [
        ("2030-01-09", False, None), ("2030-01-12", True, "10:00:00"), ("2030-01-13", True, None)]
    listed = page(admin._client.get("/schedules/"))
    assert listed.count("<tr class=") == 14  # the next 14 days
    form = page(admin._client.get(f"/schedules/{sid}"))
    assert "2030-01-12 10:00-15:00" in form and 'value="09:00-13:00, 14:00-18:00"' in form
    assert clean.execute("SELECT action FROM change_log WHERE object_type = 'schedule'"
                         ).fetchall() == [{"action": "create"}]


def test_bad_hours_and_dates_each_say_their_error_and_nothing_is_stored(admin, clean):  # noqa: F811
    response = admin.post("/schedules/new", schedule_data(
        day1="18:00-09:00", day2="09:00-13:00, 12:00-14:00",
        dates="2030-02-30 off\n2030-01-09 maybe"), form_page="/schedules/new")
    assert response.status_code == 400
    text = page(response)
    assert "18:00-09:00 is not a span HH:MM-HH:MM that starts before it ends." in text
    assert "12:00-14:00 overlaps another span." in text
    assert "Line 1: start with a date YYYY-MM-DD" in text
    assert "Line 2: after the date write off, on or hours HH:MM-HH:MM." in text
    assert clean.execute("SELECT count(*) AS n FROM schedules WHERE name = 'Офис'"
                         ).fetchone()["n"] == 0


def test_russian_by_default(auth, clean):  # noqa: F811
    auth.login()
    text = page(auth._client.get("/schedules/new"))
    assert "Производственный календарь" in text and "Понедельник" in text
