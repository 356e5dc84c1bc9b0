"""The queue routes: a caller waiting in a queue (``queue``), a member's phone answering
(``queue-answer``).

The caller's route answers, takes a place (``QueueRuntime.join``; a route
run again after a server restart finds its place kept), sets
TELECENTER_QUEUE_JOINED so the dialplan runs it again should the server go
away, and holds the caller: the queue's hold playlist round and round, the
position said again between pieces when it changed, or plain ringing.  A key
of the queue's keys leaves the queue to that key's number.  The queue's
callback key keeps the caller's place as a callback entry (``ivr.queue_engine``
rule 8): they hear that they will be called back and the route hangs up.  Everything else
happens to the caller from outside: the member's route pulls them into a
bridge, or the runtime redirects them away; either way Asterisk takes the
channel from this route (``200 result=-1``, ``HANGUP``), which then ends
quietly.

The member's route runs on the phone's leg once it answered: if the
runtime says this answer won, it bridges the caller in (for a callback entry it
names the callback call and the citizen, and the dialplan dials them,
``ivr.callback_calls``) (``Bridge`` with
``T``: the member may transfer with the features' keys, and ``t`` too, for
the caller, unless they came in on an external line); when the talk ends the
member's wrap-up starts.  A late answer is hung up.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from functools import partial

from dialplan import names
from dialplan.validate import TARGET
from fastagi.settings import Settings
from ivr import phrases
from ivr.menu import MenuServices
from ivr.plan_store import PlanStore
from ivr.playlist import caller_first_name, greets_by_name, play_playlist
from ivr.prompts import prompt_path
from ivr.queue_runtime import QueueRuntime
from ivr.scenarios import SCENARIOS
from ivr.speaker import Speaker

# Plain ringing listens for keys in slices this long (ms).
RING_SLICE_MS = 1000
# A caller the runtime no longer holds is normally taken from the route by Asterisk
# within moments (bridged, redirected); one still here after this long (the member
# hung up before the bridge) is let go: the call ends.
LOST_SECONDS = 10.0


@dataclass
class QueueRoute:
    """What every waiting caller shares: the plan, the runtime, speech and case look-ups."""

    settings: Settings
    plans: PlanStore
    runtime: QueueRuntime
    cases: object
    callbacks: object
    speaker: Speaker

    async def handle(self, call, args: tuple[str, ...]) -> None:
        number = args[0] if args else call.env.get("extension")
        plan = self.plans.current()
        queue = plan.queues.get(number)
        if queue is None:
            raise LookupError(f"no queue {number!r} in revision {plan.revision}")
        if not self.runtime.can_ring:  # the caller would wait for nobody: the fallback
            raise RuntimeError(f"queue {number}: members cannot be rung without AMI")
        await call.answer()
        caller_id = call.env.unique_id
        external = (await call.get_variable(names.VAR_EXTERNAL)) == "yes"
        naming = (asyncio.ensure_future(self._prepare_name(call, plan))
                  if greets_by_name(plan) else None)
        try:
            if not await self.runtime.join(queue, caller_id, call.env.channel, call.env.caller,
                                           external):
                call.events.event("queue", f"{number}: this queue call is already over")
                return
            call.events.event("queue", f"{number}: waiting as {caller_id}")
            await call.set_variable(names.VAR_QUEUE_JOINED, "1")
            while True:
                key = await self._hold(call, plan, queue, caller_id)
                if key is None or key != queue.callback_key:
                    break
                if await self._keep_for_callback(call, plan, queue, caller_id):
                    return
        finally:
            if naming is not None:
                naming.cancel()
        if key is None:
            call.events.event("queue", f"{number}: no longer in the queue, the call ends")
            return
        target = {k.key: k.target for k in queue.keys}[key]
        if target and not TARGET.fullmatch(target):
            raise ValueError(f"queue {number} key {key} sends the call to {target!r},"
                             f" which is not a number the dialplan may go to")
        await self.runtime.caller_left(caller_id, "key")
        call.events.event("queue", f"{number}: left with key {key} for {target or 'hang-up'}")
        await call.set_variable(names.VAR_NEXT, target)

    async def _keep_for_callback(self, call, plan, queue, caller_id: str) -> bool:
        """The callback key: the caller keeps their place as a callback entry, is told so,
        and the call ends (True).  A caller without a number to call back is told so and
        keeps waiting on the line (False)."""
        callback_id = await self.runtime.callback_requested(caller_id)
        if callback_id is None:
            call.events.event("queue", f"{queue.number}: no callback without the caller's"
                                       " number, still waiting")
            await self._say(call, plan, phrases.Phrase(phrases.NO_PHONE_FOR_CALLBACK))
            return False
        call.events.event("queue", f"{queue.number}: keeps the place for callback"
                                   f" request {callback_id}")
        await self._say(call, plan, phrases.queue_callback_kept())
        await call.hangup()
        return True

    async def _say(self, call, plan, text: str) -> None:
        call.events.event("say", text)
        prompts = await self.speaker.speak(
            text, tts=plan.tts, fallback_prompt=prompt_path(
                self.settings.sounds_dir, plan.language, names.PROMPT_TTS_FAILED))
        for prompt in prompts:
            await call.stream_file(prompt, "")

    async def _hold(self, call, plan, queue, caller_id: str) -> str | None:
        """Hold the caller until they press one of the queue's keys or its callback key
        (that key), or until the runtime has long stopped holding them (None)."""
        keys = {k.key for k in queue.keys} | ({queue.callback_key} if queue.callback_key
                                              else set())
        lost = _Lost(self.runtime, caller_id)
        speak = partial(self.speaker.speak, tts=plan.tts,
                        fallback_prompt=prompt_path(self.settings.sounds_dir, plan.language,
                                                    names.PROMPT_TTS_FAILED))
        told = {"position": None}

        async def queue_info(_call, kind: str) -> int | None:
            if kind == "queue_position":
                told["position"] = self.runtime.position(caller_id)
                return told["position"]
            return await self.runtime.estimated_wait(caller_id)

        services = MenuServices(speak=speak, scenarios=SCENARIOS, cases=self.cases,
                                callbacks=self.callbacks, queue_info=queue_info)
        playlist = plan.playlists.get(queue.playlist_id) if queue.playlist_id else None
        says_position = playlist is not None and any(
            item.kind == "queue_position" for item in playlist.items)

        async def position_again(upcoming) -> str | None:
            if lost():
                return _LOST
            position = self.runtime.position(caller_id)
            if not says_position or told["position"] is None or not position \
                    or position == told["position"] or upcoming.kind == "queue_position":
                return None  # unchanged, or the next item says it anyway
            told["position"] = position
            return await services.say(call, phrases.queue_position(position))

        while True:
            if playlist is not None:
                key = await play_playlist(call, plan, playlist, services, loop=True,
                                          between=position_again)
                if key is None:  # a round that said nothing: ring instead
                    playlist = None
                    continue
            else:
                key = await _ring_until_key(call, keys, lost)
            if key == _LOST:
                return None
            if key in keys:
                return key

    async def _prepare_name(self, call, plan) -> None:
        name = await caller_first_name(call, self.cases)
        if name is not None:
            self.speaker.prepare(name, plan.tts)


_LOST = "lost"


class _Lost:
    """True once the runtime has not held the caller for LOST_SECONDS."""

    def __init__(self, runtime, caller_id: str):
        self.runtime, self.caller_id = runtime, caller_id
        self.since: float | None = None

    def __call__(self) -> bool:
        if self.runtime.waiting(self.caller_id):
            self.since = None
            return False
        now = time.monotonic()
        self.since = self.since or now
        return now - self.since >= LOST_SECONDS


async def _ring_until_key(call, keys: set[str], lost) -> str:
    """Plain ringing until one of ``keys`` is pressed (or the caller is lost: _LOST)."""
    await call.exec_app("Playtones", "ring")
    while True:
        key = await call.wait_for_digit(RING_SLICE_MS)
        if key is not None and key in keys:
            await call.exec_app("StopPlaytones")
            return key
        if lost():
            return _LOST


@dataclass
class QueueAnswerRoute:
    """A member's phone answered a queue ring: bridge the caller in if this answer won."""

    runtime: QueueRuntime

    async def handle(self, call, args: tuple[str, ...]) -> None:
        caller_id = args[0] if args else ""
        phone = await call.get_variable(names.VAR_QUEUE_PHONE) or ""
        target = await self.runtime.answered(caller_id, phone)
        if target is None:
            call.events.event("queue", f"{phone}: answered too late for {caller_id}")
            await call.hangup()
            return
        if target.callback:
            await self._call_back(call, caller_id, phone, target)
            return
        call.events.event("queue", f"{phone}: talks to {caller_id}")
        try:
            await call.bridge(target.channel, "T" if target.external else "Tt")
        finally:
            self.runtime.spawn(self.runtime.talk_ended(caller_id, phone))
        await call.hangup()

    async def _call_back(self, call, caller_id: str, phone: str, target) -> None:
        """A callback entry: the dialplan dials the citizen from this leg (its hangup
        handler ends the talk); a request done or called elsewhere meanwhile: hang up."""
        if target.callback_call is None:
            call.events.event("queue", f"{phone}: callback {caller_id} is done or called"
                                       " by somebody else")
            self.runtime.spawn(self.runtime.talk_ended(caller_id, phone))
            await call.hangup()
            return
        call.events.event("queue", f"{phone}: calls back {target.citizen} for {caller_id}"
                                   f" (callback call {target.callback_call})")
        await call.set_variable(names.VAR_CALLBACK_CALL, str(target.callback_call))
        await call.set_variable(names.VAR_NEXT, target.citizen)
