"""iCalendar (RFC 5545 / iTIP RFC 5546) documents built with the icalendar package.

An invitation is METHOD:REQUEST with the meeting's stable UID and its SEQUENCE; a reschedule sends the same UID
with a higher SEQUENCE so calendars update the event instead of adding a second one; a cancellation is
METHOD:CANCEL with STATUS:CANCELLED. Times are written in UTC (…Z).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from icalendar import Calendar, Event, vCalAddress, vText

from portal.timeutil import utcnow

PRODID = "-//Y City Petition Bureau//Petition Portal//ZH"


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class EventData:
    uid: str
    sequence: int
    title: str
    starts_at: datetime
    ends_at: datetime
    location: str = ""
    description: str = ""
    url: str = ""
    cancelled: bool = False
    organizer: Person | None = None
    attendees: tuple[Person, ...] = ()


def _address(person: Person, **params) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["CN"] = vText(person.name)
    for key, value in params.items():
        address.params[key] = vText(value)
    return address


def _event(data: EventData, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", data.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", data.sequence)
    event.add("dtstart", data.starts_at)
    event.add("dtend", data.ends_at)
    event.add("summary", data.title)
    if data.location:
        event.add("location", data.location)
    if data.description:
        event.add("description", data.description)
    if data.url:
        event.add("url", data.url)
    event.add("status", "CANCELLED" if data.cancelled else "CONFIRMED")
    if data.organizer is not None:
        event.add("organizer", _address(data.organizer))
    for person in data.attendees:
        event.add("attendee", _address(person, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION",
                                       RSVP="FALSE", CUTYPE="INDIVIDUAL"))
    return event


def _calendar(method: str | None, name: str | None = None) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def message(data: EventData, method: str = "REQUEST") -> bytes:
    """One event as an iTIP message: method REQUEST (invitation or update) or CANCEL."""
    calendar = _calendar(method)
    calendar.add_component(_event(data, utcnow()))
    return calendar.to_ical()


def feed(events: list[EventData], name: str) -> bytes:
    """A subscription feed (no METHOD): one VEVENT per meeting."""
    calendar = _calendar(None, name)
    stamp = utcnow()
    for data in events:
        calendar.add_component(_event(data, stamp))
    return calendar.to_ical()
