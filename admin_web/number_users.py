"""Numbers in the admin's words: who owns a number of the numbering plan, what still
sends calls to it (the rule that keeps phones, menu items and queues from being deleted
or renumbered while handlers, lines or queues point at them; a queue rings its member
phones; an override rule on the number or sending calls to it), and the numbers a target
field offers (``number_choices``, for the
``numbers_datalist`` macro of templates/_numbers.html)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from dialplan.configuration import Configuration, NumberOwner, OwnerKind, numbering_plan

# What sends calls to some numbers, besides the handlers of items in ``own_items`` and
# the queues in ``own_queues``: handlers, lines' inbound numbers, queues' keys and the
# numbers a queue sends callers to, and the queues that ring a phone.
_USERS_OF_NUMBERS = (
    "SELECT 'menu item' AS kind, i.number AS name FROM menu_handlers h"
    " JOIN menu_items i ON i.id = h.item_id"
    " WHERE h.target = ANY(%(numbers)s) AND NOT h.item_id = ANY(%(own_items)s)"
    " UNION"
    " SELECT 'line', name FROM lines WHERE inbound_number = ANY(%(numbers)s)"
    " UNION"
    " SELECT 'queue key', q.name FROM queue_keys k JOIN queues q ON q.id = k.queue_id"
    " WHERE k.target = ANY(%(numbers)s) AND NOT q.id = ANY(%(own_queues)s)"
    " UNION"
    " SELECT 'queue when empty', name FROM queues"
    " WHERE when_empty_number = ANY(%(numbers)s) AND NOT id = ANY(%(own_queues)s)"
    " UNION"
    " SELECT 'queue after wait', name FROM queues"
    " WHERE after_max_wait_number = ANY(%(numbers)s) AND NOT id = ANY(%(own_queues)s)"
    " UNION"
    " SELECT 'queue member', q.name FROM queue_members m JOIN queues q ON q.id = m.queue_id"
    " JOIN phones p ON p.id = m.phone_id"
    " WHERE p.number = ANY(%(numbers)s) AND NOT q.id = ANY(%(own_queues)s)"
    # Override rules: on the number, or sending calls to it.
    " UNION"
    " SELECT 'override rule', called_number FROM override_rules"
    " WHERE redirect = ANY(%(numbers)s) OR called_number = ANY(%(numbers)s)"
    " ORDER BY 1, 2")


def users_of_numbers(conn, numbers: list[str], own_items=(), own_queues=()) -> list[str]:
    """What sends calls to ``numbers`` (handlers of items not in ``own_items``, lines'
    inbound numbers, queues not in ``own_queues`` by a key, when nobody is online, after
    the longest wait, or ringing a member phone), as the pages name it; empty when nothing
    does."""
    titles = {
        "line": lambda name: _("line %(name)s (inbound number)", name=name),
        "menu item": lambda item: _("menu item %(number)s (handler)", number=item),
        "queue key": lambda name: _("queue %(name)s (key while waiting)", name=name),
        "queue when empty": lambda name: _("queue %(name)s (when no member is online)",
                                           name=name),
        "queue after wait": lambda name: _("queue %(name)s (after the maximum wait)",
                                           name=name),
        "queue member": lambda name: _("queue %(name)s (member)", name=name),
        "override rule": lambda number: _("the override rules of %(number)s", number=number),
    }
    rows = conn.execute(_USERS_OF_NUMBERS, {"numbers": numbers, "own_items": list(own_items),
                                            "own_queues": list(own_queues)})
    return [titles[row["kind"]](row["name"]) for row in rows.fetchall()]


def owner_title(owner: NumberOwner) -> str:
    """One owner from ``numbering_plan``, in the UI language."""
    if owner.kind is OwnerKind.SELFTEST:
        return _("the line self-test")
    if owner.kind is OwnerKind.PHONE:
        return _("phone %(number)s", number=owner.number)
    if owner.kind is OwnerKind.QUEUE:
        return _("queue %(number)s", number=owner.number)
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
    its description, a menu item with its menu, a queue with its name; by number."""
    descriptions = {phone.number: phone.description for phone in config.phones}
    queue_names = {queue.number: queue.name for queue in config.queues}
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
            elif owner.kind is OwnerKind.QUEUE and queue_names.get(number):
                title = _("%(owner)s: %(description)s", owner=title,
                          description=queue_names[number])
            titles.append(title)
        choices.append(NumberChoice(number, "; ".join(titles)))
    return choices


def number_taken(config: Configuration, number: str) -> str | None:
    """Why a new phone, menu item or queue cannot have ``number``: who owns it already;
    None if free."""
    owners = numbering_plan(config).get(number)
    if not owners:
        return None
    return _("Number %(number)s is taken: %(owner)s.", number=number,
             owner=", ".join(owner_title(o) for o in owners))
