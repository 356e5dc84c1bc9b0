"""Languages of the admin: Russian by default, English on request.

The choice is kept in the session, set by the switch in the navbar. Texts
are gettext catalogs in admin_web/translations (English msgids; the .mo
files are committed next to their .po, see translations/README).
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, request, session, url_for
from flask_babel import Babel, format_decimal
from flask_babel import gettext as _

LANGUAGES = {"ru": "Русский", "en": "English"}
DEFAULT_LANGUAGE = "ru"

bp = Blueprint("language", __name__)
babel = Babel()


def current_language() -> str:
    """The language of this request: the session's choice (or the one an API client asked
    for), else Russian."""
    chosen = g.get("language") or session.get("language")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


@bp.route("/language/<code>", methods=("POST",))
def choose(code: str):
    """Remember the language and go back to the page the switch was pressed on."""
    if code not in LANGUAGES:
        abort(404)
    session["language"] = code
    back = request.form.get("next", "")
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = url_for("home.index")
    return redirect(back)


def file_size(size_bytes: int) -> str:
    """A size in bytes as the admin reads it: "15,7 КБ" in Russian, "15.7 KB" in English.

    Jinja's filesizeformat always says "kB" in English; units step by 1024.
    """
    units = (lambda n: _("%(size)s B", size=n), lambda n: _("%(size)s KB", size=n),
             lambda n: _("%(size)s MB", size=n), lambda n: _("%(size)s GB", size=n))
    value, step = float(size_bytes), 0
    while value >= 1024 and step < len(units) - 1:
        value, step = value / 1024, step + 1
    shown = format_decimal(round(value) if step == 0 else round(value, 1), format="#,##0.#")
    return units[step](shown)


def init_app(app) -> None:
    """Flask-Babel with our selector, the switch route and template helpers."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    babel.init_app(app, locale_selector=current_language)
    app.register_blueprint(bp)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, current_language=current_language)
    app.jinja_env.filters["file_size"] = file_size
