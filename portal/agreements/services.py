"""What every part of the agreements shares: the refusal type, the one-transaction decorator, loading an
agreement, which version is current, and voiding signatures when the text changes.

The work lives beside this module: drafting.py (versions, obligations, comments, diff, the document's HTML and the
preview PDF, the document hash), signing.py (opening signing, party / mediator signatures, the committee seal, in
person, declining, reminders to signers), documents.py (background generation and PAdES sealing of the PDF,
certificates, seal images, copies), verification.py (the public check), follow_up.py (judicial confirmation and
performance of obligations). No request object in any of them; each change writes the audit trail.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal.extensions import db
from portal.mediation.models import MediationReferral
from portal.timeutil import utcnow
from portal.transactions import Refusal, atomic_services

from .models import Agreement, AgreementSignature, AgreementStatus, AgreementVersion


class AgreementError(Refusal):
    """A refusal of the agreement services."""


# Commit on success, roll back on a refusal; a concurrent change of the same row becomes a message, not a 500.
atomic = atomic_services(AgreementError, lambda: _("Someone else changed this agreement in the meantime. "
                                                  "Reload the page and try again."))


def agreement_url(agreement_id: int, anchor: str = "") -> str:
    """The agreement's page (at an anchor such as "#signing")."""
    from flask import url_for

    return url_for("agreements.agreement", agreement_id=agreement_id) + anchor


def load_agreement(agreement_id: int) -> Agreement | None:
    """An agreement with its matter (parties, mediators), versions and signatures, in a fixed number of queries."""
    return db.session.scalar(
        select(Agreement).where(Agreement.id == agreement_id)
        .options(selectinload(Agreement.referral).selectinload(MediationReferral.parties),
                 selectinload(Agreement.referral).selectinload(MediationReferral.mediators),
                 selectinload(Agreement.versions).selectinload(AgreementVersion.obligations),
                 selectinload(Agreement.signatures)))


def agreement_of(matter: MediationReferral) -> Agreement | None:
    return db.session.scalar(select(Agreement).where(Agreement.referral_id == matter.id))


def current_version(agreement: Agreement) -> AgreementVersion | None:
    return agreement.versions[-1] if agreement.versions else None


def signed_version(agreement: Agreement) -> AgreementVersion | None:
    """The version whose text is being signed or was signed (None while drafting)."""
    if agreement.signing_version is None:
        return None
    return next((v for v in agreement.versions if v.number == agreement.signing_version), None)


def live_signatures(agreement: Agreement) -> list[AgreementSignature]:
    """Signatures (and refusals) on the current document hash that no text change has voided."""
    return [s for s in agreement.signatures if s.voided_at is None and s.document_hash == agreement.document_hash]


def void_signatures(agreement: Agreement) -> list[AgreementSignature]:
    """The text changes: every signature collected is void and the agreement is back in drafting. Returns the
    voided signatures so the caller can tell their signers. Does not commit."""
    now = utcnow()
    voided = [s for s in agreement.signatures if s.voided_at is None]
    for signature in voided:
        signature.voided_at = now
    agreement.status = AgreementStatus.DRAFTING
    agreement.document_hash = ""
    agreement.signing_version = None
    agreement.signing_opened_at = None
    return voided
