"""The petition case record (信访事项) and everything that hangs on it. Names follow the glossary in DOMAIN.md."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import Department, User
from portal.enums import LabelledEnum, db_enum, register_labels
from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow




class Channel(LabelledEnum):
    ONLINE = "online"
    LETTER = "letter"
    VISIT = "visit"
    PHONE = "phone"
    FAX = "fax"


class MatterType(LabelledEnum):
    SUGGESTION = "suggestion"  # 建议意见类 (2022 Regulations art. 29)
    REPORT = "report"  # 检举控告类 (art. 30)
    APPEAL = "appeal"  # 申诉求决类 (art. 31)


class CaseStatus(LabelledEnum):
    REGISTERED = "registered"  # waiting for triage
    REJECTED = "rejected"  # not accepted
    REFERRED = "referred"  # sent to a lead department, acceptance pending
    IN_PROGRESS = "in_progress"  # accepted, being handled
    LEGAL_ROUTE = "legal_route"  # routed to litigation, arbitration or administrative review
    MEDIATION = "mediation"  # referred to mediation
    ANSWERED = "answered"  # handling opinion issued
    REVIEW = "review"  # review (复查) or re-review (复核) under way
    CONCLUDED = "concluded"


OPEN_STATUSES = (CaseStatus.REGISTERED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS, CaseStatus.MEDIATION,
                 CaseStatus.ANSWERED, CaseStatus.REVIEW)


class LegalRoute(LabelledEnum):
    LITIGATION = "litigation"
    ARBITRATION = "arbitration"
    ADMINISTRATIVE_REVIEW = "administrative_review"


class ReferralKind(LabelledEnum):
    TRANSFER = "transfer"  # 转送
    ASSIGN = "assign"  # 交办


class ReferralRole(LabelledEnum):
    LEAD = "lead"  # 主办单位
    CO = "co"  # 协办单位


class ReferralStatus(LabelledEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    OBJECTED = "objected"
    CLOSED = "closed"


class OpinionOutcome(LabelledEnum):
    SUPPORT = "support"
    EXPLAIN = "explain"
    NO_SUPPORT = "no_support"


class RatingValue(LabelledEnum):
    SATISFIED = "satisfied"
    BASIC = "basically_satisfied"
    DISSATISFIED = "dissatisfied"


class ClockKind(LabelledEnum):
    ROUTING = "routing"  # register, then transfer/assign
    ACCEPTANCE = "acceptance"  # department tells the petitioner it accepted
    OBJECTION = "objection"  # department may return a matter outside its competence
    HANDLING = "handling"  # acceptance to handling opinion
    REVIEW_REQUEST = "review_request"  # petitioner may ask for review
    REVIEW = "review"  # review opinion
    REREVIEW_REQUEST = "rereview_request"
    REREVIEW = "rereview"


class RequestStatus(LabelledEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


# Keyed by (enum class, member): members of different enums share values ("pending") and compare equal.
LABELS = register_labels({
    (Channel, Channel.ONLINE): _l("Online"), (Channel, Channel.LETTER): _l("Letter"), (Channel, Channel.VISIT): _l("Visit"),
    (Channel, Channel.PHONE): _l("Phone"), (Channel, Channel.FAX): _l("Fax"),
    (MatterType, MatterType.SUGGESTION): _l("Suggestion"), (MatterType, MatterType.REPORT): _l("Report / accusation"),
    (MatterType, MatterType.APPEAL): _l("Appeal / demand"),
    (CaseStatus, CaseStatus.REGISTERED): _l("Registered"), (CaseStatus, CaseStatus.REJECTED): _l("Not accepted"),
    (CaseStatus, CaseStatus.REFERRED): _l("Referred"), (CaseStatus, CaseStatus.IN_PROGRESS): _l("In handling"),
    (CaseStatus, CaseStatus.LEGAL_ROUTE): _l("Routed to legal channel"), (CaseStatus, CaseStatus.MEDIATION): _l("In mediation"),
    (CaseStatus, CaseStatus.ANSWERED): _l("Answered"), (CaseStatus, CaseStatus.REVIEW): _l("Under review"),
    (CaseStatus, CaseStatus.CONCLUDED): _l("Concluded"),
    (LegalRoute, LegalRoute.LITIGATION): _l("Litigation"), (LegalRoute, LegalRoute.ARBITRATION): _l("Arbitration"),
    (LegalRoute, LegalRoute.ADMINISTRATIVE_REVIEW): _l("Administrative review"),
    (ReferralKind, ReferralKind.TRANSFER): _l("Transfer"), (ReferralKind, ReferralKind.ASSIGN): _l("Assign"),
    (ReferralRole, ReferralRole.LEAD): _l("Lead department"), (ReferralRole, ReferralRole.CO): _l("Co-handling department"),
    (ReferralStatus, ReferralStatus.PENDING): _l("Awaiting acceptance"), (ReferralStatus, ReferralStatus.ACCEPTED): _l("Accepted"),
    (ReferralStatus, ReferralStatus.OBJECTED): _l("Objected"), (ReferralStatus, ReferralStatus.CLOSED): _l("Closed"),
    (OpinionOutcome, OpinionOutcome.SUPPORT): _l("Support"), (OpinionOutcome, OpinionOutcome.EXPLAIN): _l("Explanation"),
    (OpinionOutcome, OpinionOutcome.NO_SUPPORT): _l("No support"),
    (RatingValue, RatingValue.SATISFIED): _l("Satisfied"), (RatingValue, RatingValue.BASIC): _l("Basically satisfied"),
    (RatingValue, RatingValue.DISSATISFIED): _l("Dissatisfied"),
    (ClockKind, ClockKind.ROUTING): _l("Routing"), (ClockKind, ClockKind.ACCEPTANCE): _l("Acceptance notice"),
    (ClockKind, ClockKind.OBJECTION): _l("Objection window"), (ClockKind, ClockKind.HANDLING): _l("Handling"),
    (ClockKind, ClockKind.REVIEW_REQUEST): _l("Review request window"), (ClockKind, ClockKind.REVIEW): _l("Review"),
    (ClockKind, ClockKind.REREVIEW_REQUEST): _l("Re-review request window"), (ClockKind, ClockKind.REREVIEW): _l("Re-review"),
    (RequestStatus, RequestStatus.PENDING): _l("Pending"), (RequestStatus, RequestStatus.APPROVED): _l("Approved"),
    (RequestStatus, RequestStatus.REFUSED): _l("Refused"),
})


class Category(db.Model):
    """Admin-managed subject categories (e.g. wages, housing demolition, land)."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ReferenceCounter(db.Model):
    """The last number given per reference prefix and year; incremented under a row lock."""

    __tablename__ = "reference_counter"

    scope: Mapped[str] = mapped_column(String(20), primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Case(db.Model):
    __tablename__ = "case"
    __table_args__ = (Index("ix_case_status_next_due", "status", "next_due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(24), unique=True)
    query_code: Mapped[str] = mapped_column(String(12))
    channel: Mapped[Channel] = mapped_column(db_enum(Channel, "case_channel"))
    matter_type: Mapped[MatterType] = mapped_column(db_enum(MatterType, "case_matter_type"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("category.id"))
    subject: Mapped[str] = mapped_column(String(200))
    facts: Mapped[str] = mapped_column(Text)
    request: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(200), default="")
    received_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[CaseStatus] = mapped_column(db_enum(CaseStatus, "case_status"), default=CaseStatus.REGISTERED,
                                               index=True)
    # Denormalised for lists: the lead department and the nearest open statutory deadline.
    lead_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    next_due_on: Mapped[date | None] = mapped_column(Date, index=True)
    group_visit: Mapped[bool] = mapped_column(Boolean, default=False)
    complex: Mapped[bool] = mapped_column(Boolean, default=False)
    complex_reason: Mapped[str] = mapped_column(Text, default="")
    rejection_reason: Mapped[str] = mapped_column(Text, default="")
    rejection_route: Mapped[str] = mapped_column(Text, default="")  # where the petitioner may turn instead
    legal_route: Mapped[LegalRoute | None] = mapped_column(db_enum(LegalRoute, "case_legal_route"))
    legal_route_notice: Mapped[str] = mapped_column(Text, default="")
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    duplicate_override_reason: Mapped[str] = mapped_column(Text, default="")
    # Set when the petition repeats the facts of a case concluded after re-review (not accepted again).
    repeats_concluded_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    category: Mapped[Category | None] = relationship()
    lead_department: Mapped[Department | None] = relationship(foreign_keys=[lead_department_id])
    petitioners: Mapped[list[Petitioner]] = relationship(back_populates="case", order_by="Petitioner.position",
                                                         cascade="all, delete-orphan")
    referrals: Mapped[list[Referral]] = relationship(back_populates="case", order_by="Referral.id")
    clocks: Mapped[list[Clock]] = relationship(back_populates="case", order_by="Clock.id")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")
    attachments: Mapped[list[Attachment]] = relationship(back_populates="case", order_by="Attachment.id")
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id], foreign_keys=[duplicate_of_id])
    repeats_concluded: Mapped[Case | None] = relationship(remote_side=[id], foreign_keys=[repeats_concluded_id])
    registered_by: Mapped[User | None] = relationship(foreign_keys=[registered_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])

    def __str__(self) -> str:
        return self.reference


class Petitioner(db.Model):
    """A person on a case; may or may not have an account (user_id)."""

    __tablename__ = "petitioner"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(18), default="", index=True)
    phone: Mapped[str] = mapped_column(String(20), default="", index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    is_representative: Mapped[bool] = mapped_column(Boolean, default=False)  # of a group visit
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)

    case: Mapped[Case] = relationship(back_populates="petitioners")


class Attachment(db.Model):
    """An uploaded file: stored outside static/ under a random name, served only after the access check."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    internal: Mapped[bool] = mapped_column(Boolean, default=False)  # never shown to the petitioner
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship(back_populates="attachments")


class Referral(db.Model):
    """A transfer or assignment (转送/交办) of a case to a department, as lead or co-handling department."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[ReferralKind] = mapped_column(db_enum(ReferralKind, "referral_kind"))
    role: Mapped[ReferralRole] = mapped_column(db_enum(ReferralRole, "referral_role"))
    status: Mapped[ReferralStatus] = mapped_column(db_enum(ReferralStatus, "referral_status"),
                                                   default=ReferralStatus.PENDING, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    sent_on: Mapped[date] = mapped_column(Date)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    accepted_on: Mapped[date | None] = mapped_column(Date)
    objected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    objection_reason: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    case: Mapped[Case] = relationship(back_populates="referrals")
    department: Mapped[Department] = relationship()
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Clock(db.Model):
    """A statutory time limit running on a case. due_on = base due + extension + paused days."""

    __tablename__ = "clock"
    __table_args__ = (Index("ix_clock_open_due", "stopped_on", "due_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    kind: Mapped[ClockKind] = mapped_column(db_enum(ClockKind, "clock_kind"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral.id"))
    started_on: Mapped[date] = mapped_column(Date)
    base_due_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    paused_days: Mapped[int] = mapped_column(Integer, default=0)
    paused_since: Mapped[date | None] = mapped_column(Date)
    stopped_on: Mapped[date | None] = mapped_column(Date)

    case: Mapped[Case] = relationship(back_populates="clocks")
    pauses: Mapped[list[ClockPause]] = relationship(back_populates="clock", order_by="ClockPause.id")


class ClockPause(db.Model):
    __tablename__ = "clock_pause"

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("clock.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    paused_on: Mapped[date] = mapped_column(Date)
    resumed_on: Mapped[date | None] = mapped_column(Date)
    paused_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resumed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    clock: Mapped[Clock] = relationship(back_populates="pauses")
    paused_by: Mapped[User | None] = relationship(foreign_keys=[paused_by_id])


class CaseEvent(db.Model):
    """One entry of the case timeline. `internal` entries are never shown to the petitioner."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text, default="")  # free text written by a person (note, progress)
    data: Mapped[str] = mapped_column(Text, default="{}")  # JSON parameters for the kind's sentence
    internal: Mapped[bool] = mapped_column(Boolean, default=False)

    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()


class Extension(db.Model):
    """A request to extend handling by at most 30 days, decided by a leader; the reason is told to the petitioner."""

    __tablename__ = "extension"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    days: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[RequestStatus] = mapped_column(db_enum(RequestStatus, "extension_status"),
                                                  default=RequestStatus.PENDING)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str] = mapped_column(Text, default="")

    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Opinion(db.Model):
    """The handling opinion (level 0), review opinion (1, 复查) or re-review opinion (2, 复核)."""

    __tablename__ = "opinion"
    __table_args__ = (UniqueConstraint("case_id", "level", name="opinion_one_per_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    level: Mapped[int] = mapped_column(Integer, default=0)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    outcome: Mapped[OpinionOutcome] = mapped_column(db_enum(OpinionOutcome, "opinion_outcome"))
    facts: Mapped[str] = mapped_column(Text)
    reasons: Mapped[str] = mapped_column(Text)
    issued_on: Mapped[date] = mapped_column(Date)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship()
    issued_by: Mapped[User | None] = relationship()


class Review(db.Model):
    """A petitioner's request for review (level 1, 复查) or re-review (level 2, 复核)."""

    __tablename__ = "review"
    __table_args__ = (UniqueConstraint("case_id", "level", name="review_one_per_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    level: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    requested_on: Mapped[date] = mapped_column(Date)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewing_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))

    reviewing_department: Mapped[Department | None] = relationship()


class Rating(db.Model):
    """The petitioner's satisfaction with the first handling department's opinion."""

    __tablename__ = "rating"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    value: Mapped[RatingValue] = mapped_column(db_enum(RatingValue, "rating_value"))
    comment: Mapped[str] = mapped_column(Text, default="")
    rated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship()


class Supervision(db.Model):
    """A supervision notice (督办) on an overdue case; the department must answer in writing."""

    __tablename__ = "supervision"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    notice: Mapped[str] = mapped_column(Text)
    respond_by: Mapped[date] = mapped_column(Date)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    response: Mapped[str] = mapped_column(Text, default="")
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship()
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])

