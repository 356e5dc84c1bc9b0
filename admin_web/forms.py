"""Form rules every section shares, so each is written once.

Patterns are matched against the whole value with ``\\Z``: ``$`` would also
match before a final line break, letting "90000\\n" through to a database
check (a 500) or to the Asterisk files. Ids chosen in a select are read by
`chosen_id`, which takes ASCII digits only ("²" is a digit to ``isdigit``
but not to ``int``), and checked by `listed_id` against the rows the page
listed; a number no row id can be (thousands of digits, beyond PostgreSQL's
integer) is no id either. PostgreSQL text cannot hold a NUL character and no
field needs one, so a request carrying one is refused before any view.
"""

from __future__ import annotations

import re

from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SubmitField
from wtforms.validators import Length, Regexp

from dialplan import validate

# Single-line text: no line breaks (including Unicode ones) or control characters.
SINGLE_LINE = r"[^\x00-\x1f\x7f\x85\u2028\u2029]*"


def whole(pattern: str | re.Pattern) -> str:
    """A regex that ``pattern`` must match from the first character to the last."""
    text = pattern.pattern if isinstance(pattern, re.Pattern) else pattern
    return rf"^(?:{text})\Z"


def matching(pattern: str | re.Pattern, message) -> Regexp:
    """A validator: the whole value matches ``pattern``, else ``message``."""
    return Regexp(whole(pattern), message=message)


def single_line() -> Regexp:
    """A validator refusing line breaks and control characters."""
    return matching(SINGLE_LINE, _l("No line breaks or control characters."))


def at_most(characters: int) -> Length:
    """A validator: at most ``characters`` characters, said so in the admin's language."""
    return Length(max=characters, message=_l("At most %(max)d characters.", max=characters))


def regex_problem(pattern: str, *, outbound: bool = False) -> str | None:
    """Why a form's regex cannot be used, as a sentence in the UI language, or None.

    A digit sequence of a menu handler follows the menu engine's rule
    (``validate.sequence_problem``), a line's outbound regex Asterisk's
    (``validate.dialplan_regex``). A pattern that is no regex at all is told in
    our own words with the position («Ошибка в регулярном выражении в позиции 3:
    незакрытая скобка»), never in Python's.
    """
    if outbound:
        try:
            validate.dialplan_regex(pattern)
            return None
        except validate.RegexError as exc:
            problem = exc.reason
        if validate.regex_syntax_problem(pattern) is None:
            return _("This regex cannot be used: %(reason)s.", reason=problem.render(_))
    else:
        problem = validate.sequence_problem(pattern)
        if problem is None:
            return None
    text = problem.render(_)
    return text[:1].upper() + text[1:] + "."


# Row ids are PostgreSQL `serial` (integer) values: a larger number names no row,
# and a database given one refuses it with an error instead of finding nothing.
MAX_ROW_ID = 2**31 - 1


def chosen_id(value) -> int | None:
    """The row id a select sent, or None for none (or anything that is not an id).

    The length is checked before ``int``, which refuses numbers of over 4300
    digits with an error of its own.
    """
    text = str(value or "")
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ROW_ID))):
        return None
    number = int(text)
    return number if number <= MAX_ROW_ID else None


def listed_id(field) -> int | None:
    """The row id chosen in the select ``field``, or None unless it is one of its choices.

    The choices were read for this request, so checking them needs no second query;
    a row deleted since is refused by its foreign key when the change is written.
    """
    chosen = chosen_id(field.data)
    listed = {choice.value for choice in field.choices}
    return chosen if chosen is not None and str(chosen) in listed else None


def page_status(form) -> int:
    """A form page's HTTP status: 400 when it shows a refused submission, else 200.

    Views redirect after a successful post, so a submitted form still on the
    page is one that was refused; clients and tests tell it by the status.
    """
    return 400 if form.is_submitted() else 200


class PostForm(FlaskForm):
    """Carries only the CSRF token: deleting, moving or clearing needs a real form post."""
    submit = SubmitField(_l("Delete"))


def _refuse_nul() -> None:
    for values in (request.args, request.form):
        for key, value in values.items(multi=True):
            if "\x00" in key or "\x00" in value:
                abort(400)


def init_app(app) -> None:
    """Refuse requests whose query or form holds a NUL character (400)."""
    app.before_request(_refuse_nul)
