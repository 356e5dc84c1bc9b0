"""The SIP blocks section (administrators only): who is blocked, and lifting a block.

The server blocks an address after too many failed SIP logins
(``dialplan.sip_guard``); this page lists the blocks, those in force first,
and lifts one: the row is marked lifted with its change_log entry in one
transaction, then the ACL is rewritten and pjsip reloaded at once, so the
address gets through again without waiting for the server.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SubmitField

from admin_web import server_asterisk, site_settings
from admin_web.audit import record_change
from admin_web.auth import role_required
from admin_web.db import get_db
from dialplan import sip_blocks
from fastagi.ami import AmiError

bp = Blueprint("sip_blocks", __name__, url_prefix="/sip-blocks")

# What the last failure before a block was, in the admin's words.
LAST_FAILURE_TITLES = {
    "InvalidAccountID": _l("unknown account name"),
    "ChallengeResponseFailed": _l("wrong password"),
    "InvalidPassword": _l("wrong password"),
    "FailedACL": _l("address refused"),
}


class LiftForm(FlaskForm):
    """Carries only the CSRF token."""
    submit = SubmitField(_l("Lift"))


def _history_value(block: sip_blocks.SipBlock) -> dict:
    return {"address": block.address, "until": block.until, "lifted_at": block.lifted_at,
            "lifted_by": block.lifted_by}


@bp.route("/")
@role_required("administrator")
def index():
    """Every block, those in force first."""
    return render_template("sip_blocks/index.html", blocks=sip_blocks.list_blocks(get_db()),
                           titles=LAST_FAILURE_TITLES, lift_form=LiftForm())


@bp.route("/<int:block_id>/lift", methods=("POST",))
@role_required("administrator")
def lift(block_id: int):
    """End a block now: in the database, in the history, then in Asterisk."""
    if not LiftForm().validate_on_submit():
        abort(400)
    conn = get_db()
    before = sip_blocks.get_block(conn, block_id)
    if before is None:
        abort(404)
    with conn.transaction():
        lifted = sip_blocks.lift_block(conn, block_id, current_user.login)
        if lifted is not None:
            record_change(conn, current_user.login, "update", "sip_block", block_id,
                          _history_value(before), _history_value(lifted))
    if lifted is None:
        flash(_("The block of %(address)s is no longer in force.", address=before.address),
              "info")
        return redirect(url_for(".index"))
    try:
        sip_blocks.refresh_acl_now(conn, site_settings(), server_asterisk())
    except (AmiError, OSError) as exc:
        flash(_("The block of %(address)s is lifted, but Asterisk did not take it yet"
                " (the server retries within a minute): %(error)s",
                address=before.address, error=str(exc)), "warning")
        return redirect(url_for(".index"))
    flash(_("The block of %(address)s is lifted.", address=before.address), "success")
    return redirect(url_for(".index"))
