"""Drafting the mediation agreement (调解协议书): starting it from a matter whose outcome is "agreement reached",
immutable versions with their obligations, comments by the parties and mediators, the diff between two versions,
the canonical text and its hash (what everyone signs), the one document layout and the preview PDF.

No request object here: views pass what they read from their forms. Every change writes the audit trail and
commits through @atomic; a refusal raises AgreementError (already translated) before anything is changed.
"""
from __future__ import annotations

import base64
import difflib
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import date

from flask import current_app, has_request_context, render_template
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified

from portal import policy, timeutil
from portal.accounts.models import Role, User
from portal.audit.services import record
from portal.cases.models import Case
from portal.cases.services import mask_id_number, mask_phone
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.mediation.models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    SessionAttendance,
)

from .models import (
    Agreement,
    AgreementComment,
    AgreementObligation,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    SignatureMethod,
    SignatureStatus,
    SignerRole,
)
from .services import AgreementError, atomic, current_version, live_signatures, void_signatures

# The short code printed on the document and behind its QR code: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
NUMBER_ATTEMPTS = 8
TEXT_MAX = 20000
CANONICAL_HEADER = "portal-mediation-agreement/1"
# Sections of the document in the order of People's Mediation Law art. 29 (the canonical order too).
TEXT_FIELDS = ("facts", "disputes", "responsibilities", "other_terms")
REQUIRED_FIELDS = ("facts", "disputes", "responsibilities")
# Once sealing starts the text can no longer change.
LOCKED_STATUSES = (AgreementStatus.SEALING, AgreementStatus.EFFECTIVE)


def _clean(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def _local_date(moment) -> date:
    return moment.astimezone(timeutil.local_zone()).date()


# --- the parties' basic information (art. 29 (1)) -------------------------------------------------------------

def _representatives(matter: MediationReferral) -> dict[int, str]:
    """Who represented each department or company party: the name entered at the latest session they attended."""
    rows = db.session.execute(
        select(SessionAttendance.party_id, SessionAttendance.attendee_name)
        .join(MediationSession, MediationSession.id == SessionAttendance.session_id)
        .where(MediationSession.referral_id == matter.id, SessionAttendance.present.is_(True),
               SessionAttendance.attendee_name != "")
        .order_by(MediationSession.number)).all()
    found: dict[int, str] = {}
    for party_id, name in rows:
        found[party_id] = name  # the latest session wins
    return found


def parties_snapshot(matter: MediationReferral) -> list[dict]:
    """The parties whose consent stands, as the document states them now: petitioners with name, ID number,
    address and phone from the case; departments with their name and who represents them; other persons."""
    representatives = _representatives(matter)
    result = []
    for party in matter.parties:
        if party.withdrawn_on is not None:
            continue
        item = {"party_id": party.id, "side": party.side.value, "name": party.name, "id_number": "",
                "address": "", "phone": party.phone or "", "representative": ""}
        if party.petitioner_id is not None and party.petitioner is not None:
            person = party.petitioner
            item.update(kind="petitioner", name=person.name, id_number=person.id_number or "",
                        address=person.address or "", phone=person.phone or "")
        elif party.department_id is not None:
            item.update(kind="department", representative=representatives.get(party.id, ""))
        else:
            item.update(kind="person", representative=representatives.get(party.id, ""))
        result.append(item)
    return result


def snapshot_of(version: AgreementVersion) -> list[dict]:
    try:
        data = json.loads(version.parties_snapshot or "[]")
    except ValueError:
        return []
    return data if isinstance(data, list) else []


def shows_personal(user, agreement: Agreement, party_id: int | None = None) -> bool:
    """THE rule for whole ID numbers and phones on screen (the agreement page, the diff, the signing pages and the
    draft preview): the committee's mediators (policy.mediates) see every party's in full; a petitioner sees the
    row of the party they are themself; everyone else -- the other parties, departments, bureau staff, leaders,
    courts -- sees them masked. Without `party_id`: whether this user sees every row in full.

    The issued, sealed PDF is not a screen: it keeps the full particulars of every party, because it is the legal
    document each party receives and People's Mediation Law art. 29 (1) requires the parties' basic information
    in it (render_document_html is called without `viewer` for it)."""
    matter = agreement.referral
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if policy.mediates(user, matter):
        return True
    if party_id is None or user.role != Role.PETITIONER:
        return False
    return any(p.id == party_id and p.petitioner is not None and p.petitioner.user_id == user.id
               for p in matter.parties)


def _masked_row(party: dict) -> dict:
    return {**party, "id_number": mask_id_number(party.get("id_number", "")),
            "phone": mask_phone(party.get("phone", ""))}


def masked(parties: list[dict]) -> list[dict]:
    return [_masked_row(p) for p in parties]


def for_viewer(parties: list[dict], agreement: Agreement, viewer) -> list[dict]:
    """The parties' rows as `viewer` may read them on screen (shows_personal); `viewer=None`: unmasked (the issued
    document only)."""
    if viewer is None:
        return parties
    return [p if shows_personal(viewer, agreement, p.get("party_id")) else _masked_row(p) for p in parties]


def _side_label(value: str) -> str:
    from portal.mediation.models import PartySide

    try:
        return str(PartySide(value).label)
    except ValueError:
        return value


# --- the canonical text and the document hash ---------------------------------------------------------------

def _j(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def canonical_text(version: AgreementVersion) -> str:
    """Everything the document says, one item per line, each value JSON-encoded (so a line break or a colon in a
    text can never be mistaken for structure). The order is fixed:

    1. ``portal-mediation-agreement/1`` (the format of this text);
    2. ``number:`` the agreement number, ``committee:`` the committee's name;
    3. ``party:`` one line per party in the order of the snapshot, an object with the keys address, id_number,
       kind, name, party_id, phone, representative, side (whole ID numbers and phones, never masked);
    4. ``facts:``, ``disputes:``, ``responsibilities:`` (art. 29 (2));
    5. ``obligation:`` one line per obligation ordered by position, an object with the keys due_on (ISO date),
       manner, party (the obliged party's name), party_id, place, position, what (art. 29 (3));
    6. ``other_terms:``.

    The version number, its author, time and change note are not part of it: two versions with the same text
    have the same hash. Texts are stripped and use "\\n" line breaks.
    """
    agreement = version.agreement
    parties = snapshot_of(version)
    names = {p.get("party_id"): p.get("name", "") for p in parties}
    keys = ("address", "id_number", "kind", "name", "party_id", "phone", "representative", "side")
    lines = [CANONICAL_HEADER, "number:" + _j(agreement.number),
             "committee:" + _j(agreement.referral.committee.name if agreement.referral.committee else "")]
    lines += ["party:" + _j({k: p.get(k, "") for k in keys}) for p in parties]
    lines += [f"{name}:" + _j(_clean(getattr(version, name))) for name in ("facts", "disputes", "responsibilities")]
    for item in sorted(version.obligations, key=lambda o: o.position):
        lines.append("obligation:" + _j({
            "due_on": item.due_on.isoformat() if item.due_on else "", "manner": _clean(item.manner),
            "party": names.get(item.party_id, item.party.name if item.party else ""), "party_id": item.party_id,
            "place": _clean(item.place), "position": item.position, "what": _clean(item.what)}))
    lines.append("other_terms:" + _j(_clean(version.other_terms)))
    return "\n".join(lines) + "\n"


def document_hash(version: AgreementVersion) -> str:
    """The sha256 (hex) of canonical_text(version): what every signer signs."""
    return hashlib.sha256(canonical_text(version).encode("utf-8")).hexdigest()


# --- starting the agreement ---------------------------------------------------------------------------------

def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _next_number(prefix: str, skip: int) -> str:
    numbers = db.session.scalars(select(Agreement.number).where(Agreement.number.like(prefix + "%")))
    highest = 0
    for number in numbers:
        match = re.fullmatch(re.escape(prefix) + r"(\d+)", number)
        if match:
            highest = max(highest, int(match.group(1)))
    return f"{prefix}{highest + 1 + skip:04d}"


def _notify(user: User, subject_and_body) -> None:
    if not user.login:
        return
    with force_locale(user.locale):
        subject, body = subject_and_body()
    send_message(user.login, subject, body)


def _agreement_link(agreement: Agreement) -> str:
    return external_url("agreements.agreement", agreement_id=agreement.id) if has_request_context() else ""


@atomic
def start_agreement(matter: MediationReferral, actor: User, on: date | None = None) -> Agreement:
    """The written agreement of a matter whose outcome is "agreement reached": one per matter, numbered
    "<committee code>-<year>-<sequence>", with a short verification code and version 1 filled from the case."""
    if matter.status != MediationStatus.AGREEMENT:
        raise AgreementError(_("A written agreement is drafted only after the mediation ended with an agreement."))
    if db.session.scalar(select(Agreement.id).where(Agreement.referral_id == matter.id)) is not None:
        raise AgreementError(_("This mediation already has its agreement."))
    on = on or timeutil.today()
    prefix = f"{matter.committee.code}-{on.year}-"
    case = matter.case
    agreement, skip = None, 0
    for _attempt in range(NUMBER_ATTEMPTS):
        candidate = Agreement(referral_id=matter.id, number=_next_number(prefix, skip),
                              verification_code=_new_code(), status=AgreementStatus.DRAFTING,
                              created_by_id=actor.id, created_at=timeutil.utcnow())
        try:
            with db.session.begin_nested():
                db.session.add(candidate)
                db.session.flush()
        except IntegrityError:
            if db.session.scalar(select(Agreement.id).where(Agreement.referral_id == matter.id)) is not None:
                raise AgreementError(_("This mediation already has its agreement."))
            seen = db.session.scalar(select(Agreement.id).where(
                (Agreement.number == candidate.number) | (Agreement.verification_code == candidate.verification_code)))
            if seen is None:
                skip += 1  # the number is taken by a row this transaction cannot see: the count will not move
            continue
        agreement = candidate
        break
    if agreement is None:
        raise AgreementError(_("No free agreement number was found. Try again."))
    agreement.referral = matter
    version = AgreementVersion(number=1, facts=_clean(case.facts), disputes=_clean(case.request),
                               responsibilities="", other_terms="",
                               parties_snapshot=_j(parties_snapshot(matter)),
                               change_note=_("First draft, filled from the case."), created_by_id=actor.id,
                               created_at=timeutil.utcnow())
    agreement.versions.append(version)
    db.session.flush()
    version.content_hash = document_hash(version)
    record("agreement.started", agreement, actor=actor,
           details={"case": case.reference, "matter": matter.id, "number": agreement.number,
                    "version": 1, "content_hash": version.content_hash})
    return agreement


# --- versions -----------------------------------------------------------------------------------------------

@dataclass
class ObligationInput:
    party_id: int | None
    what: str = ""
    manner: str = ""
    place: str = ""
    due_on: date | None = None

    def blank(self) -> bool:
        return not (self.party_id or _clean(self.what) or _clean(self.manner) or _clean(self.place) or self.due_on)


def check_obligations(matter: MediationReferral, rows: list[ObligationInput], on: date) -> list[tuple[int, str, str]]:
    """Problems of the obligation rows as (row index, field, message); blank rows are ignored."""
    parties = {p.id for p in matter.parties if p.withdrawn_on is None}
    problems = []
    for index, row in enumerate(rows):
        if row.blank():
            continue
        if row.party_id not in parties:
            problems.append((index, "party_id", _("Choose the party that performs this obligation.")))
        if not _clean(row.what):
            problems.append((index, "what", _("Say what is to be done.")))
        elif len(_clean(row.what)) > 4000:
            problems.append((index, "what", _("Use at most %(n)d characters.", n=4000)))
        if len(_clean(row.manner)) > 500:
            problems.append((index, "manner", _("Use at most %(n)d characters.", n=500)))
        if len(_clean(row.place)) > 200:
            problems.append((index, "place", _("Use at most %(n)d characters.", n=200)))
        if row.due_on is None:
            problems.append((index, "due_on", _("Enter the date by which it is to be done.")))
        elif row.due_on < on:
            problems.append((index, "due_on", _("The due date cannot be before today.")))
    return problems


def _tell_text_changed(agreement: Agreement, actor: User, version: AgreementVersion) -> int:
    """Everyone concerned hears that the text changed and every signature collected is void: the parties'
    accounts (petitioners, the departments' representatives) and the mediators of the matter."""
    matter = agreement.referral
    users: dict[int, User] = {}
    petitioner_users = [p.petitioner.user_id for p in matter.parties
                        if p.withdrawn_on is None and p.petitioner is not None and p.petitioner.user_id]
    department_ids = [p.department_id for p in matter.parties if p.withdrawn_on is None and p.department_id]
    ids = set(petitioner_users) | {m.user_id for m in matter.mediators}
    conditions = [User.id.in_(ids)] if ids else []
    if department_ids:
        conditions.append((User.role == Role.DEPARTMENT_REP) & User.department_id.in_(department_ids))
    if conditions:
        from sqlalchemy import or_

        for user in db.session.scalars(select(User).where(or_(*conditions), User.active.is_(True))):
            users[user.id] = user
    users.pop(actor.id, None)
    link = _agreement_link(agreement)
    for user in sorted(users.values(), key=lambda u: u.id):
        _notify(user, lambda: (
            _("Agreement %(number)s changed: signatures are void", number=agreement.number),
            _("The text of mediation agreement %(number)s (%(ref)s) was changed while it was being signed "
              "(version %(version)d: %(note)s). Every signature collected so far is void; the agreement is "
              "back in drafting and will be signed again once its text is fixed.\n%(link)s",
              number=agreement.number, ref=matter.case.reference, version=version.number,
              note=version.change_note, link=link)))
    return len(users)


@atomic
def save_version(agreement: Agreement, actor: User, *, facts: str, disputes: str, responsibilities: str,
                 other_terms: str, change_note: str, obligations: list[ObligationInput],
                 based_on: int | None = None, on: date | None = None) -> AgreementVersion:
    """A new immutable version. While the agreement is being signed, the change voids every signature collected,
    puts the agreement back in drafting and tells everyone; once sealing has started the text is fixed."""
    on = on or timeutil.today()
    if agreement.status in LOCKED_STATUSES:
        raise AgreementError(_("The text can no longer change: the agreement has been signed and sealed."))
    matter = agreement.referral
    latest = current_version(agreement)
    if based_on is not None and latest is not None and based_on != latest.number:
        raise AgreementError(_("Version %(n)d was saved in the meantime. Open it, then make your change again.",
                               n=latest.number))
    values = {"facts": _clean(facts), "disputes": _clean(disputes), "responsibilities": _clean(responsibilities),
              "other_terms": _clean(other_terms)}
    for name in REQUIRED_FIELDS:
        if not values[name]:
            raise AgreementError(_("This field is required."), name)
    for name, value in values.items():
        if len(value) > TEXT_MAX:
            raise AgreementError(_("Use at most %(n)d characters.", n=TEXT_MAX), name)
    note = _clean(change_note)
    if not note:
        raise AgreementError(_("Say briefly what changed in this version."), "change_note")
    if len(note) > 500:
        raise AgreementError(_("Use at most %(n)d characters.", n=500), "change_note")
    problems = check_obligations(matter, obligations, on)
    if problems:
        index, _field, message = problems[0]
        raise AgreementError(_("Obligation %(n)d: %(message)s", n=index + 1, message=message), "obligations")
    rows = [row for row in obligations if not row.blank()]
    if not rows:
        raise AgreementError(_("Add at least one obligation: who does what, how, where and by when."),
                             "obligations")
    version = AgreementVersion(number=(latest.number if latest else 0) + 1, change_note=note,
                               parties_snapshot=_j(parties_snapshot(matter)), created_by_id=actor.id,
                               created_at=timeutil.utcnow(), **values)
    for position, row in enumerate(rows, start=1):
        version.obligations.append(AgreementObligation(
            position=position, party_id=row.party_id, what=_clean(row.what), manner=_clean(row.manner),
            place=_clean(row.place), due_on=row.due_on))
    agreement.versions.append(version)
    db.session.flush()
    version.content_hash = document_hash(version)
    if latest is not None and latest.content_hash == version.content_hash:
        raise AgreementError(_("Nothing changed since version %(n)d.", n=latest.number))
    was_signing = agreement.status == AgreementStatus.SIGNING
    voided = void_signatures(agreement) if was_signing else []
    flag_modified(agreement, "document_hash")  # the version column rises: a concurrent change fails cleanly
    told = _tell_text_changed(agreement, actor, version) if was_signing else 0
    record("agreement.version_saved", agreement, actor=actor,
           details={"number": agreement.number, "version": version.number, "change_note": note,
                    "content_hash": version.content_hash, "obligations": len(rows),
                    "signatures_voided": len(voided), "told": told})
    if was_signing:
        record("agreement.signatures_voided", agreement, actor=actor,
               details={"number": agreement.number, "version": version.number,
                        "signatures": [s.id for s in voided], "told": told})
    return version


# --- comments -----------------------------------------------------------------------------------------------

@atomic
def add_comment(agreement: Agreement, actor: User, text: str) -> AgreementComment:
    """A party or a mediator comments on the current draft."""
    if agreement.status in LOCKED_STATUSES:
        raise AgreementError(_("Comments are closed: the agreement has been signed and sealed."))
    text = _clean(text)
    if not text:
        raise AgreementError(_("Write your comment."), "text")
    if len(text) > 4000:
        raise AgreementError(_("Use at most %(n)d characters.", n=4000), "text")
    version = current_version(agreement)
    if version is None:
        raise AgreementError(_("There is no draft to comment on yet."))
    party = policy.party_of(actor, agreement.referral)
    comment = AgreementComment(version_id=version.id, author_id=actor.id, party_id=party.id if party else None,
                               text=text, created_at=timeutil.utcnow())
    db.session.add(comment)
    record("agreement.comment_added", comment, actor=actor,
           details={"number": agreement.number, "version": version.number,
                    "party": party.id if party else None, "text": text})
    return comment


# --- loading and what the page reads --------------------------------------------------------------------------

def load_page_agreement(agreement_id: int) -> Agreement | None:
    """An agreement for its pages: the matter with its case, petitioners, committee, parties and mediators; the
    versions with their authors and obligations; the signatures. A fixed number of queries."""
    return db.session.scalar(
        select(Agreement).where(Agreement.id == agreement_id)
        .options(joinedload(Agreement.referral).joinedload(MediationReferral.case).selectinload(Case.petitioners),
                 joinedload(Agreement.referral).joinedload(MediationReferral.committee),
                 joinedload(Agreement.referral).selectinload(MediationReferral.parties)
                 .joinedload(MediationParty.petitioner),
                 joinedload(Agreement.referral).selectinload(MediationReferral.parties)
                 .joinedload(MediationParty.department),
                 joinedload(Agreement.referral).selectinload(MediationReferral.mediators)
                 .joinedload(MediationMediator.user),
                 selectinload(Agreement.versions).joinedload(AgreementVersion.created_by),
                 selectinload(Agreement.versions).selectinload(AgreementVersion.obligations),
                 selectinload(Agreement.signatures)))


def comments_of(agreement: Agreement) -> list[AgreementComment]:
    return list(db.session.scalars(
        select(AgreementComment).join(AgreementVersion, AgreementVersion.id == AgreementComment.version_id)
        .where(AgreementVersion.agreement_id == agreement.id)
        .options(joinedload(AgreementComment.author), joinedload(AgreementComment.party))
        .order_by(AgreementComment.id)))


def agreement_of_matter(matter: MediationReferral) -> Agreement | None:
    return db.session.scalar(select(Agreement).where(Agreement.referral_id == matter.id))


@dataclass
class ObligationRow:
    position: int
    party: str
    what: str
    manner: str
    place: str
    due_on: date | None
    obligation: AgreementObligation | None = None


@dataclass
class DocumentView:
    """One version as the document states it, for the page and the PDF."""

    version: AgreementVersion
    parties: list[dict]
    obligations: list[ObligationRow]

    def side(self, side: str) -> list[dict]:
        return [p for p in self.parties if p.get("side") == side]


def document_view(version: AgreementVersion, *, viewer=None) -> DocumentView:
    """`viewer`: the user reading it on screen (ID numbers and phones by shows_personal); None for the issued
    document, which states every party in full."""
    parties = snapshot_of(version)
    names = {p.get("party_id"): p.get("name", "") for p in parties}
    for p in parties:
        p["side_label"] = _side_label(p.get("side", ""))
    rows = [ObligationRow(o.position, names.get(o.party_id) or (o.party.name if o.party else ""), o.what, o.manner,
                          o.place, o.due_on, o) for o in version.obligations]
    return DocumentView(version, for_viewer(parties, version.agreement, viewer), rows)


@dataclass
class AgreementPage:
    agreement: Agreement
    matter: MediationReferral
    version: AgreementVersion | None  # the version shown
    current: AgreementVersion | None
    document: DocumentView | None
    comments: list[AgreementComment]
    can_draft: bool
    can_comment: bool
    personal: bool
    party: MediationParty | None = None
    extra: dict = field(default_factory=dict)


def agreement_page(agreement: Agreement, user, version_number: int | None = None) -> AgreementPage:
    matter = agreement.referral
    current = current_version(agreement)
    version = next((v for v in agreement.versions if v.number == version_number), None) if version_number else None
    version = version or current
    personal = shows_personal(user, agreement)  # every row in full; else some rows are masked
    open_text = agreement.status not in LOCKED_STATUSES
    return AgreementPage(
        agreement=agreement, matter=matter, version=version, current=current,
        document=document_view(version, viewer=user) if version else None,
        comments=comments_of(agreement),
        can_draft=open_text and policy.can(user, "agreement.draft", agreement),
        can_comment=open_text and policy.can(user, "agreement.comment", agreement),
        personal=personal, party=policy.party_of(user, matter))


# --- the diff ----------------------------------------------------------------------------------------------

@dataclass
class DiffLine:
    kind: str  # "equal", "insert", "delete", "change"
    segments: list[tuple[str, str]]  # (kind, text) with kind equal/insert/delete


@dataclass
class SectionDiff:
    key: str
    title: str
    lines: list[DiffLine]

    @property
    def changed(self) -> bool:
        return any(line.kind != "equal" for line in self.lines)


def _section_titles() -> dict[str, str]:
    return {"parties": _("Parties"), "facts": _("Main facts"), "disputes": _("Disputed matters"),
            "responsibilities": _("Each party's responsibility"), "obligations": _("Obligations"),
            "other_terms": _("Other terms")}


def readable_sections(version: AgreementVersion, *, viewer=None) -> list[tuple[str, list[str]]]:
    """The document by section as lines of readable text (the diff compares these; it is a screen, so `viewer`
    masks as shows_personal says). Due dates are written for the reader (format_date); the canonical text and
    its hash keep ISO dates."""
    view = document_view(version, viewer=viewer)
    parties = []
    for p in view.parties:
        bits = [p.get("side_label", ""), p.get("name", "")]
        if p.get("id_number"):
            bits.append(_("ID number %(number)s", number=p["id_number"]))
        if p.get("address"):
            bits.append(_("home address %(address)s", address=p["address"]))
        if p.get("phone"):
            bits.append(_("phone %(phone)s", phone=p["phone"]))
        if p.get("representative"):
            bits.append(_("represented by %(name)s", name=p["representative"]))
        parties.append(" · ".join(bits))
    obligations = []
    for row in view.obligations:
        obligations.append(_("%(n)d. %(party)s: %(what)s; how: %(manner)s; where: %(place)s; by %(due)s",
                             n=row.position, party=row.party, what=row.what, manner=row.manner or "—",
                             place=row.place or "—", due=format_date(row.due_on, "long") if row.due_on else "—"))
    sections = [("parties", parties)]
    for key in ("facts", "disputes", "responsibilities"):
        sections.append((key, _clean(getattr(version, key)).split("\n") if _clean(getattr(version, key)) else []))
    sections.append(("obligations", obligations))
    sections.append(("other_terms", _clean(version.other_terms).split("\n") if _clean(version.other_terms) else []))
    return sections


def _inline(old: str, new: str) -> list[tuple[str, str]]:
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            segments.append(("equal", old[i1:i2]))
        else:
            if i2 > i1:
                segments.append(("delete", old[i1:i2]))
            if j2 > j1:
                segments.append(("insert", new[j1:j2]))
    return segments


def diff_versions(old: AgreementVersion, new: AgreementVersion, *, viewer=None) -> list[SectionDiff]:
    """Section by section, line by line (difflib); a changed line shows the removed and added words in place."""
    titles = _section_titles()
    before = dict(readable_sections(old, viewer=viewer))
    result = []
    for key, new_lines in readable_sections(new, viewer=viewer):
        old_lines = before.get(key, [])
        lines: list[DiffLine] = []
        matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op == "equal":
                lines += [DiffLine("equal", [("equal", line)]) for line in old_lines[i1:i2]]
            elif op == "replace" and (i2 - i1) == (j2 - j1):
                lines += [DiffLine("change", _inline(a, b)) for a, b in zip(old_lines[i1:i2], new_lines[j1:j2])]
            else:
                lines += [DiffLine("delete", [("delete", line)]) for line in old_lines[i1:i2]]
                lines += [DiffLine("insert", [("insert", line)]) for line in new_lines[j1:j2]]
        result.append(SectionDiff(key, titles[key], lines))
    return result


# --- the document: HTML and the preview PDF ---------------------------------------------------------------------

def _data_uri(data: bytes | None, content_type: str = "image/png") -> str:
    if not data:
        return ""
    return f"data:{content_type};base64," + base64.b64encode(data).decode("ascii")


def verification_url(agreement: Agreement) -> str:
    """The public check of this agreement (the /verify/<code> page)."""
    base = (current_app.config.get("PORTAL_BASE_URL") or "").rstrip("/")
    if not base and has_request_context():
        from flask import request

        base = request.host_url.rstrip("/")
    return f"{base or 'http://localhost'}/verify/{agreement.verification_code}"


def _qr_data_uri(url: str) -> str:
    import segno

    return segno.make(url, error="m").svg_data_uri(scale=3, border=2)


CHINESE_DIGITS = "零一二三四五六七八九"
# A copies sentence the mediator already wrote (一式四份, 一式 4 份, "in three copies"): no second standard clause.
COPIES_RE = re.compile(r"一式\s*[\d零一二两三四五六七八九十]+\s*份|\bin\s+\w+\s+(?:identical\s+)?copies\b",
                       re.IGNORECASE)


def chinese_numeral(n: int) -> str:
    """1..99 in Chinese numerals (4 -> 四, 12 -> 十二, 20 -> 二十); other numbers as digits."""
    if not 0 < n < 100:
        return str(n)
    tens, units = divmod(n, 10)
    if tens == 0:
        return CHINESE_DIGITS[units]
    return (CHINESE_DIGITS[tens] if tens > 1 else "") + "十" + (CHINESE_DIGITS[units] if units else "")


def number_in_words(n: int) -> str:
    """A small count written out for the reader's language: Chinese numerals in Chinese, digits otherwise."""
    from flask_babel import get_locale

    locale = get_locale()
    return chinese_numeral(n) if locale is not None and locale.language == "zh" else str(n)


def states_copies(version: AgreementVersion) -> bool:
    """Whether the mediator's own text already says in how many copies the agreement is made."""
    return any(COPIES_RE.search(_clean(getattr(version, name)) or "") for name in TEXT_FIELDS)


@dataclass
class SignatureBlock:
    title: str  # the party's name, "Mediator", the committee's name
    signature: AgreementSignature | None
    image: str = ""  # data: URI of a drawn signature or the seal
    on_behalf: str = ""


def _signature_blocks(agreement: Agreement, view: DocumentView, signatures) -> tuple[list, list]:
    signed = [s for s in signatures if s.status != SignatureStatus.DECLINED and s.voided_at is None]
    parties = []
    for p in view.parties:
        found = next((s for s in signed if s.role == SignerRole.PARTY and s.party_id == p.get("party_id")), None)
        on_behalf = p.get("name", "") if p.get("kind") == "department" else ""
        parties.append(SignatureBlock(p.get("name", ""), found, _data_uri(found.image_png) if found else "",
                                      on_behalf))
    mediators = [SignatureBlock(s.signer_name, s, _data_uri(s.image_png))
                 for s in signed if s.role == SignerRole.MEDIATOR]
    return parties, mediators


def render_document_html(agreement: Agreement, version: AgreementVersion, *, signatures=(), seal_image=None,
                         issued: bool = False, preview: bool = False, viewer=None) -> str:
    """The one layout of the agreement (templates/agreements/pdf/agreement.html), always in Chinese: the preview
    (marked as a draft, no QR code) and the issued document (QR code to the public check, the short code and the
    document hash). `seal_image`: PNG bytes or a data: URI. `viewer`: the user a
    preview is made for (ID numbers and phones as shows_personal says). The issued document is rendered without
    a viewer: it keeps every party's full particulars (art. 29 (1); it is the legal document each party receives)."""
    view = document_view(version, viewer=None if issued else viewer)
    party_blocks, mediator_blocks = _signature_blocks(agreement, view, signatures)
    seal = seal_image if isinstance(seal_image, str) else _data_uri(seal_image)
    committee_signature = next((s for s in signatures if s.role == SignerRole.COMMITTEE and s.voided_at is None
                                and s.status != SignatureStatus.DECLINED), None)
    url = verification_url(agreement) if issued else ""
    context = {
        "agreement": agreement, "matter": agreement.referral, "version": version, "view": view,
        "party_blocks": party_blocks, "mediator_blocks": mediator_blocks,
        "mediator_names": [m.user.display_name for m in agreement.referral.mediators if m.user],
        "seal": seal, "committee_signature": committee_signature, "issued": issued, "preview": preview,
        "verify_url": url, "qr": _qr_data_uri(url) if issued else "",
        "hash": (agreement.document_hash or document_hash(version)) if issued else document_hash(version),
        "in_person": SignatureMethod.IN_PERSON, "copies_stated": states_copies(version),
    }
    with force_locale("zh_CN"):
        context["copies_words"] = number_in_words(len(view.parties) + 1)
        return render_template("agreements/pdf/agreement.html", **context)


def write_pdf(html: str) -> bytes:
    """PDF bytes of a document HTML, with the same restricted fetcher as portal.pdf.render_pdf."""
    from pathlib import Path

    from weasyprint import HTML

    from portal.pdf import StaticOnlyFetcher

    static = Path(current_app.static_folder).resolve()
    return HTML(string=html, base_url=static.as_uri() + "/", url_fetcher=StaticOnlyFetcher(static)).write_pdf()


def preview_pdf(agreement: Agreement, version: AgreementVersion | None = None, *, viewer=None) -> bytes:
    """The draft as the final layout, marked as a preview, with the signatures collected so far and no QR."""
    version = version or current_version(agreement)
    if version is None:
        raise AgreementError(_("There is no draft yet."))
    html = render_document_html(agreement, version, signatures=live_signatures(agreement), preview=True,
                                viewer=viewer)
    return write_pdf(html)
