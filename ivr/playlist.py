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
from ivr.russian import count_words, number_words


async def play_playlist(call, plan: IvrPlan, playlist: Playlist, services, loop: bool = False,
                        rng=random) -> str | None:
    """Play the playlist once (or until a key when ``loop``); the key that stopped it.

    A looping playlist of which a whole round said nothing (only dynamic items,
    none with an answer) stops instead of spinning.
    """
    while True:
        items = list(playlist.items)
        if playlist.mode == "random":
            rng.shuffle(items)
        played = False
        for item in items:
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
    caller = call.env.caller
    if not caller or services.cases is None:
        return None
    try:
        person = await services.cases.person_by_phone(caller)
    except LookupUnavailable:
        return None  # a greeting is a courtesy: the wait goes on without it
    if person is None or not person.first_name:
        return None
    return f"Здравствуйте, {person.first_name}!"


def queue_position_text(position: int) -> str:
    """What the caller hears for their place in the queue (1 = next)."""
    return f"Ваш номер в очереди: {number_words(position)}."


def estimated_wait_text(seconds: int) -> str:
    """What the caller hears for the estimated wait, in whole minutes rounded up."""
    if seconds < 60:
        return "Примерное время ожидания: меньше минуты."
    minutes = -(-seconds // 60)
    return (f"Примерное время ожидания:"
            f" {count_words(minutes, 'минута', 'минуты', 'минут', gender='f')}.")


_QUEUE_PHRASES = {"queue_position": queue_position_text, "estimated_wait": estimated_wait_text}
