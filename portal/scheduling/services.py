"""Bookings of every kind of meeting and the one conflict check; private calendar feeds.

A booking is generic: kind ("conference_meeting", "mediation_session", "reception"), ref_id (the meeting's id in
its own table), a title, a time span, an optional room and participants (users and whole departments).
Joint-conference meetings use it now; mediation sessions and reception days call the same functions later.
Booking helpers do not commit: they run inside the caller's transaction. The feed functions commit.
"""
from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.orm import selectinload

from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import utcnow

from .models import Booking, BookingParticipant, CalendarFeed


@dataclass(frozen=True)
class Participants:
    user_ids: frozenset[int] = frozenset()
    department_ids: frozenset[int] = frozenset()

    @classmethod
    def of(cls, user_ids: Iterable[int | None] = (), department_ids: Iterable[int | None] = ()) -> Participants:
        return cls(frozenset(i for i in user_ids if i), frozenset(i for i in department_ids if i))


def find_conflicts(starts_at: datetime, ends_at: datetime, *, room: str = "",
                   participants: Participants = Participants(),
                   exclude: tuple[str, int] | None = None) -> list[Booking]:
    """Bookings overlapping [starts_at, ends_at) that use the same (non-empty) room or share a participant:
    the same user or the same department. `exclude` = (kind, ref_id) of the booking being moved. One query."""
    shared = []
    room = (room or "").strip()
    if room:
        shared.append(Booking.room == room)
    people = []
    if participants.user_ids:
        people.append(BookingParticipant.user_id.in_(participants.user_ids))
    if participants.department_ids:
        people.append(BookingParticipant.department_id.in_(participants.department_ids))
    if people:
        shared.append(exists().where(BookingParticipant.booking_id == Booking.id, or_(*people)))
    if not shared:
        return []
    query = select(Booking).where(Booking.starts_at < ends_at, Booking.ends_at > starts_at, or_(*shared))
    if exclude is not None:
        query = query.where(~and_(Booking.kind == exclude[0], Booking.ref_id == exclude[1]))
    return list(db.session.scalars(query.order_by(Booking.starts_at, Booking.id)))


def save_booking(kind: str, ref_id: int, title: str, starts_at: datetime, ends_at: datetime, *, room: str = "",
                 participants: Participants = Participants(), booking: Booking | None = None) -> Booking:
    """Create the booking of (kind, ref_id), or move and refresh the given one (participants replaced)."""
    if booking is None:
        booking = Booking(kind=kind, ref_id=ref_id)
        db.session.add(booking)
    booking.title = title[:200]
    booking.starts_at, booking.ends_at = starts_at, ends_at
    booking.room = (room or "").strip()[:100]
    booking.participants = (
        [BookingParticipant(user_id=i) for i in sorted(participants.user_ids)]
        + [BookingParticipant(department_id=i) for i in sorted(participants.department_ids)])
    db.session.flush()
    return booking


def free_booking(booking: Booking | None) -> None:
    if booking is not None:
        db.session.delete(booking)
        db.session.flush()


# --- private calendar feeds ----------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def feed_of(user) -> CalendarFeed | None:
    return db.session.get(CalendarFeed, user.id)


def create_feed(user) -> str:
    """A new secret token for the user's feed (an old one stops working). Only its hash is stored."""
    token = secrets.token_urlsafe(32)
    feed = feed_of(user)
    action = "calendar_feed.regenerated" if feed is not None else "calendar_feed.created"
    if feed is None:
        feed = CalendarFeed(user_id=user.id)
        db.session.add(feed)
    feed.token_hash = _token_hash(token)
    feed.created_at = utcnow()
    record(action, object_type="calendar_feed", object_id=user.id, actor=user)
    db.session.commit()
    return token


def revoke_feed(user) -> bool:
    deleted = db.session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user.id)).rowcount
    if deleted:
        record("calendar_feed.revoked", object_type="calendar_feed", object_id=user.id, actor=user)
    db.session.commit()
    return bool(deleted)


def user_for_feed_token(token: str):
    """The active user whose feed token this is, or None."""
    from portal.accounts.models import User

    if not token or len(token) > 200:
        return None
    user = db.session.scalar(select(User).join(CalendarFeed, CalendarFeed.user_id == User.id)
                             .where(CalendarFeed.token_hash == _token_hash(token)))
    if user is None or not user.active:
        return None
    return user


def bookings_with_participants(ids: Iterable[int]) -> list[Booking]:
    ids = list(ids)
    if not ids:
        return []
    return list(db.session.scalars(select(Booking).where(Booking.id.in_(ids))
                                   .options(selectinload(Booking.participants))))
