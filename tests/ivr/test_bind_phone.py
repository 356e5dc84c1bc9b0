"""Binding a phone by dialling 1*<code>: what the operator hears, and what changes."""

from __future__ import annotations

import asyncio

import pytest

from fastagi.settings import Settings
from ivr.bind_phone import ENDPOINT, BindPhoneRoute, bind_phone_by_code
from ivr.plan_store import PlanStore
from tests.ivr.fake_call import FakeCall


class FakeOperators:
    """Users by code; records each binding asked for."""

    def __init__(self, logins_by_code: dict[str, str]):
        self.logins_by_code = logins_by_code
        self.bound: list[tuple[str, str]] = []

    async def bind_phone(self, code: str, phone: str) -> str | None:
        login = self.logins_by_code.get(code)
        if login is not None:
            self.bound.append((code, phone))
        return login


async def pieces(text) -> list[str]:
    """A speaker that 'plays' each piece of the phrase as a file of its own name."""
    return list(text.pieces)


def dial(code: str, endpoint: str | None = "101", caller: str = "101",
         operators: FakeOperators | None = None):
    operators = operators or FakeOperators({"12345": "olga"})
    call = FakeCall(caller=caller,
                    variables={ENDPOINT: endpoint} if endpoint is not None else {})
    login = asyncio.run(bind_phone_by_code(call, code, operators, pieces))
    return call, operators, login


def heard(call: FakeCall) -> str:
    return " ".join(call.prompts)


def test_the_code_of_a_user_binds_the_dialling_phone_to_them():
    call, operators, login = dial("12345", endpoint="101")
    assert login == "olga" and operators.bound == [("12345", "101")]
    assert call.events.of("say") == ["Телефон 1 0 1 привязан к пользователю: оу эл джи эй."]
    assert heard(call) == "Телефон 1 0 1 привязан к пользователю оу эл джи эй"
    assert call.commands[0] == ("answer",) and call.commands[-1] == ("hangup",)


def test_the_phone_is_the_channels_endpoint_never_the_caller_id():
    call, operators, _ = dial("12345", endpoint="101", caller="102")
    assert operators.bound == [("12345", "101")]
    assert ("get_full_variable", "${CHANNEL(endpoint)}") in call.commands


def test_an_unknown_code_is_said_and_binds_nothing():
    call, operators, login = dial("54321")
    assert login is None and operators.bound == []
    assert call.events.of("say") == ["Код привязки 5 4 3 2 1 не найден. Телефон не привязан."]


@pytest.mark.parametrize("code", ["", "1234", "123456", "12*45", "1234#"])
def test_a_code_that_is_not_five_digits_is_said_and_binds_nothing(code):
    call, operators, login = dial(code)
    assert login is None and operators.bound == []
    assert call.events.of("say") == ["Код привязки состоит из пяти цифр. Телефон не привязан."]


@pytest.mark.parametrize("endpoint", [None, "", "provider", "101;x", "Local/1@x"])
def test_a_channel_that_is_no_phone_binds_nothing(endpoint):
    call, operators, login = dial("12345", endpoint=endpoint)
    assert login is None and operators.bound == []
    assert call.events.of("say") == ["Привязать можно только внутренний телефон."]


def test_the_confirmation_cannot_be_cut_short_by_a_key():
    call, _, _ = dial("12345")
    assert all(c[2] == "" for c in call.commands if c[0] == "stream_file")


def test_the_route_speaks_with_the_applied_voice(tmp_path):
    """The route as the server runs it: the speaker's files, the code from ARG2."""
    class Files:
        async def speak(self, text, tts, fallback_prompt):
            return [f"/cache/{piece}" for piece in text.pieces]

    settings = Settings(include_dir_override=tmp_path)
    operators = FakeOperators({"12345": "olga"})
    route = BindPhoneRoute(settings, PlanStore(tmp_path), operators, Files())
    call = FakeCall(variables={ENDPOINT: "101"})
    asyncio.run(route.handle(call, ("12345",)))
    assert operators.bound == [("12345", "101")]
    assert call.prompts[0] == "/cache/Телефон"
