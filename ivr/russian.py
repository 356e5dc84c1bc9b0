"""Numbers, counts and dates in Russian words, as the pieces a caller hears them in.

The speech engines read digits as bare cardinal numbers in the masculine:
Festival says "1 дело" as "один дело", "12 марта" as "двенадцать марта",
"2044" as "две тысячи сорок четыре", and drops the zero of "03".  So every
number a caller hears is put into words here, with the gender, the case and
the noun form Russian needs (num2words' Russian cardinals, ordinals and
``pluralize``), and the engine only pronounces words.

Each function returns *pieces*: the words of a number in the units a
finite vocabulary holds, so that every number is spoken from speech
synthesised once at Apply (``ivr.phrases``).  The vocabulary's bounds:

- cardinals 0-99 whole, in the masculine, feminine and neuter ("двадцать
  одна"), and the hundreds ("сто" .. "девятьсот"): any number below a
  thousand is at most two pieces ("сто", "сорок четыре");
- "тысяча/тысячи/тысяч" and "миллион/миллиона/миллионов" after their count
  (itself pieces of the above, feminine before "тысяча"); "тысяча" alone for
  one thousand: any number below a milliard;
- ordinals in the genitive for days (1-31) and for the years of
  ``YEARS_BACK`` years before the current one up to next year, each year one
  piece ("две тысячи двадцать шестого"); a year outside is still said right,
  its piece is just not prepared in advance;
- the twelve months in the genitive.

Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import date
from functools import cache

from num2words import num2words
from num2words.lang_RU import Num2Word_RU

GENDERS = ("m", "f", "n")
_NUM2WORDS_GENDER = {"m": "m", "f": "f", "n": "n"}

THOUSAND = ("тысяча", "тысячи", "тысяч")
MILLION = ("миллион", "миллиона", "миллионов")
MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                   "сентября", "октября", "ноября", "декабря")
YEAR_WORD = "года"
# How many years back the vocabulary holds the years of dates in (cases opened long ago).
YEARS_BACK = 40
# Numbers from a milliard up are not counts anyone says: they are read digit group by group.
LARGEST_NUMBER = 10**9 - 1

# Longer groups of digits are read in threes: nobody follows "миллиард" in a case number.
_GROUP_READ_WHOLE = 4
_RU = Num2Word_RU()


def plural(count: int, one: str, few: str, many: str) -> str:
    """The noun form Russian puts after ``count``: 1 дело, 2 дела, 5 дел, 11 дел, 21 дело."""
    return _RU.pluralize(abs(count), (one, few, many))


def number_pieces(number: int, gender: str = "m") -> list[str]:
    """A whole number in vocabulary pieces: 2044 -> ['две', 'тысячи', 'сорок четыре'];
    ``gender`` (m, f, n) of the noun that follows decides 'один/одна/одно', 'два/две'."""
    if gender not in GENDERS:
        raise ValueError(f"gender must be one of {GENDERS}, not {gender!r}")
    if number < 0:
        return ["минус", *number_pieces(-number, gender)]
    if number > LARGEST_NUMBER:
        return [piece for group in _groups_of_three(str(number)) for piece in digit_group_pieces(group)]
    if number == 0:
        return [_cardinal(0, gender)]
    millions, rest = divmod(number, 10**6)
    thousands, units = divmod(rest, 1000)
    pieces = []
    if millions:
        pieces += [*_below_thousand(millions, "m"), plural(millions, *MILLION)]
    if thousands == 1:
        pieces.append(THOUSAND[0])  # 'тысяча девятьсот', not 'одна тысяча девятьсот'
    elif thousands:
        pieces += [*_below_thousand(thousands, "f"), plural(thousands, *THOUSAND)]
    if units:
        pieces += _below_thousand(units, gender)
    return pieces


def _below_thousand(number: int, gender: str) -> list[str]:
    hundreds, rest = divmod(number, 100)
    pieces = [_cardinal(hundreds * 100, "m")] if hundreds else []
    return pieces + ([_cardinal(rest, gender)] if rest else [])


@cache  # a few hundred numbers below a thousand, in three genders
def _cardinal(number: int, gender: str) -> str:
    return num2words(number, lang="ru", gender=_NUM2WORDS_GENDER[gender])


def _groups_of_three(digits: str) -> list[str]:
    return [digits[i:i + 3] for i in range(0, len(digits), 3)]


def number_words(number: int, gender: str = "m") -> str:
    """A whole number in words: 2044 -> 'две тысячи сорок четыре'."""
    return " ".join(number_pieces(number, gender))


def count_pieces(count: int, one: str, few: str, many: str, gender: str = "m") -> list[str]:
    """A count and its noun: (21, 'минута', 'минуты', 'минут', 'f') -> ['двадцать одна',
    'минута']."""
    return [*number_pieces(count, gender), plural(count, one, few, many)]


def count_words(count: int, one: str, few: str, many: str, gender: str = "m") -> str:
    """A count and its noun, in words: count_words(21, 'дело', 'дела', 'дел', 'n') ->
    'двадцать одно дело'."""
    return " ".join(count_pieces(count, one, few, many, gender))


@cache  # at most 3999 numbers
def ordinal_genitive(number: int) -> str:
    """An ordinal in the genitive, for days and years (1..3999): 12 -> 'двенадцатого',
    2026 -> 'две тысячи двадцать шестого', 2000 -> 'двухтысячного'."""
    if not 1 <= number <= 3999:
        raise ValueError(f"no ordinal words for {number}")
    return num2words(number, lang="ru", to="ordinal", case="genitive")


def date_pieces(day: date) -> list[str]:
    """A date as said after 'от' or 'с': date(2026, 3, 12) ->
    ['двенадцатого', 'марта', 'две тысячи двадцать шестого', 'года']."""
    return [ordinal_genitive(day.day), MONTHS_GENITIVE[day.month - 1],
            ordinal_genitive(day.year), YEAR_WORD]


def russian_date(day: date) -> str:
    """A date as said after 'от' or 'с': 'двенадцатого марта две тысячи двадцать шестого года'."""
    return " ".join(date_pieces(day))


def digit_group_pieces(group: str) -> list[str]:
    """A group of digits as read out of a number: '2044' -> ['две', 'тысячи', 'сорок четыре'],
    '03' -> ['ноль', 'три'], '000' -> three 'ноль'; a long group in threes."""
    if len(group) > _GROUP_READ_WHOLE:
        return [piece for part in _groups_of_three(group) for piece in digit_group_pieces(part)]
    significant = group.lstrip("0")
    zeros = [_cardinal(0, "m")] * (len(group) - len(significant))
    return zeros + (number_pieces(int(significant)) if significant else [])


def digit_group_words(group: str) -> str:
    """A group of digits in words: '03' -> 'ноль три'."""
    return " ".join(digit_group_pieces(group))


def number_groups(number: str) -> list[str]:
    """How a case or phone number is read: its groups of digits, in order.
    An 11-digit phone number goes 7 999 000 00 01, as people say it."""
    if len(number) == 11 and number.isdigit():
        return [number[0], number[1:4], number[4:7], number[7:9], number[9:]]
    groups = re.findall(r"[0-9]+", number)
    return [part for group in groups
            for part in (_groups_of_three(group) if len(group) > _GROUP_READ_WHOLE else [group])]


def spoken_number(number: str) -> str:
    """A case or phone number read group by group, a pause (comma) between groups:
    '19-03-2044' -> 'девятнадцать, ноль три, две тысячи сорок четыре'."""
    return ", ".join(digit_group_words(group) for group in number_groups(number))


def number_vocabulary() -> list[str]:
    """Every piece ``number_pieces`` and ``count_pieces`` draw on (see the module doc)."""
    words = [_cardinal(n, g) for n in range(100) for g in GENDERS]
    words += [_cardinal(h * 100, "m") for h in range(1, 10)]
    return list(dict.fromkeys([*words, *THOUSAND, *MILLION]))


def date_vocabulary(today: date) -> list[str]:
    """Every piece ``date_pieces`` draws on for the dates of the last ``YEARS_BACK`` years."""
    years = range(today.year - YEARS_BACK, today.year + 2)
    return [*(ordinal_genitive(d) for d in range(1, 32)), *MONTHS_GENITIVE,
            *(ordinal_genitive(y) for y in years), YEAR_WORD]
