"""Numbers in the admin's words: who owns a number of the numbering plan, what still
sends calls to it (the rule that keeps phones and menu items from being deleted or
renumbered while handlers or lines point at them), and the numbers a target field
offers (``number_choices``, for the ``numbers_datalist`` macro of templates/_numbers.html)."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class NumberChoice:
    """One number a target field offers, with what answers it."""

    number: str
    title: str


# The id of the <datalist> a field names in its "list" attribute (templates/_numbers.html).
NUMBERS_DATALIST = "numbering-plan"


def number_choices(config: Configuration) -> list[NumberChoice]:
    """Every number of the numbering plan with its owner in the admin's words: a phone with
    its description, a menu item with its menu; by number (queues join as they arrive)."""
    descriptions = {phone.number: phone.description for phone in config.phones}
    menus = {menu.id: menu.name for menu in config.menus}
    item_menus = {item.number: menus.get(item.menu_id, "") for item in config.menu_items}
    choices = []
    for number, owners in sorted(numbering_plan(config).items(),
                                 key=lambda entry: (len(entry[0]), entry[0])):
        titles = []
        for owner in owners:
            title = owner_title(owner)
            if owner.kind is OwnerKind.PHONE and descriptions.get(number):
                title = _("%(owner)s: %(description)s", owner=title,
                          description=descriptions[number])
            elif owner.kind is OwnerKind.MENU_ITEM and item_menus.get(number):
                title = _("%(owner)s, menu %(menu)s", owner=title, menu=item_menus[number])
            titles.append(title)
        choices.append(NumberChoice(number, "; ".join(titles)))
    return choices


def number_taken(config: Configuration, number: str) -> str | None:
    """Why a new phone or menu item cannot have ``number``: who owns it already; None if free."""
    owners = numbering_plan(config).get(number)
    if not owners:
        return None
    return _("Number %(number)s is taken: %(owner)s.", number=number,
             owner=", ".join(owner_title(o) for o in owners))
