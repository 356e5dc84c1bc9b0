"""The Queues page, live: who waits in each queue now and what each member is doing (spec 7).

The FastAGI server keeps the queues' state in the ``queue_state`` row (the
engine's ``to_rows``, rewritten after every event; see ``ivr.queue_engine``),
so this page reads that row, not Asterisk: per queue, the callers in line
(position, time waited, number; a callback entry, whose caller hung up and
is called back when the place comes up, is marked so) and the members (phone, the operator bound to
it, status from ``queue_engine.member_status``).  Queue names come from the
``queues`` table (the engine knows queues by its ids).  The page fetches its
live part again every few seconds (``data-refresh-url``, static/admin.js).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg
from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_babel import lazy_pgettext

from admin_web.auth import role_required
from admin_web.db import get_db
from ivr import queue_engine
from ivr.queue_engine import QueueState

bp = Blueprint("queue_live", __name__, url_prefix="/queues/live")

# How often the page looks again, in seconds.
REFRESH_SECONDS = 3

STATUS_TITLES = {
    queue_engine.OFFLINE: lazy_pgettext("operator status", "offline"),
    queue_engine.PAUSED: lazy_pgettext("operator status", "paused"),
    queue_engine.TALKING: lazy_pgettext("operator status", "talking"),
    queue_engine.RINGING: lazy_pgettext("operator status", "ringing"),
    queue_engine.WRAP_UP: lazy_pgettext("operator status", "wrap-up"),
    queue_engine.FREE: lazy_pgettext("operator status", "free"),
}
# Bootstrap's badge colour of each status.
STATUS_STYLES = {
    queue_engine.OFFLINE: "text-bg-secondary", queue_engine.PAUSED: "text-bg-warning",
    queue_engine.TALKING: "text-bg-primary", queue_engine.RINGING: "text-bg-info",
    queue_engine.WRAP_UP: "text-bg-light border", queue_engine.FREE: "text-bg-success",
}


@dataclass(frozen=True)
class WaitingCaller:
    position: int  # 1: the next to be served
    waited_seconds: int
    number: str  # '' when the caller's number is hidden
    ringing: tuple[str, ...]  # the phones ringing for them now
    callback: bool = False  # a callback entry: the caller hung up and keeps the place


@dataclass(frozen=True)
class MemberNow:
    phone: str
    operator: str | None
    status: str  # one of queue_engine's statuses


@dataclass(frozen=True)
class QueueNow:
    id: int
    name: str
    number: str
    waiting: tuple[WaitingCaller, ...]
    members: tuple[MemberNow, ...]


def queues_now(state: QueueState, titles: dict[int, tuple[str, str]],
               now: float) -> list[QueueNow]:
    """Each queue of the state (and each configured one the server has not loaded yet),
    in the order of ``titles`` ({queue id: (name, number)}), then the rest by id."""
    known = {q.id for q in state.queues}
    order = [*titles, *sorted(known - set(titles))]
    shown = []
    for queue_id in order:
        callers = [c for c in state.callers if c.queue == queue_id]  # by arrival already
        waiting = tuple(
            WaitingCaller(position, max(0, int(now - c.arrived)), c.number,
                          tuple(r.phone for r in c.ringing), c.callback is not None)
            for position, c in enumerate(callers, start=1))
        members = tuple(MemberNow(m.phone, m.operator, queue_engine.member_status(state, m.phone,
                                                                                  now))
                        for m in state.members if queue_id in m.queues)
        name, number = titles.get(queue_id, (_("Queue No. %(id)d", id=queue_id), ""))
        shown.append(QueueNow(queue_id, name, number, waiting, members))
    return shown


def wait_text(seconds: int) -> str:
    """A wait as the page says it: '45 с', '2 мин 05 с', '1 ч 03 мин'."""
    if seconds < 60:
        return _("%(seconds)d s", seconds=seconds)
    if seconds < 3600:
        return _("%(minutes)d min %(seconds)02d s", minutes=seconds // 60, seconds=seconds % 60)
    return _("%(hours)d h %(minutes)02d min", hours=seconds // 3600,
             minutes=seconds % 3600 // 60)


def stored_state(conn) -> tuple[QueueState, datetime | None]:
    """The server's last written state and when it wrote it; an empty state when the
    server never wrote one."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT state, updated_at FROM queue_state WHERE id = 1").fetchone()
    except psycopg.errors.UndefinedTable:
        row = None
    if row is None:
        return QueueState(), None
    return queue_engine.from_rows(row["state"]), row["updated_at"]


def queue_titles(conn) -> dict[int, tuple[str, str]]:
    """{queue id: (name, number)} of the configured queues, by number."""
    rows = conn.execute("SELECT id, name, number FROM queues ORDER BY number").fetchall()
    return {row["id"]: (row["name"], row["number"]) for row in rows}


def _live_context() -> dict:
    conn = get_db()
    state, updated_at = stored_state(conn)
    return {"queues": queues_now(state, queue_titles(conn), time.time()),
            "updated_at": updated_at, "wait_text": wait_text, "status_titles": STATUS_TITLES,
            "status_styles": STATUS_STYLES, "refresh_seconds": REFRESH_SECONDS}


@bp.route("/")
@role_required("operator")
def index():
    """The page: the live part, which refreshes itself."""
    return render_template("queue_live/index.html", **_live_context())


@bp.route("/state")
@role_required("operator")
def live():
    """The live part alone, fetched again by the page every few seconds."""
    return render_template("queue_live/_live.html", **_live_context())
