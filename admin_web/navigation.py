"""The navbar: sections grouped by what people do, each group a dropdown.

A section appears once its blueprint is registered, and only to users whose
role its view accepts (see `auth.may_see`); a group shows when one of its
sections does. Queues sit with the menus and playlists that send callers
to them and play to them; the transfer music with the other settings of
what callers hear. Sections of the contact center still to come (operators,
the dialer, rules) and a calls log take their place in their group when
their pages exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request
from flask_babel import lazy_gettext as _l

from admin_web.auth import may_see
from admin_web.user_pages import ROLE_TITLES


@dataclass(frozen=True)
class Section:
    """One page of the navbar: its endpoint and its title."""

    endpoint: str
    title: object  # a lazy translated string

    @property
    def blueprint(self) -> str:
        return self.endpoint.split(".", 1)[0]


@dataclass(frozen=True)
class Group:
    """A dropdown of the navbar: a title and its sections, in the order shown."""

    key: str  # names the dropdown in the page (its id), not shown
    title: object
    sections: tuple[Section, ...]


GROUPS = (
    Group("telephony", _l("Telephony"), (
        Section("phones.index", _l("Phones")),
        Section("lines.index", _l("External lines")),
        Section("sip_blocks.index", _l("SIP blocks")),
    )),
    Group("voice", _l("Voice menus"), (
        Section("menus.index", _l("Voice menus")),
        Section("queues.index", _l("Queues")),
        Section("playlists.index", _l("Playlists")),
        Section("audio.index", _l("Audio")),
        Section("tts.index", _l("Speech synthesis")),
        Section("transfer.index", _l("Call transfer settings")),
        # Schedules and override rules: where and when calls go.
        Section("rules.index", _l("Override rules")),
        Section("schedules.index", _l("Schedules")),
        Section("simulator.index", _l("Simulator")),
        Section("cases.index", _l("Cases")),
    )),
    Group("contact_center", _l("Contact center"), (
        Section("callbacks.index", _l("Callbacks")),
        Section("queue_live.index", _l("Queues now")),
        # The robocall dialer
        Section("dialer.index", _l("Robocall queue")),
        Section("dialer.log", _l("Robocall log")),
        Section("dialer.settings", _l("Robocall settings")),
    )),
    Group("logs", _l("Logs"), (
        Section("history.index", _l("History")),
    )),
    Group("system", _l("System"), (
        Section("user_pages.index", _l("Users")),
        Section("apply.index", _l("Apply")),
        Section("api_tokens.index", _l("API")),
    )),
)
SECTIONS = tuple(section for group in GROUPS for section in group.sections)


def visible_groups() -> list[tuple[Group, list[Section], Section | None]]:
    """The groups the current user may open: each with the sections they may see and the
    section of this page (None when the page is in another group)."""
    shown = []
    for group in GROUPS:
        sections = [section for section in group.sections if may_see(section.endpoint)]
        if sections:
            shown.append((group, sections, next(filter(is_current, sections), None)))
    return shown


def is_current(section: Section) -> bool:
    """True on the pages of `section` (its blueprint's pages); where a blueprint has
    several sections (the dialer's queue, log and settings), on that section's own page,
    its other pages counting as the first section's."""
    if not request.endpoint or request.endpoint.split(".", 1)[0] != section.blueprint:
        return False
    siblings = [s.endpoint for s in SECTIONS if s.blueprint == section.blueprint]
    if request.endpoint in siblings:
        return request.endpoint == section.endpoint
    return section.endpoint == siblings[0]


def init_app(app) -> None:
    """Give templates the groups, the role check and the roles' titles."""
    app.jinja_env.globals.update(visible_groups=visible_groups, may_see=may_see,
                                 ROLE_TITLES=ROLE_TITLES)
