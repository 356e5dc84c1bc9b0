"""A configuration change (``dialplan.changes.Change``) in words, in the admin's language.

«добавлен телефон 203», «изменён обработчик клавиши 2 пункта 90000: номер
назначения», «изменена очередь 92000: участники», «изменены настройки синтеза
речи: движок».  Each phrase is a
whole msgid, so Russian agrees in gender («добавлена линия», «добавлено
меню»); field names are the change history's (``change_titles``).  The Apply page, the banner
and the revision diff page all speak through ``change_words``.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from admin_web.change_titles import FIELD_TITLES
from dialplan.changes import Action, Change, Kind

_ADDED, _REMOVED, _CHANGED = Action.ADDED, Action.REMOVED, Action.CHANGED

# (kind, action) -> phrase; %(key)s is the object's name, %(owner)s its owner's.
_PHRASES = {
    (Kind.PHONE, _ADDED): _l("phone %(key)s added"),
    (Kind.PHONE, _REMOVED): _l("phone %(key)s removed"),
    (Kind.PHONE, _CHANGED): _l("phone %(key)s changed"),
    (Kind.LINE, _ADDED): _l("line %(key)s added"),
    (Kind.LINE, _REMOVED): _l("line %(key)s removed"),
    (Kind.LINE, _CHANGED): _l("line %(key)s changed"),
    (Kind.AUDIO_FILE, _ADDED): _l("recording “%(key)s” added"),
    (Kind.AUDIO_FILE, _REMOVED): _l("recording “%(key)s” removed"),
    (Kind.AUDIO_FILE, _CHANGED): _l("recording “%(key)s” changed"),
    (Kind.PLAYLIST, _ADDED): _l("playlist “%(key)s” added"),
    (Kind.PLAYLIST, _REMOVED): _l("playlist “%(key)s” removed"),
    (Kind.PLAYLIST, _CHANGED): _l("playlist “%(key)s” changed"),
    (Kind.PLAYLIST_ITEM, _ADDED): _l("entry %(key)s of playlist “%(owner)s” added"),
    (Kind.PLAYLIST_ITEM, _REMOVED): _l("entry %(key)s of playlist “%(owner)s” removed"),
    (Kind.PLAYLIST_ITEM, _CHANGED): _l("entry %(key)s of playlist “%(owner)s” changed"),
    (Kind.MENU, _ADDED): _l("menu “%(key)s” added"),
    (Kind.MENU, _REMOVED): _l("menu “%(key)s” removed"),
    (Kind.MENU, _CHANGED): _l("menu “%(key)s” changed"),
    (Kind.MENU_ITEM, _ADDED): _l("item %(key)s added"),
    (Kind.MENU_ITEM, _REMOVED): _l("item %(key)s removed"),
    (Kind.MENU_ITEM, _CHANGED): _l("item %(key)s changed"),
    (Kind.QUEUE, _ADDED): _l("queue %(key)s added"),
    (Kind.QUEUE, _REMOVED): _l("queue %(key)s removed"),
    (Kind.QUEUE, _CHANGED): _l("queue %(key)s changed"),
    (Kind.SPEECH, _CHANGED): _l("speech synthesis settings changed"),
    (Kind.TRANSFER, _CHANGED): _l("call transfer settings changed"),
    (Kind.SCHEDULE, _ADDED): _l("schedule “%(key)s” added"),
    (Kind.SCHEDULE, _REMOVED): _l("schedule “%(key)s” removed"),
    (Kind.SCHEDULE, _CHANGED): _l("schedule “%(key)s” changed"),
    (Kind.RULE, _ADDED): _l("override rule %(key)s added"),
    (Kind.RULE, _REMOVED): _l("override rule %(key)s removed"),
    (Kind.RULE, _CHANGED): _l("override rule %(key)s changed"),
}

# Handlers: (event, action) -> phrase.
_HANDLER_PHRASES = {
    ("key", _ADDED): _l("handler of key %(key)s of item %(owner)s added"),
    ("key", _REMOVED): _l("handler of key %(key)s of item %(owner)s removed"),
    ("key", _CHANGED): _l("handler of key %(key)s of item %(owner)s changed"),
    ("timeout", _ADDED): _l("timeout handler of item %(owner)s added"),
    ("timeout", _REMOVED): _l("timeout handler of item %(owner)s removed"),
    ("timeout", _CHANGED): _l("timeout handler of item %(owner)s changed"),
    ("sequence", _ADDED): _l("handler of sequence %(key)s of item %(owner)s added"),
    ("sequence", _REMOVED): _l("handler of sequence %(key)s of item %(owner)s removed"),
    ("sequence", _CHANGED): _l("handler of sequence %(key)s of item %(owner)s changed"),
}

# Kinds whose key is a name (quoted in the phrase) rather than a number.
_NAMED = (Kind.AUDIO_FILE, Kind.PLAYLIST, Kind.MENU, Kind.SCHEDULE)


def field_titles() -> dict[str, str]:
    """Each field's title in the admin's language, as it reads inside a phrase: the history's
    titles (``change_titles.FIELD_TITLES``, the one table of them) with a small first letter."""
    return {name: _inline(str(title)) for name, title in FIELD_TITLES.items()}


# Names that keep their capital letter inside a phrase.
_PROPER = ("Festival", "Yandex", "eSpeak", "espeak-ng", "ID", "SIP")


def _inline(title: str) -> str:
    """«Пароль регистрации» -> «пароль регистрации»; «Yandex key ID» stays as it is."""
    return title if title.startswith(_PROPER) else title[:1].lower() + title[1:]


def change_words(change: Change, titles: dict[str, str] | None = None) -> str:
    """The change as one phrase: «изменён телефон 203: описание» (``titles``:
    ``field_titles()``, when the caller has them already)."""
    if change.kind is Kind.HANDLER:
        phrase = _HANDLER_PHRASES.get((change.event, change.action))
        if phrase is None:  # a handler kind validation refuses; still say something
            phrase = _HANDLER_PHRASES[("key", change.action)]
    else:
        phrase = _PHRASES[(change.kind, change.action)]
    text = str(phrase) % {"key": change.key, "owner": change.owner}
    if change.old_key:
        old = _("“%(name)s”", name=change.old_key) if change.kind in _NAMED else change.old_key
        text = _("%(change)s (formerly %(old)s)", change=text, old=old)
    if change.fields:
        titles = titles if titles is not None else field_titles()
        names = dict.fromkeys(titles.get(f.name, f.name) for f in change.fields)
        text = _("%(change)s: %(fields)s", change=text, fields=", ".join(names))
    return text


def changes_in_words(changes: list[Change]) -> list[str]:
    """Each change in words, in the order given."""
    titles = field_titles()
    return [change_words(change, titles) for change in changes]
