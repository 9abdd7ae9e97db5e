"""Triage by bureau staff through the HTTP routes: referral to departments, not accepted, legal channel,
mediation, complex; the staff workbench and its query count.

Dates that clocks depend on are real (the 2026 Spring Festival is 15–23 Feb, with working Saturdays 14 and 28 Feb).
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.mediation.models import MediationReferral
from portal.cases.models import (Case, CaseEvent, CaseStatus, Clock, ClockKind, MatterType,
                                 Referral, ReferralKind, ReferralRole, ReferralStatus)
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import (DepartmentRef, UserRef, add_user, audit_actions, database, field_error, flashes,
                           form_errors, outbox, text)

SENT = date(2026, 2, 12)  # a Thursday, just before the Spring Festival


@dataclass
class World:
    staff: UserRef
    lead_rep: UserRef
    co_rep: UserRef
    other_rep: UserRef
    petitioner: UserRef
    stranger: UserRef
    lead: DepartmentRef
    co: DepartmentRef
    other: DepartmentRef
    committee: DepartmentRef
    case_id: int


def make_world(app, received_on=date(2026, 2, 10), matter_type=None, locale="en") -> World:
    """Three departments with a representative each, a mediation committee, staff, and a petitioner's case."""
    with database(app):
        lead = make_department("人社局（测试）")
        co = make_department("住建局（测试）")
        other = make_department("市场监管局（测试）")
        committee = make_department("人民调解委员会（测试）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        staff = make_user(Role.STAFF, locale=locale)
        reps = [make_user(Role.DEPARTMENT_REP, d, locale=locale) for d in (lead, co, other)]
        petitioner = make_user(Role.PETITIONER, locale=locale)
        stranger = make_user(Role.PETITIONER, locale=locale)
        case = make_case(petitioner_user=petitioner, received_on=received_on, matter_type=matter_type)
        return World(_ref(staff), *[_ref(r) for r in reps], _ref(petitioner), _ref(stranger),
                     *[DepartmentRef(d.id, d.code, d.name) for d in (lead, co, other, committee)], case.id)


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def as_user(client, user) -> None:
    client.post("/logout")
    response = login(client, user.login, PASSWORD)
    assert response.status_code == 303


@pytest.fixture
def on_day(monkeypatch):
    """on_day(date): from now on the portal's today() is that date."""

    def set_day(day: date):
        monkeypatch.setattr("portal.timeutil.today", lambda: day)

    return set_day


def refer(client, world: World, co=True, kind="assign", **extra):
    data = {"kind": kind, "lead": str(world.lead.id), "note": "请依法办理"}
    if co:
        data["co"] = [str(world.co.id)]
    data.update(extra)
    return client.post(f"/cases/{world.case_id}/triage/refer", data=data)


def get_case(app, case_id) -> Case:
    with database(app) as session:
        case = session.get(Case, case_id)
        case.referrals, case.clocks, case.petitioners  # noqa: B018 - load before the session closes
        return case


def clocks(app, case_id) -> list[Clock]:
    with database(app) as session:
        return list(session.scalars(select(Clock).where(Clock.case_id == case_id).order_by(Clock.id)))


def events(app, case_id) -> list[CaseEvent]:
    with database(app) as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)))


# --- transfer / assign ---------------------------------------------------------------------

def test_staff_refers_to_a_lead_and_a_co_department(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    page = client.get(f"/cases/{world.case_id}")
    assert page.status_code == 200
    assert f"/cases/{world.case_id}/triage/refer" in text(page)

    response = refer(client, world)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}")

    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REFERRED
    assert case.lead_department_id == world.lead.id
    referrals = sorted(case.referrals, key=lambda r: r.role.value != "lead")
    assert [(r.department_id, r.role, r.status, r.sent_on) for r in referrals] == [
        (world.lead.id, ReferralRole.LEAD, ReferralStatus.PENDING, SENT),
        (world.co.id, ReferralRole.CO, ReferralStatus.PENDING, SENT)]
    lead_referral, co_referral = referrals

    by_kind = {(c.kind, c.referral_id): c for c in clocks(app, world.case_id)}
    routing = by_kind[(ClockKind.ROUTING, None)]
    assert routing.stopped_on == SENT
    acceptance = by_kind[(ClockKind.ACCEPTANCE, lead_referral.id)]
    assert acceptance.due_on == date(2026, 2, 27)  # 15 calendar days; a Friday, a working day
    assert (ClockKind.ACCEPTANCE, co_referral.id) not in by_kind
    # 5 working days across the Spring Festival: 13, 14 (working Saturday), 24, 25, 26 February.
    assert by_kind[(ClockKind.OBJECTION, lead_referral.id)].due_on == date(2026, 2, 26)
    assert by_kind[(ClockKind.OBJECTION, co_referral.id)].due_on == date(2026, 2, 26)
    assert case.next_due_on == date(2026, 2, 27)  # the objection window never makes anyone overdue

    kinds = [e.kind for e in events(app, world.case_id)]
    assert kinds.count("referred") == 2
    actions = audit_actions(app)
    assert actions.count("referral.sent") == 2 and "case.referred" in actions

    page = text(client.get(f"/cases/{world.case_id}"))
    assert "人社局（测试）" in page and "住建局（测试）" in page
    assert "Lead department" in page and "Co-handling department" in page
    assert page.count('class="referral-pending"') == 2
    assert "Objection until" in page and "Feb 26, 2026" in page and "Feb 27, 2026" in page


def test_a_second_triage_is_refused_and_changes_nothing(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    assert refer(client, world, co=False).status_code == 303
    before = len(events(app, world.case_id))

    response = client.post(f"/cases/{world.case_id}/triage/reject",
                           data={"reason": "不属于信访事项", "route": "向法院起诉"}, follow_redirects=True)
    assert response.status_code == 200
    assert any("already been triaged" in message for _, message in flashes(response))
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REFERRED and case.rejection_reason == ""
    assert len(events(app, world.case_id)) == before
    assert client.get(f"/cases/{world.case_id}/triage/refer").status_code == 303


def test_refer_with_bad_input_shows_messages_and_changes_nothing(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    for data in ({"kind": "assign", "lead": "abc"}, {"kind": "assign", "lead": "999999"},
                 {"kind": "nonsense", "lead": str(world.lead.id)}, {},
                 {"kind": "assign", "lead": str(world.committee.id)},
                 {"kind": "assign", "lead": str(world.lead.id), "co": ["x", "123456"]},
                 {"kind": "assign", "lead": str(world.lead.id), "complex": "y", "complex_reason": "  "}):
        response = client.post(f"/cases/{world.case_id}/triage/refer", data=data)
        assert response.status_code == 200, data
        page = text(response)
        assert 'class="error"' in page or "form-errors" in page, data
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    assert get_case(app, world.case_id).referrals == []
    assert client.get(f"/cases/{world.case_id}/triage/nonsense").status_code == 404
    assert client.get("/cases/999999/triage/refer").status_code == 404


def test_refer_and_mark_complex_together(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = refer(client, world, complex="y", complex_reason="涉及多个部门职责")
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REFERRED and case.complex and case.complex_reason == "涉及多个部门职责"
    assert "case.marked_complex" in audit_actions(app)


def test_mark_complex_alone_keeps_the_case_in_triage(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/complex", data={"reason": "需要联席会议研究"})
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert case.complex and case.status == CaseStatus.REGISTERED
    routing = [c for c in clocks(app, world.case_id) if c.kind == ClockKind.ROUTING][0]
    assert routing.stopped_on == SENT
    # marking it twice is refused; the conference's route (a referral) is still possible
    response = client.post(f"/cases/{world.case_id}/triage/complex", data={"reason": "again"})
    assert "already marked complex" in form_errors(response)
    assert refer(client, world, co=False).status_code == 303


def test_triage_needs_bureau_staff(app, client):
    world = make_world(app)
    for user in (world.lead_rep, world.petitioner):
        as_user(client, user)
        assert client.get(f"/cases/{world.case_id}/triage/refer").status_code == 403
        assert client.post(f"/cases/{world.case_id}/triage/reject",
                           data={"reason": "x", "route": "y"}).status_code == 403
    client.post("/logout")
    response = client.get(f"/cases/{world.case_id}/triage/refer")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED


def test_htmx_gets_the_form_fragment_and_a_redirect_header(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    headers = {"HX-Request": "true"}
    fragment = client.get(f"/cases/{world.case_id}/triage/reject", headers=headers)
    assert fragment.status_code == 200
    assert "<html" not in text(fragment) and 'name="reason"' in text(fragment)
    invalid = client.post(f"/cases/{world.case_id}/triage/reject", data={"reason": "", "route": ""}, headers=headers)
    assert invalid.status_code == 200 and "<html" not in text(invalid)
    assert field_error(invalid, "reason")
    done = client.post(f"/cases/{world.case_id}/triage/reject",
                       data={"reason": "不属于本市管辖", "route": "向省信访局反映"}, headers=headers)
    assert done.status_code == 204 and done.headers["HX-Redirect"].endswith(f"/cases/{world.case_id}")


# --- not accepted -------------------------------------------------------------------------------

def test_not_accepted_tells_the_petitioner(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/reject",
                           data={"reason": "该事项已由仲裁委员会受理", "route": "请向Y市劳动人事争议仲裁委员会查询进度"})
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REJECTED
    assert case.rejection_reason == "该事项已由仲裁委员会受理"
    assert [c.stopped_on for c in clocks(app, world.case_id) if c.kind == ClockKind.ROUTING] == [SENT]
    assert case.next_due_on is None
    assert "case.rejected" in audit_actions(app)
    messages = outbox(app, world.petitioner.login)
    assert len(messages) == 1 and "该事项已由仲裁委员会受理" in messages[0].body
    assert "请向Y市劳动人事争议仲裁委员会查询进度" in messages[0].body

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "该事项已由仲裁委员会受理" in page and "请向Y市劳动人事争议仲裁委员会查询进度" in page
    assert "Not accepted" in page


def test_not_accepted_needs_reason_and_route(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/reject", data={"reason": "  ", "route": ""})
    assert response.status_code == 200
    assert field_error(response, "reason") and field_error(response, "route")
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    assert outbox(app, world.petitioner.login) == []


# --- legal channel ----------------------------------------------------------------------------------

def pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout \
        .decode("utf-8")


def test_legal_route_with_a_notice_the_petitioner_downloads(app, client, on_day):
    world = make_world(app, locale="zh_CN")
    on_day(SENT)
    as_user(client, world.staff)
    notice = "请向Y市东区人民法院提起民事诉讼，地址：Y市东区法院路8号。"
    response = client.post(f"/cases/{world.case_id}/triage/legal", data={"route": "litigation", "notice": notice})
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.LEGAL_ROUTE and case.legal_route.value == "litigation"
    assert "case.legal_route" in audit_actions(app)
    assert len(outbox(app, world.petitioner.login)) == 1

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f"/cases/{world.case_id}/legal-route-notice.pdf" in page and notice in page
    download = client.get(f"/cases/{world.case_id}/legal-route-notice.pdf")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    content = pdf_text(download.data)
    assert case.reference in content
    assert "诉讼" in content  # the route, in the petitioner's language
    assert "Y市东区人民法院" in content.replace(" ", "")
    assert "case.legal_notice_downloaded" in audit_actions(app)

    as_user(client, world.stranger)
    assert client.get(f"/cases/{world.case_id}/legal-route-notice.pdf").status_code == 403
    as_user(client, world.other_rep)
    assert client.get(f"/cases/{world.case_id}/legal-route-notice.pdf").status_code == 403


def test_legal_route_only_for_appeals_and_demands(app, client, on_day):
    world = make_world(app, matter_type=MatterType.SUGGESTION)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/legal",
                           data={"route": "arbitration", "notice": "请申请劳动仲裁"})
    assert response.status_code == 200
    assert "Only appeals and demands" in form_errors(response)
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REGISTERED and case.legal_route is None
    # no notice exists for a case that was not routed
    assert client.get(f"/cases/{world.case_id}/legal-route-notice.pdf").status_code == 404


# --- mediation --------------------------------------------------------------------------------------

def mediation_data(world, **changes):
    data = {"source": "petition", "committee": str(world.committee.id), "respondent": "person",
            "other_party": "Y市某建筑公司",
            "petitioner_consent_on": "2026-02-11", "petitioner_consent_how": "签署调解申请书",
            "other_consent_on": "2026-02-12", "other_consent_how": "电话确认并录音", "scope_confirmed": "y"}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_mediation_refused_without_both_consents(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    cases = [
        (mediation_data(world, other_consent_on=None), "other_consent_on"),
        (mediation_data(world, other_consent_how=""), "other_consent_how"),
        (mediation_data(world, petitioner_consent_on=None), "petitioner_consent_on"),
        (mediation_data(world, petitioner_consent_on="2026-03-01"), "petitioner_consent_on"),  # in the future
        (mediation_data(world, petitioner_consent_on="2026-02-31"), "petitioner_consent_on"),  # not a date
        (mediation_data(world, scope_confirmed=None), "scope_confirmed"),
        (mediation_data(world, committee=str(world.lead.id)), "committee"),
    ]
    for data, field in cases:
        response = client.post(f"/cases/{world.case_id}/triage/mediation", data=data)
        assert response.status_code == 200, field
        assert field_error(response, field), field
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    with database(app) as session:
        assert session.scalars(select(MediationReferral)).all() == []


def test_mediation_form_shows_every_error_at_once(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    data = mediation_data(world, source="court", court="", court_reference=" ", respondent="person", other_party="",
                          other_phone="abc", petitioner_consent_on=None, other_consent_how="", scope_confirmed=None)
    response = client.post(f"/cases/{world.case_id}/triage/mediation", data=data)
    assert response.status_code == 200
    for field in ("court", "court_reference", "other_party", "other_phone", "petitioner_consent_on",
                  "other_consent_how", "scope_confirmed"):
        assert field_error(response, field), field
    assert "digits, +, - and spaces" in field_error(response, "other_phone")
    assert "file number" in field_error(response, "court_reference")
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    with database(app) as session:
        assert session.scalars(select(MediationReferral)).all() == []


@pytest.mark.parametrize("phone, ok", [("1234", False), ("139 0000 1111", True), ("+86-10-1234567", True),
                                       ("0" * 21, False), ("139o0001111", False), ("", True)])
def test_mediation_other_party_phone_is_checked(app, client, on_day, phone, ok):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/mediation",
                           data=mediation_data(world, other_phone=phone))
    assert response.status_code == (303 if ok else 200), phone
    assert bool(field_error(response, "other_phone")) is not ok


def test_mediation_form_hides_the_fields_a_choice_does_not_need_with_javascript_only(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}/triage/mediation"))
    # nothing hidden in the HTML itself (works without JavaScript); the script toggles `hidden` by the choice
    assert 'data-reveal-when="source=court"' in page and 'data-reveal-when="respondent=person"' in page
    assert 'data-reveal-when="respondent=department"' in page and " hidden" not in page
    assert "js/reveal.js" in page
    # the court's file number carries the required mark
    assert re.search(r'<label for="court_reference">[^<]*</label> <span class="req"', page)
    # a person's fields sent with a department chosen are ignored (the department is the other side)
    response = client.post(f"/cases/{world.case_id}/triage/mediation",
                           data=mediation_data(world, respondent="department",
                                               other_department=str(world.lead.id), other_party="",
                                               other_phone="not a phone"))
    assert response.status_code == 303


def test_mediation_with_both_consents(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    response = client.post(f"/cases/{world.case_id}/triage/mediation", data=mediation_data(world))
    assert response.status_code == 303
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.MEDIATION
    with database(app) as session:
        referral = session.scalars(select(MediationReferral)).one()
        assert referral.committee_id == world.committee.id and referral.status == "open"
        applicants = [p for p in referral.parties if p.side.value == "applicant"]
        respondents = [p for p in referral.parties if p.side.value == "respondent"]
        assert applicants and all(p.consent_on == date(2026, 2, 11) for p in applicants)
        assert [(p.name, p.consent_how) for p in respondents] == [("Y市某建筑公司", "电话确认并录音")]
    assert "case.mediation_referral" in audit_actions(app)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "Y市某建筑公司" in page and "电话确认并录音" in page


# --- the staff workbench ------------------------------------------------------------------------

def test_staff_home_lists_the_triage_queue_oldest_deadline_first(app, client, on_day):
    staff = add_user(app, Role.STAFF, locale="en")
    with database(app):
        late = make_case(subject="较晚收到的件", received_on=date(2026, 3, 1))
        early = make_case(subject="较早收到的件", received_on=date(2026, 2, 2))
        near = make_case(subject="快到期的件", received_on=date(2026, 2, 20))
        ids = late.id, early.id, near.id
    # Routing deadlines: 17 Feb is in the Spring Festival, so 24 Feb; 7 Mar is a Saturday, so 9 Mar; 16 Mar.
    on_day(date(2026, 3, 6))
    as_user(client, staff)
    page = text(client.get("/"))
    assert page.index("较早收到的件") < page.index("快到期的件") < page.index("较晚收到的件")
    assert all(f"/cases/{i}" in page for i in ids)
    rows = {subject: row for row in page.split("<tr")[1:] for subject in ("较早收到的件", "快到期的件", "较晚收到的件")
            if subject in row}
    assert "due-overdue" in rows["较早收到的件"] and "overdue" in rows["较早收到的件"]
    assert "due-near" in rows["快到期的件"] and "due soon" in rows["快到期的件"]
    assert "due-" not in rows["较晚收到的件"].split(">")[0]


def _bulk_cases(app, n: int, world_depts, staff_id):
    """n cases: registered, referred to the department, returned by objection, with supervision notices."""
    from portal.cases.models import Supervision

    lead_id, other_id = world_depts
    with database(app) as session:
        for i in range(n):
            case = make_case(subject=f"批量案件{i}", received_on=date(2026, 1, 5))
            kind = i % 3
            if kind == 1:
                referral = Referral(case=case, department_id=lead_id, kind=ReferralKind.ASSIGN, role=ReferralRole.LEAD,
                                    status=ReferralStatus.PENDING, sent_on=date(2026, 1, 10))
                session.add(referral)
                case.status = CaseStatus.REFERRED
                case.lead_department_id = lead_id
                session.flush()
                from portal.cases.clocks import start_clock, stop_clock

                stop_clock(case, ClockKind.ROUTING, date(2026, 1, 10))
                start_clock(case, ClockKind.ACCEPTANCE, date(2026, 1, 10), referral_id=referral.id)
                start_clock(case, ClockKind.OBJECTION, date(2026, 1, 10), referral_id=referral.id)
                session.add(Supervision(case_id=case.id, department_id=lead_id, notice="请加快办理",
                                        respond_by=date(2026, 2, 1), issued_by_id=staff_id, response=""))
            elif kind == 2:
                from portal.timeutil import utcnow

                session.add(Referral(case=case, department_id=other_id, kind=ReferralKind.TRANSFER, role=ReferralRole.LEAD,
                                     status=ReferralStatus.OBJECTED, sent_on=date(2026, 1, 10),
                                     objected_at=utcnow(), objection_reason="不属于本部门职责",
                                     decided_by_id=staff_id))
        session.commit()


def test_staff_home_runs_a_fixed_number_of_queries(app, client, count_queries, on_day):
    world = make_world(app)
    on_day(date(2026, 3, 2))
    as_user(client, world.staff)
    counts = []
    for n in (3, 30):
        _bulk_cases(app, n, (world.lead.id, world.other.id), world.staff.id)
        client.get("/")  # warm-up: anything cached per process is loaded
        with count_queries() as counter:
            response = client.get("/")
        assert response.status_code == 200
        counts.append(counter.count)
    page = text(response)
    assert "批量案件29" in page and "不属于本部门职责" in page
    assert counts[0] == counts[1], counts


def test_empty_posts_never_give_an_error_page(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    for outcome in ("reject", "refer", "legal", "mediation", "complex"):
        response = client.post(f"/cases/{world.case_id}/triage/{outcome}", data={})
        assert response.status_code == 200, outcome
        assert 'class="error"' in text(response), outcome
        response = client.post(f"/cases/{world.case_id}/triage/{outcome}", data={"csrf_token": "forged"})
        assert response.status_code == 400, outcome
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    assert events(app, world.case_id)[-1].kind == "registered"


def test_a_concurrent_change_becomes_a_message(app, client, on_day):
    """Two people triage the same case at once: the second sees a message, and nothing of theirs is saved."""
    from sqlalchemy import update

    from portal.cases import triage
    from portal.cases.services import CaseError
    from portal.extensions import db

    world = make_world(app)
    on_day(SENT)
    with app.test_request_context():
        case = db.session.get(Case, world.case_id)
        from portal.accounts.models import User

        staff = db.session.get(User, world.staff.id)
        case.clocks  # noqa: B018
        # someone else's change lands between reading the case and saving the outcome
        db.session.execute(update(Case).where(Case.id == case.id).values(version=Case.version + 1)
                           .execution_options(synchronize_session=False))
        from flask_babel import force_locale

        with force_locale("en"), pytest.raises(CaseError, match="Someone else changed this case"):
            triage.reject(case, staff, "不属于信访事项", "向法院起诉")
    assert get_case(app, world.case_id).status == CaseStatus.REGISTERED
    assert "case.rejected" not in audit_actions(app)


def test_triage_shows_pending_cases_of_the_same_people(app, client):
    from portal.accounts.models import Role
    from tests.conftest import login
    from tests.factories import PASSWORD, make_case, make_user

    with app.app_context():
        staff = make_user(Role.STAFF, locale="en")
        first = make_case(subject="公司拖欠工资三个月未付")
        second = make_case(subject="拖欠工资三个月")
        unrelated = make_case(subject="噪音扰民", id_number="11010519491231002X", phone="13900000000")
        ids = first.reference, second.id, unrelated.id
        login_name = staff.email
    login(client, login_name, PASSWORD)
    page = client.get(f"/cases/{ids[1]}").get_data(as_text=True)
    assert "other pending cases" in page and ids[0] in page
    assert "other pending cases" not in client.get(f"/cases/{ids[2]}").get_data(as_text=True)
