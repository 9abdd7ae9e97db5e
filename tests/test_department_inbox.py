"""The department inbox through the HTTP routes: accept (acceptance notice to the petitioner), object within
5 working days (back to triage, the objection visible to the bureau), access of other departments, query count."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.cases.models import CaseStatus, ClockKind, Referral, ReferralStatus
from tests.helpers import audit_actions, database, field_error, flashes, outbox, text
from tests.test_cases_triage import (SENT, _bulk_cases, as_user, clocks, events, get_case, make_world,  # noqa: F401
                                     on_day, refer)


def referred_world(app, client, on_day, co=True):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    assert refer(client, world, co=co).status_code == 303
    return world


def referral_of(app, case_id, department_id) -> Referral:
    with database(app) as session:
        return session.scalars(select(Referral).where(Referral.case_id == case_id,
                                                      Referral.department_id == department_id)
                               .order_by(Referral.id.desc())).first()


def test_inbox_lists_pending_referrals_with_deadlines(app, client, on_day):
    world = referred_world(app, client, on_day)
    on_day(date(2026, 2, 24))
    as_user(client, world.lead_rep)
    for url in ("/", "/department/inbox"):
        page = text(client.get(url))
        case = get_case(app, world.case_id)
        assert case.reference in page
        assert "Feb 27, 2026" in page  # acceptance notice due
        assert "Feb 26, 2026" in page  # objection window
        assert "due soon" in page
        assert f"/referrals/{referral_of(app, world.case_id, world.lead.id).id}/accept" in page
    as_user(client, world.other_rep)
    page = text(client.get("/department/inbox"))
    assert get_case(app, world.case_id).reference not in page
    assert "Nothing is waiting for your decision." in page


def test_lead_accepts_and_the_petitioner_is_told(app, client, on_day):
    world = referred_world(app, client, on_day)
    on_day(date(2026, 2, 13))
    as_user(client, world.lead_rep)
    referral = referral_of(app, world.case_id, world.lead.id)
    response = client.post(f"/referrals/{referral.id}/accept", data={"next": "/department/inbox"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/department/inbox")

    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.IN_PROGRESS and case.lead_department_id == world.lead.id
    referral = referral_of(app, world.case_id, world.lead.id)
    assert referral.status == ReferralStatus.ACCEPTED and referral.accepted_on == date(2026, 2, 13)
    assert referral.decided_by_id == world.lead_rep.id
    by_kind = {(c.kind, c.referral_id): c for c in clocks(app, world.case_id)}
    assert by_kind[(ClockKind.ACCEPTANCE, referral.id)].stopped_on == date(2026, 2, 13)
    assert by_kind[(ClockKind.OBJECTION, referral.id)].stopped_on == date(2026, 2, 13)
    handling = by_kind[(ClockKind.HANDLING, referral.id)]
    assert handling.started_on == date(2026, 2, 13) and handling.due_on == date(2026, 4, 14)  # 60 days
    assert handling.stopped_on is None
    assert get_case(app, world.case_id).next_due_on == date(2026, 4, 14)
    assert "referral.accepted" in audit_actions(app)

    messages = outbox(app, world.petitioner.login)
    assert len(messages) == 1
    assert "人社局（测试）" in messages[0].body and "2026-04-14" in messages[0].body

    accepted = [e for e in events(app, world.case_id) if e.kind == "accepted"]
    assert len(accepted) == 1 and not accepted[0].internal

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "人社局（测试） accepted the matter." in page

    # accepting twice is refused with a message, not an error page
    as_user(client, world.lead_rep)
    response = client.post(f"/referrals/{referral.id}/accept", follow_redirects=True)
    assert response.status_code == 200
    assert any("already been decided" in message for _, message in flashes(response))


def test_co_department_accepts_without_a_notice_to_the_petitioner(app, client, on_day):
    world = referred_world(app, client, on_day)
    as_user(client, world.co_rep)
    referral = referral_of(app, world.case_id, world.co.id)
    assert client.post(f"/referrals/{referral.id}/accept").status_code == 303
    assert referral_of(app, world.case_id, world.co.id).status == ReferralStatus.ACCEPTED
    assert get_case(app, world.case_id).status == CaseStatus.REFERRED  # the lead has not decided yet
    assert outbox(app, world.petitioner.login) == []
    assert not any(c.kind == ClockKind.HANDLING for c in clocks(app, world.case_id))


def test_htmx_accept_swaps_the_inbox_row(app, client, on_day):
    world = referred_world(app, client, on_day)
    as_user(client, world.lead_rep)
    referral = referral_of(app, world.case_id, world.lead.id)
    response = client.post(f"/referrals/{referral.id}/accept", headers={"HX-Request": "true"})
    assert response.status_code == 200
    page = text(response)
    assert page.lstrip().startswith(f'<tr id="inbox-referral-{referral.id}"') and "<html" not in page
    assert "You accepted" in page
    assert f"/referrals/{referral.id}/accept" not in page  # no more buttons


def test_lead_objects_in_time_and_the_case_returns_to_triage(app, client, on_day):
    world = referred_world(app, client, on_day)
    on_day(date(2026, 2, 26))  # the last day of the window (5 working days across the Spring Festival)
    as_user(client, world.lead_rep)
    referral = referral_of(app, world.case_id, world.lead.id)
    assert client.get(f"/referrals/{referral.id}/object").status_code == 200
    response = client.post(f"/referrals/{referral.id}/object", data={"reason": "工资纠纷属于劳动仲裁范围，不属本局职责"})
    assert response.status_code == 303

    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REGISTERED and case.lead_department_id is None
    lead = referral_of(app, world.case_id, world.lead.id)
    assert lead.status == ReferralStatus.OBJECTED and lead.decided_by_id == world.lead_rep.id
    assert lead.objection_reason == "工资纠纷属于劳动仲裁范围，不属本局职责"
    assert referral_of(app, world.case_id, world.co.id).status == ReferralStatus.CLOSED
    routing = [c for c in clocks(app, world.case_id) if c.kind == ClockKind.ROUTING]
    assert len(routing) == 2 and routing[1].started_on == date(2026, 2, 26) and routing[1].stopped_on is None
    assert routing[1].due_on == date(2026, 3, 13)
    assert all(c.stopped_on for c in clocks(app, world.case_id) if c.kind != ClockKind.ROUTING)
    assert case.next_due_on == date(2026, 3, 13)
    kinds = [e.kind for e in events(app, world.case_id)]
    assert "objected" in kinds and "returned_to_triage" in kinds and "referral_closed" in kinds
    actions = audit_actions(app)
    assert "referral.objected" in actions and "referral.closed" in actions

    # the department no longer takes part
    assert client.get(f"/cases/{world.case_id}").status_code == 403
    # the bureau sees who objected and why, and may triage again
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "工资纠纷属于劳动仲裁范围，不属本局职责" in page and world.lead_rep.display_name in page
    assert f"/cases/{world.case_id}/triage/refer" in page
    home = text(client.get("/"))
    assert "Returned by objection" in home and "工资纠纷属于劳动仲裁范围，不属本局职责" in home
    response = client.post(f"/cases/{world.case_id}/triage/refer",
                           data={"kind": "transfer", "lead": str(world.other.id)})
    assert response.status_code == 303
    assert get_case(app, world.case_id).status == CaseStatus.REFERRED
    # the objection stays on the case page after the new referral
    assert "工资纠纷属于劳动仲裁范围，不属本局职责" in text(client.get(f"/cases/{world.case_id}"))
    # the petitioner never sees the back-and-forth between departments
    as_user(client, world.petitioner)
    assert "工资纠纷属于劳动仲裁范围" not in text(client.get(f"/cases/{world.case_id}"))


def test_co_department_objection_leaves_the_case_with_its_lead(app, client, on_day):
    world = referred_world(app, client, on_day)
    as_user(client, world.co_rep)
    referral = referral_of(app, world.case_id, world.co.id)
    assert client.post(f"/referrals/{referral.id}/object", data={"reason": "本局不涉及"}).status_code == 303
    assert referral_of(app, world.case_id, world.co.id).status == ReferralStatus.OBJECTED
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.REFERRED and case.lead_department_id == world.lead.id
    assert referral_of(app, world.case_id, world.lead.id).status == ReferralStatus.PENDING


def test_objecting_after_the_window_is_refused(app, client, on_day):
    world = referred_world(app, client, on_day)
    on_day(date(2026, 2, 27))  # one working day too late
    as_user(client, world.lead_rep)
    inbox = text(client.get("/department/inbox"))
    referral = referral_of(app, world.case_id, world.lead.id)
    assert f"/referrals/{referral.id}/accept" in inbox
    assert f'action="/referrals/{referral.id}/object"' not in inbox  # no object button any more

    response = client.post(f"/referrals/{referral.id}/object", data={"reason": "不属本局职责"}, follow_redirects=True)
    assert response.status_code == 200
    assert any("objection window closed on 2026-02-26" in message for _, message in flashes(response))
    fragment = client.post(f"/referrals/{referral.id}/object", data={"reason": "不属本局职责"},
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "objection window closed" in text(fragment)
    assert referral_of(app, world.case_id, world.lead.id).status == ReferralStatus.PENDING
    assert get_case(app, world.case_id).status == CaseStatus.REFERRED
    assert "referral.objected" not in audit_actions(app)


def test_objection_needs_a_reason(app, client, on_day):
    world = referred_world(app, client, on_day)
    as_user(client, world.lead_rep)
    referral = referral_of(app, world.case_id, world.lead.id)
    response = client.post(f"/referrals/{referral.id}/object", data={"reason": "   "})
    assert response.status_code == 200 and field_error(response, "reason")
    fragment = client.post(f"/referrals/{referral.id}/object", data={}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in text(fragment) and field_error(fragment, "reason")
    assert referral_of(app, world.case_id, world.lead.id).status == ReferralStatus.PENDING


def test_a_department_not_on_the_case_gets_403(app, client, on_day):
    world = referred_world(app, client, on_day)
    referral = referral_of(app, world.case_id, world.lead.id)
    as_user(client, world.other_rep)
    assert client.get(f"/cases/{world.case_id}").status_code == 403
    assert client.post(f"/referrals/{referral.id}/accept").status_code == 403
    assert client.post(f"/referrals/{referral.id}/object", data={"reason": "x"}).status_code == 403
    assert client.get(f"/referrals/{referral.id}/object").status_code == 403
    assert client.post("/referrals/999999/accept").status_code == 404
    # staff and petitioners cannot decide referrals at all
    for user in (world.staff, world.petitioner):
        as_user(client, user)
        assert client.post(f"/referrals/{referral.id}/accept").status_code == 403
        assert client.get("/department/inbox").status_code == 403
    assert referral_of(app, world.case_id, world.lead.id).status == ReferralStatus.PENDING


def test_department_case_page_offers_the_decision(app, client, on_day):
    world = referred_world(app, client, on_day)
    as_user(client, world.lead_rep)
    page = text(client.get(f"/cases/{world.case_id}"))
    referral = referral_of(app, world.case_id, world.lead.id)
    assert "Your department's decision" in page
    assert f"/referrals/{referral.id}/accept" in page and f"/referrals/{referral.id}/object" in page
    assert f"/cases/{world.case_id}/triage/refer" not in page


def test_inbox_runs_a_fixed_number_of_queries(app, client, count_queries, on_day):
    world = make_world(app)
    on_day(date(2026, 1, 12))
    as_user(client, world.lead_rep)
    counts = []
    for n in (3, 30):
        _bulk_cases(app, n, (world.lead.id, world.other.id), world.staff.id)
        for url in ("/", "/department/inbox"):
            client.get(url)
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200
            counts.append((url, n, counter.count))
    page = text(response)
    assert "批量案件28" in page and "请加快办理" in page and "不属于本部门职责" not in page
    assert page.count('class="inbox-row') == 11  # 1 + 10 pending referrals
    assert counts[0][2] == counts[2][2] and counts[1][2] == counts[3][2], counts


def test_representatives_are_told_of_a_new_referral_by_message(app, client):
    from sqlalchemy import select

    from portal.accounts.models import Role
    from portal.cases import triage
    from portal.cases.models import ReferralKind
    from portal.extensions import db
    from portal.mail.models import OutboxMessage
    from tests.factories import make_case, make_department, make_user

    with app.test_request_context():
        department = make_department("通知测试局")
        rep = make_user(Role.DEPARTMENT_REP, department, email="rep-notice@test.example")
        make_user(Role.DEPARTMENT_REP, department, email="rep-gone@test.example", active=False)
        staff = make_user(Role.STAFF)
        case = make_case()
        triage.refer(case, staff, ReferralKind.ASSIGN, department.id)
        recipients = [m.recipient for m in db.session.scalars(select(OutboxMessage))]
        assert rep.email in recipients
        assert "rep-gone@test.example" not in recipients
