"""Joint-conference workspaces (联席会议): members, documents, messages, meetings, minutes, decisions and tasks."""
from __future__ import annotations

from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.accounts.models import Department, User
from portal.enums import LabelledEnum, db_enum, register_labels
from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow




class MemberKind(LabelledEnum):
    MEMBER = "member"  # 成员单位
    GUEST = "guest"  # invited non-member


class MeetingStatus(LabelledEnum):
    POLLING = "polling"  # candidate slots out, members answering
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


class Answer(LabelledEnum):
    YES = "yes"
    IF_NEED_BE = "if_need_be"
    NO = "no"


class AttendanceStatus(LabelledEnum):
    ATTENDED = "attended"
    ABSENT = "absent"


class MinutesStatus(LabelledEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class TaskStatus(LabelledEnum):
    OPEN = "open"
    DONE = "done"


LABELS = register_labels({
    (MemberKind, MemberKind.MEMBER): _l("Member department"), (MemberKind, MemberKind.GUEST): _l("Invited guest"),
    (MeetingStatus, MeetingStatus.POLLING): _l("Finding a date"),
    (MeetingStatus, MeetingStatus.SCHEDULED): _l("Scheduled"),
    (MeetingStatus, MeetingStatus.HELD): _l("Held"), (MeetingStatus, MeetingStatus.CANCELLED): _l("Cancelled"),
    (Answer, Answer.YES): _l("Yes"), (Answer, Answer.IF_NEED_BE): _l("If need be"), (Answer, Answer.NO): _l("No"),
    (AttendanceStatus, AttendanceStatus.ATTENDED): _l("Attended"),
    (AttendanceStatus, AttendanceStatus.ABSENT): _l("Absent"),
    (MinutesStatus, MinutesStatus.DRAFT): _l("Draft"), (MinutesStatus, MinutesStatus.APPROVED): _l("Approved"),
    (TaskStatus, TaskStatus.OPEN): _l("Open"), (TaskStatus, TaskStatus.DONE): _l("Done"),
})


class StoredFileColumns:
    """What portal.uploads.store() returns, kept on a row."""

    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    original_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))


class Conference(db.Model):
    """A workspace for one complex case (or several related ones)."""

    __tablename__ = "conference"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    purpose: Mapped[str] = mapped_column(Text, default="")
    convener_id: Mapped[int] = mapped_column(ForeignKey("user.id"))  # a leader
    office_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))  # the petition bureau
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    convener: Mapped[User] = relationship(foreign_keys=[convener_id])
    office: Mapped[Department] = relationship(foreign_keys=[office_department_id])
    members: Mapped[list[ConferenceMember]] = relationship(back_populates="conference",
                                                           order_by="ConferenceMember.id")
    case_links: Mapped[list[ConferenceCase]] = relationship(back_populates="conference",
                                                            cascade="all, delete-orphan")


class ConferenceCase(db.Model):
    __tablename__ = "conference_case"

    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id", ondelete="CASCADE"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), primary_key=True, index=True)

    conference: Mapped[Conference] = relationship(back_populates="case_links")


class ConferenceMember(db.Model):
    """A department in the workspace; it leaves by setting left_at (history stays)."""

    __tablename__ = "conference_member"
    __table_args__ = (UniqueConstraint("conference_id", "department_id", name="conference_member_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    kind: Mapped[MemberKind] = mapped_column(db_enum(MemberKind, "member_kind"), default=MemberKind.MEMBER)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    conference: Mapped[Conference] = relationship(back_populates="members")
    department: Mapped[Department] = relationship()


class ConferenceDocument(db.Model):
    __tablename__ = "conference_document"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    versions: Mapped[list[DocumentVersion]] = relationship(back_populates="document", order_by="DocumentVersion.number")


class DocumentVersion(StoredFileColumns, db.Model):
    __tablename__ = "document_version"
    __table_args__ = (UniqueConstraint("document_id", "number", name="document_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("conference_document.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    document: Mapped[ConferenceDocument] = relationship(back_populates="versions")
    uploaded_by: Mapped[User | None] = relationship()


class ConferenceMessage(db.Model):
    __tablename__ = "conference_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author: Mapped[User] = relationship()
    department: Mapped[Department | None] = relationship()


class Meeting(db.Model):
    """A meeting of a workspace: candidate slots while polling, then a fixed time (and a Booking)."""

    __tablename__ = "meeting"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[MeetingStatus] = mapped_column(db_enum(MeetingStatus, "meeting_status"),
                                                  default=MeetingStatus.POLLING)
    uid: Mapped[str] = mapped_column(String(100), unique=True)  # iCalendar UID, stable across reschedules
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iCalendar SEQUENCE, raised on every change
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # less notice than the rule asks
    urgent_reason: Mapped[str] = mapped_column(Text, default="")
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("booking.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conference: Mapped[Conference] = relationship()
    slots: Mapped[list[MeetingSlot]] = relationship(back_populates="meeting", order_by="MeetingSlot.starts_at",
                                                    cascade="all, delete-orphan")
    agenda: Mapped[list[AgendaItem]] = relationship(back_populates="meeting", order_by="AgendaItem.position",
                                                    cascade="all, delete-orphan")
    attendance: Mapped[list[Attendance]] = relationship(back_populates="meeting", cascade="all, delete-orphan")


class MeetingSlot(db.Model):
    __tablename__ = "meeting_slot"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    room: Mapped[str] = mapped_column(String(100), default="")
    online_link: Mapped[str] = mapped_column(String(500), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="slots")
    answers: Mapped[list[SlotAnswer]] = relationship(back_populates="slot", cascade="all, delete-orphan")


class SlotAnswer(db.Model):
    """A member department's answer for one candidate slot."""

    __tablename__ = "slot_answer"
    __table_args__ = (UniqueConstraint("slot_id", "department_id", name="slot_answer_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("meeting_slot.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    answer: Mapped[Answer] = mapped_column(db_enum(Answer, "slot_answer_value"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    slot: Mapped[MeetingSlot] = relationship(back_populates="answers")


class AgendaItem(db.Model):
    __tablename__ = "agenda_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(300))
    notes: Mapped[str] = mapped_column(Text, default="")
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("conference_document.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))  # an open task carried from an earlier meeting

    meeting: Mapped[Meeting] = relationship(back_populates="agenda")


class Attendance(db.Model):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "department_id", name="attendance_once"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    status: Mapped[AttendanceStatus] = mapped_column(db_enum(AttendanceStatus, "attendance_status"))
    guest: Mapped[bool] = mapped_column(Boolean, default=False)  # invited as a non-member
    representative: Mapped[str] = mapped_column(String(200), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="attendance")
    department: Mapped[Department] = relationship()


class Minutes(db.Model):
    """会议纪要: drafted by the office, commented on by members, approved (and locked) by the convener."""

    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id"), unique=True)
    status: Mapped[MinutesStatus] = mapped_column(db_enum(MinutesStatus, "minutes_status"),
                                                  default=MinutesStatus.DRAFT)
    body: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)  # raised on every saved draft
    content_hash: Mapped[str] = mapped_column(String(64), default="")  # sha256 of the approved text
    drafted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    meeting: Mapped[Meeting] = relationship()
    decisions: Mapped[list[Decision]] = relationship(back_populates="minutes", order_by="Decision.position",
                                                     cascade="all, delete-orphan")
    comments: Mapped[list[MinutesComment]] = relationship(back_populates="minutes", order_by="MinutesComment.id")
    addenda: Mapped[list[MinutesAddendum]] = relationship(back_populates="minutes", order_by="MinutesAddendum.id")


class MinutesComment(db.Model):
    """A member department's comment on a draft, or a proposed amendment (with its proposed text)."""

    __tablename__ = "minutes_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id"), index=True)
    revision: Mapped[int] = mapped_column(Integer)  # the draft revision it refers to
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    text: Mapped[str] = mapped_column(Text)
    proposed_text: Mapped[str] = mapped_column(Text, default="")  # non-empty for an amendment
    resolution: Mapped[str] = mapped_column(String(16), default="")  # "" | accepted | declined
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    minutes: Mapped[Minutes] = relationship(back_populates="comments")
    department: Mapped[Department | None] = relationship()
    author: Mapped[User] = relationship()


class MinutesAddendum(db.Model):
    """A correction to approved minutes: appended, never an edit."""

    __tablename__ = "minutes_addendum"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    minutes: Mapped[Minutes] = relationship(back_populates="addenda")


class Decision(db.Model):
    """议定事项: an agreed item of the minutes; it may create tasks."""

    __tablename__ = "decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)

    minutes: Mapped[Minutes] = relationship(back_populates="decisions")
    tasks: Mapped[list[Task]] = relationship(back_populates="decision", order_by="Task.id")


class Task(db.Model):
    """A task from a decision: responsible department, owner, due date, expected result; supervised by the office."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("conference.id"), index=True)
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decision.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    title: Mapped[str] = mapped_column(String(300))
    expected_result: Mapped[str] = mapped_column(Text, default="")
    due_on: Mapped[date] = mapped_column(Date, index=True)
    status: Mapped[TaskStatus] = mapped_column(db_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN, index=True)
    done_on: Mapped[date | None] = mapped_column(Date)
    reminded_on: Mapped[date | None] = mapped_column(Date)  # last reminder before the due date
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    conference: Mapped[Conference] = relationship()
    decision: Mapped[Decision | None] = relationship(back_populates="tasks")
    department: Mapped[Department] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    reports: Mapped[list[TaskReport]] = relationship(back_populates="task", order_by="TaskReport.id")
    supervisions: Mapped[list[TaskSupervision]] = relationship(back_populates="task", order_by="TaskSupervision.id")


class TaskReport(db.Model):
    """Progress reported by the responsible department, with files (TaskReportFile)."""

    __tablename__ = "task_report"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    task: Mapped[Task] = relationship(back_populates="reports")
    author: Mapped[User] = relationship()
    files: Mapped[list[TaskReportFile]] = relationship(back_populates="report")


class TaskReportFile(StoredFileColumns, db.Model):
    __tablename__ = "task_report_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("task_report.id"), index=True)

    report: Mapped[TaskReport] = relationship(back_populates="files")


class TaskSupervision(db.Model):
    """督办 on a task: the department answers with a written reason for the delay and a progress report."""

    __tablename__ = "task_supervision"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    method: Mapped[str] = mapped_column(String(16), default="notice")  # notice | interview | on_site
    notice: Mapped[str] = mapped_column(Text)
    respond_by: Mapped[date] = mapped_column(Date)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[str] = mapped_column(Text, default="")
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    task: Mapped[Task] = relationship(back_populates="supervisions")
