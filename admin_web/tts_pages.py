"""The Speech synthesis section (administrators only): the TTS settings of spec 4.

One row of ``tts_settings``: the engine, each engine's voice and the Yandex
SpeechKit account. The private key stays in its file; the page keeps and
shows only its path. "Listen" says a text with the saved settings (the
configured engine only, so a broken engine shows here rather than being
hidden by the fallback calls use) and plays it in the browser. The cache of
synthesised speech is shown and can be cleared, keeping the speech of the
texts menus and playlists say now.
"""

from __future__ import annotations

import re
from dataclasses import asdict, fields

from flask import Blueprint, abort, flash, redirect, render_template, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from admin_web import site_settings
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from admin_web.forms import PostForm, at_most, matching, page_status
from dialplan.apply import case_words, fixed_texts
from dialplan.configuration import TtsSettings, load_configuration
from dialplan.messages import in_language
from ivr import tts
from ivr.speaker import texts_for_calls

bp = Blueprint("tts", __name__, url_prefix="/tts")

OBJECT_TYPE = "tts settings"
CACHE_OBJECT_TYPE = "tts cache"
ENGINE_TITLES = {
    tts.FESTIVAL: _l("Festival (Russian voice festvox-ru)"),
    tts.ESPEAK: _l("espeak-ng"),
    tts.YANDEX: _l("Yandex SpeechKit (cloud)"),
}
FIELDS = tuple(f.name for f in fields(TtsSettings))
SAMPLE_TEXT = "Здравствуйте! Вы позвонили в телефонный центр."
SAMPLE_MAX_CHARS = 500
ACCOUNT_ID = r"[A-Za-z0-9_-]*"


def _voice(label, pattern: re.Pattern, message):
    """A voice name field checked by the engine's own rule (``ivr.tts``)."""
    return StringField(label, validators=[
        DataRequired(_l("Enter a voice.")), at_most(64), matching(pattern, message)])


def _account_field(label, description=None):
    return StringField(label, validators=[
        Optional(), at_most(100),
        matching(ACCOUNT_ID, _l("Latin letters, digits, '_' and '-' only."))],
        description=description)


class SettingsForm(FlaskForm):
    engine = SelectField(_l("Engine"), choices=[SelectChoice(e, ENGINE_TITLES[e])
                                                for e in tts.ENGINES],
                         invalid_choice_message=_l("Choose one of the listed engines."),
                         description=_l("When it fails on a call, the local engines are tried "
                                        "next."))
    festival_voice = _voice(_l("Festival voice"), tts.FESTIVAL_VOICE,
                            _l("Latin letters, digits and '_' only."))
    espeak_voice = _voice(_l("espeak-ng voice"), tts.ESPEAK_VOICE,
                          _l("A Latin letter or digit, then Latin letters, digits, "
                             "'_', '+', '/' or '-'."))
    yandex_voice = _voice(_l("Yandex voice"), tts.YANDEX_VOICE,
                          _l("Lower-case Latin letters, digits and '_' only."))
    yandex_service_account_id = _account_field(_l("Yandex service account ID"))
    yandex_key_id = _account_field(_l("Yandex key ID"))
    yandex_folder_id = _account_field(_l("Yandex folder ID"))
    yandex_private_key_path = StringField(_l("Path to the Yandex private key file"), validators=[
        Optional(), at_most(500),
        matching(r"/[^\x00-\x1f\x7f]*", _l("A full path, starting with '/'."))],
        description=_l("The key stays in this file on the server; only its path is kept "
                       "here."))
    submit = SubmitField(_l("Save"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.engine.data == tts.YANDEX:
            for name in tts.YANDEX_SETTINGS:
                field = getattr(self, name)
                if not (field.data or "").strip():
                    field.errors.append(_("Yandex SpeechKit needs this."))
                    valid = False
        return valid


class ListenForm(FlaskForm):
    text = TextAreaField(_l("Text"), default=SAMPLE_TEXT, validators=[
        DataRequired(_l("Enter a text.")), at_most(SAMPLE_MAX_CHARS)],
        render_kw={"rows": 2})
    submit = SubmitField(_l("Listen"))


def load_tts_settings(conn) -> TtsSettings:
    """The saved settings (the one row of ``tts_settings``)."""
    row = conn.execute(f"SELECT {', '.join(FIELDS)} FROM tts_settings WHERE id = 1").fetchone()
    return TtsSettings(**row) if row else TtsSettings()


def _cache_dir():
    return site_settings().tts_cache_dir


def _page(settings_form, listen_form, status=200, sample_url=None, failure=None):
    files, size = tts.cache_usage(_cache_dir())
    return render_template("tts/index.html", form=settings_form, listen_form=listen_form,
                           clear_form=PostForm(), cache_files=files, cache_bytes=size,
                           sample_url=sample_url, failure=failure), status


@bp.route("/", methods=("GET", "POST"))
@role_required("administrator")
def index():
    """The settings form, the listen test and the cache."""
    conn = get_db()
    old = load_tts_settings(conn)
    form = SettingsForm(data=asdict(old))
    if form.validate_on_submit():
        new = TtsSettings(**{name: (getattr(form, name).data or "").strip()
                             for name in FIELDS})
        if new != old:
            with conn.transaction():
                conn.execute(f"UPDATE tts_settings SET {', '.join(f'{n} = %s' for n in FIELDS)}"
                             " WHERE id = 1", [getattr(new, n) for n in FIELDS])
                record_change(conn, current_user.login, "update", OBJECT_TYPE, "", asdict(old),
                              asdict(new))
        flash(_("Speech synthesis settings saved."), "success")
        return redirect(url_for(".index"))
    return _page(form, ListenForm(formdata=None), page_status(form))


@bp.route("/listen", methods=("POST",))
@role_required("administrator")
def listen():
    """Say the text with the saved settings and play it on the page."""
    settings = load_tts_settings(get_db())
    form = ListenForm()
    settings_form = SettingsForm(formdata=None, data=asdict(settings))
    if not form.validate_on_submit():
        return _page(settings_form, form, 400)
    try:
        path = tts.synthesize(form.text.data.strip(), settings, _cache_dir())
    except tts.TtsError as exc:
        return _page(settings_form, form, 200,
                     failure=in_language(exc.args[0], _) if exc.args else str(exc))
    return _page(settings_form, form, sample_url=url_for(".speech", key=path.stem))


@bp.route("/speech/<key>.wav")
@role_required("administrator")
def speech(key: str):
    """One file of the speech cache, for the page's player."""
    path = _cache_dir() / f"{key}.wav"
    if not tts.CACHE_KEY.fullmatch(key) or not path.is_file():
        abort(404)
    return send_file(path, mimetype="audio/wav", max_age=0)


@bp.route("/cache/clear", methods=("POST",))
@role_required("administrator")
def clear_cache():
    """Delete cached speech, except what Apply prepared for the calls: the texts menus and
    playlists say, and the pieces phrases with data are said from."""
    if not PostForm().validate_on_submit():
        abort(400)
    conn = get_db()
    config = load_configuration(conn)
    said = [text for text, _place in fixed_texts(config)] + case_words(conn)
    keep = {tts.cached_path(text, config.tts, _cache_dir()) for text in texts_for_calls(said)}
    files, size = tts.clean_cache(_cache_dir(), keep)
    with conn.transaction():
        record_change(conn, current_user.login, "delete", CACHE_OBJECT_TYPE, "",
                      {"files": files, "bytes": size}, None)
    flash(_("Speech cache cleared. Files deleted: %(files)d. The speech of the texts menus and "
            "playlists say was kept.", files=files), "success")
    return redirect(url_for(".index"))
