"""Counting days for statutory clocks.

Which table decides whether a day is a working day, in order:
1. the admin-kept table (HolidayYear/HolidayDay), entered from each year's State Council announcement;
2. the chinese-calendar package (it knows 2004–2026 only);
3. otherwise Monday–Friday, and the result is marked provisional.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlalchemy import select

from portal.audit.services import record
from portal.extensions import db
from portal.transactions import Refusal

from .models import HolidayDay, HolidayYear

PACKAGE_YEARS = range(
    min(d.year for d in chinese_calendar.holidays), max(d.year for d in chinese_calendar.holidays) + 1
)


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool  # some day on the way fell in a year no table knows yet


class WorkCalendar:
    """Answers working-day questions, reading the admin table once per year it needs."""

    def __init__(self):
        self._admin: dict[int, dict[date, str] | None] = {}

    def _admin_year(self, year: int) -> dict[date, str] | None:
        if year not in self._admin:
            entered = db.session.get(HolidayYear, year)
            if entered is None:
                self._admin[year] = None
            else:
                rows = db.session.execute(select(HolidayDay.day, HolidayDay.kind).where(HolidayDay.year == year))
                self._admin[year] = {day: kind for day, kind in rows}
        return self._admin[year]

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(working, provisional)."""
        table = self._admin_year(day.year)
        if table is not None:
            kind = table.get(day)
            if kind is not None:
                return kind == HolidayDay.WORK, False
            return day.weekday() < 5, False
        if day.year in PACKAGE_YEARS:
            return chinese_calendar.is_workday(day), False
        return day.weekday() < 5, True

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The `days`-th working day after `start` (the start day itself is not counted)."""
        current, counted, provisional = start, 0, False
        while counted < days:
            current += timedelta(days=1)
            working, unsure = self.is_working_day(current)
            provisional |= unsure
            counted += working
        return Deadline(current, provisional)

    def add_calendar_days(self, start: date, days: int, roll_to_working_day: bool = True) -> Deadline:
        """`days` calendar days after `start`; a limit ending on a day off moves to the next working day."""
        due = start + timedelta(days=days)
        working, provisional = self.is_working_day(due)
        if roll_to_working_day:
            while not working:
                due += timedelta(days=1)
                working, unsure = self.is_working_day(due)
                provisional |= unsure
        return Deadline(due, provisional)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after `start` up to and including `end` (negative when end is before start)."""
        if end < start:
            return -self.working_days_between(end, start)
        count, current = 0, start
        while current < end:
            current += timedelta(days=1)
            count += self.is_working_day(current)[0]
        return count


def year_source(year: int) -> str:
    """Which table decides this year: admin, package or none (provisional)."""
    if db.session.get(HolidayYear, year) is not None:
        return "admin"
    if year in PACKAGE_YEARS:
        return "package"
    return "none"


class HolidayError(Refusal):
    """A refusal with a message for the user (already translated) and the form field it concerns."""


def save_year(year: int, source: str, off_days: list[tuple[date, str]], work_days: list[tuple[date, str]]) -> HolidayYear:
    """Replace the admin table of `year` with the given days off and adjusted working days."""
    from flask_babel import gettext as _

    for day, _name in off_days + work_days:
        if day.year != year:
            raise HolidayError(_("%(day)s is not in %(year)d.", day=day.isoformat(), year=year), "off_days")
    clash = {d for d, _n in off_days} & {d for d, _n in work_days}
    if clash:
        raise HolidayError(_("%(day)s is listed both as a day off and as a working day.",
                             day=min(clash).isoformat()), "work_days")
    entry = db.session.get(HolidayYear, year)
    created = entry is None
    if created:
        entry = HolidayYear(year=year)
        db.session.add(entry)
    entry.source = source.strip()
    entry.days.clear()
    db.session.flush()
    for day, name in sorted(off_days):
        entry.days.append(HolidayDay(day=day, kind=HolidayDay.OFF, name=name))
    for day, name in sorted(work_days):
        entry.days.append(HolidayDay(day=day, kind=HolidayDay.WORK, name=name))
    db.session.flush()
    recomputed = _recompute(year)
    record("holiday_year.created" if created else "holiday_year.updated", entry, object_id=year,
           details={"source": entry.source, "off": len(off_days), "work": len(work_days),
                    "clocks_recomputed": recomputed})
    db.session.commit()
    return entry


def delete_year(entry: HolidayYear) -> None:
    year = entry.year
    db.session.delete(entry)
    db.session.flush()
    recomputed = _recompute(year)
    record("holiday_year.deleted", object_type="holiday_year", object_id=year,
           details={"source": entry.source, "clocks_recomputed": recomputed})
    db.session.commit()


def _recompute(year: int) -> int:
    from portal.cases.clocks import recompute_open_clocks  # the cases area builds on this one, not the reverse

    return recompute_open_clocks(year)
