"""The demo configuration on a fresh real database: it validates, and its menu answers."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.configuration import load_configuration
from dialplan.configuration import sip_digest
from dialplan.demo_configuration import (DEMO_CALLER, DEMO_CASE_NUMBER, DEMO_CASE_STATUS,
                                         DEMO_ITEMS, DEMO_PHONES, load_demo_configuration)
from dialplan.ivr_plan import build_plan
from dialplan.validate import check, validate
from fastagi.database import open_pool
from fastagi.settings import Settings
from ivr.cases import PgCaseBackend, case_number_keys
from ivr.simulate import simulate


@pytest.fixture
def fresh(fresh_database):
    with psycopg.connect(fresh_database, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def counts(conn) -> dict[str, int]:
    return {table: conn.execute(f"SELECT count(*) AS n FROM {table}").fetchone()["n"]
            for table in ("menus", "menu_items", "menu_handlers", "persons", "cases", "phones",
                          "queues", "queue_members", "playlists")}


def walk(url: str, plan, keys: list[str], caller: str = DEMO_CALLER) -> list[str]:
    async def go():
        pool = await open_pool(url, max_size=1)
        try:
            return await simulate(plan, "90000", caller, keys, PgCaseBackend(pool))
        finally:
            await pool.close()
    return asyncio.run(go())


def demo_plan(conn, tmp_path):
    config = load_configuration(conn)
    assert validate(config) == []
    return build_plan(config, Settings(var_dir=tmp_path))


def test_the_demo_loads_once_into_a_fresh_database(fresh):
    assert load_demo_configuration(fresh) is True
    loaded = counts(fresh)
    assert loaded["menus"] == 1 and loaded["menu_items"] == len(DEMO_ITEMS)
    assert load_demo_configuration(fresh) is False
    assert counts(fresh) == loaded


def test_the_demo_menu_validates_and_follows_the_seed(fresh, tmp_path):
    load_demo_configuration(fresh)
    plan = demo_plan(fresh, tmp_path)
    assert sorted(plan.items) == ["90000", "91000", "91100", "91110", "91200", "93000"]
    main = plan.items["90000"]
    assert {(h.kind, h.key or h.seconds, h.target) for h in main.handlers} == {
        ("key", "0", "90000"), ("key", "1", "91000"), ("key", "2", "92000"),
        ("key", "3", "93000"), ("timeout", 15, "92000")}
    assert [plan.items[n].scenario for n in ("91110", "91200", "93000")] == [
        "case_status", "open_cases", "callback"]


def test_a_walk_to_the_case_status_says_the_demo_cases_status(fresh, fresh_database, tmp_path):
    load_demo_configuration(fresh)
    keys = ["1", "1", case_number_keys(DEMO_CASE_NUMBER)]
    steps = walk(fresh_database, demo_plan(fresh, tmp_path), keys)
    items = [line.split()[1] for line in steps if line.startswith("item ")]
    assert items == ["90000", "91000", "91100", "91110"]
    said = "\n".join(line for line in steps if line.startswith("  says: "))
    assert DEMO_CASE_STATUS in said and "от двенадцатого марта две тысячи двадцать шестого года" in said
    assert steps[-1].startswith("end: hang up")


def test_a_walk_to_the_open_cases_reads_the_demo_callers_open_cases(fresh, fresh_database, tmp_path):
    load_demo_configuration(fresh)
    steps = "\n".join(walk(fresh_database, demo_plan(fresh, tmp_path), ["1", "2"]))
    rows = fresh.execute("SELECT c.status, c.is_open FROM cases c JOIN persons p"
                         " ON p.id = c.person_id WHERE p.phone = %s", (DEMO_CALLER,)).fetchall()
    assert sum(row["is_open"] for row in rows) == 2
    for row in rows:
        assert (row["status"] in steps) == row["is_open"], steps


def test_silence_or_2_at_the_main_menu_reaches_the_operators_queue(fresh, fresh_database,
                                                                    tmp_path):
    load_demo_configuration(fresh)
    plan = demo_plan(fresh, tmp_path)
    for keys in (["timeout"], ["2"]):
        steps = walk(fresh_database, plan, keys)
        assert steps[-1] == "end: the call goes to 92000", steps
    assert str(plan.numbers["92000"]) == "queue 92000"


def test_the_operators_queue_rings_both_demo_phones_and_speaks_position_and_wait(fresh, tmp_path):
    passwords = {"201": "Demo-201-secret", "202": "Demo-202-secret"}
    load_demo_configuration(fresh, passwords)
    plan = demo_plan(fresh, tmp_path)
    queue = plan.queues["92000"]
    assert queue.name == "Операторы" and queue.members == DEMO_PHONES == ("201", "202")
    assert queue.ring_at_once is None and queue.stop_when_empty and queue.when_empty_number == ""
    # 3 orders a callback that keeps the caller's place, as the hold playlist says.
    assert queue.keys == () and queue.callback_key == "3"
    hold = plan.playlists[queue.playlist_id]
    assert [item.kind for item in hold.items] == ["tts", "queue_position", "estimated_wait"]
    assert "нажмите тройку" in hold.items[0].text
    digests = {row["number"]: row["md5_cred"]
               for row in fresh.execute("SELECT number, md5_cred FROM phones")}
    assert digests == {n: sip_digest(n, p) for n, p in passwords.items()}
    assert check(load_configuration(fresh)) == []  # not even a warning on Apply


def test_a_phone_the_office_already_has_keeps_its_password_and_answers_the_queue(fresh, tmp_path):
    fresh.execute("INSERT INTO phones (number, md5_cred) VALUES ('201', %s)",
                  (sip_digest("201", "own"),))
    load_demo_configuration(fresh, {"201": "Demo-201-secret", "202": "Demo-202-secret"})
    digest = fresh.execute("SELECT md5_cred FROM phones WHERE number = '201'").fetchone()
    assert digest["md5_cred"] == sip_digest("201", "own")
    assert demo_plan(fresh, tmp_path).queues["92000"].members == ("201", "202")


def test_people_already_there_are_kept_and_get_no_demo_company(fresh):
    fresh.execute("INSERT INTO persons (full_name, phone) VALUES ('Кузнецова Ольга', '79991112233')")
    assert load_demo_configuration(fresh) is True
    assert counts(fresh)["menus"] == 1
    assert [r["full_name"] for r in fresh.execute("SELECT full_name FROM persons")] == [
        "Кузнецова Ольга"]
    assert counts(fresh)["cases"] == 0


def test_a_database_with_a_menu_is_left_alone(fresh):
    fresh.execute("INSERT INTO menus (name) VALUES ('Своё меню')")
    assert load_demo_configuration(fresh) is False
    assert counts(fresh) == {"menus": 1, "menu_items": 0, "menu_handlers": 0, "persons": 0,
                             "cases": 0, "phones": 0, "queues": 0, "queue_members": 0,
                             "playlists": 0}
