"""Statutory clocks on a case: start, stop, pause, extend, and the days left.

Limits come from portal.rules; working days from portal.holidays. Case.next_due_on keeps the nearest
open deadline of the bureau and departments so that lists can sort and filter on it in SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import or_, select

from portal import rules
from portal.extensions import db
from portal.holidays.services import WorkCalendar
from portal.timeutil import today

from .models import Case, Clock, ClockKind, ClockPause

# kind -> (number of days, counted in "calendar" or "working" days)
LIMITS: dict[ClockKind, tuple[int, str]] = {
    ClockKind.ROUTING: (rules.ROUTING_DAYS, "calendar"),
    ClockKind.ACCEPTANCE: (rules.ACCEPTANCE_NOTICE_DAYS, "calendar"),
    ClockKind.OBJECTION: (rules.OBJECTION_WORKING_DAYS, "working"),
    ClockKind.HANDLING: (rules.HANDLING_DAYS, "calendar"),
    ClockKind.REVIEW_REQUEST: (rules.REVIEW_REQUEST_DAYS, "calendar"),
    ClockKind.REVIEW: (rules.REVIEW_DAYS, "calendar"),
    ClockKind.REREVIEW_REQUEST: (rules.REREVIEW_REQUEST_DAYS, "calendar"),
    ClockKind.REREVIEW: (rules.REREVIEW_DAYS, "calendar"),
}
# Windows in which someone may act but need not (the petitioner asks for review, a department objects):
# they close when they end and never make anyone overdue.
OPTIONAL_WINDOWS = {ClockKind.REVIEW_REQUEST, ClockKind.REREVIEW_REQUEST, ClockKind.OBJECTION}


def compute_due(clock: Clock, calendar: WorkCalendar | None = None) -> None:
    calendar = calendar or WorkCalendar()
    days, unit = LIMITS[clock.kind]
    if unit == "working":
        base = calendar.add_working_days(clock.started_on, days)
        extra = clock.extension_days + clock.paused_days
        due = calendar.add_calendar_days(base.due, extra) if extra else base
        clock.base_due_on, clock.due_on = base.due, due.due
        clock.provisional = base.provisional or due.provisional
    else:
        roll = rules.ROLL_CALENDAR_LIMITS_TO_WORKING_DAY
        base = calendar.add_calendar_days(clock.started_on, days, roll)
        due = calendar.add_calendar_days(clock.started_on, days + clock.extension_days + clock.paused_days, roll)
        clock.base_due_on, clock.due_on = base.due, due.due
        clock.provisional = base.provisional or due.provisional


def start_clock(case: Case, kind: ClockKind, started_on: date, referral_id: int | None = None) -> Clock:
    clock = Clock(kind=kind, started_on=started_on, referral_id=referral_id, extension_days=0, paused_days=0)
    with db.session.no_autoflush:
        compute_due(clock)
    case.clocks.append(clock)
    refresh_next_due(case)
    return clock


def open_clock(case: Case, kind: ClockKind, referral_id: int | None = None) -> Clock | None:
    for clock in case.clocks:
        if clock.kind == kind and clock.stopped_on is None and (referral_id is None or clock.referral_id == referral_id):
            return clock
    return None


def stop_clock(case: Case, kind: ClockKind, on: date | None = None, referral_id: int | None = None) -> Clock | None:
    clock = open_clock(case, kind, referral_id)
    if clock is not None:
        on = on or today()
        if clock.paused_since is not None:
            _close_pause(clock, on, None)
        clock.stopped_on = on
        refresh_next_due(case)
    return clock


def extend_clock(clock: Clock, days: int) -> None:
    clock.extension_days += days
    compute_due(clock)
    refresh_next_due(clock.case)


def pause_clock(clock: Clock, reason: str, user, on: date | None = None) -> ClockPause:
    on = on or today()
    clock.paused_since = on
    pause = ClockPause(clock=clock, reason=reason, paused_on=on, paused_by_id=user.id if user else None)
    db.session.add(pause)
    refresh_next_due(clock.case)
    return pause


def resume_clock(clock: Clock, user, on: date | None = None) -> ClockPause:
    pause = _close_pause(clock, on or today(), user)
    refresh_next_due(clock.case)
    return pause


def _close_pause(clock: Clock, on: date, user) -> ClockPause:
    pause = clock.pauses[-1]
    pause.resumed_on = on
    pause.resumed_by_id = user.id if user else None
    clock.paused_days += max(0, (on - pause.paused_on).days)
    clock.paused_since = None
    compute_due(clock)
    return pause


def refresh_next_due(case: Case) -> None:
    dues = [c.due_on for c in case.clocks
            if c.stopped_on is None and c.paused_since is None and c.kind not in OPTIONAL_WINDOWS]
    case.next_due_on = min(dues) if dues else None


def recompute_open_clocks(year: int) -> int:
    """After a holiday year is entered, changed or removed: recompute the open clocks it can touch.

    A limit is at most a few months long, so only clocks due after the start of the previous October can end
    in `year`; provisional clocks are always recomputed.
    """
    calendar = WorkCalendar()
    clocks = db.session.scalars(
        select(Clock).where(Clock.stopped_on.is_(None),
                            or_(Clock.provisional.is_(True), Clock.due_on >= date(year - 1, 10, 1)))
    ).all()
    for clock in clocks:
        compute_due(clock, calendar)
        refresh_next_due(clock.case)
    return len(clocks)


@dataclass
class ClockState:
    clock: Clock
    days_left: int | None  # None when stopped
    state: str  # running | near | overdue | closed (an optional window ended) | paused | stopped

    @property
    def kind(self):
        return self.clock.kind


def clock_state(clock: Clock, on: date | None = None) -> ClockState:
    on = on or today()
    if clock.stopped_on is not None:
        return ClockState(clock, None, "stopped")
    if clock.paused_since is not None:
        return ClockState(clock, (clock.due_on - clock.paused_since).days, "paused")
    left = (clock.due_on - on).days
    if left < 0:
        # An optional window simply closes; nobody is overdue.
        return ClockState(clock, left, "closed" if clock.kind in OPTIONAL_WINDOWS else "overdue")
    if left <= rules.NEAR_DUE_DAYS:
        return ClockState(clock, left, "near")
    return ClockState(clock, left, "running")


def due_state(due_on: date | None, on: date | None = None) -> str:
    """Highlight for a list row from Case.next_due_on: '', near or overdue."""
    if due_on is None:
        return ""
    left = (due_on - (on or today())).days
    if left < 0:
        return "overdue"
    return "near" if left <= rules.NEAR_DUE_DAYS else ""


def near_due_cutoff(on: date | None = None) -> date:
    return (on or today()) + timedelta(days=rules.NEAR_DUE_DAYS)
