"""What the scenarios and playlists say, as phrases made of pieces (spec 4, 6).

A phrase that carries data (a case's number, service, date and status; a
count of cases; a place in the queue, a wait in minutes) is not a new text
for the speech engine on every call: it is a list of *pieces*, each a text
from a finite vocabulary that Apply synthesises into the TTS cache
(``vocabulary``), and at call time the pieces' speech is played back to
back (``ivr.speaker``).  The vocabulary is the fixed parts of the phrases
below, the number and date words of ``ivr.russian`` (its doc gives the
bounds), the keys, and the statuses and service names the case database
holds when Apply runs.

A ``Phrase`` is the phrase's readable text (a ``str``: it is what the call's
log and the simulator show, and what a plain text would be) carrying its
``parts``: pieces, and punctuation marks that are pauses between them.  Only
a person's name is open text, outside any vocabulary (``greeting``).
Pure functions, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ivr.russian import (count_pieces, date_pieces, date_vocabulary, digit_group_pieces,
                         number_groups, number_pieces, number_vocabulary)

# Punctuation marks are pauses, not pieces; how long each is lies with ivr.speaker.
PUNCTUATION = frozenset(",.:!?")

_KEY_WORDS = {"*": "звёздочка", "#": "решётка"}
CASE_FORMS = ("дело", "дела", "дел")
MINUTE_FORMS = ("минута", "минуты", "минут")

# The fixed parts of the phrases below, each a piece.
CASE_NUMBER = "Дело номер"
OPENED_ON = "от"
STATUS = "Статус"
NOT_FOUND = "не найдено"
CHECK_AND_RETRY = "Проверьте номер и попробуйте ещё раз"
WRONG_CASE_NUMBER = ("Номер дела введён неверно. Наберите цифры номера, разделяя части"
                     " звёздочкой, и в конце нажмите решётку.")
YOU_TYPED = "Вы ввели"
NOTHING_TYPED = "Вы ничего не ввели."
NO_PHONE_FOR_CASES = ("Не удалось определить ваш номер телефона, поэтому мы не можем найти"
                      " ваши дела. Узнайте статус дела по его номеру.")
NO_OPEN_CASES = "Дел в работе по вашему номеру телефона нет."
OPEN_CASES = "По вашему номеру телефона в работе"
AND_MORE = "И ещё"
OPERATOR_TELLS_MORE = "Подробнее о них расскажет оператор."
NO_PHONE_FOR_CALLBACK = ("Не удалось определить ваш номер телефона, поэтому заказать обратный"
                         " звонок не получилось. Пожалуйста, позвоните нам с номера, который"
                         " не скрыт.")
CALLBACK_ORDERED = "Заявка на обратный звонок принята. Оператор перезвонит вам на номер"
CALLBACK_ALREADY_ORDERED = "Ваша заявка на обратный звонок уже принята, мы перезвоним вам."
THANKS_FOR_CALLING = "Спасибо за звонок."
QUEUE_CALLBACK_KEPT = ("Ваше место в очереди сохранено. Когда подойдёт ваша очередь, оператор"
                       " перезвонит вам. Можно положить трубку.")
NO_NUMBER_TYPED = "Вы не ввели номер."
NUMBER = "Номер"
CANNOT_DIAL = "набрать нельзя"
NO_SUCH_PHONE = "такого внутреннего номера нет"
CONNECTING_TO = "Соединяю с номером"
HELLO = "Здравствуйте"
QUEUE_POSITION = "Ваш номер в очереди"
ESTIMATED_WAIT = "Примерное время ожидания"
LESS_THAN_A_MINUTE = "меньше минуты"
# Binding a phone to an operator by dialling their code (ivr.bind_phone).
PHONE = "Телефон"
BOUND_TO_USER = "привязан к пользователю"
BIND_CODE = "Код привязки"
CODE_NOT_FOUND = "не найден"
PHONE_NOT_BOUND = "Телефон не привязан"
BIND_CODE_IS_FIVE_DIGITS = "Код привязки состоит из пяти цифр"
ONLY_PHONES_BIND = "Привязать можно только внутренний телефон"
# A login's characters as they are said one by one (logins: Latin letters, digits, . _ -).
_LOGIN_CHARACTER_WORDS = {
    "a": "эй", "b": "би", "c": "си", "d": "ди", "e": "и", "f": "эф", "g": "джи", "h": "эйч",
    "i": "ай", "j": "джей", "k": "кей", "l": "эл", "m": "эм", "n": "эн", "o": "оу", "p": "пи",
    "q": "кью", "r": "ар", "s": "эс", "t": "ти", "u": "ю", "v": "ви", "w": "дабл ю",
    "x": "экс", "y": "уай", "z": "зед", ".": "точка", "_": "подчёркивание", "-": "дефис",
}
# Said when the case database or the callback list cannot be reached (ivr.menu).
SERVICE_UNAVAILABLE = ("Извините, сейчас мы не можем получить эти сведения."
                       " Пожалуйста, попробуйте позже.")

FIXED_PIECES = (
    CASE_NUMBER, OPENED_ON, STATUS, NOT_FOUND, CHECK_AND_RETRY, WRONG_CASE_NUMBER, YOU_TYPED,
    NOTHING_TYPED, NO_PHONE_FOR_CASES, NO_OPEN_CASES, OPEN_CASES, AND_MORE, OPERATOR_TELLS_MORE,
    NO_PHONE_FOR_CALLBACK, CALLBACK_ORDERED, CALLBACK_ALREADY_ORDERED, THANKS_FOR_CALLING,
    QUEUE_CALLBACK_KEPT,
    NO_NUMBER_TYPED, NUMBER, CANNOT_DIAL, NO_SUCH_PHONE, CONNECTING_TO, HELLO, QUEUE_POSITION,
    ESTIMATED_WAIT, LESS_THAN_A_MINUTE, SERVICE_UNAVAILABLE, *CASE_FORMS, *MINUTE_FORMS,
    PHONE, BOUND_TO_USER, BIND_CODE, CODE_NOT_FOUND, PHONE_NOT_BOUND, BIND_CODE_IS_FIVE_DIGITS,
    ONLY_PHONES_BIND, *_LOGIN_CHARACTER_WORDS.values(),
)
KEY_PIECES = (*"0123456789", *_KEY_WORDS.values())


class Phrase(str):
    """A phrase's readable text that also knows the pieces and pauses it is spoken from."""

    parts: tuple[str, ...]

    def __new__(cls, *parts: str) -> Phrase:
        parts = tuple(part for part in parts if part)
        phrase = super().__new__(cls, _readable(parts))
        phrase.parts = parts
        return phrase

    @property
    def pieces(self) -> tuple[str, ...]:
        """The texts whose speech the phrase is said from, in order."""
        return tuple(part for part in self.parts if part not in PUNCTUATION)


def parts_of(text: str) -> tuple[str, ...]:
    """What a text is spoken from: a phrase's parts, or a plain text as one piece."""
    return text.parts if isinstance(text, Phrase) else (text,)


def _readable(parts: tuple[str, ...]) -> str:
    text = ""
    for part in parts:
        if part in PUNCTUATION:
            text = text.rstrip() + part + " "
        else:
            text += part + " "
    return text.strip()


def _between(groups: Iterable[list[str]], mark: str = ",") -> list[str]:
    parts: list[str] = []
    for group in groups:
        parts += ([mark] if parts else []) + group
    return parts


def spoken_keys(keys: str) -> list[str]:
    """Keys as they are said one by one: '12*#' -> ['1', '2', 'звёздочка', 'решётка']."""
    return [_KEY_WORDS.get(key, key) for key in keys]


def case_number_parts(number: str) -> list[str]:
    """A case or phone number read group by group, a pause between groups."""
    return _between(digit_group_pieces(group) for group in number_groups(number))


def case_status(number: str, service: str, opened_on: date, status: str) -> Phrase:
    """'Дело номер девятнадцать, ноль три, две тысячи сорок четыре, Консультация, от
    двенадцатого марта две тысячи двадцать шестого года. Статус: В работе.'"""
    service_parts = [",", service] if service else []
    return Phrase(CASE_NUMBER, *case_number_parts(number), *service_parts, ",", OPENED_ON,
                  *date_pieces(opened_on), ".", STATUS, ":", status, ".")


def case_not_found(number: str) -> Phrase:
    return Phrase(CASE_NUMBER, *case_number_parts(number), NOT_FOUND, ".", CHECK_AND_RETRY, ".")


def keys_typed(keys: str) -> Phrase:
    return Phrase(YOU_TYPED, ":", *spoken_keys(keys), ".") if keys else Phrase(NOTHING_TYPED)


def open_cases_count(count: int) -> Phrase:
    return Phrase(OPEN_CASES, *count_pieces(count, *CASE_FORMS, gender="n"), ".")


def more_cases(count: int) -> Phrase:
    return Phrase(AND_MORE, *count_pieces(count, *CASE_FORMS, gender="n"), ".",
                  OPERATOR_TELLS_MORE)


def callback_ordered(phone: str) -> Phrase:
    return Phrase(CALLBACK_ORDERED, *case_number_parts(phone), ".", THANKS_FOR_CALLING)


def queue_callback_kept() -> Phrase:
    """Said to a caller who pressed a queue's callback key."""
    return Phrase(QUEUE_CALLBACK_KEPT)


def callback_already_ordered() -> Phrase:
    return Phrase(CALLBACK_ALREADY_ORDERED, THANKS_FOR_CALLING)


def cannot_dial(number: str) -> Phrase:
    return Phrase(NUMBER, *spoken_keys(number), CANNOT_DIAL, ":", NO_SUCH_PHONE, ".")


def connecting_to(number: str) -> Phrase:
    return Phrase(CONNECTING_TO, *spoken_keys(number), ".")


def greeting(name: str) -> Phrase:
    """'Здравствуйте, Анна!': the name is open text, synthesised at call time."""
    return Phrase(HELLO, ",", name, "!")


def queue_position(position: int) -> Phrase:
    """A caller's place in the queue (1 = next): 'Ваш номер в очереди: три.'"""
    return Phrase(QUEUE_POSITION, ":", *number_pieces(position), ".")


def estimated_wait(seconds: int) -> Phrase:
    """The estimated wait in whole minutes rounded up: 'Примерное время ожидания:
    двадцать одна минута.'"""
    if seconds < 60:
        return Phrase(ESTIMATED_WAIT, ":", LESS_THAN_A_MINUTE, ".")
    minutes = -(-seconds // 60)
    return Phrase(ESTIMATED_WAIT, ":", *count_pieces(minutes, *MINUTE_FORMS, gender="f"), ".")


def spelled_login(login: str) -> list[str]:
    """A login said character by character ('olga' -> оу, эл, джи, эй): a login is no
    word the speech engine could be trusted with, and its characters are few."""
    return [_LOGIN_CHARACTER_WORDS.get(ch.lower(), ch) for ch in login]


def phone_bound(phone: str, login: str) -> Phrase:
    """'Телефон 1 0 1 привязан к пользователю: оу эл джи эй.'"""
    return Phrase(PHONE, *spoken_keys(phone), BOUND_TO_USER, ":", *spelled_login(login), ".")


def bind_code_unknown(code: str) -> Phrase:
    """'Код привязки 1 2 3 4 5 не найден. Телефон не привязан.'"""
    return Phrase(BIND_CODE, *spoken_keys(code), CODE_NOT_FOUND, ".", PHONE_NOT_BOUND, ".")


def bind_code_malformed() -> Phrase:
    return Phrase(BIND_CODE_IS_FIVE_DIGITS, ".", PHONE_NOT_BOUND, ".")


def only_phones_bind() -> Phrase:
    return Phrase(ONLY_PHONES_BIND, ".")


def vocabulary(today: date, case_words: Iterable[str] = ()) -> list[str]:
    """Every piece the phrases above are spoken from, each once: what Apply synthesises.

    ``case_words`` are the statuses and service names of the case database.
    """
    words = [*FIXED_PIECES, *KEY_PIECES, *number_vocabulary(), *date_vocabulary(today),
             *(word for word in case_words if word.strip())]
    return list(dict.fromkeys(words))
