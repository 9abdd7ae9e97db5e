"""The committees' signing certificates: a PKCS#12 file per mediation committee under the key folder (never
static/, never in the repository), its passphrase stored encrypted with a key derived from SECRET_KEY.

When an admin has configured none, ensure_certificate() creates a self-signed one on first use (EC P-256, ten
years, digitalSignature + nonRepudiation); the admin page then warns that PDF readers will not show it as trusted.
"""
from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from portal.accounts.models import Department
from portal.audit.services import record
from portal.config import INSTANCE
from portal.extensions import db
from portal.timeutil import utcnow

from .models import CommitteeCertificate
from .services import AgreementError

SELF_SIGNED_YEARS = 10
_STORED_NAME = "{}.p12"


@dataclass
class LoadedCertificate:
    """What a PKCS#12 file holds, once opened."""

    key: object
    certificate: x509.Certificate
    extra: list[x509.Certificate]

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()[:300]

    @property
    def fingerprint(self) -> str:
        return self.certificate.fingerprint(hashes.SHA256()).hex()

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc


# --- where the files live, and the passphrase's encryption ----------------------------------------------------

def key_folder() -> Path:
    folder = Path(current_app.config.get("PORTAL_KEY_FOLDER") or (INSTANCE / "keys")).resolve()
    static = Path(current_app.static_folder).resolve()
    if folder == static or static in folder.parents:
        raise RuntimeError("PORTAL_KEY_FOLDER must not be inside static/")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"portal.committee-certificate",
               info=b"pkcs12 passphrase").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_passphrase(passphrase: str) -> str:
    return _fernet().encrypt(passphrase.encode()).decode()


def decrypt_passphrase(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("The certificate passphrase cannot be decrypted: SECRET_KEY has changed since it was "
                           "configured. Upload the committee's PKCS#12 again.") from exc


def _write(data: bytes) -> str:
    folder = key_folder()
    stored_name = _STORED_NAME.format(secrets.token_hex(16))
    temporary = folder / f".{stored_name}.part"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(temporary, folder / stored_name)
    return stored_name


def _remove(stored_name: str) -> None:
    try:
        (key_folder() / stored_name).unlink()
    except (FileNotFoundError, OSError):
        pass


# --- opening a PKCS#12 --------------------------------------------------------------------------------------

def open_pkcs12(data: bytes, passphrase: str) -> LoadedCertificate:
    """Open a PKCS#12 file; AgreementError (field "passphrase" or "file") when it cannot be used for sealing."""
    if not data:
        raise AgreementError(_("Choose the PKCS#12 file (.p12 or .pfx)."), "file")
    try:
        key, certificate, extra = pkcs12.load_key_and_certificates(data, passphrase.encode() or None)
    except ValueError as exc:
        message = str(exc).lower()
        if "password" in message or "mac" in message or "decrypt" in message:
            raise AgreementError(_("The passphrase does not open this file."), "passphrase") from exc
        raise AgreementError(_("This is not a PKCS#12 file (.p12 or .pfx)."), "file") from exc
    except Exception as exc:  # anything else the parser refuses
        raise AgreementError(_("This is not a PKCS#12 file (.p12 or .pfx)."), "file") from exc
    if key is None or certificate is None:
        raise AgreementError(_("The file must hold a private key and its certificate."), "file")
    if not isinstance(key, (ec.EllipticCurvePrivateKey,)) and not hasattr(key, "sign"):
        raise AgreementError(_("The file's key cannot sign."), "file")
    if certificate.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo) != \
            key.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo):
        raise AgreementError(_("The certificate in the file does not belong to its key."), "file")
    if certificate.not_valid_after_utc <= datetime.now(UTC):
        raise AgreementError(_("This certificate expired on %(date)s.",
                               date=certificate.not_valid_after_utc.date().isoformat()), "file")
    return LoadedCertificate(key, certificate, list(extra or []))


_cache: dict[str, LoadedCertificate] = {}
_cache_lock = threading.Lock()


def load_certificate(row: CommitteeCertificate) -> LoadedCertificate:
    """The key and certificate of a stored row (kept in memory by stored name: the files never change)."""
    with _cache_lock:
        loaded = _cache.get(row.stored_name)
    if loaded is not None:
        return loaded
    data = (key_folder() / row.stored_name).read_bytes()
    key, certificate, extra = pkcs12.load_key_and_certificates(
        data, decrypt_passphrase(row.passphrase_encrypted).encode() or None)
    loaded = LoadedCertificate(key, certificate, list(extra or []))
    with _cache_lock:
        _cache[row.stored_name] = loaded
    return loaded


# --- the committee's certificate ------------------------------------------------------------------------------

def certificate_of(committee: Department) -> CommitteeCertificate | None:
    return db.session.get(CommitteeCertificate, committee.id)


def _self_signed(committee: Department) -> tuple[bytes, str, LoadedCertificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, committee.name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, committee.name[:64]),
                      x509.NameAttribute(NameOID.COUNTRY_NAME, "CN")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SELF_SIGNED_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    passphrase = secrets.token_urlsafe(24)
    data = pkcs12.serialize_key_and_certificates(
        committee.code.encode() or b"committee", key, certificate, None,
        serialization.BestAvailableEncryption(passphrase.encode()))
    return data, passphrase, LoadedCertificate(key, certificate, [])


def ensure_certificate(committee: Department) -> CommitteeCertificate:
    """The committee's certificate; a self-signed one is created (and audited) the first time none is configured.
    Does not commit: the caller's transaction keeps the row."""
    row = certificate_of(committee)
    if row is not None and (key_folder() / row.stored_name).is_file():
        return row
    data, passphrase, loaded = _self_signed(committee)
    stored_name = _write(data)
    replaced = row is not None
    if row is None:
        row = CommitteeCertificate(department_id=committee.id)
        db.session.add(row)
    row.stored_name = stored_name
    row.passphrase_encrypted = encrypt_passphrase(passphrase)
    row.self_signed = True
    row.subject = loaded.subject
    row.fingerprint = loaded.fingerprint
    row.not_after = loaded.not_after
    row.configured_by_id = None
    row.configured_at = utcnow()
    with _cache_lock:
        _cache[stored_name] = loaded
    record("agreement.certificate_self_signed", row, object_id=committee.id,
           details={"committee": committee.name, "subject": row.subject, "fingerprint": row.fingerprint,
                    "not_after": row.not_after.isoformat(), "replaces_missing_file": replaced})
    db.session.flush()
    return row


def configure_certificate(committee: Department, data: bytes, passphrase: str, actor) -> CommitteeCertificate:
    """An admin's PKCS#12 becomes the committee's certificate (the old file is removed after the commit).
    Does not commit. The passphrase is never written to the audit trail."""
    loaded = open_pkcs12(data, passphrase)
    stored_name = _write(data)
    row = certificate_of(committee)
    old_name = row.stored_name if row is not None else None
    if row is None:
        row = CommitteeCertificate(department_id=committee.id)
        db.session.add(row)
    row.stored_name = stored_name
    row.passphrase_encrypted = encrypt_passphrase(passphrase)
    row.self_signed = loaded.certificate.issuer == loaded.certificate.subject
    row.subject = loaded.subject
    row.fingerprint = loaded.fingerprint
    row.not_after = loaded.not_after
    row.configured_by_id = actor.id if actor is not None else None
    row.configured_at = utcnow()
    with _cache_lock:
        _cache[stored_name] = loaded
    record("agreement.certificate_configured", row, object_id=committee.id, actor=actor,
           details={"committee": committee.name, "subject": row.subject, "fingerprint": row.fingerprint,
                    "not_after": row.not_after.isoformat(), "self_signed": row.self_signed,
                    "replaced": bool(old_name)})
    db.session.flush()
    if old_name and old_name != stored_name:
        _remove(old_name)
    return row


def trust_roots() -> list[asn1_x509.Certificate]:
    """The committee certificates the portal holds (and the chain certificates that came with them), as asn1crypto
    certificates for pyHanko validation."""
    roots: list[asn1_x509.Certificate] = []
    seen: set[str] = set()
    for row in db.session.scalars(select(CommitteeCertificate).order_by(CommitteeCertificate.department_id)):
        try:
            loaded = load_certificate(row)
        except (OSError, ValueError, RuntimeError) as exc:
            current_app.logger.warning("committee certificate %s unreadable: %s", row.department_id, exc)
            continue
        for certificate in [loaded.certificate, *loaded.extra]:
            der = certificate.public_bytes(serialization.Encoding.DER)
            digest = hashlib.sha256(der).hexdigest()
            if digest not in seen:
                seen.add(digest)
                roots.append(asn1_x509.Certificate.load(der))
    return roots
