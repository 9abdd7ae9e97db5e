"""The mediation matter: its mediators, room and parties, a party's withdrawal of consent, the outcome, and what the
matter page, the list and the case page read.

The referral itself is made by triage (portal.cases.triage.refer_to_mediation), which opens the matter. No request
object here: views pass what they read from their forms. Every change writes the audit trail and commits through
@atomic; a refusal raises MediationError (already translated) before anything is changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified

from portal import rules, timeutil
from portal.accounts.models import Department, Role, User
from portal.audit.services import record
from portal.cases.clocks import start_clock
from portal.cases.models import Case, CaseStatus, ClockKind, LegalRoute
from portal.cases.services import add_event
from portal.extensions import db
from portal.mail.services import external_url, send_message

from .models import (
    AfterMediation,
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    PartySide,
    ProceedingRecord,
    RecordStatus,
    SessionStatus,
)
from .services import MediationError, active_parties, atomic, ensure_consent, ensure_open
from .sessions import cancel_open_sessions, invite_party_to_upcoming

LIST_LIMIT = 200
# What the outcome form offers: the ends of a mediation other than a withdrawal of consent.
OUTCOME_KINDS = (MediationStatus.AGREEMENT, MediationStatus.ORAL_AGREEMENT, MediationStatus.NO_AGREEMENT)


def _clean(value: str | None) -> str:
    return (value or "").strip()


def _require(value: str | None, field: str, max_length: int = 4000) -> str:
    value = _clean(value)
    if not value:
        raise MediationError(_("This field is required."), field)
    if len(value) > max_length:
        raise MediationError(_("Use at most %(n)d characters.", n=max_length), field)
    return value


def _local_date(moment: datetime) -> date:
    return moment.astimezone(timeutil.local_zone()).date()


def _matter_link(matter: MediationReferral) -> str:
    return external_url("mediation.matter", matter_id=matter.id) if has_request_context() else ""


# --- who can be chosen ----------------------------------------------------------------------------------

def mediators() -> list[User]:
    """Active users with the mediator role, the people who can be assigned to a matter."""
    return list(db.session.scalars(select(User).where(User.role == Role.MEDIATOR, User.active.is_(True))
                                   .order_by(User.display_name, User.id)))


def party_departments() -> list[Department]:
    from portal.cases.triage import referral_departments

    return referral_departments()


# --- mediators and room ---------------------------------------------------------------------------------

@atomic
def assign_mediator(matter: MediationReferral, actor: User, user_id: int | None) -> MediationMediator:
    ensure_open(matter)
    user = next((u for u in mediators() if u.id == user_id), None)
    if user is None:
        raise MediationError(_("Choose an active mediator."), "user_id")
    if any(m.user_id == user.id for m in matter.mediators):
        raise MediationError(_("%(name)s already mediates this matter.", name=user.display_name), "user_id")
    assignment = MediationMediator(user_id=user.id, added_by_id=actor.id, added_at=timeutil.utcnow())
    matter.mediators.append(assignment)
    _touch(matter)
    if user.login and user.id != actor.id:
        with force_locale(user.locale):
            send_message(user.login, _("You mediate %(ref)s", ref=matter.case.reference),
                         _("You are assigned as mediator of %(ref)s (%(subject)s) at %(committee)s:\n%(link)s",
                           ref=matter.case.reference, subject=matter.case.subject,
                           committee=matter.committee.name, link=_matter_link(matter)))
    record("mediation.mediator_assigned", matter, actor=actor,
           details={"case": matter.case.reference, "mediator": user.id, "name": user.display_name})
    return assignment


@atomic
def remove_mediator(matter: MediationReferral, actor: User, user_id: int) -> None:
    ensure_open(matter)
    assignment = next((m for m in matter.mediators if m.user_id == user_id), None)
    if assignment is None:
        raise MediationError(_("This mediator is not assigned to the matter."))
    if len(matter.mediators) <= 1:
        raise MediationError(_("A matter keeps at least one mediator: assign another one first."))
    name = assignment.user.display_name
    matter.mediators.remove(assignment)
    _touch(matter)
    record("mediation.mediator_removed", matter, actor=actor,
           details={"case": matter.case.reference, "mediator": user_id, "name": name})


@atomic
def set_room(matter: MediationReferral, actor: User, room: str) -> None:
    ensure_open(matter)
    room = _require(room, "room", 100)
    before = matter.room
    matter.room = room
    record("mediation.room_set", matter, actor=actor,
           details={"case": matter.case.reference, "room": room, "before": before})


def _touch(matter: MediationReferral) -> None:
    """Mark the matter changed so its version rises: a concurrent change of the same matter then fails (and
    becomes a message) instead of mixing with this one."""
    flag_modified(matter, "room")


# --- parties ---------------------------------------------------------------------------------------

def _check_consent(consent_on: date | None, consent_how: str, on: date, prefix: str = "consent") -> str:
    if consent_on is None:
        raise MediationError(_("Enter the date of this party's consent: mediation needs it."), f"{prefix}_on")
    if consent_on > on:
        raise MediationError(_("A consent cannot be dated in the future."), f"{prefix}_on")
    return _require(consent_how, f"{prefix}_how", 200)


@atomic
def add_party(matter: MediationReferral, actor: User, *, side: PartySide, kind: str,
              petitioner_id: int | None = None, department_id: int | None = None, name: str = "",
              phone: str = "", consent_on: date | None = None, consent_how: str = "",
              on: date | None = None) -> MediationParty:
    """A further party with its own recorded consent: a petitioner of the case, a department, or a named person."""
    ensure_open(matter)
    on = on or timeutil.today()
    if not isinstance(side, PartySide):
        raise MediationError(_("Choose the side of the party."), "side")
    party = MediationParty(side=side, added_by_id=actor.id, phone="")
    if kind == "petitioner":
        petitioner = next((p for p in matter.case.petitioners if p.id == petitioner_id), None)
        if petitioner is None:
            raise MediationError(_("Choose a petitioner of this case."), "petitioner_id")
        if any(p.petitioner_id == petitioner.id and p.withdrawn_on is None for p in matter.parties):
            raise MediationError(_("%(name)s is already a party.", name=petitioner.name), "petitioner_id")
        party.petitioner_id, party.name = petitioner.id, petitioner.name
    elif kind == "department":
        department = next((d for d in party_departments() if d.id == department_id), None)
        if department is None:
            raise MediationError(_("Choose an active department."), "department_id")
        if any(p.department_id == department.id and p.withdrawn_on is None for p in matter.parties):
            raise MediationError(_("%(name)s is already a party.", name=department.name), "department_id")
        party.department_id, party.name = department.id, department.name
    elif kind == "person":
        party.name = _require(name, "name", 200)
        party.phone = _clean(phone)
        if len(party.phone) > 20:
            raise MediationError(_("Use at most %(n)d characters.", n=20), "phone")
    else:
        raise MediationError(_("Choose who the party is."), "kind")
    party.consent_how = _check_consent(consent_on, consent_how, on)
    party.consent_on = consent_on
    matter.parties.append(party)
    _touch(matter)
    told = _tell_department_party(matter, party)
    _invite_to_upcoming(matter, party, actor)
    record("mediation.party_added", party, actor=actor,
           details={"case": matter.case.reference, "matter": matter.id, "side": side.value, "kind": kind,
                    "name": party.name, "department": party.department_id, "consent_on": consent_on,
                    "consent_how": party.consent_how, "representatives_told": told})
    return party


def _tell_department_party(matter: MediationReferral, party: MediationParty) -> int:
    """A department that becomes a party later is told as one named at the referral is (triage.refer_to_mediation):
    each active representative gets "your department is a party", in their language, with the link to the matter.
    The case's petitioners were told at the referral; a named person has no account. Returns the messages sent."""
    if party.department_id is None:
        return 0
    from portal.cases.triage import department_representatives

    db.session.flush()  # the party is on the matter before the link is followed
    case, link, sent = matter.case, _matter_link(matter), 0
    for user in department_representatives(party.department_id):
        if not user.login:
            continue
        with force_locale(user.locale):
            subject = _("Mediation on %(ref)s", ref=case.reference)
            body = _("Your department is a party to the mediation of %(ref)s (%(subject)s) at %(committee)s:\n"
                     "%(link)s", ref=case.reference, subject=case.subject, committee=matter.committee.name,
                     link=link)
        send_message(user.login, subject, body)
        sent += 1
    return sent


def _invite_to_upcoming(matter: MediationReferral, party: MediationParty, actor: User) -> int:
    """A party that joins an open matter (a department's representatives, a petitioner with an account) is invited
    to the sessions already scheduled, with their calendar files; a named person without an account is told by the
    mediator. Returns the invitations sent."""
    db.session.flush()  # the party has its id for the invitation and the audit trail
    return invite_party_to_upcoming(matter, party, actor=actor)


@atomic
def withdraw_consent(matter: MediationReferral, actor: User, *, party_id: int | None, withdrawn_on: date | None,
                     reason: str, on: date | None = None) -> MediationParty:
    """A party withdraws its consent: the matter ends with that reason and the case goes back to the bureau's
    triage, as after mediation without agreement."""
    ensure_open(matter)
    on = on or timeutil.today()
    party = next((p for p in active_parties(matter) if p.id == party_id), None)
    if party is None:
        raise MediationError(_("Choose a party whose consent stands."), "party_id")
    if withdrawn_on is None:
        raise MediationError(_("Enter the date the consent was withdrawn."), "withdrawn_on")
    if withdrawn_on > on:
        raise MediationError(_("The withdrawal cannot be dated in the future."), "withdrawn_on")
    if withdrawn_on < party.consent_on:
        raise MediationError(_("The withdrawal cannot be dated before the consent (%(date)s).",
                               date=party.consent_on.isoformat()), "withdrawn_on")
    reason = _require(reason, "reason")
    party.withdrawn_on, party.withdrawal_reason = withdrawn_on, reason
    case = matter.case
    matter.status, matter.outcome_text, matter.after = MediationStatus.WITHDRAWN, reason, AfterMediation.HANDLING
    matter.closed_at, matter.closed_by_id = timeutil.utcnow(), actor.id
    add_event(case, "mediation_withdrawn", actor=actor, department=matter.committee, data={"party": party.name})
    _back_to_triage(case, actor, on)
    _call_off_sessions(matter, actor, _("The mediation ended: %(party)s withdrew consent.", party=party.name))

    def compose(case, link):
        return (_("Mediation of your petition %(ref)s has ended", ref=case.reference),
                _("The mediation of your petition %(ref)s (%(subject)s) has ended: %(party)s withdrew consent.\n"
                  "Reason: %(reason)s\nThe petition bureau routes your petition again.\n%(link)s",
                  ref=case.reference, subject=case.subject, party=party.name, reason=reason, link=link))

    told = _tell_petitioners(case, compose)
    court_told = tell_court(matter, lambda matter, link: (
        _("Court-entrusted mediation of %(court_ref)s has ended", court_ref=matter.court_reference),
        _("The mediation your court entrusted (file number %(court_ref)s; petition %(ref)s, %(subject)s) has "
          "ended at %(committee)s: %(party)s withdrew consent.\nReason: %(reason)s\n%(link)s",
          court_ref=matter.court_reference, ref=case.reference, subject=case.subject,
          committee=matter.committee.name, party=party.name, reason=reason, link=link)))
    record("mediation.consent_withdrawn", matter, actor=actor,
           details={"case": case.reference, "party": party.id, "name": party.name, "withdrawn_on": withdrawn_on,
                    "reason": reason, "petitioners_told": told, "court_told": court_told})
    return party


def _tell_petitioners(case: Case, compose) -> int:
    from portal.cases.triage import _tell_petitioners as tell

    return tell(case, compose)


def tell_court(matter: MediationReferral, compose) -> int:
    """Send compose(matter, link) -> (subject, body) to every active representative of the court that entrusted
    the matter (诉调对接), in their language, with a link to the matter; none for a referral from a petition."""
    if matter.court_id is None:
        return 0
    from portal.cases.triage import department_representatives

    link = _matter_link(matter)
    sent = 0
    for user in department_representatives(matter.court_id):
        if not user.login:
            continue
        with force_locale(user.locale):
            subject, body = compose(matter, link)
        send_message(user.login, subject, body)
        sent += 1
    return sent


def _call_off_sessions(matter: MediationReferral, actor: User, reason: str) -> None:
    """Sessions still ahead are cancelled when the matter ends, and their participants told."""
    cancel_open_sessions(matter, actor, reason)


def _back_to_triage(case: Case, actor: User, on: date) -> None:
    """The case returns to the bureau's triage queue with a fresh routing time limit, the way a case returned
    by a department's objection does (triage.object_to): the earlier routing clock stopped at the referral."""
    case.status = CaseStatus.REGISTERED
    case.lead_department_id = None
    start_clock(case, ClockKind.ROUTING, on)
    add_event(case, "mediation_returned", actor=actor)


# --- the outcome ---------------------------------------------------------------------------------

def locked_held_records(matter: MediationReferral) -> int:
    """How many held sessions of the matter have a locked proceedings record."""
    return db.session.scalar(
        select(func.count(ProceedingRecord.id))
        .join(MediationSession, MediationSession.id == ProceedingRecord.session_id)
        .where(MediationSession.referral_id == matter.id, MediationSession.status == SessionStatus.HELD,
               ProceedingRecord.status == RecordStatus.LOCKED)) or 0


def unlocked_records(matter: MediationReferral) -> int:
    """How many sessions of the matter have a proceedings record that is not yet locked."""
    return db.session.scalar(
        select(func.count(ProceedingRecord.id))
        .join(MediationSession, MediationSession.id == ProceedingRecord.session_id)
        .where(MediationSession.referral_id == matter.id, ProceedingRecord.status != RecordStatus.LOCKED)) or 0


@atomic
def record_outcome(matter: MediationReferral, actor: User, *, kind: MediationStatus | None, text: str = "",
                   after: AfterMediation | None = None, legal_route: LegalRoute | None = None,
                   legal_route_notice: str = "", on: date | None = None) -> None:
    """Agreement reached (the written agreement is drafted next), an oral agreement (art. 28: the terms as
    recorded), or no agreement with the reason, the case then going back to handling or to the legal channel.

    An agreement of either kind needs at least one held session whose record is locked (the record is what the
    agreement rests on); "no agreement" may be recorded without one (the other side may never have come).

    An oral agreement concludes the case at once (conclude_by_mediation): its terms are in the locked record and
    nothing else is to come. After "agreement reached" the case stays "in mediation" until the written agreement
    takes effect (conclude_after_agreement, called when the sealed document is issued).
    """
    ensure_open(matter)
    on = on or timeutil.today()
    if kind not in OUTCOME_KINDS:
        raise MediationError(_("Choose the outcome."), "kind")
    if unlocked_records(matter):
        raise MediationError(_("A session's proceedings record is not locked yet. Lock every record (read back "
                               "and confirmed) before recording the outcome."))
    case = matter.case
    text = _clean(text)
    if kind in (MediationStatus.AGREEMENT, MediationStatus.ORAL_AGREEMENT):
        ensure_consent(matter)
        if not locked_held_records(matter):
            raise MediationError(_("An agreement needs at least one held session whose proceedings record is "
                                   "locked. Hold a session and lock its record first."), "kind")
    if kind == MediationStatus.ORAL_AGREEMENT:
        text = _require(text, "text")
    elif kind == MediationStatus.NO_AGREEMENT:
        text = _require(text, "text")
        if not isinstance(after, AfterMediation):
            raise MediationError(_("Choose where the case goes now."), "after")
        if after == AfterMediation.LEGAL_ROUTE:
            if not isinstance(legal_route, LegalRoute):
                raise MediationError(_("Choose litigation, arbitration or administrative review."), "legal_route")
            legal_route_notice = _require(legal_route_notice, "legal_route_notice")
    elif len(text) > 4000:
        raise MediationError(_("Use at most %(n)d characters.", n=4000), "text")
    if kind != MediationStatus.NO_AGREEMENT:
        after = None
    matter.status, matter.outcome_text, matter.after = kind, text, after
    matter.closed_at, matter.closed_by_id = timeutil.utcnow(), actor.id
    add_event(case, "mediation_outcome", actor=actor, department=matter.committee, data={"mediation": kind.value})
    _call_off_sessions(matter, actor, _("The mediation ended: %(outcome)s.", outcome=kind.label))
    if after == AfterMediation.HANDLING:
        _back_to_triage(case, actor, on)
    elif after == AfterMediation.LEGAL_ROUTE:
        case.status = CaseStatus.LEGAL_ROUTE
        case.legal_route, case.legal_route_notice = legal_route, legal_route_notice
        add_event(case, "legal_route", actor=actor, data={"route": legal_route.value})
    elif kind == MediationStatus.ORAL_AGREEMENT:
        conclude_by_mediation(case, actor, "oral agreement", matter)
    else:
        case.updated_at = timeutil.utcnow()  # the case page shows the outcome: its version rises too

    def compose(case, link):
        subject = _("Mediation of your petition %(ref)s: %(outcome)s", ref=case.reference, outcome=kind.label)
        if kind == MediationStatus.AGREEMENT:
            body = _("The parties reached agreement in the mediation of %(ref)s (%(subject)s). The written "
                     "mediation agreement is drafted next for everyone to sign.\n%(link)s",
                     ref=case.reference, subject=case.subject, link=link)
        elif kind == MediationStatus.ORAL_AGREEMENT:
            body = _("The parties reached an oral agreement in the mediation of %(ref)s (%(subject)s). The "
                     "mediator recorded its terms:\n%(terms)s\nYour petition is closed: settled by this oral "
                     "agreement.\n%(link)s",
                     ref=case.reference, subject=case.subject, terms=text, link=link)
        elif after == AfterMediation.LEGAL_ROUTE:
            body = _("The mediation of %(ref)s (%(subject)s) ended without agreement.\nReason: %(reason)s\n"
                     "The matter is to be pursued through %(route)s.\n%(notice)s\n"
                     "The written notice can be downloaded from your case page:\n%(link)s",
                     ref=case.reference, subject=case.subject, reason=text, route=legal_route.label,
                     notice=legal_route_notice, link=link)
        else:
            body = _("The mediation of %(ref)s (%(subject)s) ended without agreement.\nReason: %(reason)s\n"
                     "The petition bureau routes your petition again for handling.\n%(link)s",
                     ref=case.reference, subject=case.subject, reason=text, link=link)
        return subject, body

    told = _tell_petitioners(case, compose)

    def compose_court(matter, link):
        body = _("The mediation your court entrusted (file number %(court_ref)s; petition %(ref)s, %(subject)s) "
                 "has ended at %(committee)s: %(outcome)s.", court_ref=matter.court_reference, ref=case.reference,
                 subject=case.subject, committee=matter.committee.name, outcome=kind.label)
        if text:
            body += "\n" + text
        return (_("Court-entrusted mediation of %(court_ref)s: %(outcome)s", court_ref=matter.court_reference,
                  outcome=kind.label), body + "\n" + link)

    court_told = tell_court(matter, compose_court)
    record("mediation.outcome", matter, actor=actor,
           details={"case": case.reference, "outcome": kind.value, "text": text,
                    "after": after.value if after else None,
                    "legal_route": legal_route.value if after == AfterMediation.LEGAL_ROUTE else None,
                    "petitioners_told": told, "court_told": court_told})


# --- concluding the case after an agreement -------------------------------------------------------------------
# A case resolved by a mediation agreement is CONCLUDED: it leaves every work queue and its clocks have long
# stopped (the routing clock stopped at the referral). CONCLUDED elsewhere follows a re-review, and intake refuses
# a new petition repeating the facts of a case concluded *after re-review* (services.concluded_with_same_facts joins
# the level-2 review). A case concluded by mediation has no such review, so a later petition on the same facts is
# not refused on that ground: the agreement is binding as a contract (People's Mediation Law art. 31), and a
# dispute over its performance goes to the committee's follow-up or to the court, not back to the bureau. Nor is
# the case rated: rating concerns a department's handling opinion, and there is none.

def conclude_by_mediation(case: Case, actor: User | None, after: str, matter: MediationReferral) -> bool:
    """Conclude the case still in mediation with a timeline entry and the audit trail (no commit, no message)."""
    if case.status != CaseStatus.MEDIATION:
        return False
    case.status = CaseStatus.CONCLUDED
    case.updated_at = timeutil.utcnow()
    add_event(case, "mediation_concluded", actor=actor, department=matter.committee,
              data={"mediation": matter.status.value})
    record("case.concluded", case, actor=actor, details={"after": after, "matter": matter.id})
    return True


def conclude_after_agreement(matter: MediationReferral, actor: User | None = None) -> bool:
    """The written agreement of `matter` has taken effect: the case is concluded and the petitioners told.

    Called in the transaction that issues the sealed agreement (which commits); `matter` must belong to the session
    that runs it. Does nothing unless the outcome was "agreement reached" and the case is still in mediation."""
    if matter.status != MediationStatus.AGREEMENT:
        return False
    case = matter.case
    if not conclude_by_mediation(case, actor, "mediation agreement", matter):
        return False

    def compose(case, link):
        return (_("Your petition %(ref)s is closed: settled by mediation", ref=case.reference),
                _("The mediation agreement of your petition %(ref)s (%(subject)s) is in effect. Your petition is "
                  "closed: settled by the mediation agreement. The mediation committee follows up its "
                  "performance.\n%(link)s",
                  ref=case.reference, subject=case.subject, link=link))

    _tell_petitioners(case, compose)
    return True


# --- what the pages read ------------------------------------------------------------------------------

def days_since_referral(matter: MediationReferral, on: date | None = None) -> int:
    """Calendar days from the referral to the outcome (while open: to today)."""
    end = _local_date(matter.closed_at) if matter.closed_at else (on or timeutil.today())
    return max(0, (end - _local_date(matter.referred_at)).days)


def running_long(matter: MediationReferral, on: date | None = None) -> bool:
    return matter.status == MediationStatus.OPEN and days_since_referral(matter, on) > rules.MEDIATION_USUAL_DAYS


@dataclass
class MatterPage:
    matter: MediationReferral
    days: int
    running_long: bool
    held: int
    unlocked: int
    usual_days: int = rules.MEDIATION_USUAL_DAYS
    locked_held: int = 0  # held sessions with a locked record (an agreement needs one)


def matter_page(matter: MediationReferral, on: date | None = None) -> MatterPage:
    """The matter with its case, committee, court and the mediators' accounts (a fixed number of queries)."""
    db.session.scalars(select(MediationMediator).where(MediationMediator.referral_id == matter.id)
                       .options(joinedload(MediationMediator.user))).all()  # fills the identity map
    held = sum(1 for s in matter.sessions if s.status == SessionStatus.HELD)
    is_open = matter.status == MediationStatus.OPEN
    unlocked = unlocked_records(matter) if is_open else 0
    locked_held = locked_held_records(matter) if is_open else 0
    return MatterPage(matter, days_since_referral(matter, on), running_long(matter, on), held, unlocked,
                      locked_held=locked_held)


def load_page_matter(matter_id: int) -> MediationReferral | None:
    """A matter for its page: parties, mediators and sessions, with the case, committee and court joined."""
    return db.session.scalar(
        select(MediationReferral).where(MediationReferral.id == matter_id)
        .options(joinedload(MediationReferral.case).selectinload(Case.petitioners),
                 joinedload(MediationReferral.committee), joinedload(MediationReferral.court),
                 selectinload(MediationReferral.parties).joinedload(MediationParty.petitioner),
                 selectinload(MediationReferral.parties).joinedload(MediationParty.department),
                 selectinload(MediationReferral.mediators).joinedload(MediationMediator.user),
                 selectinload(MediationReferral.sessions)))


@dataclass
class MatterRow:
    matter: MediationReferral
    held: int
    days: int
    running_long: bool


STATUS_FILTERS = ("open", "ended", "all") + tuple(s.value for s in MediationStatus if s != MediationStatus.OPEN)


def list_matters(user: User, status: str = "open", on: date | None = None) -> tuple[list[MatterRow], bool]:
    """The matters `user` may see, filtered by status ("open", "ended", "all" or a status value); two queries."""
    from portal import policy

    on = on or timeutil.today()
    held = (select(func.count(MediationSession.id))
            .where(MediationSession.referral_id == MediationReferral.id, MediationSession.status == SessionStatus.HELD)
            .correlate(MediationReferral).scalar_subquery())
    query = (select(MediationReferral, held).join(MediationReferral.case)
             .where(policy.visible_mediations_clause(user))
             .options(contains_eager(MediationReferral.case), joinedload(MediationReferral.committee),
                      selectinload(MediationReferral.mediators).joinedload(MediationMediator.user)))
    if status == "open":
        query = query.where(MediationReferral.status == MediationStatus.OPEN).order_by(MediationReferral.referred_at,
                                                                                       MediationReferral.id)
    else:
        if status == "ended":
            query = query.where(MediationReferral.status != MediationStatus.OPEN)
        elif status != "all":
            query = query.where(MediationReferral.status == MediationStatus(status))
        query = query.order_by(MediationReferral.referred_at.desc(), MediationReferral.id.desc())
    rows = db.session.execute(query.limit(LIST_LIMIT + 1)).unique().all()
    result = [MatterRow(m, n or 0, days_since_referral(m, on), running_long(m, on)) for m, n in rows[:LIST_LIMIT]]
    return result, len(rows) > LIST_LIMIT


def case_mediation(case: Case) -> MediationReferral | None:
    """The latest mediation matter of a case, with its committee, court, parties and mediators (three queries)."""
    if case.id is None:
        return None
    return db.session.scalar(
        select(MediationReferral).where(MediationReferral.case_id == case.id)
        .order_by(MediationReferral.id.desc()).limit(1)
        .options(joinedload(MediationReferral.committee), joinedload(MediationReferral.court),
                 selectinload(MediationReferral.parties),
                 selectinload(MediationReferral.mediators).joinedload(MediationMediator.user)))
