from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow


class Booking(db.Model):
    """A fixed time a meeting of any kind holds: participants and a room, checked for overlaps."""

    __tablename__ = "booking"
    __table_args__ = (Index("ix_booking_span", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # conference_meeting | mediation_session | reception
    ref_id: Mapped[int] = mapped_column(Integer)  # the meeting's id in its own table
    title: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    room: Mapped[str] = mapped_column(String(100), default="", index=True)  # "" for online or unspecified

    participants: Mapped[list[BookingParticipant]] = relationship(back_populates="booking",
                                                                  cascade="all, delete-orphan")


class BookingParticipant(db.Model):
    """A person (user_id) or a whole department (department_id) taking part in a booking."""

    __tablename__ = "booking_participant"

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("booking.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)

    booking: Mapped[Booking] = relationship(back_populates="participants")


class CalendarFeed(db.Model):
    """A user's private calendar-feed address (secret token, stored hashed); revoking deletes the row."""

    __tablename__ = "calendar_feed"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
