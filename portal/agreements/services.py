"""What every part of the agreements shares: the refusal type, the one-transaction decorator, loading an
agreement, which version is current, and voiding signatures when the text changes.

The work lives beside this module: drafting.py (versions, obligations, comments, diff, the document's HTML and the
preview PDF, the document hash), signing.py (opening signing, party / mediator signatures, the committee seal, in
person, declining, reminders to signers), documents.py (background generation and PAdES sealing of the PDF,
certificates, seal images, copies), verification.py (the public check), follow_up.py (judicial confirmation and
performance of obligations). No request object in any of them; each change writes the audit trail.
"""
from __future__ import annotations

from functools import wraps

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db
from portal.mediation.models import MediationReferral
from portal.timeutil import utcnow

from .models import Agreement, AgreementSignature, AgreementStatus, AgreementVersion


class AgreementError(Exception):
    """A refusal with a message for the user (already translated) and the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def atomic(service):
    """Run a service as one transaction: commit on success, roll back on a refusal; a concurrent change of the
    same agreement (version column) becomes a message, not a 500."""

    @wraps(service)
    def wrapper(*args, **kwargs):
        try:
            result = service(*args, **kwargs)
            db.session.commit()
            return result
        except StaleDataError:
            db.session.rollback()
            raise AgreementError(_("Someone else changed this agreement in the meantime. Reload the page and "
                                   "try again."))
        except AgreementError:
            db.session.rollback()
            raise

    return wrapper


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
