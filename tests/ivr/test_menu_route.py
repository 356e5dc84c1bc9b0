"""The menu route: what reaches the dialplan, and what a caller gets when the plan fails."""

from __future__ import annotations

import asyncio
import json

import pytest

from dialplan import names
from dialplan.configuration import AudioFile, Configuration, Handler, MenuItem, Phone
from dialplan.ivr_plan import IVR_PLAN_FILE
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.menu_route import MenuRoute
from ivr.plan_store import PlanStore
from ivr.simulate import DryRunCallbacks
from tests.ivr.fake_call import FakeCall, NullCases


def applied(include_dir, target: str) -> None:
    """An applied menu whose one item sends a key 1 to ``target``."""
    item = MenuItem(id=1, menu_id=1, number="90000", kind="audio", audio_id=1,
                    handlers=(Handler(kind="key", key="1", target=target),))
    config = Configuration(phones=(Phone(id=1, number="100", md5_cred="0" * 32),),
                           audio_files=(AudioFile(id=1, name="Приветствие"),),
                           menu_items=(item,))
    write_files(include_dir, render_all(Settings(), config, revision=1))


def route(tmp_path) -> MenuRoute:
    settings = Settings(include_dir_override=tmp_path)
    return MenuRoute(settings, PlanStore(tmp_path), NullCases(), DryRunCallbacks(None))


def walk(menu: MenuRoute, call: FakeCall) -> None:
    asyncio.run(menu.handle(call, ("90000",)))


def damage_target(include_dir, target: str) -> None:
    path = include_dir / IVR_PLAN_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    data["items"]["90000"]["handlers"][0]["target"] = target
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def test_a_key_to_a_phone_names_the_phone_for_the_dialplan(tmp_path):
    applied(tmp_path, "100")
    call = FakeCall(prompt_keys={0: "1"})
    walk(route(tmp_path), call)
    assert call.variables[names.VAR_NEXT] == "100"


@pytest.mark.parametrize("target", ["100,1)", "100&Hangup", "${SHELL(id)}", "1 00"])
def test_a_target_that_is_no_number_never_reaches_the_dialplan(tmp_path, target):
    applied(tmp_path, "100")
    damage_target(tmp_path, target)
    call = FakeCall(prompt_keys={0: "1"})
    with pytest.raises(ValueError):  # the server sends the call to the fallback apology
        walk(route(tmp_path), call)
    assert names.VAR_NEXT not in call.variables


def test_without_an_applied_plan_the_call_goes_to_the_fallback(tmp_path):
    call = FakeCall()
    with pytest.raises(LookupError):
        walk(route(tmp_path), call)
    assert call.commands == []  # not even answered: the dialplan's fallback answers


def test_a_damaged_plan_before_any_good_one_goes_to_the_fallback(tmp_path):
    (tmp_path / IVR_PLAN_FILE).write_text("{not json", encoding="utf-8")
    call = FakeCall()
    with pytest.raises(LookupError):
        walk(route(tmp_path), call)
    assert call.commands == []
