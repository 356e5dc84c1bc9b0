"""The page after login: each role's state of things at a glance, and its sections.

Operators see their work (today: the open callback requests). Managers see
that and the calls of today. Administrators also see the system: whether
the server is connected to Asterisk's AMI, the active revision, phones
online of all phones, and whether the configured speech engine can speak.
Everything here is cheap to read on every visit: counts in the database,
the server's event-fed states over the bridge, a look for the engine's
programs; nothing is said or sent to Asterisk.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from admin_web import phone_state, server_asterisk, site_settings
from admin_web.auth import may_see, role_required
from admin_web.callback_pages import open_count
from admin_web.db import get_db
from admin_web.phone_state import ONLINE, phone_states
from admin_web.tts_pages import ENGINE_TITLES, load_tts_settings
from admin_web.user_pages import ROLE_TITLES
from dialplan.apply import Revision, active_revision
from ivr import tts

bp = Blueprint("home", __name__)

# The server's AMI link as the home page tells it.
CONNECTED, DISCONNECTED, UNKNOWN = "connected", "disconnected", "unknown"
NOT_CONFIGURED, NO_SERVER = "not configured", "no server"


@dataclass(frozen=True)
class SystemState:
    """What the administrator's block shows."""

    ami: str  # CONNECTED, DISCONNECTED, NOT_CONFIGURED, NO_SERVER or UNKNOWN
    revision: Revision | None  # None before the first Apply
    phones_total: int
    phones_online: int | None  # None when the phones' states are unknown
    tts_engine: object  # the configured engine's title
    tts_lacks: tuple[str, ...]  # programs or settings it lacks; empty: it can speak


def ami_state(asterisk) -> str:
    """The server's AMI link in one word: NOT_CONFIGURED without AMI credentials, NO_SERVER
    when the admin runs outside the server, UNKNOWN when the server did not answer."""
    if asterisk is None:
        return NO_SERVER if site_settings().ami_configured else NOT_CONFIGURED
    connected = asterisk.ami_connected()
    if connected is None:
        return UNKNOWN
    return CONNECTED if connected else DISCONNECTED


def system_state(conn) -> SystemState:
    """The administrator's glance at the system."""
    asterisk = server_asterisk()
    numbers = [row["number"] for row in conn.execute("SELECT number FROM phones").fetchall()]
    states = phone_states(asterisk, numbers)
    known = asterisk is not None and phone_state.UNKNOWN not in states.values()
    settings = load_tts_settings(conn)
    return SystemState(
        ami=ami_state(asterisk),
        revision=active_revision(conn),
        phones_total=len(numbers),
        phones_online=sum(state == ONLINE for state in states.values()) if known else None,
        tts_engine=ENGINE_TITLES.get(settings.engine, settings.engine),
        tts_lacks=tuple(tts.engine_lacks(settings)),
    )


def calls_today(conn) -> int:
    """Calls that reached the server since midnight in the display time zone."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    midnight = datetime.combine(datetime.now(zone).date(), time(), zone)
    return conn.execute("SELECT count(*) AS n FROM calls WHERE started_at >= %s",
                        (midnight,)).fetchone()["n"]


@bp.route("/")
@role_required("operator")
def index():
    """Who is logged in, what waits for them, and the sections they may open."""
    conn = get_db()
    return render_template(
        "home.html", role_title=ROLE_TITLES[current_user.role],
        open_callbacks=open_count(conn) if may_see("callbacks.index") else None,
        calls=calls_today(conn) if current_user.has_role("manager") else None,
        system=system_state(conn) if current_user.has_role("administrator") else None)
