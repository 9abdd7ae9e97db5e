"""Handling a case after acceptance: progress, internal notes, pauses, extensions, the handling opinion,
review (复查) and re-review (复核), and the petitioner's satisfaction rating.

No request object here. Every function checks the state of the case first and raises CaseError (nothing
changed) when the step is not possible; otherwise it makes the change, writes the timeline and the audit trail,
and commits. Who may call which function is decided in portal.policy (the views check it).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from flask_babel import force_locale, format_date, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import rules, timeutil, uploads
from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.timeutil import utcnow

from .clocks import (OPTIONAL_WINDOWS, compute_due, extend_clock, open_clock, pause_clock, resume_clock,
                     start_clock, stop_clock)
from .models import (Attachment, Case, CaseEvent, CaseStatus, Clock, ClockKind, Extension, Opinion,
                     OpinionOutcome, Rating, RatingValue, RequestStatus, Review)
from .services import CaseError, add_event

TEXT_MAX = 5000  # progress entries, notes, reasons
OPINION_TEXT_MAX = 20000  # facts and reasons of an opinion

# level -> the clock of the petitioner's window to ask for it, and the clock of its answer
REQUEST_WINDOW = {1: ClockKind.REVIEW_REQUEST, 2: ClockKind.REREVIEW_REQUEST}
ANSWER_CLOCK = {1: ClockKind.REVIEW, 2: ClockKind.REREVIEW}
# Departments the bureau may designate to review an opinion.
REVIEWING_KINDS = (DepartmentKind.PETITION_BUREAU, DepartmentKind.GOVERNMENT_DEPARTMENT, DepartmentKind.STREET_OFFICE)


def _today() -> date:
    return timeutil.today()


def _text(value: str | None, field_name: str, limit: int = TEXT_MAX, message: str | None = None) -> str:
    value = (value or "").strip()
    if not value:
        raise CaseError(message or _("This field is required."), field_name)
    if len(value) > limit:
        raise CaseError(_("At most %(n)d characters.", n=limit), field_name)
    return value


def _touch(case: Case) -> None:
    """Every change goes through the case row, so two people changing the same case at once cannot both win:
    the version column makes the later commit fail instead of silently adding a second pending request."""
    case.updated_at = utcnow()


# --- what the case page needs ----------------------------------------------------------------------

def last_clock(case: Case, kind: ClockKind) -> Clock | None:
    found = [c for c in case.clocks if c.kind == kind]
    return found[-1] if found else None


@dataclass
class HandlingState:
    """Everything the handling, review and rating parts of a case page show, read in a fixed number of queries."""

    case: Case
    on: date
    extensions: list[Extension] = field(default_factory=list)
    opinions: dict[int, Opinion] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    rating: Rating | None = None

    @property
    def handling_clock(self) -> Clock | None:
        return open_clock(self.case, ClockKind.HANDLING)

    @property
    def last_handling_clock(self) -> Clock | None:
        return last_clock(self.case, ClockKind.HANDLING)

    @property
    def pending_extension(self) -> Extension | None:
        return next((e for e in self.extensions if e.status == RequestStatus.PENDING), None)

    @property
    def approved_extensions(self) -> list[Extension]:
        return [e for e in self.extensions if e.status == RequestStatus.APPROVED]

    @property
    def extension_days_used(self) -> int:
        return sum(e.days for e in self.approved_extensions)

    @property
    def extension_days_left(self) -> int:
        return max(0, rules.EXTENSION_MAX_DAYS - self.extension_days_used)

    @property
    def in_handling(self) -> bool:
        return self.case.status == CaseStatus.IN_PROGRESS

    @property
    def can_answer(self) -> bool:
        return self.in_handling and 0 not in self.opinions

    @property
    def can_request_extension(self) -> bool:
        return (self.in_handling and 0 not in self.opinions and self.handling_clock is not None
                and self.pending_extension is None and self.extension_days_left > 0)

    def projected_due(self, extension: Extension) -> date | None:
        clock = self.handling_clock
        return projected_due(clock, extension.days) if clock is not None else None

    # review and re-review
    @property
    def next_review_level(self) -> int | None:
        """The level the petitioner may ask for next (1 review, 2 re-review), if any."""
        if self.case.status in (CaseStatus.LEGAL_ROUTE, CaseStatus.CONCLUDED):
            return None
        if 1 in self.opinions and 2 not in self.reviews:
            return 2
        if 0 in self.opinions and 1 not in self.reviews:
            return 1
        return None

    @property
    def review_window(self) -> Clock | None:
        level = self.next_review_level
        return open_clock(self.case, REQUEST_WINDOW[level]) if level else None

    @property
    def review_window_open(self) -> bool:
        clock = self.review_window
        return clock is not None and self.on <= clock.due_on

    @property
    def final_opinion(self) -> Opinion | None:
        """The opinion that became final because its review window passed unused (or the re-review opinion)."""
        if 2 in self.opinions:
            return self.opinions[2]
        clock = self.review_window
        if clock is not None and self.on > clock.due_on:
            return self.opinions.get(self.next_review_level - 1)
        return None

    @property
    def open_review(self) -> Review | None:
        """The review or re-review that is asked for and not answered yet."""
        for level in (2, 1):
            if level in self.reviews and level not in self.opinions:
                return self.reviews[level]
        return None

    def answer_clock(self, review: Review) -> Clock | None:
        return open_clock(self.case, ANSWER_CLOCK[review.level]) or last_clock(self.case, ANSWER_CLOCK[review.level])

    # rating
    @property
    def rating_open(self) -> bool:
        return 0 in self.opinions and self.rating is None and self.case.status != CaseStatus.LEGAL_ROUTE


def handling_state(case: Case, on: date | None = None) -> HandlingState:
    state = HandlingState(case=case, on=on or _today())
    if case.id is None:
        return state
    state.extensions = list(db.session.scalars(
        select(Extension).where(Extension.case_id == case.id).order_by(Extension.id)))
    state.opinions = {o.level: o for o in db.session.scalars(
        select(Opinion).where(Opinion.case_id == case.id).options(joinedload(Opinion.department)))}
    state.reviews = {r.level: r for r in db.session.scalars(
        select(Review).where(Review.case_id == case.id).options(joinedload(Review.reviewing_department)))}
    state.rating = db.session.scalar(
        select(Rating).where(Rating.case_id == case.id).options(joinedload(Rating.department)))
    return state


def projected_due(clock: Clock, more_days: int) -> date:
    """The due date of `clock` if it were extended by `more_days` more days (nothing is changed)."""
    probe = Clock(kind=clock.kind, started_on=clock.started_on, extension_days=clock.extension_days + more_days,
                  paused_days=clock.paused_days)
    compute_due(probe)
    return probe.due_on


def pausable_clocks(user, case: Case) -> list[Clock]:
    """Running clocks `user` may pause: bureau staff any deadline of the bureau or a department, the lead
    department its handling clock. The petitioner's own windows never pause."""
    clocks = [c for c in case.clocks if c.stopped_on is None and c.paused_since is None
              and c.kind not in OPTIONAL_WINDOWS]
    if user.role == Role.STAFF:
        return clocks
    return [c for c in clocks if c.kind == ClockKind.HANDLING]


def paused_clocks(user, case: Case) -> list[Clock]:
    clocks = [c for c in case.clocks if c.stopped_on is None and c.paused_since is not None]
    if user.role == Role.STAFF:
        return clocks
    return [c for c in clocks if c.kind == ClockKind.HANDLING]


def reviewing_departments() -> list[Department]:
    return list(db.session.scalars(
        select(Department).where(Department.active.is_(True), Department.kind.in_(REVIEWING_KINDS))
        .order_by(Department.kind, Department.name)))


def pending_extensions() -> list[tuple[Extension, Case, Clock | None, date | None]]:
    """Extension requests waiting for a leader, with their case, its handling clock and the due date if approved.
    Requests whose case is no longer in handling (the opinion was issued meanwhile) are left out."""
    from sqlalchemy.orm import selectinload

    rows = db.session.execute(
        select(Extension, Case).join(Case, Case.id == Extension.case_id)
        .where(Extension.status == RequestStatus.PENDING, Case.status == CaseStatus.IN_PROGRESS)
        .options(selectinload(Case.clocks), selectinload(Case.lead_department))
        .order_by(Extension.requested_at, Extension.id)
    ).all()
    result = []
    for extension, case in rows:
        clock = open_clock(case, ClockKind.HANDLING)
        result.append((extension, case, clock, projected_due(clock, extension.days) if clock else None))
    return result


# --- messages to the petitioner --------------------------------------------------------------------

def _petitioner_accounts(case: Case) -> list[User]:
    ids = {p.user_id for p in case.petitioners if p.user_id}
    if case.submitted_by_id:
        ids.add(case.submitted_by_id)
    if not ids:
        return []
    return [u for u in db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id))
            if u.active and u.login]


def _tell_petitioners(case: Case, compose) -> None:
    """Send each petitioner with an account a message in their own language. compose(link) -> (subject, body)."""
    link = external_url("cases.detail", case_id=case.id)
    for user in _petitioner_accounts(case):
        with force_locale(user.locale):
            subject, body = compose(link)
        send_message(user.login, subject, body)


# --- handling by the lead department --------------------------------------------------------------

def add_progress(case: Case, user, text: str, files: list[uploads.CheckedFile] | None = None) -> None:
    """A progress entry the petitioner sees on their case page, optionally with files (already checked by
    portal.uploads.check_files) that the petitioner may download."""
    if case.status != CaseStatus.IN_PROGRESS:
        raise CaseError(_("Progress can be reported only while the case is in handling."))
    text = _text(text, "text")
    stored = uploads.store(files) if files else []
    try:
        attachments = [Attachment(case_id=case.id, stored_name=item.stored_name, original_name=item.original_name,
                                  content_type=item.content_type, size=item.size, sha256=item.sha256,
                                  internal=False, uploaded_by_id=user.id) for item in stored]
        db.session.add_all(attachments)
        db.session.flush()
        event = add_event(case, "progress", actor=user, department=user.department, text=text,
                          data={"attachments": [a.id for a in attachments]} if attachments else None)
        _touch(case)
        record("case.progress_added", case, details={
            "event": _flush_id(event), "department": user.department_id,
            "attachments": [{"id": a.id, "name": a.original_name, "sha256": a.sha256} for a in attachments]})
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove([item.stored_name for item in stored])  # no row points to them
        raise


def progress_files(case: Case) -> list[Attachment]:
    """Files the lead department sent with its progress entries (shown to the petitioner with the answers)."""
    import json

    ids: list[int] = []
    for data in db.session.scalars(select(CaseEvent.data).where(CaseEvent.case_id == case.id,
                                                                CaseEvent.kind == "progress",
                                                                CaseEvent.internal.is_(False))):
        try:
            ids += [int(i) for i in json.loads(data or "{}").get("attachments", [])]
        except (ValueError, TypeError, AttributeError):
            continue
    if not ids:
        return []
    return list(db.session.scalars(select(Attachment).where(Attachment.id.in_(ids), Attachment.case_id == case.id,
                                                            Attachment.internal.is_(False)).order_by(Attachment.id)))


def add_note(case: Case, user, text: str) -> None:
    """An internal note: staff and departments on the case see it, the petitioner never does."""
    text = _text(text, "text")
    event = add_event(case, "note", actor=user, department=user.department, text=text, internal=True)
    _touch(case)
    record("case.note_added", case, details={"event": _flush_id(event)})
    db.session.commit()


def _flush_id(obj) -> int:
    db.session.flush()
    return obj.id


def pause(case: Case, user, clock_id: int | None, reason: str) -> Clock:
    clock = next((c for c in pausable_clocks(user, case) if c.id == clock_id), None)
    if clock is None:
        raise CaseError(_("Choose a running time limit to pause."), "clock_id")
    reason = _text(reason, "reason", message=_("Give the reason for the pause."))
    on = _today()
    if on < clock.started_on:
        raise CaseError(_("This time limit has not started yet."), "clock_id")
    pause_clock(clock, reason, user, on=on)
    add_event(case, "paused", actor=user, department=user.department, data={"clock": clock.kind.value}, text=reason)
    _touch(case)
    record("clock.paused", clock, details={"case": case.id, "kind": clock.kind.value, "reason": reason,
                                           "on": on.isoformat()})
    db.session.commit()
    return clock


def resume(case: Case, user, clock_id: int) -> Clock:
    clock = next((c for c in paused_clocks(user, case) if c.id == clock_id), None)
    if clock is None:
        raise CaseError(_("This time limit is not paused."))
    on = max(_today(), clock.paused_since)
    pause_entry = resume_clock(clock, user, on=on)
    add_event(case, "resumed", actor=user, department=user.department, data={"clock": clock.kind.value})
    _touch(case)
    record("clock.resumed", clock, details={"case": case.id, "kind": clock.kind.value, "on": on.isoformat(),
                                            "paused_days": (on - pause_entry.paused_on).days,
                                            "due_on": clock.due_on.isoformat()})
    db.session.commit()
    return clock


# --- extension (延期) ---------------------------------------------------------------------------------

def request_extension(case: Case, user, days, reason: str) -> Extension:
    state = handling_state(case)
    if not state.in_handling or 0 in state.opinions or state.handling_clock is None:
        raise CaseError(_("An extension can be requested only while the case is in handling."))
    if state.pending_extension is not None:
        raise CaseError(_("An extension request is already waiting for a leader's decision."))
    if not isinstance(days, int) or days < 1:
        raise CaseError(_("Enter a whole number of days, at least 1."), "days")
    if days > state.extension_days_left:
        if state.extension_days_used:
            message = _("Handling can be extended by at most %(max)d days in all; %(used)d are already granted, "
                        "so at most %(left)d more.", max=rules.EXTENSION_MAX_DAYS, used=state.extension_days_used,
                        left=state.extension_days_left)
        else:
            message = _("Handling can be extended by at most %(max)d days.", max=rules.EXTENSION_MAX_DAYS)
        raise CaseError(message, "days")
    reason = _text(reason, "reason", message=_("Give the reason for the extension; the petitioner will read it."))
    extension = Extension(case_id=case.id, days=days, reason=reason, status=RequestStatus.PENDING,
                          requested_by_id=user.id)
    db.session.add(extension)
    add_event(case, "extension_requested", actor=user, department=user.department, data={"days": days},
              text=reason, internal=True)
    _touch(case)
    record("extension.requested", extension, details={"case": case.id, "days": days, "reason": reason})
    db.session.commit()
    return extension


def decide_extension(extension: Extension, user, approve: bool, note: str = "") -> Extension:
    case = db.session.get(Case, extension.case_id)
    if extension.status != RequestStatus.PENDING:
        raise CaseError(_("This extension request has already been decided."))
    note = (note or "").strip()
    if len(note) > TEXT_MAX:
        raise CaseError(_("At most %(n)d characters.", n=TEXT_MAX), "note")
    clock = open_clock(case, ClockKind.HANDLING)
    if approve:
        if case.status != CaseStatus.IN_PROGRESS or clock is None:
            raise CaseError(_("The case is no longer in handling: there is nothing to extend."))
        state = handling_state(case)
        if extension.days > state.extension_days_left:
            raise CaseError(_("Handling can be extended by at most %(max)d days.", max=rules.EXTENSION_MAX_DAYS))
    elif not note:
        raise CaseError(_("Give the reason for refusing."), "note")
    extension.decided_by_id = user.id
    extension.decided_at = utcnow()
    extension.decision_note = note
    if approve:
        before = clock.due_on
        extension.status = RequestStatus.APPROVED
        extend_clock(clock, extension.days)
        # The reason is told to the petitioner: the approval is a visible timeline entry that carries it.
        add_event(case, "extension_approved", actor=user,
                  data={"days": extension.days, "due_on": clock.due_on.isoformat()}, text=extension.reason)
        record("extension.approved", extension, details={"case": case.id, "days": extension.days,
                                                         "due_before": before.isoformat(),
                                                         "due_after": clock.due_on.isoformat(), "note": note})
        due, days, reason, reference = clock.due_on, extension.days, extension.reason, case.reference

        def compose(link):
            return (_("Case %(ref)s: handling extended", ref=reference),
                    _("The time limit for handling your petition %(ref)s is extended by %(days)d days, "
                      "to %(date)s.\nReason: %(reason)s\n\nSee your case: %(link)s", ref=reference, days=days,
                      date=format_date(due, "long"), reason=reason, link=link))

        _tell_petitioners(case, compose)
    else:
        extension.status = RequestStatus.REFUSED
        add_event(case, "extension_refused", actor=user, data={"days": extension.days}, text=note, internal=True)
        record("extension.refused", extension, details={"case": case.id, "days": extension.days, "note": note})
    _touch(case)
    db.session.commit()
    return extension


# --- the handling opinion (处理意见书) and the review opinions ----------------------------------------------

def _outcome(value) -> OpinionOutcome:
    try:
        return OpinionOutcome(value)
    except ValueError:
        raise CaseError(_("Choose support, explanation or no support."), "outcome") from None


def issue_opinion(case: Case, user, outcome, facts: str, reasons: str) -> Opinion:
    """The lead department answers: the handling clock stops and the petitioner's review window opens."""
    state = handling_state(case)
    if 0 in state.opinions:
        raise CaseError(_("The handling opinion has already been issued."))
    if case.status != CaseStatus.IN_PROGRESS:
        raise CaseError(_("The handling opinion can be issued only while the case is in handling."))
    outcome = _outcome(outcome)
    facts = _text(facts, "facts", OPINION_TEXT_MAX)
    reasons = _text(reasons, "reasons", OPINION_TEXT_MAX)
    on = _today()
    opinion = Opinion(case_id=case.id, level=0, department_id=user.department_id, outcome=outcome, facts=facts,
                      reasons=reasons, issued_on=on, issued_by_id=user.id)
    db.session.add(opinion)
    stop_clock(case, ClockKind.HANDLING, on=on)
    window = start_clock(case, ClockKind.REVIEW_REQUEST, on)
    case.status = CaseStatus.ANSWERED
    add_event(case, "answered", actor=user, department=user.department, data={"outcome": outcome.value})
    _touch(case)
    record("opinion.issued", opinion, details={"case": case.id, "level": 0, "outcome": outcome.value,
                                               "issued_on": on.isoformat(),
                                               "review_window_ends": window.due_on.isoformat()})
    _tell_about_opinion(case, opinion, window.due_on)
    db.session.commit()
    return opinion


def opinion_title(level: int) -> str:
    return {0: _("Handling opinion"), 1: _("Review opinion"), 2: _("Re-review opinion")}[level]


def _tell_about_opinion(case: Case, opinion: Opinion, window_ends: date | None) -> None:
    reference, level, outcome = case.reference, opinion.level, opinion.outcome

    def compose(link):
        title = opinion_title(level)
        if window_ends is not None:
            what_next = (_("If you disagree, you may ask for a review until %(date)s.", date=format_date(
                window_ends, "long")) if level == 0 else
                _("If you disagree, you may ask for a re-review until %(date)s.", date=format_date(
                    window_ends, "long")))
        else:
            what_next = _("This opinion is final: the case is concluded.")
        return (_("Case %(ref)s: %(title)s issued", ref=reference, title=title),
                _("The %(title)s on your petition %(ref)s is issued (%(outcome)s). Download it from your case page: "
                  "%(link)s\n\n%(next)s", title=title, ref=reference, outcome=outcome.label, link=link,
                  next=what_next))

    _tell_petitioners(case, compose)


# --- review (复查) and re-review (复核) ------------------------------------------------------------------

def request_review(case: Case, user, reason: str) -> Review:
    """The petitioner asks for review of the handling opinion (level 1) or re-review of the review opinion (2)."""
    state = handling_state(case)
    level = state.next_review_level
    if level is None:
        if case.status == CaseStatus.CONCLUDED:
            raise CaseError(_("The case is concluded: no further review is possible."))
        if state.open_review is not None:
            raise CaseError(_("Your request is already being reviewed."))
        raise CaseError(_("There is no opinion to review yet."))
    window = state.review_window
    if window is None or state.on > window.due_on:
        last = window.due_on if window is not None else None
        raise CaseError(_("The time limit to ask for a review ended on %(date)s: the opinion is final.",
                          date=format_date(last, "long")) if last else
                        _("The time limit to ask for a review has ended: the opinion is final."))
    reason = _text(reason, "reason", message=_("Say why you disagree with the opinion."))
    on = state.on
    review = Review(case_id=case.id, level=level, reason=reason, requested_on=on, requested_by_id=user.id)
    db.session.add(review)
    stop_clock(case, REQUEST_WINDOW[level], on=on)
    answer = start_clock(case, ANSWER_CLOCK[level], on)
    case.status = CaseStatus.REVIEW
    add_event(case, "review_requested" if level == 1 else "rereview_requested", actor=user, text=reason)
    _touch(case)
    record("review.requested", review, details={"case": case.id, "level": level, "requested_on": on.isoformat(),
                                                "answer_due": answer.due_on.isoformat()})
    db.session.commit()
    return review


def designate_reviewer(review: Review, user, department_id) -> Review:
    case = db.session.get(Case, review.case_id)
    state = handling_state(case)
    if review.level in state.opinions:
        raise CaseError(_("This review is already answered."))
    department = db.session.get(Department, department_id) if isinstance(department_id, int) else None
    if department is None or not department.active or department.kind not in REVIEWING_KINDS:
        raise CaseError(_("Choose a department from the list."), "department_id")
    reviewed = state.opinions.get(review.level - 1)
    if reviewed is not None and reviewed.department_id == department.id:
        raise CaseError(_("%(department)s issued the opinion under review; choose another body.",
                          department=department.name), "department_id")
    if review.reviewing_department_id == department.id:
        raise CaseError(_("%(department)s is already designated.", department=department.name), "department_id")
    previous = review.reviewing_department_id
    review.reviewing_department_id = department.id
    add_event(case, "review_designated" if review.level == 1 else "rereview_designated", actor=user,
              department=user.department, data={"department": department.name})
    _touch(case)
    record("review.designated", review, details={"case": case.id, "level": review.level,
                                                 "department": department.id, "previous": previous})
    db.session.commit()
    return review


def answer_review(review: Review, user, outcome, facts: str, reasons: str) -> Opinion:
    """The designated department answers a review (level 1) or re-review (level 2); after re-review the case
    is concluded."""
    case = db.session.get(Case, review.case_id)
    state = handling_state(case)
    if review.level in state.opinions:
        raise CaseError(_("This review is already answered."))
    if case.status != CaseStatus.REVIEW or review.reviewing_department_id is None:
        raise CaseError(_("This review cannot be answered now."))
    outcome = _outcome(outcome)
    facts = _text(facts, "facts", OPINION_TEXT_MAX)
    reasons = _text(reasons, "reasons", OPINION_TEXT_MAX)
    on = _today()
    opinion = Opinion(case_id=case.id, level=review.level, department_id=review.reviewing_department_id,
                      outcome=outcome, facts=facts, reasons=reasons, issued_on=on, issued_by_id=user.id)
    db.session.add(opinion)
    stop_clock(case, ANSWER_CLOCK[review.level], on=on)
    department = db.session.get(Department, review.reviewing_department_id)
    window_ends = None
    if review.level == 1:
        window_ends = start_clock(case, ClockKind.REREVIEW_REQUEST, on).due_on
        case.status = CaseStatus.ANSWERED
        add_event(case, "reviewed", actor=user, department=department, data={"outcome": outcome.value})
    else:
        case.status = CaseStatus.CONCLUDED
        add_event(case, "rereviewed", actor=user, department=department, data={"outcome": outcome.value})
        add_event(case, "concluded", actor=user)
    _touch(case)
    record("opinion.issued", opinion, details={"case": case.id, "level": review.level, "outcome": outcome.value,
                                               "issued_on": on.isoformat(), "review": review.id,
                                               "window_ends": window_ends.isoformat() if window_ends else None})
    if review.level == 2:
        record("case.concluded", case, details={"after": "re-review", "opinion": opinion.id})
    _tell_about_opinion(case, opinion, window_ends)
    db.session.commit()
    return opinion


# --- satisfaction rating (满意度评价) -------------------------------------------------------------------

def rate(case: Case, user, value, comment: str = "") -> Rating:
    """The petitioner rates the handling opinion once; the rating counts for the lead department."""
    if case.status == CaseStatus.LEGAL_ROUTE or case.legal_route is not None:
        raise CaseError(_("Matters routed to courts, arbitration or administrative review are outside rating."))
    state = handling_state(case)
    opinion = state.opinions.get(0)
    if opinion is None:
        raise CaseError(_("You can rate the handling once its opinion is issued."))
    if state.rating is not None:
        raise CaseError(_("This case has already been rated."))
    try:
        value = RatingValue(value)
    except ValueError:
        raise CaseError(_("Choose how satisfied you are."), "value") from None
    comment = (comment or "").strip()
    if len(comment) > TEXT_MAX:
        raise CaseError(_("At most %(n)d characters.", n=TEXT_MAX), "comment")
    department_id = case.lead_department_id or opinion.department_id
    rating = Rating(case_id=case.id, department_id=department_id, value=value, comment=comment, rated_by_id=user.id)
    db.session.add(rating)
    add_event(case, "rated", actor=user, data={"value": value.value}, text=comment)
    _touch(case)
    record("rating.given", rating, details={"case": case.id, "department": department_id, "value": value.value})
    db.session.commit()
    return rating
