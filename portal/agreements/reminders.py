"""Reminders of the agreements, run daily by `flask agreements remind`: the judicial confirmation window closing
(rules.JUDICIAL_REMINDER_DAYS before its last day, to every party, once), obligations coming due
(rules.OBLIGATION_REMINDER_DAYS before, to the obliged party, once per obligation), obligations past their due
date without a report confirming them in full (to the obliged party and the committee's mediators, once per
obligation), and pending signers (by the signing code, when it is there). Dates are written for each recipient's
language. Each reminder is recorded once per key in AgreementReminder and in the audit trail.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import rules
from portal.accounts.models import Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import send_message
from portal.mediation.models import MediationReferral
from portal.timeutil import local_zone, utcnow

from . import follow_up, signing
from .models import (
    Agreement,
    AgreementObligation,
    AgreementReminder,
    AgreementStatus,
    AgreementVersion,
    ConfirmationResult,
    JudicialConfirmation,
    ObligationStatus,
)

JUDICIAL_KEY = "judicial:window"


def _obligation_key(obligation_id: int) -> str:
    return f"due:obligation:{obligation_id}"


def _overdue_key(obligation_id: int) -> str:
    return f"overdue:obligation:{obligation_id}"


def _day(value) -> str:
    """A date as the recipient reads it (call inside force_locale)."""
    return format_date(value, "long")


def _sent_keys(agreement_ids: list[int]) -> set[tuple[int, str]]:
    if not agreement_ids:
        return set()
    return set(db.session.execute(select(AgreementReminder.agreement_id, AgreementReminder.key)
                                  .where(AgreementReminder.agreement_id.in_(agreement_ids))).all())


def remind_judicial_window(on) -> int:
    """Agreements whose confirmation window ends within JUDICIAL_REMINDER_DAYS and with no application yet."""
    earliest = on - timedelta(days=rules.JUDICIAL_CONFIRMATION_DAYS)
    latest = earliest + timedelta(days=rules.JUDICIAL_REMINDER_DAYS)
    applied = select(JudicialConfirmation.agreement_id).where(
        JudicialConfirmation.result != ConfirmationResult.REJECTED)
    agreements = list(db.session.scalars(
        select(Agreement).where(Agreement.status == AgreementStatus.EFFECTIVE, Agreement.effective_on >= earliest,
                                Agreement.effective_on <= latest, Agreement.id.not_in(applied))
        .options(selectinload(Agreement.referral).selectinload(MediationReferral.parties))
        .order_by(Agreement.id)))
    sent_keys = _sent_keys([a.id for a in agreements])
    count = 0
    for agreement in agreements:
        if (agreement.id, JUDICIAL_KEY) in sent_keys:
            continue
        window = follow_up.judicial_window(agreement, on)
        recipients = follow_up._notify_parties(agreement, lambda: (
            _("Judicial confirmation: last day %(day)s", day=_day(window.last_day)),
            _("Agreement %(number)s took effect on %(start)s. The parties may apply together to the court for "
              "judicial confirmation until %(day)s (People's Mediation Law art. 33); it is optional.",
              number=agreement.number, start=_day(agreement.effective_on), day=_day(window.last_day))))
        db.session.add(AgreementReminder(agreement_id=agreement.id, key=JUDICIAL_KEY))
        record("agreement.reminded", agreement, details={"key": JUDICIAL_KEY, "recipients": recipients})
        count += 1
    return count


def remind_obligations(on) -> int:
    """Obligations of agreements in effect, not performed, due within OBLIGATION_REMINDER_DAYS."""
    obligations = list(db.session.scalars(
        select(AgreementObligation)
        .join(AgreementVersion, AgreementVersion.id == AgreementObligation.version_id)
        .join(Agreement, Agreement.id == AgreementVersion.agreement_id)
        .where(Agreement.status == AgreementStatus.EFFECTIVE,
               Agreement.signing_version == AgreementVersion.number,
               AgreementObligation.status.in_([ObligationStatus.PENDING, ObligationStatus.PARTLY]),
               AgreementObligation.reminded_at.is_(None),
               AgreementObligation.due_on >= on,
               AgreementObligation.due_on <= on + timedelta(days=rules.OBLIGATION_REMINDER_DAYS))
        .options(selectinload(AgreementObligation.party),
                 selectinload(AgreementObligation.agreement_version).selectinload(AgreementVersion.agreement))
        .order_by(AgreementObligation.id)))
    sent_keys = _sent_keys(sorted({o.agreement_version.agreement_id for o in obligations}))
    count = 0
    for obligation in obligations:
        agreement = obligation.agreement_version.agreement
        key = _obligation_key(obligation.id)
        if (agreement.id, key) in sent_keys:
            continue
        link = follow_up.agreement_link(agreement)
        recipients = follow_up._notify_party(obligation.party, link=link, compose=lambda: (
            _("Due on %(day)s: agreement %(number)s", day=_day(obligation.due_on), number=agreement.number),
            _("Under agreement %(number)s you undertook: %(what)s. It is due on %(day)s. When it is done, report "
              "it with evidence on the agreement's page.", number=agreement.number, what=obligation.what,
              day=_day(obligation.due_on))))
        obligation.reminded_at = utcnow()
        db.session.add(AgreementReminder(agreement_id=agreement.id, key=key))
        record("agreement.reminded", obligation, details={"key": key, "agreement_id": agreement.id,
                                                          "recipients": recipients})
        count += 1
    return count


def _committee_mediators(committee_ids: set[int]) -> dict[int, list[User]]:
    if not committee_ids:
        return {}
    found: dict[int, list[User]] = {}
    for user in db.session.scalars(select(User).where(User.role == Role.MEDIATOR, User.active.is_(True),
                                                      User.department_id.in_(committee_ids)).order_by(User.id)):
        found.setdefault(user.department_id, []).append(user)
    return found


def remind_overdue(on) -> int:
    """Obligations of agreements in effect whose due date has passed without a report confirming them in full:
    the obliged party and the mediators of the committee are told once, with the link to the agreement."""
    obligations = list(db.session.scalars(
        select(AgreementObligation)
        .join(AgreementVersion, AgreementVersion.id == AgreementObligation.version_id)
        .join(Agreement, Agreement.id == AgreementVersion.agreement_id)
        .where(Agreement.status == AgreementStatus.EFFECTIVE,
               Agreement.signing_version == AgreementVersion.number,
               AgreementObligation.status.in_([ObligationStatus.PENDING, ObligationStatus.PARTLY]),
               AgreementObligation.due_on < on)
        .options(selectinload(AgreementObligation.party),
                 selectinload(AgreementObligation.agreement_version).selectinload(AgreementVersion.agreement)
                 .selectinload(Agreement.referral))
        .order_by(AgreementObligation.id)))
    sent_keys = _sent_keys(sorted({o.agreement_version.agreement_id for o in obligations}))
    mediators = _committee_mediators({o.agreement_version.agreement.referral.committee_id for o in obligations})
    count = 0
    for obligation in obligations:
        agreement = obligation.agreement_version.agreement
        key = _overdue_key(obligation.id)
        if (agreement.id, key) in sent_keys:
            continue
        link = follow_up.agreement_link(agreement)
        recipients = follow_up._notify_party(obligation.party, link=link, compose=lambda: (
            _("Overdue since %(day)s: agreement %(number)s", day=_day(obligation.due_on), number=agreement.number),
            _("Under agreement %(number)s you undertook: %(what)s. It was due on %(day)s and is not yet confirmed as "
              "performed. Perform it, or report what was done with evidence on the agreement's page.",
              number=agreement.number, what=obligation.what, day=_day(obligation.due_on))))
        for user in mediators.get(agreement.referral.committee_id, []):
            if not user.login:
                continue
            with force_locale(user.locale or "zh_CN"):
                subject = _("Obligation overdue: agreement %(number)s", number=agreement.number)
                body = _("%(party)s was to perform by %(day)s: %(what)s. No report confirms it as performed in full. "
                         "Follow it up on the agreement's page.", party=obligation.party.name,
                         day=_day(obligation.due_on), what=obligation.what)
            send_message(user.login, subject, body + (f"\n\n{link}" if link else ""))
            recipients += 1
        db.session.add(AgreementReminder(agreement_id=agreement.id, key=key))
        record("agreement.reminded", obligation, details={"key": key, "agreement_id": agreement.id,
                                                          "recipients": recipients})
        count += 1
    return count


def run_reminders(now: datetime | None = None) -> dict:
    """Every reminder due at `now` (default: now); returns how many of each kind were sent."""
    now = now or utcnow()
    on = now.astimezone(local_zone()).date()
    counts = {"judicial": remind_judicial_window(on), "obligations": remind_obligations(on),
              "overdue": remind_overdue(on)}
    db.session.commit()
    counts["signers"] = signing.remind_pending_signers(now)
    db.session.commit()
    return counts
