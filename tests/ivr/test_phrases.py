"""Phrases with data: which pieces a caller hears them from, and that Apply has them all."""

from __future__ import annotations

from datetime import date

import pytest

from ivr import phrases
from ivr.phrases import Phrase

TODAY = date(2026, 12, 2)


def test_a_case_status_is_said_from_fixed_parts_number_date_and_status_pieces():
    phrase = phrases.case_status("19-03-2044", "Консультация", date(2026, 3, 12), "В работе")
    assert phrase == ("Дело номер девятнадцать, ноль три, две тысячи сорок четыре, Консультация,"
                      " от двенадцатого марта две тысячи двадцать шестого года. Статус: В работе.")
    assert phrase.pieces == (
        "Дело номер", "девятнадцать", "ноль", "три", "две", "тысячи", "сорок четыре",
        "Консультация", "от", "двенадцатого", "марта", "две тысячи двадцать шестого", "года",
        "Статус", "В работе")
    assert [p for p in phrase.parts if p in phrases.PUNCTUATION] == [
        ",", ",", ",", ",", ".", ":", "."]


def test_a_case_without_a_service_leaves_it_out():
    phrase = phrases.case_status("7", "", date(2025, 1, 1), "Закрыто")
    assert phrase == ("Дело номер семь, от первого января две тысячи двадцать пятого года."
                      " Статус: Закрыто.")


@pytest.mark.parametrize("minutes, said", [
    (1, "одна минута"), (2, "две минуты"), (5, "пять минут"), (11, "одиннадцать минут"),
    (21, "двадцать одна минута"), (22, "двадцать две минуты"), (25, "двадцать пять минут"),
    (101, "сто одна минута"),
])
def test_minutes_agree_with_their_number(minutes, said):
    assert phrases.estimated_wait(minutes * 60) == f"Примерное время ожидания: {said}."


def test_a_wait_under_a_minute_and_rounding_up():
    assert phrases.estimated_wait(59) == "Примерное время ожидания: меньше минуты."
    assert phrases.estimated_wait(61) == "Примерное время ожидания: две минуты."


@pytest.mark.parametrize("position, said", [
    (1, "один"), (2, "два"), (5, "пять"), (11, "одиннадцать"), (21, "двадцать один"),
    (22, "двадцать два"), (25, "двадцать пять"), (101, "сто один"),
])
def test_the_place_in_the_queue(position, said):
    assert phrases.queue_position(position) == f"Ваш номер в очереди: {said}."


@pytest.mark.parametrize("count, said", [
    (1, "одно дело"), (2, "два дела"), (5, "пять дел"), (21, "двадцать одно дело"),
])
def test_open_cases_are_counted_in_the_neuter(count, said):
    assert phrases.open_cases_count(count) == f"По вашему номеру телефона в работе {said}."


def test_every_piece_of_every_phrase_is_in_the_vocabulary():
    """For the numbers, dates and counts callers hear, nothing is left to synthesise."""
    vocabulary = set(phrases.vocabulary(TODAY, ["В работе", "Консультация"]))
    said = [
        phrases.case_status("2024-000123", "Консультация", date(1990, 2, 28), "В работе"),
        phrases.case_status("19-03-2044", "Консультация", date(2027, 12, 31), "В работе"),
        phrases.case_not_found("999-12-3"),
        phrases.callback_ordered("79990000001"),
        phrases.keys_typed("12*#"), phrases.keys_typed(""),
        phrases.cannot_dial("5555"), phrases.connecting_to("101"),
        phrases.more_cases(995), phrases.greeting("Анна"),
        phrases.phone_bound("101", "Ivan.Petrov_2-x"), phrases.bind_code_unknown("12345"),
        phrases.bind_code_malformed(), phrases.only_phones_bind(),
        *(phrases.phone_bound("101", ch) for ch in
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"),
        *(phrases.queue_position(n) for n in range(1, 1000)),
        *(phrases.estimated_wait(s) for s in range(0, 200_000, 60)),
        *(phrases.open_cases_count(n) for n in range(0, 1000)),
    ]
    missing = {piece for phrase in said for piece in phrase.pieces} - vocabulary
    assert missing == {"Анна"}  # a name is open text: only it is synthesised at call time


def test_a_bound_phone_names_its_operator_letter_by_letter():
    assert phrases.phone_bound("101", "olga.k") == (
        "Телефон 1 0 1 привязан к пользователю: оу эл джи эй точка кей.")


def test_the_vocabulary_is_finite_and_each_piece_once():
    vocabulary = phrases.vocabulary(TODAY, ["В работе", "", "В работе"])
    assert len(vocabulary) == len(set(vocabulary)) < 400
    assert "" not in vocabulary


def test_a_plain_text_is_one_piece_and_a_phrase_reads_as_its_text():
    assert Phrase("Главное меню.").pieces == ("Главное меню.",)
    greeting = phrases.greeting("Анна")
    assert greeting == "Здравствуйте, Анна!" and isinstance(greeting, str)
    assert greeting.pieces == ("Здравствуйте", "Анна")
