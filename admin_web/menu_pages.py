"""The Voice menus section (administrators only): menus, their items, the items' handlers.

A menu groups items; callers reach an item by its number, so an item's
number must be free in the whole numbering plan (``numbering_plan``: phones,
the self-test, other items). An item plays an audio file, speaks a text,
plays a playlist or runs a scenario; its handlers (a key, a timeout, a digit
sequence) send the call to a target number, empty meaning hang up. Each
target is shown with what it is (an item, a phone, an outside number through
a line, or unknown), so a typo is seen before Apply refuses it, and the
target field offers every number of the numbering plan with its owner.
Handlers are listed as a caller meets them (``handler_order``): keys in
keypad order, then digit sequences in the order they are tried, the timeout
last. Each field states its rule under it, in the words of its error.

An item (or a menu) that other items' handlers or a line's inbound number
send calls to is not deleted, nor renumbered: the page names what uses it.
Each change and its change_log row are written in one transaction. Items
are listed by number; the tree view walks the handlers from a menu's first
item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, insert_row, row_or_404, update_row
from admin_web.errors import deleted_meanwhile
from admin_web.field_rules import Sentences
from admin_web.forms import (PostForm, at_most, listed_id, matching, page_status, regex_problem,
                             single_line)
from admin_web.number_users import (NUMBERS_DATALIST, number_choices, number_taken,
                                    owner_title, users_of_numbers)
from dialplan import names, validate
from dialplan.configuration import Configuration, MenuItem, load_configuration, numbering_plan

bp = Blueprint("menus", __name__, url_prefix="/menus")

ITEM_KIND_TITLES = {
    "tts": _l("Text to speech"),
    "audio": _l("Audio file"),
    "playlist": _l("Playlist"),
    "scenario": _l("Interactive scenario"),
}
# The scenarios an item may run (the menu_items.scenario check), as the admin names them.
SCENARIO_TITLES = {
    "repeat_digits": _l("Repeat the digits entered"),
    "case_status": _l("Status of a case entered by keys"),
    "open_cases": _l("Read the caller's open cases"),
    "callback": _l("Order a callback"),
    "dial_number": _l("Dial the entered number"),
}
HANDLER_KIND_TITLES = {
    "key": _l("Key press"),
    "timeout": _l("Timeout"),
    "sequence": _l("Digit sequence"),
}
# The keys a handler may take, in the keypad's own order (1 2 3 … * 0 #).
KEYS = tuple(sorted(validate.KEYS, key="123456789*0#".index))
MAX_TEXT_LENGTH = 2000
MAX_PATTERN_LENGTH = 200

# Each field's rule, said under the field before it is broken and as the error after.
ITEM_NUMBER_RULE = _l("The number must be 2 to 15 digits.")
SECONDS_RULE = _l("Between %(min)d and %(max)d seconds.", min=validate.TIMEOUT_SECONDS[0],
                  max=validate.TIMEOUT_SECONDS[1])
TARGET_RULE = _l("Up to 20 digits, * or #, optionally after a +.")

_ITEM_COLUMNS = "id, menu_id, number, kind, audio_id, playlist_id, text, scenario"
_HANDLER_COLUMNS = "id, item_id, kind, key, seconds, pattern, target, position"


class MenuForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter a name.")),
        at_most(100), single_line()])
    submit = SubmitField(_l("Save"))


class ItemForm(FlaskForm):
    number = StringField(_l("Number"), validators=[
        DataRequired(_l("Enter a number.")),
        matching(validate.ITEM_NUMBER, ITEM_NUMBER_RULE)],
        description=Sentences(ITEM_NUMBER_RULE, _l(
            "Calling this number, or a handler pointing at it, enters the item.")))
    kind = SelectField(_l("Type"), choices=[SelectChoice(k, t) for k, t in ITEM_KIND_TITLES.items()],
                       invalid_choice_message=_l("Choose one of the listed types."))
    text = TextAreaField(_l("Text to speak"), validators=[
        at_most(MAX_TEXT_LENGTH)],
        description=_l("For text to speech: what the caller hears, in Russian."),
        render_kw={"rows": 3})
    audio_id = SelectField(_l("Audio file"), validate_choice=False,
                           description=_l("For an audio file item."))
    playlist_id = SelectField(_l("Playlist"), validate_choice=False,
                              description=_l("For a playlist item: played once through."))
    scenario = SelectField(_l("Scenario"), validate_choice=False,
                           description=_l("For an interactive scenario item."))
    submit = SubmitField(_l("Save"))


class HandlerForm(FlaskForm):
    kind = SelectField(_l("Event"), choices=[SelectChoice(k, t)
                                            for k, t in HANDLER_KIND_TITLES.items()],
                       invalid_choice_message=_l("Choose one of the listed events."))
    key = SelectField(_l("Key"), choices=[SelectChoice("", "—")] + [SelectChoice(k, k)
                                                                      for k in KEYS],
                      invalid_choice_message=_l("Choose one of the listed keys."),
                      description=_l("For a key press."))
    seconds = IntegerField(_l("Seconds"), validators=[
        Optional(), NumberRange(*validate.TIMEOUT_SECONDS, SECONDS_RULE)],
        description=Sentences(_l("For a timeout: how long the caller may type nothing."),
                              SECONDS_RULE))
    pattern = StringField(_l("Regex"), validators=[
        at_most(MAX_PATTERN_LENGTH)],
        description=_l("For a digit sequence: a regex the whole entry must match, e.g. "
                       "\\*[0-9]+\\*[0-9]+# ; the digits are passed on to the target."))
    target = StringField(_l("Target number"), validators=[
        Optional(), matching(validate.TARGET, TARGET_RULE)],
        description=Sentences(_l("A menu item, a phone, a queue or an outside number. "
                                 "Empty: hang up."), TARGET_RULE),
        render_kw={"list": NUMBERS_DATALIST, "autocomplete": "off"})
    position = IntegerField(_l("Order"), validators=[
        Optional(), NumberRange(-1000000, 1000000, _l("A whole number."))],
        description=_l("Sequences are tried in this order."))
    submit = SubmitField(_l("Save"))


# --- what the pages show -------------------------------------------------------------------

@dataclass(frozen=True)
class TargetHint:
    """What a handler's target number is, and whether calls to it can go anywhere."""

    text: str
    known: bool


def target_hints(config: Configuration) -> Callable[[str], TargetHint]:
    """What each target is in ``config``: item, phone, outside number through a line, hang up,
    or unknown (the numbering plan worked out once for every target a page shows)."""
    plan = numbering_plan(config)

    def hint(target: str) -> TargetHint:
        if not target:
            return TargetHint(_("hang up"), True)
        owners = plan.get(target)
        if owners:
            return TargetHint(", ".join(owner_title(owner) for owner in owners), True)
        line = validate.line_dialling_out(config, target)
        if line is not None:
            return TargetHint(_("outside number, through line %(name)s", name=line.name), True)
        return TargetHint(_("unknown number"), False)

    return hint


def handler_order(handler) -> tuple[int, int]:
    """Where a handler (a row or a ``Handler``) is listed: keys in keypad order, then digit
    sequences (a stable sort keeps them in the order they are tried), the timeout last."""
    kind, key = ((handler["kind"], handler["key"]) if isinstance(handler, dict)
                 else (handler.kind, handler.key))
    if kind == "key":
        return 0, KEYS.index(key) if key in KEYS else len(KEYS)
    return (1, 0) if kind == "sequence" else (2, 0)


def sequence_pattern_error(pattern: str) -> str | None:
    """Why a digit-sequence regex cannot be used (Apply's own rule), in the UI language."""
    return regex_problem(pattern)


def handler_summary(handler) -> str:
    """"key 1", "timeout 15 s", "sequence \\*[0-9]+#", in the UI language."""
    if handler["kind"] == "key":
        return _("key %(key)s", key=handler["key"])
    if handler["kind"] == "timeout":
        return _("timeout %(seconds)d s", seconds=handler["seconds"])
    return _("sequence %(pattern)s", pattern=handler["pattern"])


@dataclass
class TreeNode:
    """One place in a menu's tree: a target number, the item there (if any), its branches.

    ``repeat`` marks an item already shown higher up (a loop back, e.g. "0: again").
    """

    number: str
    item: MenuItem | None = None
    hint: TargetHint | None = None
    repeat: bool = False
    branches: list[tuple[str, TreeNode]] = field(default_factory=list)


def menu_tree(config: Configuration, start: str) -> TreeNode:
    """The menu as a caller can walk it from item ``start``, each item shown once."""
    items = {item.number: item for item in config.menu_items}
    hint = target_hints(config)
    shown: set[str] = set()

    def node(number: str) -> TreeNode:
        item = items.get(number)
        if item is None:
            return TreeNode(number, hint=hint(number))
        if number in shown:
            return TreeNode(number, item, repeat=True)
        shown.add(number)
        here = TreeNode(number, item)
        for handler in sorted(item.handlers, key=handler_order):
            label = handler_summary({"kind": handler.kind, "key": handler.key,
                                     "seconds": handler.seconds, "pattern": handler.pattern})
            here.branches.append((label, node(handler.target) if handler.target
                                  else TreeNode("", hint=hint(""))))
        return here

    return node(start)


# --- loading ---------------------------------------------------------------------------------

def _menu_or_404(menu_id: int) -> dict:
    return row_or_404("SELECT id, name FROM menus WHERE id = %s", (menu_id,))


def _item_or_404(item_id: int) -> dict:
    return row_or_404(f"SELECT {_ITEM_COLUMNS} FROM menu_items WHERE id = %s", (item_id,))


def _handler_or_404(handler_id: int) -> dict:
    return row_or_404(f"SELECT {_HANDLER_COLUMNS} FROM menu_handlers WHERE id = %s",
                      (handler_id,))


def _items_with_handlers(conn, menu_ids: list[int]) -> dict[int, list[dict]]:
    """Menu id -> its items by number, each with "handlers" in their order."""
    items = conn.execute(
        f"SELECT {_ITEM_COLUMNS} FROM menu_items WHERE menu_id = ANY(%s) ORDER BY number",
        (menu_ids,)).fetchall()
    handlers = conn.execute(
        f"SELECT {_HANDLER_COLUMNS} FROM menu_handlers WHERE item_id = ANY(%s)"
        " ORDER BY item_id, position, id", ([item["id"] for item in items],)).fetchall()
    by_menu: dict[int, list[dict]] = {menu_id: [] for menu_id in menu_ids}
    for item in items:
        item["handlers"] = sorted((h for h in handlers if h["item_id"] == item["id"]),
                                  key=handler_order)
        by_menu[item["menu_id"]].append(item)
    return by_menu


def _handlers_of(conn, item_id: int) -> list[dict]:
    """One item's handlers as they are listed (``handler_order``)."""
    return sorted(conn.execute(f"SELECT {_HANDLER_COLUMNS} FROM menu_handlers WHERE item_id = %s"
                               " ORDER BY position, id", (item_id,)).fetchall(),
                  key=handler_order)


def _names(conn) -> tuple[dict[int, str], dict[int, str]]:
    """Audio files and playlists, id -> name, by name (the forms' choices)."""
    audio = {r["id"]: r["name"] for r in conn.execute(
        "SELECT id, name FROM audio_files ORDER BY name").fetchall()}
    playlists = {r["id"]: r["name"] for r in conn.execute(
        "SELECT id, name FROM playlists ORDER BY name").fetchall()}
    return audio, playlists


def _names_in(config: Configuration) -> tuple[dict[int, str], dict[int, str]]:
    """Audio files and playlists of ``config``, id -> name (what the pages say items play)."""
    return ({audio.id: audio.name for audio in config.audio_files},
            {playlist.id: playlist.name for playlist in config.playlists})


def _public_item(item: dict, menu_name: str, audio: dict, playlists: dict) -> dict:
    """The history's copy of an item (names, not ids, of what it plays)."""
    kept = {"menu": menu_name, "number": item["number"], "kind": item["kind"]}
    if item["kind"] == "tts":
        kept["text"] = item["text"]
    elif item["kind"] == "audio":
        kept["audio"] = audio.get(item["audio_id"], item["audio_id"])
    elif item["kind"] == "playlist":
        kept["playlist"] = playlists.get(item["playlist_id"], item["playlist_id"])
    else:
        kept["scenario"] = item["scenario"]
    return kept


def _public_handler(handler: dict, item_number: str) -> dict:
    """The history's copy of a handler: its item, event and target."""
    kept = {"item": item_number, "kind": handler["kind"], "target": handler["target"],
            "position": handler["position"]}
    kept.update({"key": handler["key"]} if handler["kind"] == "key" else
                {"seconds": handler["seconds"]} if handler["kind"] == "timeout" else
                {"pattern": handler["pattern"]})
    return kept


# --- menus -----------------------------------------------------------------------------------

@bp.route("/")
@role_required("administrator")
def index():
    """Every menu with its items (numbers first) and their handlers."""
    conn = get_db()
    menus = conn.execute("SELECT id, name FROM menus ORDER BY name").fetchall()
    items = _items_with_handlers(conn, [m["id"] for m in menus])
    config = load_configuration(conn)
    audio, playlists = _names_in(config)
    return render_template("menus/list.html", menus=menus, items=items, audio=audio,
                           playlists=playlists, hint=target_hints(config), **_titles())


def _titles() -> dict:
    return {"kind_titles": ITEM_KIND_TITLES, "scenario_titles": SCENARIO_TITLES,
            "handler_summary": handler_summary}


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-menu form."""
    form = MenuForm()
    if form.validate_on_submit():
        conn = get_db()
        name = form.name.data.strip()
        try:
            with conn.transaction():
                menu = conn.execute("INSERT INTO menus (name) VALUES (%s) RETURNING id, name",
                                    (name,)).fetchone()
                record_change(conn, current_user.login, "create", "menu", name, None,
                              {"name": name})
        except UniqueViolation:
            form.name.errors.append(_("Another menu has this name."))
        else:
            flash(_("Menu %(name)s created.", name=name), "success")
            return redirect(url_for(".show", menu_id=menu["id"]))
    return render_template("menus/menu_form.html", form=form, menu=None), page_status(form)


@bp.route("/<int:menu_id>")
@role_required("administrator")
def show(menu_id: int):
    """One menu: its items with their handlers, and the tree from its first item."""
    menu = _menu_or_404(menu_id)
    conn = get_db()
    items = _items_with_handlers(conn, [menu_id])[menu_id]
    config = load_configuration(conn)
    audio, playlists = _names_in(config)
    tree = menu_tree(config, items[0]["number"]) if items else None
    return render_template("menus/show.html", menu=menu, items=items, audio=audio,
                           playlists=playlists, tree=tree, delete_form=PostForm(),
                           hint=target_hints(config), **_titles())


@bp.route("/<int:menu_id>/rename", methods=("GET", "POST"))
@role_required("administrator")
def rename(menu_id: int):
    """Change a menu's name."""
    menu = _menu_or_404(menu_id)
    form = MenuForm(data={"name": menu["name"]})
    if form.validate_on_submit():
        conn = get_db()
        name = form.name.data.strip()
        try:
            with conn.transaction():
                if conn.execute("UPDATE menus SET name = %s WHERE id = %s RETURNING id",
                                (name, menu_id)).fetchone() is None:
                    deleted_meanwhile()
                if name != menu["name"]:
                    record_change(conn, current_user.login, "update", "menu", name,
                                  {"name": menu["name"]}, {"name": name})
        except UniqueViolation:
            form.name.errors.append(_("Another menu has this name."))
        else:
            flash(_("Menu %(name)s saved.", name=name), "success")
            return redirect(url_for(".show", menu_id=menu_id))
    return render_template("menus/menu_form.html", form=form, menu=menu), page_status(form)


@bp.route("/<int:menu_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(menu_id: int):
    """Delete a menu and its items, unless something outside it sends calls to them."""
    menu = _menu_or_404(menu_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    audio, playlists = _names(conn)
    with conn.transaction():
        items = _items_with_handlers(conn, [menu_id])[menu_id]
        users = users_of_numbers(conn, [i["number"] for i in items], [i["id"] for i in items])
        if not users:
            conn.execute("DELETE FROM menus WHERE id = %s", (menu_id,))
            old = {"name": menu["name"], "items": [
                {**_public_item(item, menu["name"], audio, playlists),
                 "handlers": [_public_handler(h, item["number"]) for h in item["handlers"]]}
                for item in items]}
            record_change(conn, current_user.login, "delete", "menu", menu["name"], old, None)
    if users:
        flash(_("Menu %(name)s was not deleted: calls are sent to its items by %(users)s. "
                "Change them first.", name=menu["name"], users=", ".join(users)), "danger")
        return redirect(url_for(".show", menu_id=menu_id))
    flash(_("Menu %(name)s deleted.", name=menu["name"]), "success")
    return redirect(url_for(".index"))


# --- items -----------------------------------------------------------------------------------

def _item_form(audio: dict, playlists: dict, **kwargs) -> ItemForm:
    form = ItemForm(**kwargs)
    form.audio_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(i), n)
                                                        for i, n in audio.items()]
    form.playlist_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(i), n)
                                                           for i, n in playlists.items()]
    form.scenario.choices = [SelectChoice("", "—")] + [SelectChoice(k, t) for k, t in
                                                        SCENARIO_TITLES.items()]
    return form


def _item_values(form: ItemForm) -> dict | None:
    """The row an item form describes (fields of other kinds emptied), or None with errors."""
    kind = form.kind.data
    values = {"number": form.number.data, "kind": kind, "text": "", "audio_id": None,
              "playlist_id": None, "scenario": ""}
    if kind == "tts":
        values["text"] = (form.text.data or "").strip()
        if not values["text"]:
            form.text.errors.append(_("Enter the text to speak."))
    elif kind == "audio":
        values["audio_id"] = listed_id(form.audio_id)
        if values["audio_id"] is None:
            form.audio_id.errors.append(_("Choose an audio file."))
    elif kind == "playlist":
        values["playlist_id"] = listed_id(form.playlist_id)
        if values["playlist_id"] is None:
            form.playlist_id.errors.append(_("Choose a playlist."))
    else:
        values["scenario"] = form.scenario.data
        if values["scenario"] not in SCENARIO_TITLES:
            form.scenario.errors.append(_("Choose one of the listed scenarios."))
    return None if any(f.errors for f in form) else values


def _number_errors(conn, number: str, old: dict | None, config: Configuration) -> list[str]:
    """Why ``number`` cannot be this item's: taken in the numbering plan, or old number in use."""
    if old is not None and number == old["number"]:
        return []
    taken = number_taken(config, number)
    if taken:
        return [taken]
    if old is not None:
        users = users_of_numbers(conn, [old["number"]], [old["id"]])
        if users:
            return [_("Number %(number)s cannot change: calls are sent to it by %(users)s. "
                      "Change them first.", number=old["number"], users=", ".join(users))]
    return []


def _save_item(form: ItemForm, menu: dict, old: dict | None, audio: dict, playlists: dict,
               config: Configuration):
    """Insert or update the item the form describes; the row, or None with errors shown."""
    values = _item_values(form)
    if values is None:
        return None
    conn = get_db()
    form.number.errors.extend(_number_errors(conn, values["number"], old, config))
    if form.number.errors:
        return None
    try:
        with conn.transaction():
            if old is None:
                item = insert_row(conn, "menu_items", {"menu_id": menu["id"], **values},
                                  _ITEM_COLUMNS)
                record_change(conn, current_user.login, "create", "menu item", item["number"],
                              None, _public_item(item, menu["name"], audio, playlists))
            else:
                item = update_row(conn, "menu_items", old["id"], values, _ITEM_COLUMNS)
                if item is None:
                    deleted_meanwhile()
                before = _public_item(old, menu["name"], audio, playlists)
                after = _public_item(item, menu["name"], audio, playlists)
                if before != after:
                    record_change(conn, current_user.login, "update", "menu item",
                                  item["number"], before, after)
    except UniqueViolation:
        form.number.errors.append(_("Number %(number)s is taken: %(owner)s.",
                                    number=values["number"], owner=_("a menu item")))
        return None
    except ForeignKeyViolation:  # the menu, file or playlist was deleted after the check
        if conn.execute("SELECT 1 FROM menus WHERE id = %s", (menu["id"],)).fetchone() is None:
            deleted_meanwhile()
        if values["kind"] == "audio":
            form.audio_id.errors.append(_("Choose an audio file."))
        else:
            form.playlist_id.errors.append(_("Choose a playlist."))
        return None
    return item


@bp.route("/<int:menu_id>/items/new", methods=("GET", "POST"))
@role_required("administrator")
def create_item(menu_id: int):
    """The new-item form of a menu."""
    menu = _menu_or_404(menu_id)
    audio, playlists = _names(get_db())
    form = _item_form(audio, playlists)
    if form.validate_on_submit():
        item = _save_item(form, menu, None, audio, playlists, load_configuration(get_db()))
        if item is not None:
            flash(_("Menu item %(number)s created.", number=item["number"]), "success")
            return redirect(url_for(".edit_item", item_id=item["id"]))
    return render_template("menus/item_form.html", form=form, menu=menu, item=None), \
        page_status(form)


@bp.route("/items/<int:item_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit_item(item_id: int):
    """One item's form, with its handlers."""
    old = _item_or_404(item_id)
    conn = get_db()
    menu = _menu_or_404(old["menu_id"])
    audio, playlists = _names(conn)
    config = load_configuration(conn)
    form = _item_form(audio, playlists, data={
        **old, "audio_id": str(old["audio_id"] or ""),
        "playlist_id": str(old["playlist_id"] or "")})
    if form.validate_on_submit():
        item = _save_item(form, menu, old, audio, playlists, config)
        if item is not None:
            flash(_("Menu item %(number)s saved.", number=item["number"]), "success")
            return redirect(url_for(".show", menu_id=menu["id"]))
    return render_template("menus/item_form.html", form=form, menu=menu, item=old,
                           handlers=_handlers_of(conn, item_id), delete_form=PostForm(),
                           hint=target_hints(config), **_titles()), page_status(form)


@bp.route("/items/<int:item_id>/delete", methods=("POST",))
@role_required("administrator")
def delete_item(item_id: int):
    """Delete an item and its handlers, unless other items or lines send calls to it."""
    item = _item_or_404(item_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    menu = _menu_or_404(item["menu_id"])
    audio, playlists = _names(conn)
    with conn.transaction():
        users = users_of_numbers(conn, [item["number"]], [item_id])
        if not users:
            handlers = _handlers_of(conn, item_id)
            conn.execute("DELETE FROM menu_items WHERE id = %s", (item_id,))
            old = {**_public_item(item, menu["name"], audio, playlists),
                   "handlers": [_public_handler(h, item["number"]) for h in handlers]}
            record_change(conn, current_user.login, "delete", "menu item", item["number"],
                          old, None)
    if users:
        flash(_("Menu item %(number)s was not deleted: calls are sent to it by %(users)s. "
                "Change them first.", number=item["number"], users=", ".join(users)),
              "danger")
    else:
        flash(_("Menu item %(number)s deleted.", number=item["number"]), "success")
    return redirect(url_for(".show", menu_id=menu["id"]))


# --- handlers --------------------------------------------------------------------------------

def _handler_values(form: HandlerForm, item_id: int, handler_id: int | None) -> dict | None:
    """The row a handler form describes, or None with errors on the fields."""
    kind = form.kind.data
    values = {"kind": kind, "key": "", "seconds": None, "pattern": "",
              "target": (form.target.data or "").strip(), "position": form.position.data}
    others = get_db().execute(
        f"SELECT {_HANDLER_COLUMNS} FROM menu_handlers WHERE item_id = %s AND id <> %s",
        (item_id, handler_id or 0)).fetchall()
    if kind == "key":
        values["key"] = form.key.data or ""
        if not values["key"]:
            form.key.errors.append(_("Choose a key."))
        elif any(h["kind"] == "key" and h["key"] == values["key"] for h in others):
            form.key.errors.append(_("Key %(key)s already has a handler in this item.",
                                     key=values["key"]))
    elif kind == "timeout":
        values["seconds"] = form.seconds.data
        if values["seconds"] is None:
            form.seconds.errors.append(_("Enter the seconds."))
        if any(h["kind"] == "timeout" for h in others):
            form.kind.errors.append(_("This item already has a timeout handler."))
    else:
        values["pattern"] = (form.pattern.data or "").strip()
        problem = (_("Enter a regex.") if not values["pattern"]
                   else sequence_pattern_error(values["pattern"]))
        if problem:
            form.pattern.errors.append(problem)
        elif any(h["kind"] == "sequence" and h["pattern"] == values["pattern"] for h in others):
            form.pattern.errors.append(_("This item already has a handler for this regex."))
    if values["position"] is None:
        values["position"] = max((h["position"] for h in others), default=0) + 1
    return None if any(f.errors for f in form) else values


def _save_handler(form: HandlerForm, item: dict, old: dict | None):
    """Insert or update the handler the form describes; the row, or None with errors shown."""
    values = _handler_values(form, item["id"], old["id"] if old else None)
    if values is None:
        return None
    conn = get_db()
    try:
        handler = _write_handler(conn, item, old, values)
    except ForeignKeyViolation:  # the item was deleted after the form was checked
        deleted_meanwhile()
    return handler


def _write_handler(conn, item: dict, old: dict | None, values: dict) -> dict:
    """Insert or update the handler with its change_log row, in one transaction."""
    with conn.transaction():
        if old is None:
            handler = insert_row(conn, "menu_handlers", {"item_id": item["id"], **values},
                                 _HANDLER_COLUMNS)
            record_change(conn, current_user.login, "create", "menu handler", item["number"],
                          None, _public_handler(handler, item["number"]))
        else:
            handler = update_row(conn, "menu_handlers", old["id"], values, _HANDLER_COLUMNS)
            if handler is None:
                deleted_meanwhile()
            before, after = (_public_handler(old, item["number"]),
                             _public_handler(handler, item["number"]))
            if before != after:
                record_change(conn, current_user.login, "update", "menu handler",
                              item["number"], before, after)
    return handler


def _handler_page(form, item, handler):
    config = load_configuration(get_db())
    hint = target_hints(config)(handler["target"]) if handler else None
    return render_template("menus/handler_form.html", form=form, item=item, handler=handler,
                           hint=hint, numbers=number_choices(config),
                           numbers_list=NUMBERS_DATALIST,
                           default_timeout=names.MENU_DEFAULT_TIMEOUT_SECONDS), \
        page_status(form)


@bp.route("/items/<int:item_id>/handlers/new", methods=("GET", "POST"))
@role_required("administrator")
def create_handler(item_id: int):
    """The new-handler form of an item."""
    item = _item_or_404(item_id)
    form = HandlerForm()
    if form.validate_on_submit():
        handler = _save_handler(form, item, None)
        if handler is not None:
            flash(_("Handler of item %(number)s saved: %(handler)s.", number=item["number"],
                    handler=handler_summary(handler)), "success")
            return redirect(url_for(".edit_item", item_id=item_id))
    return _handler_page(form, item, None)


@bp.route("/handlers/<int:handler_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit_handler(handler_id: int):
    """One handler's form."""
    old = _handler_or_404(handler_id)
    item = _item_or_404(old["item_id"])
    form = HandlerForm(data=old)
    if form.validate_on_submit():
        handler = _save_handler(form, item, old)
        if handler is not None:
            flash(_("Handler of item %(number)s saved: %(handler)s.", number=item["number"],
                    handler=handler_summary(handler)), "success")
            return redirect(url_for(".edit_item", item_id=item["id"]))
    return _handler_page(form, item, old)


@bp.route("/handlers/<int:handler_id>/delete", methods=("POST",))
@role_required("administrator")
def delete_handler(handler_id: int):
    """Delete one handler (after the browser's confirmation)."""
    handler = _handler_or_404(handler_id)
    if not PostForm().validate_on_submit():
        abort(400)
    item = _item_or_404(handler["item_id"])
    conn = get_db()
    with conn.transaction():
        conn.execute("DELETE FROM menu_handlers WHERE id = %s", (handler_id,))
        record_change(conn, current_user.login, "delete", "menu handler", item["number"],
                      _public_handler(handler, item["number"]), None)
    flash(_("Handler of item %(number)s deleted: %(handler)s.", number=item["number"],
            handler=handler_summary(handler)), "success")
    return redirect(url_for(".edit_item", item_id=item["id"]))
