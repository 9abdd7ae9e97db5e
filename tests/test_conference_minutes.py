"""Minutes of a joint-conference meeting: draft, amendment, approval by the convener, lock, addendum, PDF."""
from __future__ import annotations

import subprocess
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from portal.accounts.models import Role
from portal.conferences.minutes import content_hash
from portal.conferences.models import (
    Attendance,
    AttendanceStatus,
    Conference,
    ConferenceCase,
    ConferenceMember,
    Decision,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesAddendum,
    MinutesStatus,
    Task,
)
from portal.timeutil import utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import audit_events, database, form_errors, text


def build_workspace(app, with_case: bool = False):
    """A workspace with a convener, the office, three member departments and a scheduled meeting."""
    with database(app) as session:
        office = make_department(name="信访局")
        staff = make_user(Role.STAFF, office, locale="en")
        convener = make_user(Role.LEADER, name="召集人", locale="en")
        other_leader = make_user(Role.LEADER, locale="en")
        departments = [make_department(name=f"成员单位{i}") for i in range(3)]
        reps = [make_user(Role.DEPARTMENT_REP, d, locale="en") for d in departments]
        outsider = make_user(Role.DEPARTMENT_REP, make_department(name="无关部门"), locale="en")
        conference = Conference(title="某小区拆迁联席会议", purpose="协调", convener_id=convener.id,
                                office_department_id=office.id, created_by_id=staff.id)
        session.add(conference)
        session.flush()
        for department in departments:
            session.add(ConferenceMember(conference_id=conference.id, department_id=department.id))
        case_id = None
        if with_case:
            case = make_case()
            session.add(ConferenceCase(conference_id=conference.id, case_id=case.id))
            case_id = case.id
        start = utcnow() + timedelta(days=7)
        meeting = Meeting(conference_id=conference.id, title="第一次联席会议", status=MeetingStatus.SCHEDULED,
                          uid=f"{uuid.uuid4()}@test", starts_at=start, ends_at=start + timedelta(hours=2))
        session.add(meeting)
        session.commit()
        return SimpleNamespace(
            conference_id=conference.id, meeting_id=meeting.id, case_id=case_id,
            office_id=office.id, department_ids=[d.id for d in departments],
            department_names=[d.name for d in departments],
            staff=staff.login, convener=convener.login, other_leader=other_leader.login,
            reps=[r.login for r in reps], rep_ids=[r.id for r in reps], outsider=outsider.login,
            base=f"/conferences/{conference.id}/meetings/{meeting.id}")


def add_meeting(app, conference_id: int, days: int = 30) -> int:
    with database(app) as session:
        start = utcnow() + timedelta(days=days)
        meeting = Meeting(conference_id=conference_id, title="第二次联席会议", status=MeetingStatus.SCHEDULED,
                          uid=f"{uuid.uuid4()}@test", starts_at=start, ends_at=start + timedelta(hours=2))
        session.add(meeting)
        session.commit()
        return meeting.id


def client_for(app, user_login: str):
    client = app.test_client()
    response = login(client, user_login, PASSWORD)
    assert response.status_code == 303
    return client


def minutes_row(app, meeting_id: int) -> Minutes:
    with database(app) as session:
        minutes = session.scalar(select(Minutes).where(Minutes.meeting_id == meeting_id))
        if minutes is not None:
            _ = [d.text for d in minutes.decisions], [a.text for a in minutes.addenda]
        return minutes


def draft(client, w, body="会议议定以下事项。", decisions="一、住建局牵头制定补偿方案\n二、街道做好解释工作", version=""):
    return client.post(f"{w.base}/minutes/draft", data={"body": body, "decisions": decisions, "version": version})


def test_minutes_from_draft_through_amendment_to_approval_and_lock(app):
    w = build_workspace(app)
    office, member, convener = client_for(app, w.staff), client_for(app, w.reps[0]), client_for(app, w.convener)

    assert draft(office, w).status_code == 303
    minutes = minutes_row(app, w.meeting_id)
    assert minutes.status == MinutesStatus.DRAFT and minutes.revision == 1
    assert [d.text for d in minutes.decisions] == ["一、住建局牵头制定补偿方案", "二、街道做好解释工作"]

    # A member department proposes an amendment on revision 1.
    page = text(member.get(f"{w.base}/minutes"))
    assert "会议议定以下事项。" in page and "Approve the minutes" not in page
    response = member.post(f"{w.base}/minutes/comments",
                           data={"text": "补充时间要求", "proposed_text": "会议议定以下事项，限期一个月完成。"})
    assert response.status_code == 303
    minutes = minutes_row(app, w.meeting_id)
    with database(app) as session:
        comment = session.scalar(select(Minutes).where(Minutes.id == minutes.id)).comments[0]
        assert comment.revision == 1 and comment.department_id == w.department_ids[0]
        comment_id = comment.id

    # The convener may not approve while the amendment is undecided.
    response = convener.post(f"{w.base}/minutes/approve", follow_redirects=True)
    assert "undecided" in text(response)
    assert minutes_row(app, w.meeting_id).status == MinutesStatus.DRAFT

    # The office accepts it: a new revision with the proposed text.
    response = office.post(f"{w.base}/minutes/comments/{comment_id}", data={"decision": "accept"})
    assert response.status_code == 303
    minutes = minutes_row(app, w.meeting_id)
    assert minutes.revision == 2 and minutes.body == "会议议定以下事项，限期一个月完成。"

    # A non-convener leader and a member cannot approve.
    assert client_for(app, w.other_leader).post(f"{w.base}/minutes/approve").status_code == 403
    assert member.post(f"{w.base}/minutes/approve").status_code == 403
    assert minutes_row(app, w.meeting_id).status == MinutesStatus.DRAFT

    # Approval waits for the attendance (the minutes record who attended), then the convener approves: locked,
    # hash on the row and in the audit trail.
    assert "Enter the attendance" in text(convener.post(f"{w.base}/minutes/approve", follow_redirects=True))
    assert office.post(f"{w.base}/attendance", data={
        "department_id": [str(d) for d in w.department_ids],
        **{f"status-{d}": "attended" for d in w.department_ids}}).status_code == 303
    page = text(convener.get(f"{w.base}/minutes"))
    assert "Approve the minutes" in page
    response = convener.post(f"{w.base}/minutes/approve", follow_redirects=True)
    assert response.status_code == 200 and "Approved and locked" in text(response)
    minutes = minutes_row(app, w.meeting_id)
    assert minutes.status == MinutesStatus.APPROVED and len(minutes.content_hash) == 64
    events = audit_events(app, "minutes.approved")
    assert len(events) == 1 and f'"hash": "{minutes.content_hash}"' in events[0].details
    with database(app) as session:
        assert content_hash(session.get(Minutes, minutes.id)) == minutes.content_hash

    # Any later edit is refused and changes nothing.
    response = draft(office, w, body="篡改后的文本", version=str(minutes.version))
    assert response.status_code == 200 and "approved and locked" in form_errors(response)
    response = office.post(f"{w.base}/minutes/comments/{comment_id}", data={"decision": "decline"},
                           follow_redirects=True)
    assert "locked" in text(response)
    response = member.post(f"{w.base}/minutes/comments", data={"text": "再改一下", "proposed_text": "x"})
    assert "comments are closed" in form_errors(response)
    after = minutes_row(app, w.meeting_id)
    assert after.body == minutes.body and after.content_hash == minutes.content_hash and after.revision == 2

    # Corrections only as an addendum.
    response = office.post(f"{w.base}/minutes/addenda", data={"text": "更正：第二项由街道办牵头。"}, follow_redirects=True)
    assert "更正：第二项由街道办牵头。" in text(response)
    assert [a.text for a in minutes_row(app, w.meeting_id).addenda] == ["更正：第二项由街道办牵头。"]
    assert minutes_row(app, w.meeting_id).content_hash == minutes.content_hash
    assert office.post(f"{w.base}/minutes/addenda", data={"text": "  "}).status_code == 200


def test_addendum_refused_on_a_draft_and_comment_needs_text(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    draft(office, w)
    response = office.post(f"{w.base}/minutes/addenda", data={"text": "更正"})
    assert "approved minutes" in form_errors(response)
    response = client_for(app, w.reps[1]).post(f"{w.base}/minutes/comments", data={"text": ""})
    assert response.status_code == 200
    with database(app) as session:
        assert session.scalars(select(MinutesAddendum)).all() == []


def test_two_editors_of_a_draft_get_a_message_not_a_lost_update(app):
    w = build_workspace(app)
    office, other = client_for(app, w.staff), client_for(app, w.staff)
    draft(office, w)
    version = str(minutes_row(app, w.meeting_id).version)
    assert draft(office, w, body="第一位编辑的文本", version=version).status_code == 303
    response = draft(other, w, body="第二位编辑的文本", version=version)
    assert response.status_code == 200 and "Someone else saved these minutes" in form_errors(response)
    assert minutes_row(app, w.meeting_id).body == "第一位编辑的文本"
    assert draft(other, w, body="", version=version).status_code == 200  # no text: refused, nothing changes


def test_outsiders_and_members_cannot_manage_minutes(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    draft(office, w)
    outsider = client_for(app, w.outsider)
    assert outsider.get(f"{w.base}/minutes").status_code == 403
    assert outsider.post(f"{w.base}/minutes/comments", data={"text": "x"}).status_code == 403
    assert outsider.get(f"{w.base}/minutes.pdf").status_code == 403
    member = client_for(app, w.reps[0])
    assert member.post(f"{w.base}/minutes/draft", data={"body": "x", "version": "1"}).status_code == 403
    assert client_for(app, w.other_leader).get(f"{w.base}/minutes").status_code == 403
    assert office.get(f"/conferences/{w.conference_id}/meetings/999999/minutes").status_code == 404


def test_minutes_pdf_has_attendance_decisions_tasks_and_addenda(app, tmp_path):
    w = build_workspace(app)
    office, convener = client_for(app, w.staff), client_for(app, w.convener)
    response = office.post(f"{w.base}/attendance", data={
        "department_id": [str(d) for d in w.department_ids],
        f"status-{w.department_ids[0]}": "attended", f"representative-{w.department_ids[0]}": "李代表",
        f"status-{w.department_ids[1]}": "absent", f"status-{w.department_ids[2]}": "attended"})
    assert response.status_code == 303, form_errors(response)
    draft(office, w)
    minutes = minutes_row(app, w.meeting_id)
    decision_id = minutes.decisions[0].id
    due = (date.today() + timedelta(days=20)).isoformat()
    response = office.post(f"{w.base}/decisions/{decision_id}/tasks", data={
        f"d{decision_id}-title": "制定补偿方案", f"d{decision_id}-department_id": str(w.department_ids[0]),
        f"d{decision_id}-owner_id": str(w.rep_ids[0]), f"d{decision_id}-due_on": due,
        f"d{decision_id}-expected_result": "方案报联席会议"})
    assert response.status_code == 303, form_errors(response)
    convener.post(f"{w.base}/minutes/approve")
    office.post(f"{w.base}/minutes/addenda", data={"text": "补充说明附录"})
    response = client_for(app, w.reps[2]).get(f"{w.base}/minutes.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    pdf = tmp_path / "minutes.pdf"
    pdf.write_bytes(response.data)
    content = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    compact = "".join(content.split())
    for expected in ["李代表", w.department_names[0], w.department_names[1], "一、住建局牵头制定补偿方案",
                     "制定补偿方案", "补充说明附录"]:
        assert expected in compact, expected


def test_minutes_page_query_count_is_fixed(app, count_queries):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    draft(office, w)
    office.get(f"{w.base}/minutes")

    def measure():
        with count_queries() as counter:
            assert office.get(f"{w.base}/minutes").status_code == 200
        return counter.count

    first = measure()
    minutes = minutes_row(app, w.meeting_id)
    with database(app) as session:
        for i in range(5):
            decision = Decision(minutes_id=minutes.id, position=10 + i, text=f"事项{i}")
            session.add(decision)
            session.flush()
            for department_id in w.department_ids:
                session.add(Task(conference_id=w.conference_id, decision_id=decision.id, department_id=department_id,
                                 owner_id=None, title=f"任务{i}", due_on=date.today() + timedelta(days=9)))
        for department_id in w.department_ids:
            session.add(Attendance(meeting_id=w.meeting_id, department_id=department_id,
                                   status=AttendanceStatus.ATTENDED))
        session.commit()
    assert measure() == first


def test_approved_minutes_lock_the_attendance_and_agenda_too(app):
    w = build_workspace(app)
    office, convener = client_for(app, w.staff), client_for(app, w.convener)
    attendance = {"department_id": [str(d) for d in w.department_ids],
                  **{f"status-{d}": "attended" for d in w.department_ids}}
    assert office.post(f"{w.base}/attendance", data=attendance).status_code == 303
    draft(office, w)
    assert convener.post(f"{w.base}/minutes/approve").status_code == 303
    assert minutes_row(app, w.meeting_id).status == MinutesStatus.APPROVED
    changed = {**attendance, f"status-{w.department_ids[0]}": "absent"}
    assert "approved" in text(office.post(f"{w.base}/attendance", data=changed, follow_redirects=True))
    assert "approved" in text(office.post(f"{w.base}/agenda/items", data={"title": "补一项"}, follow_redirects=True))
    with database(app) as session:
        from portal.conferences.models import Attendance

        statuses = {a.status.value for a in session.scalars(select(Attendance).where(
            Attendance.meeting_id == w.meeting_id))}
    assert statuses == {"attended"}
