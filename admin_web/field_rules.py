"""A form field's rule said under the field before it is broken, in the words of its error.

Each rule is one lazy text, given both to the field's validator (the error
after) and to its ``description`` (the help text bootstrap-flask shows under
the field before), so the two cannot drift apart. ``Sentences`` joins a rule
with what the field is for.
"""

from __future__ import annotations

from markupsafe import escape


class Sentences:
    """Lazy texts said one after the other, as the HTML a field's description is rendered
    as (bootstrap-flask inserts descriptions unescaped, so this escapes them)."""

    def __init__(self, *parts):
        self.parts = parts

    def __str__(self) -> str:
        return str(escape(" ".join(str(part) for part in self.parts)))

    def __html__(self) -> str:
        return str(self)
