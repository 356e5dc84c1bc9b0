"""Where in the admin an Apply problem is fixed: its place → the form's URL.

Validation names a problem's place with the functions of
``dialplan.validate`` (``phone_place``, ``line_place``, ``item_place``,
``handler_place``, ``playlist_place``, ``playlist_item_place``, ``queue_place``,
``queue_key_place``, ``schedule_place``, ``rule_place``).  The same
functions, run over the configuration, give every place it can have;
each maps to the page where that object is edited: a phone's, a line's, a
menu item's, a handler's own form, a playlist's, a queue's.  A place with no page
(the fallback number, set in the server's environment) has no link.
"""

from __future__ import annotations

from collections import defaultdict

import psycopg
from flask import url_for
from psycopg.rows import tuple_row

from dialplan.configuration import Configuration
from dialplan.messages import Message, quoted
from dialplan.validate import (handler_place, item_place, line_place, phone_place,
                               playlist_item_place, playlist_place, queue_key_place, queue_place,
                               rule_place, schedule_place, TRANSFER_PLACE)


def handler_ids(conn: psycopg.Connection) -> dict[int, list[int]]:
    """Each menu item's handler ids in the order the configuration lists its handlers."""
    ids: dict[int, list[int]] = defaultdict(list)
    with conn.cursor(row_factory=tuple_row) as cur:
        for item_id, handler_id in cur.execute(
                "SELECT item_id, id FROM menu_handlers ORDER BY item_id, position, id"):
            ids[item_id].append(handler_id)
    return ids


def place_links(config: Configuration, handlers: dict[int, list[int]]) -> dict[str, str]:
    """Every place of ``config`` (as ``Message.render()`` gives it) → its form's URL.

    ``handlers``: ``handler_ids``; a handler whose id is unknown links to its item.
    """
    links: dict[str, str] = {}

    def add(place: Message, url: str) -> None:
        links.setdefault(place.render(), url)

    for phone in config.phones:
        url = url_for("phones.edit", phone_id=phone.id)
        add(phone_place(phone.number), url)
        add(phone_place(quoted(phone.number)), url)  # how a malformed number is named
    for line in config.lines:
        add(line_place(line.name), url_for("lines.edit", line_id=line.id))
    for item in config.menu_items:
        item_url = url_for("menus.edit_item", item_id=item.id)
        add(item_place(config, item), item_url)
        ids = handlers.get(item.id, [])
        for index in range(len(item.handlers)):
            url = (url_for("menus.edit_handler", handler_id=ids[index]) if index < len(ids)
                   else item_url)
            add(handler_place(config, item, index), url)
    for queue in config.queues:
        url = url_for("queues.edit", queue_id=queue.id)
        add(queue_place(queue), url)
        for key in queue.keys:
            add(queue_key_place(queue, key.key), url)
    for playlist in config.playlists:
        url = url_for("playlists.edit", playlist_id=playlist.id)
        add(playlist_place(playlist), url)
        for index in range(len(playlist.items)):
            add(playlist_item_place(playlist, index), url)
    add(TRANSFER_PLACE, url_for("transfer.index"))
    # Schedules and override rules.
    for schedule in config.schedules:
        add(schedule_place(schedule), url_for("schedules.edit", schedule_id=schedule.id))
    for rule in config.rules:
        add(rule_place(config, rule), url_for("rules.edit", rule_id=rule.id))
    return links


def problem_link(links: dict[str, str], place: Message) -> str | None:
    """The URL of the form that fixes a problem at ``place``, or None."""
    return links.get(place.render())
