"""The Apply section (administrators only): apply, revisions, diff, rollback.

The button runs ``dialplan.apply.apply_now`` as the logged-in user, with the
include dir of this app's settings, over the server's AMI connection (through
the bridge, ``fastagi.asterisk_link``) when the admin runs inside the server,
else a short-lived one to the settings' AMI address; a refusal lists every problem,
a failure says why (nothing changed), a success names the new revision and
lists its warnings.  Problems are English templates from
``dialplan.validate``; they are translated here, in the admin's language.
Apply itself stores the revision and its change_log row.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SubmitField

from admin_web import pending_changes, server_asterisk, site_settings
from admin_web.auth import role_required
from admin_web.change_words import changes_in_words
from admin_web.db import get_db
from admin_web.problem_links import handler_ids, place_links, problem_link
from dialplan import apply
from dialplan.changes import changes
from dialplan.configuration import load_configuration
from ivr.speaker import presynthesize_for_calls

bp = Blueprint("apply", __name__, url_prefix="/apply")
# Every page an administrator sees may carry the pending-changes banner.
bp.app_context_processor(pending_changes.template_context)


class ApplyForm(FlaskForm):
    """Carries only the CSRF token."""
    submit = SubmitField(_l("Apply"))


class RollbackForm(FlaskForm):
    """Carries only the CSRF token."""
    submit = SubmitField(_l("Roll back"))


@dataclass(frozen=True)
class ShownProblem:
    """A problem as the page shows it, in the admin's language."""

    severity: str
    where: str
    message: str
    url: str | None = None  # the form that fixes it


def _shown(problems) -> list[ShownProblem]:
    """The problems in the admin's language, each place a link to the form that fixes it."""
    if not problems:
        return []
    conn = get_db()
    links = place_links(load_configuration(conn), handler_ids(conn))
    return [ShownProblem(p.severity, p.place.render(_), p.text.render(_),
                         problem_link(links, p.place)) for p in problems]


def _page(status=200, problems=None, failure=None, warnings=None, rolling_back=None):
    """The Apply page; ``rolling_back``: the revision a refused or failed rollback was to."""
    conn = get_db()
    revisions = apply.list_revisions(conn)
    pending_changes.forget_pending_changes()  # an Apply in this request changed the answer
    pending = pending_changes.pending_changes()
    return render_template("apply/index.html", revisions=revisions, problems=_shown(problems),
                           failure=failure, warnings=_shown(warnings), apply_form=ApplyForm(),
                           rollback_form=RollbackForm(), pending=pending,
                           pending_words=changes_in_words(pending.changes),
                           restores=_restores(load_configuration(conn), revisions),
                           rolling_back=rolling_back), status


# How many of a rollback's changes its confirmation names; the rest are counted.
CONFIRM_WORDS = 5


def _restores(current, revisions) -> dict[int, str]:
    """Revision id -> the question its Roll back button asks: what the rollback would change
    in the configuration as it is now (revisions that kept no configuration have none)."""
    questions = {}
    for revision in revisions:
        if revision.configuration is None:
            continue
        words = changes_in_words(changes(current, revision.configuration))
        if not words:
            summary = _("the configuration stays as it is, and is applied again")
        else:
            summary = "; ".join(words[:CONFIRM_WORDS]) + ("; …" if len(words) > CONFIRM_WORDS
                                                          else "")
            summary = _("%(count)d changes: %(changes)s", count=len(words), changes=summary)
        questions[revision.id] = _(
            "Roll back to revision %(id)d? Its phones, lines, menus, queues, recordings,"
            " playlists, speech and call transfer settings, schedules and override rules come"
            " back and are applied now (%(summary)s).",
            id=revision.id, summary=summary)
    return questions


@bp.route("/")
@role_required("administrator")
def index():
    """The Apply button and every revision, newest first."""
    return _page()


@bp.route("/run", methods=("POST",))
@role_required("administrator")
def run():
    """Apply the configuration now."""
    if not ApplyForm().validate_on_submit():
        abort(400)
    try:
        revision = apply.apply_now(get_db(), site_settings(), current_user.login,
                                   presynthesize=presynthesize_for_calls,
                                   asterisk=_server_control())
    except apply.ApplyRefused as refused:
        return _page(422, problems=refused.problems)
    except apply.ApplyFailed as failed:
        return _page(502, failure=failed.reason.render(_))
    flash(_("Applied: revision %(id)d is active.", id=revision.id), "success")
    if revision.warnings:
        return _page(warnings=revision.warnings)
    return redirect(url_for(".index"))


@bp.route("/rollback/<int:revision_id>", methods=("POST",))
@role_required("administrator")
def rollback(revision_id: int):
    """Restore the configuration of an earlier revision and apply it, as a new revision;
    refused (problems listed as Apply's) or failed, nothing changes."""
    if not RollbackForm().validate_on_submit():
        abort(400)
    try:
        revision = apply.rollback_now(get_db(), site_settings(), revision_id,
                                      current_user.login, asterisk=_server_control(),
                                      presynthesize=presynthesize_for_calls)
    except LookupError:
        abort(404)
    except apply.NothingToRestore:
        flash(_("Revision %(id)d was made before revisions kept their configuration, so it"
                " cannot be restored. Nothing was changed.", id=revision_id), "danger")
        return redirect(url_for(".index"))
    except apply.ApplyRefused as refused:
        return _page(422, problems=refused.problems, rolling_back=revision_id)
    except apply.ApplyFailed as failed:
        return _page(502, failure=failed.reason.render(_), rolling_back=revision_id)
    flash(_("Rolled back to revision %(old)d: its configuration is restored and applied as"
            " revision %(id)d.", old=revision_id, id=revision.id), "success")
    if revision.warnings:
        return _page(warnings=revision.warnings)
    return redirect(url_for(".index"))


@bp.route("/diff")
@role_required("administrator")
def diff():
    """The unified diff, file by file, from revision ``a`` to revision ``b``."""
    a, b = request.args.get("a", type=int), request.args.get("b", type=int)
    if a is None or b is None:
        abort(400)
    conn = get_db()
    try:
        old, new = apply.get_revision(conn, a), apply.get_revision(conn, b)
    except LookupError:
        abort(404)
    words = None  # None: a revision without its configuration; only files can be compared
    if old.configuration is not None and new.configuration is not None:
        words = changes_in_words(changes(old.configuration, new.configuration))
    return render_template("apply/diff.html", old=old, new=new, words=words,
                           files=apply.diff(old, new))


def _server_control() -> apply.AmiAsterisk | None:
    """Apply over the server's AMI connection when the admin runs inside the server."""
    link = server_asterisk()
    return apply.AmiAsterisk(link.client()) if link is not None else None
