"""Playlists: what a caller hears while waiting (spec 5).

A playlist is a list of items played one after another: recordings, fixed
texts, and *dynamic* items said for this caller only: their place in the
queue, the estimated wait, a greeting by name.  In order or shuffled (each
round shuffled anew), once (a menu item) or round and round (a queue),
until the caller presses a key.  A dynamic item with nothing to say (no
queue, no single person with the caller's number, the case database down)
is skipped silently.
Pure logic over the call and the menu services; no I/O of its own.
"""

from __future__ import annotations

import random

from dialplan.configuration import Playlist, PlaylistItem
from dialplan.ivr_plan import IvrPlan
from ivr.cases import LookupUnavailable
from ivr import phrases


async def play_playlist(call, plan: IvrPlan, playlist: Playlist, services, loop: bool = False,
                        rng=random, between=None) -> str | None:
    """Play the playlist once (or until a key when ``loop``); the key that stopped it.

    A looping playlist of which a whole round said nothing (only dynamic items,
    none with an answer) stops instead of spinning.  ``between``, when given, is
    awaited before each item (a queue says a changed position there); a key it
    returns stops the playlist too.
    """
    while True:
        items = list(playlist.items)
        if playlist.mode == "random":
            rng.shuffle(items)
        played = False
        for item in items:
            if between is not None:
                key = await between()
                if key is not None:
                    return key
            text_or_file = await _what_to_play(call, plan, item, services)
            if text_or_file is None:
                continue
            played = True
            kind, what = text_or_file
            key = (await services.say(call, what) if kind == "say"
                   else await call.stream_file(what))
            if key is not None:
                return key
        if not loop or not played:
            return None


async def _what_to_play(call, plan: IvrPlan, item: PlaylistItem,
                        services) -> tuple[str, str] | None:
    """('file', path) or ('say', text) for one item; None when it has nothing to say."""
    if item.kind == "audio":
        return "file", plan.audio_path(item.audio_id)
    if item.kind == "tts":
        return "say", item.text
    if item.kind == "greeting":
        text = await _greeting(call, services)
    elif item.kind in ("queue_position", "estimated_wait"):
        answer = None if services.queue_info is None else await services.queue_info(call, item.kind)
        text = None if answer is None else _QUEUE_PHRASES[item.kind](answer)
    else:
        raise ValueError(f"unknown playlist item kind {item.kind!r}")
    return None if text is None else ("say", text)


async def _greeting(call, services) -> str | None:
    """'Здравствуйте, <имя>!' when the caller's number names exactly one person."""
    name = await caller_first_name(call, services.cases)
    return None if name is None else phrases.greeting(name)


async def caller_first_name(call, cases) -> str | None:
    """The first name of the one person the caller's number names, if any; None when the
    case database cannot say (a greeting is a courtesy: the wait goes on without it)."""
    caller = call.env.caller
    if not caller or cases is None:
        return None
    try:
        person = await cases.person_by_phone(caller)
    except LookupUnavailable:
        return None
    return person.first_name if person is not None and person.first_name else None


def greets_by_name(plan: IvrPlan) -> bool:
    """Whether any playlist of the plan greets the caller by name."""
    return any(item.kind == "greeting" for playlist in plan.playlists.values()
               for item in playlist.items)


_QUEUE_PHRASES = {"queue_position": phrases.queue_position,
                  "estimated_wait": phrases.estimated_wait}
