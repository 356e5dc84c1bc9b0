"""What a number may contain: the one rule for every number that reaches Dial, Goto or Originate.

A number is 1 to ``MAX_LENGTH`` characters, each a digit or one of ``+ * #``.
Numbers are chosen by people outside the server's control: a phone dials
one, an external caller sends one as its caller id, a menu's target leads to
one.  Asterisk reads ``,`` ``&`` ``(`` ``|`` ``:`` and line breaks in Dial's,
Goto's and AGI's arguments as its own syntax, so anything else in a "number"
could choose whom Dial rings, with which options, or forge AGI lines.

The rule is written here once, in each form its readers need: Python for
validation, a POSIX regex for the dialplan's REGEX(), FILTER()'s list of
allowed characters, and extension patterns (Asterisk's ``.`` would take any
character, so a pattern is generated per length instead).
"""

from __future__ import annotations

import re

DIGITS = "0123456789"
# The characters besides digits a number may have ('+' leads an E.164
# number, '*' and '#' are feature codes and keys).
SYMBOLS = "+*#"
CHARACTERS = DIGITS + SYMBOLS
MAX_LENGTH = 32

# Python: NUMBER.fullmatch(text) when text is a number.
NUMBER = re.compile(rf"[0-9{re.escape(SYMBOLS)}]{{1,{MAX_LENGTH}}}")

# Asterisk's FILTER(<allowed>,<text>) keeps only the characters of a number.
FILTER_ALLOWED = "0-9" + SYMBOLS
# Asterisk's ${REGEX("<this>" <text>)} is 1 when text is a number (POSIX ERE).
POSIX_NUMBER = f"^[{SYMBOLS}0-9]{{1,{MAX_LENGTH}}}$"
# One character of a number in an extension pattern.
PATTERN_CHARACTER = f"[{SYMBOLS}0-9]"


def is_number(text: str) -> bool:
    """Whether ``text`` is a number: what may reach Dial, Goto or Originate."""
    return NUMBER.fullmatch(text) is not None


def extension_patterns(min_length: int = 1) -> list[str]:
    """Extension patterns that together match exactly the numbers of ``min_length`` or more."""
    return ["_" + PATTERN_CHARACTER * length for length in range(min_length, MAX_LENGTH + 1)]
