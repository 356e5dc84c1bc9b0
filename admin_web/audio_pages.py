"""The Audio section (administrators only): the audio library of spec 3.

An upload is judged by its content, never by its name or the browser's
type: ``ivr.audio`` sniffs the first bytes and sox converts it to what
Asterisk plays, stored as ``<audio_dir>/<id>.wav``. The row and the file
are made together: a file sox cannot convert leaves no row and no file,
and nothing already stored changes. A file that a menu item or a playlist
plays is not deleted: the page names what uses it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import (Blueprint, abort, flash, redirect, render_template, request, send_file,
                   url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from psycopg.errors import ForeignKeyViolation, UniqueViolation
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired

from admin_web import site_settings
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db, row_or_404
from admin_web.forms import PostForm, at_most, page_status, single_line
from dialplan.configuration import audio_file_path
from ivr import audio

bp = Blueprint("audio", __name__, url_prefix="/audio")

OBJECT_TYPE = "audio file"
# Room for the form's other fields around the largest file accepted.
FORM_OVERHEAD_BYTES = 64 * 1024
_COLUMNS = "id, name, original_name, duration_ms, size_bytes, created_at"
# What plays a file: menu items (by number) and playlists (by name).
_USERS_OF_AUDIO = (
    "SELECT 'menu item' AS kind, number AS name FROM menu_items WHERE audio_id = %(id)s"
    " UNION"
    " SELECT 'playlist', p.name FROM playlist_items i JOIN playlists p ON p.id = i.playlist_id"
    " WHERE i.audio_id = %(id)s"
    " UNION"
    " SELECT 'transfer', '' FROM transfer_settings WHERE music_audio_id = %(id)s"
    " ORDER BY 1, 2")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.0f}"


class UploadForm(FlaskForm):
    name = StringField(_l("Title"), validators=[
        DataRequired(_l("Enter a title.")),
        at_most(100), single_line()],
        description=_l("How menus and playlists will name this recording."))
    file = FileField(_l("File"), validators=[FileRequired(_l("Choose a file."))],
                     description=_l("MP3, WAV, OGG, FLAC and other formats sox reads; at most "
                                    "%(size)s MB.", size=_megabytes(audio.MAX_UPLOAD_BYTES)))
    submit = SubmitField(_l("Upload"))


def _audio_dir() -> Path:
    return site_settings().audio_dir


def _public(row: dict) -> dict:
    """The history's copy of an audio file."""
    return {"id": row["id"], "name": row["name"], "original_name": row["original_name"],
            "duration_ms": row["duration_ms"], "size_bytes": row["size_bytes"]}


def _audio_or_404(audio_id: int) -> dict:
    return row_or_404(f"SELECT {_COLUMNS} FROM audio_files WHERE id = %s", (audio_id,))


@bp.route("/")
@role_required("administrator")
def index():
    """Every recording with its length, size and a player."""
    files = get_db().execute(f"SELECT {_COLUMNS} FROM audio_files ORDER BY name").fetchall()
    return render_template("audio/list.html", files=files, delete_form=PostForm())


@bp.route("/new", methods=("GET", "POST"))
@role_required("administrator")
def upload():
    """The upload form; a saved upload is converted before the page answers."""
    form = UploadForm()
    if form.validate_on_submit():
        stored = _store_upload(form)
        if stored is not None:
            flash(_("Recording %(name)s uploaded.", name=stored["name"]), "success")
            return redirect(url_for(".index"))
    return render_template("audio/upload.html", form=form), page_status(form)


def _store_upload(form: UploadForm) -> dict | None:
    """Convert the upload and keep it with its row; on a problem, an error on the form."""
    name = form.name.data.strip()
    conn = get_db()
    if conn.execute("SELECT 1 FROM audio_files WHERE name = %s", (name,)).fetchone():
        form.name.errors.append(_("Another recording has this name."))
        return None
    upload_file = form.file.data
    original_name = _printable(upload_file.filename or "")[:200]
    audio_dir = _audio_dir()
    audio_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=audio_dir, prefix=".upload-") as work:
        source = Path(work) / "upload"
        upload_file.save(source)
        return _insert_and_convert(conn, form, name, original_name, source, audio_dir)


def _insert_and_convert(conn, form, name, original_name, source, audio_dir) -> dict | None:
    """The row and its converted file, both or neither."""
    target = None
    try:
        with conn.transaction():
            row = conn.execute(
                "INSERT INTO audio_files (name, original_name, duration_ms, size_bytes)"
                f" VALUES (%s, %s, 0, 0) RETURNING {_COLUMNS}",
                (name, original_name)).fetchone()
            target = audio_file_path(audio_dir, row["id"])
            duration_ms = audio.convert_upload(source, target)
            row = conn.execute(
                "UPDATE audio_files SET duration_ms = %s, size_bytes = %s"
                f" WHERE id = %s RETURNING {_COLUMNS}",
                (duration_ms, target.stat().st_size, row["id"])).fetchone()
            record_change(conn, current_user.login, "create", OBJECT_TYPE, name, None,
                          _public(row))
    except audio.AudioError as exc:
        _remove(target)
        form.file.errors.append(_conversion_reason(exc))
        return None
    except UniqueViolation:
        _remove(target)
        form.name.errors.append(_("Another recording has this name."))
        return None
    except BaseException:
        _remove(target)
        raise
    return row


# ivr.audio's reasons for refusing a file, in the page's language.
REASON_TITLES = {
    audio.REASON_EMPTY: _l("The file is empty."),
    audio.REASON_TOO_BIG: _l("The file is too big."),
    audio.REASON_UNKNOWN_FORMAT: _l("The file is not MP3, WAV, OGG or FLAC audio."),
    audio.REASON_UNREADABLE: _l("The audio in the file could not be read."),
    audio.REASON_TOO_LONG: _l("The recording is longer than one hour."),
    audio.REASON_NO_SOUND: _l("The file holds no sound."),
}


def _conversion_reason(error) -> str:
    """Why the file was refused, in the page's language."""
    return str(REASON_TITLES.get(error.reason, error.reason))


def _remove(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _printable(text: str) -> str:
    """``text`` without control characters (a file name as the browser sent it)."""
    return "".join(ch for ch in text if ch.isprintable())


def _too_large_message() -> str:
    return _("The file is too large: at most %(size)s MB.",
             size=_megabytes(audio.MAX_UPLOAD_BYTES))


@bp.route("/<int:audio_id>.wav")
@role_required("administrator")
def play(audio_id: int):
    """The converted recording, for the page's player."""
    _audio_or_404(audio_id)
    path = audio_file_path(_audio_dir(), audio_id)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", conditional=True, max_age=0)


@bp.route("/<int:audio_id>/delete", methods=("POST",))
@role_required("administrator")
def delete(audio_id: int):
    """Delete a recording and its file (after the browser's confirmation), unless it is used."""
    row = _audio_or_404(audio_id)
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    try:
        with conn.transaction():
            users = _users_of_audio(conn, audio_id)
            if not users:
                conn.execute("DELETE FROM audio_files WHERE id = %s", (audio_id,))
                record_change(conn, current_user.login, "delete", OBJECT_TYPE, row["name"],
                              _public(row), None)
    except ForeignKeyViolation:  # put to use while we looked
        users = _users_of_audio(conn, audio_id)
    if users:
        flash(_("Recording %(name)s was not deleted: it is played by %(users)s. "
                "Change them first.", name=row["name"], users=", ".join(users)), "danger")
    else:
        _remove(audio_file_path(_audio_dir(), audio_id))
        flash(_("Recording %(name)s deleted.", name=row["name"]), "success")
    return redirect(url_for(".index"))


def _users_of_audio(conn, audio_id: int) -> list[str]:
    """What plays the recording, as the page names it; empty when nothing does."""
    titles = {"menu item": lambda number: _("menu item %(number)s", number=number),
              "playlist": lambda name: _("playlist %(name)s", name=name),
              "transfer": lambda _name: _("the transfer settings (music while transferring)")}
    return [titles[row["kind"]](row["name"])
            for row in conn.execute(_USERS_OF_AUDIO, {"id": audio_id}).fetchall()]


@bp.record_once
def _limit_request_size(state) -> None:
    """Refuse bodies larger than the largest upload before reading them."""
    if state.app.config.get("MAX_CONTENT_LENGTH") is None:
        state.app.config["MAX_CONTENT_LENGTH"] = audio.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES


@bp.app_errorhandler(413)
def too_large(error):
    """A body over the limit: the upload form again, saying why."""
    form = UploadForm(formdata=None)
    form.file.errors = [_too_large_message()]
    if request.blueprint == bp.name and current_user.is_authenticated \
            and current_user.has_role("administrator"):
        return render_template("audio/upload.html", form=form), 413
    flash(_too_large_message(), "danger")
    return render_template("error.html", code=413), 413
