"""Case pages shared by every flow: loading a case with its access check, the case page, attachments."""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, render_template, send_file
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import policy
from portal.accounts.models import Role
from portal.audit.services import record
from portal.extensions import db

from . import bp
from .clocks import clock_state
from .models import Attachment, Case, Clock, ClockPause, Referral
from .services import timeline


def load_case(case_id: int, permission: str = "case.view") -> Case:
    """The case with what its page shows, loaded in a fixed number of queries; 404 if missing, 403 if not allowed."""
    case = db.session.scalar(
        select(Case).where(Case.id == case_id).options(
            joinedload(Case.category),
            joinedload(Case.lead_department),
            selectinload(Case.petitioners),
            selectinload(Case.referrals).joinedload(Referral.department),
            selectinload(Case.clocks).selectinload(Clock.pauses).joinedload(ClockPause.paused_by),
            selectinload(Case.attachments),
        )
    )
    if case is None:
        abort(404)
    policy.ensure(permission, case)
    return case


def case_page(case: Case, **extra):
    """Render the case page: the petitioner's version hides every internal entry."""
    if current_user.role == Role.PETITIONER:
        return render_template("cases/mine.html", case=case, events=timeline(case, internal=False), **extra)
    clocks = [clock_state(c) for c in case.clocks]
    internal = policy.can(current_user, "case.internal", case)
    return render_template("cases/detail.html", case=case, clocks=clocks,
                           events=timeline(case, internal=internal), **extra)


@bp.route("/cases/<int:case_id>")
@policy.requires("case.view")
def detail(case_id):
    return case_page(load_case(case_id))


@bp.route("/attachments/<int:attachment_id>")
@policy.requires("attachment.download")
def attachment(attachment_id):
    item = db.get_or_404(Attachment, attachment_id)
    policy.ensure("attachment.download", item)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / item.stored_name
    if not path.is_file():
        abort(404)
    record("attachment.downloaded", item, details={"case": item.case_id})
    db.session.commit()
    return send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name)
