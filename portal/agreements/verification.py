"""The public check of an agreement: upload the PDF, or open the QR link / enter the short code.

What it tells anyone: whether this exact file is one the portal issued (its sha256 equals an issued file's),
whether the PDF signatures in it are intact and valid (pyHanko, trust roots: the committee certificates the portal
holds), who signed the agreement and when, its number and the day it took effect. Never its content: no facts,
terms, obligations or personal numbers. Nothing uploaded is kept. No request object here.
"""
from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import rules
from portal.extensions import db

from .models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    CommitteeCertificate,
    SignatureStatus,
    SignerRole,
)
from .services import AgreementError

log = logging.getLogger(__name__)

CODE_RE = re.compile(r"[^0-9A-Za-z]")


@dataclass
class PdfSignature:
    """One signature embedded in the PDF, as pyHanko judged it."""

    field_name: str
    signer: str  # the certificate's subject
    signed_at: datetime | None
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature checks out
    trusted: bool  # the certificate leads to a certificate the portal holds
    covers_whole_file: bool  # nothing was added after this signature
    self_signed: bool  # the portal's own self-signed committee certificate (not publicly trusted)
    portal_certificate: bool  # a committee certificate configured in the portal

    @property
    def ok(self) -> bool:
        return self.intact and self.valid and self.trusted


@dataclass
class Signer:
    role: SignerRole
    name: str  # the party's or department's name, the mediator's name, the committee
    on_behalf_of: str  # the department a representative signed for
    signed_at: datetime
    in_person: bool


@dataclass
class AgreementFacts:
    """What may be told to anyone about an issued agreement."""

    number: str
    committee: str
    effective_on: date | None
    issued: bool
    signers: list[Signer] = field(default_factory=list)
    agreement: Agreement | None = None  # for the link a party or the committee gets; never shown as such


@dataclass
class FileCheck:
    """The answer for an uploaded file."""

    size: int
    sha256: str
    is_pdf: bool
    readable: bool  # pyHanko could read it as a PDF
    matches: AgreementFacts | None  # the issued agreement whose file this exactly is
    signatures: list[PdfSignature] = field(default_factory=list)

    @property
    def signatures_ok(self) -> bool:
        return bool(self.signatures) and all(s.ok for s in self.signatures)

    @property
    def authentic(self) -> bool:
        """The very file the portal issued, with every signature intact, valid and trusted."""
        return self.matches is not None and self.signatures_ok and all(s.intact for s in self.signatures)

    @property
    def self_signed(self) -> bool:
        return any(s.self_signed for s in self.signatures)


# --- the short code ------------------------------------------------------------------------------------------

def normalise_code(code: str) -> str:
    return CODE_RE.sub("", code or "").upper()


def find_by_code(code: str) -> Agreement | None:
    """The issued agreement with this verification code (case and separators ignored); none before it is issued."""
    wanted = normalise_code(code)
    if not wanted or len(wanted) > 32:
        return None
    for agreement in db.session.scalars(select(Agreement).where(Agreement.verification_code.in_(
            _code_spellings(code, wanted)))):
        if agreement.status == AgreementStatus.EFFECTIVE and agreement.pdf_sha256:
            return agreement
    return None


def _code_spellings(raw: str, wanted: str) -> list[str]:
    """Codes are stored in capitals without separators; an older or hand-made one may differ, so the code is
    also tried as typed (one query either way)."""
    return sorted({wanted, (raw or "").strip()} - {""})


def facts(agreement: Agreement) -> AgreementFacts:
    """Number, committee, effective date and who signed when: never the content."""
    signatures = list(db.session.scalars(
        select(AgreementSignature).where(AgreementSignature.agreement_id == agreement.id,
                                         AgreementSignature.voided_at.is_(None),
                                         AgreementSignature.status == SignatureStatus.SIGNED,
                                         AgreementSignature.document_hash == agreement.document_hash)
        .options(selectinload(AgreementSignature.party), selectinload(AgreementSignature.department))
        .order_by(AgreementSignature.signed_at, AgreementSignature.id)))
    signers = []
    order = {SignerRole.PARTY: 0, SignerRole.MEDIATOR: 1, SignerRole.COMMITTEE: 2}
    for signature in sorted(signatures, key=lambda s: (order[s.role], s.signed_at, s.id)):
        if signature.role == SignerRole.PARTY:
            name = signature.party.name if signature.party else signature.signer_name
            behalf = signature.signer_name if signature.department_id is not None else ""
        elif signature.role == SignerRole.COMMITTEE:
            name, behalf = agreement.referral.committee.name, ""
        else:
            name, behalf = signature.signer_name, ""
        signers.append(Signer(signature.role, name, behalf, signature.signed_at,
                              signature.method.value == "in_person"))
    return AgreementFacts(agreement.number, agreement.referral.committee.name, agreement.effective_on,
                          agreement.status == AgreementStatus.EFFECTIVE and bool(agreement.pdf_sha256), signers,
                          agreement)


# --- the uploaded file -----------------------------------------------------------------------------------------

def read_upload(upload) -> bytes:
    """The uploaded file's bytes, refused when missing, empty, too large or not a PDF (by its content and name)."""
    if upload is None or not getattr(upload, "filename", ""):
        raise AgreementError(_("Choose the PDF file of the agreement, or enter the code."), "document")
    data = upload.stream.read(rules.VERIFY_UPLOAD_MAX_BYTES + 1)
    if not data:
        raise AgreementError(_("The file is empty."), "document")
    if len(data) > rules.VERIFY_UPLOAD_MAX_BYTES:
        raise AgreementError(_("The file is larger than %(mb)s MB; an agreement issued by the portal is much "
                               "smaller.", mb=f"{rules.VERIFY_UPLOAD_MAX_BYTES / (1024 * 1024):g}"), "document")
    name = (upload.filename or "").lower()
    if not name.endswith(".pdf") or b"%PDF-" not in data[:1024]:
        raise AgreementError(_("Only PDF files can be checked: the agreement is issued as a PDF."), "document")
    return data


def check_file(data: bytes) -> FileCheck:
    """Compare the file with the issued ones and validate every signature in it. Never raises for bad input."""
    digest = hashlib.sha256(data).hexdigest()
    agreement = db.session.scalar(select(Agreement).where(Agreement.pdf_sha256 == digest))
    matches = facts(agreement) if agreement is not None and agreement.status == AgreementStatus.EFFECTIVE else None
    is_pdf = b"%PDF-" in data[:1024]
    signatures, readable = ([], False)
    if is_pdf:
        signatures, readable = pdf_signatures(data)
    return FileCheck(len(data), digest, is_pdf, readable, matches, signatures)


def pdf_signatures(data: bytes) -> tuple[list[PdfSignature], bool]:
    """Every signature embedded in the PDF, validated against the portal's committee certificates.
    Returns (signatures, whether the file could be read as a PDF at all)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = list(reader.embedded_signatures)
    except Exception as exc:  # a damaged or hostile file: say so, never a 500
        log.info("verification: unreadable PDF: %s", exc)
        return [], False
    if not embedded:
        return [], True
    context = _validation_context()
    self_signed, configured = _portal_fingerprints()
    return [_validate(signature, context, self_signed, configured) for signature in embedded], True


def _validation_context():
    from pyhanko_certvalidator import ValidationContext

    from .documents import trust_roots

    return ValidationContext(trust_roots=trust_roots(), allow_fetching=False)


def _portal_fingerprints() -> tuple[set[str], set[str]]:
    rows = db.session.execute(select(CommitteeCertificate.fingerprint, CommitteeCertificate.self_signed)).all()
    return ({f.lower() for f, s in rows if s and f}, {f.lower() for f, s in rows if not s and f})


def _validate(embedded, context, self_signed: set[str], configured: set[str]) -> PdfSignature:
    from pyhanko.sign.validation import validate_pdf_signature

    field_name = getattr(embedded, "field_name", "") or ""
    signer, fingerprint = "", ""
    try:
        certificate = embedded.signer_cert
        subject = certificate.subject.native
        signer = subject.get("common_name") or subject.get("organization_name") or certificate.subject.human_friendly
        fingerprint = hashlib.sha256(certificate.dump()).hexdigest()
    except Exception:  # noqa: BLE001 - a signature without a readable certificate is simply not valid
        pass
    try:
        status = validate_pdf_signature(embedded, signer_validation_context=context)
    except Exception as exc:  # noqa: BLE001 - a malformed signature is reported as broken, not as an error page
        log.info("verification: signature %s not validated: %s", field_name, exc)
        return PdfSignature(field_name, signer, None, False, False, False, False, fingerprint in self_signed,
                            fingerprint in configured)
    signed_at = None
    if getattr(status, "timestamp_validity", None) is not None:
        signed_at = status.timestamp_validity.timestamp
    elif getattr(status, "signer_reported_dt", None) is not None:
        signed_at = status.signer_reported_dt
    coverage = getattr(status, "coverage", None)
    whole = coverage is not None and coverage.name == "ENTIRE_FILE"
    return PdfSignature(field_name, signer, signed_at, bool(status.intact), bool(status.valid),
                        bool(status.trusted), whole, fingerprint in self_signed, fingerprint in configured)
