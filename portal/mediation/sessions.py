"""Mediation sessions: scheduling with the shared conflict check (portal.scheduling), invitations with an
iCalendar attachment, rescheduling (same UID, higher SEQUENCE), cancelling (METHOD:CANCEL, the booking freed),
the .ics of one session and the sessions of a user (calendar feed, notices).

Who takes part in a session: the matter's mediators, the active representatives of the party departments and the
accounts of the petitioner parties; parties whose consent is withdrawn are left out. A session whose proceedings
record exists has started: it is neither moved nor cancelled any more.

No request object here. A refusal raises MediationError (already translated) before anything changes; every
change writes an audit event and commits through @atomic.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from babel.dates import format_date
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from portal import rules, timeutil
from portal.accounts.models import Role, User
from portal.audit.services import record
from portal.cases.models import Petitioner
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.scheduling import ics
from portal.scheduling.models import Booking, BookingParticipant
from portal.scheduling.services import Participants, find_conflicts, free_booking, save_booking

from .models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    PartySide,
    ProceedingRecord,
    SessionStatus,
)
from .services import MediationError, active_parties, atomic, ensure_consent

BOOKING_KIND = "mediation_session"
MAX_DAYS_AHEAD = 366  # a session further ahead is a typing mistake
DEFAULT_MINUTES = 120
FEED_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.HELD)


class ConflictWarning(MediationError):
    """The chosen time overlaps other bookings of a participant or of the room; the mediator may confirm."""

    def __init__(self, conflicts: list[Booking], reasons: dict[int, list[str]] | None = None):
        super().__init__(_("This time overlaps other bookings of a participant or of the room. Confirm to "
                           "schedule the session anyway."), "confirm_conflicts")
        self.conflicts = conflicts
        self.reasons = reasons or {}  # booking id -> who or what clashes (names, the room)


@dataclass
class SessionInput:
    on: date | None
    at: time | None
    minutes: int | None
    room: str = ""
    place: str = ""


@dataclass
class SessionParticipants:
    """Who takes part in the sessions of a matter (parties with standing consent only)."""

    mediators: list[User]
    parties: list[MediationParty]
    representatives: list[User]  # active representatives of the party departments
    petitioners: list[User]  # active accounts of the petitioner parties
    mediator_ids: frozenset[int]
    petitioner_user_ids: frozenset[int]
    department_ids: frozenset[int]

    def users(self) -> list[User]:
        """Everyone to invite, each once: mediators, then department representatives, then petitioners."""
        seen, people = set(), []
        for user in [*self.mediators, *self.representatives, *self.petitioners]:
            if user.id not in seen:
                seen.add(user.id)
                people.append(user)
        return people

    def booking(self) -> Participants:
        return Participants.of([*self.mediator_ids, *self.petitioner_user_ids], self.department_ids)

    def side(self, side: PartySide) -> list[MediationParty]:
        return [p for p in self.parties if p.side == side]


# --- participants -------------------------------------------------------------------------------------------

def matter_participants(matter: MediationReferral) -> SessionParticipants:
    """The participants of a matter's sessions: one query for the accounts, whatever their number (the matter's
    parties and mediators come loaded with services.load_matter)."""
    parties = active_parties(matter)
    mediator_ids = [m.user_id for m in matter.mediators]
    petitioner_ids = [p.petitioner.user_id for p in parties if p.petitioner is not None and p.petitioner.user_id]
    department_ids = [p.department_id for p in parties if p.department_id]
    users: list[User] = []
    conditions = []
    if mediator_ids or petitioner_ids:
        conditions.append(User.id.in_(set(mediator_ids) | set(petitioner_ids)))
    if department_ids:
        conditions.append((User.role == Role.DEPARTMENT_REP) & User.department_id.in_(set(department_ids)))
    if conditions:
        users = list(db.session.scalars(select(User).where(User.active.is_(True), or_(*conditions))
                                        .order_by(User.id)))
    by_id = {u.id: u for u in users}
    return SessionParticipants(
        mediators=[by_id[i] for i in mediator_ids if i in by_id],
        parties=parties,
        representatives=[u for u in users if u.role == Role.DEPARTMENT_REP and u.department_id in department_ids],
        petitioners=[by_id[i] for i in dict.fromkeys(petitioner_ids) if i in by_id],
        mediator_ids=frozenset(mediator_ids), petitioner_user_ids=frozenset(petitioner_ids),
        department_ids=frozenset(department_ids))


def session_participants(session: MediationSession) -> SessionParticipants:
    return matter_participants(session.referral)


def party_recipients(parties: list[MediationParty]) -> list[User]:
    """The accounts that speak for these parties (one query): the petitioner's own account, the active
    representatives of a department party. A named person without an account has none."""
    petitioner_ids = {p.petitioner.user_id for p in parties if p.petitioner is not None and p.petitioner.user_id}
    department_ids = {p.department_id for p in parties if p.department_id}
    conditions = []
    if petitioner_ids:
        conditions.append(User.id.in_(petitioner_ids) & (User.role == Role.PETITIONER))
    if department_ids:
        conditions.append((User.role == Role.DEPARTMENT_REP) & User.department_id.in_(department_ids))
    if not conditions:
        return []
    return list(db.session.scalars(select(User).where(User.active.is_(True), or_(*conditions)).order_by(User.id)))


# --- checks ---------------------------------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return now or timeutil.utcnow()


def _clean(value: str | None, max_length: int, field_name: str) -> str:
    value = (value or "").strip()
    if len(value) > max_length:
        raise MediationError(_("Use at most %(n)d characters.", n=max_length), field_name)
    return value


def _times(data: SessionInput, now: datetime) -> tuple[datetime, datetime]:
    if data.on is None:
        raise MediationError(_("Give the date."), "on")
    if data.at is None:
        raise MediationError(_("Give the start time."), "at")
    if data.minutes is None:
        raise MediationError(_("Give the length in minutes."), "minutes")
    if data.minutes <= 0 or data.minutes > rules.MEDIATION_SESSION_MAX_MINUTES:
        raise MediationError(_("A session lasts from 1 to %(n)d minutes.", n=rules.MEDIATION_SESSION_MAX_MINUTES),
                             "minutes")
    local_today = now.astimezone(timeutil.local_zone()).date()
    if data.on > local_today + timedelta(days=MAX_DAYS_AHEAD):
        raise MediationError(_("Choose a date within the next %(n)d days.", n=MAX_DAYS_AHEAD), "on")
    starts_at = datetime.combine(data.on, data.at, tzinfo=timeutil.local_zone()).astimezone(UTC)
    if starts_at <= now:
        raise MediationError(_("This time is in the past. Choose a time ahead."), "on")
    return starts_at, starts_at + timedelta(minutes=data.minutes)


def _where(data: SessionInput) -> tuple[str, str]:
    room = _clean(data.room, 100, "room")
    place = _clean(data.place, 200, "place")
    if not (room or place):
        raise MediationError(_("Give the mediation room or the place."), "room")
    return room, place


def has_started(session: MediationSession) -> bool:
    """A proceedings record exists: the session has started (asked of the database, not of a cached object)."""
    return db.session.scalar(select(ProceedingRecord.id).where(ProceedingRecord.session_id == session.id)
                             .limit(1)) is not None


def _lock(session: MediationSession) -> None:
    """Re-read the session under a row lock (PostgreSQL): two mediators moving or cancelling it take turns."""
    db.session.refresh(session, attribute_names=["status", "sequence", "booking_id", "starts_at", "ends_at",
                                                 "room", "place"], with_for_update=True)


def ensure_changeable(session: MediationSession) -> None:
    if session.status != SessionStatus.SCHEDULED:
        raise MediationError(_("This session is %(status)s; it can no longer be changed.",
                               status=session.status.label))
    if has_started(session):
        raise MediationError(_("This session has started (its proceedings record is open); it can no longer be "
                               "moved or cancelled."))


def conflicts_for(matter: MediationReferral, starts_at: datetime, ends_at: datetime, room: str,
                  session: MediationSession | None = None,
                  participants: SessionParticipants | None = None) -> list[Booking]:
    participants = participants or matter_participants(matter)
    return find_conflicts(starts_at, ends_at, room=room, participants=participants.booking(),
                          exclude=(BOOKING_KIND, session.id) if session is not None and session.id else None)


def _uid_host() -> str:
    base = current_app.config.get("PORTAL_BASE_URL", "")
    host = urlsplit(base).hostname if base else None
    if not host and has_request_context():
        host = request.host.split(":")[0]
    return host or "portal.invalid"


def _title(session: MediationSession) -> str:
    return _("Mediation session %(number)d · %(reference)s", number=session.number,
             reference=session.referral.case.reference)


def _booking(session: MediationSession, participants: SessionParticipants) -> Booking:
    existing = db.session.get(Booking, session.booking_id) if session.booking_id else None
    booking = save_booking(BOOKING_KIND, session.id, _title(session), session.starts_at, session.ends_at,
                           room=session.room, participants=participants.booking(), booking=existing)
    session.booking_id = booking.id
    return booking


def _conflict_details(conflicts: list[Booking], reasons: dict[int, list[str]] | None = None) -> list[dict]:
    reasons = reasons or {}
    return [{"booking_id": b.id, "kind": b.kind, "ref_id": b.ref_id, "title": b.title,
             "starts_at": b.starts_at.isoformat(), "ends_at": b.ends_at.isoformat(), "room": b.room,
             "clashes": reasons.get(b.id, [])}
            for b in conflicts]


def conflict_reasons(conflicts: list[Booking], participants: SessionParticipants, room: str) -> dict[int, list[str]]:
    """For each overlapping booking, who or what it shares with the session: the room, the mediators and the
    petitioners by name, the party departments by name. One query for all the bookings' participants."""
    if not conflicts:
        return {}
    rows = db.session.execute(select(BookingParticipant.booking_id, BookingParticipant.user_id,
                                     BookingParticipant.department_id)
                              .where(BookingParticipant.booking_id.in_([b.id for b in conflicts]))).all()
    people = {u.id: u.display_name for u in [*participants.mediators, *participants.petitioners]}
    departments = {p.department_id: p.name for p in participants.parties if p.department_id}
    reasons: dict[int, list[str]] = {b.id: [] for b in conflicts}
    room = (room or "").strip()
    for booking in conflicts:
        if room and booking.room == room:
            reasons[booking.id].append(_("mediation room %(room)s", room=room))
    for booking_id, user_id, department_id in rows:
        name = people.get(user_id) if user_id else departments.get(department_id)
        if name and name not in reasons[booking_id]:
            reasons[booking_id].append(name)
    return reasons


# --- scheduling, moving, cancelling ---------------------------------------------------------------------------

@atomic
def schedule(matter: MediationReferral, user: User, data: SessionInput, *, confirm_conflicts: bool = False,
             now: datetime | None = None) -> MediationSession:
    """A new session of the matter (numbered 1, 2, ...): booking, invitations, audit.

    Raises ConflictWarning when other bookings overlap and the mediator has not confirmed."""
    ensure_consent(matter)
    starts_at, ends_at = _times(data, _now(now))
    room, place = _where(data)
    assigned = _assign_scheduler(matter, user)
    participants = matter_participants(matter)
    conflicts = conflicts_for(matter, starts_at, ends_at, room, participants=participants)
    reasons = conflict_reasons(conflicts, participants, room)
    if conflicts and not confirm_conflicts:
        raise ConflictWarning(conflicts, reasons)
    number = max((s.number for s in matter.sessions), default=0) + 1
    session = MediationSession(referral=matter, number=number, status=SessionStatus.SCHEDULED,
                               uid=f"pending-{secrets.token_hex(16)}", sequence=0, starts_at=starts_at,
                               ends_at=ends_at, room=room, place=place, created_by_id=user.id)
    db.session.add(session)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise MediationError(_("Another session of this mediation was scheduled at the same moment. Reload the "
                               "page and try again.")) from None
    session.uid = f"mediation-session-{session.id}-{secrets.token_hex(6)}@{_uid_host()}"
    booking = _booking(session, participants)
    sent = _send(session, participants, "REQUEST")
    record("mediation_session.scheduled", session, actor=user, details={
        "matter_id": matter.id, "number": number, "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(), "room": room, "place": place, "uid": session.uid, "sequence": 0,
        "booking_id": booking.id, "invitations": sent, "conflicts": _conflict_details(conflicts, reasons),
        "conflicts_confirmed": bool(conflicts), "mediator_assigned": assigned})
    return session


def _assign_scheduler(matter: MediationReferral, user: User) -> bool:
    """A matter without a mediator gets the one who schedules its session (so that invitations always reach a
    mediator); recorded in the audit trail. Runs inside the caller's transaction."""
    if matter.mediators or user.role != Role.MEDIATOR:
        return False
    matter.mediators.append(MediationMediator(user_id=user.id, added_by_id=user.id, added_at=timeutil.utcnow()))
    db.session.flush()
    record("mediation.mediator_assigned", matter, actor=user,
           details={"case": matter.case.reference, "mediator": user.id, "name": user.display_name,
                    "on_scheduling": True})
    return True


@atomic
def reschedule(session: MediationSession, user: User, data: SessionInput, *, confirm_conflicts: bool = False,
               now: datetime | None = None) -> MediationSession:
    """Move a scheduled session: the same UID with a higher SEQUENCE, the booking moved, everyone told."""
    _lock(session)
    matter = session.referral
    ensure_changeable(session)
    ensure_consent(matter)
    starts_at, ends_at = _times(data, _now(now))
    room, place = _where(data)
    if (starts_at, ends_at, room, place) == (session.starts_at, session.ends_at, session.room, session.place):
        raise MediationError(_("The session is already at this time and place."), "on")
    participants = matter_participants(matter)
    conflicts = conflicts_for(matter, starts_at, ends_at, room, session=session, participants=participants)
    reasons = conflict_reasons(conflicts, participants, room)
    if conflicts and not confirm_conflicts:
        raise ConflictWarning(conflicts, reasons)
    previous = {"starts_at": session.starts_at.isoformat(), "ends_at": session.ends_at.isoformat(),
                "room": session.room, "place": session.place}
    session.starts_at, session.ends_at, session.room, session.place = starts_at, ends_at, room, place
    session.sequence = (session.sequence or 0) + 1
    booking = _booking(session, participants)
    sent = _send(session, participants, "REQUEST", changed=True)
    record("mediation_session.rescheduled", session, actor=user, details={
        "matter_id": matter.id, "number": session.number, "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(), "room": room, "place": place, "sequence": session.sequence,
        "booking_id": booking.id, "invitations": sent, "previous": previous,
        "conflicts": _conflict_details(conflicts, reasons), "conflicts_confirmed": bool(conflicts)})
    return session


def _cancel(session: MediationSession, user: User, reason: str,
            participants: SessionParticipants | None = None) -> int:
    participants = participants or session_participants(session)
    session.status = SessionStatus.CANCELLED
    session.cancel_reason = reason
    session.sequence = (session.sequence or 0) + 1
    booking = db.session.get(Booking, session.booking_id) if session.booking_id else None
    session.booking_id = None
    db.session.flush()
    free_booking(booking)
    sent = _send(session, participants, "CANCEL", reason=reason)
    record("mediation_session.cancelled", session, actor=user, details={
        "matter_id": session.referral_id, "number": session.number, "reason": reason,
        "sequence": session.sequence, "notices": sent, "booking_id": booking.id if booking else None})
    return sent


@atomic
def cancel(session: MediationSession, user: User, reason: str) -> MediationSession:
    """Cancel a scheduled session (with the reason, told to everyone): METHOD:CANCEL, the booking freed.
    Allowed also after the matter has ended, so that its sessions still ahead can be called off."""
    _lock(session)
    ensure_changeable(session)
    reason = _clean(reason, 2000, "reason")
    if not reason:
        raise MediationError(_("Give the reason for cancelling (it is sent to the participants)."), "reason")
    _cancel(session, user, reason)
    return session


def cancel_open_sessions(matter: MediationReferral, user: User, reason: str) -> int:
    """Cancel every scheduled session of the matter that has not started (e.g. when the matter ends), telling
    the participants. Runs inside the caller's transaction (no commit); returns the number cancelled."""
    waiting = [s for s in matter.sessions if s.status == SessionStatus.SCHEDULED and not has_started(s)]
    if not waiting:
        return 0
    participants = matter_participants(matter)
    for session in waiting:
        _cancel(session, user, reason, participants)
    return len(waiting)


# --- iCalendar and messages -----------------------------------------------------------------------------------

def location_of(session: MediationSession) -> str:
    return " · ".join(p for p in (session.place, session.room) if p)


def _session_url(session: MediationSession) -> str:
    try:
        return external_url("mediation.session", matter_id=session.referral_id, session_id=session.id)
    except RuntimeError:  # no request and no base URL configured
        return ""


def event_data(session: MediationSession, attendees: list[User] = (), url: str | None = None) -> ics.EventData:
    matter = session.referral
    url = _session_url(session) if url is None else url
    lines = [_("People's mediation by %(committee)s, case %(reference)s.", committee=matter.committee.name,
               reference=matter.case.reference),
             _("When: %(when)s", when=_when(session)),
             _("Mediation is free of charge.")]
    if url:
        lines.append(url)
    sender = current_app.config.get("MAIL_SENDER", "portal@localhost")
    return ics.EventData(
        uid=session.uid, sequence=session.sequence or 0, title=_title(session), starts_at=session.starts_at,
        ends_at=session.ends_at, location=location_of(session), description="\n".join(lines), url=url,
        cancelled=session.status == SessionStatus.CANCELLED, organizer=ics.Person(matter.committee.name, sender),
        attendees=tuple(ics.Person(u.display_name, u.email) for u in attendees if u.email))


def session_ics(session: MediationSession, participants: SessionParticipants | None = None) -> bytes:
    """The .ics download: the session as it stands (attendees: the mediators; parties' addresses stay private)."""
    participants = participants or session_participants(session)
    method = "CANCEL" if session.status == SessionStatus.CANCELLED else "PUBLISH"
    return ics.message(event_data(session, participants.mediators), method)


def session_span(starts_at: datetime | None, ends_at: datetime | None) -> str:
    """A session's time in the reader's language, local time, zero-padded: the date once when it starts and ends
    on the same day ("2026年11月30日 23:35–23:50", "November 30, 2026 23:35–23:50"), on both sides otherwise."""
    if starts_at is None or ends_at is None:
        return ""
    zone = timeutil.local_zone()
    start, end = starts_at.astimezone(zone), ends_at.astimezone(zone)
    locale = get_locale() or "zh_CN"

    def day(moment: datetime) -> str:
        return format_date(moment.date(), "long", locale=locale)

    def clock(moment: datetime) -> str:
        return moment.strftime("%H:%M")

    if start.date() == end.date():
        return f"{day(start)} {clock(start)}–{clock(end)}"
    return f"{day(start)} {clock(start)} – {day(end)} {clock(end)}"


def _when(session: MediationSession) -> str:
    return _("%(when)s (Beijing time)", when=session_span(session.starts_at, session.ends_at))


def _compose(session: MediationSession, person: User, method: str, changed: bool, reason: str) -> tuple[str, str]:
    matter = session.referral
    reference, committee = matter.case.reference, matter.committee.name
    if method == "CANCEL":
        subject = _("Mediation session cancelled: %(reference)s", reference=reference)
        body = _("Session %(number)d of the mediation of case %(reference)s by %(committee)s, on %(when)s, "
                 "is cancelled.", number=session.number, reference=reference, committee=committee,
                 when=_when(session))
        body += "\n" + _("Reason: %(reason)s", reason=reason)
    else:
        subject = (_("Mediation session moved: %(reference)s", reference=reference) if changed
                   else _("Mediation session: %(reference)s", reference=reference))
        body = (_("Session %(number)d of the mediation of case %(reference)s by %(committee)s has a new time.",
                  number=session.number, reference=reference, committee=committee) if changed
                else _("You are invited to session %(number)d of the mediation of case %(reference)s by "
                       "%(committee)s.", number=session.number, reference=reference, committee=committee))
        body += "\n" + _("When: %(when)s", when=_when(session))
        if location_of(session):
            body += "\n" + _("Where: %(where)s", where=location_of(session))
    if person.role == Role.PETITIONER:
        body += "\n" + _("Mediation is free of charge: nobody may ask you for a fee.")
    return subject, body


def _send(session: MediationSession, participants: SessionParticipants, method: str, *, changed: bool = False,
          reason: str = "", only: list[User] | None = None) -> int:
    """One message per participant in their language; by e-mail with the iCalendar attachment (the mediators and
    the recipient as attendees), by text message to a phone-only account without it. `only`: these people
    instead of every participant."""
    url = _session_url(session)
    sent = 0
    for person in (participants.users() if only is None else only):
        if not person.login:
            continue
        with force_locale(person.locale or "zh_CN"):
            subject, body = _compose(session, person, method, changed, reason)
            attachments = None
            if person.email:
                attendees = list(participants.mediators)
                if person not in attendees:
                    attendees.append(person)
                data = ics.message(event_data(session, attendees, url=url), method)
                attachments = [(f"mediation-session-{session.id}.ics", f"text/calendar; method={method}", data)]
        if url:
            body += "\n\n" + url
        send_message(person.login, subject, body, attachments)
        sent += 1
    return sent


def invite_party_to_upcoming(matter: MediationReferral, party: MediationParty, *, actor: User | None = None,
                             now: datetime | None = None) -> int:
    """A party joined the matter: send it the invitation (.ics) of every scheduled session still ahead, to each
    account that speaks for it. Runs inside the caller's transaction (no commit); returns the messages sent."""
    if party.withdrawn_on is not None:
        return 0
    ahead = [s for s in matter.sessions if s.status == SessionStatus.SCHEDULED and s.ends_at > _now(now)]
    recipients = party_recipients([party]) if ahead else []
    if not recipients:
        return 0
    participants = matter_participants(matter)
    sent = 0
    for session in sorted(ahead, key=lambda s: s.starts_at):
        count = _send(session, participants, "REQUEST", only=recipients)
        sent += count
        record("mediation_session.party_invited", session, actor=actor, details={
            "matter_id": matter.id, "number": session.number, "party": party.id, "invitations": count})
    return sent


# --- the sessions of a user -----------------------------------------------------------------------------------

def user_sessions_query(user: User, statuses=FEED_STATUSES):
    """Sessions the user takes part in: as a mediator of the matter, as a representative of a party department,
    or as a petitioner party (parties whose consent stands)."""
    conditions = [MediationSession.referral_id.in_(
        select(MediationMediator.referral_id).where(MediationMediator.user_id == user.id))]
    if user.role == Role.DEPARTMENT_REP and user.department_id is not None:
        conditions.append(MediationSession.referral_id.in_(
            select(MediationParty.referral_id).where(MediationParty.department_id == user.department_id,
                                                     MediationParty.withdrawn_on.is_(None))))
    if user.role == Role.PETITIONER:
        conditions.append(MediationSession.referral_id.in_(
            select(MediationParty.referral_id).join(Petitioner, Petitioner.id == MediationParty.petitioner_id)
            .where(Petitioner.user_id == user.id, MediationParty.withdrawn_on.is_(None))))
    return (select(MediationSession).where(MediationSession.status.in_(statuses), or_(*conditions))
            .options(selectinload(MediationSession.referral).selectinload(MediationReferral.case),
                     selectinload(MediationSession.referral).selectinload(MediationReferral.committee))
            .order_by(MediationSession.starts_at, MediationSession.id))


def feed_events(user: User) -> list[ics.EventData]:
    """The user's sessions for the private calendar feed (no attendees, no link)."""
    return [event_data(s, url="") for s in db.session.scalars(user_sessions_query(user))]


def upcoming_sessions_for(user: User, limit: int = 20, now: datetime | None = None) -> list[MediationSession]:
    """Scheduled sessions ahead (not yet ended) that the user takes part in, soonest first; each with its matter,
    the case and the committee loaded (three queries)."""
    query = (user_sessions_query(user, (SessionStatus.SCHEDULED,))
             .where(MediationSession.ends_at > _now(now)).limit(limit))
    return list(db.session.scalars(query))
