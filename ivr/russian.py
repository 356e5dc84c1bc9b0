"""Numbers, counts and dates in Russian words, for the texts spoken to callers.

The speech engines read digits as bare cardinal numbers in the masculine:
Festival says "1 дело" as "один дело", "12 марта" as "двенадцать марта",
"2044" as "две тысяч сорок четыре", and drops the zero of "03".  So every
number a caller hears is put into words here, with the gender, the case and
the noun form Russian needs, and the engine only pronounces words.
Pure functions, no I/O.
"""

from __future__ import annotations

import re
from datetime import date

_UNITS = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_UNITS_BY_GENDER = {"m": {}, "f": {1: "одна", 2: "две"}, "n": {1: "одно"}}
_TEENS = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
          "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
         "восемьдесят", "девяносто")
_HUNDREDS = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
             "восемьсот", "девятьсот")
# Powers of a thousand: the noun's forms (one, few, many) and its gender.
_SCALES = ((10**9, ("миллиард", "миллиарда", "миллиардов"), "m"),
           (10**6, ("миллион", "миллиона", "миллионов"), "m"),
           (10**3, ("тысяча", "тысячи", "тысяч"), "f"))

# Ordinals in the genitive (masculine and neuter): 'двенадцатого марта', '2026-го года'.
_UNITS_ORDINAL = ("", "первого", "второго", "третьего", "четвёртого", "пятого", "шестого",
                  "седьмого", "восьмого", "девятого")
_TEENS_ORDINAL = ("десятого", "одиннадцатого", "двенадцатого", "тринадцатого",
                  "четырнадцатого", "пятнадцатого", "шестнадцатого", "семнадцатого",
                  "восемнадцатого", "девятнадцатого")
_TENS_ORDINAL = ("", "", "двадцатого", "тридцатого", "сорокового", "пятидесятого",
                 "шестидесятого", "семидесятого", "восьмидесятого", "девяностого")
_HUNDREDS_ORDINAL = ("", "сотого", "двухсотого", "трёхсотого", "четырёхсотого", "пятисотого",
                     "шестисотого", "семисотого", "восьмисотого", "девятисотого")
_THOUSANDS_ORDINAL = ("", "тысячного", "двухтысячного", "трёхтысячного")

_MONTHS_GENITIVE = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
                    "сентября", "октября", "ноября", "декабря")

# Longer groups of digits are read in threes: nobody follows "миллиард" in a case number.
_GROUP_READ_WHOLE = 4


def plural(count: int, one: str, few: str, many: str) -> str:
    """The noun form Russian puts after ``count``: 1 дело, 2 дела, 5 дел, 11 дел, 21 дело."""
    count = abs(count)
    if count % 10 == 1 and count % 100 != 11:
        return one
    if 2 <= count % 10 <= 4 and not 12 <= count % 100 <= 14:
        return few
    return many


def number_words(number: int, gender: str = "m") -> str:
    """A whole number in words: 2044 -> 'две тысячи сорок четыре'; ``gender`` (m, f, n)
    of the noun that follows decides 'один/одна/одно', 'два/две'."""
    if number < 0:
        return "минус " + number_words(-number, gender)
    if number == 0:
        return _UNITS[0]
    words = []
    for scale, forms, scale_gender in _SCALES:
        if number >= scale:
            count, number = divmod(number, scale)
            if count == 1 and scale == 1000:
                words.append(forms[0])  # 'тысяча девятьсот', not 'одна тысяча девятьсот'
            else:
                words += [_below_thousand(count, scale_gender), plural(count, *forms)]
    if number:
        words.append(_below_thousand(number, gender))
    return " ".join(words)


def _below_thousand(number: int, gender: str) -> str:
    hundreds, rest = divmod(number, 100)
    words = [_HUNDREDS[hundreds]] if hundreds else []
    if 10 <= rest <= 19:
        words.append(_TEENS[rest - 10])
    else:
        tens, units = divmod(rest, 10)
        if tens:
            words.append(_TENS[tens])
        if units:
            words.append(_UNITS_BY_GENDER[gender].get(units, _UNITS[units]))
    return " ".join(words)


def count_words(count: int, one: str, few: str, many: str, gender: str = "m") -> str:
    """A count and its noun, in words: count_words(21, 'дело', 'дела', 'дел', 'n') ->
    'двадцать одно дело'."""
    return f"{number_words(count, gender)} {plural(count, one, few, many)}"


def ordinal_genitive(number: int) -> str:
    """An ordinal in the genitive, for days and years (1..3999): 12 -> 'двенадцатого',
    2026 -> 'две тысячи двадцать шестого', 2000 -> 'двухтысячного'."""
    if not 1 <= number <= 3999:
        raise ValueError(f"no ordinal words for {number}")
    thousands, rest = divmod(number, 1000)
    if not rest:
        return _THOUSANDS_ORDINAL[thousands]
    hundreds, below_hundred = divmod(rest, 100)
    tens, units = divmod(below_hundred, 10)
    words = [number_words(thousands * 1000)] if thousands else []
    if not below_hundred:
        return " ".join([*words, _HUNDREDS_ORDINAL[hundreds]])
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    if tens == 1:
        words.append(_TEENS_ORDINAL[units])
    elif not units:
        words.append(_TENS_ORDINAL[tens])
    else:
        words += [_TENS[tens]] if tens else []
        words.append(_UNITS_ORDINAL[units])
    return " ".join(words)


def russian_date(day: date) -> str:
    """A date as said after 'от' or 'с': date(2026, 3, 12) ->
    'двенадцатого марта две тысячи двадцать шестого года'."""
    return (f"{ordinal_genitive(day.day)} {_MONTHS_GENITIVE[day.month - 1]}"
            f" {ordinal_genitive(day.year)} года")


def digit_group_words(group: str) -> str:
    """A group of digits as read out of a number: '2044' -> 'две тысячи сорок четыре',
    '03' -> 'ноль три', '000' -> 'ноль ноль ноль'; a long group in threes."""
    if len(group) > _GROUP_READ_WHOLE:
        return ", ".join(digit_group_words(group[i:i + 3]) for i in range(0, len(group), 3))
    significant = group.lstrip("0")
    zeros = [_UNITS[0]] * (len(group) - len(significant))
    return " ".join(zeros + ([number_words(int(significant))] if significant else []))


def spoken_number(number: str) -> str:
    """A case or phone number read group by group, a pause (comma) between groups:
    '19-03-2044' -> 'девятнадцать, ноль три, две тысячи сорок четыре';
    '79990000001' -> 'семь, девятьсот девяносто девять, ноль ноль ноль, ноль ноль, ноль один'."""
    if len(number) == 11 and number.isdigit():
        groups = [number[0], number[1:4], number[4:7], number[7:9], number[9:]]
    else:
        groups = re.findall(r"[0-9]+", number)
    return ", ".join(digit_group_words(group) for group in groups)
