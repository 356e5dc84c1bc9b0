"""The `rules` route: which override rule, if any, takes a call (spec 10).

The dialplan runs it first for every number with override rules ([telecenter-rules],
ARG2 the called number), before the call is answered.  The server reads the
applied plan's rules of that number on its clock (``clock``: injectable, so
tests fix the time), in the office's zone (``Settings.timezone``), and
writes in the call's steps which rule fired.  A rule that fired sets
TELECENTER_RULE to its id and TELECENTER_NEXT to its redirect ('' ends the
call); with none, both stay empty and the dialplan goes on with the number's
usual route, as it does when the server cannot be asked at all.

The menus enter items in the server without the dialplan, so they ask
``rule_for`` too when a handler leads to a menu item (``ivr.menu``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from dialplan import names
from dialplan.ivr_plan import IvrPlan
from dialplan.messages import N_, MessageText
from dialplan.override_rules import Rule, first_match
from dialplan.validate import TARGET
from fastagi.settings import Settings
from ivr.plan_store import PlanStore


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rule_for(plan: IvrPlan, number: str, caller: str, at: datetime) -> Rule | None:
    """The rule of ``plan`` that takes ``caller``'s call to ``number`` at ``at``, or None."""
    return first_match(plan.rules.get(number, ()), number, caller, at, plan.schedules)


def fired_text(plan: IvrPlan, rule: Rule) -> MessageText:
    """What the call's steps (and the simulator) say of a rule that fired."""
    index = [other.id for other in plan.rules.get(rule.called_number, ())].index(rule.id) + 1
    if rule.redirect:
        return MessageText(N_("override rule %(index)s of %(number)s fired: the call goes to"
                              " %(target)s"), index=index, number=rule.called_number,
                           target=rule.redirect)
    return MessageText(N_("override rule %(index)s of %(number)s fired: the call ends"),
                       index=index, number=rule.called_number)


def none_text(number: str) -> MessageText:
    return MessageText(N_("no override rule of %(number)s holds: its usual route"),
                       number=number)


@dataclass
class RulesRoute:
    """The applied plan, the office's zone and the clock the rules are read on."""

    settings: Settings
    plans: PlanStore
    clock: Callable[[], datetime] = field(default=utc_now)

    def now(self) -> datetime:
        """The moment on the office's clock."""
        return self.clock().astimezone(ZoneInfo(self.settings.timezone))

    async def handle(self, call, args: tuple[str, ...]) -> None:
        number = args[0] if args else call.env.get("extension")
        plan = self.plans.current()
        rule = rule_for(plan, number, call.env.caller, self.now())
        if rule is None:
            call.events.event("rule", none_text(number))
            return
        if rule.redirect and not TARGET.fullmatch(rule.redirect):
            raise ValueError(f"rule {rule.id} sends the call to {rule.redirect!r},"
                             f" which is not a number the dialplan may go to")
        call.events.event("rule", fired_text(plan, rule))
        await call.set_variable(names.VAR_NEXT, rule.redirect)
        await call.set_variable(names.VAR_RULE, str(rule.id))
