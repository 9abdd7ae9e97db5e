"""Mediation agreements (调解协议书): versioned drafts with their obligations, signatures of every party, the
mediator and the committee seal, the sealed PDF, judicial confirmation and the follow-up of each obligation.
Names follow the glossary in DOMAIN.md."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import Department, User
from portal.conferences.models import StoredFileColumns
from portal.enums import LabelledEnum, db_enum, register_labels
from portal.extensions import db
from portal.mediation.models import MediationParty, MediationReferral
from portal.timeutil import UTCDateTime, utcnow


class AgreementStatus(LabelledEnum):
    DRAFTING = "drafting"  # versions being written; parties read and comment
    SIGNING = "signing"  # text fixed (its hash is what everyone signs); parties, then mediator, then the seal
    SEALING = "sealing"  # all signatures in; the PDF is being generated and sealed
    EFFECTIVE = "effective"  # sealed PDF issued, effective date fixed


class SealStatus(LabelledEnum):
    NONE = "none"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class SignerRole(LabelledEnum):
    PARTY = "party"
    MEDIATOR = "mediator"
    COMMITTEE = "committee"  # the committee's seal (盖章)


class SignatureStatus(LabelledEnum):
    SIGNED = "signed"
    DECLINED = "declined"


class SignatureMethod(LabelledEnum):
    ONLINE = "online"  # logged in as the party, confirmed with a one-time code
    IN_PERSON = "in_person"  # on the mediator's device after the mediator checked the ID document


class SignatureMark(LabelledEnum):
    DRAWN = "drawn"  # drawn on the signature pad
    TYPED = "typed"  # typed name (no JavaScript)
    SEAL = "seal"  # the committee's seal image


class ObligationStatus(LabelledEnum):
    PENDING = "pending"
    PERFORMED = "performed"
    PARTLY = "partly"
    NOT_PERFORMED = "not_performed"


class PerformanceAnswer(LabelledEnum):
    CONFIRMED = "confirmed"
    DISPUTED = "disputed"


class ConfirmationResult(LabelledEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"  # the court confirmed the agreement (司法确认)
    REJECTED = "rejected"


LABELS = register_labels({
    (AgreementStatus, AgreementStatus.DRAFTING): _l("Drafting"),
    (AgreementStatus, AgreementStatus.SIGNING): _l("Being signed"),
    (AgreementStatus, AgreementStatus.SEALING): _l("Being sealed"),
    (AgreementStatus, AgreementStatus.EFFECTIVE): _l("In effect"),
    (SealStatus, SealStatus.NONE): _l("Not started"), (SealStatus, SealStatus.RUNNING): _l("Generating"),
    (SealStatus, SealStatus.DONE): _l("Sealed"), (SealStatus, SealStatus.FAILED): _l("Failed"),
    (SignerRole, SignerRole.PARTY): _l("Party"), (SignerRole, SignerRole.MEDIATOR): _l("Mediator"),
    (SignerRole, SignerRole.COMMITTEE): _l("Committee seal"),
    (SignatureStatus, SignatureStatus.SIGNED): _l("Signed"), (SignatureStatus, SignatureStatus.DECLINED): _l("Declined to sign"),
    (SignatureMethod, SignatureMethod.ONLINE): _l("Signed online"),
    (SignatureMethod, SignatureMethod.IN_PERSON): _l("Signed in person"),
    (SignatureMark, SignatureMark.DRAWN): _l("Drawn signature"), (SignatureMark, SignatureMark.TYPED): _l("Typed name"),
    (SignatureMark, SignatureMark.SEAL): _l("Seal"),
    (ObligationStatus, ObligationStatus.PENDING): _l("Not yet due or not reported"),
    (ObligationStatus, ObligationStatus.PERFORMED): _l("Performed"),
    (ObligationStatus, ObligationStatus.PARTLY): _l("Partly performed"),
    (ObligationStatus, ObligationStatus.NOT_PERFORMED): _l("Not performed"),
    (PerformanceAnswer, PerformanceAnswer.CONFIRMED): _l("Confirmed"),
    (PerformanceAnswer, PerformanceAnswer.DISPUTED): _l("Disputed"),
    (ConfirmationResult, ConfirmationResult.PENDING): _l("Awaiting the court"),
    (ConfirmationResult, ConfirmationResult.CONFIRMED): _l("Confirmed by the court"),
    (ConfirmationResult, ConfirmationResult.REJECTED): _l("Not confirmed"),
})


class Agreement(db.Model):
    """The written agreement of a mediation matter whose outcome is "agreement reached"."""

    __tablename__ = "agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("mediation_referral.id"), unique=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)  # shown on the document
    verification_code: Mapped[str] = mapped_column(String(16), unique=True)  # short code for the public check
    status: Mapped[AgreementStatus] = mapped_column(db_enum(AgreementStatus, "agreement_status"),
                                                    default=AgreementStatus.DRAFTING, index=True)
    # Signing: the version whose exact text everyone signs, and the sha256 of that text.
    signing_version: Mapped[int | None] = mapped_column(Integer)  # the AgreementVersion.number being signed
    document_hash: Mapped[str] = mapped_column(String(64), default="")
    signing_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sealing: generated in the background; the issued file's sha256 is what the verification page compares.
    seal_status: Mapped[SealStatus] = mapped_column(db_enum(SealStatus, "seal_status"), default=SealStatus.NONE)
    seal_error: Mapped[str] = mapped_column(Text, default="")
    pdf_stored_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64), default="", index=True)
    pdf_size: Mapped[int] = mapped_column(Integer, default=0)
    effective_on: Mapped[date | None] = mapped_column(Date)
    effective_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    referral: Mapped[MediationReferral] = relationship()
    versions: Mapped[list[AgreementVersion]] = relationship(back_populates="agreement",
                                                            order_by="AgreementVersion.number")
    signatures: Mapped[list[AgreementSignature]] = relationship(back_populates="agreement",
                                                                order_by="AgreementSignature.id")


class AgreementVersion(db.Model):
    """One saved draft: immutable once saved (a change is a new version), so any two can be compared."""

    __tablename__ = "agreement_version"
    __table_args__ = (UniqueConstraint("agreement_id", "number", name="agreement_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # Art. 29 (2): the main facts, the disputed matters and each party's responsibility.
    facts: Mapped[str] = mapped_column(Text, default="")
    disputes: Mapped[str] = mapped_column(Text, default="")
    responsibilities: Mapped[str] = mapped_column(Text, default="")
    other_terms: Mapped[str] = mapped_column(Text, default="")  # agreed matters besides the obligations
    parties_snapshot: Mapped[str] = mapped_column(Text, default="[]")  # JSON: art. 29 (1), as of this version
    change_note: Mapped[str] = mapped_column(String(500), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # sha256 of the canonical text
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreement: Mapped[Agreement] = relationship(back_populates="versions")
    obligations: Mapped[list[AgreementObligation]] = relationship(back_populates="agreement_version",
                                                                  order_by="AgreementObligation.position",
                                                                  cascade="all, delete-orphan")
    comments: Mapped[list[AgreementComment]] = relationship(back_populates="agreement_version",
                                                            order_by="AgreementComment.id")
    created_by: Mapped[User | None] = relationship()


class AgreementObligation(db.Model):
    """Art. 29 (3): who does what, how, where and by when. Those of the signed version are followed up."""

    __tablename__ = "agreement_obligation"
    __table_args__ = (UniqueConstraint("version_id", "position", name="agreement_obligation_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("agreement_version.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    party_id: Mapped[int] = mapped_column(ForeignKey("mediation_party.id"))  # the obliged party
    what: Mapped[str] = mapped_column(Text)
    manner: Mapped[str] = mapped_column(String(500), default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    due_on: Mapped[date] = mapped_column(Date)
    # Follow-up after the agreement takes effect.
    status: Mapped[ObligationStatus] = mapped_column(db_enum(ObligationStatus, "obligation_status"),
                                                     default=ObligationStatus.PENDING)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agreement_version: Mapped[AgreementVersion] = relationship(back_populates="obligations")
    party: Mapped[MediationParty] = relationship()
    reports: Mapped[list[PerformanceReport]] = relationship(back_populates="obligation",
                                                            order_by="PerformanceReport.id")


class AgreementComment(db.Model):
    __tablename__ = "agreement_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("agreement_version.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("mediation_party.id"))  # the party it speaks for
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agreement_version: Mapped[AgreementVersion] = relationship(back_populates="comments")
    author: Mapped[User] = relationship()
    party: Mapped[MediationParty | None] = relationship()


class AgreementSignature(db.Model):
    """A party's signature (or refusal), the mediator's signature, or the committee seal, on document_hash.
    A change of the text voids every signature collected (voided_at), and the history stays."""

    __tablename__ = "agreement_signature"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    role: Mapped[SignerRole] = mapped_column(db_enum(SignerRole, "signer_role"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("mediation_party.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # none: in person without an account
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))  # signed on behalf of
    signer_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[SignatureStatus] = mapped_column(db_enum(SignatureStatus, "signature_status"),
                                                    default=SignatureStatus.SIGNED)
    decline_reason: Mapped[str] = mapped_column(Text, default="")
    method: Mapped[SignatureMethod] = mapped_column(db_enum(SignatureMethod, "signature_method"),
                                                    default=SignatureMethod.ONLINE)
    mark: Mapped[SignatureMark | None] = mapped_column(db_enum(SignatureMark, "signature_mark"))
    image_png: Mapped[bytes | None] = mapped_column(LargeBinary)  # the drawn signature, size-checked
    typed_name: Mapped[str] = mapped_column(String(100), default="")
    identity_checked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))  # in person
    identity_document: Mapped[str] = mapped_column(String(100), default="")  # kind and masked number
    document_hash: Mapped[str] = mapped_column(String(64))  # the hash signed
    client_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agreement: Mapped[Agreement] = relationship(back_populates="signatures")
    party: Mapped[MediationParty | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    department: Mapped[Department | None] = relationship()
    identity_checked_by: Mapped[User | None] = relationship(foreign_keys=[identity_checked_by_id])


class PerformanceReport(db.Model):
    """The obliged party reports performance with evidence; the petitioner confirms or disputes it."""

    __tablename__ = "performance_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    obligation_id: Mapped[int] = mapped_column(ForeignKey("agreement_obligation.id"), index=True)
    extent: Mapped[ObligationStatus] = mapped_column(db_enum(ObligationStatus, "performance_extent"))
    text: Mapped[str] = mapped_column(Text)
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answer: Mapped[PerformanceAnswer | None] = mapped_column(db_enum(PerformanceAnswer, "performance_answer"))
    answer_note: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    obligation: Mapped[AgreementObligation] = relationship(back_populates="reports")
    reported_by: Mapped[User | None] = relationship(foreign_keys=[reported_by_id])
    evidence: Mapped[list[PerformanceEvidence]] = relationship(back_populates="report",
                                                               order_by="PerformanceEvidence.id")


class PerformanceEvidence(StoredFileColumns, db.Model):
    __tablename__ = "performance_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("performance_report.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    report: Mapped[PerformanceReport] = relationship(back_populates="evidence")


class JudicialConfirmation(db.Model):
    """A joint application to a court for judicial confirmation (司法确认) and its result."""

    __tablename__ = "judicial_confirmation"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    applied_on: Mapped[date] = mapped_column(Date)
    court_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    court_name: Mapped[str] = mapped_column(String(200), default="")
    court_reference: Mapped[str] = mapped_column(String(100), default="")
    result: Mapped[ConfirmationResult] = mapped_column(db_enum(ConfirmationResult, "confirmation_result"),
                                                      default=ConfirmationResult.PENDING)
    result_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    court: Mapped[Department | None] = relationship()


class AgreementReminder(db.Model):
    """A reminder sent (pending signer, judicial-confirmation window, obligation due): sent once per key."""

    __tablename__ = "agreement_reminder"
    __table_args__ = (UniqueConstraint("agreement_id", "key", name="agreement_reminder_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("agreement.id"), index=True)
    key: Mapped[str] = mapped_column(String(100))  # e.g. "sign:party:12:<hash>", "judicial:window", "due:obligation:5"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommitteeSeal(StoredFileColumns, db.Model):
    """The committee's seal image (PNG), uploaded by an admin; placed on the agreement when sealed."""

    __tablename__ = "committee_seal"

    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CommitteeCertificate(db.Model):
    """The committee's signing certificate: a PKCS#12 file configured by an admin, or created self-signed on
    first use (then not publicly trusted, and the admin page says so). The file lives under instance/, its
    passphrase encrypted with the application's secret."""

    __tablename__ = "committee_certificate"

    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), primary_key=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    passphrase_encrypted: Mapped[str] = mapped_column(Text, default="")
    self_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    subject: Mapped[str] = mapped_column(String(300), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), default="")  # sha256 of the certificate (DER)
    not_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    configured_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    configured_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
