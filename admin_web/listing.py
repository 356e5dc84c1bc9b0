"""What the admin's long lists share: a period filter in the display time zone and pages.

The History and Callbacks sections filter by the days something happened
(both days included, as the office's calendar has them, whatever the
server's time zone) and show a page of rows at a time; a page past the end
(an old link, a typed number) shows the last one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import Optional, ValidationError


class PeriodFilterForm(FlaskForm):
    """A GET form with a period: it changes nothing, so it carries no CSRF token."""

    class Meta:
        csrf = False

    since = DateField(_l("From"), validators=[Optional()], render_kw={"type": "date"})
    until = DateField(_l("To"), validators=[Optional()], render_kw={"type": "date"})

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end of the period is before its start."))


def number_condition(fragment: str | None, where: list[str], params: list,
                     column: str = "phone") -> None:
    """Add "``column`` holds the digits of ``fragment``" (a leading '+' ignored) to
    ``where``/``params`` when the fragment has any."""
    digits = (fragment or "").strip().lstrip("+")
    if digits:
        where.append(f"strpos({column}, %s) > 0")
        params.append(digits)


def period_conditions(form: PeriodFilterForm, column: str) -> tuple[list[str], list]:
    """SQL conditions on ``column`` (a timestamptz, named by the code) for the form's period,
    and their values."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    where, params = [], []
    if form.since.data:
        where.append(f"{column} >= %s")
        params.append(datetime.combine(form.since.data, time(), zone))
    if form.until.data:
        where.append(f"{column} < %s")
        params.append(datetime.combine(form.until.data + timedelta(days=1), time(), zone))
    return where, params


@dataclass
class Page:
    """One page of a filtered list: its rows, where it is, and the query's other arguments
    (the filters, for the links to the next and previous pages)."""

    rows: list = field(default_factory=list)
    number: int = 1
    count: int = 1
    total: int = 0
    args: dict = field(default_factory=dict)


def page_of(conn, table: str, columns: str, where: list[str], params: list, order: str,
            size: int) -> Page:
    """The page the request asks for (``?page=``) of ``table``'s rows under ``where``.

    ``table``, ``columns``, ``order`` and the conditions are SQL text written in the code;
    what the request supplies travels only in ``params``."""
    condition = (" WHERE " + " AND ".join(where)) if where else ""
    total = conn.execute(f"SELECT count(*) AS n FROM {table}{condition}", params).fetchone()["n"]
    count = max((total + size - 1) // size, 1)
    number = min(max(request.args.get("page", 1, type=int), 1), count)
    rows = conn.execute(
        f"SELECT {columns} FROM {table}{condition} ORDER BY {order} LIMIT %s OFFSET %s",
        [*params, size, (number - 1) * size]).fetchall() if total else []
    return Page(rows, number, count, total,
                {k: v for k, v in request.args.items() if k != "page"})
