"""Intake: staff register letters, visits, calls and faxes; petitioners submit online.

No request object here. Each new case gets its reference and query code, status registered, the routing clock,
a timeline entry and an audit event, in one transaction. Likely duplicates and repeats of a case concluded after
re-review are found before saving: the person registering must link the petition to the pending case or give a
reason to register it separately.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from flask_babel import gettext as _, lazy_gettext as _l
from sqlalchemy import func, select

from portal import rules
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import today
from portal.uploads import StoredFile

from .clocks import start_clock
from .models import Attachment, Case, CaseStatus, Category, Channel, ClockKind, MatterType, Petitioner
from .services import (CaseError, add_event, concluded_with_same_facts, likely_duplicates, new_query_code,
                       next_reference, normalize_id_number, valid_id_number)

STAFF_CHANNELS = (Channel.LETTER, Channel.VISIT, Channel.PHONE, Channel.FAX)
# A sanity bound for the rows of one form (not a rule of the regulations): a joint letter may name many people.
MAX_PETITIONERS = 20
# Dates before this are typing mistakes, not late registrations.
EARLIEST_RECEIVED = date(2000, 1, 1)
OVERRIDE_REASON_MIN = 4

PHONE_RE = re.compile(r"^(?:1[3-9]\d{9}|0\d{2,3}-?\d{7,8}(?:-\d{1,6})?|\d{7,8})$")


def normalize_phone(value: str) -> str:
    """Digits (and the dashes of a landline number); a +86 / 86 prefix and spaces are dropped."""
    value = re.sub(r"[\s()]", "", value or "")
    if value.startswith("+86"):
        value = value[3:]
    elif value.startswith("86") and len(value) == 13:
        value = value[2:]
    return value


def valid_phone(value: str) -> bool:
    return bool(PHONE_RE.match(value))


@dataclass
class PetitionerData:
    name: str
    id_number: str = ""
    phone: str = ""
    address: str = ""
    user_id: int | None = None

    def normalized(self) -> PetitionerData:
        return PetitionerData((self.name or "").strip(), normalize_id_number(self.id_number),
                              normalize_phone(self.phone), (self.address or "").strip(), self.user_id)


@dataclass
class PetitionData:
    channel: Channel
    received_on: date
    matter_type: MatterType
    subject: str
    facts: str
    request: str
    petitioners: list[PetitionerData]
    category_id: int | None = None
    place: str = ""
    group_visit: bool = False


@dataclass
class Decision:
    """What the registering person chose about likely duplicates and a concluded repeat."""

    link_to_id: int | None = None
    override: bool = False
    reason: str = ""
    repeat_acknowledged: bool = False


@dataclass
class Findings:
    duplicates: list[Case] = field(default_factory=list)
    repeat: Case | None = None  # a case concluded after re-review with the same facts
    repeat_shown: bool = True  # False when the registering person may not see that case (flagged silently)

    @property
    def need_decision(self) -> bool:
        return bool(self.duplicates) or (self.repeat is not None and self.repeat_shown)


class DecisionNeeded(Exception):
    """Saving waits until the person links the petition or overrides with a reason."""

    def __init__(self, findings: Findings):
        super().__init__("decision needed")
        self.findings = findings


# --- checks ----------------------------------------------------------------------------------------

def check_petitioner(p: PetitionerData, index: int, *, id_required: bool) -> None:
    prefix = f"petitioners-{index}-"
    if not p.name:
        raise CaseError(_("Enter the petitioner's name."), prefix + "name")
    if len(p.name) > 100:
        raise CaseError(_("The name is longer than %(n)d characters.", n=100), prefix + "name")
    if p.id_number or id_required:
        if not valid_id_number(p.id_number):
            raise CaseError(_("This is not a valid resident ID number: 18 characters, the last one a digit or X, "
                              "with a matching check digit."), prefix + "id_number")
    if p.phone and not valid_phone(p.phone):
        raise CaseError(_("Enter a mobile number (11 digits) or a landline number with its area code."),
                        prefix + "phone")
    if len(p.address) > 300:
        raise CaseError(_("The address is longer than %(n)d characters.", n=300), prefix + "address")


def check_group(channel: Channel, group_visit: bool, rows: int) -> None:
    """A group visit names at most 5 representatives; no form names more than MAX_PETITIONERS people."""
    if group_visit and channel != Channel.VISIT:
        raise CaseError(_("Only a visit can be a group visit."), "group_visit")
    if group_visit and rows > rules.GROUP_VISIT_MAX_REPRESENTATIVES:
        raise CaseError(_("A group visit names at most %(n)d representatives (Regulations art. 20).",
                          n=rules.GROUP_VISIT_MAX_REPRESENTATIVES), "petitioners")
    if rows > MAX_PETITIONERS:
        raise CaseError(_("At most %(n)d petitioners can be named on one case.", n=MAX_PETITIONERS), "petitioners")


def check_petition(data: PetitionData, *, online: bool) -> PetitionData:
    """The petition with normalized values; raises CaseError (with the field) for the first problem."""
    data.petitioners = [p.normalized() for p in data.petitioners]
    allowed = (Channel.ONLINE,) if online else STAFF_CHANNELS
    if data.channel not in allowed:
        raise CaseError(_("Choose how the petition arrived."), "channel")
    if not isinstance(data.received_on, date):
        raise CaseError(_("Enter the date the petition was received."), "received_on")
    if data.received_on > today():
        raise CaseError(_("The date received cannot be in the future."), "received_on")
    if data.received_on < EARLIEST_RECEIVED:
        raise CaseError(_("Check the date received."), "received_on")
    if not data.petitioners:
        raise CaseError(_("Name at least one petitioner."), "petitioners")
    check_group(data.channel, data.group_visit, len(data.petitioners))
    seen = set()
    for index, p in enumerate(data.petitioners):
        check_petitioner(p, index, id_required=online)
        if p.id_number:
            if p.id_number in seen:
                raise CaseError(_("The same ID number is given twice."), f"petitioners-{index}-id_number")
            seen.add(p.id_number)
    if not isinstance(data.matter_type, MatterType):
        raise CaseError(_("Choose the type of matter."), "matter_type")
    if data.category_id:
        category = db.session.get(Category, data.category_id)
        if category is None or not category.active:
            raise CaseError(_("Choose a category from the list."), "category_id")
    data.subject, data.place = (data.subject or "").strip(), (data.place or "").strip()
    data.facts, data.request = (data.facts or "").strip(), (data.request or "").strip()
    for name, value, limit, message in (
        ("subject", data.subject, 200, _("Give the petition a short subject.")),
        ("facts", data.facts, 20000, _("Describe the facts and reasons.")),
        ("request", data.request, 20000, _("State what the petitioner asks for.")),
    ):
        if not value:
            raise CaseError(message, name)
        if len(value) > limit:
            raise CaseError(_("This text is longer than %(n)d characters.", n=limit), name)
    if len(data.place) > 200:
        raise CaseError(_("This text is longer than %(n)d characters.", n=200), "place")
    return data


def find(data: PetitionData, user=None) -> Findings:
    """Likely duplicates and a concluded repeat. For a petitioner, only cases they may see are shown."""
    from portal.policy import can_see_case

    ids = [p.id_number for p in data.petitioners if p.id_number]
    phones = [p.phone for p in data.petitioners if p.phone]
    duplicates = likely_duplicates(ids, phones, data.subject)
    repeat = concluded_with_same_facts(ids, data.subject)
    findings = Findings(duplicates, repeat)
    if user is not None and data.channel == Channel.ONLINE:
        findings.duplicates = [c for c in duplicates if can_see_case(user, c)]
        findings.repeat_shown = repeat is None or can_see_case(user, repeat)
    return findings


def _check_decision(findings: Findings, decision: Decision | None) -> None:
    decision = decision or Decision()
    if findings.duplicates:
        if decision.link_to_id is not None:
            if decision.link_to_id not in {c.id for c in findings.duplicates}:
                raise CaseError(_("Choose one of the pending petitions listed."), "duplicate_choice")
        elif decision.override:
            if len(decision.reason.strip()) < OVERRIDE_REASON_MIN:
                raise CaseError(_("Write why this petition is registered separately."), "override_reason")
        else:
            raise DecisionNeeded(findings)
    if findings.repeat is not None and findings.repeat_shown and not decision.repeat_acknowledged:
        raise DecisionNeeded(findings)


# --- saving --------------------------------------------------------------------------------------------

def register_case(data: PetitionData, *, actor, decision: Decision | None = None,
                  attachments: list[StoredFile] | None = None) -> Case:
    """Save a new case (staff registration when the channel is not online, else the actor's online submission).

    Raises CaseError for bad input, DecisionNeeded while likely duplicates wait for a decision. Commits.
    """
    online = data.channel == Channel.ONLINE
    data = check_petition(data, online=online)
    attachments = list(attachments or [])
    if len(attachments) > rules.ATTACHMENTS_PER_CASE:
        raise CaseError(_("At most %(n)d files can be attached.", n=rules.ATTACHMENTS_PER_CASE), "attachments")
    findings = find(data, actor)
    _check_decision(findings, decision)
    decision = decision or Decision()

    case = Case(reference=next_reference(data.received_on.year), query_code=new_query_code(),
                channel=data.channel, matter_type=data.matter_type, category_id=data.category_id or None,
                subject=data.subject, facts=data.facts, request=data.request, place=data.place,
                received_on=data.received_on, status=CaseStatus.REGISTERED, group_visit=data.group_visit,
                registered_by_id=None if online else actor.id, submitted_by_id=actor.id if online else None)
    for position, p in enumerate(data.petitioners):
        case.petitioners.append(Petitioner(
            position=position, name=p.name, id_number=p.id_number, phone=p.phone, address=p.address,
            is_representative=data.group_visit, user_id=actor.id if online and position == 0 else p.user_id))
    linked = None
    if findings.duplicates:
        if decision.link_to_id is not None:
            linked = next(c for c in findings.duplicates if c.id == decision.link_to_id)
            case.duplicate_of_id = linked.id
        else:
            case.duplicate_override_reason = decision.reason.strip()
    if findings.repeat is not None:
        case.repeats_concluded_id = findings.repeat.id
    db.session.add(case)
    start_clock(case, ClockKind.ROUTING, data.received_on)

    if online:
        add_event(case, "submitted", actor=actor, data={"channel": case.channel.value})
    else:
        add_event(case, "registered", actor=actor, department=actor.department,
                  data={"channel": case.channel.value})
    # A staff member's judgement on duplicates is internal; the petitioner's own choice is theirs to see.
    if linked is not None:
        add_event(case, "duplicate_linked", actor=actor, data={"other": linked.reference}, internal=not online)
    elif findings.duplicates:
        add_event(case, "duplicate_override", actor=actor, internal=not online,
                  data={"other": ", ".join(c.reference for c in findings.duplicates),
                        "reason": case.duplicate_override_reason})
    if findings.repeat is not None:
        add_event(case, "repeats_concluded", actor=actor, data={"other": findings.repeat.reference},
                  internal=not (online and findings.repeat_shown))

    for item in attachments:
        case.attachments.append(Attachment(stored_name=item.stored_name, original_name=item.original_name,
                                           content_type=item.content_type, size=item.size, sha256=item.sha256,
                                           uploaded_by_id=actor.id))
    db.session.flush()
    record("case.registered", case, actor=actor, details={
        "reference": case.reference, "channel": case.channel.value, "petitioners": len(case.petitioners),
        "group_visit": case.group_visit, "duplicate_of": linked.reference if linked else None,
        "duplicate_override": case.duplicate_override_reason or None,
        "repeats_concluded": findings.repeat.reference if findings.repeat else None,
        "attachments": [{"id": a.id, "name": a.original_name, "sha256": a.sha256} for a in case.attachments],
    })
    if online and actor.login:
        _acknowledge(case, actor)
    db.session.commit()
    return case


def _acknowledge(case: Case, user) -> None:
    """The online petitioner gets the reference and query code in writing too."""
    from flask_babel import force_locale

    from portal.mail.services import external_url, send_message

    with force_locale(user.locale):
        subject = _("Petition %(ref)s received", ref=case.reference)
        body = _("Your petition %(ref)s (%(subject)s) was received on %(date)s. Query code: %(code)s.\n"
                 "The petition bureau routes it within %(days)d days. Follow it here:\n%(link)s",
                 ref=case.reference, subject=case.subject, date=case.received_on.isoformat(), code=case.query_code,
                 days=rules.ROUTING_DAYS, link=external_url("cases.detail", case_id=case.id))
    send_message(user.login, subject, body)


# --- categories (admin-managed list) ---------------------------------------------------------------

def save_category(category: Category | None, *, name: str, position: int, active: bool) -> Category:
    """Create or change a category; names are unique whatever their case. Writes the audit trail and commits."""
    name = " ".join((name or "").split())
    if not name:
        raise CaseError(_("This field is required."), "name")
    clash = db.session.scalar(select(Category.id).where(func.lower(Category.name) == name.lower(),
                                                        Category.id != (category.id if category else -1)))
    if clash is not None:
        raise CaseError(_("Another category already has this name."), "name")
    if category is None:
        category = Category(name=name, position=position, active=active)
        db.session.add(category)
        record("category.created", category, details={"name": name, "position": position, "active": active})
    else:
        before = {"name": category.name, "position": category.position, "active": category.active}
        category.name, category.position, category.active = name, position, active
        after = {"name": name, "position": position, "active": active}
        changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changes:
            record("category.updated", category, details=changes)
    db.session.commit()
    return category


def active_categories() -> list[Category]:
    return list(db.session.scalars(select(Category).where(Category.active.is_(True))
                                   .order_by(Category.position, Category.name)))


# --- the public query page ---------------------------------------------------------------------------

def find_by_query_code(reference: str, code: str) -> Case | None:
    """The case whose reference and query code both match; None otherwise (one answer for both mistakes)."""
    import hmac

    reference = re.sub(r"\s+", "", reference or "").upper()
    code = re.sub(r"[\s-]+", "", code or "").upper()
    if not reference or not code or len(reference) > 24 or len(code) > 12:
        return None
    case = db.session.scalar(select(Case).where(Case.reference == reference))
    if case is None or not hmac.compare_digest(case.query_code.encode(), code.encode()):
        return None
    return case


# What the public query page says about a timeline entry: a step name and its date, never the entry's text.
PUBLIC_STEPS = {
    "registered": _l("Registered"),
    "submitted": _l("Submitted online"),
    "rejected": _l("Not accepted"),
    "referred": _l("Sent to the handling department"),
    "legal_route": _l("Routed to the legal channel"),
    "mediation_referral": _l("Referred to mediation"),
    "accepted": _l("Accepted by the handling department"),
    "objected": _l("Returned for new routing"),
    "extension_approved": _l("Handling time extended"),
    "answered": _l("Handling opinion issued"),
    "rated": _l("Rated"),
    "review_requested": _l("Review requested"),
    "reviewed": _l("Review opinion issued"),
    "rereview_requested": _l("Re-review requested"),
    "rereviewed": _l("Re-review opinion issued"),
    "concluded": _l("Concluded"),
}


@dataclass
class PublicStatus:
    reference: str
    status: CaseStatus
    received_on: date
    lead_department: str | None
    steps: list[tuple[datetime, str]]


def public_status(case: Case) -> PublicStatus:
    """What anyone holding the reference and query code may read: no names, numbers, facts or free text."""
    from .models import CaseEvent

    events = db.session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                        CaseEvent.internal.is_(False))
                                .order_by(CaseEvent.at, CaseEvent.id)).all()
    steps = [(e.at, str(PUBLIC_STEPS[e.kind])) for e in events if e.kind in PUBLIC_STEPS]
    return PublicStatus(case.reference, case.status, case.received_on,
                        case.lead_department.name if case.lead_department else None, steps)
