"""The navbar's sections: endpoint and title, in the order shown.

A section appears once its blueprint is registered, and only to users
whose role its view accepts (see `auth.may_see`).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

SECTIONS = (
    ("phones.index", _l("Phones")),
    ("lines.index", _l("External lines")),
    ("audio.index", _l("Audio")),
    ("playlists.index", _l("Playlists")),
    ("menus.index", _l("Voice menus")),
    ("tts.index", _l("Speech synthesis")),
    ("simulator.index", _l("Simulator")),
    ("cases.index", _l("Cases")),
    ("apply.index", _l("Apply")),
    ("sip_blocks.index", _l("SIP blocks")),
    ("history.index", _l("History")),
    ("user_pages.index", _l("Users")),
)


def init_app(app) -> None:
    """Give templates the sections and the role check."""
    from admin_web.auth import may_see

    app.jinja_env.globals.update(SECTIONS=SECTIONS, may_see=may_see)
