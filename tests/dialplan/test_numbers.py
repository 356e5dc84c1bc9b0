"""The one rule for what a number may contain, in each form its readers need."""

import re

import pytest

from dialplan import numbers

# The dialplan's REGEX() form without its anchors ('$' in Python also takes a
# trailing line break; in POSIX it does not).
POSIX_BODY = re.compile(numbers.POSIX_NUMBER.removeprefix("^").removesuffix("$"))


@pytest.mark.parametrize("text", ["101", "+74951234567", "*21#", "9" * 32])
def test_numbers(text):
    assert numbers.is_number(text)
    assert POSIX_BODY.fullmatch(text)


@pytest.mark.parametrize("text", ["", "9&PJSIP/202,5,", "91,5,L(1000)", "9${EXTEN}",
                                  "123\nagi_network_script: selftest", "123\n", "9" * 33,
                                  "12 34", "١٢٣"])
def test_not_numbers(text):
    assert not numbers.is_number(text)
    assert not POSIX_BODY.fullmatch(text)


def test_extension_patterns_match_numbers_of_each_length_and_nothing_else():
    patterns = numbers.extension_patterns(2)
    assert len(patterns) == numbers.MAX_LENGTH - 1
    assert patterns[0] == "_[+*#0-9][+*#0-9]"
    as_regexes = [re.compile(pattern[1:]) for pattern in patterns]  # [..] reads the same
    for text in ("12", "+74951234567", "9" * 32, "9&PJSIP/202", "1", "9" * 33, "9,5"):
        matched = any(regex.fullmatch(text) for regex in as_regexes)
        assert matched == (numbers.is_number(text) and len(text) >= 2), text
