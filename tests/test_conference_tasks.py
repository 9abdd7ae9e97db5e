"""Tasks from decisions: department task lists, progress reports with files, reminders, supervision notices."""
from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from portal.conferences.models import Task, TaskReport, TaskStatus, TaskSupervision
from portal.conferences.tasks import send_task_reminders
from portal.timeutil import today
from tests.helpers import audit_actions, database, form_errors, outbox, text
from tests.test_conference_minutes import build_workspace, client_for, draft, minutes_row

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def make_tasks(app, w, office, days=(20, 20)):
    """One task per given due offset, for the member departments in order; returns their ids."""
    draft(office, w)
    decision_id = minutes_row(app, w.meeting_id).decisions[0].id
    ids = []
    for index, offset in enumerate(days):
        response = office.post(f"{w.base}/decisions/{decision_id}/tasks", data={
            f"d{decision_id}-title": f"任务{index}", f"d{decision_id}-department_id": str(w.department_ids[index]),
            f"d{decision_id}-due_on": (today() + timedelta(days=offset)).isoformat(),
            f"d{decision_id}-expected_result": "按期完成"})
        assert response.status_code == 303, form_errors(response)
    with database(app) as session:
        ids = list(session.scalars(select(Task.id).where(Task.conference_id == w.conference_id).order_by(Task.id)))
    return ids


def task_url(w, task_id, tail=""):
    return f"/conferences/{w.conference_id}/tasks/{task_id}{tail}"


def test_task_form_refuses_bad_input(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    draft(office, w)
    decision_id = minutes_row(app, w.meeting_id).decisions[0].id
    base = {f"d{decision_id}-due_on": (today() + timedelta(days=5)).isoformat()}
    for data in [{f"d{decision_id}-department_id": "abc"},
                 {f"d{decision_id}-department_id": str(w.office_id)},  # not a member department
                 {f"d{decision_id}-department_id": str(w.department_ids[0]), f"d{decision_id}-owner_id": str(w.rep_ids[1])},
                 {f"d{decision_id}-department_id": str(w.department_ids[0]), f"d{decision_id}-due_on": "2020-01-01"},
                 {f"d{decision_id}-department_id": str(w.department_ids[0]), f"d{decision_id}-due_on": "nonsense"}]:
        response = office.post(f"{w.base}/decisions/{decision_id}/tasks", data={**base, **data})
        assert response.status_code == 200
    with database(app) as session:
        assert session.scalars(select(Task)).all() == []
    assert client_for(app, w.reps[0]).post(f"{w.base}/decisions/{decision_id}/tasks", data=base).status_code == 403


def test_tasks_appear_in_each_responsible_department_list_only(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    make_tasks(app, w, office)
    page0 = text(client_for(app, w.reps[0]).get("/tasks"))
    page1 = text(client_for(app, w.reps[1]).get("/tasks"))
    assert "任务0" in page0 and "任务1" not in page0
    assert "任务1" in page1 and "任务0" not in page1
    assert "任务" not in text(client_for(app, w.outsider).get("/tasks")).split("<main")[1]
    staff_page = text(office.get("/tasks"))
    assert "任务0" in staff_page and "任务1" in staff_page
    convener_page = text(client_for(app, w.convener).get("/tasks"))
    assert "任务0" in convener_page
    assert "任务0" not in text(client_for(app, w.other_leader).get("/tasks"))
    # htmx asks for the rows only
    fragment = client_for(app, w.reps[0]).get("/tasks?show=all", headers={"HX-Request": "true"})
    assert fragment.get_data(as_text=True).lstrip().startswith("{#") is False
    assert "<tbody" in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert client_for(app, w.reps[0]).get("/tasks?show=nonsense").status_code == 200


def test_report_with_a_file_and_mark_done(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    task_id, other_id = make_tasks(app, w, office)
    rep = client_for(app, w.reps[0])
    # another department may not report, and a bad file changes nothing
    assert client_for(app, w.reps[1]).post(task_url(w, task_id, "/reports"), data={"text": "x"}).status_code == 403
    response = rep.post(task_url(w, task_id, "/reports"), content_type="multipart/form-data",
                        data={"text": "已完成初稿", "attachments": (io.BytesIO(b"not a pdf"), "a.pdf")})
    assert response.status_code == 200 and "a.pdf" in text(response)
    response = rep.post(task_url(w, task_id, "/reports"), data={"text": ""})
    assert response.status_code == 200
    assert rep.post(task_url(w, task_id, "/reports"), content_type="multipart/form-data",
                    data={"text": "已完成初稿", "attachments": (io.BytesIO(PDF), "方案.pdf")}).status_code == 303
    with database(app) as session:
        report = session.scalar(select(TaskReport).where(TaskReport.task_id == task_id))
        file_id = report.files[0].id
        assert report.files[0].original_name == "方案.pdf"
    download = rep.get(task_url(w, task_id, f"/files/{file_id}"))
    assert download.status_code == 200 and download.data == PDF and "attachment" in download.headers["Content-Disposition"]
    assert office.get(task_url(w, task_id, f"/files/{file_id}")).status_code == 200
    assert client_for(app, w.outsider).get(task_url(w, task_id, f"/files/{file_id}")).status_code == 403
    assert client_for(app, w.outsider).get(task_url(w, task_id)).status_code == 403
    assert rep.get(task_url(w, other_id, f"/files/{file_id}")).status_code == 404
    # done
    assert rep.post(task_url(w, task_id, "/reports"), data={"text": "已完成", "done": "y"}).status_code == 303
    with database(app) as session:
        task = session.get(Task, task_id)
        assert task.status == TaskStatus.DONE and task.done_on == today()
    assert "task.reported" in audit_actions(app) and "task.done" in audit_actions(app)
    assert "任务0" in text(rep.get("/tasks?show=done")) and "任务0" not in text(rep.get("/tasks?show=open"))


def test_reminder_is_sent_once(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    near_id, far_id = make_tasks(app, w, office, days=(2, 20))
    with database(app):
        assert send_task_reminders(today()) == 1
    with database(app):
        assert send_task_reminders(today()) == 0
    rep_email = f"{w.reps[0]}"
    messages = outbox(app, rep_email)
    assert len(messages) == 1 and "任务0" in messages[0].subject
    with database(app) as session:
        assert session.get(Task, near_id).reminded_on == today()
        assert session.get(Task, far_id).reminded_on is None
    assert "task.reminded" in audit_actions(app)
    page = text(client_for(app, w.reps[0]).get("/tasks"))
    assert "due-near" in page and "Due soon" in page


def test_cli_remind_command(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    make_tasks(app, w, office, days=(1, 2))
    result = app.test_cli_runner().invoke(args=["tasks", "remind"])
    assert result.exit_code == 0 and "2 task reminders sent" in result.output
    result = app.test_cli_runner().invoke(args=["tasks", "remind", "--on", "bad"])
    assert result.exit_code == 1


def test_overdue_task_supervision_answered_with_reason_and_progress(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    task_id, _other = make_tasks(app, w, office)
    with database(app) as session:
        session.get(Task, task_id).due_on = today() - timedelta(days=3)
        session.commit()
    rep = client_for(app, w.reps[0])
    page = text(rep.get("/tasks?show=overdue"))
    assert "任务0" in page and "due-overdue" in page and "任务1" not in page
    # only the office supervises
    assert rep.post(task_url(w, task_id, "/supervisions"), data={"method": "notice", "notice": "x"}).status_code == 403
    response = office.post(task_url(w, task_id, "/supervisions"), data={"method": "notice", "notice": ""})
    assert response.status_code == 200
    response = office.post(task_url(w, task_id, "/supervisions"), data={"method": "bogus", "notice": "请说明"})
    assert response.status_code == 200
    response = office.post(task_url(w, task_id, "/supervisions"),
                           data={"method": "notice", "notice": "该任务已逾期，请书面说明原因并报告进展。"})
    assert response.status_code == 303
    with database(app) as session:
        supervision = session.scalar(select(TaskSupervision).where(TaskSupervision.task_id == task_id))
        assert supervision.respond_by == today() + timedelta(days=5)
        supervision_id = supervision.id
    assert any("Supervision" in m.subject or "督办" in m.subject for m in outbox(app, w.reps[0]))
    url = task_url(w, task_id, f"/supervisions/{supervision_id}")
    # another department cannot answer; a missing reason (or progress) is refused
    assert client_for(app, w.reps[1]).post(url, data={f"s{supervision_id}-reason": "x",
                                                      f"s{supervision_id}-progress": "y"}).status_code == 403
    response = rep.post(url, data={f"s{supervision_id}-reason": "", f"s{supervision_id}-progress": "已完成一半"})
    assert response.status_code == 200 and "This field is required." in text(response)
    response = rep.post(url, data={f"s{supervision_id}-reason": "资金未到位", f"s{supervision_id}-progress": " "})
    assert response.status_code == 200
    with database(app) as session:
        assert session.get(TaskSupervision, supervision_id).responded_at is None
    response = rep.post(url, data={f"s{supervision_id}-reason": "资金未到位", f"s{supervision_id}-progress": "已完成一半"},
                        follow_redirects=True)
    assert response.status_code == 200 and "资金未到位" in text(response) and "已完成一半" in text(response)
    with database(app) as session:
        supervision = session.get(TaskSupervision, supervision_id)
        assert supervision.reason == "资金未到位" and supervision.responded_at is not None
    assert rep.post(url, data={f"s{supervision_id}-reason": "再答", f"s{supervision_id}-progress": "再答"}).status_code == 200
    assert "task.supervised" in audit_actions(app) and "task.supervision_answered" in audit_actions(app)


def test_case_page_shows_the_workspace_meetings_and_tasks(app):
    w = build_workspace(app, with_case=True)
    office = client_for(app, w.staff)
    make_tasks(app, w, office)
    page = text(office.get(f"/cases/{w.case_id}"))
    assert "某小区拆迁联席会议" in page and "第一次联席会议" in page and "任务0" in page


def test_task_list_query_count_is_fixed(app, count_queries):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    task_ids = make_tasks(app, w, office)
    rep = client_for(app, w.reps[0])
    rep.get("/tasks?show=all")

    def measure(client):
        with count_queries() as counter:
            assert client.get("/tasks?show=all").status_code == 200
        return counter.count

    first_rep, first_staff = measure(rep), measure(office)
    with database(app) as session:
        template = session.get(Task, task_ids[0])
        for i in range(10):
            session.add(Task(conference_id=w.conference_id, decision_id=template.decision_id,
                             department_id=w.department_ids[0], owner_id=w.rep_ids[0], title=f"批量{i}",
                             due_on=today() + timedelta(days=i - 3)))
        session.commit()
    assert measure(rep) == first_rep and measure(office) == first_staff


def test_workspace_page_lists_tasks_and_links_agenda_and_minutes(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    task_id, _other = make_tasks(app, w, office, days=(1, 20))
    page = text(client_for(app, w.reps[0]).get(f"/conferences/{w.conference_id}"))
    assert "任务0" in page and "任务1" in page and "due-near" in page
    assert f"{w.base}/agenda" in page and f"{w.base}/minutes" in page
    assert task_url(w, task_id) in page
