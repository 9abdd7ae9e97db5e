"""The workspace of a joint conference: opening it, its members, shared documents and the message thread.

Services do the work and write the audit trail in the same transaction; they take the acting user as an argument
(no request object) and raise WorkspaceError, with a message for the user, when a step is not possible. A refused
step changes nothing. A closed workspace is read-only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from portal import policy, uploads
from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import utcnow
from portal.transactions import Refusal

from .models import (
    Conference,
    ConferenceCase,
    ConferenceDocument,
    ConferenceMember,
    ConferenceMessage,
    DocumentVersion,
    MemberKind,
)

TITLE_MAX = 200
PURPOSE_MAX = 4000
NOTE_MAX = 2000
MESSAGE_MAX = 4000
MESSAGES_SHOWN = 100  # the workspace page shows the newest messages; older ones stay in the database
CASES_MAX = 20


class WorkspaceError(Refusal):
    """A refusal with a message for the user (already translated) and the form field it concerns."""


def _text(value: str | None, name: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise WorkspaceError(_("This field is required."), name)
    if len(value) > limit:
        raise WorkspaceError(_("At most %(n)d characters.", n=limit), name)
    return value


def db_id(value) -> int | None:
    """A number an INTEGER id column can hold, else None (a larger one would be a database error, not a refusal)."""
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def _open(conference: Conference) -> None:
    if conference.closed_at is not None:
        raise WorkspaceError(_("This workspace is closed; it can be read but no longer changed."))


def office_of(user: User) -> Department | None:
    """The petition bureau department a staff member works in (the office of the workspaces they open)."""
    department = user.department
    if department is not None and department.kind == DepartmentKind.PETITION_BUREAU and department.active:
        return department
    return None


# --- choices for the forms --------------------------------------------------------------------------------

def leaders() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == Role.LEADER, User.active.is_(True))
                                   .order_by(User.display_name, User.id)))


def member_departments() -> list[Department]:
    """Departments that may be members or guests: every active department but the petition bureau."""
    return list(db.session.scalars(select(Department).where(Department.active.is_(True),
                                                            Department.kind != DepartmentKind.PETITION_BUREAU)
                                   .order_by(Department.code)))


def complex_cases(limit: int = 100):
    """Open cases marked complex: offered first when a workspace is opened."""
    from portal.cases.models import OPEN_STATUSES, Case

    return list(db.session.scalars(select(Case).where(Case.complex.is_(True), Case.status.in_(OPEN_STATUSES))
                                   .order_by(Case.received_on.desc(), Case.id.desc()).limit(limit)))


def cases_by_reference(text: str) -> list:
    """Cases named by their references (separated by spaces, commas or new lines); unknown ones are refused."""
    import re

    from portal.cases.models import Case

    references = [r.upper() for r in re.split(r"[\s,，;；、]+", text or "") if r]
    if not references:
        return []
    if len(references) > CASES_MAX:
        raise WorkspaceError(_("At most %(n)d cases in one workspace.", n=CASES_MAX), "references")
    found = {c.reference: c for c in db.session.scalars(select(Case).where(Case.reference.in_(references)))}
    unknown = [r for r in references if r not in found]
    if unknown:
        raise WorkspaceError(_("No case has the reference %(refs)s.", refs="、".join(unknown)), "references")
    return [found[r] for r in dict.fromkeys(references)]


# --- opening and membership --------------------------------------------------------------------------------

def open_conference(user: User, *, title: str, purpose: str, case_ids: list[int], convener_id: int | None,
                    department_ids: list[int]) -> Conference:
    """Open a workspace for one complex case or several related ones, with its convener and member departments."""
    from portal.cases.models import Case

    office = office_of(user)
    if office is None:
        raise WorkspaceError(_("Your account belongs to no petition bureau department, so it cannot be the office "
                               "of a joint conference. Ask an administrator to set your department."))
    title = _text(title, "title", TITLE_MAX)
    purpose = _text(purpose, "purpose", PURPOSE_MAX, required=False)
    case_ids = list(dict.fromkeys(i for i in case_ids if i is not None))
    if not case_ids:
        raise WorkspaceError(_("Choose at least one case."), "case_ids")
    if len(case_ids) > CASES_MAX:
        raise WorkspaceError(_("At most %(n)d cases in one workspace.", n=CASES_MAX), "case_ids")
    cases = list(db.session.scalars(select(Case).where(Case.id.in_(case_ids))))
    if len(cases) != len(case_ids):
        raise WorkspaceError(_("One of the chosen cases does not exist."), "case_ids")
    convener = db.session.get(User, db_id(convener_id)) if db_id(convener_id) else None
    if convener is None or convener.role != Role.LEADER or not convener.active:
        raise WorkspaceError(_("Choose a leader as the convener."), "convener_id")
    department_ids = list(dict.fromkeys(i for i in department_ids if i is not None))
    allowed = {d.id: d for d in member_departments()}
    if not department_ids:
        raise WorkspaceError(_("Choose at least one member department."), "department_ids")
    if any(i not in allowed for i in department_ids):
        raise WorkspaceError(_("One of the chosen departments cannot take part."), "department_ids")
    conference = Conference(title=title, purpose=purpose, convener_id=convener.id, office_department_id=office.id,
                            created_by_id=user.id)
    for case in cases:
        conference.case_links.append(ConferenceCase(case_id=case.id))
    db.session.add(conference)
    db.session.flush()
    for department_id in department_ids:
        db.session.add(ConferenceMember(conference_id=conference.id, department_id=department_id,
                                        kind=MemberKind.MEMBER, invited_by_id=user.id))
    record("conference.opened", conference, actor=user, details={
        "title": title, "cases": [c.reference for c in cases], "convener": convener.id, "office": office.id,
        "members": department_ids})
    db.session.commit()
    return conference


def invite(conference: Conference, user: User, department_id: int | None, kind: MemberKind) -> ConferenceMember:
    """Invite a department as a member or as a guest; a department that left may be invited again."""
    _open(conference)
    department = db.session.get(Department, db_id(department_id)) if db_id(department_id) else None
    if department is None or department.id not in {d.id for d in member_departments()}:
        raise WorkspaceError(_("Choose a department."), "department_id")
    if not isinstance(kind, MemberKind):
        raise WorkspaceError(_("Choose how the department takes part."), "kind")
    member = db.session.scalar(select(ConferenceMember).where(ConferenceMember.conference_id == conference.id,
                                                              ConferenceMember.department_id == department.id))
    if member is not None and member.left_at is None:
        raise WorkspaceError(_("%(dept)s already takes part.", dept=department.name), "department_id")
    rejoined = member is not None
    if member is None:
        member = ConferenceMember(conference_id=conference.id, department_id=department.id)
        db.session.add(member)
    else:
        member.left_at = None
        member.joined_at = utcnow()
    member.kind = kind
    member.invited_by_id = user.id
    db.session.flush()
    from .meetings import invite_to_upcoming  # meetings build on the workspace, not the reverse

    invitations = invite_to_upcoming(conference, department.id)
    record("conference.member_invited", conference, actor=user, details={
        "department": department.id, "kind": kind.value, "rejoined": rejoined, "meeting_invitations": invitations})
    db.session.commit()
    return member


def leave(conference: Conference, user: User, member_id: int) -> ConferenceMember:
    """A department leaves the workspace: it keeps its row (left_at), its messages and documents stay."""
    _open(conference)
    member = next((m for m in conference.members if m.id == member_id), None)
    if member is None:
        raise WorkspaceError(_("This department is not in the workspace."))
    if member.left_at is not None:
        raise WorkspaceError(_("%(dept)s has already left.", dept=member.department.name))
    member.left_at = utcnow()
    record("conference.member_left", conference, actor=user, details={
        "department": member.department_id, "kind": member.kind.value})
    db.session.commit()
    return member


def close(conference: Conference, user: User) -> None:
    _open(conference)
    conference.closed_at = utcnow()
    record("conference.closed", conference, actor=user)
    db.session.commit()


# --- documents ---------------------------------------------------------------------------------------------

def _store_one(files: list[uploads.CheckedFile]) -> uploads.StoredFile:
    if not files:
        raise WorkspaceError(_("Choose a file."), "file")
    if len(files) > 1:
        raise WorkspaceError(_("Upload one file at a time."), "file")
    return uploads.store(files)[0]


def _version(document: ConferenceDocument, number: int, stored: uploads.StoredFile, note: str,
             user: User) -> DocumentVersion:
    version = DocumentVersion(document=document, number=number, note=note, uploaded_by_id=user.id,
                              stored_name=stored.stored_name, original_name=stored.original_name,
                              content_type=stored.content_type, size=stored.size, sha256=stored.sha256)
    db.session.add(version)
    return version


def add_document(conference: Conference, user: User, title: str, files: list[uploads.CheckedFile],
                 note: str = "") -> ConferenceDocument:
    """A new shared document with its first version (files already checked by portal.uploads.check_files)."""
    _open(conference)
    title = _text(title, "title", TITLE_MAX)
    note = _text(note, "note", NOTE_MAX, required=False)
    stored = _store_one(files)
    try:
        document = ConferenceDocument(conference_id=conference.id, title=title, created_by_id=user.id)
        db.session.add(document)
        version = _version(document, 1, stored, note, user)
        db.session.flush()
        record("conference.document_added", conference, actor=user, details={
            "document": document.id, "version": version.id, "title": title, "name": stored.original_name,
            "sha256": stored.sha256})
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove([stored.stored_name])
        raise
    return document


def add_version(conference: Conference, document: ConferenceDocument, user: User,
                files: list[uploads.CheckedFile], note: str) -> DocumentVersion:
    _open(conference)
    note = _text(note, "note", NOTE_MAX)
    stored = _store_one(files)
    try:
        number = (db.session.scalar(select(func.max(DocumentVersion.number))
                                    .where(DocumentVersion.document_id == document.id)) or 0) + 1
        version = _version(document, number, stored, note, user)
        db.session.flush()
        record("conference.document_version_added", conference, actor=user, details={
            "document": document.id, "version": version.id, "number": number, "name": stored.original_name,
            "sha256": stored.sha256})
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove([stored.stored_name])
        raise
    return version


def document_opened(conference: Conference, version: DocumentVersion, user: User) -> None:
    """Every open of a shared document is in the audit trail."""
    record("conference.document_opened", conference, actor=user, details={
        "document": version.document_id, "version": version.id, "number": version.number,
        "name": version.original_name})
    db.session.commit()


def documents(conference: Conference) -> list[ConferenceDocument]:
    """The workspace's documents with their versions (two queries, whatever their number)."""
    return list(db.session.scalars(
        select(ConferenceDocument).where(ConferenceDocument.conference_id == conference.id)
        .order_by(ConferenceDocument.id.desc())
        .options(selectinload(ConferenceDocument.versions).joinedload(DocumentVersion.uploaded_by))))


def load_document(conference: Conference, document_id: int) -> ConferenceDocument | None:
    return db.session.scalar(
        select(ConferenceDocument).where(ConferenceDocument.id == document_id,
                                         ConferenceDocument.conference_id == conference.id)
        .options(selectinload(ConferenceDocument.versions).joinedload(DocumentVersion.uploaded_by)))


# --- messages ----------------------------------------------------------------------------------------------

def post_message(conference: Conference, user: User, body: str) -> ConferenceMessage:
    _open(conference)
    body = _text(body, "body", MESSAGE_MAX)
    message = ConferenceMessage(conference_id=conference.id, author_id=user.id, department_id=user.department_id,
                                body=body)
    db.session.add(message)
    db.session.flush()
    record("conference.message_posted", conference, actor=user, details={"message": message.id})
    db.session.commit()
    return message


def messages(conference: Conference, after: int | None = None) -> list[ConferenceMessage]:
    """The newest messages, oldest first; with `after`, only those posted since that message."""
    query = (select(ConferenceMessage).where(ConferenceMessage.conference_id == conference.id)
             .options(joinedload(ConferenceMessage.author), joinedload(ConferenceMessage.department))
             .order_by(ConferenceMessage.id.desc()).limit(MESSAGES_SHOWN))
    if after is not None:
        query = query.where(ConferenceMessage.id > after)
    return list(reversed(list(db.session.scalars(query))))


# --- reading ----------------------------------------------------------------------------------------------

@dataclass
class Overview:
    """What the workspace page shows besides the workspace itself."""

    cases: list = field(default_factory=list)
    documents: list = field(default_factory=list)
    messages: list = field(default_factory=list)


def overview(conference: Conference) -> Overview:
    from portal.cases.models import Case

    ids = [link.case_id for link in conference.case_links]
    cases = list(db.session.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.received_on, Case.id)
                                    .options(selectinload(Case.referrals)))) if ids else []
    return Overview(cases=cases, documents=documents(conference), messages=messages(conference))


def visible_conferences(user: User, limit: int = 500) -> list[Conference]:
    """The workspaces the user may open, open ones first, newest first (a fixed number of queries)."""
    return list(db.session.scalars(
        select(Conference).where(policy.visible_conferences_clause(user))
        .order_by(Conference.closed_at.is_not(None), Conference.id.desc()).limit(limit)
        .options(joinedload(Conference.convener), joinedload(Conference.office),
                 selectinload(Conference.members).joinedload(ConferenceMember.department),
                 selectinload(Conference.case_links))))


def conferences_of_case(user: User, case) -> list[Conference]:
    """The workspaces a case is in, as far as the user may see them (for the case page)."""
    return list(db.session.scalars(
        select(Conference).join(ConferenceCase).where(ConferenceCase.case_id == case.id,
                                                      policy.visible_conferences_clause(user))
        .order_by(Conference.id.desc())))
