"""The Playlists section (administrators only): what callers hear while waiting (spec 5).

A playlist is a name, a mode (in order or shuffled, looping either way) and
ordered items: a recording, a fixed text said by speech synthesis, or an
item said per caller (position in the queue, greeting by name, estimated
wait). Items are added, removed and moved one step at a time; each change
is one transaction with its history row, which keeps the whole item list
before and after. A playlist a menu item or a queue plays is not deleted.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, row_or_404
from admin_web.errors import deleted_meanwhile
from admin_web.forms import PostForm, at_most, chosen_id, listed_id, page_status, single_line

bp = Blueprint("playlists", __name__, url_prefix="/playlists")

OBJECT_TYPE = "playlist"
MODE_TITLES = {"in_order": _l("In order"), "random": _l("Random")}
KIND_TITLES = {
    "audio": _l("Recording"),
    "tts": _l("Text (speech synthesis)"),
    "queue_position": _l("Position in the queue"),
    "greeting": _l("Greeting by name"),
    "estimated_wait": _l("Estimated wait"),
}
MAX_TEXT_CHARS = 1000
_COLUMNS = "id, name, mode"
_ITEMS = ("SELECT i.playlist_id, i.id, i.position, i.kind, i.audio_id, i.text,"
          " a.name AS audio_name"
          " FROM playlist_items i LEFT JOIN audio_files a ON a.id = i.audio_id"
          " WHERE i.playlist_id = ANY(%s) ORDER BY i.position, i.id")


class PlaylistForm(FlaskForm):
    name = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")),
        at_most(100), single_line()])
    mode = SelectField(_l("Mode"), choices=[SelectChoice(m, t) for m, t in MODE_TITLES.items()],
                       invalid_choice_message=_l("Choose one of the listed modes."),
                       description=_l("Either way the playlist starts again after its last "
                                      "item."))
    submit = SubmitField(_l("Save"))


class ItemForm(FlaskForm):
    kind = SelectField(_l("Item"), choices=[SelectChoice(k, t) for k, t in KIND_TITLES.items()],
                       invalid_choice_message=_l("Choose one of the listed items."))
    audio_id = SelectField(_l("Recording"), validate_choice=False,
                           description=_l("For a recording item."))
    text = TextAreaField(_l("Text"), validators=[at_most(MAX_TEXT_CHARS)],
        description=_l("For a text item: what the robot says, in Russian."),
        render_kw={"rows": 2})
    submit = SubmitField(_l("Add"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.kind.data == "audio" and listed_id(self.audio_id) is None:
            self.audio_id.errors.append(_("Choose a recording."))
            valid = False
        if self.kind.data == "tts" and not (self.text.data or "").strip():
            self.text.errors.append(_("Enter the text to say."))
            valid = False
        return valid


def _item_form() -> ItemForm:
    form = ItemForm()
    files = get_db().execute("SELECT id, name FROM audio_files ORDER BY name").fetchall()
    form.audio_id.choices = [SelectChoice("", "—")] + [SelectChoice(str(f["id"]), f["name"])
                                                       for f in files]
    return form


def _playlist_or_404(playlist_id: int, lock: bool = False) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM playlists WHERE id = %s"
                      + (" FOR UPDATE" if lock else ""), (playlist_id,))


def _items_by_playlist(conn, playlist_ids: list[int]) -> dict[int, list[dict]]:
    """Playlist id -> its items in playing order, with the recordings' names (one query)."""
    by_playlist: dict[int, list[dict]] = {playlist_id: [] for playlist_id in playlist_ids}
    for item in conn.execute(_ITEMS, (playlist_ids,)).fetchall():
        by_playlist[item["playlist_id"]].append(item)
    return by_playlist


def _items(conn, playlist_id: int) -> list[dict]:
    return _items_by_playlist(conn, [playlist_id])[playlist_id]


def _item_public(item: dict) -> dict:
    """An item as the history keeps it: kind, and the recording's name or the text."""
    public = {"kind": item["kind"]}
    if item["kind"] == "audio":
        public["audio"] = item["audio_name"]
    if item["kind"] == "tts":
        public["text"] = item["text"]
    return public


def _public(playlist: dict, items: list[dict]) -> dict:
    return {"name": playlist["name"], "mode": playlist["mode"],
            "items": [_item_public(i) for i in items]}


@bp.route("/")
@role_required("administrator")
def index():
    """Every playlist with its mode and items."""
    conn = get_db()
    playlists = conn.execute(f"SELECT {_COLUMNS} FROM playlists ORDER BY name").fetchall()
    items = _items_by_playlist(conn, [p["id"] for p in playlists])
    return render_template("playlists/list.html", playlists=playlists, items=items,
                           mode_titles=MODE_TITLES, kind_titles=KIND_TITLES,
                           delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def create():
    """The new-playlist form; items are added on the playlist's page."""
    form = PlaylistForm()
    if form.validate_on_submit():
        conn = get_db()
        try:
            with conn.transaction():
                playlist = conn.execute(
                    f"INSERT INTO playlists (name, mode) VALUES (%s, %s) RETURNING {_COLUMNS}",
                    (form.name.data.strip(), form.mode.data)).fetchone()
                record_change(conn, current_user.login, "create", OBJECT_TYPE,
                              playlist["name"], None, _public(playlist, []))
        except UniqueViolation:
            form.name.errors.append(_("Another playlist has this name."))
        else:
            flash(_("Playlist %(name)s created. Add its items.", name=playlist["name"]),
                  "success")
            return redirect(url_for(".edit", playlist_id=playlist["id"]))
    return render_template("playlists/create.html", form=form), page_status(form)


def _edit_page(playlist, form, item_form, status=200):
    return render_template("playlists/edit.html", playlist=playlist, form=form,
                           item_form=item_form, items=_items(get_db(), playlist["id"]),
                           kind_titles=KIND_TITLES, post_form=PostForm()), status


@bp.route("/<int:playlist_id>", methods=("GET", "POST"))
@role_required("administrator")
def edit(playlist_id: int):
    """The playlist's name, mode and items."""
    old = _playlist_or_404(playlist_id)
    form = PlaylistForm(data=old)
    item_form = _item_form()
    if form.validate_on_submit():
        conn = get_db()
        try:
            with conn.transaction():
                new = conn.execute(
                    f"UPDATE playlists SET name = %s, mode = %s WHERE id = %s"
                    f" RETURNING {_COLUMNS}",
                    (form.name.data.strip(), form.mode.data, playlist_id)).fetchone()
                if new is None:
                    deleted_meanwhile()
                if new != old:
                    items = _items(conn, playlist_id)
                    record_change(conn, current_user.login, "update", OBJECT_TYPE, new["name"],
                                  _public(old, items), _public(new, items))
        except UniqueViolation:
            form.name.errors.append(_("Another playlist has this name."))
        else:
            flash(_("Playlist %(name)s saved.", name=new["name"]), "success")
            return redirect(url_for(".edit", playlist_id=playlist_id))
    return _edit_page(old, form, item_form, page_status(form))


def _change_items(playlist_id: int, change) -> dict:
    """Run ``change(conn, items)`` on the locked playlist, renumber, record old and new.

    A change that changes nothing (moving the first item up) leaves no history row.
    """
    conn = get_db()
    with conn.transaction():
        playlist = _playlist_or_404(playlist_id, lock=True)
        before = _items(conn, playlist_id)
        change(conn, before)
        after = _items(conn, playlist_id)
        for position, item in enumerate(after):
            if item["position"] != position:
                conn.execute("UPDATE playlist_items SET position = %s WHERE id = %s",
                             (position, item["id"]))
        if [i["id"] for i in after] != [i["id"] for i in before]:
            record_change(conn, current_user.login, "update", OBJECT_TYPE, playlist["name"],
                          _public(playlist, before), _public(playlist, after))
    return playlist


@bp.route("/<int:playlist_id>/items", methods=("POST",))
@role_required("administrator")
def add_item(playlist_id: int):
    """Add an item at the end of the playlist."""
    playlist = _playlist_or_404(playlist_id)
    item_form = _item_form()
    if not item_form.validate_on_submit():
        return _edit_page(playlist, PlaylistForm(formdata=None, data=playlist), item_form, 400)
    kind = item_form.kind.data
    audio_id = chosen_id(item_form.audio_id.data) if kind == "audio" else None
    text = item_form.text.data.strip() if kind == "tts" else ""

    def insert(conn, items):
        conn.execute("INSERT INTO playlist_items (playlist_id, position, kind, audio_id, text)"
                     " VALUES (%s, %s, %s, %s, %s)",
                     (playlist_id, len(items), kind, audio_id, text))

    try:
        _change_items(playlist_id, insert)
    except ForeignKeyViolation:  # the recording was deleted meanwhile
        item_form.audio_id.errors.append(_("Choose a recording."))
        return _edit_page(playlist, PlaylistForm(formdata=None, data=playlist), item_form, 400)
    flash(_("Item added to playlist %(name)s.", name=playlist["name"]), "success")
    return redirect(url_for(".edit", playlist_id=playlist_id))


def _item_action(playlist_id: int, item_id: int, action, message: str):
    if not PostForm().validate_on_submit():
        abort(400)

    def change(conn, items):
        index = next((n for n, item in enumerate(items) if item["id"] == item_id), None)
        if index is None:
            abort(404)
        action(conn, items, index)

    playlist = _change_items(playlist_id, change)
    flash(message % {"name": playlist["name"]}, "success")
    return redirect(url_for(".edit", playlist_id=playlist_id))


def _swap(conn, items, index, other):
    """Give items ``index`` and ``other`` each other's place (no-op off either end)."""
    if 0 <= other < len(items):
        conn.execute("UPDATE playlist_items SET position = %s WHERE id = %s",
                     (other, items[index]["id"]))
        conn.execute("UPDATE playlist_items SET position = %s WHERE id = %s",
                     (index, items[other]["id"]))
        for n, item in enumerate(items):
            if n not in (index, other):
                conn.execute("UPDATE playlist_items SET position = %s WHERE id = %s",
                             (n, item["id"]))


@bp.route("/<int:playlist_id>/items/<int:item_id>/up", methods=("POST",))
@role_required("administrator")
def move_up(playlist_id: int, item_id: int):
    """Play the item one step earlier."""
    return _item_action(playlist_id, item_id,
                        lambda conn, items, n: _swap(conn, items, n, n - 1),
                        _("Playlist %(name)s: item moved."))


@bp.route("/<int:playlist_id>/items/<int:item_id>/down", methods=("POST",))
@role_required("administrator")
def move_down(playlist_id: int, item_id: int):
    """Play the item one step later."""
    return _item_action(playlist_id, item_id,
                        lambda conn, items, n: _swap(conn, items, n, n + 1),
                        _("Playlist %(name)s: item moved."))


@bp.route("/<int:playlist_id>/items/<int:item_id>/delete", methods=("POST",))
@role_required("administrator")
def delete_item(playlist_id: int, item_id: int):
    """Remove the item from the playlist."""
    return _item_action(playlist_id, item_id,
                        lambda conn, items, n: conn.execute(
                            "DELETE FROM playlist_items WHERE id = %s", (items[n]["id"],)),
                        _("Playlist %(name)s: item removed."))


@bp.route("/<int:playlist_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(playlist_id: int):
    """Delete a playlist (after the browser's confirmation), unless a menu item plays it."""
    playlist = _playlist_or_404(playlist_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    try:
        with conn.transaction():
            users = _users_of_playlist(conn, playlist_id)
            if not users:
                items = _items(conn, playlist_id)
                conn.execute("DELETE FROM playlists WHERE id = %s", (playlist_id,))
                record_change(conn, current_user.login, "delete", OBJECT_TYPE,
                              playlist["name"], _public(playlist, items), None)
    except ForeignKeyViolation:  # put to use while we looked
        users = _users_of_playlist(conn, playlist_id)
    if users:
        flash(_("Playlist %(name)s was not deleted: it is played by %(users)s. "
                "Change them first.", name=playlist["name"], users=", ".join(users)), "danger")
    else:
        flash(_("Playlist %(name)s deleted.", name=playlist["name"]), "success")
    return redirect(url_for(".index"))


def _users_of_playlist(conn, playlist_id: int) -> list[str]:
    """The menu items and the queues that play the playlist, as the page names them."""
    titles = {"menu item": lambda number: _("menu item %(number)s", number=number),
              "queue": lambda name: _("queue %(name)s", name=name)}
    return [titles[row["kind"]](row["name"]) for row in conn.execute(
        "SELECT 'menu item' AS kind, number AS name FROM menu_items WHERE playlist_id = %(id)s"
        " UNION SELECT 'queue', name FROM queues WHERE playlist_id = %(id)s ORDER BY 1, 2",
        {"id": playlist_id}).fetchall()]
