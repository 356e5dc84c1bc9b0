"""The `menu` route: a call to a voice menu item's number walks the menus.

The dialplan sends every menu item number here (ARG2 = the number).  The
server answers, walks the applied plan (``ivr.menu.run_menu``) and ends the
call one of two ways: it hangs up, or, when a handler sends the caller to a
number outside the menus (a phone, an outside number), it names that number
in TELECENTER_NEXT and the dialplan dials it.  A number that is no menu item
in the applied plan is an error: the call leaves through the fallback.

The dialplan puts TELECENTER_NEXT into a Goto, so only a number Apply's own
rule for handler targets accepts (``dialplan.validate.TARGET``) is ever set
there: anything else in the plan file (edited, damaged) sends the caller to
the fallback apology instead of into an arbitrary place of the dialplan.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from zoneinfo import ZoneInfo

from dialplan import names
from dialplan.validate import TARGET
from fastagi.settings import Settings
from ivr.menu import MenuServices, run_menu
from ivr.plan_store import PlanStore
from ivr.playlist import caller_first_name, greets_by_name
from ivr.prompts import prompt_path
from ivr.rules_route import rule_for, utc_now
from ivr.scenarios import SCENARIOS
from ivr.speaker import Speaker


@dataclass
class MenuRoute:
    """What every menu call shares: the applied plan, case look-ups, callback orders, and
    the speaker (``ivr.speaker``: its cache of phrases and its few synthesis threads)."""

    settings: Settings
    plans: PlanStore
    cases: object
    callbacks: object
    speaker: Speaker
    # The clock the override rules of the items a caller enters are read on (tests fix it).
    clock: Callable[[], datetime] = field(default=utc_now)

    async def handle(self, call, args: tuple[str, ...]) -> None:
        number = args[0] if args else call.env.get("extension")
        plan = self.plans.current()
        if number not in plan.items:
            raise LookupError(f"no menu item {number!r} in revision {plan.revision}")
        speak = partial(self.speaker.speak, tts=plan.tts,
                        fallback_prompt=prompt_path(self.settings.sounds_dir, plan.language,
                                                    names.PROMPT_TTS_FAILED))
        zone = ZoneInfo(self.settings.timezone)
        services = MenuServices(speak=speak, scenarios=SCENARIOS, cases=self.cases,
                                callbacks=self.callbacks, queue_info=None,
                                override=lambda target: rule_for(
                                    plan, target, call.env.caller, self.clock().astimezone(zone)))
        # The caller's name is the one text no Apply could say: its synthesis starts now,
        # while the call is answered and the first prompts play.
        naming = (asyncio.ensure_future(self._prepare_name(call, plan))
                  if greets_by_name(plan) else None)
        try:
            await call.answer()
            ending = await run_menu(call, plan, number, services)
        finally:
            if naming is not None:
                naming.cancel()
        if ending.transfer_to:
            if not TARGET.fullmatch(ending.transfer_to):
                raise ValueError(f"the menus sent the call to {ending.transfer_to!r},"
                                 f" which is not a number the dialplan may go to")
            await call.set_variable(names.VAR_NEXT, ending.transfer_to)
        else:
            await call.hangup()

    async def _prepare_name(self, call, plan) -> None:
        name = await caller_first_name(call, self.cases)
        if name is not None:
            self.speaker.prepare(name, plan.tts)
