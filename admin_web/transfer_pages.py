"""The transfer settings (administrators only): what a caller hears while an operator
makes an attended transfer with *2 (spec 11).

One row of ``transfer_settings``: a recording of the audio library, or none for
Asterisk's default music on hold. A save that changes it writes its history
row in the same transaction; the change reaches calls with the next Apply.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from psycopg.errors import ForeignKeyViolation
from wtforms import SelectField, SubmitField
from wtforms.fields.choices import SelectChoice

from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import listed_id, page_status

bp = Blueprint("transfer", __name__, url_prefix="/transfer")

OBJECT_TYPE = "transfer settings"


class TransferForm(FlaskForm):
    music_audio_id = SelectField(_l("Music while transferring"), validate_choice=False,
                                 description=_l("What the caller hears while the operator "
                                                "transfers the call by *2."))
    submit = SubmitField(_l("Save"))


def _recordings(conn) -> dict[int, str]:
    return {row["id"]: row["name"] for row in conn.execute(
        "SELECT id, name FROM audio_files ORDER BY name").fetchall()}


def _stored_music(conn) -> int | None:
    row = conn.execute("SELECT music_audio_id FROM transfer_settings WHERE id = 1").fetchone()
    return row["music_audio_id"] if row else None


def public_transfer(music_audio_id: int | None, recordings: dict[int, str]) -> dict:
    """The history's copy of the settings: the recording's name, empty for the default."""
    return {"music": recordings.get(music_audio_id, music_audio_id)
            if music_audio_id is not None else ""}


@bp.route("/", methods=("GET", "POST"))
@role_required("administrator")
def index():
    """The transfer music form."""
    conn = get_db()
    recordings = _recordings(conn)
    old = _stored_music(conn)
    form = TransferForm(data={"music_audio_id": str(old or "")})
    form.music_audio_id.choices = [SelectChoice("", _("Asterisk's default music"))] + [
        SelectChoice(str(i), name) for i, name in recordings.items()]
    if form.validate_on_submit():
        new = listed_id(form.music_audio_id) if form.music_audio_id.data else None
        if form.music_audio_id.data and new is None:
            form.music_audio_id.errors.append(_("Choose one of the listed recordings."))
        else:
            try:
                _save(conn, old, new, recordings)
            except ForeignKeyViolation:  # the recording was deleted meanwhile
                form.music_audio_id.errors.append(_("Choose one of the listed recordings."))
            else:
                flash(_("Transfer settings saved."), "success")
                return redirect(url_for(".index"))
    return render_template("transfer/index.html", form=form), page_status(form)


def _save(conn, old: int | None, new: int | None, recordings: dict[int, str]) -> None:
    if new == old:
        return
    with conn.transaction():
        conn.execute("INSERT INTO transfer_settings (id, music_audio_id) VALUES (1, %s)"
                     " ON CONFLICT (id) DO UPDATE SET music_audio_id = excluded.music_audio_id",
                     (new,))
        record_change(conn, current_user.login, "update", OBJECT_TYPE, "",
                      public_transfer(old, recordings), public_transfer(new, recordings))
