"""Numbers in the admin's words: who owns a number of the numbering plan, and what still
sends calls to it (the rule that keeps phones and menu items from being deleted or
renumbered while handlers or lines point at them)."""

from __future__ import annotations

from flask_babel import gettext as _

from dialplan.configuration import Configuration, NumberOwner, OwnerKind, numbering_plan

# What sends calls to some numbers, besides the handlers of items in ``own_items``.
_USERS_OF_NUMBERS = (
    "SELECT 'menu item' AS kind, i.number AS name FROM menu_handlers h"
    " JOIN menu_items i ON i.id = h.item_id"
    " WHERE h.target = ANY(%(numbers)s) AND NOT h.item_id = ANY(%(own_items)s)"
    " UNION"
    " SELECT 'line', name FROM lines WHERE inbound_number = ANY(%(numbers)s)"
    " ORDER BY 1, 2")


def users_of_numbers(conn, numbers: list[str], own_items=()) -> list[str]:
    """What sends calls to ``numbers`` (handlers of items not in ``own_items``, lines'
    inbound numbers), as the pages name it; empty when nothing does."""
    titles = {"line": lambda name: _("line %(name)s (inbound number)", name=name),
              "menu item": lambda item: _("menu item %(number)s (handler)", number=item)}
    rows = conn.execute(_USERS_OF_NUMBERS, {"numbers": numbers, "own_items": list(own_items)})
    return [titles[row["kind"]](row["name"]) for row in rows.fetchall()]


def owner_title(owner: NumberOwner) -> str:
    """One owner from ``numbering_plan``, in the UI language."""
    if owner.kind is OwnerKind.SELFTEST:
        return _("the line self-test")
    if owner.kind is OwnerKind.PHONE:
        return _("phone %(number)s", number=owner.number)
    return _("menu item %(number)s", number=owner.number)


def number_taken(config: Configuration, number: str) -> str | None:
    """Why a new phone or menu item cannot have ``number``: who owns it already; None if free."""
    owners = numbering_plan(config).get(number)
    if not owners:
        return None
    return _("Number %(number)s is taken: %(owner)s.", number=number,
             owner=", ".join(owner_title(o) for o in owners))
