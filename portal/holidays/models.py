from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.timeutil import UTCDateTime, utcnow


class HolidayYear(db.Model):
    """A year whose State Council announcement an admin has entered; it overrides the package's table."""

    __tablename__ = "holiday_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(Text, default="")  # e.g. the announcement's title and number
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    days: Mapped[list[HolidayDay]] = relationship(back_populates="holiday_year", order_by="HolidayDay.day",
                                                  cascade="all, delete-orphan")


class HolidayDay(db.Model):
    """One day of an entered year that differs from Monday–Friday: a day off or an adjusted working day."""

    __tablename__ = "holiday_day"

    OFF = "off"
    WORK = "work"

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("holiday_year.year", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # off | work
    name: Mapped[str] = mapped_column(String(100), default="")

    holiday_year: Mapped[HolidayYear] = relationship(back_populates="days")
