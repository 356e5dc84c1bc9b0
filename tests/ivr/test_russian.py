"""Numbers, counts and dates in the Russian words a caller hears."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.russian import (count_words, number_words, ordinal_genitive, plural, russian_date,
                         spoken_number)


@pytest.mark.parametrize("number, words", [
    (0, "ноль"), (1, "один"), (12, "двенадцать"), (40, "сорок"), (101, "сто один"),
    (999, "девятьсот девяносто девять"), (1000, "тысяча"), (1999, "тысяча девятьсот девяносто девять"),
    (2044, "две тысячи сорок четыре"), (5000, "пять тысяч"), (21000, "двадцать одна тысяча"),
    (1_000_000, "один миллион"), (3_002_001, "три миллиона две тысячи один"),
])
def test_numbers_in_words(number, words):
    assert number_words(number) == words


def test_one_and_two_agree_with_the_noun():
    assert [number_words(n, "f") for n in (1, 2, 21, 22)] == [
        "одна", "две", "двадцать одна", "двадцать две"]
    assert [number_words(n, "n") for n in (1, 2, 31)] == ["одно", "два", "тридцать одно"]


@pytest.mark.parametrize("count, words", [
    (1, "одно дело"), (2, "два дела"), (4, "четыре дела"), (5, "пять дел"),
    (11, "одиннадцать дел"), (12, "двенадцать дел"), (14, "четырнадцать дел"),
    (21, "двадцать одно дело"), (22, "двадцать два дела"), (111, "сто одиннадцать дел"),
    (0, "ноль дел"),
])
def test_counts_take_the_russian_noun_form(count, words):
    assert count_words(count, "дело", "дела", "дел", gender="n") == words


def test_the_noun_form_alone():
    assert [plural(n, "минута", "минуты", "минут") for n in (1, 3, 11, 101, 112)] == [
        "минута", "минуты", "минут", "минута", "минут"]


@pytest.mark.parametrize("number, words", [
    (1, "первого"), (3, "третьего"), (12, "двенадцатого"), (20, "двадцатого"),
    (23, "двадцать третьего"), (31, "тридцать первого"), (2000, "двухтысячного"),
    (2026, "две тысячи двадцать шестого"), (1999, "тысяча девятьсот девяносто девятого"),
    (2010, "две тысячи десятого"), (2100, "две тысячи сотого"), (2040, "две тысячи сорокового"),
])
def test_ordinals_in_the_genitive(number, words):
    assert ordinal_genitive(number) == words


@pytest.mark.parametrize("day, words", [
    (date(2026, 3, 12), "двенадцатого марта две тысячи двадцать шестого года"),
    (date(2025, 1, 1), "первого января две тысячи двадцать пятого года"),
    (date(2024, 12, 31), "тридцать первого декабря две тысячи двадцать четвёртого года"),
    (date(2000, 5, 9), "девятого мая двухтысячного года"),
])
def test_dates_are_said_as_after_ot(day, words):
    assert russian_date(day) == words


def test_numbers_are_read_group_by_group_keeping_their_zeros():
    assert spoken_number("19-03-2044") == "девятнадцать, ноль три, две тысячи сорок четыре"
    assert spoken_number("79990000001") == (
        "семь, девятьсот девяносто девять, ноль ноль ноль, ноль ноль, ноль один")
    assert spoken_number("4567") == "четыре тысячи пятьсот шестьдесят семь"
    assert spoken_number("2024-000123") == (
        "две тысячи двадцать четыре, ноль ноль ноль, сто двадцать три")
