"""Scheduling a joint-conference meeting: candidate slots, the availability grid, conflicts, notice,
invitations with iCalendar attachments, rescheduling and cancelling."""
from __future__ import annotations

import re
from datetime import UTC

import pytest
from sqlalchemy import select

from portal.conferences.models import Answer, Meeting, MeetingSlot, MeetingStatus, SlotAnswer
from portal.scheduling.models import Booking, BookingParticipant
from portal.scheduling.services import Participants, find_conflicts
from tests.conftest import login
from tests.factories import PASSWORD
from tests.helpers import audit_events, count, database, field_error, flashes, form_errors, location, outbox, text
from tests.scheduling_helpers import add_workspace, calendars, get_meeting, slot_data, utc_of, vevent

HX = {"HX-Request": "true"}


def _as(client, user):
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def _base(ws):
    return f"/conferences/{ws.id}/meetings"


def propose(client, ws, title="第一次联席会议", **slot) -> int:
    response = client.post(f"{_base(ws)}/new", data={"title": title, **slot_data(**slot)})
    assert response.status_code == 303, text(response)
    return int(re.search(r"/meetings/(\d+)$", location(response)).group(1))


def add_slot(client, ws, meeting_id, **slot):
    return client.post(f"{_base(ws)}/{meeting_id}/slots", data=slot_data(**slot))


def slot_ids(app, meeting_id) -> list[int]:
    return [s.id for s in get_meeting(app, meeting_id).slots]


def choose(client, ws, meeting_id, slot_id, **extra):
    return client.post(f"{_base(ws)}/{meeting_id}/choose", data={"slot_id": str(slot_id), **extra})


def fixed_meeting(app, client, ws, days=10, at="09:00", **slot) -> tuple[int, int]:
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=days, at=at, **slot)
    slot_id = slot_ids(app, meeting_id)[0]
    response = choose(client, ws, meeting_id, slot_id)
    assert response.status_code == 303, text(response)
    return meeting_id, slot_id


# --- proposing ----------------------------------------------------------------------------------------

def test_the_office_proposes_a_meeting_with_candidate_slots(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=10, at="09:00", room="301会议室")
    assert add_slot(client, ws, meeting_id, days_ahead=11, at="14:30", minutes=60,
                    online_link="https://meet.example/abc").status_code == 303
    meeting = get_meeting(app, meeting_id)
    assert meeting.status == MeetingStatus.POLLING and meeting.uid.startswith(f"meeting-{meeting_id}-")
    assert [s.starts_at for s in meeting.slots] == [utc_of(10, "09:00"), utc_of(11, "14:30")]
    assert meeting.slots[0].room == "301会议室" and meeting.slots[1].online_link == "https://meet.example/abc"
    assert (meeting.slots[1].ends_at - meeting.slots[1].starts_at).total_seconds() == 3600
    assert [e.action for e in audit_events(app, "meeting.proposed")] == ["meeting.proposed"]
    assert len(audit_events(app, "meeting.slot_added")) == 1
    page = text(client.get(f"{_base(ws)}/{meeting_id}"))
    assert "第一次联席会议" in page and "301会议室" in page

    slot_id = slot_ids(app, meeting_id)[1]
    response = client.post(f"{_base(ws)}/{meeting_id}/slots/remove", data={"slot_id": str(slot_id)})
    assert response.status_code == 303
    assert slot_ids(app, meeting_id) == [slot_ids(app, meeting_id)[0]]
    assert len(audit_events(app, "meeting.slot_removed")) == 1


@pytest.mark.parametrize("bad, field", [
    ({"days_ahead": -1}, "on"),
    ({"minutes": 0}, "minutes"),
    ({"minutes": -30}, "minutes"),
    ({"at": "25:00"}, "at"),
    ({"online_link": "javascript:alert(1)"}, "online_link"),
])
def test_bad_slots_are_refused_with_a_message_and_change_nothing(app, client, bad, field):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    before = count(app, MeetingSlot)
    response = add_slot(client, ws, meeting_id, **bad)
    assert response.status_code == 200
    assert field_error(response, field) or form_errors(response)
    assert count(app, MeetingSlot) == before


def test_a_slot_without_place_room_or_link_and_an_unknown_slot_are_refused(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    data = slot_data(days_ahead=12)
    data["place"] = ""
    response = client.post(f"{_base(ws)}/{meeting_id}/slots", data=data)
    assert response.status_code == 200 and field_error(response, "place")
    response = client.post(f"{_base(ws)}/{meeting_id}/slots/remove", data={"slot_id": "999999"},
                           follow_redirects=True)
    assert response.status_code == 200 and any(c == "error" for c, _m in flashes(response))
    response = client.post(f"{_base(ws)}/{meeting_id}/slots/remove", data={"slot_id": "x"}, follow_redirects=True)
    assert response.status_code == 200
    assert len(slot_ids(app, meeting_id)) == 1
    assert client.get(f"{_base(ws)}/{meeting_id}/choose?slot_id=abc").status_code == 303
    assert client.get(f"{_base(ws)}/999999").status_code == 404


def test_only_the_office_proposes_and_outsiders_get_403(app, client):
    ws = add_workspace(app)
    _as(client, ws.reps[0])
    assert client.post(f"{_base(ws)}/new", data={"title": "x", **slot_data()}).status_code == 403
    _as(client, ws.outsider)
    assert client.get(_base(ws)).status_code == 403


# --- the availability grid ------------------------------------------------------------------------------

def test_three_departments_answer_the_grid_and_the_office_sees_counts_and_who_is_missing(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=10)
    add_slot(client, ws, meeting_id, days_ahead=11)
    first, second = slot_ids(app, meeting_id)
    url = f"{_base(ws)}/{meeting_id}/answer"

    _as(client, ws.reps[0])
    response = client.post(url, data={"slot_id": str(first), "answer": "yes"}, headers=HX)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and body.lstrip().startswith(f'<tr id="slot-{first}"')
    assert f'id="missing-{meeting_id}" hx-swap-oob="true"' in body
    assert "<html" not in body
    response = client.post(url, data={"slot_id": str(second), "answer": "no"})  # no JS: redirect to the page
    assert response.status_code == 303 and location(response) == f"{_base(ws)}/{meeting_id}"

    _as(client, ws.reps[1])
    client.post(url, data={"slot_id": str(first), "answer": "if_need_be"}, headers=HX)
    client.post(url, data={"slot_id": str(first), "answer": "yes"}, headers=HX)  # changed: one answer stays
    _as(client, ws.reps[2])
    client.post(url, data={"slot_id": str(first), "answer": "no"}, headers=HX)

    with database(app) as session:
        answers = {(a.slot_id, a.department_id): a.answer for a in session.scalars(select(SlotAnswer))}
    d = ws.department_ids
    assert answers == {(first, d[0]): Answer.YES, (second, d[0]): Answer.NO, (first, d[1]): Answer.YES,
                       (first, d[2]): Answer.NO}
    assert len(audit_events(app, "meeting.answered")) == 5

    _as(client, ws.office)
    page = client.get(f"{_base(ws)}/{meeting_id}")
    row = re.search(rf'<tr id="slot-{first}".*?</tr>', page.get_data(as_text=True), re.DOTALL).group(0)
    assert 'data-yes="2"' in row
    missing = re.search(rf'<p class="help" id="missing-{meeting_id}">(.*?)</p>', text(page), re.DOTALL).group(1)
    with database(app) as session:
        from portal.accounts.models import Department

        names = [session.get(Department, i).name for i in d]
    assert names[1] in missing and names[2] in missing and names[0] not in missing


def test_the_grid_refuses_outsiders_staff_bad_answers_and_unknown_slots(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    (slot_id,) = slot_ids(app, meeting_id)
    url = f"{_base(ws)}/{meeting_id}/answer"
    assert client.post(url, data={"slot_id": str(slot_id), "answer": "yes"}).status_code == 403  # staff: no
    _as(client, ws.outsider)
    assert client.post(url, data={"slot_id": str(slot_id), "answer": "yes"}).status_code == 403
    assert client.get(f"{_base(ws)}/{meeting_id}").status_code == 403
    _as(client, ws.reps[0])
    response = client.post(url, data={"slot_id": str(slot_id), "answer": "perhaps"}, headers=HX)
    assert response.status_code == 200 and "flash-error" in response.get_data(as_text=True)
    response = client.post(url, data={"slot_id": "424242", "answer": "yes"}, follow_redirects=True)
    assert response.status_code == 200 and any(c == "error" for c, _m in flashes(response))
    response = client.post(url, data={"slot_id": "", "answer": ""}, follow_redirects=True)
    assert response.status_code == 200
    assert count(app, SlotAnswer) == 0


# --- conflicts -------------------------------------------------------------------------------------------

def test_a_slot_overlapping_a_meeting_that_shares_a_department_is_warned_and_saved_only_when_confirmed(app, client):
    first = add_workspace(app, title="第一个工作区")
    other_meeting, _slot = fixed_meeting(app, client, first, days=10, at="09:00")
    # A second workspace with one department in common; its candidate overlaps the first meeting.
    ws = add_workspace(app, title="第二个工作区", departments=2, shared_department_ids=(first.department_ids[0],))
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=10, at="10:00")
    (slot_id,) = slot_ids(app, meeting_id)

    page = text(client.get(f"{_base(ws)}/{meeting_id}/choose?slot_id={slot_id}"))
    assert "第一次联席会议" in page and 'id="conflict-list"' in page
    response = choose(client, ws, meeting_id, slot_id)
    assert response.status_code == 200
    assert "第一次联席会议" in text(response) and form_errors(response)
    assert get_meeting(app, meeting_id).status == MeetingStatus.POLLING
    assert count(app, Booking) == 1

    response = choose(client, ws, meeting_id, slot_id, confirm_conflicts="y")
    assert response.status_code == 303
    assert get_meeting(app, meeting_id).status == MeetingStatus.SCHEDULED
    (event,) = audit_events(app, "meeting.scheduled")[-1:]
    import json

    details = json.loads(event.details)
    assert details["conflicts_confirmed"] is True
    assert [c["ref_id"] for c in details["conflicts"]] == [other_meeting]


def test_the_same_room_is_a_conflict_and_a_non_overlapping_time_is_not(app, client):
    first = add_workspace(app, title="工作区甲")
    fixed_meeting(app, client, first, days=10, at="09:00", room="301会议室")
    ws = add_workspace(app, title="工作区乙")  # no department in common
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=10, at="09:30", room="301会议室")
    add_slot(client, ws, meeting_id, days_ahead=10, at="10:30", room="301会议室")  # starts when the other ends
    add_slot(client, ws, meeting_id, days_ahead=10, at="09:30", room="302会议室")
    slots = {(s.starts_at, s.room): s.id for s in get_meeting(app, meeting_id).slots}
    overlapping = slots[(utc_of(10, "09:30"), "301会议室")]
    adjacent = slots[(utc_of(10, "10:30"), "301会议室")]
    other_room = slots[(utc_of(10, "09:30"), "302会议室")]
    assert choose(client, ws, meeting_id, overlapping).status_code == 200
    assert get_meeting(app, meeting_id).status == MeetingStatus.POLLING
    assert 'id="conflict-list"' not in text(client.get(f"{_base(ws)}/{meeting_id}/choose?slot_id={adjacent}"))
    assert 'id="conflict-list"' not in text(client.get(f"{_base(ws)}/{meeting_id}/choose?slot_id={other_room}"))
    assert choose(client, ws, meeting_id, adjacent).status_code == 303


def test_the_conflict_check_is_generic_over_kinds_users_and_departments(app):
    from datetime import datetime, timedelta

    with database(app) as session:
        from tests.factories import make_department, make_user

        department = make_department()
        user = make_user()
        start = datetime(2030, 1, 1, 1, tzinfo=UTC)
        booking = Booking(kind="mediation_session", ref_id=7, title="调解", starts_at=start,
                          ends_at=start + timedelta(hours=2), room="")
        booking.participants = [BookingParticipant(user_id=user.id)]
        session.add(booking)
        session.flush()
        span = (start + timedelta(hours=1), start + timedelta(hours=3))
        assert find_conflicts(*span, participants=Participants.of([user.id])) == [booking]
        assert find_conflicts(*span, participants=Participants.of([], [department.id])) == []
        assert find_conflicts(*span, participants=Participants.of([user.id]),
                              exclude=("mediation_session", 7)) == []
        assert find_conflicts(start + timedelta(hours=2), start + timedelta(hours=3),
                              participants=Participants.of([user.id])) == []
        assert find_conflicts(*span, room="") == []
        session.rollback()


# --- notice ------------------------------------------------------------------------------------------------

def test_a_slot_one_day_ahead_needs_an_urgent_reason(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws, days_ahead=1, at="15:00")
    (slot_id,) = slot_ids(app, meeting_id)
    response = choose(client, ws, meeting_id, slot_id)
    assert response.status_code == 200 and field_error(response, "urgent_reason")
    assert get_meeting(app, meeting_id).status == MeetingStatus.POLLING
    assert count(app, Booking) == 0

    response = choose(client, ws, meeting_id, slot_id, urgent_reason="群体性事件风险，须尽快协调")
    assert response.status_code == 303
    meeting = get_meeting(app, meeting_id)
    assert meeting.status == MeetingStatus.SCHEDULED and meeting.urgent
    assert meeting.urgent_reason == "群体性事件风险，须尽快协调"
    page = text(client.get(f"{_base(ws)}/{meeting_id}"))
    assert "群体性事件风险，须尽快协调" in page


def test_a_regular_slot_is_not_urgent(app, client):
    ws = add_workspace(app)
    meeting_id, _ = fixed_meeting(app, client, ws, days=10)
    meeting = get_meeting(app, meeting_id)
    assert not meeting.urgent and meeting.urgent_reason == ""


# --- invitations, rescheduling, cancelling -------------------------------------------------------------------

def test_fixing_sends_invitations_with_a_valid_ics_and_a_reschedule_updates_the_same_event(app, client):
    ws = add_workspace(app)
    meeting_id, slot_id = fixed_meeting(app, client, ws, days=10, at="09:00", room="301会议室")
    meeting = get_meeting(app, meeting_id)
    with database(app) as session:
        booking = session.get(Booking, meeting.booking_id)
        assert booking.kind == "conference_meeting" and booking.ref_id == meeting_id and booking.room == "301会议室"
        people = {(p.user_id, p.department_id) for p in booking.participants}
    assert people == {(ws.convener.id, None)} | {(None, d) for d in ws.department_ids}

    for person in (*ws.reps, ws.convener):
        ((content_type, calendar),) = calendars(app, person.email)
        assert content_type == "text/calendar; method=REQUEST"
        event = vevent(calendar)
        assert str(calendar["METHOD"]) == "REQUEST"
        assert str(event["UID"]) == meeting.uid
        assert int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == utc_of(10, "09:00")
        assert event.decoded("DTEND") == utc_of(10, "10:30")
        assert "301会议室" in str(event["LOCATION"])
        attendees = {str(a).lower() for a in (event["ATTENDEE"] if isinstance(event["ATTENDEE"], list)
                                                else [event["ATTENDEE"]])}
        assert f"mailto:{person.email}".lower() in attendees
        assert str(event["ORGANIZER"]).startswith("mailto:")
    assert not outbox(app, ws.outsider.email)
    assert "第一次联席会议" in outbox(app, ws.reps[0].email)[0].subject

    # Another time: an update of the same event.
    response = add_slot(client, ws, meeting_id, days_ahead=12, at="14:00")
    assert response.status_code == 303
    new_slot = next(i for i in slot_ids(app, meeting_id) if i != slot_id)
    assert choose(client, ws, meeting_id, new_slot).status_code == 303
    (_first, (content_type, calendar)) = calendars(app, ws.reps[1].email)
    event = vevent(calendar)
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 1
    assert event.decoded("DTSTART") == utc_of(12, "14:00")
    assert get_meeting(app, meeting_id).sequence == 1
    assert count(app, Booking) == 1
    assert len(audit_events(app, "meeting.rescheduled")) == 1

    # Cancelled: METHOD:CANCEL, the booking is freed.
    response = client.post(f"{_base(ws)}/{meeting_id}/cancel", data={"reason": "问题已解决"})
    assert response.status_code == 303
    content_type, calendar = calendars(app, ws.convener.email)[-1]
    event = vevent(calendar)
    assert content_type == "text/calendar; method=CANCEL"
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 2
    meeting = get_meeting(app, meeting_id)
    assert meeting.status == MeetingStatus.CANCELLED and meeting.booking_id is None
    assert count(app, Booking) == 0
    assert len(audit_events(app, "meeting.cancelled")) == 1
    # Nothing more can change.
    assert choose(client, ws, meeting_id, new_slot).status_code == 303
    assert get_meeting(app, meeting_id).status == MeetingStatus.CANCELLED


def test_choosing_the_time_already_fixed_is_refused(app, client):
    ws = add_workspace(app)
    meeting_id, slot_id = fixed_meeting(app, client, ws)
    response = choose(client, ws, meeting_id, slot_id)
    assert response.status_code == 200 and form_errors(response)
    assert get_meeting(app, meeting_id).sequence == 0


def test_the_meeting_ics_download_is_for_workspace_viewers(app, client):
    ws = add_workspace(app)
    meeting_id, _ = fixed_meeting(app, client, ws, days=10, at="09:00")
    meeting = get_meeting(app, meeting_id)
    _as(client, ws.reps[2])
    page = text(client.get(f"/conferences/{ws.id}/meetings"))
    assert f"{_base(ws)}/{meeting_id}.ics" in page
    response = client.get(f"{_base(ws)}/{meeting_id}.ics")
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert "attachment" in response.headers["Content-Disposition"]
    from icalendar import Calendar

    event = vevent(Calendar.from_ical(response.data))
    assert str(event["UID"]) == meeting.uid and event.decoded("DTSTART") == utc_of(10, "09:00")
    _as(client, ws.outsider)
    assert client.get(f"{_base(ws)}/{meeting_id}.ics").status_code == 403
    _as(client, ws.convener)
    assert client.get(f"{_base(ws)}/{meeting_id}.ics").status_code == 200


def test_a_polling_meeting_has_no_ics(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    assert client.get(f"{_base(ws)}/{meeting_id}.ics").status_code == 404


# --- queries -----------------------------------------------------------------------------------------------

def _answer_all(app, meeting_id, department_ids):
    with database(app) as session:
        meeting = session.get(Meeting, meeting_id)
        for slot in meeting.slots:
            for d in department_ids:
                session.add(SlotAnswer(slot_id=slot.id, department_id=d, answer=Answer.YES))
        session.commit()


def test_the_meetings_section_runs_a_fixed_number_of_queries(app, client, count_queries):
    small = add_workspace(app, departments=1)
    _as(client, small.office)
    small_meeting = propose(client, small)
    _answer_all(app, small_meeting, small.department_ids)

    big = add_workspace(app, departments=6, office_user=None)
    _as(client, big.office)
    for n in range(3):
        meeting_id = propose(client, big, title=f"会议{n}", days_ahead=10 + n)
        for extra in range(4):
            add_slot(client, big, meeting_id, days_ahead=20 + extra, at=f"1{n}:00")
        _answer_all(app, meeting_id, big.department_ids)

    counts = []
    for ws, shown in ((small, small_meeting), (big, meeting_id)):
        _as(client, ws.office)
        for url in (f"/conferences/{ws.id}/meetings", f"{_base(ws)}/{shown}"):
            client.get(url)  # warm up
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.append((url.count("/"), counter.count))
    by_page = {}
    for depth, n in counts:
        by_page.setdefault(depth, set()).add(n)
    assert all(len(values) == 1 for values in by_page.values()), counts


def test_the_workspace_page_shows_the_meetings_and_the_invitation_notice(app, client):
    if "conferences.detail" not in app.view_functions:
        pytest.skip("the workspace page is not there yet")
    ws = add_workspace(app)
    meeting_id, _ = fixed_meeting(app, client, ws, days=10, at="09:00", room="301会议室")
    _as(client, ws.office)
    polling_id = propose(client, ws, title="第二次联席会议", days_ahead=20)
    _as(client, ws.reps[1])
    page = client.get(f"/conferences/{ws.id}")
    assert page.status_code == 200
    body = text(page)
    assert 'id="conference-meetings"' in body and "301会议室" in body
    assert f"{_base(ws)}/{meeting_id}.ics" in body
    assert 'class="notices"' in body  # the in-portal invitation
    assert f'hx-post="{_base(ws)}/{polling_id}/answer"' in body  # the grid of the polling meeting
    _as(client, ws.outsider)
    assert client.get(f"/conferences/{ws.id}").status_code == 403


@pytest.mark.parametrize("on", ["0001-01-01", "9999-12-31", "2026-02-30", "", "tomorrow"])
def test_absurd_dates_are_refused_without_an_error_page(app, client, on):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    response = client.post(f"{_base(ws)}/{meeting_id}/slots", data={**slot_data(), "on": on})
    assert response.status_code == 200 and field_error(response, "on")
    response = client.post(f"{_base(ws)}/new", data={"title": "x", **slot_data(), "on": on})
    assert response.status_code == 200 and field_error(response, "on")
    assert len(slot_ids(app, meeting_id)) == 1


def test_junk_posted_to_every_meeting_route_never_gives_a_server_error(app, client):
    ws = add_workspace(app)
    _as(client, ws.office)
    meeting_id = propose(client, ws)
    junk = [{}, {"slot_id": "99999999999999999999", "answer": "x" * 5000, "minutes": "1e9", "on": "x",
                 "at": "99:99", "title": "x" * 1000, "reason": "x" * 5000, "urgent_reason": "x" * 5000,
                 "confirm_conflicts": "maybe", "online_link": "x" * 2000}]
    routes = ["new", f"{meeting_id}/slots", f"{meeting_id}/slots/remove", f"{meeting_id}/choose"]
    for user in (ws.office, ws.reps[0]):
        _as(client, user)
        for route in [*routes, f"{meeting_id}/answer"]:
            for data in junk:
                for headers in ({}, HX):
                    response = client.post(f"{_base(ws)}/{route}", data=data, headers=headers)
                    assert response.status_code in (200, 204, 303, 400, 403), (route, response.status_code)
    _as(client, ws.office)
    response = client.post(f"{_base(ws)}/{meeting_id}/cancel", data={"reason": "x" * 5000})
    assert response.status_code == 200 and field_error(response, "reason")
    assert get_meeting(app, meeting_id).status == MeetingStatus.POLLING
    assert len(slot_ids(app, meeting_id)) == 1


def test_a_department_that_joins_later_is_invited_to_the_meetings_still_to_come(app, client):
    from portal.accounts.models import Role, User
    from portal.conferences import workspace
    from portal.conferences.models import Conference, MemberKind
    from portal.extensions import db
    from tests.factories import make_department, make_user

    ws = add_workspace(app)
    meeting_id, _slot = fixed_meeting(app, client, ws, days=10, at="09:00")
    before = {person.email: len(calendars(app, person.email)) for person in ws.reps}
    with app.test_request_context():
        newcomer = make_user(Role.DEPARTMENT_REP, make_department())
        conference = db.session.get(Conference, ws.id)
        workspace.invite(conference, db.session.get(User, ws.office.id), newcomer.department_id, MemberKind.MEMBER)
        email, department_id = newcomer.email, newcomer.department_id
        booking = db.session.get(Booking, db.session.get(Meeting, meeting_id).booking_id)
        assert department_id in {p.department_id for p in booking.participants}
    ((content_type, calendar),) = calendars(app, email)
    assert content_type == "text/calendar; method=REQUEST"
    assert str(vevent(calendar)["UID"]) == get_meeting(app, meeting_id).uid
    assert {person.email: len(calendars(app, person.email)) for person in ws.reps} == before  # not sent again
