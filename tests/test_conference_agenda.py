"""Agenda of a meeting: items linked to cases and documents, reordering with and without htmx, carried tasks,
and attendance per department."""
from __future__ import annotations

import re

from sqlalchemy import select

from portal.conferences.minutes import carry_open_tasks
from portal.conferences.models import AgendaItem, Attendance, ConferenceDocument, Meeting, Task, TaskStatus
from portal.timeutil import today
from tests.factories import make_department
from tests.helpers import audit_actions, database, form_errors, text
from tests.test_conference_minutes import add_meeting, build_workspace, client_for
from tests.test_conference_tasks import make_tasks


def titles(app, meeting_id):
    with database(app) as session:
        return list(session.scalars(select(AgendaItem.title).where(AgendaItem.meeting_id == meeting_id)
                                    .order_by(AgendaItem.position, AgendaItem.id)))


def item_ids(app, meeting_id):
    with database(app) as session:
        return list(session.scalars(select(AgendaItem.id).where(AgendaItem.meeting_id == meeting_id)
                                    .order_by(AgendaItem.position, AgendaItem.id)))


def test_agenda_items_with_case_and_document_links(app):
    w = build_workspace(app, with_case=True)
    with database(app) as session:
        document = ConferenceDocument(conference_id=w.conference_id, title="补偿方案草稿")
        session.add(document)
        session.commit()
        document_id = document.id
    office = client_for(app, w.staff)
    response = office.post(f"{w.base}/agenda/items", data={"title": "通报案件办理情况", "notes": "十分钟",
                                                   "case_id": str(w.case_id), "document_id": str(document_id)})
    assert response.status_code == 303
    page = text(office.get(f"{w.base}/agenda"))
    assert "通报案件办理情况" in page and "补偿方案草稿" in page and f"/cases/{w.case_id}" in page
    # bad input: a clear message, nothing changes
    for data in [{"title": ""}, {"title": "x", "case_id": "999999"}, {"title": "x", "document_id": "abc"},
                 {"title": "x", "document_id": "999999"}]:
        assert office.post(f"{w.base}/agenda/items", data=data).status_code == 200
    assert titles(app, w.meeting_id) == ["通报案件办理情况"]
    # members see the agenda but do not change it; outsiders see nothing
    member = client_for(app, w.reps[0])
    assert "通报案件办理情况" in text(member.get(f"{w.base}/agenda"))
    assert member.post(f"{w.base}/agenda/items", data={"title": "x"}).status_code == 403
    assert client_for(app, w.outsider).get(f"{w.base}/agenda").status_code == 403


def test_reorder_with_and_without_htmx(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    for title in ["甲", "乙", "丙"]:
        office.post(f"{w.base}/agenda/items", data={"title": title})
    first, second, third = item_ids(app, w.meeting_id)
    # no JavaScript: a plain form and a redirect back to the agenda
    response = office.post(f"{w.base}/agenda/{third}/move", data={"direction": "up"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/agenda#agenda-item-{third}")
    assert titles(app, w.meeting_id) == ["甲", "丙", "乙"]
    # htmx: the list comes back alone, in the new order
    response = office.post(f"{w.base}/agenda/{first}/move", data={"direction": "down"},
                           headers={"HX-Request": "true"})
    body = text(response)
    assert response.status_code == 200 and "<html" not in body and 'id="agenda-list"' in body
    assert re.findall(r"<strong>(.*?)</strong>", body) == ["丙", "甲", "乙"]
    assert titles(app, w.meeting_id) == ["丙", "甲", "乙"]
    assert "HX-Request" in response.headers["Vary"]
    # at the top, up changes nothing; a bad direction changes nothing
    office.post(f"{w.base}/agenda/{third}/move", data={"direction": "up"})
    office.post(f"{w.base}/agenda/{third}/move", data={"direction": "sideways"})
    assert titles(app, w.meeting_id) == ["丙", "甲", "乙"]
    assert client_for(app, w.reps[0]).post(f"{w.base}/agenda/{third}/move", data={"direction": "down"}).status_code == 403
    # an item of another meeting is not found here
    other = add_meeting(app, w.conference_id)
    assert office.post(f"/conferences/{w.conference_id}/meetings/{other}/agenda/{third}/move",
                       data={"direction": "down"}).status_code == 404
    response = office.post(f"{w.base}/agenda/{second}/remove", headers={"HX-Request": "true"})
    assert response.status_code == 200 and "乙" not in text(response)
    assert "agenda.item_moved" in audit_actions(app) and "agenda.item_removed" in audit_actions(app)


def test_open_tasks_are_carried_onto_the_next_meeting(app):
    w = build_workspace(app)
    office = client_for(app, w.staff)
    open_id, done_id = make_tasks(app, w, office)
    with database(app) as session:
        task = session.get(Task, done_id)
        task.status, task.done_on = TaskStatus.DONE, today()
        session.commit()
    # the meeting the tasks come from does not carry its own tasks
    office.get(f"{w.base}/agenda")
    with database(app) as session:
        assert session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == w.meeting_id)).all() == []
    # the scheduling part calls carry_open_tasks() for a new meeting
    second = add_meeting(app, w.conference_id)
    with database(app) as session:
        items = carry_open_tasks(session.get(Meeting, second))
        assert [i.task_id for i in items] == [open_id]
    # shown lazily for a meeting nobody carried yet, exactly once
    third = add_meeting(app, w.conference_id, days=60)
    page = text(office.get(f"/conferences/{w.conference_id}/meetings/{third}/agenda"))
    assert "任务0" in page and "任务1" not in page
    office.get(f"/conferences/{w.conference_id}/meetings/{third}/agenda")
    with database(app) as session:
        carried = session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == third)).all()
        assert [i.task_id for i in carried] == [open_id]
        session.delete(carried[0])
        session.commit()
    office.get(f"/conferences/{w.conference_id}/meetings/{third}/agenda")  # a removed item does not come back
    assert titles(app, third) == []


def test_attendance_per_department_with_a_guest(app):
    w = build_workspace(app)
    with database(app):
        guest = make_department(name="受邀部门")
        guest_id = guest.id
    office = client_for(app, w.staff)
    data = {"department_id": [str(d) for d in w.department_ids],
            f"status-{w.department_ids[0]}": "attended", f"representative-{w.department_ids[0]}": "王代表",
            f"status-{w.department_ids[1]}": "absent", f"status-{w.department_ids[2]}": "",
            "guest_department_id": str(guest_id), "guest_representative": "赵科长"}
    assert office.post(f"{w.base}/attendance", data=data).status_code == 303
    with database(app) as session:
        rows = {a.department_id: a for a in session.scalars(select(Attendance).where(Attendance.meeting_id == w.meeting_id))}
        assert rows[w.department_ids[0]].status.value == "attended" and rows[w.department_ids[0]].representative == "王代表"
        assert rows[w.department_ids[1]].status.value == "absent"
        assert w.department_ids[2] not in rows
        assert rows[guest_id].guest is True and rows[guest_id].representative == "赵科长"
    page = text(office.get(f"{w.base}/agenda"))
    assert "受邀部门" in page and "赵科长" in page
    # bad values: a message, nothing changes
    bad = {**data, f"status-{w.department_ids[0]}": "maybe"}
    response = office.post(f"{w.base}/attendance", data=bad)
    assert response.status_code == 200 and form_errors(response)
    assert office.post(f"{w.base}/attendance", data={"department_id": ["abc"]}).status_code == 200
    with database(app) as session:
        assert session.scalar(select(Attendance).where(Attendance.department_id == w.department_ids[0])).status.value == "attended"
    assert client_for(app, w.reps[0]).post(f"{w.base}/attendance", data=data).status_code == 403
    assert "meeting.attendance_saved" in audit_actions(app)


def test_a_closed_workspace_keeps_its_agenda_and_minutes_as_they_are(app):
    from portal.conferences.models import Conference
    from portal.timeutil import utcnow

    w = build_workspace(app)
    office = client_for(app, w.staff)
    office.post(f"{w.base}/agenda/items", data={"title": "甲"})
    with database(app) as session:
        session.get(Conference, w.conference_id).closed_at = utcnow()
        session.commit()
    response = office.post(f"{w.base}/agenda/items", data={"title": "乙"})
    assert response.status_code == 200
    assert titles(app, w.meeting_id) == ["甲"]
