"""Signing a mediation agreement: opening signing on a fixed text, party signatures with a one-time code and a drawn
or typed signature, in person after an ID check, declining, the mediator's signature, the committee seal, the
order of the steps, voiding on a text change, reminders, access and the sign page's queries."""
from __future__ import annotations

import base64
import io
import itertools
import json
import re
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select

from portal import rules
from portal.accounts.models import DepartmentKind, OneTimeCode, Role
from portal.agreements.models import (
    Agreement,
    AgreementObligation,
    AgreementReminder,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    CommitteeSeal,
    SignatureMark,
    SignatureMethod,
    SignatureStatus,
    SignerRole,
)
from portal.mediation.models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationStatus,
    PartySide,
)
from portal.timeutil import today, utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import (audit_events, count, database, field_error, flashes, form_errors, is_login_redirect,
                           location, outbox, text)

_builds = itertools.count(1)


@pytest.fixture(autouse=True)
def upload_folder(_app, tmp_path, monkeypatch):
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return tmp_path / "uploads"


def png_data_url(blank: bool = False, size=(300, 100)) -> str:
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    if not blank:
        ImageDraw.Draw(image).line([(10, 80), (80, 20), (150, 70), (280, 30)], fill=(0, 0, 0, 255), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def build(app, *, extra_departments: int = 0, petitioner_account: bool = True, open_signing: bool = False):
    """An agreement in drafting (version 1 with two obligations) of a matter ended with an agreement: a committee
    with its assigned mediator and another mediator of the committee, a petitioner party, a department party with
    two representatives, people who are not parties."""
    n = next(_builds)
    with database(app) as db:
        committee = make_department(name=f"东区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department(name=f"西区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        mediator = make_user(Role.MEDIATOR, committee, name="王调解", locale="en")
        colleague = make_user(Role.MEDIATOR, committee, name="赵调解", locale="en")
        stranger_mediator = make_user(Role.MEDIATOR, other_committee, name="别的调解员", locale="en")
        petitioner = make_user(Role.PETITIONER, name="陈信访", locale="en") if petitioner_account else None
        respondent = make_department(name=f"区人力资源和社会保障局{n}")
        rep = make_user(Role.DEPARTMENT_REP, respondent, name="李代表", locale="en")
        rep2 = make_user(Role.DEPARTMENT_REP, respondent, name="周代表", locale="en")
        outsider = make_user(Role.DEPARTMENT_REP, make_department(name=f"无关部门{n}"), locale="en")
        other_petitioner = make_user(Role.PETITIONER, locale="en")
        staff = make_user(Role.STAFF, locale="en")
        case = make_case(petitioner_user=petitioner)
        matter = MediationReferral(case_id=case.id, committee_id=committee.id, room="第一调解室",
                                   status=MediationStatus.AGREEMENT)
        matter.parties = [
            MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                           consent_on=date.today(), consent_how="书面同意"),
            MediationParty(side=PartySide.RESPONDENT, department_id=respondent.id, name=respondent.name,
                           consent_on=date.today(), consent_how="函复同意"),
        ]
        extra_reps = []
        for i in range(extra_departments):
            department = make_department(name=f"附加部门{n}-{i}")
            extra_reps.append(make_user(Role.DEPARTMENT_REP, department, locale="en").login)
            matter.parties.append(MediationParty(side=PartySide.RESPONDENT, department_id=department.id,
                                                 name=department.name, consent_on=date.today(),
                                                 consent_how="函复同意"))
        matter.mediators = [MediationMediator(user_id=mediator.id)]
        db.add(matter)
        db.flush()
        agreement = Agreement(referral_id=matter.id, number=f"TST-2026-{n:04d}-{uuid.uuid4().hex[:6]}",
                              verification_code=uuid.uuid4().hex[:12].upper(), created_by_id=mediator.id)
        db.add(agreement)
        db.flush()
        snapshot = [{"party_id": p.id, "side": p.side.value, "name": p.name, "kind": "petitioner" if p.petitioner_id
                     else "department", "id_number": "", "address": "", "phone": "", "representative": ""}
                    for p in matter.parties]
        version = AgreementVersion(agreement_id=agreement.id, number=1, facts="某公司拖欠陈信访工资三个月。",
                                   disputes="欠薪数额与支付期限。", responsibilities="公司负主要责任。",
                                   other_terms="双方不再就此事另行主张。",
                                   parties_snapshot=json.dumps(snapshot, ensure_ascii=False),
                                   created_by_id=mediator.id)
        version.obligations = [
            AgreementObligation(position=1, party_id=matter.parties[1].id, what="督促支付拖欠工资人民币三万元",
                                manner="银行转账", place="Y市", due_on=date.today() + timedelta(days=30)),
            AgreementObligation(position=2, party_id=matter.parties[0].id, what="撤回信访请求",
                                manner="书面", place="Y市信访局", due_on=date.today() + timedelta(days=40)),
        ]
        db.add(version)
        db.commit()
        m = SimpleNamespace(
            id=agreement.id, matter_id=matter.id, committee_id=committee.id, committee_name=committee.name,
            applicant_id=matter.parties[0].id, respondent_id=matter.parties[1].id,
            extra_party_ids=[p.id for p in matter.parties[2:]], extra_reps=extra_reps,
            mediator=mediator.login, mediator_id=mediator.id, mediator_name=mediator.display_name,
            colleague=colleague.login, stranger_mediator=stranger_mediator.login,
            petitioner=petitioner.login if petitioner else None, rep=rep.login, rep_name=rep.display_name,
            rep2=rep2.login, outsider=outsider.login, other_petitioner=other_petitioner.login, staff=staff.login,
            base=f"/agreements/{agreement.id}")
    if open_signing:
        response = client_for(app, m.mediator).post(f"{m.base}/signing/open")
        assert response.status_code == 303, response.status_code
    return m


def client_for(app, user_login: str):
    client = app.test_client()
    assert login(client, user_login, PASSWORD).status_code == 303
    return client


def agreement_row(app, agreement_id: int) -> Agreement:
    with database(app) as db:
        agreement = db.get(Agreement, agreement_id)
        _ = list(agreement.signatures)
        return agreement


def signatures(app, agreement_id: int, live: bool | None = None) -> list[AgreementSignature]:
    with database(app) as db:
        query = select(AgreementSignature).where(AgreementSignature.agreement_id == agreement_id)
        if live is True:
            query = query.where(AgreementSignature.voided_at.is_(None))
        return list(db.scalars(query.order_by(AgreementSignature.id)))


def last_code(app, recipient: str) -> str:
    message = outbox(app, recipient)[-1]
    match = re.search(r" is (\d{6})\b", message.body)
    assert match, message.body
    return match.group(1)


def code_for(app, client, m, recipient: str, mediator: bool = False) -> str:
    path = f"{m.base}/sign/mediator/code" if mediator else f"{m.base}/sign/code"
    response = client.post(path)
    assert response.status_code == 303, text(response)
    return last_code(app, recipient)


def doc_hash(app, m) -> str:
    return agreement_row(app, m.id).document_hash


def sign(app, client, m, recipient: str, *, code=None, image=None, typed="", seen=None, mediator=False):
    code = code if code is not None else code_for(app, client, m, recipient, mediator)
    image = png_data_url() if image is None else image
    path = f"{m.base}/sign/mediator/submit" if mediator else f"{m.base}/sign/submit"
    return client.post(path, data={"code": code, "signature": image, "typed_name": typed,
                                   "document_hash": doc_hash(app, m) if seen is None else seen},
                       headers={"User-Agent": "TestBrowser/1.0"})


def sign_all_parties(app, m):
    for who in (m.petitioner, m.rep):
        response = sign(app, client_for(app, who), m, who)
        assert response.status_code == 303, text(response)


# --- opening signing ------------------------------------------------------------------------------------------

def test_mediator_opens_signing_on_the_current_version_and_everyone_is_told(app):
    from portal.agreements.drafting import document_hash

    m = build(app)
    for who in (m.petitioner, m.rep, m.stranger_mediator):
        assert client_for(app, who).post(f"{m.base}/signing/open").status_code == 403
    assert agreement_row(app, m.id).status == AgreementStatus.DRAFTING

    mediator = client_for(app, m.mediator)
    response = mediator.post(f"{m.base}/signing/open")
    assert response.status_code == 303 and response.headers["Location"].endswith("#signing")
    agreement = agreement_row(app, m.id)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == m.id))
        expected = document_hash(version)
    assert agreement.status == AgreementStatus.SIGNING and agreement.signing_version == 1
    assert agreement.document_hash == expected and agreement.signing_opened_at is not None
    for who in (m.petitioner, m.rep, m.rep2):
        [message] = outbox(app, who)
        assert "Please sign" in message.subject and f"/agreements/{m.id}/sign" in message.body
        # No 64-character fingerprint in a text message: where to check instead, with the short code.
        assert expected not in message.body and expected[:16] not in message.body
        assert agreement.verification_code in message.body and "/verify" in message.body
    assert any("Signing opened" in msg.subject for msg in outbox(app, m.mediator))
    assert outbox(app, m.outsider) == []
    [event] = audit_events(app, "agreement.signing_opened")
    assert json.loads(event.details)["document_hash"] == expected

    again = mediator.post(f"{m.base}/signing/open", follow_redirects=True)
    assert ("error", "Signing is already open for this agreement.") in flashes(again)
    assert len(audit_events(app, "agreement.signing_opened")) == 1


def test_signing_opens_only_on_a_complete_text(app):
    """People's Mediation Law art. 29: main facts, disputed matters, each party's responsibility, the obligations."""
    m = build(app)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == m.id))
        version.responsibilities = "  "
        version.disputes = ""
        for obligation in list(version.obligations):
            db.delete(obligation)
        db.commit()
    mediator = client_for(app, m.mediator)
    panel = text(mediator.get(f"{m.base}/signing"))
    assert 'id="open-signing"' not in panel and 'id="open-signing-blocked"' in panel
    assert "the disputed matters; each party's responsibility; at least one obligation" in panel
    assert "the main facts" not in panel
    response = mediator.post(f"{m.base}/signing/open", follow_redirects=True)
    [(kind, message)] = [f for f in flashes(response) if f[0] == "error"]
    assert "each party's responsibility" in message and "at least one obligation" in message
    assert agreement_row(app, m.id).status == AgreementStatus.DRAFTING
    assert audit_events(app, "agreement.signing_opened") == []


def test_in_person_id_check_ignores_case_of_x_and_departments_have_no_id_on_file(app):
    m = build(app, petitioner_account=False, open_signing=True)
    with database(app) as db:
        party = db.get(MediationParty, m.applicant_id)
        party.petitioner.id_number = "32010219900101123X"
        db.commit()
    mediator = client_for(app, m.mediator)
    data = {"party": str(m.applicant_id), "id_kind": "resident_id", "id_last4": "123x", "identity_confirmed": "y",
            "signature": png_data_url(), "typed_name": "", "document_hash": doc_hash(app, m)}
    assert mediator.post(f"{m.base}/sign/in-person/submit", data=data).status_code == 303
    assert signatures(app, m.id)[0].identity_document == "居民身份证 ****123X"


def test_signing_cannot_open_without_a_version(app):
    m = build(app)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == m.id))
        db.delete(version)
        db.commit()
    response = client_for(app, m.mediator).post(f"{m.base}/signing/open", follow_redirects=True)
    assert ("error", "Save a draft of the agreement before opening signing.") in flashes(response)
    assert agreement_row(app, m.id).status == AgreementStatus.DRAFTING


# --- the signer's page ----------------------------------------------------------------------------------------

def test_sign_page_is_for_the_parties_only(app):
    m = build(app, open_signing=True)
    for who in (m.petitioner, m.rep, m.rep2):
        page = text(client_for(app, who).get(f"{m.base}/sign"))
        assert doc_hash(app, m) in page and "督促支付拖欠工资人民币三万元" in page and "某公司拖欠陈信访工资三个月。" in page
        assert "Send me a code" in page and 'id="decline-form"' in page
    for who in (m.outsider, m.other_petitioner, m.mediator, m.staff):
        assert client_for(app, who).get(f"{m.base}/sign").status_code == 403
        assert client_for(app, who).post(f"{m.base}/sign/code").status_code == 403
    assert is_login_redirect(app.test_client().get(f"{m.base}/sign"))
    assert client_for(app, m.petitioner).get("/agreements/999999/sign").status_code == 404


def test_sign_page_before_signing_opens_says_so(app):
    m = build(app)
    petitioner = client_for(app, m.petitioner)
    page = text(petitioner.get(f"{m.base}/sign"))
    assert "Signing has not been opened" in page and "Send me a code" not in page
    response = petitioner.post(f"{m.base}/sign/code")
    assert "Signing has not been opened" in text(response)
    assert outbox(app, m.petitioner) == []


def test_party_signs_with_a_code_and_a_drawn_signature(app):
    m = build(app, open_signing=True)
    petitioner = client_for(app, m.petitioner)
    response = petitioner.post(f"{m.base}/sign/code", follow_redirects=True)
    assert any("A code has been sent" in message for _c, message in flashes(response))
    code = last_code(app, m.petitioner)
    response = sign(app, petitioner, m, m.petitioner, code=code)
    assert response.status_code == 303
    [signature] = signatures(app, m.id)
    with database(app) as db:
        from portal.accounts.models import User

        user = db.scalar(select(User).where(User.email == m.petitioner))
    assert signature.role == SignerRole.PARTY and signature.party_id == m.applicant_id
    assert signature.user_id == user.id and signature.department_id is None and signature.signer_name == "陈信访"
    assert signature.status == SignatureStatus.SIGNED and signature.method == SignatureMethod.ONLINE
    assert signature.mark == SignatureMark.DRAWN and signature.image_png.startswith(b"\x89PNG")
    assert signature.document_hash == doc_hash(app, m) and signature.user_agent == "TestBrowser/1.0"
    assert signature.client_address and signature.signed_at is not None
    [event] = audit_events(app, "agreement.signed")
    assert json.loads(event.details)["mark"] == "drawn"

    page = text(petitioner.get(f"{m.base}/sign"))
    assert "Signed on" in page and "Send me a code" not in page
    # One live signature per party: a second attempt is refused.
    again = petitioner.post(f"{m.base}/sign/code")
    assert "陈信访 has already signed this agreement." in text(again)
    again = sign(app, petitioner, m, m.petitioner, code="123456")
    assert "has already signed" in text(again) and len(signatures(app, m.id)) == 1


def test_wrong_or_expired_code_is_refused(app):
    m = build(app, open_signing=True)
    petitioner = client_for(app, m.petitioner)
    code = code_for(app, petitioner, m, m.petitioner)
    wrong = "000000" if code != "000000" else "111111"
    response = sign(app, petitioner, m, m.petitioner, code=wrong)
    assert response.status_code == 200 and field_error(response, "code") == "The code is not correct."
    assert signatures(app, m.id) == []
    response = sign(app, petitioner, m, m.petitioner, code="")
    assert field_error(response, "code") == "Enter the code we sent you."
    with database(app) as db:
        for otc in db.scalars(select(OneTimeCode)):
            otc.expires_at = utcnow() - timedelta(minutes=1)
        db.commit()
    response = sign(app, petitioner, m, m.petitioner, code=code)
    assert "expired" in field_error(response, "code")
    assert signatures(app, m.id) == [] and audit_events(app, "agreement.signed") == []


@pytest.mark.parametrize("image, message", [
    ("data:image/jpeg;base64,/9j/4AAQ", "not a PNG image"),
    ("data:image/png;base64," + base64.b64encode(b"GIF89a" + b"\x00" * 40).decode(), "not a PNG image"),
    ("data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode(), "could not be read"),
    ("data:image/png;base64,!!!notbase64", "could not be read"),
    (png_data_url(blank=True), "empty"),
    ("data:image/png;base64," + "A" * (rules.SIGNATURE_IMAGE_MAX_BYTES * 2), "too large"),
])
def test_invalid_signature_images_are_refused(app, image, message):
    m = build(app, open_signing=True)
    petitioner = client_for(app, m.petitioner)
    code = code_for(app, petitioner, m, m.petitioner)
    response = sign(app, petitioner, m, m.petitioner, code=code, image=image)
    assert response.status_code == 200 and message in field_error(response, "signature")
    assert signatures(app, m.id) == []
    # The code was not used up by the refusal.
    assert sign(app, petitioner, m, m.petitioner, code=code).status_code == 303


def test_typed_name_must_match_the_party(app):
    m = build(app, open_signing=True)
    petitioner = client_for(app, m.petitioner)
    code = code_for(app, petitioner, m, m.petitioner)
    response = sign(app, petitioner, m, m.petitioner, code=code, image="", typed="张三")
    assert "The typed name must be exactly: 陈信访" in field_error(response, "typed_name")
    response = sign(app, petitioner, m, m.petitioner, code=code, image="", typed="")
    assert "Draw your signature, or type your full name." in field_error(response, "typed_name")
    assert signatures(app, m.id) == []
    assert sign(app, petitioner, m, m.petitioner, code=code, image="", typed=" 陈信访 ").status_code == 303
    [signature] = signatures(app, m.id)
    assert signature.mark == SignatureMark.TYPED and signature.typed_name == "陈信访" and signature.image_png is None


def test_a_representative_types_their_own_name_without_the_account_suffix(app):
    m = build(app, open_signing=True)
    with database(app) as db:
        from portal.accounts.models import User
        rep = db.scalar(select(User).where(User.email == m.rep))
        rep.display_name = "李代表（人社局）"
        db.commit()
    client = client_for(app, m.rep)
    page = text(client.get(f"{m.base}/sign"))
    assert "either “" in page and "“李代表（人社局）”" in page and "or “李代表”" in page
    assert "Type exactly" not in page
    code = code_for(app, client, m, m.rep)
    response = sign(app, client, m, m.rep, code=code, image="", typed="王五")
    assert "The typed name must be either" in field_error(response, "typed_name")
    assert sign(app, client, m, m.rep, code=code, image="", typed="李代表").status_code == 303
    [signature] = signatures(app, m.id)
    assert signature.typed_name == "李代表" and signature.mark == SignatureMark.TYPED


def test_a_department_signs_through_one_representative(app):
    m = build(app, open_signing=True)
    rep = client_for(app, m.rep)
    assert sign(app, rep, m, m.rep, image="", typed=m.rep_name).status_code == 303
    [signature] = signatures(app, m.id)
    with database(app) as db:
        department_id = db.get(MediationParty, m.respondent_id).department_id
    assert signature.department_id == department_id and signature.signer_name == m.rep_name
    assert signature.party_id == m.respondent_id
    rep2 = client_for(app, m.rep2)
    assert "has already signed" in text(rep2.post(f"{m.base}/sign/code"))
    assert "has already signed" in text(sign(app, rep2, m, m.rep2, code="123456"))
    assert len(signatures(app, m.id)) == 1
    panel = text(rep2.get(f"{m.base}/signing"))
    assert f"by {m.rep_name} on behalf of the department" in panel


def test_a_signature_on_a_changed_text_is_refused(app):
    m = build(app, open_signing=True)
    petitioner = client_for(app, m.petitioner)
    code = code_for(app, petitioner, m, m.petitioner)
    response = sign(app, petitioner, m, m.petitioner, code=code, seen="0" * 64)
    assert "The text has changed since you opened this page" in form_errors(response)
    assert signatures(app, m.id) == []


# --- declining ------------------------------------------------------------------------------------------------

def test_decline_needs_a_reason_then_returns_to_drafting_and_voids(app):
    m = build(app, open_signing=True)
    assert sign(app, client_for(app, m.petitioner), m, m.petitioner).status_code == 303
    rep = client_for(app, m.rep)
    response = rep.post(f"{m.base}/decline", data={"reason": "  "})
    assert response.status_code == 200 and "Say why you decline" in field_error(response, "reason")
    assert agreement_row(app, m.id).status == AgreementStatus.SIGNING
    before = len(outbox(app, m.petitioner))

    response = rep.post(f"{m.base}/decline", data={"reason": "第一项履行期限太短。"})
    assert response.status_code == 303
    agreement = agreement_row(app, m.id)
    assert agreement.status == AgreementStatus.DRAFTING and agreement.document_hash == ""
    assert agreement.signing_version is None
    rows = signatures(app, m.id)
    assert [r.status for r in rows] == [SignatureStatus.SIGNED, SignatureStatus.DECLINED]
    assert all(r.voided_at is not None for r in rows) and rows[1].decline_reason == "第一项履行期限太短。"
    assert any("declined" in msg.body and "第一项履行期限太短。" in msg.body for msg in outbox(app, m.mediator))
    assert len(outbox(app, m.petitioner)) == before + 1
    notice = outbox(app, m.petitioner)[-1]
    assert "Signing stopped" in notice.subject and "第一项履行期限太短。" in notice.body
    assert f"/agreements/{m.id}" in notice.body and "now void" in notice.body
    assert "are now void" in " ".join(message for _kind, message in flashes(rep.get(location(response))))
    [event] = audit_events(app, "agreement.declined")
    assert json.loads(event.details)["reason"] == "第一项履行期限太短。"
    # The mediator sees why, and may open signing again.
    page = text(client_for(app, m.mediator).get(f"{m.base}/signing"))
    assert "第一项履行期限太短。" in page and 'id="open-signing"' in page
    # Nothing more to sign or decline now.
    assert "Signing has not been opened" in text(rep.post(f"{m.base}/decline", data={"reason": "再次"}))


def test_only_parties_decline(app):
    m = build(app, open_signing=True)
    for who in (m.mediator, m.outsider, m.other_petitioner):
        assert client_for(app, who).post(f"{m.base}/decline", data={"reason": "x"}).status_code == 403
    assert agreement_row(app, m.id).status == AgreementStatus.SIGNING


# --- in person ------------------------------------------------------------------------------------------------

def test_in_person_signature_records_the_identity_check(app):
    m = build(app, petitioner_account=False, open_signing=True)
    mediator = client_for(app, m.mediator)
    page = text(mediator.get(f"{m.base}/sign/in-person"))
    assert "claim the case" in page and "陈信访" in page and 'id="in-person-form"' in page
    panel = text(mediator.get(f"{m.base}/signing"))
    assert "No account: signs in person" in panel

    base = {"party": str(m.applicant_id), "id_kind": "resident_id", "id_last4": "1234", "identity_confirmed": "y",
            "signature": png_data_url(), "typed_name": "", "document_hash": doc_hash(app, m)}
    response = mediator.post(f"{m.base}/sign/in-person/submit", data={**base, "id_kind": ""})
    assert "Choose the kind of identity document" in field_error(response, "id_kind")
    response = mediator.post(f"{m.base}/sign/in-person/submit", data={**base, "id_last4": "12"})
    assert "last four characters" in field_error(response, "id_last4")
    response = mediator.post(f"{m.base}/sign/in-person/submit", data={**base, "id_last4": "123X"})
    error = field_error(response, "id_last4")
    assert "do not match the ID number on file for 陈信访" in error
    assert "320102199001011234" not in text(response)
    response = mediator.post(f"{m.base}/sign/in-person/submit", data={**base, "identity_confirmed": ""})
    assert "Confirm that you checked" in field_error(response, "identity_confirmed")
    response = mediator.post(f"{m.base}/sign/in-person/submit", data={**base, "signature": "", "typed_name": "别人"})
    assert "must be exactly: 陈信访" in field_error(response, "typed_name")
    assert signatures(app, m.id) == []

    assert mediator.post(f"{m.base}/sign/in-person/submit", data=base).status_code == 303
    [signature] = signatures(app, m.id)
    assert signature.method == SignatureMethod.IN_PERSON and signature.identity_checked_by_id == m.mediator_id
    assert signature.identity_document == "居民身份证 ****1234" and signature.user_id is None
    assert signature.mark == SignatureMark.DRAWN and signature.signer_name == "陈信访"
    panel = text(mediator.get(f"{m.base}/signing"))
    assert "checked by 王调解" in panel and "Signed in person" in panel

    response = mediator.post(f"{m.base}/sign/in-person/submit", data=base)
    assert "has already signed" in text(response) and len(signatures(app, m.id)) == 1


def test_in_person_for_a_department_names_who_signs_and_only_mediators_use_it(app):
    m = build(app, open_signing=True)
    for who in (m.petitioner, m.rep, m.stranger_mediator):
        assert client_for(app, who).get(f"{m.base}/sign/in-person").status_code == 403
        assert client_for(app, who).post(f"{m.base}/sign/in-person/submit", data={}).status_code == 403
    mediator = client_for(app, m.mediator)
    data = {"party": str(m.respondent_id), "id_kind": "resident_id", "id_last4": "5678", "identity_confirmed": "y",
            "signature": "", "typed_name": "孙科长", "signer_name": "", "document_hash": doc_hash(app, m)}
    response = mediator.post(f"{m.base}/sign/in-person/submit", data=data)
    assert "Enter the name of the person signing" in field_error(response, "signer_name")
    assert mediator.post(f"{m.base}/sign/in-person/submit", data={**data, "signer_name": "孙科长"}).status_code == 303
    [signature] = signatures(app, m.id)
    assert signature.signer_name == "孙科长" and signature.mark == SignatureMark.TYPED
    assert signature.department_id is not None and signature.method == SignatureMethod.IN_PERSON


# --- the order: parties, mediator, seal -----------------------------------------------------------------------

def test_mediator_signs_after_the_parties_then_the_seal_fixes_the_effective_date(app):
    m = build(app, open_signing=True)
    mediator = client_for(app, m.mediator)
    # Out of order: the mediator first, the seal first.
    assert "The mediator signs after every party has signed." in text(mediator.get(f"{m.base}/sign/mediator"))
    response = mediator.post(f"{m.base}/sign/mediator/code")
    assert "The mediator signs after every party has signed." in text(response)
    response = sign(app, mediator, m, m.mediator, code="123456", mediator=True)
    assert "The mediator signs after every party has signed." in text(response)
    response = mediator.post(f"{m.base}/seal", data={"document_hash": doc_hash(app, m)}, follow_redirects=True)
    assert any("every party must sign first" in message for _c, message in flashes(response))
    assert signatures(app, m.id) == []

    sign_all_parties(app, m)
    assert any("All parties have signed" in msg.subject for msg in outbox(app, m.mediator))
    # Who may sign as mediator: assigned mediators only.
    for who in (m.colleague, m.stranger_mediator):
        assert client_for(app, who).get(f"{m.base}/sign/mediator").status_code == 403
    for who in (m.petitioner, m.rep):
        assert client_for(app, who).get(f"{m.base}/sign/mediator").status_code == 403
        assert client_for(app, who).post(f"{m.base}/seal").status_code == 403
    response = mediator.post(f"{m.base}/seal", data={"document_hash": doc_hash(app, m)}, follow_redirects=True)
    assert any("the mediator must sign first" in message for _c, message in flashes(response))

    page = text(mediator.get(f"{m.base}/sign/mediator"))
    assert "Send me a code" in page
    response = sign(app, mediator, m, m.mediator, mediator=True, image="", typed="别人")
    assert "must be exactly: 王调解" in field_error(response, "typed_name")
    response = sign(app, mediator, m, m.mediator, mediator=True, image="", typed=m.mediator_name)
    assert response.status_code == 303
    mediator_signature = [s for s in signatures(app, m.id) if s.role == SignerRole.MEDIATOR]
    assert len(mediator_signature) == 1 and mediator_signature[0].user_id == m.mediator_id

    # The seal needs the committee's seal image.
    panel = text(mediator.get(f"{m.base}/signing"))
    assert "has no seal image yet" in panel and 'id="apply-seal"' not in panel
    response = mediator.post(f"{m.base}/seal", data={"document_hash": doc_hash(app, m)}, follow_redirects=True)
    assert any("An administrator must upload it" in message for _c, message in flashes(response))
    assert agreement_row(app, m.id).status == AgreementStatus.SIGNING
    with database(app) as db:
        db.add(CommitteeSeal(department_id=m.committee_id, stored_name=uuid.uuid4().hex, original_name="seal.png",
                             content_type="image/png", size=10, sha256="0" * 64))
        db.commit()
    assert client_for(app, m.stranger_mediator).post(f"{m.base}/seal").status_code == 403
    # A mediator of the committee (not necessarily the one who signed) applies the seal.
    colleague = client_for(app, m.colleague)
    before = text(colleague.get(f"{m.base}/signing"))
    assert 'id="apply-seal"' in before
    assert "Document fingerprint (SHA-256)" in before and "signed document" not in before
    assert "hash" not in before.split('id="signing-hash"')[0].split("<p")[-1].lower()
    response = colleague.post(f"{m.base}/seal", data={"document_hash": doc_hash(app, m)})
    assert response.status_code == 303
    sealed_page = colleague.get(location(response))
    sealed_flash = [message for _c, message in flashes(sealed_page) if "committee seal is applied" in message]
    assert sealed_flash and today().isoformat() not in sealed_flash[0]  # the date as the reader writes it
    # once sealed: the fingerprint of the signed document, not one "being signed"
    after = text(colleague.get(f"{m.base}/signing"))
    assert "Fingerprint of the signed document (SHA-256)" in after and "being signed" not in after
    assert 'id="preview-pdf"' in text(client_for(app, m.petitioner).get(f"/agreements/{m.id}/sign")) or \
        agreement_row(app, m.id).status == AgreementStatus.EFFECTIVE
    if agreement_row(app, m.id).status == AgreementStatus.EFFECTIVE:  # no draft preview once in effect
        assert 'id="preview-pdf"' not in text(client_for(app, m.petitioner).get(f"/agreements/{m.id}/sign"))
    agreement = agreement_row(app, m.id)
    assert agreement.status in (AgreementStatus.SEALING, AgreementStatus.EFFECTIVE)
    assert agreement.effective_on == today() and agreement.effective_at is not None
    [seal] = [s for s in signatures(app, m.id) if s.role == SignerRole.COMMITTEE]
    assert seal.mark == SignatureMark.SEAL and seal.signer_name == m.committee_name
    assert seal.department_id == m.committee_id
    assert len(audit_events(app, "agreement.seal_applied")) == 1
    again = colleague.post(f"{m.base}/seal", data={"document_hash": doc_hash(app, m)}, follow_redirects=True)
    assert any("can no longer be signed" in message for _c, message in flashes(again))
    assert len([s for s in signatures(app, m.id) if s.role == SignerRole.COMMITTEE]) == 1


def test_a_text_change_voids_the_signatures(app):
    from portal.agreements.services import load_agreement, void_signatures

    m = build(app, open_signing=True)
    sign_all_parties(app, m)
    with database(app) as db:
        void_signatures(load_agreement(m.id))
        db.commit()
    assert all(s.voided_at is not None for s in signatures(app, m.id))
    assert agreement_row(app, m.id).status == AgreementStatus.DRAFTING
    # Opened again on the same text: nobody counts as signed.
    assert client_for(app, m.mediator).post(f"{m.base}/signing/open").status_code == 303
    page = text(client_for(app, m.petitioner).get(f"{m.base}/sign"))
    assert "Send me a code" in page and "Signed on" not in page


# --- reminders ------------------------------------------------------------------------------------------------

def test_daily_reminders_reach_each_pending_signer_once_per_period(app):
    from portal.agreements.signing import remind_pending_signers

    m = build(app, open_signing=True)
    assert sign(app, client_for(app, m.petitioner), m, m.petitioner).status_code == 303
    opened = agreement_row(app, m.id).signing_opened_at
    with database(app):
        assert remind_pending_signers(now=opened + timedelta(days=1)) == 0  # too early
    with database(app):
        assert remind_pending_signers(now=opened + timedelta(days=rules.SIGNING_REMINDER_DAYS, hours=1)) == 1
    reminders = [msg for msg in outbox(app, m.rep) if "Reminder" in msg.subject]
    assert len(reminders) == 1 and [msg for msg in outbox(app, m.rep2) if "Reminder" in msg.subject]
    assert not [msg for msg in outbox(app, m.petitioner) if "Reminder" in msg.subject]
    with database(app):
        assert remind_pending_signers(now=opened + timedelta(days=rules.SIGNING_REMINDER_DAYS, hours=5)) == 0
    with database(app):
        assert remind_pending_signers(now=opened + timedelta(days=2 * rules.SIGNING_REMINDER_DAYS, hours=2)) == 1
    assert count(app, AgreementReminder, AgreementReminder.agreement_id == m.id) == 2


def test_mediator_reminds_pending_signers_from_the_panel(app):
    m = build(app, open_signing=True)
    for who in (m.petitioner, m.rep, m.stranger_mediator):
        assert client_for(app, who).post(f"{m.base}/signing/remind").status_code == 403
    mediator = client_for(app, m.mediator)
    assert 'id="remind-signers"' in text(mediator.get(f"{m.base}/signing"))
    response = mediator.post(f"{m.base}/signing/remind", follow_redirects=True)
    assert ("success", "2 pending signer(s) reminded.") in flashes(response)
    assert len([msg for msg in outbox(app, m.petitioner) if "Reminder" in msg.subject]) == 1
    response = mediator.post(f"{m.base}/signing/remind", follow_redirects=True)
    assert any("Nobody was reminded" in message for _c, message in flashes(response))
    assert len([msg for msg in outbox(app, m.petitioner) if "Reminder" in msg.subject]) == 1
    assert len(audit_events(app, "agreement.signers_reminded")) == 1


# --- the panel and the queries ----------------------------------------------------------------------------------

def test_panel_shows_each_signer_and_the_actions_of_the_viewer(app):
    m = build(app)
    mediator = client_for(app, m.mediator)
    page = text(mediator.get(f"{m.base}/signing"))
    assert 'id="open-signing"' in page and "Signing is not open yet" in page
    assert 'id="open-signing"' not in text(client_for(app, m.petitioner).get(f"{m.base}/signing"))
    assert client_for(app, m.outsider).get(f"{m.base}/signing").status_code == 403
    assert mediator.post(f"{m.base}/signing/open").status_code == 303
    page = text(client_for(app, m.petitioner).get(f"{m.base}/signing"))
    assert doc_hash(app, m) in page and 'id="sign-link"' in page and "Awaiting signature" in page
    assert 'id="remind-signers"' not in page and 'id="in-person-link"' not in page
    page = text(mediator.get(f"{m.base}/signing"))
    assert 'id="in-person-link"' in page and 'id="remind-signers"' in page and 'id="sign-link"' not in page
    fragment = mediator.get(f"{m.base}/signing", headers={"HX-Request": "true"})
    assert "<html" not in fragment.get_data(as_text=True) and 'id="signing"' in text(fragment)


def test_agreement_page_includes_the_panel(app):
    m = build(app, open_signing=True)
    response = client_for(app, m.petitioner).get(m.base)
    if response.status_code == 404:
        pytest.skip("the agreement page is not installed")
    assert 'id="signing"' in text(response) and 'id="sign-link"' in text(response)


def test_sign_page_queries_do_not_grow_with_parties_or_signatures(app, count_queries):
    def measure(extra: int) -> int:
        m = build(app, extra_departments=extra, open_signing=True)
        sign_all = [m.rep, *m.extra_reps]
        for who in sign_all:
            assert sign(app, client_for(app, who), m, who, image="", typed="").status_code == 200  # refused
        for who in sign_all:
            with database(app) as db:
                from portal.accounts.models import User

                name = db.scalar(select(User.display_name).where(User.email == who))
            assert sign(app, client_for(app, who), m, who, image="", typed=name).status_code == 303
        petitioner = client_for(app, m.petitioner)
        petitioner.get(f"{m.base}/sign")
        with count_queries() as counter:
            assert petitioner.get(f"{m.base}/sign").status_code == 200
        return counter.count

    assert measure(0) == measure(3)
