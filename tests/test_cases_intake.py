"""Intake through the HTTP routes: staff registration, the online petition in steps, duplicates, uploads,
the acknowledgment and its PDF, masked personal data and its audited reveal, the category list."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import threading
import zipfile
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select

from portal import rules
from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.cases.models import (Case, CaseStatus, Category, Channel, ClockKind,
                                 Petitioner, ReferenceCounter, Referral, ReferralKind, ReferralRole, ReferralStatus,
                                 Review)
from portal.cases.services import QUERY_CODE_ALPHABET, next_reference
from portal.extensions import db
from portal.timeutil import today
from tests.factories import make_case
from tests import helpers
from tests.helpers import add_department, audit_events, count, database, field_error, flashes, location, text

ID_A = "320102199001011232"
ID_B = "320102198505052017"
ID_C = "320102197003033014"
ID_X = "32010219951212401X"
BAD_ID = "320102199001011234"  # wrong check digit

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def sign_in(app, client, role, **kwargs):
    """Sign in a user who reads the portal in English, so the messages asserted here do not depend on the catalog."""
    kwargs.setdefault("locale", "en")
    return helpers.sign_in(app, client, role, **kwargs)


def add_user(app, role, **kwargs):
    kwargs.setdefault("locale", "en")
    return helpers.add_user(app, role, **kwargs)


@pytest.fixture(autouse=True)
def upload_folder(_app, tmp_path, monkeypatch):
    """Uploads of each test go to a folder of its own (the app is shared by the whole run)."""
    folder = tmp_path / "uploads"
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(folder))
    return folder


def stored_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def person(index: int, name: str, id_number: str = "", phone: str = "", address: str = "Y市东区") -> dict:
    return {f"petitioners-{index}-name": name, f"petitioners-{index}-id_number": id_number,
            f"petitioners-{index}-phone": phone, f"petitioners-{index}-address": address}


def staff_form(*people: dict, **values) -> dict:
    data = {"channel": "visit", "received_on": today().isoformat(), "matter_type": "appeal", "category_id": "0",
            "subject": "小区物业违规收费", "facts": "物业公司自今年起每月多收停车费。", "request": "请求责令退还多收费用。",
            "place": "Y市东区和平路", "uploads": ""}
    for p in people or (person(0, "王一", ID_A, "13911112222"),):
        data.update(p)
    data.update(values)
    return data


def new_case(app, reference: str) -> Case:
    with database(app) as session:
        case = session.scalar(select(Case).where(Case.reference == reference))
        case.petitioners, case.clocks, case.attachments  # noqa: B018  (load before the session closes)
        return case


def newest_case(app) -> Case | None:
    with database(app) as session:
        case = session.scalar(select(Case).order_by(Case.id.desc()).limit(1))
        if case is not None:
            case.petitioners, case.clocks, case.attachments, case.events  # noqa: B018
        return case


# --- staff registration ---------------------------------------------------------------------------------

def test_staff_registers_a_visit_with_two_petitioners(app, client):
    staff = sign_in(app, client, Role.STAFF)
    page = client.get("/cases/register")
    assert page.status_code == 200
    assert 'name="petitioners-0-name"' in text(page)

    response = client.post("/cases/register", data=staff_form(
        person(0, "王一", ID_A, "13911112222"), person(1, "李二", ID_B, "0571-88886666"),
        received_on="2026-09-20"))
    assert response.status_code == 303
    case = newest_case(app)
    assert location(response) == f"/cases/{case.id}/acknowledgment"

    assert re.fullmatch(r"YX-2026-\d{6}", case.reference)
    assert len(case.query_code) == rules.QUERY_CODE_LENGTH and set(case.query_code) <= set(QUERY_CODE_ALPHABET)
    assert case.status == CaseStatus.REGISTERED and case.channel == Channel.VISIT
    assert case.registered_by_id == staff.id and case.submitted_by_id is None
    assert [(p.name, p.id_number, p.phone) for p in case.petitioners] == [
        ("王一", ID_A, "13911112222"), ("李二", ID_B, "0571-88886666")]
    routing = [c for c in case.clocks if c.kind == ClockKind.ROUTING]
    assert len(routing) == 1
    # 15 days after 20 Sep 2026 is 5 Oct, inside the National Day holiday: the limit runs to 8 Oct.
    assert routing[0].started_on == date(2026, 9, 20) and routing[0].due_on == date(2026, 10, 8)
    assert case.next_due_on == date(2026, 10, 8)
    assert [(e.kind, json.loads(e.data)) for e in case.events] == [("registered", {"channel": "visit"})]

    (event,) = audit_events(app, "case.registered")
    assert event.actor_id == staff.id and event.object_id == str(case.id)
    assert json.loads(event.details)["reference"] == case.reference

    ack = client.get(location(response))
    assert ack.status_code == 200
    assert case.reference in text(ack) and case.query_code in text(ack)
    assert ("success", f"Registered as {case.reference}.") in flashes(ack)


def test_adding_a_petitioner_row_works_with_and_without_htmx(app, client):
    sign_in(app, client, Role.STAFF)
    plain = client.post("/cases/register", data=staff_form(add_petitioner="1"))
    assert plain.status_code == 200 and "<html" in text(plain)
    assert 'name="petitioners-1-name"' in text(plain)
    assert 'value="王一"' in text(plain)  # what was typed stays
    fragment = client.post("/cases/register", data=staff_form(person(0, "王一"), person(1, "李二"), add_petitioner="1"),
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert 'name="petitioners-2-name"' in text(fragment) and 'id="register-form"' in text(fragment)
    removed = client.post("/cases/register", data=staff_form(person(0, "王一"), person(1, "李二"),
                                                              remove_petitioner="0"))
    assert 'name="petitioners-1-name"' not in text(removed) and 'value="李二"' in text(removed)
    assert count(app, Case) == 0


def test_group_visit_names_at_most_five_representatives(app, client):
    sign_in(app, client, Role.STAFF)
    ids = [ID_A, ID_B, ID_C, ID_X, "320102198008085010", "320102196606066013"]
    five = [person(i, f"代表{i}", ids[i]) for i in range(5)]
    response = client.post("/cases/register", data=staff_form(*five, group_visit="y", add_petitioner="1"))
    assert response.status_code == 200
    assert "A group visit names at most 5 representatives" in text(response)
    assert 'name="petitioners-5-name"' not in text(response)

    six = five + [person(5, "代表5", ids[5])]
    response = client.post("/cases/register", data=staff_form(*six, group_visit="y"))
    assert response.status_code == 200
    assert "A group visit names at most 5 representatives" in text(response)
    assert count(app, Case) == 0

    response = client.post("/cases/register", data=staff_form(*five, group_visit="y"))
    assert response.status_code == 303
    case = newest_case(app)
    assert case.group_visit and len(case.petitioners) == 5 and all(p.is_representative for p in case.petitioners)


def test_group_visit_only_for_visits(app, client):
    sign_in(app, client, Role.STAFF)
    response = client.post("/cases/register", data=staff_form(channel="letter", group_visit="y"))
    assert field_error(response, "group_visit") == "Only a visit can be a group visit."
    assert count(app, Case) == 0


def test_invalid_id_number_and_phone_are_refused(app, client):
    sign_in(app, client, Role.STAFF)
    response = client.post("/cases/register", data=staff_form(person(0, "王一", BAD_ID, "12345")))
    assert response.status_code == 200
    assert "not a valid resident ID number" in field_error(response, "petitioners-0-id_number")
    assert "mobile number" in field_error(response, "petitioners-0-phone")
    assert count(app, Case) == 0 and count(app, AuditEvent, AuditEvent.action == "case.registered") == 0


def test_required_fields_and_dates_are_checked(app, client):
    sign_in(app, client, Role.STAFF)
    response = client.post("/cases/register", data=staff_form(person(0, ""), subject="", facts=" "))
    assert field_error(response, "petitioners-0-name") and field_error(response, "subject")
    assert field_error(response, "facts")
    future = client.post("/cases/register", data=staff_form(received_on=(today() + timedelta(days=1)).isoformat()))
    assert field_error(future, "received_on") == "The date received cannot be in the future."
    online = client.post("/cases/register", data=staff_form(channel="online"))
    assert field_error(online, "channel")
    assert count(app, Case) == 0


@pytest.mark.parametrize("junk", [
    {"channel": "nonsense", "received_on": "yesterday", "matter_type": "x", "category_id": "abc"},
    {"petitioners-99999999999999-name": "X", "duplicate_choice": "link:99999999999999999999"},
    {"remove_petitioner": "99999999999"}, {"remove_petitioner": "-1"}, {"uploads": "forged.token"},
    {"remove_upload": "../../etc/passwd"}, {"category_id": "99999999999999999999"},
])
def test_bad_input_never_gives_a_server_error(app, client, junk):
    sign_in(app, client, Role.STAFF)
    response = client.post("/cases/register", data=staff_form(**junk))
    assert response.status_code in (200, 303)
    assert count(app, Case) <= 1


def test_only_bureau_staff_register(app, client):
    sign_in(app, client, Role.DEPARTMENT_REP)
    assert client.get("/cases/register").status_code == 403
    assert client.post("/cases/register", data=staff_form()).status_code == 403
    assert count(app, Case) == 0


# --- duplicates ----------------------------------------------------------------------------------------------

def pending_case(app, **kwargs) -> tuple[int, str]:
    with database(app):
        case = make_case(id_number=ID_A, phone="13911112222", subject="小区物业违规收费", **kwargs)
        return case.id, case.reference


def test_likely_duplicate_is_shown_and_must_be_decided(app, client):
    sign_in(app, client, Role.STAFF)
    other_id, other_ref = pending_case(app)
    similar = staff_form(subject="小区物业违规收费问题")

    response = client.post("/cases/register", data=similar)
    assert response.status_code == 200
    assert other_ref in text(response) and "Check before saving" in text(response)
    assert f'value="link:{other_id}"' in text(response)
    assert count(app, Case) == 1

    no_choice = client.post("/cases/register", data={**similar, "decision_shown": "1"})
    assert field_error(no_choice, "duplicate_choice").startswith("Choose: link it to the pending petition")
    assert count(app, Case) == 1

    no_reason = client.post("/cases/register", data={**similar, "duplicate_choice": "override", "override_reason": ""})
    assert field_error(no_reason, "override_reason") == "Write why this petition is registered separately."
    assert count(app, Case) == 1

    wrong_link = client.post("/cases/register", data={**similar, "duplicate_choice": "link:999999"})
    assert "Choose one of the pending petitions listed." in text(wrong_link)
    assert count(app, Case) == 1

    override = client.post("/cases/register", data={**similar, "duplicate_choice": "override",
                                                     "override_reason": "不同的小区，另一处房产"})
    assert override.status_code == 303
    separate = newest_case(app)
    assert separate.duplicate_override_reason == "不同的小区，另一处房产" and separate.duplicate_of_id is None
    assert [e.kind for e in separate.events] == ["registered", "duplicate_override"]

    linked = client.post("/cases/register", data={**similar, "duplicate_choice": f"link:{other_id}",
                                                  "petitioners-0-id_number": ID_A})
    # the override just made is itself a pending case now: either may be chosen
    assert linked.status_code == 303
    case = newest_case(app)
    assert case.duplicate_of_id == other_id
    assert "duplicate_linked" in [e.kind for e in case.events]
    details = json.loads(audit_events(app, "case.registered")[-1].details)
    assert details["duplicate_of"] == other_ref


def test_unrelated_petition_is_saved_without_questions(app, client):
    sign_in(app, client, Role.STAFF)
    pending_case(app)
    response = client.post("/cases/register", data=staff_form(subject="道路积水无人处理"))
    assert response.status_code == 303


def test_repeat_of_a_case_concluded_after_rereview_is_flagged(app, client):
    sign_in(app, client, Role.STAFF)
    with database(app) as session:
        old = make_case(id_number=ID_A, subject="小区物业违规收费")
        old.status = CaseStatus.CONCLUDED
        session.add(Review(case_id=old.id, level=2, reason="不服复查意见", requested_on=date(2026, 5, 1)))
        session.commit()
        old_id, old_ref = old.id, old.reference
    response = client.post("/cases/register", data=staff_form())
    assert response.status_code == 200
    assert old_ref in text(response) and "concluded after re-review" in text(response)
    assert count(app, Case) == 1
    response = client.post("/cases/register", data=staff_form(repeat_acknowledged="y"))
    assert response.status_code == 303
    case = newest_case(app)
    assert case.repeats_concluded_id == old_id
    assert "repeats_concluded" in [e.kind for e in case.events]
    page = client.get(f"/cases/{case.id}")
    assert old_ref in text(page)


# --- online submission ---------------------------------------------------------------------------------------

def test_unconfirmed_petitioner_is_sent_to_confirm(app, client):
    sign_in(app, client, Role.PETITIONER, confirmed=False)
    response = client.get("/petitions/new")
    assert response.status_code == 303 and location(response) == "/account/confirm"
    page = client.get("/account/confirm")
    assert any("Confirm" in message and "submit a petition" in message for _c, message in flashes(page))
    assert client.post("/petitions/new", data={"step": "1"}).status_code == 303
    htmx = client.post("/petitions/new", data={"step": "1"}, headers={"HX-Request": "true"})
    assert htmx.status_code == 204 and htmx.headers["HX-Redirect"] == "/account/confirm"
    assert count(app, Case) == 0


def test_staff_cannot_use_the_online_form(app, client):
    sign_in(app, client, Role.STAFF)
    assert client.get("/petitions/new").status_code == 403


ONLINE_WHO = {"name": "陈信访", "id_number": ID_X.lower(), "phone": "+86 139 1111 3333", "address": "Y市西区幸福路8号"}
ONLINE_WHAT = {"matter_type": "appeal", "category_id": "0", "subject": "工资被拖欠三个月",
               "facts": "某建筑公司自八月起拖欠工资。\n多次讨要无果。", "request": "请求督促公司支付工资。", "place": "Y市西区"}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_confirmed_petitioner_submits_online_through_every_step(app, client, upload_folder, htmx):
    user = sign_in(app, client, Role.PETITIONER, name="陈信访", phone="13911113333", email=None)
    headers = {"HX-Request": "true"} if htmx else {}

    def post(data, **kwargs):
        response = client.post("/petitions/new", data=data, headers=headers, **kwargs)
        if htmx and response.status_code == 200:
            assert "<html" not in text(response) and 'id="online-form"' in text(response)
        return response

    def hidden(response, name):
        match = re.search(rf'name="{name}" (?:type="hidden" )?value="([^"]*)"', response.get_data(as_text=True))
        if not match:
            match = re.search(rf'<input [^>]*name="{name}"[^>]*value="([^"]*)"', response.get_data(as_text=True))
        return match.group(1) if match else ""

    first = client.get("/petitions/new")
    assert first.status_code == 200
    assert 'value="陈信访"' in text(first) and 'value="13911113333"' in text(first)  # from the account
    assert 'hx-post="/petitions/new/check/id_number"' in text(first)

    # step 1 with a mistake stays on step 1
    wrong = post({"step": "1", "go": "next", **ONLINE_WHO, "id_number": BAD_ID})
    assert "Step 1 of 4" in text(wrong) and field_error(wrong, "id_number")
    # step 1 -> 2
    second = post({"step": "1", "go": "next", **ONLINE_WHO})
    assert second.status_code == 200 and "Step 2 of 4" in text(second)
    assert 'name="name" value="陈信访"' in text(second)  # carried along, hidden
    # step 2 with a missing subject stays; then -> 3
    missing = post({"step": "2", "go": "next", **ONLINE_WHO, **ONLINE_WHAT, "subject": ""})
    assert "Step 2 of 4" in text(missing) and field_error(missing, "subject")
    third = post({"step": "2", "go": "next", **ONLINE_WHO, **ONLINE_WHAT})
    assert "Step 3 of 4" in text(third)
    # back to 2 and forward again keeps the text
    back = post({"step": "3", "go": "back", **ONLINE_WHO, **ONLINE_WHAT})
    assert "Step 2 of 4" in text(back) and "多次讨要无果" in text(back)
    # step 3: upload a PDF
    uploaded = post({"step": "3", "go": "upload", **ONLINE_WHO, **ONLINE_WHAT,
                     "attachments": (io.BytesIO(PDF), "工资条.pdf")}, content_type="multipart/form-data")
    assert "Step 3 of 4" in text(uploaded) and "工资条.pdf" in text(uploaded)
    token = hidden(uploaded, "uploads")
    assert token and len(stored_files(upload_folder)) == 1
    # step 3 -> 4 review
    review = post({"step": "3", "go": "next", **ONLINE_WHO, **ONLINE_WHAT, "uploads": token})
    assert "Step 4 of 4" in text(review) and "工资被拖欠三个月" in text(review) and "工资条.pdf" in text(review)
    assert count(app, Case) == 0
    # submit
    done = post({"step": "4", "go": "submit", **ONLINE_WHO, **ONLINE_WHAT, "uploads": token})
    case = newest_case(app)
    assert case is not None
    if htmx:
        assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/cases/{case.id}/acknowledgment"
    else:
        assert done.status_code == 303 and location(done) == f"/cases/{case.id}/acknowledgment"

    assert case.channel == Channel.ONLINE and case.submitted_by_id == user.id and case.registered_by_id is None
    assert case.received_on == today() and case.status == CaseStatus.REGISTERED
    (petitioner,) = case.petitioners
    assert (petitioner.name, petitioner.id_number, petitioner.phone, petitioner.user_id) == (
        "陈信访", ID_X, "13911113333", user.id)
    assert [e.kind for e in case.events] == ["submitted"]
    assert [c.kind for c in case.clocks] == [ClockKind.ROUTING]
    (attachment,) = case.attachments
    stored = upload_folder / attachment.stored_name
    assert attachment.original_name == "工资条.pdf" and attachment.content_type == "application/pdf"
    assert attachment.size == len(PDF) and stored.read_bytes() == PDF
    import hashlib
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert "static" not in stored.resolve().parts and "工资条" not in attachment.stored_name
    assert audit_events(app, "case.registered")[-1].actor_id == user.id

    ack = client.get(f"/cases/{case.id}/acknowledgment")
    assert case.reference in text(ack) and case.query_code in text(ack)
    # ... and has both in writing
    with app.app_context():
        from portal.mail.models import OutboxMessage

        message = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
        assert message.recipient == user.login and case.query_code in message.body
    # the petitioner downloads the attachment from their case
    download = client.get(f"/attachments/{attachment.id}")
    assert download.status_code == 200 and download.data == PDF


def test_online_submission_refuses_missing_steps_on_submit(app, client):
    sign_in(app, client, Role.PETITIONER)
    response = client.post("/petitions/new", data={"step": "4", "go": "submit", **ONLINE_WHO, **ONLINE_WHAT,
                                                   "facts": ""})
    assert response.status_code == 200 and "Step 2 of 4" in text(response) and field_error(response, "facts")
    forged = client.post("/petitions/new", data={"step": "99", "go": "fly", **ONLINE_WHO})
    assert forged.status_code == 200 and "Step" in text(forged)
    assert count(app, Case) == 0


@pytest.mark.parametrize("junk", [
    {"step": "-1"}, {"step": "4", "go": "submit", "category_id": "abc", "matter_type": "nonsense"},
    {"step": "4", "go": "submit", "duplicate_choice": "link:abc", "repeat_acknowledged": "maybe"},
    {"step": "3", "uploads": "not-a-token", "remove_upload": "../../etc/passwd"},
    {"step": "2", "go": "next", "facts": "长" * 20001},
])
def test_online_bad_input_never_gives_a_server_error(app, client, junk):
    sign_in(app, client, Role.PETITIONER)
    response = client.post("/petitions/new", data={**ONLINE_WHO, **ONLINE_WHAT, **junk})
    assert response.status_code in (200, 303)
    if "facts" in junk:
        assert field_error(response, "facts") and count(app, Case) == 0


def test_online_duplicate_of_own_pending_case_is_shown(app, client):
    user = sign_in(app, client, Role.PETITIONER)
    with database(app):
        from portal.accounts.models import User
        owner = db.session.get(User, user.id)
        mine = make_case(petitioner_user=owner, id_number=ID_X, phone="13911113333", subject="工资被拖欠三个月")
        mine_ref = mine.reference
    data = {"step": "4", "go": "submit", **ONLINE_WHO, **ONLINE_WHAT}
    response = client.post("/petitions/new", data=data)
    assert response.status_code == 200 and mine_ref in text(response) and "Step 4 of 4" in text(response)
    linked = client.post("/petitions/new", data={**data, "duplicate_choice": f"link:{mine.id}"})
    assert linked.status_code == 303
    assert newest_case(app).duplicate_of_id == mine.id


def test_online_duplicate_of_someone_elses_case_stays_hidden(app, client):
    sign_in(app, client, Role.PETITIONER)
    with database(app):
        other = make_case(id_number=ID_X, phone="13911113333", subject="工资被拖欠三个月", name="别人")
        other_ref = other.reference
    response = client.post("/petitions/new", data={"step": "3", "go": "next", **ONLINE_WHO, **ONLINE_WHAT})
    assert "Step 4 of 4" in text(response) and other_ref not in text(response) and "别人" not in text(response)
    done = client.post("/petitions/new", data={"step": "4", "go": "submit", **ONLINE_WHO, **ONLINE_WHAT})
    assert done.status_code == 303


def test_inline_validation_returns_the_field_fragment(app, client):
    sign_in(app, client, Role.PETITIONER)
    headers = {"HX-Request": "true"}
    bad = client.post("/petitions/new/check/id_number", data={"id_number": BAD_ID}, headers=headers)
    assert bad.status_code == 200 and "<html" not in text(bad) and "<form" not in text(bad)
    assert "not a valid resident ID number" in field_error(bad, "id_number")
    assert 'hx-post="/petitions/new/check/id_number"' in text(bad)  # the new field validates again
    good = client.post("/petitions/new/check/id_number", data={"id_number": ID_A}, headers=headers)
    assert field_error(good, "id_number") == "" and f'value="{ID_A}"' in text(good)
    assert client.post("/petitions/new/check/csrf_token", data={}, headers=headers).status_code == 404
    phone = client.post("/petitions/new/check/phone", data={"phone": "123"}, headers=headers)
    assert "mobile number" in field_error(phone, "phone")


# --- uploads ---------------------------------------------------------------------------------------------------

def upload(client, files, token=""):
    return client.post("/petitions/new", data={"step": "3", "go": "upload", **ONLINE_WHO, **ONLINE_WHAT,
                                               "uploads": token, "attachments": files},
                       content_type="multipart/form-data")


@pytest.mark.parametrize("name, content, message", [
    ("假文件.pdf", b"this is not a PDF at all", "only PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx)"),
    ("picture.pdf", PNG, "the content must match the file name"),
    ("macro.exe", b"MZ\x90\x00", "only PDF, JPEG, PNG"),
    ("big.pdf", b"%PDF-1.4\n" + b"0" * rules.ATTACHMENT_MAX_BYTES, "larger than 10 MB"),
    ("empty.pdf", b"", "is empty"),
])
def test_bad_files_are_refused_and_nothing_is_stored(app, client, upload_folder, name, content, message):
    sign_in(app, client, Role.PETITIONER)
    response = upload(client, [(io.BytesIO(PDF), "good.pdf"), (io.BytesIO(content), name)])
    assert response.status_code == 200
    assert message in field_error(response, "attachments")
    assert stored_files(upload_folder) == []  # not even the good file of the same request
    assert "good.pdf" not in text(response)


def test_accepted_kinds_and_removing_a_pending_file(app, client, upload_folder):
    sign_in(app, client, Role.PETITIONER)
    response = upload(client, [(io.BytesIO(PNG), "photo.png"), (io.BytesIO(docx_bytes()), "材料.docx"),
                               (io.BytesIO(b"\xff\xd8\xff\xe0" + b"0" * 32), "scan.JPG")])
    assert field_error(response, "attachments") == ""
    assert len(stored_files(upload_folder)) == 3
    token = re.search(r'name="uploads" (?:type="hidden" )?value="([^"]+)"', response.get_data(as_text=True)).group(1)
    name = re.search(r'name="remove_upload" value="([^"]+)"', response.get_data(as_text=True)).group(1)
    after = client.post("/petitions/new", data={"step": "3", "go": "upload", **ONLINE_WHO, **ONLINE_WHAT,
                                                "uploads": token, "remove_upload": name})
    assert len(stored_files(upload_folder)) == 2 and name not in stored_files(upload_folder)
    assert "photo.png" not in text(after)


def test_a_token_of_another_user_is_worthless(app, client, upload_folder):
    sign_in(app, client, Role.PETITIONER)
    response = upload(client, [(io.BytesIO(PDF), "mine.pdf")])
    token = re.search(r'name="uploads" (?:type="hidden" )?value="([^"]+)"', response.get_data(as_text=True)).group(1)
    client.post("/logout")
    sign_in(app, client, Role.PETITIONER)
    done = client.post("/petitions/new", data={"step": "4", "go": "submit", **ONLINE_WHO, **ONLINE_WHAT,
                                               "uploads": token})
    assert done.status_code == 303
    assert newest_case(app).attachments == []


def test_too_many_files(app, client, upload_folder, monkeypatch):
    monkeypatch.setattr(rules, "ATTACHMENTS_PER_CASE", 2)
    sign_in(app, client, Role.PETITIONER)
    response = upload(client, [(io.BytesIO(PDF), f"{i}.pdf") for i in range(3)])
    assert "At most 2 files" in field_error(response, "attachments")
    assert stored_files(upload_folder) == []


def test_staff_form_keeps_uploaded_files_across_a_second_round(app, client, upload_folder):
    sign_in(app, client, Role.STAFF)
    first = client.post("/cases/register", data={**staff_form(subject=""), "attachments": (io.BytesIO(PDF), "信.pdf")},
                        content_type="multipart/form-data")
    assert field_error(first, "subject") and "信.pdf" in text(first)
    token = re.search(r'name="uploads" (?:type="hidden" )?value="([^"]+)"', first.get_data(as_text=True)).group(1)
    done = client.post("/cases/register", data=staff_form(uploads=token))
    assert done.status_code == 303
    assert [a.original_name for a in newest_case(app).attachments] == ["信.pdf"]


# --- acknowledgment ---------------------------------------------------------------------------------------

def test_acknowledgment_pdf_contains_the_reference(app, client, tmp_path):
    sign_in(app, client, Role.STAFF)
    response = client.post("/cases/register", data=staff_form(subject="小区物业违规收费"))
    case = newest_case(app)
    pdf = client.get(f"/cases/{case.id}/acknowledgment.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    path = tmp_path / "ack.pdf"
    path.write_bytes(pdf.data)
    extracted = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True,
                               text=True).stdout
    assert case.reference in extracted and case.query_code in extracted
    assert "小区物业违规收费" in extracted and "王一" in extracted  # Chinese renders
    assert ID_A not in extracted  # the ID number is masked on paper too
    assert response.status_code == 303


def test_acknowledgment_is_for_the_bureau_and_the_petitioner_only(app, client):
    owner = add_user(app, Role.PETITIONER)
    with database(app):
        from portal.accounts.models import User
        case_id = make_case(petitioner_user=db.session.get(User, owner.id)).id
    sign_in(app, client, Role.PETITIONER)
    assert client.get(f"/cases/{case_id}/acknowledgment").status_code == 403
    assert client.get(f"/cases/{case_id}/acknowledgment.pdf").status_code == 403
    client.post("/logout")
    sign_in(app, client, Role.DEPARTMENT_REP)
    assert client.get(f"/cases/{case_id}/acknowledgment").status_code == 403
    client.post("/logout")
    from tests.conftest import login
    from tests.factories import PASSWORD
    login(client, owner.login, PASSWORD)
    assert client.get(f"/cases/{case_id}/acknowledgment").status_code == 200
    assert client.get("/cases/999999/acknowledgment").status_code == 404


# --- masked personal data ------------------------------------------------------------------------------------

def case_with_department(app):
    department = add_department(app)
    with database(app) as session:
        case = make_case(id_number=ID_A, phone="13912345678")
        session.add(Referral(case=case, department_id=department.id, kind=ReferralKind.ASSIGN,
                             role=ReferralRole.LEAD, status=ReferralStatus.PENDING, sent_on=today()))
        session.commit()
        return case.id, case.petitioners[0].id, department


def test_personal_data_is_masked_until_revealed_and_each_reveal_is_audited(app, client):
    case_id, petitioner_id, _d = case_with_department(app)
    sign_in(app, client, Role.STAFF)
    page = text(client.get(f"/cases/{case_id}"))
    assert "3201**********1232" in page and "139****5678" in page
    assert ID_A not in page and "13912345678" not in page
    reveal = f"/cases/{case_id}/petitioners/{petitioner_id}/reveal"
    assert f'action="{reveal}"' in page

    fragment = client.post(reveal, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in text(fragment)
    assert text(fragment).lstrip().startswith("<tr") or "<tr" in text(fragment)
    assert ID_A in text(fragment) and "13912345678" in text(fragment)
    (event,) = audit_events(app, "case.personal_viewed")
    assert event.object_id == str(case_id) and json.loads(event.details)["petitioner_id"] == petitioner_id

    full_page = client.post(reveal)  # without JavaScript: the case page with this row in full
    assert full_page.status_code == 200 and "<html" in text(full_page) and ID_A in text(full_page)
    assert len(audit_events(app, "case.personal_viewed")) == 2
    # the next ordinary view is masked again
    assert ID_A not in text(client.get(f"/cases/{case_id}"))


def test_reveal_refused_to_petitioner_and_uninvolved_department(app, client):
    case_id, petitioner_id, department = case_with_department(app)
    reveal = f"/cases/{case_id}/petitioners/{petitioner_id}/reveal"
    owner = add_user(app, Role.PETITIONER)
    with database(app) as session:
        session.get(Petitioner, petitioner_id).user_id = owner.id
        session.commit()
    from tests.conftest import login
    from tests.factories import PASSWORD
    login(client, owner.login, PASSWORD)
    assert client.post(reveal).status_code == 403
    client.post("/logout")
    sign_in(app, client, Role.DEPARTMENT_REP)  # a department of its own, not on the case
    assert client.post(reveal).status_code == 403
    client.post("/logout")
    rep = sign_in(app, client, Role.DEPARTMENT_REP, department=None)
    assert rep  # a new department again: still refused
    assert client.post(reveal).status_code == 403
    assert audit_events(app, "case.personal_viewed") == []
    # the department on the case may
    involved = add_user(app, Role.DEPARTMENT_REP)
    with database(app) as session:
        from portal.accounts.models import User
        session.get(User, involved.id).department_id = department.id
        session.commit()
    client.post("/logout")
    login(client, involved.email, PASSWORD)
    assert client.post(reveal).status_code == 200
    assert client.post(f"/cases/{case_id}/petitioners/999999/reveal").status_code == 404


# --- categories ------------------------------------------------------------------------------------------------

def test_admin_manages_categories_offered_on_new_petitions(app, client):
    sign_in(app, client, Role.ADMIN)
    assert client.get("/admin/categories").status_code == 200
    created = client.post("/admin/categories/new", data={"name": "劳动工资", "position": "1", "active": "y"})
    assert created.status_code == 303
    clash = client.post("/admin/categories/new", data={"name": "劳动工资 ", "position": "2", "active": "y"})
    assert field_error(clash, "name") == "Another category already has this name."
    with database(app) as session:
        category = session.scalar(select(Category).where(Category.name == "劳动工资"))
        category_id = category.id
    assert "category.created" in [e.action for e in audit_events(app, "category.created")]
    client.post(f"/admin/categories/{category_id}", data={"name": "劳动工资", "position": "1"})  # inactive
    assert audit_events(app, "category.updated")
    client.post("/logout")

    sign_in(app, client, Role.STAFF)
    assert client.get("/admin/categories").status_code == 403
    assert "劳动工资" not in text(client.get("/cases/register"))
    refused = client.post("/cases/register", data=staff_form(category_id=str(category_id)))
    assert refused.status_code == 200 and count(app, Case) == 0
    with database(app) as session:
        session.get(Category, category_id).active = True
        session.commit()
    assert "劳动工资" in text(client.get("/cases/register"))
    saved = client.post("/cases/register", data=staff_form(category_id=str(category_id)))
    assert saved.status_code == 303 and newest_case(app).category_id == category_id


# --- nav -------------------------------------------------------------------------------------------------------

def test_nav_offers_registration_to_staff_and_submission_to_petitioners(app, client):
    sign_in(app, client, Role.STAFF)
    home = text(client.get("/"))
    assert 'href="/cases/register"' in home and 'href="/petitions/new"' not in home
    client.post("/logout")
    sign_in(app, client, Role.PETITIONER, confirmed=False)
    home = text(client.get("/"))
    assert 'href="/petitions/new"' in home and 'href="/cases/register"' not in home


# --- reference numbers under concurrency ----------------------------------------------------------------------

@pytest.mark.skipif(not os.environ.get("PORTAL_TEST_DATABASE_URL"), reason="needs PostgreSQL")
def test_concurrent_references_are_distinct_on_postgresql(_app):
    year = 2091
    barrier = threading.Barrier(20)
    results, errors = [], []

    def take():
        try:
            with _app.app_context():
                barrier.wait(timeout=10)
                reference = next_reference(year)
                db.session.commit()
                results.append(reference)
                db.session.remove()
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert not errors
        assert len(results) == 20 and len(set(results)) == 20
        assert sorted(int(r[-6:]) for r in results) == list(range(1, 21))
    finally:
        with _app.app_context():
            db.session.execute(delete(ReferenceCounter).where(ReferenceCounter.scope == f"YX-{year}"))
            db.session.commit()
            db.session.remove()
