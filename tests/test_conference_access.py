"""Every workspace URL refuses whoever does not take part in the workspace.

The test walks app.url_map, so the routes of every part of the joint conferences (workspace, meetings, minutes,
tasks) are covered as they land, without touching this file. One workspace is built with one record of every
kind; each URL parameter is filled from that set by its name. A route with a parameter the set cannot fill is
skipped and printed (run pytest with -s to see them).
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import url_for

from portal import policy
from portal.accounts.models import DepartmentKind, Role
from portal.timeutil import utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import database

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PREFIX = "/conferences/"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def build_workspace(app) -> dict:
    """One workspace with a meeting, a slot and its answer, an agenda item, attendance, minutes with a comment,
    an addendum and a decision, a task with a report, a file and a supervision notice, a document version and a
    message. Returns URL parameter name -> id, and the logins of the people the test needs."""
    from portal.conferences import models as m

    with database(app) as session:
        bureau = make_department(kind=DepartmentKind.PETITION_BUREAU)
        member = make_department()
        outsider_department = make_department()
        staff = make_user(Role.STAFF, department=bureau)
        rep = make_user(Role.DEPARTMENT_REP, department=member)
        outsider = make_user(Role.DEPARTMENT_REP, department=outsider_department)
        leader = make_user(Role.LEADER)
        petitioner = make_user(Role.PETITIONER)
        case = make_case(petitioner_user=petitioner)
        case.complex = True

        conference = m.Conference(title="联席会议", purpose="", convener_id=leader.id, office_department_id=bureau.id,
                                  created_by_id=staff.id)
        conference.case_links.append(m.ConferenceCase(case_id=case.id))
        session.add(conference)
        session.flush()
        membership = m.ConferenceMember(conference_id=conference.id, department_id=member.id)
        document = m.ConferenceDocument(conference_id=conference.id, title="材料", created_by_id=staff.id)
        version = m.DocumentVersion(document=document, number=1, stored_name="0" * 32 + ".pdf",
                                    original_name="材料.pdf", content_type="application/pdf", size=len(PDF_BYTES),
                                    sha256="0" * 64, uploaded_by_id=staff.id)
        message = m.ConferenceMessage(conference_id=conference.id, author_id=rep.id, department_id=member.id,
                                      body="你好")
        start = utcnow() + timedelta(days=7)
        meeting = m.Meeting(conference_id=conference.id, title="第一次会议", uid=f"test-{conference.id}@portal",
                            starts_at=start, ends_at=start + timedelta(hours=2), created_by_id=staff.id)
        slot = m.MeetingSlot(meeting=meeting, starts_at=start, ends_at=start + timedelta(hours=2), place="会议室")
        session.add_all([membership, document, version, message, meeting, slot])
        session.flush()
        answer = m.SlotAnswer(slot_id=slot.id, department_id=member.id, answer=m.Answer.YES, user_id=rep.id)
        item = m.AgendaItem(meeting_id=meeting.id, position=1, title="议题", case_id=case.id, document_id=document.id)
        attendance = m.Attendance(meeting_id=meeting.id, department_id=member.id,
                                  status=m.AttendanceStatus.ATTENDED)
        minutes = m.Minutes(meeting_id=meeting.id, body="纪要", drafted_by_id=staff.id)
        session.add_all([answer, item, attendance, minutes])
        session.flush()
        comment = m.MinutesComment(minutes_id=minutes.id, revision=1, department_id=member.id, author_id=rep.id,
                                   text="意见")
        addendum = m.MinutesAddendum(minutes_id=minutes.id, text="补充", created_by_id=staff.id)
        decision = m.Decision(minutes_id=minutes.id, position=1, text="议定事项")
        session.add_all([comment, addendum, decision])
        session.flush()
        task = m.Task(conference_id=conference.id, decision_id=decision.id, department_id=member.id, owner_id=rep.id,
                      title="任务", due_on=date.today() + timedelta(days=10), created_by_id=staff.id)
        session.add(task)
        session.flush()
        report = m.TaskReport(task_id=task.id, text="进展", author_id=rep.id)
        supervision = m.TaskSupervision(task_id=task.id, notice="督办", respond_by=date.today(),
                                        issued_by_id=staff.id)
        session.add_all([report, supervision])
        session.flush()
        report_file = m.TaskReportFile(report_id=report.id, stored_name="1" * 32 + ".pdf", original_name="进展.pdf",
                                       content_type="application/pdf", size=len(PDF_BYTES), sha256="1" * 64)
        session.add(report_file)
        session.commit()
        ids = {
            "conference_id": conference.id, "member_id": membership.id, "document_id": document.id,
            "version_id": version.id, "message_id": message.id, "meeting_id": meeting.id, "slot_id": slot.id,
            "answer_id": answer.id, "item_id": item.id, "agenda_item_id": item.id, "attendance_id": attendance.id,
            "minutes_id": minutes.id, "comment_id": comment.id, "addendum_id": addendum.id,
            "decision_id": decision.id, "task_id": task.id, "report_id": report.id, "file_id": report_file.id,
            "report_file_id": report_file.id, "supervision_id": supervision.id, "department_id": member.id,
            "case_id": case.id,
        }
        people = {"staff": staff.login, "rep": rep.login, "outsider": outsider.login, "petitioner": petitioner.login}
    return {"ids": ids, "people": people}


def workspace_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.rule.startswith(PREFIX) and r.endpoint != "static"),
                  key=lambda r: (r.rule, sorted(r.methods)))


def fill(app, rule, ids: dict) -> str | None:
    if not set(rule.arguments) <= set(ids):
        return None
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: ids[name] for name in rule.arguments})


def declared_roles(app, rule):
    return policy.allowed_roles(app.view_functions[rule.endpoint])


def visit(client, rule, path) -> list[tuple[str, int]]:
    """(method, status) for each method the route takes: GET and POST (with a valid CSRF token, no other data)."""
    answers = []
    if "GET" in rule.methods:
        answers.append(("GET", client.get(path).status_code))
    if rule.methods & UNSAFE:
        answers.append(("POST", client.post(path, data={"csrf_token": client.csrf_token()}).status_code))
    return answers


@pytest.fixture
def workspace(app):
    return build_workspace(app)


def signed_in(app, login_name):
    client = app.test_client()
    assert login(client, login_name, PASSWORD).status_code == 303
    return client


@pytest.mark.parametrize("who", ["outsider", "petitioner"])
def test_every_workspace_url_refuses_who_does_not_take_part(app, workspace, who, capsys):
    client = signed_in(app, workspace["people"][who])
    checked, skipped, wrong = [], [], []
    for rule in workspace_rules(app):
        roles = declared_roles(app, rule)
        if roles is None or roles == policy.EVERYONE:
            skipped.append((rule.rule, "open to everyone by its rule (a token URL)"))
            continue
        if not rule.arguments:
            # Not inside one workspace (e.g. the form that opens one): only the role rule applies.
            if who == "petitioner":
                checked.append(rule.rule)
                wrong += [(method, rule.rule, status) for method, status in visit(client, rule, rule.rule)
                          if status != 403]
            continue
        path = fill(app, rule, workspace["ids"])
        if path is None:
            skipped.append((rule.rule, "unknown parameter " + ", ".join(sorted(set(rule.arguments)
                                                                             - set(workspace["ids"])))))
            continue
        checked.append(rule.rule)
        wrong += [(method, path, status) for method, status in visit(client, rule, path) if status != 403]
    with capsys.disabled():
        for rule, why in skipped:
            print(f"\n[conference access] skipped {rule}: {why}")
    assert wrong == []
    # The workspace's own routes are among those checked.
    assert {"/conferences/<int:conference_id>", "/conferences/<int:conference_id>/messages",
            "/conferences/<int:conference_id>/documents/<int:document_id>/versions/<int:version_id>",
            "/conferences/<int:conference_id>/members/<int:member_id>/leave"} <= set(checked)


def test_members_and_the_office_do_get_in(app, workspace):
    """The refusals above are about taking part, not a broken route: the same URLs open for the people inside."""
    ids = workspace["ids"]
    for who in ("rep", "staff"):
        client = signed_in(app, workspace["people"][who])
        assert client.get(f"/conferences/{ids['conference_id']}").status_code == 200
        assert client.get(f"/conferences/{ids['conference_id']}/documents/{ids['document_id']}").status_code == 200

