"""Texts shown to administrators in their language: an English template and its parameters.

Validation, Apply and the menu engine say what went wrong with ``Message``
values rather than finished strings, so the admin can show them in Russian
or English (``Message.render(gettext)``) while the command line and the
logs print the English (``str``).  Templates are marked with ``N_`` so Babel
extracts them into the admin's catalog (see admin_web/translations/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


def N_(template: str) -> str:
    """Mark an English message template for extraction; translated where it is shown."""
    return template


@dataclass(frozen=True)
class Message:
    """An English template with its parameters; a parameter may be a Message itself."""

    template: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, gettext=None) -> str:
        """The text, translated by ``gettext`` (a one-argument function) when given."""
        text = gettext(self.template) if gettext is not None else self.template
        if not self.params:
            return text
        return text % {name: _rendered(value, gettext) for name, value in self.params.items()}

    def __str__(self) -> str:
        return self.render()


def message(template: str, **params) -> Message:
    return Message(template, params)


class MessageText(str):
    """A Message's English text that keeps the Message.

    Call logs, tests and the command line see a plain English string; a page
    shows ``text.message.render(gettext)`` (the menu simulator's steps).
    """

    message: Message

    def __new__(cls, template: str, **params) -> MessageText:
        made = message(template, **params)
        text = super().__new__(cls, made.render())
        text.message = made
        return text


def _rendered(value: object, gettext) -> object:
    """A parameter as its message's text: a Message or MessageText rendered, else as is."""
    if isinstance(value, MessageText):
        return value.message.render(gettext)
    return value.render(gettext) if isinstance(value, Message) else value


def in_language(text: str, gettext) -> str:
    """``text`` translated by ``gettext`` when it is a MessageText, else as it is."""
    return text.message.render(gettext) if isinstance(text, MessageText) else text


def quoted(text: object) -> Message:
    """``text`` in quotes of the reader's language: 'x' in English, «x» in Russian
    (control characters escaped as ``repr`` escapes them)."""
    return Message(N_("'%(text)s'"), {"text": repr(str(text))[1:-1]})
