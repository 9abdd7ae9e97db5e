"""The sealed agreement PDF: the committee's self-signed certificate made once and reused, the PAdES seal that
validates (and fails after one changed byte), a timestamp authority that does not answer (failed loudly, nothing
issued, another try), generation in the background with the self-polling status fragment, the copies per role,
and query counts."""
from __future__ import annotations

import io
import itertools
import json
import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.agreements import documents
from portal.agreements.certificates import decrypt_passphrase
from portal.agreements.models import (
    Agreement,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    CommitteeCertificate,
    SealStatus,
    SignatureStatus,
    SignerRole,
)
from portal.extensions import db as _db
from portal.mediation.models import MediationMediator, MediationParty, MediationReferral, MediationStatus, PartySide
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import audit_events, catalog, database, is_login_redirect, outbox, text

HTMX = {"HX-Request": "true"}
_builds = itertools.count(1)


def png_bytes(size=(40, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", size, (200, 0, 0, 180)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def folders(_app, tmp_path, monkeypatch):
    """Uploads and keys of each test go to folders of their own (the app is shared by the whole run)."""
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(_app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))
    monkeypatch.setitem(_app.config, "PORTAL_TSA_URL", "")
    monkeypatch.setitem(_app.config, "PORTAL_AGREEMENT_SEAL_INLINE", True)
    return SimpleNamespace(uploads=tmp_path / "uploads", keys=tmp_path / "keys")


@pytest.fixture(autouse=True)
def layout(request, monkeypatch):
    """The document's layout belongs to drafting (tested there); here a small Chinese page with the names, terms
    and seal, except for tests that ask for real_layout."""
    if "real_layout" in request.fixturenames:
        return

    def document_html(agreement):
        names = "、".join(p.name for p in agreement.referral.parties)
        seal = documents.seal_image_data_uri(agreement.referral.committee_id)
        image = f'<img src="{seal}" style="width:3cm">' if seal else ""
        return (f"<html style='font-family: \"Noto Sans CJK SC\", sans-serif'><body><h1>人民调解协议书</h1>"
                f"<p>编号：{agreement.number}</p><p>当事人：{names}</p><p>被申请人于2026年12月31日前支付工资。</p>"
                f"{image}</body></html>")

    monkeypatch.setattr(documents, "document_html", document_html)


def build(app, *, committee=None, seal_image: bool = False, more_departments: int = 0):
    """A matter ended with an agreement, its agreement signed by both parties and the mediator, status sealing."""
    n = next(_builds)
    with database(app) as db:
        from portal.accounts.models import Department

        committee_row = (db.get(Department, committee) if committee is not None else make_department(
            name=f"东区人民调解委员会{n}-{uuid.uuid4().hex[:4]}", kind=DepartmentKind.MEDIATION_COMMITTEE))
        mediator = make_user(Role.MEDIATOR, committee_row, name="王调解", locale="en")
        other_mediator = make_user(Role.MEDIATOR, make_department(kind=DepartmentKind.MEDIATION_COMMITTEE),
                                   locale="en")
        petitioner = make_user(Role.PETITIONER, name="陈信访", locale="en")
        respondent = make_department(name=f"区人力资源和社会保障局{n}-{uuid.uuid4().hex[:4]}")
        rep = make_user(Role.DEPARTMENT_REP, respondent, name="李代表", locale="en")
        outsider = make_user(Role.DEPARTMENT_REP, make_department(), locale="en")
        staff = make_user(Role.STAFF, make_department(), locale="en")
        leader = make_user(Role.LEADER, locale="en")
        admin = make_user(Role.ADMIN, locale="en")
        other_petitioner = make_user(Role.PETITIONER, locale="en")
        case = make_case(petitioner_user=petitioner)
        matter = MediationReferral(case_id=case.id, committee_id=committee_row.id, room="第一调解室",
                                   status=MediationStatus.AGREEMENT)
        matter.parties = [
            MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                           consent_on=date.today(), consent_how="书面同意"),
            MediationParty(side=PartySide.RESPONDENT, department_id=respondent.id, name=respondent.name,
                           consent_on=date.today(), consent_how="函复同意"),
        ]
        extra = []
        for k in range(more_departments):
            department = make_department(name=f"其他部门{n}-{k}-{uuid.uuid4().hex[:4]}")
            extra.append((department, make_user(Role.DEPARTMENT_REP, department, locale="en")))
            matter.parties.append(MediationParty(side=PartySide.RESPONDENT, department_id=department.id,
                                                 name=department.name, consent_on=date.today(), consent_how="函复"))
        matter.mediators = [MediationMediator(user_id=mediator.id)]
        db.add(matter)
        db.flush()
        agreement = Agreement(referral_id=matter.id, number=f"DQ-2026-{n:04d}-{uuid.uuid4().hex[:4]}",
                              verification_code=uuid.uuid4().hex[:12], status=AgreementStatus.SEALING,
                              signing_version=1, document_hash="a" * 64, effective_on=date.today())
        agreement.versions = [AgreementVersion(number=1, facts="拖欠工资", disputes="工资数额",
                                               responsibilities="单位负主要责任", content_hash="a" * 64)]
        db.add(agreement)
        db.flush()
        for role, party, user in [(SignerRole.PARTY, matter.parties[0], petitioner),
                                  (SignerRole.PARTY, matter.parties[1], rep),
                                  (SignerRole.MEDIATOR, None, mediator),
                                  (SignerRole.COMMITTEE, None, mediator),
                                  *[(SignerRole.PARTY, party, user) for party, (_d, user)
                                    in zip(matter.parties[2:], extra)]]:
            db.add(AgreementSignature(agreement_id=agreement.id, role=role, party_id=party.id if party else None,
                                      user_id=user.id, signer_name=user.display_name,
                                      status=SignatureStatus.SIGNED, document_hash="a" * 64))
        db.commit()
        ids = SimpleNamespace(
            agreement_id=agreement.id, number=agreement.number, committee_id=committee_row.id,
            matter_id=matter.id, case_id=case.id, applicant_id=matter.parties[0].id, respondent_id=matter.parties[1].id,
            mediator=mediator.login, other_mediator=other_mediator.login, petitioner=petitioner.login,
            rep=rep.login, outsider=outsider.login, staff=staff.login, leader=leader.login, admin=admin.login,
            other_petitioner=other_petitioner.login,
            pdf=f"/agreements/{agreement.id}/document.pdf", panel=f"/agreements/{agreement.id}/document",
            retry=f"/agreements/{agreement.id}/document/retry")
    if seal_image:
        with database(app):
            from portal.accounts.models import Department, User
            from werkzeug.datastructures import FileStorage

            committee_row = _db.session.get(Department, ids.committee_id)
            actor = _db.session.scalar(select(User).where(User.email == ids.admin))
            documents.upload_seal_image(committee_row, FileStorage(io.BytesIO(png_bytes()), "seal.png"), actor)
    return ids


def start(app, agreement_id: int) -> None:
    """What the signing code does when the committee's seal is applied."""
    with database(app) as db:
        agreement = db.get(Agreement, agreement_id)
        documents.start_sealing(agreement)
        db.commit()


def agreement_row(app, agreement_id: int) -> Agreement:
    with database(app) as db:
        agreement = db.get(Agreement, agreement_id)
        db.expunge(agreement)
        return agreement


def client_for(app, user_login: str):
    client = app.test_client()
    assert login(client, user_login, PASSWORD).status_code == 303
    return client


def validate(data: bytes, app):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    with database(app):
        roots = documents.trust_roots()
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    [signature] = reader.embedded_signatures
    return signature, validate_pdf_signature(signature, ValidationContext(trust_roots=roots))


# --- certificates ------------------------------------------------------------------------------------------------

def test_self_signed_certificate_is_created_once_and_reused(app, folders):
    first = build(app)
    start(app, first.agreement_id)
    second = build(app, committee=first.committee_id)
    start(app, second.agreement_id)

    with database(app) as db:
        rows = db.scalars(select(CommitteeCertificate).where(
            CommitteeCertificate.department_id == first.committee_id)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.self_signed and row.fingerprint and row.not_after.year >= date.today().year + 9
        passphrase = decrypt_passphrase(row.passphrase_encrypted)
        assert passphrase and passphrase not in row.passphrase_encrypted
        stored = folders.keys / row.stored_name
        assert stored.is_file() and "static" not in stored.parts
    from cryptography.hazmat.primitives.serialization import pkcs12

    key, certificate, _extra = pkcs12.load_key_and_certificates(stored.read_bytes(), passphrase.encode())
    assert key is not None and "东区人民调解委员会" in certificate.subject.rfc4514_string()
    assert len([e for e in audit_events(app, "agreement.certificate_self_signed")
                if e.object_id == str(first.committee_id)]) == 1
    assert all(passphrase not in e.details for e in audit_events(app, "agreement.certificate_self_signed"))
    # both agreements are sealed by the same certificate
    for ids in (first, second):
        data = (folders.uploads / agreement_row(app, ids.agreement_id).pdf_stored_name).read_bytes()
        signature, status = validate(data, app)
        assert signature.signer_cert.sha256.hex() == row.fingerprint


# --- sealing -------------------------------------------------------------------------------------------------------

def test_sealed_pdf_validates_and_one_changed_byte_fails(app, folders, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://portal.example")
    ids = build(app, seal_image=True)
    start(app, ids.agreement_id)

    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE and agreement.seal_status == SealStatus.DONE
    assert agreement.seal_error == "" and agreement.effective_on == date.today()
    data = (folders.uploads / agreement.pdf_stored_name).read_bytes()
    import hashlib

    assert hashlib.sha256(data).hexdigest() == agreement.pdf_sha256 and len(data) == agreement.pdf_size
    signature, status = validate(data, app)
    assert signature.field_name == "CommitteeSeal"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.md_algorithm == "sha256"

    changed = bytearray(data)
    position = data.index(b"stream") + 20  # inside the first page's content, covered by the signature
    changed[position] ^= 0x01
    try:
        _sig, broken = validate(bytes(changed), app)
        assert not broken.intact and not broken.bottom_line
    except Exception:  # a reader may refuse the file outright: not authentic either way
        pass

    # the parties and the mediator are told, in their language, that the copy is on the agreement page (with its
    # link, not the matter page's); the date is written for the reader, not in ISO form
    for user_login in (ids.petitioner, ids.rep, ids.mediator):
        [message] = [m for m in outbox(app, user_login) if "is in effect" in m.subject or "已生效" in m.subject]
        assert ids.number in message.subject
        assert f"https://portal.example/agreements/{ids.agreement_id}" in message.body
        assert f"/mediation/{ids.matter_id}" not in message.body
        assert "agreement page" in message.body or "协议书页面" in message.body
        assert date.today().isoformat() not in message.body
    [issued] = [e for e in audit_events(app, "agreement.issued") if e.object_id == str(ids.agreement_id)]
    assert agreement.pdf_sha256 in issued.details


@pytest.fixture
def real_layout():
    """The test renders drafting's own layout of the agreement."""


def test_issued_pdf_in_the_drafting_layout_holds_the_chinese_names_terms_and_seal(app, folders, real_layout):
    import shutil
    import subprocess

    ids = build(app, seal_image=True)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == ids.agreement_id))
        version.other_terms = "被申请人于2026年12月31日前支付工资。"
        from portal.agreements.drafting import parties_snapshot

        version.parties_snapshot = json.dumps(parties_snapshot(db.get(MediationReferral, ids.matter_id)),
                                              ensure_ascii=False)
        db.commit()
    start(app, ids.agreement_id)
    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE, agreement.seal_error
    path = folders.uploads / agreement.pdf_stored_name
    signature, status = validate(path.read_bytes(), app)
    assert status.intact and status.valid
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed")
    extracted = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "陈信访" in extracted and "支付工资" in extracted and ids.number in extracted


def test_unreachable_timestamp_authority_fails_loudly_and_nothing_is_issued(app, folders, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_TSA_URL", "http://127.0.0.1:9/tsa")
    monkeypatch.setitem(app.config, "PORTAL_TSA_TIMEOUT", 2)
    ids = build(app)
    start(app, ids.agreement_id)

    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.seal_status == SealStatus.FAILED and agreement.status == AgreementStatus.SEALING
    assert agreement.pdf_stored_name is None and agreement.pdf_sha256 == ""
    assert "127.0.0.1:9" in agreement.seal_error
    assert not any(p.suffix == ".pdf" for p in folders.uploads.glob("*")) if folders.uploads.exists() else True
    assert outbox(app, ids.petitioner) == []
    assert [e for e in audit_events(app, "agreement.sealing_failed") if e.object_id == str(ids.agreement_id)]

    mediator = client_for(app, ids.mediator)
    page = text(mediator.get(ids.panel))
    assert "127.0.0.1:9" in page and "Try again" in page
    petitioner = client_for(app, ids.petitioner)
    page = text(petitioner.get(ids.panel))
    assert "could not be issued" in page and "127.0.0.1:9" not in page and "Try again" not in page
    assert petitioner.get(ids.pdf).status_code == 404
    assert petitioner.post(ids.retry).status_code == 403

    # the authority is removed (or answers again): another try issues the document
    monkeypatch.setitem(app.config, "PORTAL_TSA_URL", "")
    response = mediator.post(ids.retry)
    assert response.status_code == 303
    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE and agreement.seal_status == SealStatus.DONE
    # a second try on an issued document is refused with a message
    response = mediator.post(ids.retry, follow_redirects=True)
    assert "not waiting for another try" in text(response)


def test_generation_runs_in_the_background_and_the_fragment_polls_until_done(app, folders, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AGREEMENT_SEAL_INLINE", False)
    submitted = []

    class Pool:
        def submit(self, function, *args):
            submitted.append((function, args))

    monkeypatch.setattr(documents, "_executor", lambda: Pool())
    ids = build(app)
    start(app, ids.agreement_id)
    assert len(submitted) == 1
    assert agreement_row(app, ids.agreement_id).seal_status == SealStatus.RUNNING

    mediator = client_for(app, ids.mediator)
    fragment = mediator.get(ids.panel, headers=HTMX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in body
    assert 'hx-trigger="every 2s"' in body and "being generated" in body
    assert "HX-Request" in fragment.headers["Vary"]
    full = mediator.get(ids.panel)
    assert "<html" in full.get_data(as_text=True) and "being generated" in text(full)

    function, args = submitted[0]
    function(*args)  # the pool's thread: its own app context and session
    body = mediator.get(ids.panel, headers=HTMX).get_data(as_text=True)
    assert "every 2s" not in body and f"/agreements/{ids.agreement_id}/document.pdf" in body
    assert agreement_row(app, ids.agreement_id).status == AgreementStatus.EFFECTIVE


def test_sealing_is_not_started_twice_and_only_for_a_sealing_agreement(app):
    ids = build(app)
    with database(app) as db:
        agreement = db.get(Agreement, ids.agreement_id)
        agreement.status = AgreementStatus.SIGNING
        db.commit()
        from portal.agreements.services import AgreementError

        with app.test_request_context(), pytest.raises(AgreementError):
            documents.start_sealing(agreement)
        db.rollback()
    assert agreement_row(app, ids.agreement_id).seal_status == SealStatus.NONE


# --- copies ----------------------------------------------------------------------------------------------------------

def test_copies_go_to_the_parties_and_the_committee_only(app, folders):
    ids = build(app)
    before = client_for(app, ids.petitioner)
    assert before.get(ids.pdf).status_code == 404  # nothing issued yet
    start(app, ids.agreement_id)
    agreement = agreement_row(app, ids.agreement_id)
    data = (folders.uploads / agreement.pdf_stored_name).read_bytes()

    for user_login in (ids.petitioner, ids.rep, ids.mediator):
        response = client_for(app, user_login).get(ids.pdf)
        assert response.status_code == 200, user_login
        assert response.mimetype == "application/pdf" and response.get_data() == data
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment") and ids.number in disposition
        assert "no-store" in response.headers["Cache-Control"]
    for user_login in (ids.staff, ids.leader, ids.outsider, ids.other_petitioner, ids.other_mediator, ids.admin):
        assert client_for(app, user_login).get(ids.pdf).status_code == 403, user_login
    assert is_login_redirect(app.test_client().get(ids.pdf))
    assert client_for(app, ids.petitioner).get("/agreements/999999/document.pdf").status_code == 404

    copies = [e.details for e in audit_events(app, "agreement.downloaded") if e.object_id == str(ids.agreement_id)]
    assert len(copies) == 3
    assert any(f'"party:{ids.applicant_id}"' in d for d in copies)
    assert any(f'"party:{ids.respondent_id}"' in d for d in copies)
    assert any('"archive"' in d for d in copies)

    # the panel shows the download to those who may, not to the bureau
    assert "document.pdf" in client_for(app, ids.petitioner).get(ids.panel, headers=HTMX).get_data(as_text=True)
    staff_panel = client_for(app, ids.staff).get(ids.panel, headers=HTMX)
    assert staff_panel.status_code == 200 and "document.pdf" not in staff_panel.get_data(as_text=True)
    assert client_for(app, ids.outsider).get(ids.panel).status_code == 403


def test_the_case_page_offers_the_download_to_those_who_may(app):
    ids = build(app)
    link = f"/agreements/{ids.agreement_id}/document.pdf"
    assert link not in client_for(app, ids.petitioner).get(f"/cases/{ids.case_id}").get_data(as_text=True)
    start(app, ids.agreement_id)
    for user_login in (ids.petitioner, ids.rep):
        page = client_for(app, user_login).get(f"/cases/{ids.case_id}")
        assert page.status_code == 200 and link in page.get_data(as_text=True), user_login
        assert 'hx-boost="false"' in page.get_data(as_text=True)
    staff_page = client_for(app, ids.staff).get(f"/cases/{ids.case_id}")
    assert staff_page.status_code == 200 and link not in staff_page.get_data(as_text=True)


def test_panel_and_download_keep_their_query_count(app, count_queries):
    counts = []
    for more in (0, 4):
        ids = build(app, more_departments=more)
        start(app, ids.agreement_id)
        petitioner, mediator = client_for(app, ids.petitioner), client_for(app, ids.mediator)
        petitioner.get(ids.panel, headers=HTMX)
        with count_queries() as panel:
            assert petitioner.get(ids.panel, headers=HTMX).status_code == 200
        with count_queries() as download:
            assert petitioner.get(ids.pdf).status_code == 200
        with count_queries() as archive:
            assert mediator.get(ids.pdf).status_code == 200
        counts.append((panel.count, download.count, archive.count))
    assert counts[0] == counts[1], counts


def test_a_generation_that_never_finished_can_be_tried_again(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_AGREEMENT_SEAL_INLINE", False)
    submitted = []

    class Pool:
        def submit(self, function, *args):
            submitted.append((function, args))

    monkeypatch.setattr(documents, "_executor", lambda: Pool())
    ids = build(app)
    start(app, ids.agreement_id)
    mediator = client_for(app, ids.mediator)
    # still running: no other try
    response = mediator.post(ids.retry, follow_redirects=True)
    assert "not waiting for another try" in text(response) and len(submitted) == 1

    from datetime import timedelta

    monkeypatch.setattr(documents, "STALE_AFTER", timedelta(seconds=-1))  # the process that ran it is gone
    body = mediator.get(ids.panel, headers=HTMX).get_data(as_text=True)
    assert "did not finish" in body and "Try again" in body and "every 2s" not in body
    assert "Try again" not in client_for(app, ids.petitioner).get(ids.panel, headers=HTMX).get_data(as_text=True)
    assert mediator.post(ids.retry).status_code == 303
    assert len(submitted) == 2
    function, args = submitted[1]
    function(*args)
    assert agreement_row(app, ids.agreement_id).status == AgreementStatus.EFFECTIVE
    # the first run, arriving late, changes nothing
    function, args = submitted[0]
    function(*args)
    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE and agreement.seal_status == SealStatus.DONE


@pytest.fixture
def timestamp_authority():
    """A local RFC 3161 timestamp authority (pyHanko's test stamper behind HTTP) with its own root."""
    import asyncio
    import threading
    from datetime import UTC, datetime, timedelta
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from asn1crypto import keys as asn1_keys
    from asn1crypto import tsp
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign.timestamps import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's test stamper signs RSA only
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30))
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
                   .sign(key, hashes.SHA256()))
    tsa_cert = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    stamper = DummyTimeStamper(tsa_cert=tsa_cert, tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(body)
            answer = asyncio.run(stamper.async_request_tsa_response(tsp.TimeStampReq.load(body))).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_address[1]}/", root=tsa_cert, requests=requests)
    finally:
        server.shutdown()
        server.server_close()


def test_a_configured_timestamp_authority_stamps_the_seal(app, folders, monkeypatch, timestamp_authority):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    monkeypatch.setitem(app.config, "PORTAL_TSA_URL", timestamp_authority.url)
    ids = build(app)
    start(app, ids.agreement_id)
    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE, agreement.seal_error
    assert len(timestamp_authority.requests) >= 1
    data = (folders.uploads / agreement.pdf_stored_name).read_bytes()
    with database(app):
        roots = documents.trust_roots()
    [signature] = PdfFileReader(io.BytesIO(data)).embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots),
                                    ts_validation_context=ValidationContext(trust_roots=[timestamp_authority.root]))
    assert status.intact and status.valid
    assert status.timestamp_validity is not None and status.timestamp_validity.intact
    assert status.timestamp_validity.valid


@pytest.mark.parametrize("facts_lines", [1, 18, 30])
def test_issued_pdf_keeps_the_verification_block_with_the_signatures(app, folders, real_layout, facts_lines):
    """Whatever the length of the text, the page with the QR code and the short code also holds the signatures;
    the copies clause counts the parties and the committee in Chinese numerals."""
    import shutil
    import subprocess

    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext is not installed")
    ids = build(app, seal_image=True, more_departments=3)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == ids.agreement_id))
        version.facts = "\n".join(f"第{i}项事实：申请人在物流公司工作期间加班未获报酬。" for i in range(facts_lines))
        from portal.agreements.drafting import parties_snapshot

        version.parties_snapshot = json.dumps(parties_snapshot(db.get(MediationReferral, ids.matter_id)),
                                              ensure_ascii=False)
        db.commit()
    start(app, ids.agreement_id)
    agreement = agreement_row(app, ids.agreement_id)
    assert agreement.status == AgreementStatus.EFFECTIVE, agreement.seal_error
    path = folders.uploads / agreement.pdf_stored_name
    pages = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                           check=True).stdout.split("\f")
    squeezed = ["".join(page.split()) for page in pages]
    [with_code] = [page for page in squeezed if agreement.verification_code in page]
    code_at = with_code.index(agreement.verification_code)
    # at least the last signature row (the mediator's) comes before the seal and the QR block on that page
    assert "".join(catalog(app, "Mediator").split()) in with_code[:code_at], with_code[:200]
    clause = "".join(catalog(app, "Made in %(n)s copies: one for each party and one kept by the mediation "
                                  "committee.", n="六").split())
    assert clause in "".join(squeezed)  # five parties and the committee
