"""A rollback brings schedules and override rules back, with their ids and history rows."""

from __future__ import annotations

from dialplan.configuration import load_configuration
from tests.dialplan.conftest import add_phone
from tests.dialplan.test_restore import do_apply, do_rollback, rows, setup  # noqa: F401


def build(conn) -> dict:
    add_phone(conn, "201", "pw-201")
    add_phone(conn, "202", "pw-202")
    office = conn.execute("INSERT INTO schedules (name, production_calendar) VALUES ('Office',"
                          " true) RETURNING id").fetchone()[0]
    conn.execute("INSERT INTO schedule_hours (schedule_id, weekday, starts, ends)"
                 " VALUES (%s, 1, '09:00', '13:00'), (%s, 1, '14:00', '18:00')", (office, office))
    conn.execute("INSERT INTO schedule_dates (schedule_id, day, working, starts, ends)"
                 " VALUES (%s, '2024-03-09', true, '10:00', '15:00')", (office,))
    first = conn.execute(
        "INSERT INTO override_rules (called_number, caller_numbers, time_ranges, weekdays,"
        " schedule_id, schedule_inside, redirect, position) VALUES ('201', '{101}',"
        " '{09:00-18:00}', '{1,2}', %s, false, '202', 0) RETURNING id", (office,)).fetchone()[0]
    second = conn.execute("INSERT INTO override_rules (called_number, caller_regexes, position)"
                          " VALUES ('201', '{^8800}', 1) RETURNING id").fetchone()[0]
    return {"office": office, "first": first, "second": second}


def test_a_rollback_restores_schedules_and_rules(setup):
    conn = setup[0]
    conn.execute("DELETE FROM change_log")
    ids = build(conn)
    first = do_apply(setup)
    assert [rule.id for rule in first.configuration.rules] == [ids["first"], ids["second"]]
    conn.execute("DELETE FROM override_rules WHERE id = %s", (ids["second"],))
    conn.execute("UPDATE override_rules SET position = 5, redirect = '', schedule_id = NULL")
    conn.execute("UPDATE schedules SET name = 'Office (old)', production_calendar = false")
    conn.execute("DELETE FROM schedule_dates")
    conn.execute("UPDATE schedule_hours SET ends = '12:00' WHERE starts = '09:00'")
    conn.execute("INSERT INTO schedules (name) VALUES ('Night')")
    do_apply(setup)

    do_rollback(setup, first.id)

    assert load_configuration(conn) == first.configuration
    history = rows(conn, "SELECT object_type, object_id FROM change_log WHERE action = 'rollback'"
                         " AND object_type IN ('schedule', 'override rule') ORDER BY id")
    assert history == [
        {"object_type": "schedule", "object_id": "Office"},
        {"object_type": "schedule", "object_id": "Night"},
        {"object_type": "override rule", "object_id": f"201 #{ids['first']}"},
        {"object_type": "override rule", "object_id": f"201 #{ids['second']}"},
    ]
    # The next new rule does not collide with the ids brought back.
    new = conn.execute("INSERT INTO override_rules (called_number) VALUES ('202') RETURNING id"
                       ).fetchone()[0]
    assert new > ids["second"]
