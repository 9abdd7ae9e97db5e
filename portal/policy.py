"""Who may do what: the one place for access rules.

* PERMISSIONS maps each permission to the roles that hold it.
* OBJECT_RULES narrows a permission to particular objects (a department representative
  only where their department takes part, a petitioner only their own).
* Every route declares its rule with one of the decorators below: @public, @signed_in
  or @requires("permission"). tests/test_access_routes.py fails for a route without one.
* Templates call can(...) (a Jinja global) to show or hide the same controls.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user

from portal.accounts.models import Role

A = Role.ADMIN
S = Role.STAFF
M = Role.MEDIATOR
D = Role.DEPARTMENT_REP
L = Role.LEADER
P = Role.PETITIONER
EVERYONE = frozenset(Role)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "account.use": EVERYONE,  # own profile, password, language
    "admin.dashboard": frozenset({A}),
    "admin.users": frozenset({A}),
    "admin.departments": frozenset({A}),
    "admin.invitations": frozenset({A}),
    "admin.outbox": frozenset({A}),
    "admin.audit": frozenset({A}),
    "admin.holidays": frozenset({A}),
    "user.view": frozenset({A}),
    "user.edit": frozenset({A}),
    "user.deactivate": frozenset({A}),
    "admin.categories": frozenset({A}),
    # --- petition cases ---
    "case.register": frozenset({S}),  # letters, visits, calls and faxes registered by bureau staff
    "case.submit": frozenset({P}),  # online petitions, once the petitioner's contact is confirmed
    "case.list": frozenset({S, M, L, D}),
    "case.view": frozenset({S, M, L, D, P}),
    "case.view_personal": frozenset({S, M, L, D}),  # whole ID numbers and phones, each view audited
    "case.acknowledgment": frozenset({S, P}),  # the receipt with reference and query code
    "case.triage": frozenset({S}),
    "case.note": frozenset({S, M, L, D}),  # internal notes, never shown to the petitioner
    # The internal side of a case (internal notes, events and files): never the petitioner, nor a department that
    # only takes part as a mediation party or as the entrusting court.
    "case.internal": frozenset({S, M, L, D}),
    "case.supervise": frozenset({S, L}),
    "case.export": frozenset({S, L}),
    "case.pause": frozenset({S, D}),
    "referral.decide": frozenset({D}),
    "case.handle": frozenset({D}),  # progress, extension request, handling opinion: the lead department
    "extension.decide": frozenset({L}),
    "supervision.respond": frozenset({D}),
    "supervision.view": frozenset({S, L, D}),  # a department sees only the notices addressed to it
    "case.review_request": frozenset({P}),
    "case.rate": frozenset({P}),
    "case.claim": frozenset({P}),  # add a staff-registered case to one's account (query code + code to the phone)
    # The opinion PDFs (handling, review, re-review): the petitioner, departments on the case, the bureau.
    "opinion.download": frozenset({S, L, D, P}),
    "review.designate": frozenset({S}),  # the bureau names the department that reviews an opinion
    "review.answer": frozenset({S, D}),  # the designated department (the bureau itself included) answers
    "attachment.download": frozenset({S, M, L, D, P}),
    # --- joint conferences (联席会议) ---
    "conference.open": frozenset({S}),  # the office (petition bureau staff) opens a workspace
    "conference.list": frozenset({A, S, L, D}),
    "conference.view": frozenset({A, S, L, D}),  # narrowed to members, the convener, the office, admins
    "conference.manage": frozenset({S}),  # members, slots, agenda, attendance, minutes drafts, tasks (the office)
    "conference.post": frozenset({S, L, D}),  # messages and documents inside a workspace one may view
    "meeting.answer": frozenset({D}),  # a member department answers the availability grid
    "minutes.comment": frozenset({D, L}),  # comments and proposed amendments on a draft
    "minutes.approve": frozenset({L}),  # the convener of that workspace
    "task.list": frozenset({S, L, D}),
    "task.report": frozenset({D}),  # the responsible department reports progress
    "task.supervise": frozenset({S, L}),
    "task.answer_supervision": frozenset({D}),
    "calendar.feed": EVERYONE,
    # --- mediation (访调对接 / 诉调对接) ---
    "mediation.list": frozenset({S, M, L, D}),  # matters and their figures; a department sees those it is party to
    "mediation.view": frozenset({S, M, L, D, P}),  # narrowed to the bureau, mediators and the parties
    # Parties, mediators, sessions, the record, confirmations, locking, errata, the outcome: the mediators of the
    # matter and of its committee.
    "mediation.manage": frozenset({M}),
    "mediation.caucus": frozenset({M}),  # private caucus notes (背对背) and the file copy that holds them
    "record.confirm": frozenset({D, P}),  # a party confirms (or declines) the read-back record from its account
    # --- mediation agreements (调解协议书) ---
    "agreement.view": frozenset({S, M, L, D, P}),  # the bureau, mediators, leaders and the parties
    "agreement.draft": frozenset({M}),  # versions, obligations, opening signing, reminders
    "agreement.comment": frozenset({M, D, P}),  # parties and mediators comment on a draft
    "agreement.sign": frozenset({D, P}),  # a party signs (or declines) for itself; a department through its rep
    "agreement.sign_mediator": frozenset({M}),  # a mediator assigned to the matter
    "agreement.seal": frozenset({M}),  # the committee's seal, applied by its mediators
    "agreement.in_person": frozenset({M}),  # a party signs on the mediator's device after an ID check
    # Copies: the parties, the committee's archive, and the court that entrusted the mediation or is asked to
    # confirm the agreement; nobody else.
    "agreement.download": frozenset({M, D, P}),
    "agreement.report": frozenset({D, P}),  # the obliged party reports performance
    "agreement.answer": frozenset({P}),  # the petitioner confirms or disputes a report
    "agreement.supervise": frozenset({M}),  # follow-up of performance and judicial confirmation
    "admin.signing": frozenset({A}),  # committee seal images and signing certificates
}

# Roles that see every case; a mediator sees the cases in mediation with them, a department representative and a
# petitioner only their own (see below).
CASE_WIDE_ROLES = frozenset({S, L})


def _own_case(user, case) -> bool:
    return case.submitted_by_id == user.id or any(p.user_id == user.id for p in case.petitioners)


def _department_handles(user, case) -> bool:
    """A department works on a case while it holds a referral that it has not objected to, when the bureau has
    designated it to review (复查) or re-review (复核) an opinion on the case, or as a member of a joint conference
    on it. Such a department also sees the internal notes and the petitioners' full personal data."""
    from portal.cases.models import ReferralStatus

    if any(r.department_id == user.department_id and r.status != ReferralStatus.OBJECTED
           for r in case.referrals):
        return True
    return _reviews_case(user, case) or _in_conference_on(user, case)


def _department_takes_part(user, case) -> bool:
    """Besides the departments that work on it, a department that is a party to a mediation on the case (it may
    be the other side) or the court that entrusted that mediation sees the case, but not its internal side."""
    return _department_handles(user, case) or _mediation_party_on(user, case)


def _conference_cases(department_id):
    """Cases of the joint-conference workspaces a department is a member of (members work on them together)."""
    from sqlalchemy import select

    from portal.conferences.models import ConferenceCase, ConferenceMember

    return (select(ConferenceCase.case_id)
            .join(ConferenceMember, ConferenceMember.conference_id == ConferenceCase.conference_id)
            .where(ConferenceMember.department_id == department_id, ConferenceMember.left_at.is_(None)))


def _in_conference_on(user, case) -> bool:
    from portal.conferences.models import ConferenceCase
    from portal.extensions import db

    if user.department_id is None or case.id is None:
        return False
    query = _conference_cases(user.department_id).where(ConferenceCase.case_id == case.id).limit(1)
    return db.session.scalar(query) is not None


def _mediation_party_cases(department_id):
    """Cases on which a department is a party to mediation, or the court that entrusted it (诉调对接)."""
    from sqlalchemy import or_, select

    from portal.mediation.models import MediationParty, MediationReferral

    return (select(MediationReferral.case_id).where(or_(
        MediationReferral.court_id == department_id,
        MediationReferral.id.in_(select(MediationParty.referral_id)
                                 .where(MediationParty.department_id == department_id)))))


def _mediated_cases(user):
    """Cases referred to the mediator's committee or to a matter the mediator is assigned to."""
    from sqlalchemy import or_, select

    from portal.mediation.models import MediationMediator, MediationReferral

    return select(MediationReferral.case_id).where(or_(
        MediationReferral.committee_id == user.department_id,
        MediationReferral.id.in_(select(MediationMediator.referral_id).where(MediationMediator.user_id == user.id))))


def _mediates_case(user, case) -> bool:
    from portal.extensions import db
    from portal.mediation.models import MediationReferral

    if case.id is None:
        return False
    return db.session.scalar(_mediated_cases(user).where(MediationReferral.case_id == case.id).limit(1)) is not None


def _mediation_party_on(user, case) -> bool:
    from portal.extensions import db
    from portal.mediation.models import MediationReferral

    if user.department_id is None or case.id is None:
        return False
    query = _mediation_party_cases(user.department_id).where(MediationReferral.case_id == case.id).limit(1)
    return db.session.scalar(query) is not None


def _reviews_case(user, case) -> bool:
    from sqlalchemy import select

    from portal.cases.models import Review
    from portal.extensions import db

    if user.department_id is None or case.id is None:
        return False
    return db.session.scalar(select(Review.id).where(Review.case_id == case.id,
                                                     Review.reviewing_department_id == user.department_id)
                             .limit(1)) is not None


def _is_lead(user, case) -> bool:
    from portal.cases.models import ReferralRole, ReferralStatus

    return any(r.department_id == user.department_id and r.role == ReferralRole.LEAD
               and r.status == ReferralStatus.ACCEPTED for r in case.referrals)


def can_see_case(user, case) -> bool:
    if user.role in CASE_WIDE_ROLES:
        return True
    if user.role == Role.MEDIATOR:
        return _mediates_case(user, case)
    if user.role == Role.DEPARTMENT_REP:
        return _department_takes_part(user, case)
    if user.role == Role.PETITIONER:
        return _own_case(user, case)
    return False


def sees_internal(user, case) -> bool:
    """The bureau and leaders; mediators on the cases they mediate; departments that work on the case."""
    if user.role in CASE_WIDE_ROLES:
        return True
    if user.role == Role.MEDIATOR:
        return _mediates_case(user, case)
    if user.role == Role.DEPARTMENT_REP:
        return _department_handles(user, case)
    return False


def visible_cases_clause(user):
    """The SQL condition for the cases `user` may see: the list-page twin of can_see_case()."""
    from sqlalchemy import false, or_, select, true

    from portal.cases.models import Case, Petitioner, Referral, ReferralStatus, Review

    if user.role in CASE_WIDE_ROLES:
        return true()
    if user.role == Role.MEDIATOR:
        return Case.id.in_(_mediated_cases(user))
    if user.role == Role.DEPARTMENT_REP:
        return or_(Case.id.in_(select(Referral.case_id).where(Referral.department_id == user.department_id,
                                                              Referral.status != ReferralStatus.OBJECTED)),
                   Case.id.in_(select(Review.case_id).where(Review.reviewing_department_id == user.department_id)),
                   Case.id.in_(_conference_cases(user.department_id)),
                   Case.id.in_(_mediation_party_cases(user.department_id)))
    if user.role == Role.PETITIONER:
        return or_(Case.submitted_by_id == user.id,
                   Case.id.in_(select(Petitioner.case_id).where(Petitioner.user_id == user.id)))
    return false()


def conference_member_department_ids(conference) -> set[int]:
    return {m.department_id for m in conference.members if m.left_at is None}


def can_see_conference(user, conference) -> bool:
    """Members' representatives, the convener, the office (bureau staff) and admins."""
    if user.role in (Role.ADMIN, Role.STAFF):
        return True
    if user.role == Role.LEADER:
        return conference.convener_id == user.id
    if user.role == Role.DEPARTMENT_REP:
        return user.department_id in conference_member_department_ids(conference)
    return False


def visible_conferences_clause(user):
    """The SQL twin of can_see_conference()."""
    from sqlalchemy import false, select, true

    from portal.conferences.models import Conference, ConferenceMember

    if user.role in (Role.ADMIN, Role.STAFF):
        return true()
    if user.role == Role.LEADER:
        return Conference.convener_id == user.id
    if user.role == Role.DEPARTMENT_REP:
        return Conference.id.in_(select(ConferenceMember.conference_id).where(
            ConferenceMember.department_id == user.department_id, ConferenceMember.left_at.is_(None)))
    return false()


def mediates(user, matter) -> bool:
    """A mediator assigned to the matter, or one of the committee the matter is referred to."""
    return user.role == Role.MEDIATOR and (user.department_id == matter.committee_id
                                           or any(m.user_id == user.id for m in matter.mediators))


def party_of(user, matter):
    """The party of the matter this user speaks for (a petitioner, or a department's representative), or None."""
    for party in matter.parties:
        if user.role == Role.DEPARTMENT_REP and party.department_id is not None \
                and party.department_id == user.department_id:
            return party
        if user.role == Role.PETITIONER and party.petitioner is not None and party.petitioner.user_id == user.id:
            return party
    return None


def can_see_mediation(user, matter) -> bool:
    """The bureau and leaders; the matter's mediators and its committee's; a party's petitioner or department;
    the petitioner of the case; the court that entrusted the mediation."""
    if user.role in CASE_WIDE_ROLES:
        return True
    if user.role == Role.MEDIATOR:
        return mediates(user, matter)
    if user.role == Role.PETITIONER and _own_case(user, matter.case):
        return True
    if user.role == Role.DEPARTMENT_REP and matter.court_id is not None and matter.court_id == user.department_id:
        return True
    return party_of(user, matter) is not None


def visible_mediations_clause(user):
    """The SQL twin of can_see_mediation() for the list page."""
    from sqlalchemy import false, or_, select, true

    from portal.cases.models import Case, Petitioner
    from portal.mediation.models import MediationParty, MediationReferral

    if user.role in CASE_WIDE_ROLES:
        return true()
    if user.role == Role.MEDIATOR:
        from portal.mediation.models import MediationMediator

        return or_(MediationReferral.committee_id == user.department_id,
                   MediationReferral.id.in_(select(MediationMediator.referral_id)
                                            .where(MediationMediator.user_id == user.id)))
    if user.role == Role.DEPARTMENT_REP:
        return or_(MediationReferral.court_id == user.department_id,
                   MediationReferral.id.in_(select(MediationParty.referral_id)
                                            .where(MediationParty.department_id == user.department_id)))
    if user.role == Role.PETITIONER:
        own = select(Case.id).where(or_(Case.submitted_by_id == user.id, Case.id.in_(
            select(Petitioner.case_id).where(Petitioner.user_id == user.id))))
        return MediationReferral.case_id.in_(own)
    return false()


def _court_of_agreement(user, agreement) -> bool:
    """The court that entrusted the mediation, or a court asked for judicial confirmation of the agreement."""
    if user.role != Role.DEPARTMENT_REP or user.department_id is None:
        return False
    if agreement.referral.court_id == user.department_id:
        return True
    from sqlalchemy import select

    from portal.agreements.models import JudicialConfirmation
    from portal.extensions import db

    return db.session.scalar(select(JudicialConfirmation.id).where(
        JudicialConfirmation.agreement_id == agreement.id,
        JudicialConfirmation.court_id == user.department_id).limit(1)) is not None


# Conditions on the user alone, whatever the object.
USER_RULES: dict[str, Callable] = {
    "case.submit": lambda user: user.contact_confirmed,
}

# permission -> rule(user, obj) that must also hold when an object is given
OBJECT_RULES: dict[str, Callable] = {
    # An admin never deactivates their own account, so the portal cannot lose its last admin by accident.
    "user.deactivate": lambda user, target: user.id != target.id,
    "case.view": can_see_case,
    "case.view_personal": lambda user, case: sees_internal(user, case),
    "case.note": lambda user, case: sees_internal(user, case),
    "case.internal": lambda user, case: sees_internal(user, case),
    "case.acknowledgment": lambda user, case: user.role == Role.STAFF or _own_case(user, case),
    "case.supervise": can_see_case,
    "case.pause": lambda user, case: user.role == Role.STAFF or _is_lead(user, case),
    "case.handle": _is_lead,
    "referral.decide": lambda user, referral: (referral.department_id == user.department_id
                                               and referral.status.value == "pending"),
    "supervision.respond": lambda user, supervision: supervision.department_id == user.department_id,
    "supervision.view": lambda user, supervision: (user.role != Role.DEPARTMENT_REP
                                                   or supervision.department_id == user.department_id),
    "case.review_request": _own_case,
    "case.rate": _own_case,
    "opinion.download": can_see_case,
    "review.answer": lambda user, review: (user.department_id is not None
                                           and review.reviewing_department_id == user.department_id),
    "conference.view": can_see_conference,
    "conference.manage": can_see_conference,
    "conference.post": can_see_conference,
    "meeting.answer": lambda user, meeting: user.department_id in conference_member_department_ids(meeting.conference),
    "minutes.comment": lambda user, minutes: can_see_conference(user, minutes.meeting.conference),
    "minutes.approve": lambda user, minutes: minutes.meeting.conference.convener_id == user.id,
    "task.report": lambda user, task: task.department_id == user.department_id,
    "task.supervise": lambda user, task: can_see_conference(user, task.conference),
    "task.answer_supervision": lambda user, supervision: supervision.task.department_id == user.department_id,
    "mediation.view": can_see_mediation,
    "mediation.manage": mediates,
    "mediation.caucus": mediates,
    # A party of the matter, for itself only (the service checks the record's state).
    "record.confirm": lambda user, matter: party_of(user, matter) is not None,
    "agreement.view": lambda user, agreement: (can_see_mediation(user, agreement.referral)
                                               or _court_of_agreement(user, agreement)),
    "agreement.draft": lambda user, agreement: mediates(user, agreement.referral),
    "agreement.comment": lambda user, agreement: (mediates(user, agreement.referral)
                                                  or party_of(user, agreement.referral) is not None),
    "agreement.sign": lambda user, agreement: party_of(user, agreement.referral) is not None,
    "agreement.sign_mediator": lambda user, agreement: any(m.user_id == user.id
                                                           for m in agreement.referral.mediators),
    "agreement.seal": lambda user, agreement: mediates(user, agreement.referral),
    "agreement.in_person": lambda user, agreement: mediates(user, agreement.referral),
    "agreement.download": lambda user, agreement: (mediates(user, agreement.referral)
                                                   or party_of(user, agreement.referral) is not None
                                                   or _court_of_agreement(user, agreement)),
    "agreement.report": lambda user, obligation: (
        party_of(user, obligation.agreement_version.agreement.referral) == obligation.party),
    "agreement.answer": lambda user, agreement: (
        (party := party_of(user, agreement.referral)) is not None and party.side.value == "applicant"),
    "agreement.supervise": lambda user, agreement: mediates(user, agreement.referral),
    "attachment.download": lambda user, attachment: (can_see_case(user, attachment.case)
                                                     and not (attachment.internal
                                                              and not sees_internal(user, attachment.case))),
}


def has_role_permission(user, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.role in PERMISSIONS[permission]


def can(user, permission: str, obj=None) -> bool:
    if not has_role_permission(user, permission):
        return False
    user_rule = USER_RULES.get(permission)
    if user_rule is not None and not user_rule(user):
        return False
    rule = OBJECT_RULES.get(permission)
    if obj is not None and rule is not None:
        return bool(rule(user, obj))
    return True


def ensure(permission: str, obj=None) -> None:
    """Abort with 403 unless the current user may do `permission` (on `obj`)."""
    if not can(current_user, permission, obj):
        abort(403)


# --- route declarations ---------------------------------------------------------------

def _declare(view, rule: str):
    view.access_rule = rule
    return view


def public(view):
    """Anyone, signed in or not."""
    return _declare(view, "public")


def signed_in(view):
    """Any signed-in user; object checks happen inside the view through ensure()."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            from portal.extensions import login_manager

            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return _declare(wrapper, "signed_in")


def requires(permission: str):
    """Signed-in users whose role holds `permission`; others get 403, anonymous users the log-in page."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                from portal.extensions import login_manager

                return login_manager.unauthorized()
            if not has_role_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapper, f"requires:{permission}")

    return decorator


def allowed_roles(view) -> frozenset[Role] | None:
    """The roles a declared route admits (None for public routes). Used by the access tests."""
    rule = getattr(view, "access_rule", None)
    if rule == "public":
        return None
    if rule == "signed_in":
        return EVERYONE
    if rule and rule.startswith("requires:"):
        return PERMISSIONS[rule.split(":", 1)[1]]
    raise LookupError("route declares no access rule")
