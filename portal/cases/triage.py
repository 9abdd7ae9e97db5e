"""Triage (分流), referral to departments (转送/交办), the department's decision and supervision (督办).

No request object here: views pass what they read from their forms. Every change writes a timeline entry and
an audit event in the same transaction, then commits. A refusal raises CaseError (already translated) before
anything is changed. Dates ("on") default to today in Y City; tests pass them or patch portal.timeutil.today.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from portal import rules, timeutil
from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.holidays.services import WorkCalendar
from portal.mail.services import external_url, send_message
from portal.mediation.models import MediationParty, MediationReferral, MediationSource, MediationStatus, PartySide
from portal.transactions import atomic_services

from .clocks import OPTIONAL_WINDOWS, due_state, open_clock, start_clock, stop_clock
from .models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    Clock,
    ClockKind,
    LegalRoute,
    MatterType,
    Opinion,
    Referral,
    ReferralKind,
    ReferralRole,
    ReferralStatus,
    Review,
    Supervision,
)

from .services import CaseError, add_event, likely_duplicates

# Matter types that may go to a legal channel or to mediation: appeal/demand (2022 Regulations art. 31).
LEGAL_ROUTE_MATTER_TYPES = frozenset({MatterType.APPEAL})
MEDIATION_MATTER_TYPES = frozenset({MatterType.APPEAL})
# Departments a case can be transferred or assigned to (the bureau itself and mediation committees cannot).
REFERRAL_DEPARTMENT_KINDS = (DepartmentKind.GOVERNMENT_DEPARTMENT, DepartmentKind.STREET_OFFICE,
                             DepartmentKind.COURT, DepartmentKind.PROCURATORATE)
LIST_LIMIT = 100  # rows per list on the workbench and the inbox


def _today(on: date | None) -> date:
    return on or timeutil.today()


# One transaction per service; a concurrent change of the same case becomes a message, not a 500.
atomic = atomic_services(CaseError, lambda: _("Someone else changed this case in the meantime. Reload the page "
                                              "and try again."))


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _require(value: str | None, field_name: str, max_length: int = 4000) -> str:
    value = _clean(value)
    if not value:
        raise CaseError(_("This field is required."), field_name)
    if len(value) > max_length:
        raise CaseError(_("Use at most %(n)d characters.", n=max_length), field_name)
    return value


def _touch(case: Case) -> None:
    """Bump the case's version so that two decisions on the same case at once cannot both succeed."""
    case.updated_at = timeutil.utcnow()


# --- who and where ------------------------------------------------------------------------

def referral_departments() -> list[Department]:
    return list(db.session.scalars(
        select(Department).where(Department.active.is_(True), Department.kind.in_(REFERRAL_DEPARTMENT_KINDS))
        .order_by(Department.name)))


def mediation_committees() -> list[Department]:
    return list(db.session.scalars(
        select(Department).where(Department.active.is_(True), Department.kind == DepartmentKind.MEDIATION_COMMITTEE)
        .order_by(Department.name)))


def petitioner_accounts(case: Case) -> list[User]:
    """The active accounts of the people on the case (and of whoever submitted it online)."""
    ids = {p.user_id for p in case.petitioners if p.user_id}
    if case.submitted_by_id:
        ids.add(case.submitted_by_id)
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.id)))


def department_representatives(department_id: int) -> list[User]:
    return list(db.session.scalars(select(User).where(User.department_id == department_id, User.active.is_(True),
                                                      User.role == Role.DEPARTMENT_REP).order_by(User.id)))


def _tell_department(case: Case, department_id: int, compose) -> int:
    """Send compose(case, link) -> (subject, body) to every active representative of the department."""
    sent = 0
    link = _case_link(case)
    for user in department_representatives(department_id):
        with force_locale(user.locale):
            subject, body = compose(case, link)
        send_message(user.login, subject, body)
        sent += 1
    return sent


def _case_link(case: Case) -> str:
    if not has_request_context():
        return ""
    return external_url("cases.detail", case_id=case.id)


def _tell_petitioners(case: Case, compose) -> int:
    """Send compose(case, link) -> (subject, body) to every petitioner with an account, in their language."""
    sent = 0
    link = _case_link(case)
    for user in petitioner_accounts(case):
        if not user.login:
            continue
        with force_locale(user.locale):
            subject, body = compose(case, link)
        send_message(user.login, subject, body)
        sent += 1
    return sent


def _ensure_triageable(case: Case) -> None:
    if case.status != CaseStatus.REGISTERED:
        raise CaseError(_("This case has already been triaged (%(status)s). It can be triaged again only after "
                          "a department returns it with an objection.", status=case.status.label))


# --- triage outcomes ----------------------------------------------------------------------

@atomic
def reject(case: Case, actor: User, reason: str, route: str, on: date | None = None) -> None:
    """Not accepted (不予受理): the reason and the route the petitioner may take instead."""
    _ensure_triageable(case)
    reason = _require(reason, "reason")
    route = _require(route, "route", 2000)
    on = _today(on)
    case.status = CaseStatus.REJECTED
    case.rejection_reason, case.rejection_route = reason, route
    stop_clock(case, ClockKind.ROUTING, on)
    add_event(case, "rejected", actor=actor)

    def compose(case, link):
        subject = _("Your petition %(ref)s was not accepted", ref=case.reference)
        body = _("Your petition %(ref)s (%(subject)s) was not accepted.\nReason: %(reason)s\n"
                 "Where you may turn instead: %(route)s\n%(link)s",
                 ref=case.reference, subject=case.subject, reason=reason, route=route, link=link)
        return subject, body

    told = _tell_petitioners(case, compose)
    record("case.rejected", case, actor=actor, details={"reference": case.reference, "reason": reason,
                                                         "route": route, "petitioners_told": told})


@atomic
def refer(case: Case, actor: User, kind: ReferralKind, lead_id: int, co_ids: list[int] | None = None,
          note: str = "", complex_reason: str | None = None, on: date | None = None) -> list[Referral]:
    """Transfer or assign (转送/交办) to a lead department, optionally with co-handling departments.

    Starts, for the lead, the acceptance clock; for every referral, the objection window (working days).
    complex_reason, when given, also marks the case complex for a joint conference.
    """
    _ensure_triageable(case)
    if not isinstance(kind, ReferralKind):
        raise CaseError(_("Choose transfer or assign."), "kind")
    co_ids = list(dict.fromkeys(co_ids or []))
    if lead_id in co_ids:
        raise CaseError(_("The lead department cannot also be a co-handling department."), "co")
    wanted = {d.id: d for d in referral_departments()}
    lead = wanted.get(lead_id)
    if lead is None:
        raise CaseError(_("Choose an active department as lead department."), "lead")
    co = []
    for department_id in co_ids:
        if department_id not in wanted:
            raise CaseError(_("Choose active departments as co-handling departments."), "co")
        co.append(wanted[department_id])
    note = _clean(note)
    if len(note) > 2000:
        raise CaseError(_("Use at most %(n)d characters.", n=2000), "note")
    if complex_reason is not None:
        complex_reason = _require(complex_reason, "complex_reason")
        if case.complex:
            complex_reason = None  # already marked: keep the first reason
    on = _today(on)

    stop_clock(case, ClockKind.ROUTING, on)
    referrals = []
    for department, role in [(lead, ReferralRole.LEAD)] + [(d, ReferralRole.CO) for d in co]:
        referral = Referral(case=case, department_id=department.id, kind=kind, role=role,
                            status=ReferralStatus.PENDING, note=note, sent_on=on, sent_by_id=actor.id)
        db.session.add(referral)
        referrals.append(referral)
    db.session.flush()  # referral ids for the clocks
    for referral, department in zip(referrals, [lead] + co):
        if referral.role == ReferralRole.LEAD:
            start_clock(case, ClockKind.ACCEPTANCE, on, referral_id=referral.id)
        objection = start_clock(case, ClockKind.OBJECTION, on, referral_id=referral.id)
        add_event(case, "referred", actor=actor, department=department,
                  data={"kind": kind.value, "role": referral.role.value, "department": department.name})
        told = _tell_department(case, department.id, lambda case, link, referral=referral, objection=objection: (
            _("New matter for your department: %(ref)s", ref=case.reference),
            _("The petition bureau has sent you %(ref)s (%(subject)s) as %(role)s.\n"
              "Accept it, or object by %(until)s if it is outside your competence:\n%(link)s",
              ref=case.reference, subject=case.subject, role=referral.role.label, until=objection.due_on.isoformat(),
              link=link)))
        record("referral.sent", referral, actor=actor,
               details={"case": case.reference, "department": department.code, "kind": kind.value,
                        "role": referral.role.value, "sent_on": on, "objection_until": objection.due_on,
                        "representatives_told": told})
    case.status = CaseStatus.REFERRED
    case.lead_department_id = lead.id
    if complex_reason:
        _mark_complex(case, actor, complex_reason)
    record("case.referred", case, actor=actor,
           details={"reference": case.reference, "lead": lead.code, "co": [d.code for d in co], "kind": kind.value})
    return referrals


def _mark_complex(case: Case, actor: User, reason: str) -> None:
    case.complex, case.complex_reason = True, reason
    add_event(case, "complex", actor=actor, text=reason, internal=True)
    record("case.marked_complex", case, actor=actor, details={"reference": case.reference, "reason": reason})


@atomic
def mark_complex(case: Case, actor: User, reason: str, on: date | None = None) -> None:
    """Flag the case for a joint conference (联席会议). The case stays in triage for the conference's route."""
    _ensure_triageable(case)
    if case.complex:
        raise CaseError(_("This case is already marked complex."))
    reason = _require(reason, "reason")
    stop_clock(case, ClockKind.ROUTING, _today(on))
    _mark_complex(case, actor, reason)


@atomic
def route_to_legal_channel(case: Case, actor: User, route: LegalRoute, notice: str, on: date | None = None) -> None:
    """诉访分离: the matter belongs to litigation, arbitration or administrative review; the petitioner is told where."""
    _ensure_triageable(case)
    if case.matter_type not in LEGAL_ROUTE_MATTER_TYPES:
        raise CaseError(_("Only appeals and demands can be routed to a legal channel; this case is a %(type)s.",
                          type=case.matter_type.label))
    if not isinstance(route, LegalRoute):
        raise CaseError(_("Choose litigation, arbitration or administrative review."), "route")
    notice = _require(notice, "notice")
    on = _today(on)
    case.status = CaseStatus.LEGAL_ROUTE
    case.legal_route, case.legal_route_notice = route, notice
    stop_clock(case, ClockKind.ROUTING, on)
    add_event(case, "legal_route", actor=actor, data={"route": route.value})

    def compose(case, link):
        subject = _("Your petition %(ref)s belongs to a legal channel", ref=case.reference)
        body = _("Your petition %(ref)s (%(subject)s) is to be pursued through %(route)s.\n%(notice)s\n"
                 "The written notice can be downloaded from your case page:\n%(link)s",
                 ref=case.reference, subject=case.subject, route=route.label, notice=notice, link=link)
        return subject, body

    told = _tell_petitioners(case, compose)
    record("case.legal_route", case, actor=actor, details={"reference": case.reference, "route": route.value,
                                                            "notice": notice, "petitioners_told": told})


def mediation_courts() -> list[Department]:
    """Courts that can entrust a matter to mediation (诉调对接)."""
    return list(db.session.scalars(
        select(Department).where(Department.active.is_(True), Department.kind == DepartmentKind.COURT)
        .order_by(Department.name)))


@atomic
def refer_to_mediation(case: Case, actor: User, *, committee_id: int | None,
                       petitioner_consent_on: date | None, petitioner_consent_how: str,
                       other_consent_on: date | None, other_consent_how: str, scope_confirmed: bool,
                       other_party: str = "", other_phone: str = "", other_department_id: int | None = None,
                       source: MediationSource = MediationSource.PETITION, court_id: int | None = None,
                       court_reference: str = "", on: date | None = None) -> MediationReferral:
    """访调对接 (or 诉调对接 when a court entrusts the matter): only with both sides' recorded consent; never
    administrative disputes. The petitioners are the applicant side (one consent for them all); the other side
    is a department (other_department_id) or a named person or company (other_party, other_phone)."""
    _ensure_triageable(case)
    on = _today(on)
    if case.matter_type not in MEDIATION_MATTER_TYPES:
        raise CaseError(_("Only appeals and demands can be referred to mediation; this case is a %(type)s.",
                          type=case.matter_type.label))
    if not scope_confirmed:
        raise CaseError(_("Confirm that this is neither an administrative dispute nor a matter already in "
                          "litigation: those cannot go to people's mediation."), "scope_confirmed")
    if not isinstance(source, MediationSource):
        raise CaseError(_("Choose where the matter comes from."), "source")
    court, court_reference = None, _clean(court_reference)
    if source == MediationSource.COURT:
        court = next((c for c in mediation_courts() if c.id == court_id), None)
        if court is None:
            raise CaseError(_("Choose the court that entrusts the matter."), "court")
        court_reference = _require(court_reference, "court_reference", 100)
    else:
        court_reference = ""
    committee = next((c for c in mediation_committees() if c.id == committee_id), None)
    if committee is None:
        raise CaseError(_("Choose an active people's mediation committee."), "committee")
    department = None
    if other_department_id is not None:
        department = next((d for d in referral_departments() if d.id == other_department_id), None)
        if department is None:
            raise CaseError(_("Choose an active department as the other side."), "other_department")
        other_party, other_phone = department.name, ""
    else:
        other_party = _require(other_party, "other_party", 200)
        other_phone = _clean(other_phone)
        if other_phone and not re.fullmatch(r"[0-9+\- ]{5,20}", other_phone):
            raise CaseError(_("Enter a phone number of 5 to 20 characters: digits, +, - and spaces."),
                            "other_phone")
    for when, how, side in ((petitioner_consent_on, petitioner_consent_how, "petitioner"),
                            (other_consent_on, other_consent_how, "other")):
        if when is None:
            raise CaseError(_("Mediation needs the consent of both sides: enter the date of this side's consent."),
                            f"{side}_consent_on")
        if when > on:
            raise CaseError(_("A consent cannot be dated in the future."), f"{side}_consent_on")
        if not _clean(how):
            raise CaseError(_("Mediation needs the consent of both sides: record how this side consented."),
                            f"{side}_consent_how")
        if len(_clean(how)) > 200:
            raise CaseError(_("Use at most %(n)d characters.", n=200), f"{side}_consent_how")
    referral = MediationReferral(case_id=case.id, source=source, court_id=court.id if court else None,
                                 court_reference=court_reference, committee_id=committee.id,
                                 status=MediationStatus.OPEN, referred_by_id=actor.id)
    referral.parties = [MediationParty(side=PartySide.APPLICANT, petitioner_id=p.id, name=p.name,
                                       consent_on=petitioner_consent_on, consent_how=_clean(petitioner_consent_how),
                                       added_by_id=actor.id) for p in case.petitioners]
    referral.parties.append(MediationParty(side=PartySide.RESPONDENT, name=other_party, phone=other_phone,
                                           department_id=department.id if department else None,
                                           consent_on=other_consent_on, consent_how=_clean(other_consent_how),
                                           added_by_id=actor.id))
    db.session.add(referral)
    case.status = CaseStatus.MEDIATION
    stop_clock(case, ClockKind.ROUTING, on)
    add_event(case, "mediation_referral", actor=actor, department=committee, data={"committee": committee.name})

    def compose(case, link):
        subject = _("Your petition %(ref)s is referred to mediation", ref=case.reference)
        body = _("With your consent, your petition %(ref)s (%(subject)s) is referred to %(committee)s for "
                 "mediation. Mediation is free of charge.\n%(link)s",
                 ref=case.reference, subject=case.subject, committee=committee.name, link=link)
        return subject, body

    told = _tell_petitioners(case, compose)
    if department is not None:
        _tell_department(case, department.id, lambda case, link: (
            _("Mediation on %(ref)s", ref=case.reference),
            _("Your department is a party to the mediation of %(ref)s (%(subject)s) at %(committee)s:\n%(link)s",
              ref=case.reference, subject=case.subject, committee=committee.name, link=link)))
    court_told = 0
    if court is not None:
        from portal.mediation.matters import tell_court

        db.session.flush()  # the matter has its id for the link
        court_told = tell_court(referral, lambda matter, link: (
            _("Court-entrusted mediation of %(court_ref)s has started", court_ref=matter.court_reference),
            _("The matter your court entrusted for mediation (file number %(court_ref)s; petition %(ref)s, "
              "%(subject)s) is referred to %(committee)s with the consent of both sides. You can follow it here:\n"
              "%(link)s", court_ref=matter.court_reference, ref=case.reference, subject=case.subject,
              committee=committee.name, link=link)))
    record("case.mediation_referral", referral, actor=actor,
           details={"case": case.reference, "committee": committee.code, "source": source.value,
                    "court": court.code if court else None, "court_reference": court_reference,
                    "other_party": other_party, "other_department": department.code if department else None,
                    "petitioner_consent_on": petitioner_consent_on, "other_consent_on": other_consent_on,
                    "petitioners_told": told, "court_told": court_told})
    return referral


# --- the department's decision ------------------------------------------------------------

def objection_deadline(referral: Referral) -> date:
    """The last day the department may return the matter (5 working days from receipt)."""
    for clock in referral.case.clocks:
        if clock.kind == ClockKind.OBJECTION and clock.referral_id == referral.id:
            return clock.due_on
    return WorkCalendar().add_working_days(referral.sent_on, rules.OBJECTION_WORKING_DAYS).due


def _ensure_pending(referral: Referral) -> None:
    if referral.status != ReferralStatus.PENDING:
        raise CaseError(_("This referral has already been decided (%(status)s).", status=referral.status.label))


@atomic
def accept(referral: Referral, actor: User, on: date | None = None) -> None:
    """The department accepts; for the lead the case goes into handling and the petitioner is told (受理告知)."""
    _ensure_pending(referral)
    on = _today(on)
    case = referral.case
    referral.status = ReferralStatus.ACCEPTED
    referral.accepted_on, referral.decided_by_id = on, actor.id
    stop_clock(case, ClockKind.OBJECTION, on, referral_id=referral.id)
    department = referral.department
    details = {"case": case.reference, "department": department.code, "role": referral.role.value}
    if referral.role == ReferralRole.LEAD:
        stop_clock(case, ClockKind.ACCEPTANCE, on, referral_id=referral.id)
        handling = start_clock(case, ClockKind.HANDLING, on, referral_id=referral.id)
        case.status = CaseStatus.IN_PROGRESS
        case.lead_department_id = department.id
        add_event(case, "accepted", actor=actor, department=department, data={"department": department.name})

        def compose(case, link):
            subject = _("Your petition %(ref)s has been accepted", ref=case.reference)
            body = _("%(department)s accepted your petition %(ref)s (%(subject)s) on %(date)s and will answer "
                     "it by %(due)s.\n%(link)s", department=department.name, ref=case.reference,
                     subject=case.subject, date=on.isoformat(), due=handling.due_on.isoformat(), link=link)
            return subject, body

        details["petitioners_told"] = _tell_petitioners(case, compose)
        details["handling_due"] = handling.due_on
    else:
        _touch(case)
        add_event(case, "accepted", actor=actor, department=department, data={"department": department.name},
                  internal=True)
    record("referral.accepted", referral, actor=actor, details=details)


@atomic
def object_to(referral: Referral, actor: User, reason: str, on: date | None = None) -> None:
    """The department returns the matter as outside its competence, within 5 working days, with a reason.

    An objection by the lead department sends the case back to triage: the other referrals are closed and a
    new routing clock starts. An objection by a co-handling department leaves the case with its lead.
    """
    _ensure_pending(referral)
    on = _today(on)
    due = objection_deadline(referral)
    if on > due:
        raise CaseError(_("The objection window closed on %(date)s (%(n)d working days from receipt). "
                          "Accept the matter or ask the bureau to withdraw the referral.",
                          date=due.isoformat(), n=rules.OBJECTION_WORKING_DAYS))
    reason = _require(reason, "reason")
    case = referral.case
    department = referral.department
    referral.status = ReferralStatus.OBJECTED
    referral.objected_at, referral.objection_reason, referral.decided_by_id = timeutil.utcnow(), reason, actor.id
    stop_clock(case, ClockKind.OBJECTION, on, referral_id=referral.id)
    add_event(case, "objected", actor=actor, department=department, data={"department": department.name},
              text=reason, internal=True)
    details = {"case": case.reference, "department": department.code, "role": referral.role.value,
               "reason": reason}
    if referral.role == ReferralRole.LEAD:
        stop_clock(case, ClockKind.ACCEPTANCE, on, referral_id=referral.id)
        for other in case.referrals:
            if other.id != referral.id and other.status in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED):
                other.status = ReferralStatus.CLOSED
                for kind in (ClockKind.OBJECTION, ClockKind.ACCEPTANCE, ClockKind.HANDLING):
                    stop_clock(case, kind, on, referral_id=other.id)
                add_event(case, "referral_closed", actor=actor, department=other.department,
                          data={"department": other.department.name}, internal=True)
                record("referral.closed", other, actor=actor,
                       details={"case": case.reference, "because": "lead_objected"})
        case.status = CaseStatus.REGISTERED
        case.lead_department_id = None
        routing = start_clock(case, ClockKind.ROUTING, on)
        add_event(case, "returned_to_triage", actor=actor, department=department,
                  data={"department": department.name}, internal=True)
        details["routing_due"] = routing.due_on
    else:
        _touch(case)
    record("referral.objected", referral, actor=actor, details=details)


# --- supervision (督办) ------------------------------------------------------------------------

def overdue_clocks(case: Case, on: date | None = None) -> list[Clock]:
    """Open time limits of the departments on the case that have passed (the bureau's own routing clock is not
    one: the bureau does not supervise itself)."""
    on = _today(on)
    return [c for c in case.clocks if c.stopped_on is None and c.paused_since is None
            and c.kind not in OPTIONAL_WINDOWS and c.kind != ClockKind.ROUTING and c.due_on < on]


def supervisable_departments(case: Case) -> list[Department]:
    """The departments responsible on the case: those holding a referral they have not objected to."""
    seen = {}
    for referral in sorted(case.referrals, key=lambda r: (r.role != ReferralRole.LEAD, r.id)):
        if referral.status in (ReferralStatus.PENDING, ReferralStatus.ACCEPTED):
            seen.setdefault(referral.department_id, referral.department)
    return list(seen.values())


@atomic
def supervise(case: Case, actor: User, department_id: int, notice: str, on: date | None = None) -> Supervision:
    on = _today(on)
    if not overdue_clocks(case, on):
        raise CaseError(_("A supervision notice is issued only on a case with an overdue time limit."))
    department = next((d for d in supervisable_departments(case) if d.id == department_id), None)
    if department is None:
        raise CaseError(_("Choose a department that is responsible on this case."), "department")
    notice = _require(notice, "notice")
    open_one = db.session.scalar(select(Supervision.id).where(
        Supervision.case_id == case.id, Supervision.department_id == department.id,
        Supervision.responded_at.is_(None)))
    if open_one is not None:
        raise CaseError(_("%(department)s has not yet answered the previous supervision notice on this case.",
                          department=department.name))
    supervision = Supervision(case_id=case.id, department_id=department.id, notice=notice,
                              respond_by=on + timedelta(days=rules.SUPERVISION_RESPONSE_DAYS),
                              issued_by_id=actor.id, response="")
    db.session.add(supervision)
    _touch(case)
    # The notice's text shows in the supervision section, to the bureau and the department it is addressed to;
    # the timeline (which every department on the case reads) only says that it was issued.
    add_event(case, "supervision", actor=actor, department=department, data={"department": department.name},
              internal=True)
    told = _tell_department(case, department.id, lambda case, link: (
        _("Supervision notice on %(ref)s", ref=case.reference),
        _("The petition bureau has issued a supervision notice on %(ref)s. Answer it in writing by %(by)s:\n%(link)s",
          ref=case.reference, by=supervision.respond_by.isoformat(), link=link)))
    record("supervision.issued", supervision, actor=actor,
           details={"case": case.reference, "department": department.code, "respond_by": supervision.respond_by,
                    "overdue": [c.kind.value for c in overdue_clocks(case, on)], "representatives_told": told})
    return supervision


@atomic
def respond_to_supervision(supervision: Supervision, case: Case, actor: User, response: str) -> None:
    if supervision.responded_at is not None:
        raise CaseError(_("This supervision notice has already been answered."))
    response = _require(response, "response")
    supervision.response = response
    supervision.responded_by_id, supervision.responded_at = actor.id, timeutil.utcnow()
    _touch(case)
    add_event(case, "supervision_answered", actor=actor, department=supervision.department,
              data={"department": supervision.department.name}, internal=True)
    late = timeutil.today() > supervision.respond_by
    record("supervision.answered", supervision, actor=actor,
           details={"case": case.reference, "department": supervision.department.code, "late": late})


def supervision_late(supervision: Supervision, on: date | None = None) -> bool:
    """Unanswered past respond_by, or answered after it."""
    if supervision.responded_at is not None:
        answered_on = supervision.responded_at.astimezone(timeutil.local_zone()).date()
        return answered_on > supervision.respond_by
    return _today(on) > supervision.respond_by


# --- what the pages show -------------------------------------------------------------------

@dataclass
class CasePanel:
    """What the triage, referral and supervision parts of a case page need besides the case itself."""

    supervisions: list[Supervision]
    objection_due: dict[int, date]
    acceptance_due: dict[int, date]
    overdue: bool
    today: date
    duplicates: list[Case] = field(default_factory=list)  # other pending cases of the same people (for triage)


def case_panel(case: Case, user: User, on: date | None = None) -> CasePanel:
    """One query whatever the case holds: its supervision notices.

    The users who decided referrals are loaded in one more query so the table never loads them one by one.
    """
    from portal import policy

    on = _today(on)
    query = (select(Supervision).where(Supervision.case_id == case.id).order_by(Supervision.id)
             .options(joinedload(Supervision.department), joinedload(Supervision.issued_by),
                      joinedload(Supervision.responded_by)))
    supervisions = [s for s in db.session.scalars(query).unique() if policy.can(user, "supervision.view", s)]
    deciders = {r.decided_by_id for r in case.referrals if r.decided_by_id}
    if deciders:
        db.session.scalars(select(User).where(User.id.in_(deciders))).all()  # fills the identity map
    objection_due, acceptance_due = {}, {}
    for clock in case.clocks:
        if clock.referral_id is None:
            continue
        if clock.kind == ClockKind.OBJECTION:
            objection_due[clock.referral_id] = clock.due_on
        elif clock.kind == ClockKind.ACCEPTANCE:
            acceptance_due[clock.referral_id] = clock.due_on
    duplicates = []
    if case.status == CaseStatus.REGISTERED and policy.can(user, "case.triage", case):
        # An online petitioner is never shown other people's cases, so triage is where those duplicates surface.
        duplicates = likely_duplicates([p.id_number for p in case.petitioners], [p.phone for p in case.petitioners],
                                       case.subject, exclude_id=case.id)
    return CasePanel(supervisions, objection_due, acceptance_due, bool(overdue_clocks(case, on)), on,
                     duplicates)


@dataclass
class InboxRow:
    referral: Referral
    acceptance_due: date | None
    objection_due: date
    today: date

    @property
    def can_object(self) -> bool:
        return self.referral.status == ReferralStatus.PENDING and self.today <= self.objection_due

    @property
    def acceptance_state(self) -> str:
        return due_state(self.acceptance_due, self.today)

    @property
    def objection_state(self) -> str:
        return due_state(self.objection_due, self.today)


@dataclass
class Inbox:
    rows: list[InboxRow]
    supervisions: list[tuple[Supervision, Case]]
    cases: list[Case]
    today: date
    more_referrals: bool = False
    more_cases: bool = False
    reviews: list[tuple[Review, Case]] = field(default_factory=list)  # designated to this department, unanswered


def inbox_row(referral: Referral, on: date | None = None) -> InboxRow:
    on = _today(on)
    acceptance = open_clock(referral.case, ClockKind.ACCEPTANCE, referral.id)
    return InboxRow(referral, acceptance.due_on if acceptance else None, objection_deadline(referral), on)


def department_inbox(user: User, on: date | None = None) -> Inbox:
    """A department's pending referrals, supervision notices and cases in four queries, whatever their number."""
    from portal import policy

    on = _today(on)
    department_id = user.department_id
    referrals = list(db.session.scalars(
        select(Referral).join(Referral.case)
        .where(Referral.department_id == department_id, Referral.status == ReferralStatus.PENDING)
        .order_by(Referral.sent_on, Referral.id).limit(LIST_LIMIT + 1)
        .options(contains_eager(Referral.case), joinedload(Referral.department))
    ).unique())
    more_referrals = len(referrals) > LIST_LIMIT
    referrals = referrals[:LIST_LIMIT]
    clocks = db.session.scalars(select(Clock).where(Clock.referral_id.in_([r.id for r in referrals]),
                                                    Clock.kind.in_([ClockKind.ACCEPTANCE, ClockKind.OBJECTION])))
    by_referral: dict[tuple[int, ClockKind], date] = {(c.referral_id, c.kind): c.due_on for c in clocks}
    rows = []
    for referral in referrals:
        objection = by_referral.get((referral.id, ClockKind.OBJECTION))
        if objection is None:
            objection = WorkCalendar().add_working_days(referral.sent_on, rules.OBJECTION_WORKING_DAYS).due
        rows.append(InboxRow(referral, by_referral.get((referral.id, ClockKind.ACCEPTANCE)), objection, on))
    supervisions = list(db.session.execute(
        select(Supervision, Case).join(Case, Case.id == Supervision.case_id)
        .where(Supervision.department_id == department_id)
        .order_by(Supervision.responded_at.is_not(None), Supervision.respond_by, Supervision.id)
        .limit(LIST_LIMIT).options(joinedload(Supervision.issued_by), joinedload(Supervision.department))
    ).unique().all())
    cases = list(db.session.scalars(
        select(Case).where(policy.visible_cases_clause(user), Case.status.in_(OPEN_STATUSES))
        .order_by(Case.next_due_on.asc().nulls_last(), Case.id).limit(LIST_LIMIT + 1)
        .options(joinedload(Case.lead_department))
    ).unique())
    answered = select(Opinion.id).where(Opinion.case_id == Review.case_id, Opinion.level == Review.level)
    reviews = db.session.execute(
        select(Review, Case).join(Case, Case.id == Review.case_id)
        .where(Review.reviewing_department_id == department_id, ~answered.exists())
        .order_by(Review.requested_on, Review.id).limit(LIST_LIMIT)).all()
    return Inbox(rows, [tuple(r) for r in supervisions], cases[:LIST_LIMIT], on, more_referrals,
                 len(cases) > LIST_LIMIT, [tuple(r) for r in reviews])


@dataclass
class Workbench:
    queue: list[Case]
    queue_total: int
    objections: list[Referral]
    supervisions: list[tuple[Supervision, Case]]
    answered: list[tuple[Supervision, Case]]
    overdue: list[Case]
    today: date
    returned_ids: set[int] = field(default_factory=set)
    reviews: list[tuple[Review, Case]] = field(default_factory=list)  # requests waiting for a reviewing department


def staff_workbench(on: date | None = None) -> Workbench:
    """The bureau's home: triage queue, cases returned by objection, supervision notices, overdue cases."""
    on = _today(on)
    queue = list(db.session.scalars(
        select(Case).where(Case.status == CaseStatus.REGISTERED)
        .order_by(Case.next_due_on.asc().nulls_last(), Case.received_on, Case.id).limit(LIST_LIMIT)
        .options(selectinload(Case.petitioners))))
    queue_total = db.session.scalar(select(func.count(Case.id)).where(Case.status == CaseStatus.REGISTERED))
    objections = list(db.session.scalars(
        select(Referral).join(Referral.case)
        .where(Case.status == CaseStatus.REGISTERED, Referral.status == ReferralStatus.OBJECTED)
        .order_by(Referral.objected_at.desc(), Referral.id.desc()).limit(LIST_LIMIT)
        .options(contains_eager(Referral.case), joinedload(Referral.department), joinedload(Referral.decided_by))
    ).unique())
    base = (select(Supervision, Case).join(Case, Case.id == Supervision.case_id)
            .options(joinedload(Supervision.department), joinedload(Supervision.issued_by)))
    supervisions = list(db.session.execute(
        base.where(Supervision.responded_at.is_(None)).order_by(Supervision.respond_by, Supervision.id)
        .limit(LIST_LIMIT)).unique().all())
    answered = list(db.session.execute(
        base.where(Supervision.responded_at.is_not(None)).order_by(Supervision.responded_at.desc())
        .limit(20)).unique().all())
    overdue = list(db.session.scalars(
        select(Case).where(Case.next_due_on < on, Case.status.in_([CaseStatus.REFERRED, CaseStatus.IN_PROGRESS]))
        .order_by(Case.next_due_on, Case.id).limit(LIST_LIMIT).options(joinedload(Case.lead_department))
    ).unique())
    reviews = db.session.execute(
        select(Review, Case).join(Case, Case.id == Review.case_id)
        .where(Review.reviewing_department_id.is_(None), Case.status == CaseStatus.REVIEW)
        .order_by(Review.requested_on, Review.id).limit(LIST_LIMIT)).all()
    return Workbench(queue, queue_total, objections, [tuple(r) for r in supervisions],
                     [tuple(r) for r in answered], overdue, on, {r.case_id for r in objections},
                     [tuple(r) for r in reviews])


def legal_route_notice_pdf(case: Case) -> bytes:
    """The written notice telling the petitioner which legal channel to take (诉访分离), as a PDF."""
    from portal.pdf import render_pdf

    issued_on = None
    for event in sorted(case.events, key=lambda e: e.id, reverse=True):
        if event.kind == "legal_route":
            issued_on = event.at.astimezone(timeutil.local_zone()).date()
            break
    return render_pdf("cases/pdf/legal_route_notice.html", case=case, issued_on=issued_on or timeutil.today())
