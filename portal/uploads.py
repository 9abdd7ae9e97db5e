"""Uploaded files: checked by size and by content, stored outside static/ under random names.

Every feature that takes files (case attachments, mediation evidence, agreements) goes through here:

* check_files(files, already=n) reads each upload, refuses it with a clear message when it is empty, too large,
  one too many, or not one of the accepted types *by its content* (magic bytes; the name's extension must agree);
  it raises before anything is stored, so a bad file changes nothing.
* store(checked) writes the files into UPLOAD_FOLDER under random names and returns what a row needs
  (stored name, original name, content type, size, sha256).
* pending_token()/read_pending_token() carry files stored before their record exists (a multi-step form, a form
  shown again with an error) from one request to the next, signed and tied to the user who uploaded them.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeSerializer

from portal import rules

# kind -> (content type, extensions the file name may have)
TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "pdf": ("application/pdf", ("pdf",)),
    "jpeg": ("image/jpeg", ("jpg", "jpeg")),
    "png": ("image/png", ("png",)),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", ("docx",)),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ("xlsx",)),
}
ACCEPT = ",".join("." + ext for _c, exts in TYPES.values() for ext in exts)  # for <input type=file accept=...>

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(Exception):
    """A refused upload, with a message for the user (already translated)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


@dataclass
class CheckedFile:
    original_name: str
    kind: str
    data: bytes

    @property
    def content_type(self) -> str:
        return TYPES[self.kind][0]


@dataclass
class StoredFile:
    stored_name: str
    original_name: str
    content_type: str
    size: int
    sha256: str

    def as_dict(self) -> dict:
        return asdict(self)


def sniff(data: bytes) -> str | None:
    """The kind of file the bytes are, or None when they are none of the accepted kinds."""
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"PK\x03\x04"):
        # Office Open XML is a zip with a [Content_Types].xml part; only the names are read, nothing is unpacked.
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return None
        if "[Content_Types].xml" not in names or any(n.lower().endswith("vbaproject.bin") for n in names):
            return None  # not Office, or a macro-enabled document
        if "word/document.xml" in names:
            return "docx"
        if "xl/workbook.xml" in names:
            return "xlsx"
    return None


def clean_name(name: str) -> str:
    """The file's own name for display and download: no folders, no control characters, at most 255 characters."""
    name = _CONTROL.sub("", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 250 - len(ext)] + dot + ext) if dot and len(ext) <= 10 else name[:255]
    return name or "file"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _max_mb() -> str:
    return f"{rules.ATTACHMENT_MAX_BYTES / (1024 * 1024):g}"


def check_files(files, already: int = 0, limit: int | None = None,
                field: str | None = "attachments") -> list[CheckedFile]:
    """Read and check every upload; raise UploadError for the first bad one (then nothing is kept).

    `already` files are attached before these; at most `limit` in all (rules.ATTACHMENTS_PER_CASE by default).
    """
    limit = rules.ATTACHMENTS_PER_CASE if limit is None else limit
    files = [f for f in (files or []) if f is not None and getattr(f, "filename", "")]
    if already + len(files) > limit:
        raise UploadError(_("At most %(n)d files can be attached; %(left)d more can be added.",
                            n=limit, left=max(0, limit - already)), field)
    checked = []
    for upload in files:
        name = clean_name(upload.filename)
        data = upload.stream.read(rules.ATTACHMENT_MAX_BYTES + 1)
        if not data:
            raise UploadError(_("%(name)s is empty.", name=name), field)
        if len(data) > rules.ATTACHMENT_MAX_BYTES:
            raise UploadError(_("%(name)s is larger than %(mb)s MB. Send a smaller file or split it.",
                                name=name, mb=_max_mb()), field)
        kind = sniff(data)
        if kind is None or _extension(name) not in TYPES[kind][1]:
            raise UploadError(_("%(name)s was refused: only PDF, JPEG, PNG, Word (.docx) and Excel (.xlsx) files "
                                "are accepted, and the content must match the file name.", name=name), field)
        checked.append(CheckedFile(name, kind, data))
    return checked


def upload_folder() -> Path:
    folder = Path(current_app.config["UPLOAD_FOLDER"]).resolve()
    static = Path(current_app.static_folder).resolve()
    if folder == static or static in folder.parents:
        raise RuntimeError("UPLOAD_FOLDER must not be inside static/")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store(checked: list[CheckedFile]) -> list[StoredFile]:
    """Write checked files under random names; on a failure the files written so far are removed."""
    folder = upload_folder()
    stored: list[StoredFile] = []
    try:
        for item in checked:
            stored_name = f"{secrets.token_hex(16)}.{TYPES[item.kind][1][0]}"
            temporary = folder / f".{stored_name}.part"
            with open(temporary, "wb") as handle:
                handle.write(item.data)
            os.chmod(temporary, 0o640)
            os.replace(temporary, folder / stored_name)
            stored.append(StoredFile(stored_name, item.original_name, item.content_type, len(item.data),
                                     hashlib.sha256(item.data).hexdigest()))
    except OSError:
        remove([s.stored_name for s in stored])
        raise
    return stored


def remove(stored_names) -> None:
    """Delete stored files (a pending upload given up, or files whose record was never saved)."""
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    for name in stored_names:
        if re.fullmatch(r"[0-9a-f]{32}\.[a-z]{3,4}", name or ""):
            try:
                (folder / name).unlink()
            except FileNotFoundError:
                pass


# --- files waiting for their record -------------------------------------------------------------

def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="pending-uploads")


def pending_token(files: list[StoredFile], user_id: int) -> str:
    return _serializer().dumps({"u": user_id, "f": [f.as_dict() for f in files]}) if files else ""


def read_pending_token(token: str | None, user_id: int) -> list[StoredFile]:
    """The files a token names, if it is intact, belongs to this user and the files still exist."""
    if not token:
        return []
    try:
        payload = _serializer().loads(token)
        if payload.get("u") != user_id:
            return []
        files = [StoredFile(**item) for item in payload.get("f", [])]
    except (BadSignature, TypeError, AttributeError, ValueError):
        return []
    folder = Path(current_app.config["UPLOAD_FOLDER"])
    return [f for f in files if (folder / f.stored_name).is_file()]
