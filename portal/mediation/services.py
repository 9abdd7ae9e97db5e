"""What every part of mediation shares: the refusal type, the one-transaction decorator, loading a matter and
the rules that a matter must be open and every party's consent must stand before anything proceeds.

The work itself lives beside this module: matters.py (referral, parties, mediators, outcome), sessions.py
(scheduling, invitations, attendance), proceedings.py (the record: entries, read-back, lock, errata), figures.py.
No request object in any of them; each change writes the audit trail and commits through @atomic.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.transactions import Refusal, atomic_services

from .models import MediationParty, MediationReferral, MediationStatus, PartySide


class MediationError(Refusal):
    """A refusal of the mediation services."""


# Commit on success, roll back on a refusal; a concurrent change of the same row becomes a message, not a 500.
atomic = atomic_services(MediationError, lambda: _("Someone else changed this mediation in the meantime. "
                                                  "Reload the page and try again."))


def load_matter(matter_id: int) -> MediationReferral | None:
    """A matter with its parties, mediators and sessions (three extra queries whatever their number)."""
    return db.session.scalar(
        select(MediationReferral).where(MediationReferral.id == matter_id)
        .options(selectinload(MediationReferral.parties).selectinload(MediationParty.petitioner),
                 selectinload(MediationReferral.parties).selectinload(MediationParty.department),
                 selectinload(MediationReferral.mediators),
                 selectinload(MediationReferral.sessions)))


def active_parties(matter: MediationReferral) -> list[MediationParty]:
    """Parties whose consent stands."""
    return [p for p in matter.parties if p.withdrawn_on is None]


def ensure_open(matter: MediationReferral) -> None:
    if matter.status != MediationStatus.OPEN:
        raise MediationError(_("This mediation has ended (%(status)s); it can no longer be changed.",
                               status=matter.status.label))


def ensure_consent(matter: MediationReferral) -> None:
    """Mediation proceeds only while both sides consent: at least one party on each side, none withdrawn."""
    ensure_open(matter)
    sides = {p.side for p in active_parties(matter)}
    if sides != {PartySide.APPLICANT, PartySide.RESPONDENT} or any(p.withdrawn_on for p in matter.parties):
        raise MediationError(_("Mediation needs the recorded consent of both sides before it can proceed."))
