"""Figures kept for reporting on mediation: referrals by source, sessions held per matter, days to outcome,
outcomes by kind, matters open and running long. Five queries whatever the number of matters; each counts only
the matters the user may see (a department its own, through policy.visible_mediations_clause)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from sqlalchemy import func, select

from portal import rules, timeutil
from portal.accounts.models import User
from portal.extensions import db

from .models import MediationReferral, MediationSession, MediationSource, MediationStatus, SessionStatus


@dataclass
class Figures:
    by_source: dict[MediationSource, int] = field(default_factory=dict)
    by_status: dict[MediationStatus, int] = field(default_factory=dict)
    held_sessions: int = 0
    days_to_outcome: list[int] = field(default_factory=list)
    running_long: int = 0
    usual_days: int = rules.MEDIATION_USUAL_DAYS

    @property
    def referrals(self) -> int:
        return sum(self.by_source.values())

    @property
    def open(self) -> int:
        return self.by_status.get(MediationStatus.OPEN, 0)

    @property
    def ended(self) -> int:
        return self.referrals - self.open

    @property
    def sessions_per_matter(self) -> float | None:
        return round(self.held_sessions / self.referrals, 1) if self.referrals else None

    @property
    def days_average(self) -> float | None:
        return round(sum(self.days_to_outcome) / len(self.days_to_outcome), 1) if self.days_to_outcome else None

    @property
    def days_median(self) -> float | None:
        return round(float(median(self.days_to_outcome)), 1) if self.days_to_outcome else None

    def outcomes(self) -> list[tuple[MediationStatus, int]]:
        return [(s, self.by_status.get(s, 0)) for s in MediationStatus if s != MediationStatus.OPEN]

    def sources(self) -> list[tuple[MediationSource, int]]:
        return [(s, self.by_source.get(s, 0)) for s in MediationSource]


def _local_date(moment: datetime) -> date:
    return moment.astimezone(timeutil.local_zone()).date()


def figures(user: User, on: date | None = None) -> Figures:
    from portal import policy

    on = on or timeutil.today()
    visible = policy.visible_mediations_clause(user)
    result = Figures()
    result.by_source = {MediationSource(s): n for s, n in db.session.execute(
        select(MediationReferral.source, func.count(MediationReferral.id)).where(visible)
        .group_by(MediationReferral.source))}
    result.by_status = {MediationStatus(s): n for s, n in db.session.execute(
        select(MediationReferral.status, func.count(MediationReferral.id)).where(visible)
        .group_by(MediationReferral.status))}
    result.held_sessions = db.session.scalar(
        select(func.count(MediationSession.id))
        .join(MediationReferral, MediationReferral.id == MediationSession.referral_id)
        .where(visible, MediationSession.status == SessionStatus.HELD)) or 0
    # Days to outcome need each ended matter's two dates (a median is not portable SQL): one narrow query.
    result.days_to_outcome = sorted(
        max(0, (_local_date(closed) - _local_date(referred)).days) for referred, closed in db.session.execute(
            select(MediationReferral.referred_at, MediationReferral.closed_at)
            .where(visible, MediationReferral.closed_at.is_not(None))))
    # Running long: open, and referred more than the usual days before today (in Y City's calendar).
    start_of_cutoff = datetime.combine(on - timedelta(days=rules.MEDIATION_USUAL_DAYS), datetime.min.time(),
                                       timeutil.local_zone())
    result.running_long = db.session.scalar(
        select(func.count(MediationReferral.id))
        .where(visible, MediationReferral.status == MediationStatus.OPEN,
               MediationReferral.referred_at < start_of_cutoff)) or 0
    return result
