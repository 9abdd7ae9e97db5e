"""The sealed agreement PDF: the committee's seal image and certificate, generation in the background, the PAdES
seal, and the copies.

* start_sealing(agreement) is called when the committee seal is applied (status sealing). It marks the seal as
  running; once the caller's transaction commits, the document is generated in a small thread pool (its own app
  context and session; inline when PORTAL_AGREEMENT_SEAL_INLINE is set): the final HTML, WeasyPrint, seal_pdf(),
  the file stored under a random name, the agreement effective, every party told where to download it.
* seal_pdf() signs with pyHanko: PAdES (ETSI.CAdES.detached), SHA-256, an invisible field "CommitteeSeal" (the
  seal image is already on the page). With PORTAL_TSA_URL the signature gets an RFC 3161 timestamp; when the
  authority fails, sealing fails — never a silent fall-back to the server clock.
* A failure leaves seal_status failed with the error for the mediators, who can try again.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from flask import current_app, g, has_request_context, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from portal import uploads
from portal.accounts.models import Department
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import local_zone, utcnow

from .certificates import (  # noqa: F401  (trust_roots re-exported for the verification page)
    certificate_of, configure_certificate, ensure_certificate, load_certificate, trust_roots,
)
from .models import Agreement, AgreementStatus, CommitteeSeal, SealStatus, SignatureStatus
from .services import AgreementError, atomic, live_signatures, load_agreement, signed_version

SIGNATURE_FIELD = "CommitteeSeal"
_PENDING = "agreement_sealing"  # session.info key: agreements whose generation starts after the commit


class SealingError(Exception):
    """Sealing could not be done; the message is shown to the mediators."""


# --- the seal ---------------------------------------------------------------------------------------------------

def load_signer(committee: Department):
    """A pyHanko signer holding the committee's key and certificate (self-signed on first use)."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    loaded = load_certificate(ensure_certificate(committee))
    der_key = loaded.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    certificate = asn1_x509.Certificate.load(loaded.certificate.public_bytes(serialization.Encoding.DER))
    chain = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in loaded.extra]
    return signers.SimpleSigner(signing_cert=certificate, signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
                                cert_registry=SimpleCertificateStore.from_certs([certificate, *chain]))


def _timestamper():
    url = (current_app.config.get("PORTAL_TSA_URL") or "").strip()
    if not url:
        return None
    from pyhanko.sign.timestamps import HTTPTimeStamper

    return HTTPTimeStamper(url, timeout=int(current_app.config.get("PORTAL_TSA_TIMEOUT", 10)))


def seal_pdf(pdf_bytes: bytes, committee: Department) -> bytes:
    """The PDF with the committee's PAdES signature added as an incremental update. Raises SealingError (with a
    message for the mediators) when it cannot be done, including when the timestamp authority fails."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    signer = load_signer(committee)
    timestamper = _timestamper()
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        name=committee.name, reason="People's mediation agreement", location=committee.name)
    pdf_signer = signers.PdfSigner(metadata, signer=signer, timestamper=timestamper,
                                   new_field_spec=fields.SigFieldSpec(SIGNATURE_FIELD))
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
        return pdf_signer.sign_pdf(writer).getvalue()
    except Exception as exc:
        if timestamper is not None and _is_timestamp_error(exc):
            raise SealingError(_("The timestamp authority (%(url)s) did not answer: %(error)s. Nothing was "
                                 "issued; try again when it is reachable.",
                                 url=current_app.config.get("PORTAL_TSA_URL"), error=_short(exc))) from exc
        raise SealingError(_("The PDF could not be sealed: %(error)s", error=_short(exc))) from exc


def _is_timestamp_error(exc: BaseException) -> bool:
    from pyhanko.sign.timestamps import TimestampRequestError

    seen = exc
    while seen is not None:
        if isinstance(seen, (TimestampRequestError, OSError, TimeoutError)) or "aiohttp" in type(seen).__module__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "…"


# --- the seal image -----------------------------------------------------------------------------------------------

def seal_of(committee_id: int) -> CommitteeSeal | None:
    return db.session.get(CommitteeSeal, committee_id)


def seal_image_data_uri(committee_id: int) -> str | None:
    """The committee's seal image as a data: URL for the print template, or None when none was uploaded."""
    seal = seal_of(committee_id)
    if seal is None:
        return None
    try:
        data = (uploads.upload_folder() / seal.stored_name).read_bytes()
    except OSError:
        return None
    return f"data:{seal.content_type};base64,{base64.b64encode(data).decode()}"


def check_seal_image(upload) -> uploads.CheckedFile:
    """A PNG or JPEG no larger than rules.SEAL_IMAGE_MAX_BYTES, by its content; AgreementError otherwise."""
    from portal import rules

    if upload is None or not getattr(upload, "filename", ""):
        raise AgreementError(_("Choose the seal image (PNG or JPEG)."), "image")
    name = uploads.clean_name(upload.filename)
    data = upload.stream.read(rules.SEAL_IMAGE_MAX_BYTES + 1)
    if not data:
        raise AgreementError(_("%(name)s is empty.", name=name), "image")
    if len(data) > rules.SEAL_IMAGE_MAX_BYTES:
        raise AgreementError(_("%(name)s is larger than %(kb)d KB. Use a smaller image.",
                               name=name, kb=rules.SEAL_IMAGE_MAX_BYTES // 1024), "image")
    kind = uploads.sniff(data)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if kind not in ("png", "jpeg") or extension not in uploads.TYPES[kind][1]:
        raise AgreementError(_("%(name)s was refused: the seal image must be a PNG or JPEG file, and the content "
                               "must match the file name.", name=name), "image")
    return uploads.CheckedFile(name, kind, data)


@atomic
def upload_seal_image(committee: Department, upload, actor) -> CommitteeSeal:
    checked = check_seal_image(upload)
    stored = uploads.store([checked])[0]
    seal = seal_of(committee.id)
    old_name = seal.stored_name if seal is not None else None
    if seal is None:
        seal = CommitteeSeal(department_id=committee.id)
        db.session.add(seal)
    seal.stored_name, seal.original_name = stored.stored_name, stored.original_name
    seal.content_type, seal.size, seal.sha256 = stored.content_type, stored.size, stored.sha256
    seal.uploaded_by_id, seal.uploaded_at = actor.id, utcnow()
    record("agreement.seal_image_uploaded", seal, object_id=committee.id, actor=actor,
           details={"committee": committee.name, "sha256": stored.sha256, "size": stored.size,
                    "replaced": bool(old_name)})
    db.session.flush()
    if old_name:
        uploads.remove([old_name])
    return seal


@atomic
def upload_certificate(committee: Department, data: bytes, passphrase: str, actor):
    return configure_certificate(committee, data, passphrase, actor)


@atomic
def create_self_signed(committee: Department, actor):
    """The admin asks for the self-signed certificate now rather than at the first seal."""
    return ensure_certificate(committee)


# --- generation -----------------------------------------------------------------------------------------------------

def start_sealing(agreement: Agreement) -> None:
    """Mark the seal as running; the document is generated once the caller's transaction commits. Does not commit."""
    if agreement.status not in (AgreementStatus.SEALING,):
        raise AgreementError(_("Only an agreement every signer has signed can be sealed."))
    agreement.seal_status = SealStatus.RUNNING
    agreement.seal_error = ""
    record("agreement.sealing_started", agreement, details={"number": agreement.number})
    db.session.flush()
    db.session().info.setdefault(_PENDING, set()).add(agreement.id)


STALE_AFTER = timedelta(minutes=10)  # a generation still "running" after this was lost (e.g. a restart)


def sealing_stalled(agreement: Agreement, now=None) -> bool:
    """True when the generation has been running for longer than STALE_AFTER (the process that ran it is gone)."""
    if agreement.status != AgreementStatus.SEALING or agreement.seal_status != SealStatus.RUNNING:
        return False
    from portal.audit.models import AuditEvent

    started = db.session.scalar(
        select(func.max(AuditEvent.at)).where(AuditEvent.object_type == Agreement.__tablename__,
                                              AuditEvent.object_id == str(agreement.id),
                                              AuditEvent.action == "agreement.sealing_started"))
    return started is not None and (now or utcnow()) - started > STALE_AFTER


def may_retry(agreement: Agreement) -> bool:
    if agreement.status != AgreementStatus.SEALING:
        return False
    return agreement.seal_status == SealStatus.FAILED or sealing_stalled(agreement)


@atomic
def retry_sealing(agreement: Agreement) -> None:
    """A mediator tries again after a failure, or after a generation that never finished."""
    if not may_retry(agreement):
        raise AgreementError(_("The document is not waiting for another try."))
    start_sealing(agreement)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    app = current_app._get_current_object()
    base_url = request.host_url if has_request_context() else ""  # for the links in the messages
    for agreement_id in sorted(pending):
        if app.config.get("PORTAL_AGREEMENT_SEAL_INLINE"):
            run_generation(app, agreement_id, base_url)
        else:
            _executor().submit(run_generation, app, agreement_id, base_url)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop(_PENDING, None)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agreement-pdf")
        return _pool


def run_generation(app, agreement_id: int, base_url: str = "") -> None:
    """The background job: its own app context and session; a failure is recorded on the agreement. It runs in a
    request context of its own (no user, no client address) for the print templates and the links."""
    base = app.config.get("PORTAL_BASE_URL") or base_url or "http://localhost/"
    with app.app_context(), app.test_request_context(base_url=base, environ_overrides={"REMOTE_ADDR": ""}), \
            force_locale("zh_CN"):
        g.agreement_base_url = base_url
        try:
            issue_document(agreement_id)
        except Exception as exc:  # every failure is shown to the mediators, none is lost
            db.session.rollback()
            if not isinstance(exc, (SealingError, AgreementError)):
                app.logger.exception("agreement %s: generation failed", agreement_id)
            message = exc.message if isinstance(exc, AgreementError) else str(exc)
            _mark_failed(agreement_id, message or type(exc).__name__)
        finally:
            db.session.remove()


def _mark_failed(agreement_id: int, message: str) -> None:
    agreement = db.session.get(Agreement, agreement_id)
    if agreement is None or agreement.seal_status != SealStatus.RUNNING:
        return  # issued meanwhile by another run: nothing failed
    agreement.seal_status = SealStatus.FAILED
    agreement.seal_error = message[:2000]
    record("agreement.sealing_failed", agreement, details={"error": agreement.seal_error})
    db.session.commit()


def _render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    from portal.pdf import StaticOnlyFetcher

    static = Path(current_app.static_folder).resolve()
    return HTML(string=html, base_url=static.as_uri() + "/", url_fetcher=StaticOnlyFetcher(static)).write_pdf()


def document_html(agreement: Agreement) -> str:
    """The final document's HTML: the signed version, the signatures, the committee's seal image."""
    from portal.agreements import drafting

    version = signed_version(agreement)
    if version is None:
        raise SealingError(_("The signed text of this agreement cannot be found."))
    signatures = [s for s in live_signatures(agreement) if s.status == SignatureStatus.SIGNED]
    return drafting.render_document_html(agreement, version, signatures=signatures,
                                         seal_image=seal_image_data_uri(agreement.referral.committee_id),
                                         issued=True)


def _store_pdf(data: bytes) -> str:
    folder = uploads.upload_folder()
    stored_name = f"{secrets.token_hex(16)}.pdf"
    temporary = folder / f".{stored_name}.part"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, 0o640)
    os.replace(temporary, folder / stored_name)
    return stored_name


def issue_document(agreement_id: int) -> Agreement | None:
    """Generate, seal and store the agreement's PDF; the agreement takes effect. Commits."""
    agreement = load_agreement(agreement_id)
    if agreement is None or agreement.status != AgreementStatus.SEALING \
            or agreement.seal_status != SealStatus.RUNNING:
        return None
    now = utcnow()
    if agreement.effective_at is None:
        agreement.effective_at = now
    if agreement.effective_on is None:
        agreement.effective_on = agreement.effective_at.astimezone(local_zone()).date()
    committee = agreement.referral.committee
    html = document_html(agreement)
    sealed = seal_pdf(_render_pdf(html), committee)
    stored_name = _store_pdf(sealed)
    try:
        certificate = certificate_of(committee)
        agreement.pdf_stored_name = stored_name
        agreement.pdf_sha256 = hashlib.sha256(sealed).hexdigest()
        agreement.pdf_size = len(sealed)
        agreement.seal_status = SealStatus.DONE
        agreement.seal_error = ""
        agreement.status = AgreementStatus.EFFECTIVE
        record("agreement.issued", agreement,
               details={"number": agreement.number, "sha256": agreement.pdf_sha256, "size": agreement.pdf_size,
                        "certificate": certificate.fingerprint if certificate else "",
                        "self_signed": bool(certificate and certificate.self_signed),
                        "timestamped": bool(current_app.config.get("PORTAL_TSA_URL")),
                        "effective_on": agreement.effective_on.isoformat()})
        _tell_parties(agreement)
        from portal.mediation.matters import conclude_after_agreement

        conclude_after_agreement(agreement.referral)  # the case is resolved by the agreement now in effect
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove([stored_name])
        raise
    return agreement


def _tell_parties(agreement: Agreement) -> None:
    """Everyone taking part hears that the agreement is in effect, with the link to the agreement page, where the
    sealed copy is downloaded (dates written for each reader)."""
    from flask_babel import format_date

    from portal.mail.services import send_message
    from portal.mediation.sessions import matter_participants

    matter = agreement.referral
    participants = matter_participants(matter)
    base = (current_app.config.get("PORTAL_BASE_URL") or g.get("agreement_base_url") or "").rstrip("/")
    path = current_app.url_map.bind("localhost").build("agreements.agreement", {"agreement_id": agreement.id})
    url = base + path if base else ""
    for person in [*participants.representatives, *participants.petitioners, *participants.mediators]:
        if not person.login:
            continue
        with force_locale(person.locale or "zh_CN"):
            subject = _("Mediation agreement %(number)s is in effect", number=agreement.number)
            body = _("The mediation agreement %(number)s of case %(reference)s has been signed by every party and "
                     "the mediator and sealed by %(committee)s. It is in effect from %(date)s.",
                     number=agreement.number, reference=matter.case.reference, committee=matter.committee.name,
                     date=format_date(agreement.effective_on, "long"))
            body += "\n" + _("Download the sealed copy (PDF) on the agreement page after signing in:")
        if url:
            body += "\n" + url
        send_message(person.login, subject, body)


# --- copies -------------------------------------------------------------------------------------------------------

def document_path(agreement: Agreement) -> Path | None:
    if agreement.status != AgreementStatus.EFFECTIVE or not agreement.pdf_stored_name:
        return None
    path = uploads.upload_folder() / agreement.pdf_stored_name
    return path if path.is_file() else None


def download_name(agreement: Agreement) -> str:
    return f"调解协议书-{agreement.number}.pdf"


@atomic
def record_download(agreement: Agreement, user) -> str:
    """Audit a download; returns whose copy it is ("party:<id>" or "archive")."""
    from portal import policy

    party = policy.party_of(user, agreement.referral)
    copy = f"party:{party.id}" if party is not None else "archive"
    record("agreement.downloaded", agreement, actor=user,
           details={"copy": copy, "party": party.name if party is not None else "",
                    "sha256": agreement.pdf_sha256})
    return copy
