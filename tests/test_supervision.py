"""Supervision (督办) through the HTTP routes: only on an overdue case, addressed to a responsible department,
answered in writing by that department, invisible to other departments and to the petitioner."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal import rules
from portal.cases.models import CaseEvent, Supervision
from tests.helpers import audit_actions, database, field_error, flashes, form_errors, text
from tests.test_cases_triage import SENT, as_user, make_world, on_day, refer  # noqa: F401
from tests.test_department_inbox import referral_of

OVERDUE_DAY = date(2026, 3, 2)  # the acceptance notice was due on 27 Feb


def supervisions(app, case_id) -> list[Supervision]:
    with database(app) as session:
        return list(session.scalars(select(Supervision).where(Supervision.case_id == case_id)
                                    .order_by(Supervision.id)))


def overdue_world(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    assert refer(client, world).status_code == 303
    on_day(OVERDUE_DAY)
    return world


def test_supervision_only_on_an_overdue_case(app, client, on_day):
    world = make_world(app)
    on_day(SENT)
    as_user(client, world.staff)
    assert refer(client, world).status_code == 303
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "Issue a supervision notice" not in page
    response = client.post(f"/cases/{world.case_id}/supervise",
                           data={"department": str(world.lead.id), "notice": "请加快"}, follow_redirects=True)
    assert any("overdue time limit" in message for _, message in flashes(response))
    assert supervisions(app, world.case_id) == []


def test_staff_supervises_and_the_department_answers(app, client, on_day):
    world = overdue_world(app, client, on_day)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "Issue a supervision notice" in page
    home = text(client.get("/"))
    assert "Overdue at departments" in home and f"/cases/{world.case_id}/supervise" in home

    form = client.get(f"/cases/{world.case_id}/supervise")
    assert form.status_code == 200
    assert "人社局（测试）" in text(form) and "住建局（测试）" in text(form)
    assert "市场监管局（测试）" not in text(form)
    response = client.post(f"/cases/{world.case_id}/supervise",
                           data={"department": str(world.lead.id), "notice": "受理告知已超期，请于5日内书面说明。"})
    assert response.status_code == 303
    [supervision] = supervisions(app, world.case_id)
    assert supervision.department_id == world.lead.id and supervision.issued_by_id == world.staff.id
    assert supervision.respond_by == date(2026, 3, 2 + rules.SUPERVISION_RESPONSE_DAYS)
    assert "supervision.issued" in audit_actions(app)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "受理告知已超期，请于5日内书面说明。" in page and "Supervision notice to 人社局（测试）." in page
    assert "Open supervision notices" in text(client.get("/"))

    # a second notice to the same department while the first is unanswered is refused
    again = client.post(f"/cases/{world.case_id}/supervise",
                        data={"department": str(world.lead.id), "notice": "再次督办"})
    assert again.status_code == 200 and "has not yet answered" in form_errors(again)

    # the department sees it in its inbox and answers in writing
    as_user(client, world.lead_rep)
    inbox = text(client.get("/department/inbox"))
    assert "受理告知已超期，请于5日内书面说明。" in inbox
    assert f"/supervisions/{supervision.id}/respond" in inbox
    assert client.get(f"/supervisions/{supervision.id}/respond").status_code == 200
    empty = client.post(f"/supervisions/{supervision.id}/respond", data={"response": " "})
    assert empty.status_code == 200 and field_error(empty, "response")
    response = client.post(f"/supervisions/{supervision.id}/respond",
                           data={"response": "因春节假期延误，已于3月3日电话告知信访人，今日补发书面告知。"})
    assert response.status_code == 303
    [supervision] = supervisions(app, world.case_id)
    assert supervision.response.startswith("因春节假期延误")
    assert supervision.responded_by_id == world.lead_rep.id and supervision.responded_at is not None
    assert "supervision.answered" in audit_actions(app)
    again = client.post(f"/supervisions/{supervision.id}/respond", data={"response": "补充"}, follow_redirects=True)
    assert any("already been answered" in message for _, message in flashes(again))
    assert supervisions(app, world.case_id)[0].response.startswith("因春节假期延误")

    # both show on the case page and in the timeline, for the bureau
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "因春节假期延误" in page and "人社局（测试） answered the supervision notice." in page
    with database(app) as session:
        kinds = {e.kind: e.internal for e in session.scalars(select(CaseEvent)
                                                             .where(CaseEvent.case_id == world.case_id))}
    assert kinds["supervision"] is True and kinds["supervision_answered"] is True

    # the petitioner sees none of it
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "受理告知已超期" not in page and "因春节假期延误" not in page


def test_supervision_is_invisible_to_other_departments(app, client, on_day):
    world = overdue_world(app, client, on_day)
    client.post(f"/cases/{world.case_id}/supervise", data={"department": str(world.lead.id), "notice": "请说明超期原因"})
    [supervision] = supervisions(app, world.case_id)
    # a department not on the case
    as_user(client, world.other_rep)
    assert "请说明超期原因" not in text(client.get("/department/inbox"))
    assert client.get(f"/cases/{world.case_id}").status_code == 403
    assert client.get(f"/supervisions/{supervision.id}/respond").status_code == 403
    assert client.post(f"/supervisions/{supervision.id}/respond", data={"response": "x"}).status_code == 403
    # the co-handling department sees the case, but not the notice addressed to the lead
    as_user(client, world.co_rep)
    assert client.get(f"/cases/{world.case_id}").status_code == 200
    assert "请说明超期原因" not in text(client.get(f"/cases/{world.case_id}"))
    assert "请说明超期原因" not in text(client.get("/department/inbox"))
    assert client.post(f"/supervisions/{supervision.id}/respond", data={"response": "x"}).status_code == 403
    # departments cannot issue notices
    assert client.post(f"/cases/{world.case_id}/supervise",
                       data={"department": str(world.co.id), "notice": "x"}).status_code == 403
    assert supervisions(app, world.case_id)[0].response == ""


def test_overdue_answers_are_highlighted(app, client, on_day):
    world = overdue_world(app, client, on_day)
    client.post(f"/cases/{world.case_id}/supervise", data={"department": str(world.lead.id), "notice": "请说明"})
    on_day(date(2026, 3, 10))  # past respond_by (7 March)
    assert "answer overdue" in text(client.get(f"/cases/{world.case_id}"))
    assert "answer overdue" in text(client.get("/"))
    as_user(client, world.lead_rep)
    assert "answer overdue" in text(client.get("/department/inbox"))
    [supervision] = supervisions(app, world.case_id)
    client.post(f"/supervisions/{supervision.id}/respond", data={"response": "已办结"})
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "answered late" in page


def test_supervision_bad_input(app, client, on_day):
    world = overdue_world(app, client, on_day)
    for data, field in (({"department": "abc", "notice": "x"}, "department"),
                        ({"department": str(world.other.id), "notice": "x"}, "department"),
                        ({"department": str(world.lead.id), "notice": ""}, "notice")):
        response = client.post(f"/cases/{world.case_id}/supervise", data=data)
        assert response.status_code == 200 and field_error(response, field), data
    assert supervisions(app, world.case_id) == []
    assert client.get("/cases/999999/supervise").status_code == 404
    as_user(client, world.lead_rep)
    assert client.get("/supervisions/999999/respond").status_code == 404


def test_a_leader_may_supervise(app, client, on_day):
    from portal.accounts.models import Role
    from tests.helpers import add_user

    world = overdue_world(app, client, on_day)
    leader = add_user(app, Role.LEADER, locale="en")
    as_user(client, leader)
    response = client.post(f"/cases/{world.case_id}/supervise",
                           data={"department": str(world.lead.id), "notice": "请市人社局说明"})
    assert response.status_code == 303
    assert supervisions(app, world.case_id)[0].issued_by_id == leader.id
    assert referral_of(app, world.case_id, world.lead.id) is not None


def test_the_bureau_does_not_supervise_its_own_routing_clock(app, client, on_day):
    world = make_world(app)  # received 10 Feb: routing was due on 25 Feb
    on_day(OVERDUE_DAY)
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "overdue" in page and "Issue a supervision notice" not in page
    response = client.post(f"/cases/{world.case_id}/supervise",
                           data={"department": str(world.lead.id), "notice": "x"}, follow_redirects=True)
    assert any("overdue time limit" in message for _, message in flashes(response))
    assert supervisions(app, world.case_id) == []
