"""The server walks the menus of the files Apply wrote last, and survives a broken file."""

import os

from dialplan.configuration import Configuration, MenuItem
from dialplan.ivr_plan import IVR_PLAN_FILE
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.plan_store import PlanStore


def applied(include_dir, revision, *numbers):
    config = Configuration(menu_items=tuple(
        MenuItem(id=i, menu_id=1, number=n, kind="tts", text=f"Пункт {n}")
        for i, n in enumerate(numbers, 1)))
    write_files(include_dir, render_all(Settings(), config, revision=revision))


def test_before_any_apply_there_are_no_menus(tmp_path):
    assert PlanStore(tmp_path).current().items == {}


def test_a_new_apply_is_picked_up_on_the_next_call(tmp_path):
    store = PlanStore(tmp_path)
    applied(tmp_path, 1, "90000")
    assert set(store.current().items) == {"90000"}
    applied(tmp_path, 2, "90000", "91000")
    plan = store.current()
    assert plan.revision == 2 and set(plan.items) == {"90000", "91000"}
    assert plan.items["91000"].text == "Пункт 91000"


def test_a_broken_file_keeps_the_last_good_menus(tmp_path):
    store = PlanStore(tmp_path)
    applied(tmp_path, 1, "90000")
    assert store.current().revision == 1
    path = tmp_path / IVR_PLAN_FILE
    path.write_text("{not json")
    os.utime(path, ns=(1, 1))  # a different stamp even within one clock tick
    plan = store.current()
    assert plan.revision == 1 and set(plan.items) == {"90000"}


def test_the_queues_travel_in_the_plan_file():
    from dialplan.configuration import Queue, QueueKey
    from dialplan.ivr_plan import IvrPlan, plan_from_json, plan_to_json

    queue = Queue(id=3, name="Справки", number="92000", ring_at_once=None, sticky=True,
                  max_wait_seconds=600, members=("101", "102"), keys=(QueueKey("3", "93000"),))
    plan = plan_from_json(plan_to_json(IvrPlan(revision=4, queues={"92000": queue}), "test"))
    assert plan.queues == {"92000": queue}
