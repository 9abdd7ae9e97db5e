from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import lazy_gettext as _l
from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import db_enum
from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow



class Role(str, enum.Enum):
    ADMIN = "admin"
    STAFF = "staff"  # petition bureau staff: intake and triage
    MEDIATOR = "mediator"
    DEPARTMENT_REP = "department_rep"
    LEADER = "leader"
    PETITIONER = "petitioner"

    @property
    def label(self):
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.STAFF: _l("Bureau staff"),
    Role.MEDIATOR: _l("Mediator"),
    Role.DEPARTMENT_REP: _l("Department representative"),
    Role.LEADER: _l("Leader"),
    Role.PETITIONER: _l("Petitioner"),
}


class DepartmentKind(str, enum.Enum):
    PETITION_BUREAU = "petition_bureau"
    GOVERNMENT_DEPARTMENT = "government_department"
    COURT = "court"
    PROCURATORATE = "procuratorate"
    MEDIATION_COMMITTEE = "mediation_committee"
    STREET_OFFICE = "street_office"

    @property
    def label(self):
        return KIND_LABELS[self]


KIND_LABELS = {
    DepartmentKind.PETITION_BUREAU: _l("Petition bureau"),
    DepartmentKind.GOVERNMENT_DEPARTMENT: _l("Government department"),
    DepartmentKind.COURT: _l("Court"),
    DepartmentKind.PROCURATORATE: _l("Procuratorate"),
    DepartmentKind.MEDIATION_COMMITTEE: _l("People's mediation committee"),
    DepartmentKind.STREET_OFFICE: _l("Street / township office"),
}


class Department(db.Model):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[DepartmentKind] = mapped_column(db_enum(DepartmentKind, "department_kind"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    def __str__(self) -> str:
        return self.name


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (
        CheckConstraint("email IS NOT NULL OR phone IS NOT NULL", name="has_login"),
        CheckConstraint("role != 'department_rep' OR department_id IS NOT NULL", name="rep_has_department"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(db_enum(Role, "user_role"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    # A self-registered petitioner confirms their email or phone by a one-time code before submitting.
    contact_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    failed_window_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Changing the password or deactivating the account ends sessions and remember-me cookies.
    session_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    department: Mapped[Department | None] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"

    @property
    def login(self) -> str:
        return self.email or self.phone or ""

    @property
    def audit_label(self) -> str:
        return f"{self.display_name} <{self.login}>"

    @property
    def contact_confirmed(self) -> bool:
        return self.contact_confirmed_at is not None

    def __str__(self) -> str:
        return self.display_name


class Invitation(db.Model):
    """A one-time link that lets a department representative create their account."""

    __tablename__ = "invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    display_name: Mapped[str] = mapped_column(String(100), default="")
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[Role] = mapped_column(db_enum(Role, "invitation_role"), default=Role.DEPARTMENT_REP)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(lazy="joined")
    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id], lazy="joined")

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= utcnow():
            return "expired"
        return "pending"


class OneTimeCode(db.Model):
    """A short numeric code sent to a user's email or phone (confirmation, later signing)."""

    __tablename__ = "one_time_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(254))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SystemSetting(db.Model):
    """Small key/value facts about this installation (e.g. that demo data was loaded)."""

    __tablename__ = "system_setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
