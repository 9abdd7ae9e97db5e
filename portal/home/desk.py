"""What the home page shows a mediator, a petitioner or a department representative about mediation: the work
waiting for them. A fixed number of queries whatever the number of matters, sessions, records or agreements.

- a mediator: the open matters they mediate (running long marked), their sessions today and ahead, the records read
  back and waiting for the parties' confirmations, the agreements waiting for them (being signed, or sealing failed);
- a petitioner or a department representative: their sessions ahead, the records read back that their party has not
  yet answered, the agreements waiting for their party's signature.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import joinedload, selectinload

from portal import timeutil
from portal.accounts.models import Role, User
from portal.cases.models import Petitioner
from portal.extensions import db
from portal.mediation.models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    ProceedingConfirmation,
    ProceedingRecord,
    RecordStatus,
)

LIMIT = 50  # each list shows at most this many rows (the full lists are on the mediation pages)


@dataclass
class MatterRow:
    matter: MediationReferral
    days: int
    running_long: bool


@dataclass
class Desk:
    matters: list[MatterRow] = field(default_factory=list)
    today: list[MediationSession] = field(default_factory=list)
    upcoming: list[MediationSession] = field(default_factory=list)
    records: list[ProceedingRecord] = field(default_factory=list)
    agreements: list = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.matters or self.today or self.upcoming or self.records or self.agreements)


def _local_date(moment: datetime) -> date:
    return moment.astimezone(timeutil.local_zone()).date()


def _sessions(desk: Desk, user: User, on: date) -> None:
    from portal.mediation.sessions import upcoming_sessions_for

    for session in upcoming_sessions_for(user, limit=LIMIT):
        (desk.today if _local_date(session.starts_at) <= on else desk.upcoming).append(session)


def mediator_desk(user: User, on: date | None = None) -> Desk:
    """Eight queries: matters, sessions (three), records (two), agreements (one)."""
    from portal.agreements.models import Agreement, AgreementStatus, SealStatus
    from portal.mediation.matters import days_since_referral, running_long

    on = on or timeutil.today()
    desk = Desk()
    mine = select(MediationMediator.referral_id).where(MediationMediator.user_id == user.id)
    matters = db.session.scalars(
        select(MediationReferral)
        .where(MediationReferral.id.in_(mine), MediationReferral.status == MediationStatus.OPEN)
        .options(joinedload(MediationReferral.case), joinedload(MediationReferral.committee))
        .order_by(MediationReferral.referred_at, MediationReferral.id).limit(LIMIT))
    desk.matters = [MatterRow(m, days_since_referral(m, on), running_long(m, on)) for m in matters]
    _sessions(desk, user, on)
    desk.records = list(db.session.scalars(
        select(ProceedingRecord).join(MediationSession, MediationSession.id == ProceedingRecord.session_id)
        .where(ProceedingRecord.status == RecordStatus.READ_BACK, MediationSession.referral_id.in_(mine))
        .options(joinedload(ProceedingRecord.session).joinedload(MediationSession.referral)
                 .joinedload(MediationReferral.case),
                 selectinload(ProceedingRecord.confirmations))
        .order_by(ProceedingRecord.read_back_at, ProceedingRecord.id).limit(LIMIT)).unique())
    desk.agreements = list(db.session.scalars(
        select(Agreement)
        .where(Agreement.referral_id.in_(mine),
               (Agreement.status == AgreementStatus.SIGNING)
               | ((Agreement.status == AgreementStatus.SEALING) & (Agreement.seal_status == SealStatus.FAILED)))
        .options(joinedload(Agreement.referral).joinedload(MediationReferral.case))
        .order_by(Agreement.id).limit(LIMIT)))
    return desk


def _party_clause(user: User):
    """The parties this user speaks for, whose consent stands (a petitioner, or a department's representative)."""
    if user.role == Role.DEPARTMENT_REP:
        if user.department_id is None:
            return None
        who = MediationParty.department_id == user.department_id
    elif user.role == Role.PETITIONER:
        who = MediationParty.petitioner_id.in_(select(Petitioner.id).where(Petitioner.user_id == user.id))
    else:
        return None
    return and_(who, MediationParty.withdrawn_on.is_(None))


def party_desk(user: User, on: date | None = None) -> Desk:
    """Five queries: sessions (three), records (one), agreements (one)."""
    from portal.agreements.models import Agreement, AgreementSignature, AgreementStatus

    on = on or timeutil.today()
    desk = Desk()
    clause = _party_clause(user)
    if clause is None:
        return desk
    _sessions(desk, user, on)
    parties = select(MediationParty.id).where(clause)
    # Records read back on a matter of the user's party that this party has not answered yet.
    unanswered = (select(ProceedingRecord.id)
                  .join(MediationSession, MediationSession.id == ProceedingRecord.session_id)
                  .join(MediationParty, MediationParty.referral_id == MediationSession.referral_id)
                  .where(ProceedingRecord.status == RecordStatus.READ_BACK, clause,
                         ~exists().where(ProceedingConfirmation.record_id == ProceedingRecord.id,
                                         ProceedingConfirmation.party_id == MediationParty.id))
                  .correlate(None))
    desk.records = list(db.session.scalars(
        select(ProceedingRecord).where(ProceedingRecord.id.in_(unanswered))
        .options(joinedload(ProceedingRecord.session).joinedload(MediationSession.referral)
                 .joinedload(MediationReferral.case))
        .order_by(ProceedingRecord.read_back_at, ProceedingRecord.id).limit(LIMIT)))
    # Agreements being signed on which the user's party has no live signature (or refusal) yet.
    desk.agreements = list(db.session.scalars(
        select(Agreement)
        .where(Agreement.status == AgreementStatus.SIGNING,
               Agreement.referral_id.in_(select(MediationParty.referral_id).where(clause)),
               ~exists().where(AgreementSignature.agreement_id == Agreement.id,
                               AgreementSignature.voided_at.is_(None),
                               AgreementSignature.document_hash == Agreement.document_hash,
                               AgreementSignature.party_id.in_(parties)))
        .options(joinedload(Agreement.referral).joinedload(MediationReferral.case))
        .order_by(Agreement.id).limit(LIMIT)))
    return desk
