"""Handling by the lead department: progress, internal notes, pauses, extensions and the handling opinion (PDF).

The tests drive the HTTP routes as each role and look at the pages and the database. Dates are real: a case
accepted on 3 Aug 2026 is due on 2 Oct, a day off in the National Day holiday, so its limit runs to 8 Oct.
"""
from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.audit.models import AuditEvent
from portal.cases.clocks import start_clock, stop_clock
from portal.cases.models import (Attachment, Case, CaseEvent, CaseStatus, Clock, ClockKind, Extension, Opinion,
                                 Referral, ReferralKind, ReferralRole, ReferralStatus, RequestStatus)
from portal.extensions import db
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_user
from tests.helpers import (DepartmentRef, UserRef, add_department, add_user, audit_actions, count, database, outbox,
                           text)

ACCEPTED_ON = date(2026, 8, 3)


# --- building the state a case reaches us in --------------------------------------------------------

def accepted_case(app, *, lead: DepartmentRef, co: tuple[DepartmentRef, ...] = (), petitioner: UserRef | None = None,
                  accepted_on: date = ACCEPTED_ON, subject: str = "拖欠工资三个月") -> int:
    """A case in handling: an accepted lead referral (and co-handling ones), lead department set, handling clock."""
    with database(app):
        user = db.session.get(User, petitioner.id) if petitioner else None
        case = make_case(petitioner_user=user, received_on=accepted_on - timedelta(days=7), subject=subject)
        stop_clock(case, ClockKind.ROUTING, on=accepted_on - timedelta(days=5))
        referral = Referral(case=case, department_id=lead.id, kind=ReferralKind.ASSIGN, role=ReferralRole.LEAD,
                            status=ReferralStatus.ACCEPTED, sent_on=accepted_on - timedelta(days=5),
                            accepted_on=accepted_on)
        db.session.add(referral)
        for department in co:
            db.session.add(Referral(case=case, department_id=department.id, kind=ReferralKind.ASSIGN,
                                    role=ReferralRole.CO, status=ReferralStatus.ACCEPTED,
                                    sent_on=accepted_on - timedelta(days=5), accepted_on=accepted_on))
        db.session.flush()
        case.lead_department_id = lead.id
        case.status = CaseStatus.IN_PROGRESS
        start_clock(case, ClockKind.HANDLING, accepted_on, referral_id=referral.id)
        db.session.commit()
        return case.id


@dataclass
class World:
    lead: DepartmentRef
    co: DepartmentRef
    other: DepartmentRef
    bureau: DepartmentRef
    lead_rep: UserRef
    co_rep: UserRef
    other_rep: UserRef
    staff: UserRef
    leader: UserRef
    petitioner: UserRef
    case_id: int


@pytest.fixture
def world(app) -> World:
    lead = add_department(app, name="人社局（测试）")
    co = add_department(app, name="住建局（测试）")
    other = add_department(app, name="市场监管局（测试）")
    bureau = add_department(app, name="信访局（测试）", kind=DepartmentKind.PETITION_BUREAU)
    petitioner = add_user(app, Role.PETITIONER, name="陈信访")
    return World(
        lead=lead, co=co, other=other, bureau=bureau,
        lead_rep=person(app, Role.DEPARTMENT_REP, lead, "赵人社"),
        co_rep=person(app, Role.DEPARTMENT_REP, co, "钱住建"),
        other_rep=person(app, Role.DEPARTMENT_REP, other, "周市监"),
        staff=person(app, Role.STAFF, bureau, "王信访局"),
        leader=add_user(app, Role.LEADER, name="张副市长"),
        petitioner=petitioner,
        case_id=accepted_case(app, lead=lead, co=(co,), petitioner=petitioner),
    )


def person(app, role: Role, department: DepartmentRef | None = None, name: str | None = None) -> UserRef:
    """A user of `role`, working for `department` when given."""
    with database(app) as session:
        user = make_user(role, session.get(Department, department.id) if department else None, name=name)
        return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def as_user(client, user: UserRef):
    client.post("/logout")
    response = login(client, user.login, PASSWORD)
    assert response.status_code == 303, "log-in failed"
    return client


def on_day(monkeypatch, day: date) -> None:
    monkeypatch.setattr("portal.timeutil.today", lambda: day)


def handling_clock(app, case_id: int) -> Clock:
    with database(app) as session:
        return session.scalars(select(Clock).where(Clock.case_id == case_id, Clock.kind == ClockKind.HANDLING)
                               .order_by(Clock.id.desc())).first()


def get_case(app, case_id: int) -> Case:
    with database(app) as session:
        return session.get(Case, case_id)


def events(app, case_id: int, kind: str) -> list[CaseEvent]:
    with database(app) as session:
        return list(session.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)))


def issue(client, case_id: int, outcome: str = "support", facts: str = "经查，某公司拖欠工资属实。",
          reasons: str = "依据《劳动合同法》第三十条，责令限期支付。"):
    return client.post(f"/cases/{case_id}/opinion", data={"opinion-outcome": outcome, "opinion-facts": facts,
                                                          "opinion-reasons": reasons})


def pdf_text(data: bytes, tmp_path) -> str:
    assert data.startswith(b"%PDF-")
    path = tmp_path / "opinion.pdf"
    path.write_bytes(data)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                          text=True).stdout


needs_pdftotext = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


# --- progress and internal notes ---------------------------------------------------------------------

def test_lead_reports_progress_and_the_petitioner_sees_it(app, client, world, monkeypatch):
    on_day(monkeypatch, date(2026, 8, 20))
    as_user(client, world.lead_rep)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="progress-form"' in page and 'id="case-timeline"' in page
    response = client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "已约谈企业负责人，要求月底前支付。"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/cases/{world.case_id}#handling")
    assert "case.progress_added" in audit_actions(app)
    [event] = events(app, world.case_id, "progress")
    assert not event.internal and event.department_id == world.lead.id

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "已约谈企业负责人" in page


def test_progress_by_htmx_appends_to_the_timeline_without_a_reload(app, client, world):
    as_user(client, world.lead_rep)
    response = client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "已调取考勤记录。"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body
    assert 'id="case-timeline"' in body and "已调取考勤记录。" in body
    assert 'id="progress-form"' in body and 'hx-swap-oob="true"' in body  # an empty form replaces the sent one

    # An empty entry: the form comes back with its message, retargeted onto itself; nothing is stored.
    response = client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "  "},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Retarget"] == "#progress-form"
    assert "This field is required." in text(response) or "必填" in text(response)
    assert len(events(app, world.case_id, "progress")) == 1


@pytest.fixture
def upload_folder(_app, tmp_path, monkeypatch):
    """Uploads of the test go to a folder of its own (the app is shared by the whole run)."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(folder))
    return folder


PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_progress_with_a_file_the_petitioner_downloads(app, client, world, upload_folder):
    as_user(client, world.lead_rep)
    response = client.post(f"/cases/{world.case_id}/progress",
                           data={"progress-text": "附：企业工资支付计划。",
                                 "progress-attachments": (io.BytesIO(PDF_BYTES), "工资支付计划.pdf")},
                           headers={"HX-Request": "true"})
    # With a file the page reloads (its list of attachments changes), by HX-Redirect for htmx.
    assert response.status_code == 204 and response.headers["HX-Redirect"].endswith(f"/cases/{world.case_id}")
    with database(app) as session:
        [attachment] = session.scalars(select(Attachment).where(Attachment.case_id == world.case_id)).all()
        assert not attachment.internal and attachment.uploaded_by_id == world.lead_rep.id
        attachment_id = attachment.id
    assert [p.name for p in upload_folder.iterdir()] == [attachment.stored_name]
    [event] = events(app, world.case_id, "progress")
    assert str(attachment_id) in event.data

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "工资支付计划.pdf" in page and f"/attachments/{attachment_id}" in page
    download = client.get(f"/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == PDF_BYTES
    as_user(client, world.other_rep)
    assert client.get(f"/attachments/{attachment_id}").status_code == 403


def test_a_bad_file_refuses_the_whole_progress_entry(app, client, world, upload_folder):
    as_user(client, world.lead_rep)
    response = client.post(f"/cases/{world.case_id}/progress",
                           data={"progress-text": "附件见下。",
                                 "progress-attachments": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "计划.pdf")})
    assert response.status_code == 200
    assert "计划.pdf" in text(response)  # the message names the file
    # An empty text with a good file: nothing is stored either.
    response = client.post(f"/cases/{world.case_id}/progress",
                           data={"progress-text": "", "progress-attachments": (io.BytesIO(PDF_BYTES), "a.pdf")})
    assert response.status_code == 200
    assert count(app, Attachment, Attachment.case_id == world.case_id) == 0
    assert not events(app, world.case_id, "progress")
    assert not upload_folder.exists() or not list(upload_folder.iterdir())


def test_internal_note_is_seen_by_staff_and_departments_never_by_the_petitioner(app, client, world, monkeypatch,
                                                                               tmp_path):
    as_user(client, world.lead_rep)
    assert client.post(f"/cases/{world.case_id}/notes", data={"note-text": "内部：该企业法人已失联"}).status_code == 303
    [note] = events(app, world.case_id, "note")
    assert note.internal
    assert "case.note_added" in audit_actions(app)

    # A co-handling department may write notes too (but not progress: that is the lead's).
    as_user(client, world.co_rep)
    assert client.post(f"/cases/{world.case_id}/notes", data={"note-text": "协办：已核实社保记录"}).status_code == 303
    assert client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "x"}).status_code == 403
    assert "内部：该企业法人已失联" in text(client.get(f"/cases/{world.case_id}"))

    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "内部：该企业法人已失联" in page and "协办：已核实社保记录" in page

    as_user(client, world.other_rep)
    assert client.post(f"/cases/{world.case_id}/notes", data={"note-text": "越权"}).status_code == 403

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "该企业法人已失联" not in page and "已核实社保记录" not in page
    assert client.post(f"/cases/{world.case_id}/notes", data={"note-text": "x"}).status_code == 403

    # Nor in the opinion PDF the petitioner downloads.
    on_day(monkeypatch, date(2026, 9, 10))
    as_user(client, world.lead_rep)
    assert issue(client, world.case_id).status_code == 303
    as_user(client, world.petitioner)
    response = client.get(f"/cases/{world.case_id}/opinions/0.pdf")
    assert response.status_code == 200
    if shutil.which("pdftotext"):
        content = pdf_text(response.data, tmp_path)
        assert "失联" not in content and "社保记录" not in content


def test_uninvolved_or_co_handling_departments_cannot_handle(app, client, world):
    for user in (world.co_rep, world.other_rep):
        as_user(client, user)
        assert issue(client, world.case_id).status_code == 403
        assert client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "x"}).status_code == 403
        assert client.post(f"/cases/{world.case_id}/extensions",
                           data={"extension-days": "10", "extension-reason": "x"}).status_code == 403
        assert client.post(f"/cases/{world.case_id}/pause",
                           data={"pause-clock_id": "1", "pause-reason": "x"}).status_code == 403
    # The petitioner and a leader hold no handling permission either.
    for user in (world.petitioner, world.leader):
        as_user(client, user)
        assert issue(client, world.case_id).status_code == 403
    assert count(app, Opinion, Opinion.case_id == world.case_id) == 0
    assert count(app, Extension, Extension.case_id == world.case_id) == 0


def test_missing_or_bad_input_gets_a_message_and_changes_nothing(app, client, world):
    as_user(client, world.lead_rep)
    before = len(audit_actions(app))
    cases = [
        (f"/cases/{world.case_id}/progress", {}),
        (f"/cases/{world.case_id}/notes", {"note-text": ""}),
        (f"/cases/{world.case_id}/pause", {}),
        (f"/cases/{world.case_id}/pause", {"pause-clock_id": "abc", "pause-reason": "等待材料"}),
        (f"/cases/{world.case_id}/pause", {"pause-clock_id": "999999", "pause-reason": "等待材料"}),
        (f"/cases/{world.case_id}/extensions", {}),
        (f"/cases/{world.case_id}/extensions", {"extension-days": "abc", "extension-reason": "材料多"}),
        (f"/cases/{world.case_id}/extensions", {"extension-days": "-3", "extension-reason": "材料多"}),
        (f"/cases/{world.case_id}/extensions", {"extension-days": "9" * 40, "extension-reason": "材料多"}),
        (f"/cases/{world.case_id}/extensions", {"extension-days": "10", "extension-reason": " "}),
        (f"/cases/{world.case_id}/opinion", {}),
        (f"/cases/{world.case_id}/opinion", {"opinion-outcome": "maybe", "opinion-facts": "f",
                                             "opinion-reasons": "r"}),
        (f"/cases/{world.case_id}/opinion", {"opinion-outcome": "support", "opinion-facts": "x" * 20001,
                                             "opinion-reasons": "r"}),
    ]
    for url, data in cases:
        response = client.post(url, data=data)
        assert response.status_code == 200, (url, data, response.status_code)
        page = text(response)
        assert 'class="error"' in page or 'class="form-errors"' in page, (url, data)
    assert len(audit_actions(app)) == before
    assert count(app, Opinion, Opinion.case_id == world.case_id) == 0
    assert count(app, Extension, Extension.case_id == world.case_id) == 0
    assert get_case(app, world.case_id).status == CaseStatus.IN_PROGRESS
    # Unknown cases are 404 (the lead rep holds the permission, so the object is looked up).
    assert client.post("/cases/999999/progress", data={"progress-text": "x"}).status_code == 404


# --- pause and resume ----------------------------------------------------------------------------------

def test_pause_shows_reason_and_who_then_resume_moves_the_due_date(app, client, world, monkeypatch):
    clock = handling_clock(app, world.case_id)
    assert clock.due_on == date(2026, 10, 8)  # 60 days end on 2 Oct, a holiday: the limit runs to 8 Oct
    on_day(monkeypatch, date(2026, 8, 10))
    as_user(client, world.lead_rep)
    response = client.post(f"/cases/{world.case_id}/pause",
                           data={"pause-clock_id": str(clock.id), "pause-reason": "等待信访人补充工资条"})
    assert response.status_code == 303
    paused = handling_clock(app, world.case_id)
    assert paused.paused_since == date(2026, 8, 10)
    assert get_case(app, world.case_id).next_due_on is None
    assert "clock.paused" in audit_actions(app)

    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "等待信访人补充工资条" in page and "赵人社" in page  # reason and who paused

    as_user(client, world.petitioner)
    assert "等待信访人补充工资条" in text(client.get(f"/cases/{world.case_id}"))

    on_day(monkeypatch, date(2026, 8, 24))
    as_user(client, world.lead_rep)
    assert client.post(f"/cases/{world.case_id}/clocks/{clock.id}/resume").status_code == 303
    resumed = handling_clock(app, world.case_id)
    assert resumed.paused_since is None and resumed.paused_days == 14
    assert resumed.due_on == date(2026, 10, 16)  # 3 Aug + 74 days; a Friday, a working day
    assert "clock.resumed" in audit_actions(app)
    # Resuming again is refused with a message, not an error page.
    response = client.post(f"/cases/{world.case_id}/clocks/{clock.id}/resume", follow_redirects=True)
    assert response.status_code == 200
    assert "not paused" in text(response) or "未暂停" in text(response)


def test_pause_needs_a_reason(app, client, world):
    clock = handling_clock(app, world.case_id)
    as_user(client, world.lead_rep)
    response = client.post(f"/cases/{world.case_id}/pause", data={"pause-clock_id": str(clock.id), "pause-reason": ""})
    assert response.status_code == 200
    assert handling_clock(app, world.case_id).paused_since is None


# --- extension ------------------------------------------------------------------------------------------

def request_extension(client, case_id: int, days, reason: str = "涉及多家企业，需调取银行流水"):
    return client.post(f"/cases/{case_id}/extensions", data={"extension-days": str(days), "extension-reason": reason})


def decide(client, extension_id: int, decision: str, note: str = "", next_url: str = "/"):
    return client.post(f"/extensions/{extension_id}/decide",
                       data={f"ext{extension_id}-decision": decision, f"ext{extension_id}-note": note,
                             "next": next_url})


def only_extension(app, case_id: int) -> Extension:
    with database(app) as session:
        return session.scalars(select(Extension).where(Extension.case_id == case_id)).one()


def test_extension_of_31_days_refused_30_approved_by_a_leader_across_holidays(app, client, world):
    as_user(client, world.lead_rep)
    response = request_extension(client, world.case_id, 31)
    assert response.status_code == 200
    assert "30" in text(response)
    assert count(app, Extension, Extension.case_id == world.case_id) == 0

    assert request_extension(client, world.case_id, 30).status_code == 303
    extension = only_extension(app, world.case_id)
    assert extension.status == RequestStatus.PENDING and extension.days == 30
    [requested] = events(app, world.case_id, "extension_requested")
    assert requested.internal

    # A second request while one is pending is refused.
    response = request_extension(client, world.case_id, 5)
    assert response.status_code == 303
    assert count(app, Extension, Extension.case_id == world.case_id) == 1

    # Only a leader decides: not the department, not the bureau staff.
    assert decide(client, extension.id, "approve").status_code == 403
    as_user(client, world.staff)
    assert decide(client, extension.id, "approve").status_code == 403

    as_user(client, world.leader)
    home = text(client.get("/"))
    assert "涉及多家企业，需调取银行流水" in home
    assert "2026年10月8日" in home and "2026年11月2日" in home  # due now and due if approved
    response = decide(client, extension.id, "approve")
    assert response.status_code == 303 and response.headers["Location"].endswith("/")
    assert "涉及多家企业" not in text(client.get("/"))

    clock = handling_clock(app, world.case_id)
    # 3 Aug + 90 days is Sunday 1 Nov: the limit runs to Monday 2 Nov.
    assert clock.extension_days == 30 and clock.due_on == date(2026, 11, 2)
    assert get_case(app, world.case_id).next_due_on == date(2026, 11, 2)
    assert only_extension(app, world.case_id).status == RequestStatus.APPROVED
    assert {"extension.requested", "extension.approved"} <= set(audit_actions(app))
    [approved] = events(app, world.case_id, "extension_approved")
    assert not approved.internal and approved.text == "涉及多家企业，需调取银行流水"
    [message] = outbox(app, world.petitioner.login)
    assert "涉及多家企业" in message.body and "30" in message.body

    # The petitioner reads the reason and the new date.
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "涉及多家企业，需调取银行流水" in page and "2026年11月2日" in page

    # Deciding again is refused; no more extension is possible (30 days used).
    as_user(client, world.leader)
    response = decide(client, extension.id, "approve", next_url=f"/cases/{world.case_id}")
    assert response.status_code == 303
    assert handling_clock(app, world.case_id).extension_days == 30
    as_user(client, world.lead_rep)
    assert request_extension(client, world.case_id, 1).status_code == 200
    assert count(app, Extension, Extension.case_id == world.case_id) == 1


def test_extensions_never_add_up_beyond_30_days(app, client, world):
    as_user(client, world.lead_rep)
    assert request_extension(client, world.case_id, 20).status_code == 303
    first = only_extension(app, world.case_id)
    as_user(client, world.leader)
    assert decide(client, first.id, "approve").status_code == 303
    as_user(client, world.lead_rep)
    response = request_extension(client, world.case_id, 11)
    assert response.status_code == 200 and "10" in text(response)
    assert request_extension(client, world.case_id, 10, "仍需等待鉴定结论").status_code == 303
    assert count(app, Extension, Extension.case_id == world.case_id) == 2


def test_leader_refuses_with_a_reason_and_the_petitioner_never_sees_it(app, client, world):
    as_user(client, world.lead_rep)
    request_extension(client, world.case_id, 15, "工作量大")
    extension = only_extension(app, world.case_id)
    as_user(client, world.leader)
    response = decide(client, extension.id, "refuse")
    assert response.status_code == 200 and only_extension(app, world.case_id).status == RequestStatus.PENDING
    response = decide(client, extension.id, "maybe", "x")
    assert response.status_code in (200, 303) and only_extension(app, world.case_id).status == RequestStatus.PENDING
    assert decide(client, extension.id, "refuse", "理由不充分，请按期办结").status_code == 303
    refused = only_extension(app, world.case_id)
    assert refused.status == RequestStatus.REFUSED and refused.decision_note == "理由不充分，请按期办结"
    assert handling_clock(app, world.case_id).extension_days == 0
    assert "extension.refused" in audit_actions(app)
    as_user(client, world.lead_rep)
    assert "理由不充分" in text(client.get(f"/cases/{world.case_id}"))
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert "理由不充分" not in page and "工作量大" not in page


# --- the handling opinion -------------------------------------------------------------------------------

@needs_pdftotext
def test_opinion_issued_then_the_petitioner_downloads_the_pdf(app, client, world, monkeypatch, tmp_path):
    on_day(monkeypatch, date(2026, 9, 10))
    as_user(client, world.lead_rep)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'action="/cases/%d/opinion"' % world.case_id in page
    assert issue(client, world.case_id, reasons="依据《劳动合同法》第三十条，支持信访人请求。").status_code == 303

    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.ANSWERED
    with database(app) as session:
        opinion = session.scalars(select(Opinion).where(Opinion.case_id == world.case_id)).one()
        clocks = {c.kind: c for c in session.scalars(select(Clock).where(Clock.case_id == world.case_id))}
    assert opinion.level == 0 and opinion.department_id == world.lead.id and opinion.issued_on == date(2026, 9, 10)
    assert clocks[ClockKind.HANDLING].stopped_on == date(2026, 9, 10)
    window = clocks[ClockKind.REVIEW_REQUEST]
    assert window.started_on == date(2026, 9, 10) and window.due_on == date(2026, 10, 10)  # a working Saturday
    assert "opinion.issued" in audit_actions(app)
    assert events(app, world.case_id, "answered")
    [message] = outbox(app, world.petitioner.login)
    assert case.reference in message.subject + message.body

    # Issuing again is refused.
    response = issue(client, world.case_id)
    assert response.status_code == 303
    assert count(app, Opinion, Opinion.case_id == world.case_id) == 1

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f"/cases/{world.case_id}/opinions/0.pdf" in page
    assert "2026年10月10日" in page  # the last day to ask for a review
    response = client.get(f"/cases/{world.case_id}/opinions/0.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    content = pdf_text(response.data, tmp_path)
    assert case.reference in content
    assert "支持" in content or "Support" in content
    assert "2026年10月10日" in content
    assert "陈信访" in content and "人社局（测试）" in content and "第三十条" in content
    assert "opinion.downloaded" in audit_actions(app)

    # Departments on the case and the bureau may download it; nobody else.
    for user in (world.lead_rep, world.co_rep, world.staff, world.leader):
        as_user(client, user)
        assert client.get(f"/cases/{world.case_id}/opinions/0.pdf").status_code == 200
    as_user(client, world.other_rep)
    assert client.get(f"/cases/{world.case_id}/opinions/0.pdf").status_code == 403
    stranger = add_user(app, Role.PETITIONER)
    as_user(client, stranger)
    assert client.get(f"/cases/{world.case_id}/opinions/0.pdf").status_code == 403
    mediator = add_user(app, Role.MEDIATOR)
    as_user(client, mediator)
    assert client.get(f"/cases/{world.case_id}/opinions/0.pdf").status_code == 403
    as_user(client, world.petitioner)
    assert client.get(f"/cases/{world.case_id}/opinions/1.pdf").status_code == 404


def test_after_the_opinion_no_more_progress_or_extension(app, client, world, monkeypatch):
    on_day(monkeypatch, date(2026, 9, 1))
    as_user(client, world.lead_rep)
    request_extension(client, world.case_id, 10)
    issue(client, world.case_id)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="progress-form"' not in page
    assert client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "补充"}).status_code == 303
    assert not events(app, world.case_id, "progress")
    # The request left pending is no longer on the leader's list, and approving it is refused.
    extension = only_extension(app, world.case_id)
    as_user(client, world.leader)
    assert "涉及多家企业" not in text(client.get("/"))
    assert decide(client, extension.id, "approve").status_code == 303
    assert only_extension(app, world.case_id).status == RequestStatus.PENDING


def test_every_state_change_is_in_the_audit_chain(app, client, world, monkeypatch):
    on_day(monkeypatch, date(2026, 9, 1))
    as_user(client, world.lead_rep)
    client.post(f"/cases/{world.case_id}/progress", data={"progress-text": "进展"})
    client.post(f"/cases/{world.case_id}/notes", data={"note-text": "备注"})
    issue(client, world.case_id)
    with database(app) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.action.in_(
            ["case.progress_added", "case.note_added", "opinion.issued"])).order_by(AuditEvent.id)))
    assert [r.action for r in rows] == ["case.progress_added", "case.note_added", "opinion.issued"]
    assert all(r.actor_id == world.lead_rep.id for r in rows)
