"""The `bind-phone` route: an operator dials 1*<code> from a phone to make it theirs (spec 7).

The phones' context sends ``1*`` and five digits here, the digits as ARG2
(lines never reach it).  Which phone dialled is the channel's endpoint,
``${CHANNEL(endpoint)}``: the name Asterisk authenticated the phone by, never
the caller id, which a phone sets as it likes.  The phone is bound to the
user whose code it is (``ivr.operators``), and the caller hears the result:
the phone and whose it is now (the login, letter by letter), or why nothing
changed (a code that is not five digits, a code nobody has, a channel that
is not a phone).  Every word is a fixed piece of ``ivr.phrases``' vocabulary,
which Apply synthesised: nothing is synthesised while the operator listens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

from dialplan import names
from fastagi.settings import Settings
from ivr import phrases
from ivr.operators import BIND_CODE, PHONE_NUMBER
from ivr.plan_store import PlanStore
from ivr.prompts import prompt_path
from ivr.speaker import Speaker

# The dialling phone, as Asterisk knows it.
ENDPOINT = "${CHANNEL(endpoint)}"


@dataclass
class BindPhoneRoute:
    """What every binding call shares: the applied plan (for its voice), the operators'
    tables (``ivr.operators.PgOperators``) and the speaker."""

    settings: Settings
    plans: PlanStore
    operators: object
    speaker: Speaker

    async def handle(self, call, args: tuple[str, ...]) -> None:
        plan = self.plans.current()
        speak = partial(self.speaker.speak, tts=plan.tts,
                        fallback_prompt=prompt_path(self.settings.sounds_dir, plan.language,
                                                    names.PROMPT_TTS_FAILED))
        await bind_phone_by_code(call, args[0] if args else "", self.operators, speak)


async def bind_phone_by_code(call, code: str, operators,
                             speak: Callable[[str], Awaitable[list[str]]]) -> str | None:
    """Bind the calling phone to the user of ``code`` and tell the caller; the login it is
    bound to now, or None when nothing changed."""
    await call.answer()
    login = None
    if not BIND_CODE.fullmatch(code):
        said = phrases.bind_code_malformed()
    else:
        phone = await call.get_full_variable(ENDPOINT)
        if phone is None or not PHONE_NUMBER.fullmatch(phone):
            said = phrases.only_phones_bind()
        else:
            login = await operators.bind_phone(code, phone)
            said = (phrases.phone_bound(phone, login) if login is not None
                    else phrases.bind_code_unknown(code))
    call.events.event("say", said)
    for prompt in await speak(said):
        await call.stream_file(prompt, "")
    await call.hangup()
    return login
