"""The mediation matter through the HTTP routes: the referral from triage (department or person on the other side,
petition or court source), the matter page for every role, mediators, room, parties, a withdrawal of consent, each
outcome and how it changes the case and shows on the case pages, the list and its query count."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

import pytest
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.cases.models import Case, CaseEvent, CaseStatus, ClockKind, LegalRoute
from portal.mediation.models import (
    AfterMediation,
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    PartySide,
    ProceedingRecord,
    RecordStatus,
    SessionStatus,
)
from portal.timeutil import today, utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import (
    UserRef,
    audit_actions,
    database,
    field_error,
    flashes,
    form_errors,
    is_login_redirect,
    outbox,
    text,
)

HX = {"HX-Request": "true"}


@dataclass
class World:
    staff: UserRef
    leader: UserRef
    admin: UserRef
    mediator: UserRef  # of the committee the case goes to
    colleague: UserRef  # another mediator of the same committee
    outside_mediator: UserRef  # of another committee
    party_rep: UserRef  # representative of the department on the other side
    other_rep: UserRef  # a department that takes no part
    petitioner: UserRef
    stranger: UserRef
    committee_id: int
    court_id: int
    party_department_id: int
    other_department_id: int
    case_id: int


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


@pytest.fixture
def world(app) -> World:
    with database(app):
        committee = make_department("东区人民调解委员会（测试）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department("西区人民调解委员会（测试）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        court = make_department("东区人民法院（测试）", kind=DepartmentKind.COURT)
        party_department = make_department("住建局（测试）")
        other_department = make_department("市场监管局（测试）")
        staff = make_user(Role.STAFF, locale="en")
        leader = make_user(Role.LEADER, locale="en")
        admin = make_user(Role.ADMIN, locale="en")
        mediator = make_user(Role.MEDIATOR, committee, name="李调解", locale="en")
        colleague = make_user(Role.MEDIATOR, committee, name="周调解", locale="en")
        outside = make_user(Role.MEDIATOR, other_committee, name="吴调解", locale="en")
        party_rep = make_user(Role.DEPARTMENT_REP, party_department, locale="en")
        other_rep = make_user(Role.DEPARTMENT_REP, other_department, locale="en")
        petitioner = make_user(Role.PETITIONER, locale="en")
        stranger = make_user(Role.PETITIONER, locale="en")
        case = make_case(petitioner_user=petitioner, received_on=today() - timedelta(days=3))
        return World(*[_ref(u) for u in (staff, leader, admin, mediator, colleague, outside, party_rep, other_rep,
                                         petitioner, stranger)],
                     committee.id, court.id, party_department.id, other_department.id, case.id)


def as_user(client, user) -> None:
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def referral_data(world: World, **changes) -> dict:
    data = {"source": "petition", "committee": str(world.committee_id), "respondent": "department",
            "other_department": str(world.party_department_id), "other_party": "", "other_phone": "",
            "petitioner_consent_on": day(-2), "petitioner_consent_how": "签署调解申请书",
            "other_consent_on": day(-1), "other_consent_how": "书面同意函", "scope_confirmed": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def refer(client, world: World, **changes):
    return client.post(f"/cases/{world.case_id}/triage/mediation", data=referral_data(world, **changes))


def the_matter(app) -> MediationReferral:
    with database(app) as session:
        matter = session.scalars(select(MediationReferral).order_by(MediationReferral.id.desc())).first()
        matter.parties, matter.mediators  # noqa: B018 - load before the session closes
        return matter


def get_case(app, case_id) -> Case:
    with database(app) as session:
        case = session.get(Case, case_id)
        case.clocks  # noqa: B018
        return case


def event_kinds(app, case_id) -> list[str]:
    with database(app) as session:
        return list(session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case_id)
                                    .order_by(CaseEvent.id)))


@pytest.fixture
def matter_id(app, client, world) -> int:
    """The case referred by staff with a department on the other side; the staff member stays signed in."""
    as_user(client, world.staff)
    response = refer(client, world)
    assert response.status_code == 303, form_errors(response)
    return the_matter(app).id


# --- the referral from triage ------------------------------------------------------------------------

def test_referral_with_a_department_on_the_other_side(app, client, world):
    as_user(client, world.staff)
    response = refer(client, world)
    assert response.status_code == 303
    matter = the_matter(app)
    assert matter.status == MediationStatus.OPEN and matter.source.value == "petition"
    assert matter.committee_id == world.committee_id and matter.court_id is None
    respondents = [p for p in matter.parties if p.side == PartySide.RESPONDENT]
    applicants = [p for p in matter.parties if p.side == PartySide.APPLICANT]
    assert [(p.department_id, p.name, p.consent_how) for p in respondents] == [
        (world.party_department_id, "住建局（测试）", "书面同意函")]
    assert [(p.name, p.consent_on.isoformat(), p.consent_how) for p in applicants] == [
        ("陈信访", day(-2), "签署调解申请书")]
    assert get_case(app, world.case_id).status == CaseStatus.MEDIATION
    assert "mediation_referral" in event_kinds(app, world.case_id)
    assert "case.mediation_referral" in audit_actions(app)
    assert any("Mediation on" in m.subject for m in outbox(app, world.party_rep.login))
    assert outbox(app, world.petitioner.login)
    # the department on the other side now sees the case, with the mediation on it
    as_user(client, world.party_rep)
    page = client.get(f"/cases/{world.case_id}")
    assert page.status_code == 200
    assert "东区人民调解委员会（测试）" in text(page) and f"/mediation/{matter.id}" in text(page)


def test_referral_with_a_named_person_on_the_other_side(app, client, world):
    as_user(client, world.staff)
    response = refer(client, world, respondent="person", other_department="", other_party="Y市某建筑公司",
                     other_phone="13900001111")
    assert response.status_code == 303
    respondent = [p for p in the_matter(app).parties if p.side == PartySide.RESPONDENT][0]
    assert (respondent.name, respondent.phone, respondent.department_id) == ("Y市某建筑公司", "13900001111", None)


def test_referral_entrusted_by_a_court(app, client, world):
    as_user(client, world.staff)
    response = refer(client, world, source="court", court=str(world.court_id), court_reference="（2026）东民初123号")
    assert response.status_code == 303
    matter = the_matter(app)
    assert (matter.source.value, matter.court_id, matter.court_reference) == ("court", world.court_id,
                                                                                "（2026）东民初123号")
    page = text(client.get(f"/mediation/{matter.id}"))
    assert "东区人民法院（测试）" in page and "（2026）东民初123号" in page


def court_reps(app, world: World) -> tuple[UserRef, UserRef]:
    """An active representative of the entrusting court, and an inactive one (never told)."""
    from portal.accounts.models import Department

    with database(app) as session:
        court = session.get(Department, world.court_id)
        active = make_user(Role.DEPARTMENT_REP, court, locale="en")
        gone = make_user(Role.DEPARTMENT_REP, court, locale="en", active=False)
        return _ref(active), _ref(gone)


def test_the_court_is_told_of_the_referral_and_the_outcome(app, client, world):
    court_rep, gone = court_reps(app, world)
    as_user(client, world.staff)
    response = refer(client, world, source="court", court=str(world.court_id), court_reference="（2026）东民初7号")
    assert response.status_code == 303
    matter = the_matter(app)
    told = outbox(app, court_rep.login)
    assert len(told) == 1 and "（2026）东民初7号" in told[0].subject and "has started" in told[0].subject
    assert f"/mediation/{matter.id}" in told[0].body and "东区人民调解委员会（测试）" in told[0].body
    assert outbox(app, gone.login) == []
    # the court follows the link: it sees the matter
    as_user(client, court_rep)
    assert client.get(f"/mediation/{matter.id}").status_code == 200
    # the outcome is sent to it too, with the link
    hold_locked_session(app, matter.id)
    as_user(client, world.mediator)
    assert outcome(client, matter.id, kind="oral_agreement", text="一次性支付3万元。").status_code == 303
    told = outbox(app, court_rep.login)
    assert len(told) == 2 and "Oral agreement" in told[1].subject and "（2026）东民初7号" in told[1].subject
    assert "一次性支付3万元。" in told[1].body and f"/mediation/{matter.id}" in told[1].body
    assert outbox(app, gone.login) == []


def test_the_court_is_told_of_a_withdrawal(app, client, world):
    court_rep, _gone = court_reps(app, world)
    as_user(client, world.staff)
    refer(client, world, source="court", court=str(world.court_id), court_reference="（2026）东民初8号")
    matter = the_matter(app)
    party = [p for p in matter.parties if p.side == PartySide.RESPONDENT][0]
    as_user(client, world.mediator)
    response = client.post(f"/mediation/{matter.id}/withdraw", data={
        "withdraw-party_id": str(party.id), "withdraw-withdrawn_on": day(0), "withdraw-reason": "不再同意调解"})
    assert response.status_code == 303
    told = outbox(app, court_rep.login)
    assert len(told) == 2 and "has ended" in told[1].subject
    assert "不再同意调解" in told[1].body and f"/mediation/{matter.id}" in told[1].body


def test_a_petition_referral_tells_no_court(app, client, world):
    court_rep, _gone = court_reps(app, world)
    as_user(client, world.staff)
    assert refer(client, world).status_code == 303
    assert outbox(app, court_rep.login) == []


@pytest.mark.parametrize("changes, field", [
    ({"source": "court", "court": ""}, "court"),
    ({"source": "court", "court": "WORLD_COMMITTEE"}, "court"),  # not a court
    ({"source": "court", "court": "WORLD_COURT", "court_reference": " "}, "court_reference"),
    ({"respondent": "department", "other_department": ""}, "other_department"),
    ({"respondent": "person", "other_department": "", "other_party": ""}, "other_party"),
    ({"respondent": "nobody"}, "respondent"),
    ({"other_consent_on": None}, "other_consent_on"),
    ({"other_consent_how": ""}, "other_consent_how"),
    ({"petitioner_consent_on": "FUTURE"}, "petitioner_consent_on"),
    ({"scope_confirmed": None}, "scope_confirmed"),
])
def test_referral_bad_input_is_shown_at_the_field(app, client, world, changes, field):
    replacements = {"WORLD_COMMITTEE": str(world.committee_id), "WORLD_COURT": str(world.court_id),
                    "FUTURE": day(2)}
    changes = {k: replacements.get(v, v) if isinstance(v, str) else v for k, v in changes.items()}
    as_user(client, world.staff)
    response = refer(client, world, **changes)
    assert response.status_code == 200
    assert field_error(response, field), field
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    with database(app) as session:
        assert session.scalars(select(MediationReferral)).all() == []


# --- who may open what --------------------------------------------------------------------------------

def _get_status(client, user, path):
    if user is None:
        client.post("/logout")
    else:
        as_user(client, user)
    response = client.get(path)
    return "login" if is_login_redirect(response) else response.status_code


def test_matter_page_list_and_figures_for_every_role(app, client, world, matter_id):
    expected = {
        # user: (matter page, list, figures)
        "staff": (200, 200, 200), "leader": (200, 200, 200), "mediator": (200, 200, 200),
        "outside_mediator": (403, 200, 200), "party_rep": (200, 200, 200), "other_rep": (403, 200, 200),
        "petitioner": (200, 403, 403), "stranger": (403, 403, 403), "admin": (403, 403, 403),
    }
    for name, (page, listing, figures) in expected.items():
        user = getattr(world, name)
        got = tuple(_get_status(client, user, path)
                    for path in (f"/mediation/{matter_id}", "/mediation", "/mediation/figures"))
        assert got == (page, listing, figures), name
    for path in (f"/mediation/{matter_id}", "/mediation", "/mediation/figures"):
        assert _get_status(client, None, path) == "login"
    assert _get_status(client, world.staff, "/mediation/999999") == 404


def test_the_list_shows_only_the_matters_a_department_is_party_to(app, client, world, matter_id):
    as_user(client, world.party_rep)
    assert "陈信访" not in text(client.get("/mediation"))  # no personal data in the list
    assert f"/mediation/{matter_id}" in text(client.get("/mediation"))
    as_user(client, world.other_rep)
    assert f"/mediation/{matter_id}" not in text(client.get("/mediation"))


MANAGING = [("mediators", {"mediator-user_id": "COLLEAGUE"}), ("room", {"room-room": "调解室一"}),
            ("parties", {"party-side": "respondent", "party-kind": "person", "party-name": "某物业公司",
                         "party-consent_on": day(0), "party-consent_how": "电话"}),
            ("withdraw", {"withdraw-party_id": "0", "withdraw-withdrawn_on": day(0), "withdraw-reason": "x"}),
            ("outcome", {"outcome-kind": "agreement"}), ("mediators/COLLEAGUE/remove", {})]


def test_only_the_matters_mediators_manage_it(app, client, world, matter_id):
    for name in ("staff", "leader", "outside_mediator", "party_rep", "petitioner", "admin", None):
        user = getattr(world, name) if name else None
        if user is None:
            client.post("/logout")
        else:
            as_user(client, user)
        for path, data in MANAGING:
            path = path.replace("COLLEAGUE", str(world.colleague.id))
            data = {k: (str(world.colleague.id) if v == "COLLEAGUE" else v) for k, v in data.items()}
            response = client.post(f"/mediation/{matter_id}/{path}", data=data)
            if user is None:
                assert is_login_redirect(response), path
            else:
                assert response.status_code == 403, (name, path)
    matter = the_matter(app)
    assert matter.status == MediationStatus.OPEN and matter.room == "" and len(matter.parties) == 2
    assert client.post("/mediation/999999/room", data={"room-room": "x"}).status_code in (302, 303)  # signed out


def test_parties_see_the_page_without_controls(app, client, world, matter_id):
    for user in (world.petitioner, world.party_rep, world.staff):
        as_user(client, user)
        page = text(client.get(f"/mediation/{matter_id}"))
        assert "书面同意函" in page and "签署调解申请书" in page
        assert f"/mediation/{matter_id}/outcome" not in page and f"/mediation/{matter_id}/parties" not in page
    as_user(client, world.mediator)
    page = text(client.get(f"/mediation/{matter_id}"))
    assert f"/mediation/{matter_id}/outcome" in page and f"/mediation/{matter_id}/parties" in page
    assert "fee" not in page.lower()


# --- managing -------------------------------------------------------------------------------------------

def test_mediators_and_room(app, client, world, matter_id):
    as_user(client, world.mediator)
    response = client.post(f"/mediation/{matter_id}/mediators", data={"mediator-user_id": str(world.mediator.id)})
    assert response.status_code == 303
    response = client.post(f"/mediation/{matter_id}/mediators", data={"mediator-user_id": str(world.colleague.id)})
    assert response.status_code == 303
    assert {m.user_id for m in the_matter(app).mediators} == {world.mediator.id, world.colleague.id}
    assert outbox(app, world.colleague.login)
    # a mediator already assigned, or someone who is no mediator: refused at the field
    response = client.post(f"/mediation/{matter_id}/mediators", data={"mediator-user_id": str(world.staff.id)})
    assert response.status_code == 200 and field_error(response, "mediator-user_id")
    # removing: one stays
    assert client.post(f"/mediation/{matter_id}/mediators/{world.colleague.id}/remove").status_code == 303
    response = client.post(f"/mediation/{matter_id}/mediators/{world.mediator.id}/remove", follow_redirects=True)
    assert any("at least one mediator" in message for _, message in flashes(response))
    assert [m.user_id for m in the_matter(app).mediators] == [world.mediator.id]
    # the room: empty is refused (htmx gets the section, a plain POST the page), then set
    response = client.post(f"/mediation/{matter_id}/room", data={"room-room": " "}, headers=HX)
    assert response.status_code == 200 and "<html" not in text(response) and field_error(response, "room-room")
    response = client.post(f"/mediation/{matter_id}/room", data={"room-room": ""})
    assert response.status_code == 200 and "<html" in text(response) and field_error(response, "room-room")
    response = client.post(f"/mediation/{matter_id}/room", data={"room-room": "临时调解室"}, headers=HX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == f"/mediation/{matter_id}"
    assert the_matter(app).room == "临时调解室"
    response = client.post(f"/mediation/{matter_id}/room", data={"room-room": "和平街道调解室"})
    assert response.status_code == 303
    assert the_matter(app).room == "和平街道调解室"
    assert "和平街道调解室" in text(client.get(f"/mediation/{matter_id}"))
    actions = audit_actions(app)
    for action in ("mediation.mediator_assigned", "mediation.mediator_removed", "mediation.room_set"):
        assert action in actions


def test_adding_parties_needs_their_consent(app, client, world, matter_id):
    as_user(client, world.mediator)
    base = {"party-side": "respondent", "party-kind": "person", "party-name": "某物业公司",
            "party-phone": "13700001111", "party-consent_on": day(0), "party-consent_how": "当面口头同意并记录"}
    for changes, field in [({"party-consent_on": ""}, "party-consent_on"),
                           ({"party-consent_on": day(1)}, "party-consent_on"),
                           ({"party-consent_how": ""}, "party-consent_how"),
                           ({"party-name": ""}, "party-name"),
                           ({"party-kind": "department", "party-department_id": ""}, "party-department_id"),
                           ({"party-kind": "department", "party-department_id": str(world.party_department_id)},
                            "party-department_id"),  # already a party
                           ({"party-kind": "petitioner", "party-petitioner_id": ""}, "party-petitioner_id")]:
        response = client.post(f"/mediation/{matter_id}/parties", data={**base, **changes}, headers=HX)
        assert response.status_code == 200, field
        assert field_error(response, field), field
    assert len(the_matter(app).parties) == 2
    assert client.post(f"/mediation/{matter_id}/parties", data=base).status_code == 303
    data = {**base, "party-kind": "department", "party-department_id": str(world.other_department_id)}
    assert client.post(f"/mediation/{matter_id}/parties", data=data).status_code == 303
    parties = the_matter(app).parties
    assert [(p.name, p.phone, p.consent_how) for p in parties[2:]] == [
        ("某物业公司", "13700001111", "当面口头同意并记录"), ("市场监管局（测试）", "", "当面口头同意并记录")]
    assert audit_actions(app).count("mediation.party_added") == 2
    # its representatives are told, as those of a department named at the referral are, with the link
    [told] = outbox(app, world.other_rep.login)
    assert told.subject.startswith("Mediation on") and "Your department is a party to the mediation" in told.body
    assert f"/mediation/{matter_id}" in told.body
    # the added department now sees the matter
    as_user(client, world.other_rep)
    assert client.get(f"/mediation/{matter_id}").status_code == 200


def test_a_department_added_later_is_invited_to_the_sessions_ahead(app, client, world, matter_id):
    with database(app) as session:
        ahead = datetime.combine(today() + timedelta(days=5), time(2), timezone.utc)
        past = datetime.combine(today() - timedelta(days=5), time(2), timezone.utc)
        for number, start, status in ((1, past, SessionStatus.HELD), (2, ahead, SessionStatus.SCHEDULED),
                                      (3, ahead + timedelta(days=1), SessionStatus.CANCELLED)):
            session.add(MediationSession(referral_id=matter_id, number=number, status=status,
                                         uid=f"invite-{matter_id}-{number}", starts_at=start,
                                         ends_at=start + timedelta(hours=1), place="第一调解室"))
        session.commit()
    assert outbox(app, world.other_rep.login) == []
    as_user(client, world.mediator)
    data = {"party-side": "respondent", "party-kind": "department",
            "party-department_id": str(world.other_department_id), "party-consent_on": day(0),
            "party-consent_how": "函复同意"}
    assert client.post(f"/mediation/{matter_id}/parties", data=data).status_code == 303
    messages = outbox(app, world.other_rep.login)
    assert sum("Your department is a party" in m.body for m in messages) == 1
    invitations = [m for m in messages if "Your department is a party" not in m.body]
    assert len(invitations) == 1  # the session ahead only: not the held nor the cancelled one
    with database(app) as session:
        from portal.mail.models import OutboxMessage

        message = session.get(OutboxMessage, invitations[0].id)
        assert any(a.filename.endswith(".ics") for a in message.attachments)
    assert "mediation_session.party_invited" in audit_actions(app)
    # a person without an account is added without any invitation, and nothing fails
    person = {**data, "party-kind": "person", "party-department_id": "", "party-name": "某物业公司"}
    assert client.post(f"/mediation/{matter_id}/parties", data=person).status_code == 303
    assert audit_actions(app).count("mediation_session.party_invited") == 1


def test_a_withdrawal_of_consent_ends_the_matter(app, client, world, matter_id):
    as_user(client, world.mediator)
    party = [p for p in the_matter(app).parties if p.side == PartySide.RESPONDENT][0]
    data = {"withdraw-party_id": str(party.id), "withdraw-withdrawn_on": day(0), "withdraw-reason": "认为调解无望"}
    response = client.post(f"/mediation/{matter_id}/withdraw", data={**data, "withdraw-reason": ""})
    assert response.status_code == 200 and field_error(response, "withdraw-reason")
    response = client.post(f"/mediation/{matter_id}/withdraw", data={**data, "withdraw-withdrawn_on": day(-5)})
    assert field_error(response, "withdraw-withdrawn_on")  # before the consent
    assert the_matter(app).status == MediationStatus.OPEN
    response = client.post(f"/mediation/{matter_id}/withdraw", data=data)
    assert response.status_code == 303
    matter = the_matter(app)
    assert (matter.status, matter.outcome_text, matter.after) == (MediationStatus.WITHDRAWN, "认为调解无望",
                                                                   AfterMediation.HANDLING)
    assert matter.closed_at is not None and matter.closed_by_id == world.mediator.id
    withdrawn = [p for p in matter.parties if p.id == party.id][0]
    assert (withdrawn.withdrawn_on.isoformat(), withdrawn.withdrawal_reason) == (day(0), "认为调解无望")
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REGISTERED
    routing = [c for c in case.clocks if c.kind == ClockKind.ROUTING and c.stopped_on is None]
    assert len(routing) == 1 and routing[0].started_on == today()
    assert event_kinds(app, world.case_id)[-2:] == ["mediation_withdrawn", "mediation_returned"]
    assert "mediation.consent_withdrawn" in audit_actions(app)
    # the timeline's sentence fits a withdrawal as well as "no agreement"
    timeline = text(client.get(f"/cases/{world.case_id}"))
    assert "Back to the petition bureau for triage after mediation ended" in timeline
    assert "without agreement" not in timeline
    assert any("认为调解无望" in m.body for m in outbox(app, world.petitioner.login))
    # the ended matter refuses further changes, and shows no controls
    response = client.post(f"/mediation/{matter_id}/room", data={"room-room": "调解室"}, follow_redirects=True)
    assert any("has ended" in message for _, message in flashes(response))
    assert the_matter(app).room == ""
    page = text(client.get(f"/mediation/{matter_id}"))
    assert f"/mediation/{matter_id}/outcome" not in page and "认为调解无望" in page
    # the staff triage it again
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f"/cases/{world.case_id}/triage/refer" in page and "认为调解无望" in page


# --- the outcome ------------------------------------------------------------------------------------------

def outcome(client, matter_id, **data):
    return client.post(f"/mediation/{matter_id}/outcome", data={f"outcome-{k}": v for k, v in data.items()})


def case_pages(client, world) -> dict[str, str]:
    pages = {}
    for name in ("staff", "party_rep", "petitioner"):
        as_user(client, getattr(world, name))
        response = client.get(f"/cases/{world.case_id}")
        assert response.status_code == 200, name
        pages[name] = text(response)
    return pages


def hold_locked_session(app, matter_id: int, number: int = 1) -> int:
    """A held session of the matter whose proceedings record is locked; returns the record's id."""
    with database(app) as session:
        start = datetime.combine(today(), time(9), timezone.utc) - timedelta(days=number)
        meeting = MediationSession(referral_id=matter_id, number=number, status=SessionStatus.HELD,
                                   uid=f"locked-session-{matter_id}-{number}", starts_at=start,
                                   ends_at=start + timedelta(hours=1))
        session.add(meeting)
        session.flush()
        record = ProceedingRecord(session_id=meeting.id, status=RecordStatus.LOCKED)
        session.add(record)
        session.commit()
        return record.id


def test_agreement_needs_a_held_session_with_a_locked_record(app, client, world, matter_id):
    as_user(client, world.mediator)
    page = client.get(f"/mediation/{matter_id}")
    assert "needs at least one held session whose record is locked" in text(page)
    # the form asks before sending, since an outcome cannot be undone
    assert 'hx-confirm="Record this outcome?' in text(page)
    for kind, extra in (("agreement", {}), ("oral_agreement", {"text": "公司支付工资3万元。"})):
        response = outcome(client, matter_id, kind=kind, **extra)
        assert response.status_code == 200, kind
        assert "needs at least one held session" in field_error(response, "outcome-kind"), kind
        assert the_matter(app).status == MediationStatus.OPEN
    # a session held but its record not locked (or a locked record of a cancelled session) does not count
    with database(app) as session:
        start = datetime.combine(today(), time(9), timezone.utc)
        meeting = MediationSession(referral_id=matter_id, number=1, status=SessionStatus.CANCELLED,
                                   uid="cancelled-1", starts_at=start, ends_at=start + timedelta(hours=1))
        session.add(meeting)
        session.flush()
        session.add(ProceedingRecord(session_id=meeting.id, status=RecordStatus.LOCKED))
        session.commit()
    assert outcome(client, matter_id, kind="agreement").status_code == 200
    assert the_matter(app).status == MediationStatus.OPEN
    hold_locked_session(app, matter_id, 2)
    assert "needs at least one held session whose record is locked" not in text(client.get(f"/mediation/{matter_id}"))
    assert outcome(client, matter_id, kind="agreement").status_code == 303
    assert the_matter(app).status == MediationStatus.AGREEMENT


def test_no_agreement_needs_no_session(app, client, world, matter_id):
    as_user(client, world.mediator)
    response = outcome(client, matter_id, kind="no_agreement", text="对方三次未到场", after="handling")
    assert response.status_code == 303
    assert the_matter(app).status == MediationStatus.NO_AGREEMENT


def test_agreement_reached_hands_over_to_drafting(app, client, world, matter_id):
    hold_locked_session(app, matter_id)
    as_user(client, world.mediator)
    assert outcome(client, matter_id, kind="agreement").status_code == 303
    matter = the_matter(app)
    assert matter.status == MediationStatus.AGREEMENT and matter.after is None and matter.closed_at
    assert get_case(app, world.case_id).status == CaseStatus.MEDIATION
    assert "The written mediation agreement is to be drafted" in text(client.get(f"/mediation/{matter_id}"))
    for name, page in case_pages(client, world).items():
        assert "Agreement reached" in page and "The written mediation agreement is to be drafted" in page, name
    assert "mediation_outcome" in event_kinds(app, world.case_id)
    assert "mediation.outcome" in audit_actions(app)
    # ended: a second outcome is refused
    as_user(client, world.mediator)
    response = outcome(client, matter_id, kind="no_agreement", text="x", after="handling")
    assert response.status_code == 303
    assert the_matter(app).status == MediationStatus.AGREEMENT


def test_oral_agreement_needs_its_terms(app, client, world, matter_id):
    hold_locked_session(app, matter_id)
    as_user(client, world.mediator)
    response = outcome(client, matter_id, kind="oral_agreement", text=" ")
    assert response.status_code == 200 and field_error(response, "outcome-text")
    assert the_matter(app).status == MediationStatus.OPEN
    response = outcome(client, matter_id, kind="oral_agreement", text="公司于12月10日前一次性支付工资3万元。")
    assert response.status_code == 303
    matter = the_matter(app)
    assert (matter.status, matter.outcome_text) == (MediationStatus.ORAL_AGREEMENT, "公司于12月10日前一次性支付工资3万元。")
    for name, page in case_pages(client, world).items():
        assert "公司于12月10日前一次性支付工资3万元。" in page and "Oral agreement" in page, name
        assert "The petition is closed: settled by the oral mediation agreement." in page, name
    assert any("公司于12月10日前" in m.body and "Your petition is closed: settled by this oral agreement." in m.body
               and "concluded" not in m.body for m in outbox(app, world.petitioner.login))
    # the oral agreement concludes the case, with its timeline entry and the audit trail
    assert get_case(app, world.case_id).status == CaseStatus.CONCLUDED
    assert event_kinds(app, world.case_id)[-2:] == ["mediation_outcome", "mediation_concluded"]
    assert "case.concluded" in audit_actions(app)
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "Closed: the petition is settled by mediation (Oral agreement)." in page


def test_no_agreement_back_to_handling(app, client, world, matter_id):
    as_user(client, world.mediator)
    for data, field in [({"kind": "no_agreement", "text": "", "after": "handling"}, "outcome-text"),
                        ({"kind": "no_agreement", "text": "双方分歧过大"}, "outcome-after"),
                        ({"text": "双方分歧过大"}, "outcome-kind")]:
        response = outcome(client, matter_id, **data)
        assert response.status_code == 200 and field_error(response, field), field
    response = outcome(client, matter_id, kind="no_agreement", text="双方对赔偿金额分歧过大", after="handling")
    assert response.status_code == 303
    matter = the_matter(app)
    assert (matter.status, matter.after) == (MediationStatus.NO_AGREEMENT, AfterMediation.HANDLING)
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REGISTERED
    assert [c.started_on for c in case.clocks if c.kind == ClockKind.ROUTING and c.stopped_on is None] == [today()]
    assert case.next_due_on is not None
    assert event_kinds(app, world.case_id)[-2:] == ["mediation_outcome", "mediation_returned"]
    for name, page in case_pages(client, world).items():
        assert "双方对赔偿金额分歧过大" in page and "No agreement" in page, name


def test_no_agreement_to_the_legal_channel(app, client, world, matter_id):
    as_user(client, world.mediator)
    base = {"kind": "no_agreement", "text": "对方拒绝让步", "after": "legal_route"}
    response = outcome(client, matter_id, **base)
    assert field_error(response, "outcome-legal_route")
    response = outcome(client, matter_id, **base, legal_route="litigation")
    assert field_error(response, "outcome-legal_route_notice")
    response = outcome(client, matter_id, **base, legal_route="litigation",
                       legal_route_notice="请向Y市东区人民法院提起民事诉讼。")
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert (case.status, case.legal_route, case.legal_route_notice) == (
        CaseStatus.LEGAL_ROUTE, LegalRoute.LITIGATION, "请向Y市东区人民法院提起民事诉讼。")
    assert the_matter(app).after == AfterMediation.LEGAL_ROUTE
    for name, page in case_pages(client, world).items():
        assert "对方拒绝让步" in page and "请向Y市东区人民法院提起民事诉讼。" in page, name
    # the petitioner downloads the written notice as after triage's legal channel
    as_user(client, world.petitioner)
    response = client.get(f"/cases/{world.case_id}/legal-route-notice.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_outcome_refused_while_a_record_is_not_locked(app, client, world, matter_id):
    with database(app) as session:
        start = datetime.combine(today(), time(9), timezone.utc)
        meeting = MediationSession(referral_id=matter_id, number=1, status=SessionStatus.HELD, uid="test-session-1",
                                   starts_at=start, ends_at=start + timedelta(hours=1))
        session.add(meeting)
        session.flush()
        record = ProceedingRecord(session_id=meeting.id, status=RecordStatus.READ_BACK)
        session.add(record)
        session.commit()
        record_id = record.id
    as_user(client, world.mediator)
    page = text(client.get(f"/mediation/{matter_id}"))
    assert "is not locked yet" in page
    response = outcome(client, matter_id, kind="agreement")
    assert response.status_code == 200 and "is not locked yet" in form_errors(response)
    assert the_matter(app).status == MediationStatus.OPEN
    with database(app) as session:
        session.get(ProceedingRecord, record_id).status = RecordStatus.LOCKED
        session.commit()
    assert outcome(client, matter_id, kind="agreement").status_code == 303
    assert the_matter(app).status == MediationStatus.AGREEMENT


# --- the list and the page: query counts ------------------------------------------------------------

def add_matters(app, world, n: int, status=MediationStatus.OPEN, days_ago: int = 3) -> None:
    """n more matters, each on its own case, with two parties, two mediators and a held session."""
    with database(app) as session:
        committee_id = world.committee_id
        for i in range(n):
            case = make_case(subject=f"测试纠纷{i}")
            case.status = CaseStatus.MEDIATION
            referred = utcnow() - timedelta(days=days_ago)
            matter = MediationReferral(case_id=case.id, committee_id=committee_id, status=status,
                                       referred_at=referred)
            matter.parties = [MediationParty(side=PartySide.APPLICANT, name="甲", consent_on=today(), consent_how="书面"),
                              MediationParty(side=PartySide.RESPONDENT, name="乙", consent_on=today(),
                                             consent_how="书面", department_id=world.party_department_id)]
            matter.mediators = [MediationMediator(user_id=world.mediator.id),
                                MediationMediator(user_id=world.colleague.id)]
            session.add(matter)
            session.flush()
            start = datetime.combine(today(), time(9), timezone.utc)
            session.add(MediationSession(referral_id=matter.id, number=1, status=SessionStatus.HELD,
                                         uid=f"q-{matter.id}", starts_at=start, ends_at=start + timedelta(hours=1)))
        session.commit()


def test_the_list_filters_by_status_and_highlights_long_matters(app, client, world, matter_id):
    add_matters(app, world, 1, days_ago=45)
    add_matters(app, world, 1, status=MediationStatus.NO_AGREEMENT)
    as_user(client, world.staff)
    page = text(client.get("/mediation"))
    assert page.count('<tr id="matter-') == 2 and "running long" in page and "45" in page
    page = text(client.get("/mediation?status=ended"))
    assert page.count('<tr id="matter-') == 1
    assert text(client.get("/mediation?status=all")).count('<tr id="matter-') == 3
    assert text(client.get("/mediation?status=no_agreement")).count('<tr id="matter-') == 1
    assert text(client.get("/mediation?status=nonsense")).count('<tr id="matter-') == 2  # back to open


def test_list_and_matter_page_keep_their_query_count(app, client, world, matter_id, count_queries):
    as_user(client, world.mediator)

    def queries(path):
        with count_queries() as counter:
            assert client.get(path).status_code == 200
        return counter.count

    list_one, page_one, case_one = queries("/mediation"), queries(f"/mediation/{matter_id}"), \
        queries(f"/cases/{world.case_id}")
    add_matters(app, world, 12)
    with database(app) as session:  # more parties and mediators on the first matter too
        for i in range(6):
            session.add(MediationParty(referral_id=matter_id, side=PartySide.RESPONDENT, name=f"丙{i}",
                                       consent_on=today(), consent_how="书面"))
        session.add(MediationMediator(referral_id=matter_id, user_id=world.colleague.id))
        session.commit()
    assert queries("/mediation") == list_one
    assert queries(f"/mediation/{matter_id}") == page_one
    assert queries(f"/cases/{world.case_id}") == case_one


# --- a written agreement concludes the case when it takes effect -----------------------------------------------

def test_the_case_is_concluded_when_the_written_agreement_takes_effect(app, client, world, matter_id, tmp_path,
                                                                        monkeypatch):
    from portal.agreements import documents
    from portal.agreements.models import (
        Agreement,
        AgreementSignature,
        AgreementStatus,
        AgreementVersion,
        SignatureStatus,
        SignerRole,
    )

    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))
    monkeypatch.setitem(app.config, "PORTAL_TSA_URL", "")
    monkeypatch.setitem(app.config, "PORTAL_AGREEMENT_SEAL_INLINE", True)
    monkeypatch.setattr(documents, "document_html", lambda agreement: (
        "<html><body><h1>人民调解协议书</h1><p>被申请人于2026年12月31日前支付工资。</p></body></html>"))
    hold_locked_session(app, matter_id)
    as_user(client, world.mediator)
    assert outcome(client, matter_id, kind="agreement").status_code == 303
    assert get_case(app, world.case_id).status == CaseStatus.MEDIATION  # until the agreement takes effect
    with database(app) as session:
        matter = session.get(MediationReferral, matter_id)
        agreement = Agreement(referral_id=matter_id, number="DQ-2026-M1", verification_code="m1check0000",
                              status=AgreementStatus.SEALING, signing_version=1, document_hash="a" * 64)
        agreement.versions = [AgreementVersion(number=1, facts="拖欠工资", disputes="工资数额",
                                               responsibilities="单位负主要责任", content_hash="a" * 64)]
        session.add(agreement)
        session.flush()
        for role, party in ((SignerRole.PARTY, matter.parties[0]), (SignerRole.PARTY, matter.parties[1]),
                            (SignerRole.MEDIATOR, None), (SignerRole.COMMITTEE, None)):
            session.add(AgreementSignature(agreement_id=agreement.id, role=role,
                                           party_id=party.id if party else None, user_id=world.mediator.id,
                                           signer_name="签名人", status=SignatureStatus.SIGNED,
                                           document_hash="a" * 64))
        session.commit()
        agreement_id = agreement.id
        documents.start_sealing(session.get(Agreement, agreement_id))
        session.commit()  # the sealed document is issued (inline here) and the agreement takes effect
    with database(app) as session:
        assert session.get(Agreement, agreement_id).status == AgreementStatus.EFFECTIVE
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.CONCLUDED
    assert event_kinds(app, world.case_id)[-1] == "mediation_concluded"
    messages = [m for m in outbox(app, world.petitioner.login) if "settled by mediation" in m.subject]
    assert messages and "closed: settled by the mediation agreement" in messages[-1].body
    assert not any("concluded" in m.subject + m.body for m in messages)
    # the case page says so, with a link to the agreement for those who may read it
    for name, page in case_pages(client, world).items():
        assert "The petition is closed: settled by the mediation agreement." in page, name
        assert f"/agreements/{agreement_id}" in page, name
        assert "Closed: the petition is settled by mediation (Agreement reached)." in page, name
    as_user(client, world.other_rep)
    assert client.get(f"/cases/{world.case_id}").status_code in (403, 404)


def test_no_page_of_the_matter_shows_a_fee(app, client, world, matter_id):
    """Mediation is free (People's Mediation Law art. 4): no fee or cost row anywhere on the matter's pages."""
    hold_locked_session(app, matter_id)
    with database(app) as session:
        meeting_id = session.scalars(select(MediationSession.id).where(MediationSession.referral_id == matter_id)).one()
    for user in (world.mediator, world.petitioner, world.party_rep, world.staff):
        as_user(client, user)
        for path in (f"/mediation/{matter_id}", f"/mediation/{matter_id}/sessions",
                     f"/mediation/{matter_id}/sessions/{meeting_id}", f"/cases/{world.case_id}", "/mediation",
                     "/mediation/figures"):
            response = client.get(path)
            if response.status_code != 200:
                continue  # a page this role does not see
            page = text(response)
            assert ">Cost<" not in page and not re.search(r"\bfees?\b|收费|费用", page, re.I), (user.login, path)


def test_the_no_agreement_fields_are_marked_to_show_only_for_no_agreement_and_all_show_without_javascript(
        app, client, world, matter_id):
    as_user(client, world.mediator)
    page = text(client.get(f"/mediation/{matter_id}"))
    fields = re.search(r'<fieldset[^>]*id="no-agreement-fields"[^>]*>', page).group(0)
    assert 'data-reveal-when="outcome-kind=no_agreement"' in fields and "hidden" not in fields
    route = re.search(r'<div[^>]*id="legal-route-fields"[^>]*>', page).group(0)
    assert 'data-reveal-when="outcome-after=legal_route"' in route and "hidden" not in route
    assert "js/reveal.js" in page
