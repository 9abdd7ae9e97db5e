"""The iCalendar documents: invitations, updates, cancellations and feeds parse back with icalendar."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from icalendar import Calendar

from portal.scheduling import ics

START = datetime(2030, 3, 4, 1, 30, tzinfo=UTC)


def _data(**overrides) -> ics.EventData:
    values = {"uid": "meeting-7-abc@portal.example", "sequence": 0, "title": "联席会议：欠薪问题",
                  "starts_at": START, "ends_at": START + timedelta(minutes=90), "location": "市政府3号楼 · 301会议室",
                  "description": "第一次会议\nhttps://portal.example/conferences/1/meetings/7",
                  "url": "https://portal.example/conferences/1/meetings/7",
                  "organizer": ics.Person("Y市信访局", "portal@yx.example"),
                  "attendees": (ics.Person("张三", "zhang@dept.example"), ics.Person("李四", "li@dept.example"))}
    values.update(overrides)
    return ics.EventData(**values)


def _event(calendar: Calendar):
    (event,) = calendar.walk("VEVENT")
    return event


def test_an_invitation_is_a_request_with_uid_sequence_times_and_people():
    calendar = Calendar.from_ical(ics.message(_data()))
    event = _event(calendar)
    assert str(calendar["METHOD"]) == "REQUEST" and str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    assert str(event["UID"]) == "meeting-7-abc@portal.example"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == START + timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "联席会议：欠薪问题"
    assert "301会议室" in str(event["LOCATION"])
    assert "https://portal.example/conferences/1/meetings/7" in str(event["DESCRIPTION"])
    assert str(event["ORGANIZER"]) == "mailto:portal@yx.example"
    assert event["ORGANIZER"].params["CN"] == "Y市信访局"
    assert sorted(str(a) for a in event["ATTENDEE"]) == ["mailto:li@dept.example", "mailto:zhang@dept.example"]
    assert str(event["STATUS"]) == "CONFIRMED"
    assert event["DTSTAMP"]
    assert b"DTSTART:20300304T013000Z" in ics.message(_data())


def test_an_update_keeps_the_uid_with_a_higher_sequence_and_a_cancel_says_so():
    update = _event(Calendar.from_ical(ics.message(_data(sequence=1, starts_at=START + timedelta(days=1),
                                                          ends_at=START + timedelta(days=1, hours=1)))))
    assert str(update["UID"]) == "meeting-7-abc@portal.example" and int(update["SEQUENCE"]) == 1
    calendar = Calendar.from_ical(ics.message(_data(sequence=2, cancelled=True), "CANCEL"))
    assert str(calendar["METHOD"]) == "CANCEL"
    event = _event(calendar)
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 2


def test_a_feed_has_no_method_and_one_event_per_meeting():
    calendar = Calendar.from_ical(ics.feed([_data(), _data(uid="meeting-8-x@portal.example", attendees=())],
                                           "我的会议"))
    assert "METHOD" not in calendar
    assert [str(e["UID"]) for e in calendar.walk("VEVENT")] == ["meeting-7-abc@portal.example",
                                                                  "meeting-8-x@portal.example"]
    assert str(calendar["X-WR-CALNAME"]) == "我的会议"
    assert Calendar.from_ical(ics.feed([], "空")).walk("VEVENT") == []
