"""Mediation sessions: scheduling (consent, times, conflicts), invitations with iCalendar attachments,
moving and cancelling, the .ics download, the private calendar feed, the session page and who may use it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.extensions import db
from portal.mediation.models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    PartySide,
    ProceedingRecord,
    SessionStatus,
)
from portal.scheduling.models import Booking, BookingParticipant
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import (UserRef, audit_events, count, database, field_error, flashes,
                           is_login_redirect, location, outbox, text)
from tests.scheduling_helpers import add_workspace, calendars, slot_data, utc_of, vevent

HX = {"HX-Request": "true"}


@dataclass(frozen=True)
class Matter:
    id: int
    case_reference: str
    mediator: UserRef  # assigned to the matter
    colleague: UserRef  # a mediator of the same committee, not assigned
    stranger: UserRef  # a mediator of another committee
    petitioner: UserRef  # the petitioner party's account
    rep: UserRef  # representative of the respondent department
    outsider: UserRef  # representative of a department that is no party
    other_petitioner: UserRef
    staff: UserRef
    leader: UserRef
    department_id: int


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def make_matter(*, petitioner_phone_only: bool = False, respondent_department: bool = True,
                room: str = "调解室一") -> Matter:
    """Call inside an app context: an open matter with a petitioner party (with an account) and a department
    party, both consenting, one assigned mediator."""
    committee = make_department(kind=DepartmentKind.MEDIATION_COMMITTEE)
    other_committee = make_department(kind=DepartmentKind.MEDIATION_COMMITTEE)
    mediator = make_user(Role.MEDIATOR, committee, locale="en")
    colleague = make_user(Role.MEDIATOR, committee, locale="en")
    stranger = make_user(Role.MEDIATOR, other_committee, locale="en")
    if petitioner_phone_only:
        petitioner = make_user(Role.PETITIONER, phone=f"139{secrets_digits()}", locale="en")
    else:
        petitioner = make_user(Role.PETITIONER, locale="en")
    department = make_department()
    rep = make_user(Role.DEPARTMENT_REP, department, locale="en")
    outsider = make_user(Role.DEPARTMENT_REP, locale="en")
    case = make_case(petitioner_user=petitioner)
    matter = MediationReferral(case_id=case.id, committee_id=committee.id, room=room, status=MediationStatus.OPEN)
    matter.parties = [MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id,
                                     name=case.petitioners[0].name, consent_on=date.today(), consent_how="书面同意")]
    if respondent_department:
        matter.parties.append(MediationParty(side=PartySide.RESPONDENT, department_id=department.id,
                                             name=department.name, consent_on=date.today(), consent_how="书面同意"))
    matter.mediators = [MediationMediator(user_id=mediator.id)]
    db.session.add(matter)
    db.session.commit()
    others = [make_user(role, locale="en") for role in (Role.PETITIONER, Role.STAFF, Role.LEADER)]
    return Matter(matter.id, case.reference, _ref(mediator), _ref(colleague), _ref(stranger), _ref(petitioner),
                  _ref(rep), _ref(outsider), *(_ref(u) for u in others), department.id)


_phones = iter(range(10_000_000, 99_999_999, 7919))


def secrets_digits() -> str:
    return f"{next(_phones):08d}"


def add_matter(app, **kwargs) -> Matter:
    with database(app):
        return make_matter(**kwargs)


def _as(client, user):
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def base(matter) -> str:
    return f"/mediation/{matter.id}/sessions"


def session_data(days_ahead: int = 10, at: str = "09:00", minutes: int = 120, room: str = "调解室一",
                 place: str = "Y市人民调解中心", **extra) -> dict:
    return {"on": (slot_data(days_ahead)["on"]), "at": at, "minutes": str(minutes), "room": room, "place": place,
            **extra}


def schedule(client, matter, **kwargs):
    return client.post(f"{base(matter)}/new", data=session_data(**kwargs))


def scheduled(app, client, matter, **kwargs) -> int:
    _as(client, matter.mediator)
    response = schedule(client, matter, **kwargs)
    assert response.status_code == 303, text(response)
    return int(re.search(r"/sessions/(\d+)$", location(response)).group(1))


def get_session(app, session_id) -> MediationSession:
    with database(app) as session:
        return session.get(MediationSession, session_id)


def start_record(app, session_id) -> None:
    """The session starts (part of the proceedings record's work; done directly here)."""
    with database(app) as session:
        session.add(ProceedingRecord(session_id=session_id))
        session.get(MediationSession, session_id).status = SessionStatus.HELD
        session.commit()


# --- scheduling ------------------------------------------------------------------------------------------------

def test_a_mediator_schedules_numbered_sessions_with_a_booking_and_an_audit_event(app, client):
    matter = add_matter(app)
    _as(client, matter.mediator)
    form = text(client.get(f"{base(matter)}/new"))
    assert 'value="调解室一"' in form  # the room defaults to the matter's room
    first = scheduled(app, client, matter, days_ahead=10, at="09:00", minutes=90)
    second = scheduled(app, client, matter, days_ahead=17, at="14:30")
    one, two = get_session(app, first), get_session(app, second)
    assert (one.number, two.number) == (1, 2)
    assert one.starts_at == utc_of(10, "09:00") and (one.ends_at - one.starts_at) == timedelta(minutes=90)
    assert one.status == SessionStatus.SCHEDULED and one.sequence == 0 and one.room == "调解室一"
    assert one.uid.startswith(f"mediation-session-{first}-") and one.uid != two.uid
    with database(app) as session:
        booking = session.get(Booking, one.booking_id)
        assert (booking.kind, booking.ref_id, booking.room) == ("mediation_session", first, "调解室一")
        people = session.scalars(select(BookingParticipant).where(BookingParticipant.booking_id == booking.id)).all()
        assert {p.user_id for p in people if p.user_id} == {matter.mediator.id, matter.petitioner.id}
        assert {p.department_id for p in people if p.department_id} == {matter.department_id}
    events = audit_events(app, "mediation_session.scheduled")
    assert len(events) == 2 and f'"number": 1' in events[0].details
    page = text(client.get(f"{base(matter)}/{first}"))
    assert "调解室一" in page and "Y市人民调解中心" in page
    listing = text(client.get(base(matter)))
    assert f"{base(matter)}/{first}" in listing and f"{base(matter)}/{second}" in listing


@pytest.mark.parametrize("bad, field", [
    ({"days_ahead": -1}, "on"),
    ({"days_ahead": 0, "at": "00:00"}, "on"),
    ({"minutes": 0}, "minutes"),
    ({"minutes": 8 * 60 + 1}, "minutes"),
    ({"minutes": "abc"}, "minutes"),
    ({"at": "25:00"}, "at"),
    ({"at": ""}, "at"),
    ({"on": ""}, "on"),
    ({"room": "", "place": ""}, "room"),
    ({"days_ahead": 400}, "on"),
    ({"place": "x" * 201}, "place"),
])
def test_bad_input_is_refused_next_to_the_field_and_changes_nothing(app, client, bad, field):
    matter = add_matter(app)
    _as(client, matter.mediator)
    data = session_data(**{k: v for k, v in bad.items() if k in ("days_ahead", "at", "minutes", "room", "place")})
    data.update({k: v for k, v in bad.items() if k == "on"})
    if "minutes" in bad:
        data["minutes"] = str(bad["minutes"])
    response = client.post(f"{base(matter)}/new", data=data)
    assert response.status_code == 200
    assert field_error(response, field), text(response)
    assert count(app, MediationSession) == 0 and count(app, Booking) == 0
    assert outbox(app, matter.petitioner.login) == []


def test_no_session_without_both_consents_or_on_an_ended_matter(app, client):
    matter = add_matter(app, respondent_department=False)
    _as(client, matter.mediator)
    page = text(client.get(f"{base(matter)}/new"))
    assert "consent of both sides" in page and 'name="on"' not in page
    response = schedule(client, matter)
    assert response.status_code == 200 and "consent of both sides" in text(response)
    assert count(app, MediationSession) == 0

    ended = add_matter(app)
    with database(app) as session:
        session.get(MediationReferral, ended.id).status = MediationStatus.NO_AGREEMENT
        session.commit()
    _as(client, ended.mediator)
    response = schedule(client, ended)
    assert response.status_code == 200 and "has ended" in text(response)
    listing = text(client.get(base(ended)))
    assert "Schedule a session" not in listing and f"{base(ended)}/new" not in listing

    withdrawn = add_matter(app)
    with database(app) as session:
        party = session.scalars(select(MediationParty).where(MediationParty.referral_id == withdrawn.id,
                                                             MediationParty.side == PartySide.RESPONDENT)).one()
        party.withdrawn_on, party.withdrawal_reason = date.today(), "不再同意"
        session.commit()
    _as(client, withdrawn.mediator)
    assert "consent of both sides" in text(schedule(client, withdrawn))
    assert count(app, MediationSession) == 0


def test_an_overlap_is_shown_and_scheduling_goes_ahead_only_when_confirmed(app, client):
    matter = add_matter(app)
    first = scheduled(app, client, matter, days_ahead=10, at="09:00", room="调解室一")
    other = add_matter(app, room="调解室一")  # another matter, same room
    _as(client, other.mediator)
    response = schedule(client, other, days_ahead=10, at="10:00", room="调解室一")
    assert response.status_code == 200
    page = text(response)
    assert 'id="conflict-list"' in page and f"{matter.case_reference}" in page
    assert 'name="confirm_conflicts"' in page
    assert count(app, MediationSession, MediationSession.referral_id == other.id) == 0
    response = schedule(client, other, days_ahead=10, at="10:00", room="调解室一", confirm_conflicts="y")
    assert response.status_code == 303
    event = audit_events(app, "mediation_session.scheduled")[-1]
    assert '"conflicts_confirmed": true' in event.details and f'"ref_id": {first}' in event.details
    # no overlap in another room at another time
    assert schedule(client, other, days_ahead=10, at="14:00", room="调解室二").status_code == 303


def test_a_joint_conference_meeting_of_the_department_counts_as_a_conflict(app, client):
    from tests.test_conference_scheduling import fixed_meeting

    matter = add_matter(app)
    ws = add_workspace(app, shared_department_ids=(matter.department_id,))
    fixed_meeting(app, client, ws, days=12, at="09:00")
    _as(client, matter.mediator)
    response = schedule(client, matter, days_ahead=12, at="09:30", room="调解室九")
    assert response.status_code == 200 and "第一次联席会议" in text(response)


# --- invitations --------------------------------------------------------------------------------------------

def test_invitations_go_to_mediators_department_reps_and_the_petitioner_with_a_valid_ics(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter, days_ahead=10, at="09:00")
    uid = get_session(app, session_id).uid
    for person in (matter.mediator, matter.rep, matter.petitioner):
        found = calendars(app, person.login)
        assert len(found) == 1, person
        content_type, calendar = found[0]
        assert content_type == "text/calendar; method=REQUEST"
        assert str(calendar["METHOD"]) == "REQUEST"
        event = vevent(calendar)
        assert str(event["UID"]) == uid and int(event["SEQUENCE"]) == 0
        assert event.decoded("DTSTART") == utc_of(10, "09:00")
        assert "调解室一" in str(event["LOCATION"])
        attendees = {str(a).removeprefix("mailto:") for a in (event.get("ATTENDEE") if isinstance(
            event.get("ATTENDEE"), list) else [event.get("ATTENDEE")])}
        assert matter.mediator.email in attendees and person.email in attendees
        assert matter.petitioner.email not in attendees or person == matter.petitioner  # addresses stay private
    petitioner_body = outbox(app, matter.petitioner.login)[0].body
    rep_body = outbox(app, matter.rep.login)[0].body
    assert "free of charge" in petitioner_body or "免费" in petitioner_body
    assert matter.case_reference in rep_body
    for nobody in (matter.colleague, matter.stranger, matter.outsider, matter.other_petitioner, matter.staff):
        assert outbox(app, nobody.login) == []


def test_a_phone_only_petitioner_gets_a_text_message_without_attachment(app, client):
    matter = add_matter(app, petitioner_phone_only=True)
    scheduled(app, client, matter)
    messages = outbox(app, matter.petitioner.login)
    assert len(messages) == 1 and messages[0].channel == "sms"
    assert "免费" in messages[0].body or "free of charge" in messages[0].body


# --- moving and cancelling ------------------------------------------------------------------------------------

def test_moving_keeps_the_uid_raises_the_sequence_moves_the_booking_and_tells_everyone(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter, days_ahead=10, at="09:00")
    before = get_session(app, session_id)
    response = client.post(f"{base(matter)}/{session_id}/move",
                           data=session_data(days_ahead=11, at="15:00", room="调解室二"))
    assert response.status_code == 303
    after = get_session(app, session_id)
    assert after.uid == before.uid and after.sequence == 1 and after.starts_at == utc_of(11, "15:00")
    assert after.booking_id == before.booking_id
    with database(app) as session:
        booking = session.get(Booking, after.booking_id)
        assert booking.starts_at == utc_of(11, "15:00") and booking.room == "调解室二"
    _ct, calendar = calendars(app, matter.rep.login)[-1]
    event = vevent(calendar)
    assert str(event["UID"]) == before.uid and int(event["SEQUENCE"]) == 1
    assert len(outbox(app, matter.petitioner.login)) == 2
    assert '"previous"' in audit_events(app, "mediation_session.rescheduled")[0].details
    # the same time again is refused; a past time too; nothing changes
    response = client.post(f"{base(matter)}/{session_id}/move",
                           data=session_data(days_ahead=11, at="15:00", room="调解室二"))
    assert response.status_code == 200 and field_error(response, "on")
    response = client.post(f"{base(matter)}/{session_id}/move", data=session_data(days_ahead=-2))
    assert response.status_code == 200 and field_error(response, "on")
    assert get_session(app, session_id).sequence == 1


def test_moving_checks_conflicts_again_but_not_against_itself(app, client):
    matter = add_matter(app)
    first = scheduled(app, client, matter, days_ahead=10, at="09:00")
    second = scheduled(app, client, matter, days_ahead=12, at="09:00")
    response = client.post(f"{base(matter)}/{first}/move", data=session_data(days_ahead=10, at="09:30"))
    assert response.status_code == 303  # overlaps only its own old booking
    response = client.post(f"{base(matter)}/{first}/move", data=session_data(days_ahead=12, at="10:00"))
    assert response.status_code == 200 and 'id="conflict-list"' in text(response)
    assert get_session(app, first).starts_at == utc_of(10, "09:30")
    response = client.post(f"{base(matter)}/{first}/move",
                           data=session_data(days_ahead=12, at="10:00", confirm_conflicts="y"))
    assert response.status_code == 303 and get_session(app, first).starts_at == utc_of(12, "10:00")
    assert second


def test_cancelling_needs_a_reason_sends_cancel_and_frees_the_booking(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    booking_id = get_session(app, session_id).booking_id
    response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": "  "})
    assert response.status_code == 200 and field_error(response, "reason")
    assert get_session(app, session_id).status == SessionStatus.SCHEDULED
    response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": "调解员生病"})
    assert response.status_code == 303
    cancelled = get_session(app, session_id)
    assert cancelled.status == SessionStatus.CANCELLED and cancelled.cancel_reason == "调解员生病"
    assert cancelled.booking_id is None and count(app, Booking, Booking.id == booking_id) == 0
    content_type, calendar = calendars(app, matter.petitioner.login)[-1]
    assert content_type == "text/calendar; method=CANCEL" and str(calendar["METHOD"]) == "CANCEL"
    event = vevent(calendar)
    assert str(event["STATUS"]) == "CANCELLED" and int(event["SEQUENCE"]) == 1
    assert "调解员生病" in outbox(app, matter.rep.login)[-1].body
    assert len(audit_events(app, "mediation_session.cancelled")) == 1
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert "调解员生病" in page and f"{base(matter)}/{session_id}/move" not in page
    response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": "again"},
                           follow_redirects=True)
    assert [c for c, _m in flashes(response)] == ["error"]
    # the next session still gets the next number
    assert get_session(app, scheduled(app, client, matter, days_ahead=20)).number == 2


def test_a_started_session_is_neither_moved_nor_cancelled(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    start_record(app, session_id)
    with database(app) as session:  # started but still marked scheduled: the record alone decides
        session.get(MediationSession, session_id).status = SessionStatus.SCHEDULED
        session.commit()
    response = client.post(f"{base(matter)}/{session_id}/move", data=session_data(days_ahead=15),
                           follow_redirects=True)
    assert any(c == "error" and "has started" in m for c, m in flashes(response))
    response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": "取消"}, follow_redirects=True)
    assert any(c == "error" and "has started" in m for c, m in flashes(response))
    assert get_session(app, session_id).sequence == 0
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert f"{base(matter)}/{session_id}/cancel" not in page
    assert len(outbox(app, matter.rep.login)) == 1


# --- the session page, .ics, access ----------------------------------------------------------------------------

def test_the_session_page_shows_time_place_participants_and_the_record_link(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert matter.mediator.display_name in page and "陈信访" in page
    assert f"{base(matter)}/{session_id}.ics" in page and 'hx-boost="false"' in page
    if "mediation.record" in app.view_functions:
        assert f"{base(matter)}/{session_id}/record" in page
    assert f"{base(matter)}/{session_id}/move" in page and f"{base(matter)}/{session_id}/cancel" in page
    _as(client, matter.petitioner)
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert "调解室一" in page and f"{base(matter)}/{session_id}/move" not in page
    assert matter.petitioner.email not in page and matter.rep.email not in page
    listing = text(client.get(base(matter)))
    assert f"{base(matter)}/new" not in listing
    fragment = client.get(base(matter), headers=HX).get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="mediation-sessions"') and "<html" not in fragment


@pytest.mark.parametrize("who, view, manage", [
    ("mediator", 200, 303), ("colleague", 200, 303), ("stranger", 403, 403), ("petitioner", 200, 403),
    ("rep", 200, 403), ("outsider", 403, 403), ("other_petitioner", 403, 403), ("staff", 200, 403),
    ("leader", 200, 403),
])
def test_who_may_see_download_and_manage_sessions(app, client, who, view, manage):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    _as(client, getattr(matter, who))
    assert client.get(base(matter)).status_code == view
    assert client.get(f"{base(matter)}/{session_id}").status_code == view
    response = client.get(f"{base(matter)}/{session_id}.ics")
    assert response.status_code == view
    if view == 200:
        assert response.mimetype == "text/calendar"
        event = vevent(Calendar.from_ical(response.data))
        assert str(event["UID"]) == get_session(app, session_id).uid
        assert matter.petitioner.email not in response.get_data(as_text=True)
    assert client.get(f"{base(matter)}/new").status_code == (200 if manage == 303 else 403)
    response = client.post(f"{base(matter)}/{session_id}/move", data=session_data(days_ahead=13))
    assert response.status_code == manage
    response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": "x"})
    assert response.status_code == manage


def test_anonymous_visitors_are_sent_to_log_in_and_unknown_ids_give_404(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    other = add_matter(app)
    other_session = scheduled(app, client, other, days_ahead=11)
    _as(client, matter.mediator)
    assert client.get(f"{base(matter)}/{other_session}").status_code == 404  # a session of another matter
    assert client.get(f"{base(matter)}/999999").status_code == 404
    assert client.get("/mediation/999999/sessions").status_code == 404
    client.post("/logout")
    for path in (base(matter), f"{base(matter)}/{session_id}", f"{base(matter)}/{session_id}.ics",
                 f"{base(matter)}/new"):
        assert is_login_redirect(client.get(path)), path


# --- the calendar feed and helpers ------------------------------------------------------------------------------

def test_the_private_calendar_feed_lists_the_users_sessions(app, client):
    from tests.test_calendar_feed import make_feed, uids

    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    cancelled_id = scheduled(app, client, matter, days_ahead=20)
    client.post(f"{base(matter)}/{cancelled_id}/cancel", data={"reason": "改期"})
    uid = get_session(app, session_id).uid
    for who, expected in ((matter.mediator, [uid]), (matter.rep, [uid]), (matter.petitioner, [uid]),
                          (matter.outsider, []), (matter.other_petitioner, []), (matter.colleague, [])):
        _as(client, who)
        path, _token = make_feed(client)
        client.post("/logout")
        assert uids(client.get(path)) == expected, who


def test_upcoming_sessions_and_participants_helpers(app, client):
    from portal.accounts.models import User
    from portal.mediation.sessions import session_participants, upcoming_sessions_for

    matter = add_matter(app)
    later = scheduled(app, client, matter, days_ahead=20)
    sooner = scheduled(app, client, matter, days_ahead=5)
    with database(app) as session:
        rep = session.get(User, matter.rep.id)
        assert [s.id for s in upcoming_sessions_for(rep, limit=10)] == [sooner, later]
        assert [s.id for s in upcoming_sessions_for(rep, limit=1)] == [sooner]
        assert upcoming_sessions_for(session.get(User, matter.outsider.id), limit=10) == []
        people = session_participants(session.get(MediationSession, sooner))
        assert [u.id for u in people.mediators] == [matter.mediator.id]
        assert [u.id for u in people.representatives] == [matter.rep.id]
        assert [u.id for u in people.petitioners] == [matter.petitioner.id]
        assert {u.id for u in people.users()} == {matter.mediator.id, matter.rep.id, matter.petitioner.id}


# --- queries ------------------------------------------------------------------------------------------------

def _crowd(app, matter_id: int, n: int) -> None:
    """More mediators, department parties with representatives, petitioner parties."""
    with database(app) as session:
        matter = session.get(MediationReferral, matter_id)
        committee = matter.committee
        for _ in range(n):
            mediator = make_user(Role.MEDIATOR, committee)
            department = make_department()
            make_user(Role.DEPARTMENT_REP, department)
            make_user(Role.DEPARTMENT_REP, department)
            session.add_all([
                MediationMediator(referral_id=matter_id, user_id=mediator.id),
                MediationParty(referral_id=matter_id, side=PartySide.RESPONDENT, department_id=department.id,
                               name=department.name, consent_on=date.today(), consent_how="口头")])
            session.commit()


def test_the_session_pages_run_a_fixed_number_of_queries(app, client, count_queries):
    small = add_matter(app)
    small_session = scheduled(app, client, small)
    big = add_matter(app, room="调解室二")
    _crowd(app, big.id, 5)
    big_sessions = [scheduled(app, client, big, days_ahead=20 + n, room="调解室二") for n in range(6)]
    counts = {}
    for who in ("mediator", "petitioner", "rep"):
        for matter, session_id in ((small, small_session), (big, big_sessions[-1])):
            _as(client, getattr(matter, who))
            for path in (base(matter), f"{base(matter)}/{session_id}", f"{base(matter)}/{session_id}.ics"):
                with count_queries() as counter:
                    assert client.get(path).status_code == 200, path
                counts.setdefault((who, path.count("/"), path.endswith(".ics")), set()).add(counter.count)
    assert all(len(values) == 1 for values in counts.values()), counts


def test_an_htmx_post_with_errors_gets_the_page_with_messages(app, client):
    matter = add_matter(app)
    _as(client, matter.mediator)
    response = client.post(f"{base(matter)}/new", data=session_data(minutes=0), headers=HX)
    assert response.status_code == 200 and field_error(response, "minutes")
    response = schedule(client, matter)
    assert response.status_code == 303
    assert [c for c, _m in flashes(client.get(location(response)))] == ["success"]


def test_when_a_matter_ends_its_sessions_ahead_can_be_called_off_in_one_go(app, client):
    from portal.accounts.models import User
    from portal.mediation.services import load_matter
    from portal.mediation.sessions import cancel_open_sessions

    matter = add_matter(app)
    started = scheduled(app, client, matter, days_ahead=5)
    ahead = scheduled(app, client, matter, days_ahead=12)
    start_record(app, started)
    with database(app) as session:
        n = cancel_open_sessions(load_matter(matter.id), session.get(User, matter.mediator.id), "一方撤回同意")
        session.commit()
    assert n == 1
    assert get_session(app, ahead).status == SessionStatus.CANCELLED
    assert get_session(app, started).status == SessionStatus.HELD
    assert str(vevent(calendars(app, matter.petitioner.login)[-1][1])["STATUS"]) == "CANCELLED"
    assert "一方撤回同意" in outbox(app, matter.rep.login)[-1].body


def test_the_matter_page_lists_the_sessions(app, client):
    if "mediation.matter" not in app.view_functions:
        pytest.skip("the matter page is not there yet")
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    page = text(client.get(f"/mediation/{matter.id}"))
    assert f"{base(matter)}/{session_id}" in page and f"{base(matter)}/new" in page
    _as(client, matter.rep)
    page = text(client.get(f"/mediation/{matter.id}"))
    assert f"{base(matter)}/{session_id}" in page and f"{base(matter)}/new" not in page


# --- walk-through fixes ---------------------------------------------------------------------------------------

def test_the_conflict_warning_names_who_or_what_clashes(app, client):
    matter = add_matter(app)
    scheduled(app, client, matter, days_ahead=10, at="09:00", room="调解室一")
    # Another session of the same matter an hour later, in another room: the people clash, not the room.
    response = schedule(client, matter, days_ahead=10, at="10:00", room="调解室二")
    assert response.status_code == 200
    item = text(response).split('id="conflict-list"')[1].split("</ul>")[0]
    clashes = item.split("<strong>")[1]  # "Clashes with: ..." in the reader's language
    assert matter.mediator.display_name in clashes and matter.petitioner.display_name in clashes
    assert "调解室一" not in clashes
    # Another matter in the same room: only the room clashes.
    other = add_matter(app, room="调解室一")
    _as(client, other.mediator)
    item = text(schedule(client, other, days_ahead=10, at="10:00", room="调解室一")).split(
        'id="conflict-list"')[1].split("</ul>")[0]
    clashes = item.split("<strong>")[1]
    assert "调解室一" in clashes and matter.mediator.display_name not in clashes
    # Confirmed, the audit trail keeps the reasons.
    assert schedule(client, other, days_ahead=10, at="10:00", room="调解室一", confirm_conflicts="y").status_code == 303
    assert '"clashes": [' in audit_events(app, "mediation_session.scheduled")[-1].details


def test_scheduling_a_matter_without_a_mediator_assigns_the_scheduling_mediator(app, client):
    matter = add_matter(app)
    with database(app) as session:
        session.execute(MediationMediator.__table__.delete().where(MediationMediator.referral_id == matter.id))
        session.commit()
    # A conflict warning changes nothing, the assignment included.
    scheduled(app, client, add_matter(app), days_ahead=11, at="09:00", room="调解室七")
    _as(client, matter.colleague)
    response = schedule(client, matter, days_ahead=11, at="09:30", room="调解室七")
    assert response.status_code == 200 and 'id="conflict-list"' in text(response)
    assert count(app, MediationMediator, MediationMediator.referral_id == matter.id) == 0
    response = schedule(client, matter, days_ahead=12, at="09:00", room="调解室七")
    assert response.status_code == 303
    with database(app) as session:
        assigned = session.scalars(select(MediationMediator).where(MediationMediator.referral_id == matter.id)).all()
        assert [(m.user_id, m.added_by_id) for m in assigned] == [(matter.colleague.id, matter.colleague.id)]
    event = audit_events(app, "mediation.mediator_assigned")[-1]
    assert f'"mediator": {matter.colleague.id}' in event.details and '"on_scheduling": true' in event.details
    assert '"mediator_assigned": true' in audit_events(app, "mediation_session.scheduled")[-1].details
    assert calendars(app, matter.colleague.login)  # the invitation reaches a mediator
    # With a mediator assigned, scheduling assigns no one else.
    _as(client, matter.mediator)
    assert schedule(client, matter, days_ahead=13).status_code == 303
    assert count(app, MediationMediator, MediationMediator.referral_id == matter.id) == 1


def test_a_party_added_later_is_invited_to_the_sessions_ahead(app, client):
    from portal.mediation.sessions import invite_party_to_upcoming
    from portal.mediation.services import load_matter

    matter = add_matter(app)
    ahead = scheduled(app, client, matter, days_ahead=10)
    cancelled = scheduled(app, client, matter, days_ahead=12)
    client.post(f"{base(matter)}/{cancelled}/cancel", data={"reason": "改期"})
    later = scheduled(app, client, matter, days_ahead=14)
    with database(app) as session:
        department = make_department()
        rep, other_rep = make_user(Role.DEPARTMENT_REP, department), make_user(Role.DEPARTMENT_REP, department)
        gone = make_user(Role.DEPARTMENT_REP, department)
        gone.active = False
        party = MediationParty(referral_id=matter.id, side=PartySide.RESPONDENT, department_id=department.id,
                               name=department.name, consent_on=date.today(), consent_how="函复同意")
        session.add(party)
        session.commit()
        rep_login, other_login, gone_login = rep.login, other_rep.login, gone.login
        sent = invite_party_to_upcoming(load_matter(matter.id), party)
        session.commit()
    assert sent == 4  # two sessions ahead, two active representatives
    uids = {get_session(app, ahead).uid, get_session(app, later).uid}
    for login_ in (rep_login, other_login):
        found = calendars(app, login_)
        assert {str(vevent(c)["UID"]) for _t, c in found} == uids
        assert all(t == "text/calendar; method=REQUEST" for t, _c in found)
    assert calendars(app, gone_login) == []
    assert len(calendars(app, matter.petitioner.login)) == 4  # 3 invitations and 1 cancellation, nothing new
    assert len(audit_events(app, "mediation_session.party_invited")) == 2


def test_a_department_added_on_the_matter_page_gets_the_invitations(app, client):
    matter = add_matter(app)
    ahead = scheduled(app, client, matter, days_ahead=10)
    with database(app):
        department = make_department()
        rep = make_user(Role.DEPARTMENT_REP, department)
        department_id, rep_login = department.id, rep.login
    response = client.post(f"/mediation/{matter.id}/parties", data={
        "party-side": "respondent", "party-kind": "department", "party-department_id": str(department_id),
        "party-consent_on": date.today().isoformat(), "party-consent_how": "函复同意"})
    assert response.status_code in (200, 303)
    if response.status_code == 200 and not calendars(app, rep_login):
        pytest.skip("the matter page does not add department parties this way yet")
    assert [str(vevent(c)["UID"]) for _t, c in calendars(app, rep_login)] == [get_session(app, ahead).uid]


def test_cancelling_needs_the_reason_before_the_confirm_and_a_refusal_keeps_the_session_address(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    page = text(client.get(f"{base(matter)}/{session_id}"))
    form = page.split('id="cancel-h"')[1].split("</form>")[0]
    assert "novalidate" not in form and "hx-confirm" in form
    assert re.search(r'<textarea[^>]*required[^>]*name="reason"|<textarea[^>]*name="reason"[^>]*required', form)
    for headers in ({}, {**HX, "HX-Boosted": "true"}):
        response = client.post(f"{base(matter)}/{session_id}/cancel", data={"reason": " "}, headers=headers)
        assert response.status_code == 200 and field_error(response, "reason")
        assert response.headers["HX-Push-Url"] == f"{base(matter)}/{session_id}"
    response = client.post(f"{base(matter)}/{session_id}/move", data=session_data(minutes=0),
                           headers={**HX, "HX-Boosted": "true"})
    assert response.status_code == 200 and response.headers["HX-Push-Url"] == f"{base(matter)}/{session_id}"
    assert get_session(app, session_id).status == SessionStatus.SCHEDULED


def test_the_session_page_shows_no_cost_row(app, client):
    matter = add_matter(app)
    session_id = scheduled(app, client, matter)
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert "<dt>Cost</dt>" not in page and "费用" not in page


# --- how times and names read ------------------------------------------------------------------------------------

def test_session_span_writes_the_date_once_within_a_day_and_on_both_sides_across_midnight(app):
    from datetime import datetime as dt

    from flask_babel import force_locale

    from portal.mediation.sessions import session_span
    from portal.timeutil import local_zone

    zone = local_zone()
    start = dt(2026, 11, 30, 23, 35, tzinfo=zone)
    with app.test_request_context():
        with force_locale("zh_CN"):
            assert session_span(start, start + timedelta(minutes=15)) == "2026年11月30日 23:35–23:50"
            assert session_span(start, start + timedelta(minutes=40)) == "2026年11月30日 23:35 – 2026年12月1日 00:15"
            assert session_span(dt(2026, 12, 1, 8, 5, tzinfo=zone),
                                dt(2026, 12, 1, 9, 0, tzinfo=zone)) == "2026年12月1日 08:05–09:00"
        with force_locale("en"):
            assert session_span(start, start + timedelta(minutes=15)) == "November 30, 2026 23:35–23:50"


def test_the_session_page_invitation_and_ics_show_the_date_once_with_zero_padded_times(app, client):
    from flask_babel import force_locale

    from portal.mediation.sessions import session_span

    matter = add_matter(app)
    session_id = scheduled(app, client, matter, days_ahead=10, at="08:05", minutes=40)
    session = get_session(app, session_id)
    with app.test_request_context(), force_locale("en"):
        when = session_span(session.starts_at, session.ends_at)
    assert when.endswith(" 08:05–08:45") and when.count("2026") + when.count("2027") == 1, when
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert when in page
    body = outbox(app, matter.rep.login)[0].body
    assert f"When: {when} (Beijing time)" in body
    [(_type, calendar)] = calendars(app, matter.rep.login)
    assert f"When: {when} (Beijing time)" in str(vevent(calendar)["DESCRIPTION"])


def test_names_on_the_session_page_are_joined_with_the_readers_list_separator(app, client):
    matter = add_matter(app)
    with database(app) as session:
        matter_row = session.get(MediationReferral, matter.id)
        matter_row.mediators.append(MediationMediator(user_id=matter.colleague.id))
        zh_mediator = make_user(Role.MEDIATOR, matter_row.committee, locale="zh_CN")
        matter_row.mediators.append(MediationMediator(user_id=zh_mediator.id))
        session.commit()
        zh_login = zh_mediator.login
    session_id = scheduled(app, client, matter)
    names = [matter.mediator.display_name, matter.colleague.display_name]
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert ", ".join(names) in page
    client.post("/logout")
    assert login(client, zh_login, PASSWORD).status_code == 303
    page = text(client.get(f"{base(matter)}/{session_id}"))
    assert "、".join(names) in page and ", ".join(names) not in page
