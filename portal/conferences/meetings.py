"""Meetings of a joint-conference workspace: candidate slots, the availability grid, fixing a time
(conflict check, notice rule), invitations with iCalendar attachments, rescheduling and cancelling.

No request object here: views pass what they read from their forms. A refusal raises MeetingError (already
translated) before anything is changed; every change writes an audit event and commits.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import rules, timeutil
from portal.accounts.models import Department, Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.scheduling import ics
from portal.scheduling.models import Booking
from portal.scheduling.services import Participants, find_conflicts, free_booking, save_booking
from portal.transactions import Refusal

from .models import Answer, Conference, ConferenceMember, Meeting, MeetingSlot, MeetingStatus, SlotAnswer

BOOKING_KIND = "conference_meeting"
MAX_MINUTES = 12 * 60
MAX_DAYS_AHEAD = 2 * 366  # candidate dates further ahead are typing mistakes
OPEN_STATUSES = (MeetingStatus.POLLING, MeetingStatus.SCHEDULED)


class MeetingError(Refusal):
    """A refusal with a message for the user (already translated) and the form field it concerns."""


class ConflictWarning(MeetingError):
    """The chosen time overlaps other bookings; the office may go ahead after confirming."""

    def __init__(self, conflicts: list[Booking]):
        super().__init__(_("This time overlaps other meetings that share a participant or the room. "
                           "Confirm to fix the meeting anyway."), "confirm_conflicts")
        self.conflicts = conflicts


@dataclass
class SlotInput:
    on: date | None
    at: time | None
    minutes: int | None
    place: str = ""
    room: str = ""
    online_link: str = ""


@dataclass
class SlotRow:
    slot: MeetingSlot
    answers: dict[int, Answer]  # department id -> answer
    counts: dict[Answer, int]


@dataclass
class MeetingView:
    meeting: Meeting
    departments: list[Department]
    rows: list[SlotRow] = field(default_factory=list)
    missing: list[Department] = field(default_factory=list)  # member departments without an answer on some slot

    def row(self, slot_id: int) -> SlotRow | None:
        return next((r for r in self.rows if r.slot.id == slot_id), None)


def _clean(value: str | None, max_length: int, field_name: str) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise MeetingError(_("Use at most %(n)d characters.", n=max_length), field_name)
    return value


def _now(now: datetime | None) -> datetime:
    return now or timeutil.utcnow()


def member_departments(conference: Conference) -> list[Department]:
    """Departments currently in the workspace (members and invited guests), in joining order."""
    return [m.department for m in conference.members if m.left_at is None]


def _member_ids(conference: Conference) -> set[int]:
    return {m.department_id for m in conference.members if m.left_at is None}


def _lock(meeting: Meeting) -> None:
    """Re-read the meeting's state under a row lock (PostgreSQL), so two offices fixing or cancelling the same
    meeting at once take turns instead of both booking it."""
    db.session.refresh(meeting, attribute_names=["status", "sequence", "booking_id", "starts_at", "ends_at",
                                                 "place", "room", "online_link"], with_for_update=True)


def _ensure_open(meeting: Meeting) -> None:
    if meeting.status not in OPEN_STATUSES:
        raise MeetingError(_("This meeting is %(status)s; it can no longer be changed.", status=meeting.status.label))


def _uid_host() -> str:
    base = current_app.config.get("PORTAL_BASE_URL", "")
    host = urlsplit(base).hostname if base else None
    if not host and has_request_context():
        host = request.host.split(":")[0]
    return host or "portal.invalid"


# --- loading ----------------------------------------------------------------------------------------

def _meetings_query():
    return select(Meeting).options(selectinload(Meeting.slots).selectinload(MeetingSlot.answers))


def load_meeting(conference: Conference, meeting_id: int) -> Meeting | None:
    return db.session.scalar(_meetings_query().where(Meeting.id == meeting_id,
                                                     Meeting.conference_id == conference.id))


def build_view(meeting: Meeting, departments: list[Department]) -> MeetingView:
    view = MeetingView(meeting=meeting, departments=departments)
    answered_everywhere = {d.id for d in departments}
    for slot in meeting.slots:
        answers = {a.department_id: a.answer for a in slot.answers}
        counts = {value: 0 for value in Answer}
        for department in departments:
            if department.id in answers:
                counts[answers[department.id]] += 1
            else:
                answered_everywhere.discard(department.id)
        view.rows.append(SlotRow(slot=slot, answers=answers, counts=counts))
    if meeting.slots:
        view.missing = [d for d in departments if d.id not in answered_everywhere]
    return view


def meeting_view(conference: Conference, meeting: Meeting) -> MeetingView:
    return build_view(meeting, member_departments(conference))


def conference_meetings(conference: Conference) -> list[MeetingView]:
    """Every meeting of the workspace with its grid: three queries whatever the number of slots and answers."""
    departments = member_departments(conference)
    meetings = db.session.scalars(_meetings_query().where(Meeting.conference_id == conference.id)
                                  .order_by(Meeting.created_at.desc(), Meeting.id.desc())).all()
    return [build_view(m, departments) for m in meetings]


# --- proposing and candidate slots ---------------------------------------------------------------------

def _slot_times(data: SlotInput, now: datetime) -> tuple[datetime, datetime]:
    if data.on is None:
        raise MeetingError(_("Give the date."), "on")
    if data.at is None:
        raise MeetingError(_("Give the start time."), "at")
    if data.minutes is None:
        raise MeetingError(_("Give the length in minutes."), "minutes")
    if data.minutes <= 0 or data.minutes > MAX_MINUTES:
        raise MeetingError(_("A meeting lasts from 1 to %(n)d minutes.", n=MAX_MINUTES), "minutes")
    local_today = now.astimezone(timeutil.local_zone()).date()
    if data.on < local_today:
        raise MeetingError(_("This time is in the past. Choose a time ahead."), "on")
    if data.on > local_today + timedelta(days=MAX_DAYS_AHEAD):
        raise MeetingError(_("Choose a date within the next %(n)d days.", n=MAX_DAYS_AHEAD), "on")
    starts_at = datetime.combine(data.on, data.at, tzinfo=timeutil.local_zone()).astimezone(UTC)
    ends_at = starts_at + timedelta(minutes=data.minutes)
    if starts_at <= now:
        raise MeetingError(_("This time is in the past. Choose a time ahead."), "on")
    if ends_at <= starts_at:
        raise MeetingError(_("The end must be after the start."), "minutes")
    return starts_at, ends_at


def _new_slot(data: SlotInput, now: datetime) -> MeetingSlot:
    starts_at, ends_at = _slot_times(data, now)
    place = _clean(data.place, 200, "place")
    room = _clean(data.room, 100, "room")
    link = _clean(data.online_link, 500, "online_link")
    if link and not link.lower().startswith(("https://", "http://")):
        raise MeetingError(_("An online link starts with https:// or http://."), "online_link")
    if not (place or room or link):
        raise MeetingError(_("Give a place, a room or an online link."), "place")
    return MeetingSlot(starts_at=starts_at, ends_at=ends_at, place=place, room=room, online_link=link)


def _slot_details(slot: MeetingSlot) -> dict:
    return {"slot_id": slot.id, "starts_at": slot.starts_at.isoformat(), "ends_at": slot.ends_at.isoformat(),
            "place": slot.place, "room": slot.room, "online_link": slot.online_link}


def propose(conference: Conference, user: User, title: str, first_slot: SlotInput | None = None,
            now: datetime | None = None) -> Meeting:
    """A new meeting in the polling state, with a first candidate slot when given."""
    if conference.closed_at is not None:
        raise MeetingError(_("This workspace is closed."))
    title = _clean(title, 200, "title")
    if not title:
        raise MeetingError(_("This field is required."), "title")
    slot = _new_slot(first_slot, _now(now)) if first_slot is not None else None
    meeting = Meeting(conference_id=conference.id, title=title, status=MeetingStatus.POLLING,
                      uid=f"pending-{secrets.token_hex(16)}", sequence=0, created_by_id=user.id)
    if slot is not None:
        meeting.slots.append(slot)
    db.session.add(meeting)
    db.session.flush()
    meeting.uid = f"meeting-{meeting.id}-{secrets.token_hex(6)}@{_uid_host()}"
    record("meeting.proposed", meeting, actor=user,
           details={"conference_id": conference.id, "title": title,
                    "slots": [_slot_details(s) for s in meeting.slots]})
    db.session.commit()
    return meeting


def add_slot(meeting: Meeting, user: User, data: SlotInput, now: datetime | None = None) -> MeetingSlot:
    _ensure_open(meeting)
    slot = _new_slot(data, _now(now))
    if any((s.starts_at, s.ends_at, s.place, s.room, s.online_link)
           == (slot.starts_at, slot.ends_at, slot.place, slot.room, slot.online_link) for s in meeting.slots):
        raise MeetingError(_("This time is already a candidate."), "on")
    meeting.slots.append(slot)
    db.session.flush()
    record("meeting.slot_added", meeting, actor=user, details=_slot_details(slot))
    db.session.commit()
    return slot


def _slot_of(meeting: Meeting, slot_id: int | None) -> MeetingSlot:
    slot = next((s for s in meeting.slots if slot_id is not None and s.id == slot_id), None)
    if slot is None:
        raise MeetingError(_("This time is not a candidate of the meeting (any more). Reload the page."), "slot_id")
    return slot


def remove_slot(meeting: Meeting, user: User, slot_id: int | None) -> None:
    _ensure_open(meeting)
    slot = _slot_of(meeting, slot_id)
    details = _slot_details(slot)
    details["answers"] = len(slot.answers)
    meeting.slots.remove(slot)
    db.session.flush()
    record("meeting.slot_removed", meeting, actor=user, details=details)
    db.session.commit()


# --- the availability grid -------------------------------------------------------------------------------

def answer(meeting: Meeting, user: User, slot_id: int | None, value: str | None) -> SlotAnswer:
    """The user's department answers one slot (a second answer replaces the first)."""
    _ensure_open(meeting)
    department_id = user.department_id
    if department_id is None or department_id not in _member_ids(meeting.conference):
        raise MeetingError(_("Only member departments of the workspace answer the availability grid."))
    slot = _slot_of(meeting, slot_id)
    try:
        chosen = Answer(value)
    except ValueError:
        raise MeetingError(_("Choose yes, if need be or no."), "answer") from None
    existing = next((a for a in slot.answers if a.department_id == department_id), None)
    previous = existing.answer.value if existing else None
    if existing is None:
        existing = SlotAnswer(department_id=department_id, answer=chosen, user_id=user.id)
        slot.answers.append(existing)
    else:
        existing.answer, existing.user_id = chosen, user.id
        existing.answered_at = timeutil.utcnow()
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise MeetingError(_("Someone of your department answered at the same moment. Reload and try again."))
    record("meeting.answered", meeting, actor=user,
           details={"slot_id": slot.id, "department_id": department_id, "answer": chosen.value,
                    "previous": previous})
    db.session.commit()
    return existing


# --- fixing the time ---------------------------------------------------------------------------------------

def participants_of(meeting: Meeting) -> Participants:
    conference = meeting.conference
    return Participants.of([conference.convener_id], _member_ids(conference))


def slot_conflicts(meeting: Meeting, slot: MeetingSlot) -> list[Booking]:
    return find_conflicts(slot.starts_at, slot.ends_at, room=slot.room, participants=participants_of(meeting),
                          exclude=(BOOKING_KIND, meeting.id))


def short_notice(starts_at: datetime, now: datetime | None = None) -> bool:
    """Less notice than a regular meeting needs (rules.MEETING_NOTICE_DAYS)."""
    return starts_at < _now(now) + timedelta(days=rules.MEETING_NOTICE_DAYS)


def fix(meeting: Meeting, user: User, slot_id: int | None, *, confirm_conflicts: bool = False,
        urgent_reason: str = "", now: datetime | None = None) -> Meeting:
    """Fix the meeting at a candidate slot (or move it there): booking, invitations, audit.

    Raises ConflictWarning when other bookings overlap and the office has not confirmed, MeetingError when the
    notice is shorter than the rule and no urgent reason is given.
    """
    _lock(meeting)
    _ensure_open(meeting)
    now = _now(now)
    slot = _slot_of(meeting, slot_id)
    if slot.starts_at <= now:
        raise MeetingError(_("This time is in the past. Choose a time ahead."), "slot_id")
    if (meeting.status == MeetingStatus.SCHEDULED and meeting.starts_at == slot.starts_at
            and meeting.ends_at == slot.ends_at and meeting.room == slot.room and meeting.place == slot.place
            and meeting.online_link == slot.online_link):
        raise MeetingError(_("The meeting is already fixed at this time."), "slot_id")
    urgent = short_notice(slot.starts_at, now)
    reason = _clean(urgent_reason, 4000, "urgent_reason")
    if urgent and not reason:
        raise MeetingError(_("This time gives less than %(n)d days' notice. Give the reason the meeting is urgent.",
                             n=rules.MEETING_NOTICE_DAYS), "urgent_reason")
    conflicts = slot_conflicts(meeting, slot)
    if conflicts and not confirm_conflicts:
        raise ConflictWarning(conflicts)

    rescheduled = meeting.status == MeetingStatus.SCHEDULED
    previous = {"starts_at": meeting.starts_at.isoformat() if meeting.starts_at else None,
                "ends_at": meeting.ends_at.isoformat() if meeting.ends_at else None}
    meeting.status = MeetingStatus.SCHEDULED
    meeting.starts_at, meeting.ends_at = slot.starts_at, slot.ends_at
    meeting.place, meeting.room, meeting.online_link = slot.place, slot.room, slot.online_link
    meeting.urgent, meeting.urgent_reason = urgent, reason if urgent else ""
    if rescheduled:
        meeting.sequence = (meeting.sequence or 0) + 1
    booking = db.session.get(Booking, meeting.booking_id) if meeting.booking_id else None
    booking = save_booking(BOOKING_KIND, meeting.id, meeting.title, slot.starts_at, slot.ends_at, room=slot.room,
                           participants=participants_of(meeting), booking=booking)
    meeting.booking_id = booking.id
    sent = _send(meeting, "REQUEST", rescheduled=rescheduled)
    details = _slot_details(slot)
    details.update({
        "sequence": meeting.sequence, "urgent": urgent, "urgent_reason": meeting.urgent_reason,
        "booking_id": booking.id, "invitations": sent,
        "conflicts": [{"booking_id": b.id, "kind": b.kind, "ref_id": b.ref_id, "title": b.title,
                       "starts_at": b.starts_at.isoformat(), "ends_at": b.ends_at.isoformat(), "room": b.room}
                      for b in conflicts],
        "conflicts_confirmed": bool(conflicts),
    })
    if rescheduled:
        details["previous"] = previous
    record("meeting.rescheduled" if rescheduled else "meeting.scheduled", meeting, actor=user, details=details)
    db.session.commit()
    return meeting


def cancel(meeting: Meeting, user: User, reason: str = "") -> Meeting:
    """Cancel the meeting; a fixed one frees its booking and sends METHOD:CANCEL to the participants."""
    _lock(meeting)
    _ensure_open(meeting)
    reason = _clean(reason, 2000, "reason")
    was_scheduled = meeting.status == MeetingStatus.SCHEDULED
    meeting.status = MeetingStatus.CANCELLED
    sent = 0
    if was_scheduled:
        meeting.sequence = (meeting.sequence or 0) + 1
        booking = db.session.get(Booking, meeting.booking_id) if meeting.booking_id else None
        meeting.booking_id = None
        db.session.flush()
        free_booking(booking)
        sent = _send(meeting, "CANCEL", reason=reason)
    record("meeting.cancelled", meeting, actor=user,
           details={"reason": reason, "was_scheduled": was_scheduled, "sequence": meeting.sequence,
                    "notices": sent})
    db.session.commit()
    return meeting


# --- invitations -------------------------------------------------------------------------------------------

def invitees(meeting: Meeting) -> list[User]:
    """Active representatives of the member departments and the convener."""
    conference = meeting.conference
    department_ids = _member_ids(conference)
    users = db.session.scalars(select(User).where(
        User.active.is_(True),
        ((User.role == Role.DEPARTMENT_REP) & User.department_id.in_(department_ids)) | (User.id == conference.convener_id),
    ).order_by(User.id)).all()
    return list(users)


def _meeting_url(meeting: Meeting) -> str:
    try:
        return external_url("conferences.meeting", conference_id=meeting.conference_id, meeting_id=meeting.id)
    except RuntimeError:  # no request and no base URL configured
        return ""


def location_of(meeting) -> str:
    parts = [p for p in (meeting.place, meeting.room) if p]
    if meeting.online_link:
        parts.append(meeting.online_link)
    return " · ".join(parts)


def event_data(meeting: Meeting, attendees: list[User] | None = None, url: str | None = None) -> ics.EventData:
    conference = meeting.conference
    url = _meeting_url(meeting) if url is None else url
    lines = [conference.title]
    if meeting.online_link:
        lines.append(_("Online: %(link)s", link=meeting.online_link))
    if meeting.urgent:
        lines.append(_("Urgent: %(reason)s", reason=meeting.urgent_reason))
    if url:
        lines.append(url)
    sender = current_app.config.get("MAIL_SENDER", "portal@localhost")
    office = conference.office.name if conference.office else ""
    return ics.EventData(
        uid=meeting.uid, sequence=meeting.sequence or 0, title=meeting.title,
        starts_at=meeting.starts_at, ends_at=meeting.ends_at, location=location_of(meeting),
        description="\n".join(lines), url=url, cancelled=meeting.status == MeetingStatus.CANCELLED,
        organizer=ics.Person(office, sender),
        attendees=tuple(ics.Person(u.display_name, u.email) for u in (attendees or []) if u.email))


def meeting_ics(meeting: Meeting) -> bytes:
    """The .ics download: the current state of a fixed (or cancelled) meeting."""
    method = "CANCEL" if meeting.status == MeetingStatus.CANCELLED else "PUBLISH"
    return ics.message(event_data(meeting, invitees(meeting)), method)


def _send(meeting: Meeting, method: str, *, rescheduled: bool = False, reason: str = "",
          only_department_id: int | None = None) -> int:
    people = invitees(meeting)
    data = ics.message(event_data(meeting, people), method)
    attachment = [(f"meeting-{meeting.id}.ics", f"text/calendar; method={method}", data)]
    zone = timeutil.local_zone()
    url = _meeting_url(meeting)
    sent = 0
    for person in people:
        if not person.email or (only_department_id is not None and person.department_id != only_department_id):
            continue
        with force_locale(person.locale or "zh_CN"):
            when = _("%(start)s to %(end)s (Beijing time)",
                     start=meeting.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                     end=meeting.ends_at.astimezone(zone).strftime("%H:%M"))
            if method == "CANCEL":
                subject = _("Meeting cancelled: %(title)s", title=meeting.title)
                body = _("The meeting \"%(title)s\" of the joint conference \"%(conference)s\" on %(when)s "
                         "is cancelled.", title=meeting.title, conference=meeting.conference.title, when=when)
                if reason:
                    body += "\n" + _("Reason: %(reason)s", reason=reason)
            else:
                subject = (_("Meeting moved: %(title)s", title=meeting.title) if rescheduled
                           else _("Meeting invitation: %(title)s", title=meeting.title))
                body = _("You are invited to the meeting \"%(title)s\" of the joint conference \"%(conference)s\".",
                         title=meeting.title, conference=meeting.conference.title)
                body += "\n" + _("When: %(when)s", when=when)
                if location_of(meeting):
                    body += "\n" + _("Where: %(where)s", where=location_of(meeting))
                if meeting.urgent:
                    body += "\n" + _("Urgent meeting: %(reason)s", reason=meeting.urgent_reason)
            if url:
                body += "\n\n" + url
        send_message(person.email, subject, body, attachment)
        sent += 1
    return sent


def invite_to_upcoming(conference: Conference, department_id: int, now: datetime | None = None) -> int:
    """A department that joins a workspace is booked into and invited to its meetings still to come
    (the others are not sent the invitation again). The caller commits."""
    sent = 0
    db.session.expire(conference, ["members"])  # the new member row is not in the loaded list yet
    upcoming = db.session.scalars(select(Meeting).where(
        Meeting.conference_id == conference.id, Meeting.status == MeetingStatus.SCHEDULED,
        Meeting.starts_at > _now(now))).all()
    for meeting in upcoming:
        booking = db.session.get(Booking, meeting.booking_id) if meeting.booking_id else None
        booking = save_booking(BOOKING_KIND, meeting.id, meeting.title, meeting.starts_at, meeting.ends_at,
                               room=meeting.room, participants=participants_of(meeting), booking=booking)
        meeting.booking_id = booking.id
        sent += _send(meeting, "REQUEST", only_department_id=department_id)
    return sent


# --- feeds and notices ---------------------------------------------------------------------------------------

def user_meetings_query(user: User, statuses=(MeetingStatus.SCHEDULED, MeetingStatus.HELD)):
    """Meetings of the user: their department is a member of the workspace, or they convene it."""
    member_of = select(ConferenceMember.conference_id).where(ConferenceMember.department_id == user.department_id,
                                                             ConferenceMember.left_at.is_(None))
    conditions = Conference.convener_id == user.id
    if user.department_id is not None:
        conditions = conditions | Meeting.conference_id.in_(member_of)
    return (select(Meeting).join(Conference, Conference.id == Meeting.conference_id)
            .where(Meeting.status.in_(statuses), conditions)
            .options(selectinload(Meeting.conference).joinedload(Conference.office))
            .order_by(Meeting.starts_at, Meeting.id))


def user_feed(user: User) -> bytes:
    """The user's private calendar: their joint-conference meetings and their mediation sessions."""
    from portal.mediation.sessions import feed_events

    meetings = db.session.scalars(user_meetings_query(user)).all()
    events = [event_data(m, url="") for m in meetings] + feed_events(user)
    return ics.feed(events, _("Meetings of %(name)s", name=user.display_name))


def upcoming_for(user: User, now: datetime | None = None, limit: int = 20) -> list[Meeting]:
    """Fixed meetings ahead that the user is invited to (the in-portal notice)."""
    query = user_meetings_query(user, (MeetingStatus.SCHEDULED,)).where(Meeting.ends_at > _now(now)).limit(limit)
    return list(db.session.scalars(query))
