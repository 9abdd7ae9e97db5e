"""The admin page of the committees' signing certificates and seal images: the self-signed warning, PKCS#12 uploads
checked (wrong passphrase, not a PKCS#12, no key), seal images checked (type, size), the audit trail without the
passphrase, access, query counts."""
from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from portal import rules
from portal.accounts.models import DepartmentKind, Role
from portal.agreements.models import CommitteeCertificate, CommitteeSeal
from tests.helpers import add_department, audit_events, database, field_error, sign_in, text

PAGE = "/admin/signing"


@pytest.fixture(autouse=True)
def folders(_app, tmp_path, monkeypatch):
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(_app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))
    return tmp_path


def committee(app, name: str | None = None):
    return add_department(app, name=name or f"北区人民调解委员会{uuid.uuid4().hex[:6]}",
                          kind=DepartmentKind.MEDIATION_COMMITTEE)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Y市司法局")])


def issued_pkcs12(passphrase: str = "s3cret-pass", with_key: bool = True) -> tuple[bytes, x509.Certificate]:
    """A committee certificate issued by a (test) authority, in a PKCS#12 with the authority's certificate."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("Y市测试CA")).issuer_name(_name("Y市测试CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (x509.CertificateBuilder().subject_name(_name("北区人民调解委员会")).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=730))
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                                  critical=True)
                   .sign(ca_key, hashes.SHA256()))
    data = pkcs12.serialize_key_and_certificates(
        b"committee", key if with_key else None, certificate, [ca],
        serialization.BestAvailableEncryption(passphrase.encode()))
    return data, certificate


def png(size: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGBA", (30, 30), (200, 0, 0, 200)).save(buffer, format="PNG")
    return buffer.getvalue() + b"\x00" * size


def upload_certificate(client, committee_id: int, data: bytes, passphrase: str, name: str = "committee.p12"):
    prefix = f"cert{committee_id}"
    return client.post(f"{PAGE}/{committee_id}/certificate", content_type="multipart/form-data",
                       data={f"{prefix}-file": (io.BytesIO(data), name), f"{prefix}-passphrase": passphrase})


def upload_seal(client, committee_id: int, data: bytes, name: str):
    return client.post(f"{PAGE}/{committee_id}/seal", content_type="multipart/form-data",
                       data={f"seal{committee_id}-image": (io.BytesIO(data), name)})


def certificate_row(app, committee_id: int) -> CommitteeCertificate | None:
    with database(app) as db:
        row = db.get(CommitteeCertificate, committee_id)
        if row is not None:
            db.expunge(row)
        return row


def test_only_admins_reach_the_page(app, client):
    c = committee(app)
    for role in (Role.STAFF, Role.MEDIATOR, Role.LEADER, Role.PETITIONER):
        other = app.test_client()
        sign_in(app, other, role)
        assert other.get(PAGE).status_code == 403, role
        assert other.post(f"{PAGE}/{c.id}/self-signed").status_code == 403, role
    anonymous = app.test_client().get(PAGE)
    assert anonymous.status_code in (302, 303)
    sign_in(app, client, Role.ADMIN, locale="en")
    assert client.get(PAGE).status_code == 200
    plain = add_department(app)  # not a mediation committee
    assert client.post(f"{PAGE}/{plain.id}/self-signed").status_code == 404
    assert client.post(f"{PAGE}/999999/seal").status_code == 404


def test_self_signed_certificate_is_shown_with_the_warning(app, client):
    c = committee(app)
    sign_in(app, client, Role.ADMIN, locale="en")
    page = text(client.get(PAGE))
    assert c.name in page and "created when the committee seals its first agreement" in page
    response = client.post(f"{PAGE}/{c.id}/self-signed")
    assert response.status_code == 303
    row = certificate_row(app, c.id)
    assert row.self_signed and c.name in row.subject
    page = text(client.get(PAGE))
    assert "not publicly trusted" in page and "PDF readers will not show" in page
    assert row.fingerprint in page and row.not_after.strftime("%Y") in page
    # asking again keeps the same certificate
    client.post(f"{PAGE}/{c.id}/self-signed")
    assert certificate_row(app, c.id).fingerprint == row.fingerprint


def test_pkcs12_upload_is_checked(app, client, folders):
    c = committee(app)
    admin = sign_in(app, client, Role.ADMIN, locale="en")
    data, certificate = issued_pkcs12("s3cret-pass")

    response = upload_certificate(client, c.id, data, "wrong")
    assert response.status_code == 200
    assert "passphrase does not open" in field_error(response, f"cert{c.id}-passphrase")
    assert certificate_row(app, c.id) is None

    response = upload_certificate(client, c.id, b"%PDF-1.4 not a certificate", "x", name="x.p12")
    assert "not a PKCS#12" in field_error(response, f"cert{c.id}-file")

    response = upload_certificate(client, c.id, b"", "x", name="")
    assert "Choose the PKCS#12 file" in field_error(response, f"cert{c.id}-file")

    no_key, _cert = issued_pkcs12("s3cret-pass", with_key=False)
    response = upload_certificate(client, c.id, no_key, "s3cret-pass")
    assert "private key and its certificate" in field_error(response, f"cert{c.id}-file")
    assert certificate_row(app, c.id) is None
    assert not (folders / "keys").exists() or not list((folders / "keys").glob("*.p12"))

    response = upload_certificate(client, c.id, data, "s3cret-pass")
    assert response.status_code == 303
    row = certificate_row(app, c.id)
    assert not row.self_signed
    assert row.fingerprint == certificate.fingerprint(hashes.SHA256()).hex()
    page = text(client.get(PAGE))
    assert "北区人民调解委员会" in page and row.fingerprint in page and "not publicly trusted" not in page
    events = [e for e in audit_events(app, "agreement.certificate_configured") if e.object_id == str(c.id)]
    assert len(events) == 1 and events[0].actor_id == admin.id
    assert "s3cret-pass" not in events[0].details and row.fingerprint in events[0].details
    stored = folders / "keys" / row.stored_name
    assert stored.read_bytes() == data and "s3cret-pass" not in row.passphrase_encrypted

    # the uploaded certificate seals, and the verification's trust roots include it and its authority
    with database(app):
        from portal.accounts.models import Department
        from portal.agreements import documents
        from portal.extensions import db

        roots = documents.trust_roots()
        names = {r.subject.native.get("common_name") for r in roots}
        assert {"北区人民调解委员会", "Y市测试CA"} <= names
        from weasyprint import HTML

        sealed = documents.seal_pdf(HTML(string="<p>x</p>").write_pdf(), db.session.get(Department, c.id))
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    [signature] = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots))
    assert status.intact and status.valid and status.trusted


def test_seal_image_upload_is_checked(app, client, folders):
    c = committee(app)
    sign_in(app, client, Role.ADMIN, locale="en")
    field = f"seal{c.id}-image"

    response = upload_seal(client, c.id, b"%PDF-1.4 a pdf", "seal.png")
    assert response.status_code == 200 and "must be a PNG or JPEG" in field_error(response, field)
    response = upload_seal(client, c.id, png(), "seal.gif")
    assert "must be a PNG or JPEG" in field_error(response, field)
    response = upload_seal(client, c.id, png(rules.SEAL_IMAGE_MAX_BYTES), "seal.png")
    assert "larger than" in field_error(response, field)
    response = upload_seal(client, c.id, b"", "seal.png")
    assert "Choose the seal image" in field_error(response, field) or "empty" in field_error(response, field)
    with database(app) as db:
        assert db.get(CommitteeSeal, c.id) is None

    image = png()
    assert upload_seal(client, c.id, image, "东区公章.png").status_code == 303
    with database(app) as db:
        seal = db.get(CommitteeSeal, c.id)
        assert seal.content_type == "image/png" and seal.size == len(image)
        first_name = seal.stored_name
    page = client.get(PAGE).get_data(as_text=True)
    assert f"/admin/signing/{c.id}/seal-image" in page
    served = client.get(f"{PAGE}/{c.id}/seal-image")
    assert served.status_code == 200 and served.get_data() == image
    assert served.headers["Content-Disposition"].startswith("attachment")

    # a new image replaces the old file
    assert upload_seal(client, c.id, png(10), "seal.png").status_code == 303
    assert not (folders / "uploads" / first_name).exists()
    events = [e for e in audit_events(app, "agreement.seal_image_uploaded") if e.object_id == str(c.id)]
    assert len(events) == 2


def test_page_queries_do_not_grow_with_the_committees(app, client, count_queries):
    sign_in(app, client, Role.ADMIN, locale="en")
    committee(app)
    client.get(PAGE)
    with count_queries() as few:
        assert client.get(PAGE).status_code == 200
    for _ in range(3):
        c = committee(app)
        client.post(f"{PAGE}/{c.id}/self-signed")
        assert upload_seal(client, c.id, png(), "seal.png").status_code == 303
    with count_queries() as many:
        assert client.get(PAGE).status_code == 200
    assert many.count == few.count, many.statements


def test_an_expired_certificate_is_refused(app, client):
    c = committee(app)
    sign_in(app, client, Role.ADMIN, locale="en")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    old = (x509.CertificateBuilder().subject_name(_name("旧证书")).issuer_name(_name("旧证书"))
           .public_key(key.public_key()).serial_number(x509.random_serial_number())
           .not_valid_before(now - timedelta(days=400)).not_valid_after(now - timedelta(days=1))
           .sign(key, hashes.SHA256()))
    data = pkcs12.serialize_key_and_certificates(b"old", key, old, None,
                                                 serialization.BestAvailableEncryption(b"pass-word"))
    response = upload_certificate(client, c.id, data, "pass-word")
    assert "expired" in field_error(response, f"cert{c.id}-file")
    assert certificate_row(app, c.id) is None


def test_keys_are_never_kept_under_static(app, monkeypatch):
    from portal.agreements.certificates import key_folder

    monkeypatch.setitem(app.config, "PORTAL_KEY_FOLDER", str(app.static_folder) + "/keys")
    with app.app_context(), pytest.raises(RuntimeError):
        key_folder()
