"""Configuration changes in words, in Russian (the default) and English: every kind and action."""

import re

import pytest
from flask import session
from flask_babel import refresh

from admin_web.change_words import change_words, field_titles
from dialplan.changes import Action, Change, FieldChange, Kind

ADDED, REMOVED, CHANGED = Action.ADDED, Action.REMOVED, Action.CHANGED

CASES = [
    (Change(ADDED, Kind.PHONE, "203"), "добавлен телефон 203", "phone 203 added"),
    (Change(REMOVED, Kind.LINE, "prov1"), "удалена линия prov1", "line prov1 removed"),
    (Change(CHANGED, Kind.LINE, "prov1", fields=(FieldChange("reg_password", secret=True),)),
     "изменена линия prov1: пароль регистрации", "line prov1 changed: registration password"),
    (Change(ADDED, Kind.AUDIO_FILE, "Приветствие"), "добавлена аудиозапись «Приветствие»",
     "recording “Приветствие” added"),
    (Change(REMOVED, Kind.PLAYLIST, "Ожидание"), "удалён плейлист «Ожидание»",
     "playlist “Ожидание” removed"),
    (Change(CHANGED, Kind.PLAYLIST_ITEM, "2", owner="Ожидание",
            fields=(FieldChange("kind", "audio", "tts"), FieldChange("text", "", "Ждите"))),
     "изменён элемент 2 плейлиста «Ожидание»: тип, текст",
     "entry 2 of playlist “Ожидание” changed: type, text"),
    (Change(ADDED, Kind.MENU, "Главное"), "добавлено меню «Главное»", "menu “Главное” added"),
    (Change(CHANGED, Kind.MENU, "Основное", fields=(FieldChange("name", "Главное", "Основное"),),
            old_key="Главное"),
     "изменено меню «Основное» (прежде «Главное»): имя",
     "menu “Основное” changed (formerly “Главное”): name"),
    (Change(REMOVED, Kind.MENU_ITEM, "91000"), "удалён пункт 91000", "item 91000 removed"),
    (Change(CHANGED, Kind.PHONE, "211", fields=(FieldChange("number", "201", "211"),),
            old_key="201"),
     "изменён телефон 211 (прежде 201): номер", "phone 211 changed (formerly 201): number"),
    (Change(CHANGED, Kind.HANDLER, "2", owner="90000", event="key",
            fields=(FieldChange("target", "92000", "91000"),)),
     "изменён обработчик клавиши 2 пункта 90000: номер назначения",
     "handler of key 2 of item 90000 changed: target number"),
    (Change(ADDED, Kind.HANDLER, "", owner="90000", event="timeout"),
     "добавлен обработчик тайм-аута пункта 90000", "timeout handler of item 90000 added"),
    (Change(REMOVED, Kind.HANDLER, "[0-9]+#", owner="91100", event="sequence"),
     "удалён обработчик последовательности [0-9]+# пункта 91100",
     "handler of sequence [0-9]+# of item 91100 removed"),
    (Change(CHANGED, Kind.SPEECH, fields=(FieldChange("engine", "festival", "yandex"),
                                          FieldChange("yandex_key_id", secret=True))),
     "изменены настройки синтеза речи: движок, ID ключа Yandex",
     "speech synthesis settings changed: engine, Yandex key ID"),
    (Change(ADDED, Kind.QUEUE, "92000"), "добавлена очередь 92000", "queue 92000 added"),
    (Change(REMOVED, Kind.QUEUE, "92000"), "удалена очередь 92000", "queue 92000 removed"),
    (Change(CHANGED, Kind.QUEUE, "92001", old_key="92000", fields=(
        FieldChange("number", "92000", "92001"), FieldChange("ring_at_once", 1, None),
        FieldChange("sticky", False, True), FieldChange("members", ("101",), ("102",)),
        FieldChange("keys", (), ()), FieldChange("playlist", None, "Музыка"))),
     "изменена очередь 92001 (прежде 92000): номер, одновременно вызываемых, приоритет "
     "тому же оператору, участники, клавиши во время ожидания, плейлист",
     "queue 92001 changed (formerly 92000): number, members ringing at once, same operator "
     "for a returning caller, members, keys while waiting, playlist"),
    (Change(CHANGED, Kind.TRANSFER, fields=(FieldChange("music", None, "Вивальди"),)),
     "изменены настройки перевода вызовов: музыка при переводе",
     "call transfer settings changed: music while transferring"),
]


@pytest.mark.parametrize("change, russian, english", CASES)
def test_a_change_in_words(app, change, russian, english):
    with app.test_request_context("/"):
        assert change_words(change) == russian
        session["language"] = "en"
        refresh()  # the request's locale is kept once chosen
        assert change_words(change) == english


def test_every_kind_and_action_and_every_field_has_russian_words(app):
    with app.test_request_context("/"):
        for kind in Kind:
            actions = (CHANGED,) if kind in (Kind.SPEECH, Kind.TRANSFER) else tuple(Action)
            events = ("key", "timeout", "sequence") if kind is Kind.HANDLER else ("",)
            for action in actions:
                for event in events:
                    words = change_words(Change(action, kind, "1", owner="90000", event=event))
                    assert words.startswith(("добавлен", "удал", "измен")), words
        titles = field_titles()
        assert all(re.search("[а-я]", title) for name, title in titles.items()
                   if name != "id"), titles
