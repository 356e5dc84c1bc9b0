"""Robocall tasks and callback requests as the admin and the API store them (spec 8, 9).

One place for what a task or a request may hold, so a form and an API body
are refused for the same reasons with the same words, and nothing is stored
from a refused one.  The dialer (``ivr.dialer_runtime``) claims the tasks
stored here; the table's trigger wakes it.  A callback request keeps the
rule of ``ivr.callback``: at most one open request per number (a unique
index holds it), and ordering again returns the open one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext as _l

from admin_web.listing import number_condition
from ivr.cases import normalize_phone

TEXT_MAX = 1000
PRIORITY_MAX = 1000
DEFAULT_PRIORITY = 100
SOURCES = ("api", "admin")
TIME_YEARS = (2000, 8999)  # a "not before" outside them is a mistake (and unreadable past 9999)
TASK_COLUMNS = ("id, phone, text, source, queued_at, not_before, priority, done_at, outcome,"
                " attempts, answered, no_answers, failures, attempt_started_at, call_now")


class TaskRefused(ValueError):
    """A task or request that may not be stored: field name -> what is wrong."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class NewTask:
    phone: str
    text: str
    priority: int = DEFAULT_PRIORITY
    not_before: datetime | None = None


def task_problems(phone: str | None, text: str | None, priority: int | None,
                  not_before: datetime | None) -> dict[str, str]:
    """What is wrong with a task, field by field (empty: nothing)."""
    problems = {}
    if normalize_phone(phone) is None:
        problems["phone"] = str(_l("Not a phone number: digits, 3 to 20 of them, "
                                   "an optional + first."))
    if text is None or not text.strip():
        problems["text"] = str(_l("Say what the robot should say."))
    elif len(text) > TEXT_MAX:
        problems["text"] = str(_l("At most %(n)d characters.", n=TEXT_MAX))
    if priority is None or isinstance(priority, bool) or not 0 <= priority <= PRIORITY_MAX:
        problems["priority"] = str(_l("A whole number from 0 (first) to %(n)d.", n=PRIORITY_MAX))
    problem = time_problem(not_before)
    if problem:
        problems["not_before"] = problem
    return problems


def time_problem(value: datetime | None) -> str | None:
    """What is wrong with a "not before" time (None: nothing).  PostgreSQL would keep a
    time in the year 10000 or before Christ, but no page or answer could read it back."""
    if value is None:
        return None
    if value.tzinfo is None:
        return str(_l("Give the time with its time zone."))
    if not TIME_YEARS[0] <= value.year <= TIME_YEARS[1]:
        return str(_l("A time from the year %(first)d to %(last)d.", first=TIME_YEARS[0],
                      last=TIME_YEARS[1]))
    return None


def add_task(conn, task: NewTask, source: str) -> dict:
    """Store a task (TaskRefused when it may not be); returns its row."""
    problems = task_problems(task.phone, task.text, task.priority, task.not_before)
    if problems:
        raise TaskRefused(problems)
    if source not in SOURCES:
        raise ValueError(f"unknown task source {source!r}")
    return conn.execute(
        f"INSERT INTO robocall_tasks (phone, text, source, not_before, priority, next_try_at)"
        f" VALUES (%s, %s, %s, %s, %s, greatest(now(), coalesce(%s, now())))"
        f" RETURNING {TASK_COLUMNS}",
        (normalize_phone(task.phone), task.text.strip(), source, task.not_before, task.priority,
         task.not_before)).fetchone()


def list_tasks(conn, *, done: bool | None = None, number: str = "", limit: int = 100,
               offset: int = 0) -> list[dict]:
    """Tasks, newest first; ``done`` None for all; ``number`` a fragment of the phone."""
    where, params = [], []
    if done is not None:
        where.append("done_at IS NOT NULL" if done else "done_at IS NULL")
    number_condition(number, where, params)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return conn.execute(
        f"SELECT {TASK_COLUMNS} FROM robocall_tasks {clause} ORDER BY id DESC LIMIT %s OFFSET %s",
        (*params, limit, offset)).fetchall()


def get_task(conn, task_id: int) -> dict | None:
    return conn.execute(f"SELECT {TASK_COLUMNS} FROM robocall_tasks WHERE id = %s",
                        (task_id,)).fetchone()


def delete_task(conn, task_id: int) -> dict | None:
    """Delete a task (its attempts stay in the log); its row, or None when there was none.
    An attempt in progress finishes; the dialer finds the task gone and dials it no more."""
    return conn.execute(f"DELETE FROM robocall_tasks WHERE id = %s RETURNING {TASK_COLUMNS}",
                        (task_id,)).fetchone()


def call_now(conn, task_id: int) -> dict | None:
    """Put an open task first in line now; None when there is no such open task."""
    return conn.execute(
        f"UPDATE robocall_tasks SET call_now = true, next_try_at = now()"
        f" WHERE id = %s AND done_at IS NULL RETURNING {TASK_COLUMNS}", (task_id,)).fetchone()


@dataclass(frozen=True)
class CallbackAdded:
    id: int
    new: bool  # False: the number's open request was found and kept


def add_callback(conn, phone: str | None, source: str, not_before: datetime | None = None
                 ) -> CallbackAdded:
    """Store a callback request for ``phone`` unless one is open for it (then that one)."""
    normalized = normalize_phone(phone)
    problems = {}
    if normalized is None:
        problems["phone"] = str(_l("Not a phone number: digits, 3 to 20 of them, "
                                   "an optional + first."))
    problem = time_problem(not_before)
    if problem:
        problems["not_before"] = problem
    if problems:
        raise TaskRefused(problems)
    row = conn.execute(
        "INSERT INTO callbacks (phone, source, not_before) VALUES (%s, %s, %s)"
        " ON CONFLICT (phone) WHERE done_at IS NULL DO NOTHING RETURNING id",
        (normalized, source, not_before)).fetchone()
    if row is not None:
        return CallbackAdded(row["id"], True)
    row = conn.execute("SELECT id FROM callbacks WHERE phone = %s AND done_at IS NULL",
                       (normalized,)).fetchone()
    return CallbackAdded(row["id"], False)
