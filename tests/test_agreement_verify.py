"""The public verification page: the issued PDF is authentic with valid signatures, a one-byte change is not, a
foreign PDF, garbage, a too large file and a wrong type are answered clearly; the short code and the QR link show
the same facts; the agreement's content is never shown; the page is rate-limited."""
from __future__ import annotations

import hashlib
import io
import itertools
import secrets
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from weasyprint import HTML

from portal import config as portal_config, create_app, rules
from portal.accounts.models import DepartmentKind, Role
from portal.agreements.models import (
    Agreement,
    AgreementObligation,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    SealStatus,
    SignatureMark,
    SignatureMethod,
    SignerRole,
)
from portal.extensions import limiter
from portal.mediation.models import MediationMediator, MediationParty, MediationReferral, MediationStatus, PartySide
from portal.timeutil import today, utcnow
from tests.conftest import PortalClient, login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import catalog, database, field_error, form_errors, switch_language, text

FACTS = "申请人在被申请人处工作期间被拖欠工资三个月（保密事实）。"
OBLIGATION = "被申请人于十日内一次性支付拖欠工资人民币叁万元整（保密条款）。"
ID_NUMBER = "320102199001011234"
_builds = itertools.count(1)


@pytest.fixture(autouse=True)
def folders(_app, tmp_path, monkeypatch):
    """Keys and uploads of each test in folders of their own (the app is shared by the whole run)."""
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(_app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))
    return tmp_path


def small_pdf(title: str) -> bytes:
    return HTML(string=f"<html><body><h1>{title}</h1><p>{FACTS}</p><p>{OBLIGATION}</p></body></html>").write_pdf()


def build_agreement(app, *, effective_days_ago: int = 0, sealed: bool = True, due_in: tuple[int, ...] = (10,),
                    status: AgreementStatus = AgreementStatus.EFFECTIVE):
    """An effective agreement: a petitioner party with an account, a department party with its representative,
    the committee's mediator, every signature, a sealed PDF (its hash on the row) and obligations of the
    department due in `due_in` days. Plus people who take no part."""
    from portal.agreements.documents import seal_pdf

    n = next(_builds)
    with database(app) as db:
        committee = make_department(name=f"东区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department(name=f"西区人民调解委员会{n}", kind=DepartmentKind.MEDIATION_COMMITTEE)
        court = make_department(name=f"东区人民法院{n}", kind=DepartmentKind.COURT)
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
        case = make_case(petitioner_user=petitioner, id_number=ID_NUMBER)
        matter = MediationReferral(case_id=case.id, committee_id=committee.id, status=MediationStatus.AGREEMENT)
        applicant = MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                                   consent_on=date.today(), consent_how="书面同意")
        department_party = MediationParty(side=PartySide.RESPONDENT, department_id=respondent.id,
                                          name=respondent.name, consent_on=date.today(), consent_how="函复同意")
        matter.parties = [applicant, department_party]
        matter.mediators = [MediationMediator(user_id=mediator.id)]
        db.add(matter)
        db.flush()
        effective_on = today() - timedelta(days=effective_days_ago)
        agreement = Agreement(referral_id=matter.id, number=f"东调协〔2026〕{n:04d}号",
                              verification_code=secrets.token_hex(4).upper(), status=status,
                              signing_version=1, document_hash=hashlib.sha256(f"text{n}".encode()).hexdigest(),
                              effective_on=effective_on if status == AgreementStatus.EFFECTIVE else None,
                              effective_at=utcnow() if status == AgreementStatus.EFFECTIVE else None,
                              created_by_id=mediator.id)
        db.add(agreement)
        db.flush()
        version = AgreementVersion(agreement_id=agreement.id, number=1, facts=FACTS, disputes="工资数额",
                                   responsibilities="被申请人负主要责任", created_by_id=mediator.id)
        version.obligations = [
            AgreementObligation(position=i + 1, party_id=department_party.id, what=f"{OBLIGATION}（第{i + 1}项）",
                                manner="银行转账", place="Y市", due_on=today() + timedelta(days=days))
            for i, days in enumerate(due_in)]
        db.add(version)
        signed = utcnow() - timedelta(hours=2)
        for role, party, user, department, name in (
                (SignerRole.PARTY, applicant, petitioner, None, "陈信访"),
                (SignerRole.PARTY, department_party, rep, respondent, "李代表"),
                (SignerRole.MEDIATOR, None, mediator, None, "王调解"),
                (SignerRole.COMMITTEE, None, mediator, committee, committee.name)):
            db.add(AgreementSignature(agreement_id=agreement.id, role=role, party_id=party.id if party else None,
                                      user_id=user.id, department_id=department.id if department else None,
                                      signer_name=name, method=SignatureMethod.ONLINE,
                                      mark=SignatureMark.SEAL if role == SignerRole.COMMITTEE else SignatureMark.TYPED,
                                      typed_name=name, document_hash=agreement.document_hash, signed_at=signed))
            signed += timedelta(minutes=10)
        pdf = None
        if sealed and status == AgreementStatus.EFFECTIVE:
            pdf = seal_pdf(small_pdf(agreement.number), committee)
            agreement.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
            agreement.pdf_stored_name = f"{secrets.token_hex(16)}.pdf"
            agreement.pdf_size = len(pdf)
            agreement.seal_status = SealStatus.DONE
        db.commit()
        return SimpleNamespace(
            id=agreement.id, number=agreement.number, code=agreement.verification_code, pdf=pdf,
            matter_id=matter.id, committee_id=committee.id, court_id=court.id, court_name=court.name,
            applicant_id=applicant.id, department_party_id=department_party.id, respondent_name=respondent.name,
            obligation_ids=[o.id for o in version.obligations], effective_on=effective_on,
            mediator=mediator.login, other_mediator=other_mediator.login, petitioner=petitioner.login,
            rep=rep.login, outsider=outsider.login, staff=staff.login, leader=leader.login, admin=admin.login,
            other_petitioner=other_petitioner.login)


def client_for(app, user_login: str | None = None) -> PortalClient:
    client = app.test_client()
    if user_login:
        assert login(client, user_login, PASSWORD).status_code == 303
    else:
        switch_language(client, "en")  # the public page reads in English for these checks
    return client


def upload(client, data: bytes, name: str = "agreement.pdf", headers=None):
    return client.post("/verify", data={"document": (io.BytesIO(data), name), "code": ""},
                       content_type="multipart/form-data", headers=headers or {})


def assert_no_content(page: str) -> None:
    assert FACTS not in page and OBLIGATION[:10] not in page and ID_NUMBER not in page
    assert "银行转账" not in page and "被申请人负主要责任" not in page


# --- the uploaded file ----------------------------------------------------------------------------------------

def test_the_issued_file_is_authentic_with_valid_signatures_and_who_signed_when(app):
    a = build_agreement(app)
    response = upload(client_for(app), a.pdf)
    page = text(response)
    assert response.status_code == 200
    assert "Authentic." in page and "Not authentic" not in page
    assert a.number in page and "Intact" in page and "Valid signature" in page
    assert "Certificate held by the portal" in page
    assert "self-signed certificate" in page  # said plainly: not publicly trusted
    for name in ("陈信访", a.respondent_name, "王调解", "东区人民调解委员会"):
        assert name in page
    assert "李代表" in page  # the representative who signed for the department
    assert a.effective_on.strftime("%Y") in page
    assert_no_content(page)


def test_one_changed_byte_is_not_authentic(app):
    a = build_agreement(app)
    changed = bytearray(a.pdf)
    position = a.pdf.index(b"/Type /Page") if b"/Type /Page" in a.pdf else len(a.pdf) // 3
    changed[position + 2] ^= 0x01
    page = text(upload(client_for(app), bytes(changed)))
    assert "Not authentic." in page and "Authentic." not in page.replace("Not authentic.", "")
    assert "No: no issued file is identical" in page
    assert_no_content(page)


def test_a_byte_changed_inside_the_signed_content_breaks_the_signature(app):
    a = build_agreement(app)
    changed = bytearray(a.pdf)
    changed[200] ^= 0x01  # inside the first revision, covered by the seal
    page = text(upload(client_for(app), bytes(changed)))
    assert "Not authentic." in page
    assert "Not intact: the signed content was changed" in page and "No: no issued file is identical" in page
    # Neither the overall verdict nor any signature row calls a changed signature valid.
    assert "Valid signature" not in page and "Signature not valid for this file" in page
    assert "Authentic." not in page.replace("Not authentic.", "")


def test_a_pdf_the_portal_never_issued(app):
    build_agreement(app)
    page = text(upload(client_for(app), small_pdf("别的文件")))
    assert "Not authentic." in page and "carries no digital signature" in page


def test_garbage_with_a_pdf_name_is_refused_without_an_error_page(app):
    response = upload(client_for(app), b"this is not a pdf at all" * 10)
    assert response.status_code == 200
    assert "Only PDF files can be checked" in field_error(response, "document")


def test_a_broken_pdf_is_answered_clearly(app):
    response = upload(client_for(app), b"%PDF-1.7\n" + secrets.token_bytes(2000))
    assert response.status_code == 200
    assert "cannot be read as a PDF" in text(response) or "carries no digital signature" in text(response)


def test_wrong_type_and_empty_and_too_big_are_refused(app, monkeypatch):
    client = client_for(app)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    assert "Only PDF files" in field_error(upload(client, png, "photo.png"), "document")
    assert "Only PDF files" in field_error(upload(client, small_pdf("x"), "agreement.docx"), "document")
    assert "empty" in field_error(upload(client, b""), "document") or \
        "Choose the PDF file" in text(upload(client, b""))
    # Beyond what a request may carry at all (the portal's upload limit): the friendly "too large" page.
    huge = upload(client, b"%PDF-1.4\n" + b"0" * rules.VERIFY_UPLOAD_MAX_BYTES)
    assert huge.status_code == 413 and "The upload is larger than the portal accepts." in text(huge)
    monkeypatch.setattr(rules, "VERIFY_UPLOAD_MAX_BYTES", 4096)
    big = upload(client, b"%PDF-1.4\n" + b"0" * 5000)
    assert big.status_code == 200 and "larger than 0.00390625 MB" in field_error(big, "document")


def test_nothing_chosen_asks_for_a_file_or_a_code(app):
    response = client_for(app).post("/verify", data={"code": ""}, content_type="multipart/form-data")
    assert "Choose the PDF file of the agreement, or enter the code." in form_errors(response)


def test_htmx_gets_only_the_result_fragment(app):
    a = build_agreement(app)
    response = upload(client_for(app), a.pdf, headers={"HX-Request": "true"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="verify"' in body
    assert "Authentic." in text(response)


# --- the short code and the QR link ---------------------------------------------------------------------------

def test_the_code_page_shows_the_same_facts_and_no_content(app):
    a = build_agreement(app)
    response = client_for(app).get(f"/verify/{a.code}")
    page = text(response)
    assert response.status_code == 200
    assert a.number in page and "陈信访" in page and "王调解" in page and a.respondent_name in page
    assert "Authentic." not in page  # no file was compared
    assert_no_content(page)
    # lower case and a separator are forgiven
    assert client_for(app).get(f"/verify/{a.code[:4].lower()}-{a.code[4:].lower()}").status_code == 200


def test_the_code_form_redirects_to_the_code_page(app):
    a = build_agreement(app)
    response = client_for(app).post("/verify", data={"code": a.code.lower()}, content_type="multipart/form-data")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/verify/{a.code}")


def test_an_unknown_code_or_an_agreement_not_yet_in_effect(app):
    a = build_agreement(app, status=AgreementStatus.SIGNING)
    for code in ("ZZZZ9999", a.code):
        response = client_for(app).get(f"/verify/{code}")
        assert response.status_code == 404
        assert "No agreement issued by the portal has this verification code" in text(response)


def test_content_is_not_shown_even_to_a_signed_in_party(app):
    a = build_agreement(app)
    client = client_for(app, a.petitioner)
    assert_no_content(text(client.get(f"/verify/{a.code}")))
    assert_no_content(text(upload(client, a.pdf)))


def test_the_page_is_public_and_linked_from_every_page(app):
    page = text(client_for(app).get("/verify"))
    assert "Verify a mediation agreement" in page
    assert 'href="/verify"' in text(client_for(app).get("/login"))


# --- rate limit -------------------------------------------------------------------------------------------------

def test_verification_is_rate_limited_per_address(app, database_url, monkeypatch):
    from portal.agreements import views_verify

    assert getattr(views_verify.verify, "access_rule", None) == "public"
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    limited = create_app({**portal_config.testing(database_url), "RATELIMIT_ENABLED": True,
                          "PORTAL_VERIFY_RATE_LIMIT": "2 per minute"})
    limited.test_client_class = PortalClient
    client = limited.test_client()
    client.environ_base["REMOTE_ADDR"] = "192.0.2.77"
    for _ in range(2):
        assert client.get("/verify/ZZZZ0000").status_code == 404
    assert client.get("/verify/ZZZZ0000").status_code == 429
    other = limited.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.78"
    assert other.get("/verify/ZZZZ0000").status_code == 404


def test_the_code_page_runs_a_fixed_number_of_queries(app, count_queries):
    small = build_agreement(app)
    client = client_for(app)
    client.get(f"/verify/{small.code}")
    with count_queries() as first:
        client.get(f"/verify/{small.code}")
    big = build_agreement(app, due_in=(5, 10, 15, 20, 25))
    client.get(f"/verify/{big.code}")
    with count_queries() as second:
        client.get(f"/verify/{big.code}")
    assert first.count == second.count


def test_a_signature_by_a_certificate_the_portal_does_not_hold_is_not_trusted(app):
    from portal.agreements.models import CommitteeCertificate

    a = build_agreement(app)
    with database(app) as db:  # the certificate is no longer the portal's (e.g. replaced and removed)
        db.delete(db.get(CommitteeCertificate, a.committee_id))
        db.commit()
    page = text(upload(client_for(app), a.pdf))
    assert "Not authentic." in page and "signatures do not check out" in page
    assert "Certificate unknown to the portal" in page and "Yes: the file is identical" in page
    assert "东区人民调解委员会" in page  # the certificate's common name


def test_the_page_shows_the_file_fingerprint(app):
    a = build_agreement(app)
    page = text(upload(client_for(app), a.pdf)).replace("<wbr>", "")
    assert hashlib.sha256(a.pdf).hexdigest() in page


def test_the_issued_download_is_authentic_and_not_after_one_changed_byte(app, monkeypatch):
    """The whole way: the committee seal starts the generation, the petitioner downloads the copy, anyone checks it."""
    from portal.agreements import documents

    monkeypatch.setitem(app.config, "PORTAL_TSA_URL", "")
    monkeypatch.setitem(app.config, "PORTAL_AGREEMENT_SEAL_INLINE", True)
    a = build_agreement(app, status=AgreementStatus.SEALING)
    with database(app) as db:
        documents.start_sealing(db.get(Agreement, a.id))
        db.commit()
    with database(app) as db:
        agreement = db.get(Agreement, a.id)
        assert agreement.status == AgreementStatus.EFFECTIVE, agreement.seal_error
        code = agreement.verification_code
    download = client_for(app, a.petitioner).get(f"/agreements/{a.id}/document.pdf")
    assert download.status_code == 200
    data = download.get_data()
    page = text(upload(client_for(app), data))
    assert "Authentic." in page and "Not authentic" not in page and a.number in page
    assert_no_content(page)
    changed = bytearray(data)
    changed[len(data) // 2] ^= 0x01
    assert "Not authentic." in text(upload(client_for(app), bytes(changed)))
    code_page = text(client_for(app).get(f"/verify/{code}"))
    assert a.number in code_page and "陈信访" in code_page
    assert_no_content(code_page)


def test_a_party_gets_a_link_to_the_agreement_others_do_not(app):
    a = build_agreement(app)
    if "agreements.agreement" not in app.view_functions:
        pytest.skip("the agreement page is not there")
    link = f'href="/agreements/{a.id}"'
    assert link in client_for(app, a.petitioner).get(f"/verify/{a.code}").get_data(as_text=True)
    assert link not in client_for(app).get(f"/verify/{a.code}").get_data(as_text=True)
    assert link not in client_for(app, a.outsider).get(f"/verify/{a.code}").get_data(as_text=True)
