"""Mediation (访调对接 / 诉调对接): the matter referred to a people's mediation committee, its parties and mediators,
the sessions and the proceedings record (调解笔录) kept during each. Names follow the glossary in DOMAIN.md."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import Department, User
from portal.cases.models import Case, Petitioner
from portal.conferences.models import StoredFileColumns
from portal.enums import LabelledEnum, db_enum, register_labels
from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow


class MediationSource(LabelledEnum):
    PETITION = "petition"  # 访调对接: from triage of a petition
    COURT = "court"  # 诉调对接: entrusted by a court


class MediationStatus(LabelledEnum):
    OPEN = "open"
    AGREEMENT = "agreement"  # written agreement to be drafted (调解协议书)
    ORAL_AGREEMENT = "oral_agreement"  # People's Mediation Law art. 28: recorded by the mediator
    NO_AGREEMENT = "no_agreement"
    WITHDRAWN = "withdrawn"  # a party withdrew consent


class PartySide(LabelledEnum):
    APPLICANT = "applicant"  # the petitioners' side
    RESPONDENT = "respondent"  # departments or other persons on the other side


class AfterMediation(LabelledEnum):
    """Where the case goes when mediation ends without agreement."""

    HANDLING = "handling"  # back to the petition bureau's triage, to be referred for handling
    LEGAL_ROUTE = "legal_route"


class SessionStatus(LabelledEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class RecordStatus(LabelledEnum):
    OPEN = "open"  # entries being added live
    READ_BACK = "read_back"  # read back to the parties, confirmations being collected; no new entries
    LOCKED = "locked"  # content hash in the audit trail; corrections only as errata


class EntryKind(LabelledEnum):
    STATEMENT = "statement"  # what a party said
    PROPOSAL = "proposal"  # a proposal by a party or the mediator
    NOTE = "note"  # the mediator's note, part of the record
    CAUCUS = "caucus"  # 背对背: private, mediators only, never to parties or their copies


class ConfirmationAnswer(LabelledEnum):
    CONFIRMED = "confirmed"
    DECLINED = "declined"  # refused to confirm; the reason is recorded


class ConfirmationHow(LabelledEnum):
    IN_SESSION = "in_session"  # read back aloud, recorded by the mediator
    ONLINE = "online"  # the party confirmed from their own account


LABELS = register_labels({
    (MediationSource, MediationSource.PETITION): _l("Petition (访调对接)"),
    (MediationSource, MediationSource.COURT): _l("Court (诉调对接)"),
    (MediationStatus, MediationStatus.OPEN): _l("In mediation"),
    (MediationStatus, MediationStatus.AGREEMENT): _l("Agreement reached"),
    (MediationStatus, MediationStatus.ORAL_AGREEMENT): _l("Oral agreement"),
    (MediationStatus, MediationStatus.NO_AGREEMENT): _l("No agreement"),
    (MediationStatus, MediationStatus.WITHDRAWN): _l("Consent withdrawn"),
    (PartySide, PartySide.APPLICANT): _l("Applicant side"), (PartySide, PartySide.RESPONDENT): _l("Other side"),
    (AfterMediation, AfterMediation.HANDLING): _l("Back to handling"),
    (AfterMediation, AfterMediation.LEGAL_ROUTE): _l("Legal channel"),
    (SessionStatus, SessionStatus.SCHEDULED): _l("Scheduled"), (SessionStatus, SessionStatus.HELD): _l("Held"),
    (SessionStatus, SessionStatus.CANCELLED): _l("Cancelled"),
    (RecordStatus, RecordStatus.OPEN): _l("Being recorded"), (RecordStatus, RecordStatus.READ_BACK): _l("Read back"),
    (RecordStatus, RecordStatus.LOCKED): _l("Locked"),
    (EntryKind, EntryKind.STATEMENT): _l("Statement"), (EntryKind, EntryKind.PROPOSAL): _l("Proposal"),
    (EntryKind, EntryKind.NOTE): _l("Mediator's remark (in the record)"), (EntryKind, EntryKind.CAUCUS): _l("Private caucus note"),
    (ConfirmationAnswer, ConfirmationAnswer.CONFIRMED): _l("Confirmed"),
    (ConfirmationAnswer, ConfirmationAnswer.DECLINED): _l("Declined to confirm"),
    (ConfirmationHow, ConfirmationHow.IN_SESSION): _l("Answered when read back in the session"),
    (ConfirmationHow, ConfirmationHow.ONLINE): _l("Answered online"),
})


class MediationReferral(db.Model):
    """A mediation matter: a case referred to a people's mediation committee. It proceeds only while every
    party's consent stands; a withdrawal ends it."""

    __tablename__ = "mediation_referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    source: Mapped[MediationSource] = mapped_column(db_enum(MediationSource, "mediation_source"),
                                                    default=MediationSource.PETITION)
    court_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))  # 诉调对接: the entrusting court
    court_reference: Mapped[str] = mapped_column(String(100), default="")  # the court's file number
    committee_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    room: Mapped[str] = mapped_column(String(100), default="")  # the mediation room usually used
    status: Mapped[MediationStatus] = mapped_column(db_enum(MediationStatus, "mediation_status"),
                                                    default=MediationStatus.OPEN, index=True)
    # Oral agreement text (art. 28), the reason for no agreement, or the withdrawal reason.
    outcome_text: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[AfterMediation | None] = mapped_column(db_enum(AfterMediation, "after_mediation"))
    referred_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    case: Mapped[Case] = relationship()
    committee: Mapped[Department] = relationship(foreign_keys=[committee_id])
    court: Mapped[Department | None] = relationship(foreign_keys=[court_id])
    parties: Mapped[list[MediationParty]] = relationship(back_populates="referral", order_by="MediationParty.id",
                                                         cascade="all, delete-orphan")
    mediators: Mapped[list[MediationMediator]] = relationship(back_populates="referral",
                                                              order_by="MediationMediator.added_at",
                                                              cascade="all, delete-orphan")
    sessions: Mapped[list[MediationSession]] = relationship(back_populates="referral",
                                                            order_by="MediationSession.number")


class MediationMediator(db.Model):
    """A mediator assigned to the matter."""

    __tablename__ = "mediation_mediator"

    referral_id: Mapped[int] = mapped_column(ForeignKey("mediation_referral.id", ondelete="CASCADE"),
                                             primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    referral: Mapped[MediationReferral] = relationship(back_populates="mediators")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class MediationParty(db.Model):
    """A party: a petitioner of the case, a department, or another person; with the recorded consent."""

    __tablename__ = "mediation_party"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("mediation_referral.id", ondelete="CASCADE"), index=True)
    side: Mapped[PartySide] = mapped_column(db_enum(PartySide, "party_side"))
    petitioner_id: Mapped[int | None] = mapped_column(ForeignKey("petitioner.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))  # as shown in the record; the department's or petitioner's name
    phone: Mapped[str] = mapped_column(String(20), default="")  # another person's contact
    consent_on: Mapped[date] = mapped_column(Date)
    consent_how: Mapped[str] = mapped_column(String(200))
    withdrawn_on: Mapped[date | None] = mapped_column(Date)
    withdrawal_reason: Mapped[str] = mapped_column(Text, default="")
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[MediationReferral] = relationship(back_populates="parties")
    petitioner: Mapped[Petitioner | None] = relationship()
    department: Mapped[Department | None] = relationship()


class MediationSession(db.Model):
    """A session of the matter: a fixed time (and a Booking), attendance and one proceedings record."""

    __tablename__ = "mediation_session"
    __table_args__ = (UniqueConstraint("referral_id", "number", name="mediation_session_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("mediation_referral.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, ... within the matter
    status: Mapped[SessionStatus] = mapped_column(db_enum(SessionStatus, "session_status"),
                                                  default=SessionStatus.SCHEDULED)
    uid: Mapped[str] = mapped_column(String(100), unique=True)  # iCalendar UID, stable across reschedules
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE, raised on every change
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral: Mapped[MediationReferral] = relationship(back_populates="sessions")
    attendance: Mapped[list[SessionAttendance]] = relationship(back_populates="session",
                                                               cascade="all, delete-orphan")
    record: Mapped[ProceedingRecord | None] = relationship(back_populates="session", uselist=False)


class SessionAttendance(db.Model):
    __tablename__ = "session_attendance"

    session_id: Mapped[int] = mapped_column(ForeignKey("mediation_session.id", ondelete="CASCADE"),
                                            primary_key=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("mediation_party.id"), primary_key=True)
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    attendee_name: Mapped[str] = mapped_column(String(200), default="")  # who came for a department, an agent

    session: Mapped[MediationSession] = relationship(back_populates="attendance")
    party: Mapped[MediationParty] = relationship()


class ProceedingRecord(db.Model):
    """The proceedings record (调解笔录) of one session. Locking puts the sha256 of its canonical text on the
    row and in the audit trail; afterwards only errata are appended."""

    __tablename__ = "proceeding_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("mediation_session.id"), unique=True)
    status: Mapped[RecordStatus] = mapped_column(db_enum(RecordStatus, "record_status"), default=RecordStatus.OPEN)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_back_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    session: Mapped[MediationSession] = relationship(back_populates="record")
    entries: Mapped[list[ProceedingEntry]] = relationship(back_populates="record",
                                                          order_by="ProceedingEntry.position")
    confirmations: Mapped[list[ProceedingConfirmation]] = relationship(back_populates="record",
                                                                       order_by="ProceedingConfirmation.id")
    errata: Mapped[list[ProceedingErratum]] = relationship(back_populates="record",
                                                           order_by="ProceedingErratum.number")


class ProceedingEntry(db.Model):
    """One time-stamped entry of the record; `party_id` is the speaker (none: the mediator)."""

    __tablename__ = "proceeding_entry"
    __table_args__ = (UniqueConstraint("record_id", "position", name="proceeding_entry_position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("proceeding_record.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[EntryKind] = mapped_column(db_enum(EntryKind, "entry_kind"))
    party_id: Mapped[int | None] = mapped_column(ForeignKey("mediation_party.id"))
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    record: Mapped[ProceedingRecord] = relationship(back_populates="entries")
    party: Mapped[MediationParty | None] = relationship()
    author: Mapped[User | None] = relationship()
    evidence: Mapped[list[ProceedingEvidence]] = relationship(back_populates="entry",
                                                              order_by="ProceedingEvidence.id")

    @property
    def private(self) -> bool:
        return self.kind == EntryKind.CAUCUS


class ProceedingEvidence(StoredFileColumns, db.Model):
    """A file attached to an entry (evidence shown in the session). Private when its entry is a caucus note."""

    __tablename__ = "proceeding_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("proceeding_entry.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[ProceedingEntry] = relationship(back_populates="evidence")


class ProceedingConfirmation(db.Model):
    """A party's answer to the read-back record: confirmed, or declined with a reason."""

    __tablename__ = "proceeding_confirmation"
    __table_args__ = (UniqueConstraint("record_id", "party_id", name="proceeding_confirmation_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("proceeding_record.id"), index=True)
    party_id: Mapped[int] = mapped_column(ForeignKey("mediation_party.id"))
    answer: Mapped[ConfirmationAnswer] = mapped_column(db_enum(ConfirmationAnswer, "confirmation_answer"))
    how: Mapped[ConfirmationHow] = mapped_column(db_enum(ConfirmationHow, "confirmation_how"))
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    record: Mapped[ProceedingRecord] = relationship(back_populates="confirmations")
    party: Mapped[MediationParty] = relationship()
    recorded_by: Mapped[User | None] = relationship()


class ProceedingErratum(db.Model):
    """A correction appended to a locked record; the record's own text never changes."""

    __tablename__ = "proceeding_erratum"
    __table_args__ = (UniqueConstraint("record_id", "number", name="proceeding_erratum_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("proceeding_record.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("proceeding_entry.id"))  # the entry it corrects
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    record: Mapped[ProceedingRecord] = relationship(back_populates="errata")
    author: Mapped[User | None] = relationship()


__all__ = ["AfterMediation", "ConfirmationAnswer", "ConfirmationHow", "EntryKind", "MediationMediator",
           "MediationParty", "MediationReferral", "MediationSession", "MediationSource", "MediationStatus",
           "PartySide", "ProceedingConfirmation", "ProceedingEntry", "ProceedingErratum", "ProceedingEvidence",
           "ProceedingRecord", "RecordStatus", "SessionAttendance", "SessionStatus"]
