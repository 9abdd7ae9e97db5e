"""The proceedings record (调解笔录) of a mediation session: start, live entries, evidence, attendance, read-back,
confirmations in the session and online, lock with its hash in the audit trail, errata, the PDF, access, queries."""
from __future__ import annotations

import io
import itertools
import json
import re
import subprocess
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal import rules
from portal.accounts.models import DepartmentKind, Role
from portal.mediation.models import (
    ConfirmationAnswer,
    ConfirmationHow,
    EntryKind,
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    PartySide,
    ProceedingConfirmation,
    ProceedingEntry,
    ProceedingErratum,
    ProceedingEvidence,
    ProceedingRecord,
    RecordStatus,
    SessionStatus,
)
from portal.mediation.proceedings import content_hash
from portal.timeutil import utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import audit_events, count, database, field_error, flashes, form_errors, is_login_redirect, text

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
HTMX = {"HX-Request": "true"}
_builds = itertools.count(1)


@pytest.fixture(autouse=True)
def upload_folder(_app, tmp_path, monkeypatch):
    """Evidence of each test goes to a folder of its own (the app is shared by the whole run)."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(folder))
    return folder


def build_matter(app, sessions: int = 1):
    """An open matter: a committee with its mediator, a petitioner party with an account, a department party with
    its representative, both consents, and scheduled sessions. Plus people who are not parties."""
    n = next(_builds)
    with database(app) as db:
        committee = make_department(name=f"东区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department(name=f"西区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        mediator = make_user(Role.MEDIATOR, committee, name="王调解", locale="en")
        other_mediator = make_user(Role.MEDIATOR, other_committee, name="别的调解员", locale="en")
        petitioner = make_user(Role.PETITIONER, name="陈信访", locale="en")
        respondent = make_department(name=f"区人力资源和社会保障局{n}")
        rep = make_user(Role.DEPARTMENT_REP, respondent, name="李代表", locale="en")
        outsider = make_user(Role.DEPARTMENT_REP, make_department(name=f"无关部门{n}"), locale="en")
        staff = make_user(Role.STAFF, make_department(name=f"信访局{n}"), locale="en")
        leader = make_user(Role.LEADER, locale="en")
        admin = make_user(Role.ADMIN, locale="en")
        other_petitioner = make_user(Role.PETITIONER, locale="en")
        case = make_case(petitioner_user=petitioner)
        matter = MediationReferral(case_id=case.id, committee_id=committee.id, room="第一调解室")
        matter.parties = [
            MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                           consent_on=date.today(), consent_how="书面同意"),
            MediationParty(side=PartySide.RESPONDENT, department_id=respondent.id, name=respondent.name,
                           consent_on=date.today(), consent_how="函复同意"),
        ]
        matter.mediators = [MediationMediator(user_id=mediator.id)]
        db.add(matter)
        db.flush()
        session_ids = []
        for number in range(1, sessions + 1):
            start = utcnow() + timedelta(minutes=number)  # today: a session starts on its day
            session = MediationSession(referral_id=matter.id, number=number, uid=f"{uuid.uuid4()}@test",
                                       starts_at=start, ends_at=start + timedelta(hours=2), place="东区司法所",
                                       room="第一调解室")
            db.add(session)
            db.flush()
            session_ids.append(session.id)
        db.commit()
        return SimpleNamespace(
            matter_id=matter.id, session_id=session_ids[0], session_ids=session_ids, case_id=case.id,
            case_reference=case.reference, applicant_id=matter.parties[0].id, respondent_id=matter.parties[1].id,
            mediator=mediator.login, mediator_id=mediator.id, other_mediator=other_mediator.login,
            petitioner=petitioner.login, rep=rep.login, outsider=outsider.login, staff=staff.login,
            leader=leader.login, admin=admin.login, other_petitioner=other_petitioner.login,
            base=f"/mediation/{matter.id}/sessions/{session_ids[0]}/record",
            pdf=f"/mediation/{matter.id}/sessions/{session_ids[0]}/record.pdf")


def client_for(app, user_login: str):
    client = app.test_client()
    assert login(client, user_login, PASSWORD).status_code == 303
    return client


def record_row(app, session_id: int) -> ProceedingRecord | None:
    with database(app) as db:
        record = db.scalar(select(ProceedingRecord).where(ProceedingRecord.session_id == session_id))
        if record is not None:
            _ = [(e.text, e.evidence) for e in record.entries], list(record.confirmations), list(record.errata)
        return record


def entries(app, session_id: int) -> list[ProceedingEntry]:
    record = record_row(app, session_id)
    return list(record.entries) if record else []


def add(client, m, text_="申请人陈述：公司拖欠工资三个月。", speaker="mediator", kind="statement", files=None,
        headers=None):
    data = {"speaker": str(speaker), "kind": kind, "text": text_}
    if files:
        data["evidence"] = files
    return client.post(f"{m.base}/entries", data=data, headers=headers or {}, content_type="multipart/form-data")


def started(app, sessions: int = 1):
    m = build_matter(app, sessions)
    mediator = client_for(app, m.mediator)
    assert mediator.post(f"{m.base}/start").status_code == 303
    return m, mediator


def attend(client, m, applicant="present", respondent="present", attendee="张科长"):
    return client.post(f"{m.base}/attendance", data={
        "party_id": [str(m.applicant_id), str(m.respondent_id)],
        f"present-{m.applicant_id}": applicant, f"attendee-{m.applicant_id}": "",
        f"present-{m.respondent_id}": respondent, f"attendee-{m.respondent_id}": attendee})


def read_back_ready(app):
    """A started session with two entries, full attendance, read back."""
    m, mediator = started(app)
    assert add(mediator, m, speaker=m.applicant_id).status_code == 303
    assert add(mediator, m, "被申请人表示愿意协商分期支付。", speaker=m.respondent_id, kind="proposal").status_code == 303
    assert attend(mediator, m).status_code == 303
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    return m, mediator


# --- starting -----------------------------------------------------------------------------------------------

def test_mediator_starts_the_session_which_opens_the_record(app):
    m = build_matter(app)
    mediator, petitioner = client_for(app, m.mediator), client_for(app, m.petitioner)
    page = text(mediator.get(m.base))
    assert "Start the session" in page and "Proceedings record" in page
    party_page = text(petitioner.get(m.base))
    assert "Start the session" not in party_page and "The record is kept by the mediator" in party_page
    assert petitioner.post(f"{m.base}/start").status_code == 403
    assert record_row(app, m.session_id) is None

    response = mediator.post(f"{m.base}/start")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{m.base}#quick-add")
    record = record_row(app, m.session_id)
    assert record.status == RecordStatus.OPEN
    with database(app) as db:
        assert db.get(MediationSession, m.session_id).status == SessionStatus.HELD
    [event] = audit_events(app, "mediation.session_started")
    assert event.object_id == str(record.id) and json.loads(event.details)["session"] == m.session_id

    page = text(mediator.get(m.base))
    assert 'id="quick-add"' in page and "Start the session" not in page and "No entries yet." in page
    again = mediator.post(f"{m.base}/start", follow_redirects=True)
    assert ("error", "This session has already started.") in flashes(again)
    assert count(app, ProceedingRecord) == 1


def test_a_session_cannot_start_without_both_consents(app):
    m = build_matter(app)
    with database(app) as db:
        party = db.get(MediationParty, m.respondent_id)
        party.withdrawn_on, party.withdrawal_reason = date.today(), "不再同意调解"
        db.commit()
    response = client_for(app, m.mediator).post(f"{m.base}/start", follow_redirects=True)
    assert any("consent of both sides" in message for _c, message in flashes(response))
    assert record_row(app, m.session_id) is None
    with database(app) as db:
        assert db.get(MediationSession, m.session_id).status == SessionStatus.SCHEDULED


def test_a_session_of_another_matter_is_not_found(app):
    m = build_matter(app)
    other = build_matter(app)
    mediator = client_for(app, m.mediator)
    assert mediator.get(f"/mediation/{m.matter_id}/sessions/{other.session_id}/record").status_code == 404
    assert mediator.get(f"/mediation/999999/sessions/{m.session_id}/record").status_code == 404
    assert mediator.post(f"/mediation/{m.matter_id}/sessions/{other.session_id}/record/start").status_code == 404


# --- entries ------------------------------------------------------------------------------------------------

def test_entries_are_added_numbered_time_stamped_with_speaker_and_kind(app):
    m, mediator = started(app)
    response = add(mediator, m, speaker=m.applicant_id)
    assert response.status_code == 303 and response.headers["Location"].endswith("#quick-add")
    response = add(mediator, m, "建议分两期支付，每期一个半月工资。", kind="proposal")
    assert response.status_code == 303
    rows = entries(app, m.session_id)
    assert [(e.position, e.kind, e.party_id) for e in rows] == [
        (1, EntryKind.STATEMENT, m.applicant_id), (2, EntryKind.PROPOSAL, None)]
    assert all(e.created_at is not None for e in rows)
    page = text(mediator.get(m.base))
    assert "申请人陈述：公司拖欠工资三个月。" in page and "建议分两期支付" in page
    assert 'id="entry-%d"' % rows[0].id in page and "Statement" in page and "Proposal" in page
    assert '<time datetime="' in page and '<p id="no-entries" hidden>' in page
    assert len(audit_events(app, "mediation.entry_added")) == 2
    details = json.loads(audit_events(app, "mediation.entry_added")[0].details)
    assert details["position"] == 1 and "拖欠" not in audit_events(app, "mediation.entry_added")[0].details


def test_htmx_quick_add_returns_only_the_new_entry_and_a_fresh_focused_form(app):
    m, mediator = started(app)
    response = add(mediator, m, "被申请人代表说明情况。", speaker=m.respondent_id, headers=HTMX)
    assert response.status_code == 200
    body = text(response)
    assert "<html" not in body and "被申请人代表说明情况。" in body and body.lstrip().startswith("<li")
    assert 'id="quick-add"' in body and 'hx-swap-oob="true"' in body and "autofocus" in body
    # The form comes back empty, with the speaker kept for the next entry.
    assert re.search(r'<textarea[^>]*id="text"[^>]*>\s*</textarea>', body)
    assert f'<option selected value="{m.respondent_id}">' in body or f'value="{m.respondent_id}" selected' in body
    assert response.headers.get("Vary", "").find("HX-Request") >= 0
    assert [e.text for e in entries(app, m.session_id)] == ["被申请人代表说明情况。"]


def test_after_a_caucus_note_the_fresh_form_is_back_to_a_statement_with_the_speaker_kept(app):
    m, mediator = started(app)
    response = add(mediator, m, "背对背：申请人底线两万五。", speaker=m.applicant_id, kind="caucus", headers=HTMX)
    assert response.status_code == 200
    body = text(response)
    kind_select = body.split('id="kind"')[1].split("</select>")[0]
    assert re.search(r'<option selected value="statement">|value="statement" selected', kind_select), kind_select
    assert 'selected value="caucus"' not in kind_select and 'value="caucus" selected' not in kind_select
    assert f'<option selected value="{m.applicant_id}">' in body or f'value="{m.applicant_id}" selected' in body
    # a proposal keeps its kind for the next entry (only the private kind is dropped)
    body = text(add(mediator, m, "公司提出分两期支付。", speaker=m.respondent_id, kind="proposal", headers=HTMX))
    kind_select = body.split('id="kind"')[1].split("</select>")[0]
    assert re.search(r'<option selected value="proposal">|value="proposal" selected', kind_select), kind_select


def test_file_sizes_read_in_bytes_under_one_kilobyte(app):
    from flask_babel import force_locale

    from portal.mediation.proceedings import file_size

    with app.test_request_context(), force_locale("en"):
        assert [file_size(n) for n in (0, 72, 1023, 1024, 1536, 3 * 1024 * 1024)] == [
            "0 bytes", "72 bytes", "1023 bytes", "1.0 KB", "1.5 KB", "3.0 MB"]


@pytest.mark.parametrize("data, field, message", [
    ({"text": "   "}, "text", "This field is required."),
    ({"speaker": "999999"}, "speaker", "Choose a party of this mediation, or the mediator."),
    ({"speaker": "nobody"}, "speaker", "Choose a party of this mediation, or the mediator."),
    ({"kind": "gossip"}, "kind", "Choose the kind of entry."),
    ({"text": "x" * 20001}, "text", "Field cannot be longer than 20000 characters."),
])
def test_bad_entries_are_refused_with_a_message_next_to_the_field(app, data, field, message):
    m, mediator = started(app)
    form = {"speaker": "mediator", "kind": "statement", "text": "一条记录", **data}
    response = mediator.post(f"{m.base}/entries", data=form)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert entries(app, m.session_id) == []
    # With htmx the form (only) comes back in place of the quick-add form, with the message.
    response = mediator.post(f"{m.base}/entries", data=form, headers=HTMX)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#quick-add"
    assert response.headers["HX-Reswap"] == "outerHTML" and "<html" not in text(response)
    assert message in field_error(response, field)
    assert entries(app, m.session_id) == []


@pytest.mark.parametrize("name, data, message", [
    ("notes.exe", b"MZ\x90\x00", "only PDF, JPEG, PNG"),
    ("photo.pdf", PNG, "the content must match the file name"),
    ("big.pdf", b"%PDF-1.4\n" + b"0" * rules.ATTACHMENT_MAX_BYTES, "larger than 10 MB"),
])
def test_evidence_of_a_wrong_type_or_size_is_refused_and_nothing_is_kept(app, upload_folder, name, data, message):
    m, mediator = started(app)
    response = add(mediator, m, files=[(io.BytesIO(data), name)])
    assert response.status_code == 200 and message in field_error(response, "evidence")
    assert entries(app, m.session_id) == [] and count(app, ProceedingEvidence) == 0
    assert not upload_folder.exists() or list(upload_folder.iterdir()) == []


def test_evidence_is_stored_and_downloaded_as_an_attachment_by_a_party(app, upload_folder):
    m, mediator = started(app)
    response = add(mediator, m, "申请人出示工资条。", speaker=m.applicant_id,
                   files=[(io.BytesIO(PNG), "工资条.png"), (io.BytesIO(PDF), "劳动合同.pdf")])
    assert response.status_code == 303
    [entry] = entries(app, m.session_id)
    assert sorted(e.original_name for e in entry.evidence) == ["劳动合同.pdf", "工资条.png"]
    assert len(list(upload_folder.iterdir())) == 2
    evidence = next(e for e in entry.evidence if e.original_name == "工资条.png")
    page = text(client_for(app, m.petitioner).get(m.base))
    assert "工资条.png" in page
    assert f"({len(PNG)} bytes)" in page and "0.0 KB" not in page  # a small file shows its bytes
    url = f"{m.base}/evidence/{evidence.id}"
    download = client_for(app, m.petitioner).get(url)
    assert download.status_code == 200 and download.data == PNG and download.mimetype == "image/png"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert client_for(app, m.outsider).get(url).status_code == 403
    other = build_matter(app)
    assert client_for(app, other.mediator).get(
        f"/mediation/{other.matter_id}/sessions/{other.session_id}/record/evidence/{evidence.id}").status_code == 404


def test_an_entry_is_corrected_while_open_and_the_audit_keeps_the_old_hash(app):
    m, mediator = started(app)
    add(mediator, m, "申请人称拖欠两个月。", speaker=m.applicant_id)
    [entry] = entries(app, m.session_id)
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={"text": "申请人称拖欠三个月。"})
    assert response.status_code == 303 and response.headers["Location"].endswith(f"#entry-{entry.id}")
    [entry] = entries(app, m.session_id)
    assert entry.text == "申请人称拖欠三个月。" and entry.edited_at is not None
    [event] = audit_events(app, "mediation.entry_edited")
    import hashlib
    details = json.loads(event.details)
    assert details["old_text_sha256"] == hashlib.sha256("申请人称拖欠两个月。".encode()).hexdigest()
    assert details["text_sha256"] == hashlib.sha256("申请人称拖欠三个月。".encode()).hexdigest()
    # An empty correction is refused; with htmx only the entry comes back, with the message.
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={"text": ""}, headers=HTMX)
    assert response.status_code == 200 and text(response).lstrip().startswith("<li")
    assert "This field is required." in field_error(response, f"edit-{entry.id}")
    assert entries(app, m.session_id)[0].text == "申请人称拖欠三个月。"
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={"text": "申请人称拖欠三个月，共九千元。"},
                             headers=HTMX)
    assert response.status_code == 200 and "共九千元" in text(response) and "<html" not in text(response)
    assert client_for(app, m.petitioner).post(f"{m.base}/entries/{entry.id}", data={"text": "改"}).status_code == 403


# --- attendance, read-back, confirmations, lock, errata -----------------------------------------------------

def test_attendance_is_recorded_and_shown_to_the_parties(app):
    m, mediator = started(app)
    assert attend(mediator, m, attendee="张科长（委托代理人）").status_code == 303
    record = record_row(app, m.session_id)
    with database(app) as db:
        session = db.get(MediationSession, m.session_id)
        rows = {a.party_id: (a.present, a.attendee_name) for a in session.attendance}
    assert rows == {m.applicant_id: (True, ""), m.respondent_id: (True, "张科长（委托代理人）")}
    assert record.status == RecordStatus.OPEN
    page = text(client_for(app, m.rep).get(m.base))
    assert "张科长（委托代理人）" in page and "Present" in page
    assert len(audit_events(app, "mediation.attendance_saved")) == 1
    response = mediator.post(f"{m.base}/attendance", data={"party_id": [str(m.applicant_id)],
                                                           f"present-{m.applicant_id}": "maybe"})
    assert response.status_code == 200 and "Choose present or absent." in form_errors(response)
    # A cleared row is removed.
    attend(mediator, m, respondent="")
    with database(app) as db:
        assert {a.party_id for a in db.get(MediationSession, m.session_id).attendance} == {m.applicant_id}


def test_read_back_needs_entries_and_attendance_and_then_freezes_the_record(app):
    m, mediator = started(app)
    response = mediator.post(f"{m.base}/read-back")
    assert response.status_code == 200 and "nothing to read back" in form_errors(response)
    add(mediator, m, speaker=m.applicant_id)
    response = mediator.post(f"{m.base}/read-back")
    assert "Record the attendance of every party" in form_errors(response)
    attend(mediator, m)
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    record = record_row(app, m.session_id)
    assert record.status == RecordStatus.READ_BACK and record.read_back_at is not None
    [entry] = entries(app, m.session_id)

    response = add(mediator, m, "迟到的一条")
    assert response.status_code == 200 and "read back" in form_errors(response)
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={"text": "改过的"})
    assert response.status_code == 200 and "Reopen it to correct it" in text(response)
    response = mediator.post(f"{m.base}/attendance", data={"party_id": [str(m.applicant_id)],
                                                           f"present-{m.applicant_id}": "absent"})
    assert "read back" in form_errors(response)
    assert [e.text for e in entries(app, m.session_id)] == ["申请人陈述：公司拖欠工资三个月。"]
    page = text(mediator.get(m.base))
    assert 'id="quick-add"' not in page and "Correct entry" not in page and "Lock the record" in page


def test_confirmation_by_the_mediator_and_online_by_the_parties_then_lock(app):
    m, mediator = read_back_ready(app)
    petitioner, rep = client_for(app, m.petitioner), client_for(app, m.rep)

    # Locking waits for every attending party.
    response = mediator.post(f"{m.base}/lock")
    assert response.status_code == 200 and "Waiting for the answer of" in form_errors(response)
    assert "陈信访" in form_errors(response)

    # The mediator records the petitioner's answer given in the session.
    response = mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id), "answer": "confirmed"})
    assert response.status_code == 303
    # The department declines online: a reason is required.
    page = text(rep.get(m.base))
    assert 'id="own-confirm"' in page and "被申请人表示愿意协商分期支付。" in page
    response = rep.post(f"{m.base}/confirm", data={"own-answer": "declined", "own-note": ""})
    assert response.status_code == 200 and "Give the reason for declining." in field_error(response, "own-note")
    response = rep.post(f"{m.base}/confirm", data={"own-answer": "declined", "own-note": "第2条应为“愿意协商”，未承诺分期。"})
    assert response.status_code == 303
    # The petitioner may change its answer online until the lock.
    assert petitioner.post(f"{m.base}/confirm", data={"own-answer": "confirmed"}).status_code == 303

    record = record_row(app, m.session_id)
    answers = {c.party_id: (c.answer, c.how) for c in record.confirmations}
    assert answers == {m.applicant_id: (ConfirmationAnswer.CONFIRMED, ConfirmationHow.ONLINE),
                       m.respondent_id: (ConfirmationAnswer.DECLINED, ConfirmationHow.ONLINE)}
    page = text(mediator.get(m.base))
    assert "未承诺分期" in page and "Declined to confirm" in page

    response = mediator.post(f"{m.base}/lock")
    assert response.status_code == 303 and response.headers["Location"].endswith("#locked")
    record = record_row(app, m.session_id)
    assert record.status == RecordStatus.LOCKED and record.locked_at is not None
    assert len(record.content_hash) == 64
    [event] = audit_events(app, "mediation.record_locked")
    assert json.loads(event.details)["hash"] == record.content_hash
    with database(app) as db:
        assert content_hash(db.get(ProceedingRecord, record.id)) == record.content_hash
    page = text(petitioner.get(m.base))
    assert record.content_hash in page and 'id="own-confirm"' not in page


def test_confirmation_is_refused_for_a_non_party_and_for_an_absent_party(app):
    m, mediator = started(app)
    add(mediator, m)
    attend(mediator, m, respondent="absent")
    mediator.post(f"{m.base}/read-back")
    assert client_for(app, m.outsider).post(f"{m.base}/confirm", data={"own-answer": "confirmed"}).status_code == 403
    assert client_for(app, m.staff).post(f"{m.base}/confirm", data={"own-answer": "confirmed"}).status_code == 403
    assert client_for(app, m.other_petitioner).post(
        f"{m.base}/confirm", data={"own-answer": "confirmed"}).status_code == 403
    rep = client_for(app, m.rep)
    assert 'id="own-confirm"' not in text(rep.get(m.base))
    response = rep.post(f"{m.base}/confirm", data={"own-answer": "confirmed"})
    assert response.status_code == 200 and "Only a party that attended" in text(response)
    response = mediator.post(f"{m.base}/confirmations", data={"party": str(m.respondent_id), "answer": "confirmed"})
    assert "Only a party that attended" in text(response)
    assert record_row(app, m.session_id).confirmations == []
    # Only the attending petitioner has to answer before the lock.
    assert mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id),
                                                          "answer": "confirmed"}).status_code == 303
    assert mediator.post(f"{m.base}/lock").status_code == 303


def test_confirming_before_the_read_back_is_refused(app):
    m, mediator = started(app)
    add(mediator, m)
    attend(mediator, m)
    response = client_for(app, m.petitioner).post(f"{m.base}/confirm", data={"own-answer": "confirmed"})
    assert response.status_code == 200 and "after the mediator has read it back" in text(response)
    assert count(app, ProceedingConfirmation) == 0


def test_reopen_to_correct_clears_the_answers(app):
    m, mediator = read_back_ready(app)
    mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id), "answer": "confirmed"})
    assert count(app, ProceedingConfirmation) == 1
    response = mediator.post(f"{m.base}/reopen")
    assert response.status_code == 303
    record = record_row(app, m.session_id)
    assert record.status == RecordStatus.OPEN and record.confirmations == [] and record.read_back_at is None
    [event] = audit_events(app, "mediation.record_reopened")
    assert json.loads(event.details)["cleared"][0]["party"] == m.applicant_id
    first = entries(app, m.session_id)[0]
    assert mediator.post(f"{m.base}/entries/{first.id}", data={"text": "更正后的陈述"}).status_code == 303


def test_after_the_lock_changes_are_refused_and_errata_are_appended(app):
    m, mediator = read_back_ready(app)
    for party in (m.applicant_id, m.respondent_id):
        mediator.post(f"{m.base}/confirmations", data={"party": str(party), "answer": "confirmed"})
    assert mediator.post(f"{m.base}/lock").status_code == 303
    locked = record_row(app, m.session_id)
    first = locked.entries[0]

    for response in (mediator.post(f"{m.base}/entries/{first.id}", data={"text": "偷偷改"}),
                     add(mediator, m, "补一条"), mediator.post(f"{m.base}/reopen"),
                     mediator.post(f"{m.base}/read-back"),
                     attend(mediator, m, respondent="absent")):
        assert response.status_code == 200
        assert "locked and cannot be changed; append an erratum" in text(response)
    after = record_row(app, m.session_id)
    assert [e.text for e in after.entries] == [e.text for e in locked.entries]
    assert after.status == RecordStatus.LOCKED and after.content_hash == locked.content_hash
    page = text(mediator.get(m.base))
    assert 'id="quick-add"' not in page and "Correct entry" not in page and "Lock the record" not in page
    assert "Save attendance" not in page

    response = mediator.post(f"{m.base}/errata", data={"text": "", "entry_id": ""})
    assert response.status_code == 200 and "This field is required." in field_error(response, "text")
    response = mediator.post(f"{m.base}/errata", data={"text": "第1条中“三个月”应为“四个月”。",
                                                       "entry_id": str(first.id)})
    assert response.status_code == 303 and response.headers["Location"].endswith("#errata")
    mediator.post(f"{m.base}/errata", data={"text": "会议地点更正为东区司法所二楼。", "entry_id": ""})
    with database(app) as db:
        errata = list(db.scalars(select(ProceedingErratum).order_by(ProceedingErratum.number)))
        assert [(e.number, e.entry_id) for e in errata] == [(1, first.id), (2, None)]
    events = audit_events(app, "mediation.record_erratum")
    assert [json.loads(e.details)["number"] for e in events] == [1, 2]
    assert len({json.loads(e.details)["hash"] for e in events}) == 2
    page = text(client_for(app, m.petitioner).get(m.base))
    assert "“三个月”应为“四个月”" in page and "Erratum 1" in page and "corrects statement 1" in page
    assert "Append erratum" not in page
    assert record_row(app, m.session_id).content_hash == locked.content_hash


def test_a_correction_from_a_page_opened_before_the_lock_gets_the_refusal_in_place(app):
    """htmx swaps the answer in place of the entry: the entry comes back unchanged, without its correction form, with
    the reason (read back, then locked)."""
    m, mediator = read_back_ready(app)
    first = entries(app, m.session_id)[0]
    url = f"{m.base}/entries/{first.id}"
    response = mediator.post(url, data={"text": "读回后改"}, headers=HTMX)
    assert response.status_code == 200 and text(response).lstrip().startswith("<li")
    assert "The record has been read back to the parties" in field_error(response, f"edit-{first.id}")
    for party in (m.applicant_id, m.respondent_id):
        mediator.post(f"{m.base}/confirmations", data={"party": str(party), "answer": "confirmed"})
    assert mediator.post(f"{m.base}/lock").status_code == 303

    response = mediator.post(url, data={"text": "偷偷改"}, headers=HTMX)
    body = text(response)
    assert response.status_code == 200 and "<html" not in body and first.text in body
    assert "locked and cannot be changed; append an erratum" in field_error(response, f"edit-{first.id}")
    assert "<form" not in body and "Correct entry" not in body
    assert entries(app, m.session_id)[0].text == first.text
    # The whole page (without htmx) says it once, at the top.
    page = text(mediator.post(url, data={"text": "偷偷改"}))
    assert page.count("locked and cannot be changed; append an erratum") == 1


def test_errata_are_refused_before_the_lock(app):
    m, mediator = started(app)
    add(mediator, m)
    response = mediator.post(f"{m.base}/errata", data={"text": "更正", "entry_id": ""})
    assert response.status_code == 200 and "Errata are for a locked record" in text(response)
    assert count(app, ProceedingErratum) == 0


# --- the PDF ------------------------------------------------------------------------------------------------

def pdf_text(response, tmp_path) -> str:
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert response.headers["Content-Disposition"].startswith("attachment")
    path = tmp_path / f"{uuid.uuid4().hex}.pdf"
    path.write_bytes(response.data)
    content = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(content.split())


def test_the_record_prints_as_a_pdf_with_everything_of_the_file(app, tmp_path):
    m, mediator = read_back_ready(app)
    for party in (m.applicant_id, m.respondent_id):
        mediator.post(f"{m.base}/confirmations", data={"party": str(party), "answer": "confirmed"})
    mediator.post(f"{m.base}/lock")
    mediator.post(f"{m.base}/errata", data={"text": "第二条更正为分三期。", "entry_id": ""})
    record = record_row(app, m.session_id)
    content = pdf_text(client_for(app, m.petitioner).get(m.pdf), tmp_path)
    for expected in ["Proceedingsrecord(调解笔录)", "东区人民调解委员会", m.case_reference, "Session1", "东区司法所",
                     "第一调解室", "王调解", "陈信访", "区人力资源和社会保障局", "张科长", "Present",
                     "申请人陈述：公司拖欠工资三个月。", "被申请人表示愿意协商分期支付。", "Confirmed",
                     record.content_hash[:20], "第二条更正为分三期。", "Partycopy"]:
        assert expected in content, expected
    assert re.search(r"1/\d", content)  # page numbers


def test_a_pdf_needs_a_started_session(app):
    m = build_matter(app)
    assert client_for(app, m.mediator).get(m.pdf).status_code == 404


# --- access and queries -------------------------------------------------------------------------------------

def test_route_access_per_role(app):
    m, mediator = started(app)
    add(mediator, m)
    [entry] = entries(app, m.session_id)
    gets = [m.base, m.pdf]
    manage_posts = [f"{m.base}/start", f"{m.base}/entries", f"{m.base}/entries/{entry.id}", f"{m.base}/attendance",
                    f"{m.base}/read-back", f"{m.base}/reopen", f"{m.base}/confirmations", f"{m.base}/lock",
                    f"{m.base}/errata"]
    anonymous = app.test_client()
    for url in gets:
        assert is_login_redirect(anonymous.get(url)), url
    for url in manage_posts + [f"{m.base}/confirm"]:
        assert is_login_redirect(anonymous.post(url)), url
    # Who reads the record: the bureau, leaders, mediators of the matter, the parties.
    for who in (m.mediator, m.petitioner, m.rep, m.staff, m.leader):
        client = client_for(app, who)
        for url in gets:
            assert client.get(url).status_code == 200, (who, url)
    for who in (m.outsider, m.other_petitioner, m.admin, m.other_mediator):
        client = client_for(app, who)
        for url in gets:
            assert client.get(url).status_code == 403, (who, url)
    # Who keeps it: the mediators of the matter (or of its committee) only.
    for who in (m.petitioner, m.rep, m.staff, m.leader, m.other_mediator, m.outsider, m.admin):
        client = client_for(app, who)
        for url in manage_posts:
            assert client.post(url, data={"text": "x"}).status_code == 403, (who, url)
    for who in (m.mediator, m.staff, m.leader, m.admin, m.other_mediator):
        assert client_for(app, who).post(f"{m.base}/confirm", data={"own-answer": "confirmed"}).status_code == 403
    assert [e.text for e in entries(app, m.session_id)] == ["申请人陈述：公司拖欠工资三个月。"]


def test_record_page_runs_a_fixed_number_of_queries(app, count_queries, upload_folder):
    m, mediator = started(app, sessions=2)
    other_base = f"/mediation/{m.matter_id}/sessions/{m.session_ids[1]}/record"
    assert mediator.post(f"{other_base}/start").status_code == 303

    def fill(base, n):
        for i in range(n):
            kind = ["statement", "proposal", "note", "caucus"][i % 4]
            speaker = [m.applicant_id, m.respondent_id, "mediator"][i % 3]
            files = [(io.BytesIO(PNG), f"证据{i}.png")] if i % 5 == 0 else None
            data = {"speaker": str(speaker), "kind": kind, "text": f"第{i}条记录"}
            if files:
                data["evidence"] = files
            assert mediator.post(f"{base}/entries", data=data, content_type="multipart/form-data").status_code == 303

    fill(m.base, 2)
    fill(other_base, 25)
    for base in (m.base, other_base):
        attend(mediator, SimpleNamespace(base=base, applicant_id=m.applicant_id, respondent_id=m.respondent_id))

    counts = {}
    for who in (m.mediator, m.petitioner):
        client = client_for(app, who)
        for base in (m.base, other_base):
            client.get(base)  # warm the session user and the locale
            with count_queries() as counter:
                assert client.get(base).status_code == 200
            counts[(who, base)] = counter.count
    assert counts[(m.mediator, m.base)] == counts[(m.mediator, other_base)], counts
    assert counts[(m.petitioner, m.base)] == counts[(m.petitioner, other_base)], counts


def test_a_correction_can_change_the_kind_and_the_speaker(app):
    """A private remark entered as a statement by mistake is made a caucus note before anyone else reads it."""
    m, mediator = started(app)
    add(mediator, m, "申请人私下表示可以降到五千元。", speaker=m.applicant_id)
    [entry] = entries(app, m.session_id)
    assert "申请人私下表示" in text(client_for(app, m.petitioner).get(m.base))
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={
        "text": entry.text, "kind": "caucus", "speaker": str(m.applicant_id)})
    assert response.status_code == 303
    [entry] = entries(app, m.session_id)
    assert entry.kind == EntryKind.CAUCUS and entry.party_id == m.applicant_id
    assert "申请人私下表示" not in text(client_for(app, m.petitioner).get(m.base))
    [event] = audit_events(app, "mediation.entry_edited")
    assert json.loads(event.details)["old_kind"] == "statement"
    response = mediator.post(f"{m.base}/entries/{entry.id}", data={"text": entry.text, "kind": "note",
                                                                   "speaker": "999999"})
    assert response.status_code == 200 and "Choose a party of this mediation, or the mediator." in text(response)
    assert entries(app, m.session_id)[0].kind == EntryKind.CAUCUS


# --- walk-through fixes ---------------------------------------------------------------------------------------

def test_a_session_does_not_start_before_its_day_but_any_hour_on_the_day(app):
    from portal import timeutil

    m = build_matter(app)
    zone = timeutil.local_zone()
    with database(app) as db:
        session = db.get(MediationSession, m.session_id)
        tomorrow = (utcnow().astimezone(zone) + timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
        session.starts_at, session.ends_at = tomorrow, tomorrow + timedelta(hours=2)
        db.commit()
    mediator = client_for(app, m.mediator)
    response = mediator.post(f"{m.base}/start", follow_redirects=True)
    [(category, message)] = flashes(response)
    assert category == "error" and "cannot start before that day" in message and "move the session" in message
    assert tomorrow.date().isoformat() in message
    assert record_row(app, m.session_id) is None
    with database(app) as db:
        assert db.get(MediationSession, m.session_id).status == SessionStatus.SCHEDULED
        # On the day, even hours before the time set, it starts.
        session = db.get(MediationSession, m.session_id)
        late = utcnow().astimezone(zone).replace(hour=23, minute=59, second=0, microsecond=0)
        session.starts_at, session.ends_at = late, late + timedelta(minutes=1)
        db.commit()
    assert mediator.post(f"{m.base}/start").status_code == 303
    assert record_row(app, m.session_id).status == RecordStatus.OPEN


def test_the_entry_box_has_the_focus_and_the_no_entries_line_is_always_there(app):
    m, mediator = started(app)
    page = text(mediator.get(m.base))
    assert re.search(r'<textarea[^>]*autofocus[^>]*id="text"|<textarea[^>]*id="text"[^>]*autofocus', page)
    assert '<p id="no-entries">No entries yet.</p>' in page
    # The out-of-band swap of each quick-add finds its target on the page, before and after the first entry.
    body = text(add(mediator, m, "第一条", headers=HTMX))
    assert 'id="no-entries" hx-swap-oob="true"' in body
    page = text(mediator.get(m.base))
    assert '<p id="no-entries" hidden>' in page
    # Someone who only reads (a party) gets no focus on a form.
    assert "autofocus" not in text(client_for(app, m.petitioner).get(m.base))


def test_entries_are_numbered_without_gaps_for_the_parties_and_caucus_notes_apart(app):
    m, mediator = started(app)
    for text_, kind in [("陈述一", "statement"), ("背对背甲", "caucus"), ("建议二", "proposal"), ("背对背乙", "caucus"),
                        ("说明三", "note")]:
        assert add(mediator, m, text_, kind=kind).status_code == 303
    rows = entries(app, m.session_id)
    numbers = re.compile(r'<span class="entry-no" aria-label="([^"]+)">([^<]+)</span>')
    mediator_page = text(mediator.get(m.base))
    assert [n for _l, n in numbers.findall(mediator_page)] == ["1", "C1", "2", "C2", "3"]
    # each entry is named with the noun of its kind: a caucus note reads "caucus note C1", not "entry C1"
    assert [label for label, _n in numbers.findall(mediator_page)] == [
        "Statement 1", "Caucus note C1", "Proposal 2", "Caucus note C2", "Mediator's note 3"]
    assert "Correct caucus note C1" in mediator_page and "Correct statement 1" in mediator_page
    assert "entry C" not in mediator_page.replace("Entry", "entry")
    party_page = text(client_for(app, m.petitioner).get(m.base))
    assert [n for _l, n in numbers.findall(party_page)] == ["1", "2", "3"]
    assert [e.position for e in rows] == [1, 2, 3, 4, 5]  # the order and the hash keep the positions
    # A correction is flashed with the number shown.
    third = next(e for e in rows if e.text == "说明三")
    response = mediator.post(f"{m.base}/entries/{third.id}", data={"text": "说明三（更正）"}, follow_redirects=True)
    assert ("success", "Mediator's note 3 corrected.") in flashes(response)


def _locked_with_caucus(app):
    m, mediator = started(app)
    add(mediator, m, "陈述一", speaker=m.applicant_id)
    add(mediator, m, "背对背甲", kind="caucus")
    add(mediator, m, "公司同意分两期支付。", speaker=m.respondent_id, kind="proposal")
    attend(mediator, m)
    mediator.post(f"{m.base}/read-back")
    for party in (m.applicant_id, m.respondent_id):
        mediator.post(f"{m.base}/confirmations", data={"party": str(party), "answer": "confirmed"})
    assert mediator.post(f"{m.base}/lock").status_code == 303
    return m, mediator


def test_an_erratum_names_the_shown_number_and_is_flagged_at_its_entry_on_the_page_and_in_the_pdf(app, tmp_path):
    m, mediator = _locked_with_caucus(app)
    proposal = next(e for e in entries(app, m.session_id) if e.text == "公司同意分两期支付。")
    assert proposal.position == 3
    page = text(mediator.get(m.base))
    assert f'<option value="{proposal.id}">Proposal 2</option>' in page  # the erratum form offers the shown number
    response = mediator.post(f"{m.base}/errata", data={"text": "应为分三期。", "entry_id": str(proposal.id)})
    assert response.status_code == 303
    for client in (mediator, client_for(app, m.petitioner)):
        page = text(client.get(m.base))
        assert "corrects proposal 2" in page and "corrects proposal 3" not in page
        entry_html = page.split(f'id="entry-{proposal.id}"')[1].split("</li>")[0]
        assert 'href="#erratum-1"' in entry_html and "Corrected by erratum 1" in entry_html
    content = pdf_text(client_for(app, m.petitioner).get(m.pdf), tmp_path)
    assert "Correctedbyerratum1" in content and "correctsproposal2" in content and "背对背甲" not in content
    file_copy = pdf_text(mediator.get(m.pdf), tmp_path)
    assert "C1" in file_copy and "correctsproposal2" in file_copy


def test_locking_after_a_refusal_warns_naming_who_declined_and_asks_first(app):
    m, mediator = read_back_ready(app)
    mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id), "answer": "confirmed"})
    page = text(mediator.get(m.base))
    assert 'id="lock-declined"' not in page and "hx-confirm=\"陈信访" not in page
    response = mediator.post(f"{m.base}/confirmations", data={
        "party": str(m.respondent_id), "answer": "declined", "note": "未承诺分期。"})
    assert response.status_code == 303
    page = text(mediator.get(m.base))
    warning = re.search(r'<p class="flash flash-warning" id="lock-declined"[^>]*>([^<]*)</p>', page).group(1)
    assert "Declined to confirm" in warning and "区人力资源和社会保障局" in warning and "陈信访" not in warning
    lock_form = page.split('id="lock-record"')[0].rsplit("<form", 1)[1]
    assert "hx-confirm=" in lock_form and "区人力资源和社会保障局" in lock_form and 'hx-boost="false"' not in lock_form
    # Allowed: the record keeps the refusal.
    assert mediator.post(f"{m.base}/lock").status_code == 303
    record = record_row(app, m.session_id)
    assert record.status == RecordStatus.LOCKED
    confirmations = content_text(app, record.id).split("confirmations:")[1]
    assert f"{m.respondent_id}|declined|in_session|未承诺分期。" in confirmations


def content_text(app, record_id: int) -> str:
    from portal.mediation.proceedings import canonical_text

    with database(app) as db:
        return canonical_text(db.get(ProceedingRecord, record_id))


def test_answer_labels_fit_both_answers_and_ids_are_unique(app):
    m, mediator = read_back_ready(app)
    mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id), "answer": "confirmed"})
    client_for(app, m.rep).post(f"{m.base}/confirm", data={"own-answer": "declined", "own-note": "不同意。"})
    page = text(mediator.get(m.base))
    assert "Answered when read back in the session" in page and "Answered online" in page
    assert "Confirmed online" not in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    assert f'id="answer-of-{m.applicant_id}"' in page


def test_the_read_back_asks_each_attending_party_with_an_account_to_confirm(app):
    from tests.helpers import outbox

    m, mediator = started(app)
    add(mediator, m, "陈述一", speaker=m.applicant_id)
    attend(mediator, m, respondent="absent")
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    [message] = [msg for msg in outbox(app, m.petitioner) if "record to confirm" in msg.subject]
    assert m.case_reference in message.subject and "confirm" in message.body and m.base in message.body
    assert "nothing more is needed" in message.body  # the answer may already be given in the session
    assert not [msg for msg in outbox(app, m.rep) if "record to confirm" in msg.subject]  # absent: not asked
    [event] = audit_events(app, "mediation.record_read_back")
    assert json.loads(event.details)["told"] == 1


def test_the_read_back_asks_the_representatives_of_an_attending_department(app):
    from tests.helpers import outbox

    m, mediator = started(app)
    add(mediator, m, "陈述一", speaker=m.respondent_id)
    attend(mediator, m)
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    assert [msg for msg in outbox(app, m.rep) if "record to confirm" in msg.subject]
    assert not [msg for msg in outbox(app, m.outsider) if "record to confirm" in msg.subject]


def test_the_record_page_of_a_cancelled_session_says_so_with_the_reason(app):
    m = build_matter(app)
    mediator = client_for(app, m.mediator)
    response = mediator.post(f"/mediation/{m.matter_id}/sessions/{m.session_id}/cancel", data={"reason": "调解员生病"})
    assert response.status_code == 303
    for client in (mediator, client_for(app, m.petitioner)):
        page = text(client.get(m.base))
        assert "This session was cancelled" in page and "调解员生病" in page
        assert "The record is kept by the mediator once the session starts" not in page
        assert "Start the session" not in page


def test_a_party_reading_a_record_still_being_kept_is_told_so(app):
    m, mediator = started(app)
    add(mediator, m, "陈述一", speaker=m.applicant_id)
    page = text(client_for(app, m.petitioner).get(m.base))
    assert "The record as read back to the parties" not in page
    assert "being kept by the mediator" in page
    attend(mediator, m)
    mediator.post(f"{m.base}/read-back")
    assert "The record as read back to the parties" in text(client_for(app, m.petitioner).get(m.base))


def test_the_entry_form_says_which_kinds_the_parties_see(app):
    m, mediator = started(app)
    page = text(mediator.get(m.base))
    assert "Mediator&#39;s remark (in the record)" in page or "Mediator's remark (in the record)" in page
    assert "only private caucus notes are hidden from them" in page


def test_the_request_to_confirm_goes_only_to_attending_parties_without_an_answer(app):
    """Each attending party is asked once at the read-back; one whose answer is already recorded is not asked."""
    from portal.mediation import proceedings
    from tests.helpers import outbox

    m, mediator = started(app)
    add(mediator, m, "陈述一", speaker=m.applicant_id)
    attend(mediator, m)
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    asked = lambda who: [msg for msg in outbox(app, who) if "record to confirm" in msg.subject]  # noqa: E731
    assert len(asked(m.petitioner)) == 1 and len(asked(m.rep)) == 1
    [event] = audit_events(app, "mediation.record_read_back")
    assert json.loads(event.details)["told"] == 2
    # the mediator records the petitioner's answer in the session: a further request goes to the department only
    mediator.post(f"{m.base}/confirmations", data={"party": str(m.applicant_id), "answer": "confirmed"})
    with app.test_request_context(), database(app) as db:
        matter = db.get(MediationReferral, m.matter_id)
        record = db.scalar(select(ProceedingRecord).where(ProceedingRecord.session_id == m.session_id))
        assert proceedings._ask_for_confirmation(matter, record) == 1
        db.commit()
    assert len(asked(m.petitioner)) == 1 and len(asked(m.rep)) == 2
