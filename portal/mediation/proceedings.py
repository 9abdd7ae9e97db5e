"""The proceedings record (调解笔录) of a mediation session: the work, without the request.

* start_session() opens the record of a scheduled session (the session is then held); the mediator adds
  time-stamped entries live (statements, proposals, the mediator's notes, private caucus notes with evidence
  files) and records who attended.
* Closing: read_back() freezes the entries while each attending party confirms or declines (in the session, or
  online from its own account); reopen() goes back to correcting and clears the answers. lock() puts the sha256
  of canonical_text() on the row and into the audit trail; afterwards only errata are appended.
* Private caucus notes (背对背) and their evidence are filtered in ONE place: entries_for() / may_see_entry().
  Pages, downloads and the party copy of the PDF all go through it.
* Numbers shown: entry_numbers() gives the party-visible entries 1, 2, 3... and caucus notes C1, C2... (every
  view and copy alike); `position` only orders the entries and goes into the lock hash.
* A session starts on its own day (local time) at the earliest; the read-back asks each attending party with an
  account, by message, to confirm the record.

Every change writes the audit trail and commits through @atomic; a refusal raises MediationError before
anything changes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from portal import policy, timeutil, uploads
from portal.accounts.models import User
from portal.audit.services import record as audit
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.text import list_separator
from portal.timeutil import utcnow

from .models import (
    ConfirmationAnswer,
    ConfirmationHow,
    EntryKind,
    MediationParty,
    MediationReferral,
    MediationSession,
    ProceedingConfirmation,
    ProceedingEntry,
    ProceedingErratum,
    ProceedingEvidence,
    ProceedingRecord,
    RecordStatus,
    SessionAttendance,
    SessionStatus,
)
from .services import MediationError, active_parties, atomic, ensure_consent, ensure_open
from .sessions import party_recipients

TEXT_MAX = 20000
NAME_MAX = 200
EVIDENCE_PER_ENTRY = 10


def _sha(text: str) -> str:
    return hashlib.sha256((text or "").encode("utf-8")).hexdigest()


# --- who sees what (the one place for the caucus rule) ------------------------------------------------------

def sees_caucus(user, matter: MediationReferral) -> bool:
    """Private caucus notes (背对背) and their evidence: the mediators of the matter and its committee only."""
    return policy.can(user, "mediation.caucus", matter)


def may_see_entry(entry: ProceedingEntry, user, matter: MediationReferral) -> bool:
    return not entry.private or sees_caucus(user, matter)


def entries_for(record: ProceedingRecord | None, user, matter: MediationReferral,
                party_copy: bool = False) -> list[ProceedingEntry]:
    """The entries `user` may read, in order. Caucus notes only for those who see them, and never in a party copy
    (the PDF a party gets, or that a mediator prints for a party)."""
    if record is None:
        return []
    show_private = not party_copy and sees_caucus(user, matter)
    return [e for e in record.entries if show_private or not e.private]


def entry_numbers(record: ProceedingRecord | None) -> dict[int, str]:
    """The number each entry shows, the same in every view and copy: the entries the parties see are numbered
    1, 2, 3... on their own, caucus notes C1, C2... in a sequence of their own, so a party's copy has no gaps and
    agrees with the mediators' copy. `position` keeps the order and is what the hash covers."""
    if record is None:
        return {}
    numbers, seen, caucus = {}, 0, 0
    for entry in sorted(record.entries, key=lambda e: e.position):
        if entry.private:
            caucus += 1
            numbers[entry.id] = _("C%(n)d", n=caucus)
        else:
            seen += 1
            numbers[entry.id] = str(seen)
    return numbers


# How an entry is named in a sentence, with the noun of its kind (a caucus note is numbered C1, C2...): each
# sentence is whole, so that a translation can place the noun and the number as its language wants.
ENTRY_PHRASES = {
    "name": {EntryKind.STATEMENT: _l("Statement %(n)s"), EntryKind.PROPOSAL: _l("Proposal %(n)s"),
             EntryKind.NOTE: _l("Mediator's note %(n)s"), EntryKind.CAUCUS: _l("Caucus note %(n)s")},
    "correct": {EntryKind.STATEMENT: _l("Correct statement %(n)s"), EntryKind.PROPOSAL: _l("Correct proposal %(n)s"),
                EntryKind.NOTE: _l("Correct mediator's note %(n)s"),
                EntryKind.CAUCUS: _l("Correct caucus note %(n)s")},
    "corrects": {EntryKind.STATEMENT: _l("corrects statement %(n)s"),
                 EntryKind.PROPOSAL: _l("corrects proposal %(n)s"),
                 EntryKind.NOTE: _l("corrects mediator's note %(n)s"),
                 EntryKind.CAUCUS: _l("corrects caucus note %(n)s")},
    "corrected": {EntryKind.STATEMENT: _l("Statement %(n)s corrected."),
                  EntryKind.PROPOSAL: _l("Proposal %(n)s corrected."),
                  EntryKind.NOTE: _l("Mediator's note %(n)s corrected."),
                  EntryKind.CAUCUS: _l("Caucus note %(n)s corrected.")},
}


def entry_phrase(entry: ProceedingEntry, number: str, form: str = "name") -> str:
    """`form` is name ("Statement 3"), correct ("Correct caucus note C1"), corrects ("corrects proposal 2") or
    corrected ("Statement 3 corrected.")."""
    return str(ENTRY_PHRASES[form][entry.kind]) % {"n": number}


def file_size(size: int | None) -> str:
    """An evidence file's size for people: bytes under 1 KB (a small file never reads "0.0 KB"), else KB or MB
    with one decimal."""
    size = max(0, int(size or 0))
    if size < 1024:
        return _("%(n)d bytes", n=size)
    if size < 1024 * 1024:
        return _("%(n)s KB", n=format_decimal(round(size / 1024, 1), "0.0"))
    return _("%(n)s MB", n=format_decimal(round(size / (1024 * 1024), 1), "0.0"))


def errata_for(record: ProceedingRecord | None, user, matter: MediationReferral,
               party_copy: bool = False) -> list[ProceedingErratum]:
    """Errata belong to the party-visible record; one that names a caucus entry is shown like that entry."""
    if record is None:
        return []
    visible = {e.id for e in entries_for(record, user, matter, party_copy)}
    return [e for e in record.errata if e.entry_id is None or e.entry_id in visible]


# --- loading ------------------------------------------------------------------------------------------------

def load_session(matter: MediationReferral, session_id: int) -> MediationSession | None:
    """The session of this matter (None for a session of another matter) with its attendance."""
    session = db.session.scalar(select(MediationSession).where(MediationSession.id == session_id).options(
        selectinload(MediationSession.attendance)))
    if session is None or session.referral_id != matter.id:
        return None
    return session


def load_record(session: MediationSession) -> ProceedingRecord | None:
    """The record with everything its page and PDF show, in a fixed number of queries."""
    return db.session.scalar(select(ProceedingRecord).where(ProceedingRecord.session_id == session.id).options(
        selectinload(ProceedingRecord.entries).options(selectinload(ProceedingEntry.evidence),
                                                       joinedload(ProceedingEntry.author)),
        selectinload(ProceedingRecord.confirmations).joinedload(ProceedingConfirmation.recorded_by),
        selectinload(ProceedingRecord.errata).joinedload(ProceedingErratum.author),
        joinedload(ProceedingRecord.session)))


def mediator_users(matter: MediationReferral) -> list[User]:
    """The mediators' accounts (one query)."""
    ids = [m.user_id for m in matter.mediators]
    if not ids:
        return []
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}
    return [users[i] for i in ids if i in users]


def _locked_record(record: ProceedingRecord) -> ProceedingRecord:
    """Re-read the record under a row lock (PostgreSQL; SQLite writes take turns anyway), so a read-back or a lock
    by someone else is seen before an entry is added."""
    return db.session.scalar(select(ProceedingRecord).where(ProceedingRecord.id == record.id)
                             .with_for_update().execution_options(populate_existing=True))


def _refuse_locked(record: ProceedingRecord) -> None:
    if record.status == RecordStatus.LOCKED:
        raise MediationError(_("This record is locked and cannot be changed; append an erratum to correct it."))


def _ensure_recording(record: ProceedingRecord) -> None:
    _refuse_locked(record)
    if record.status == RecordStatus.READ_BACK:
        raise MediationError(_("The record has been read back to the parties: no more entries or changes. "
                               "Reopen it to correct it."))


# --- starting -----------------------------------------------------------------------------------------------

@atomic
def start_session(matter: MediationReferral, session: MediationSession, actor,
                  now: datetime | None = None) -> ProceedingRecord:
    """Open the record of a scheduled session; the session is then held. Not before the session's day (local
    time): a session held earlier is moved to that day first. On the day, any hour will do."""
    ensure_consent(matter)
    if session.record is not None:
        raise MediationError(_("This session has already started."))
    if session.status != SessionStatus.SCHEDULED:
        raise MediationError(_("Only a scheduled session can be started (this one is %(status)s).",
                               status=session.status.label))
    zone = timeutil.local_zone()
    day = session.starts_at.astimezone(zone).date()
    if (now or utcnow()).astimezone(zone).date() < day:
        raise MediationError(_("This session is scheduled for %(day)s; it cannot start before that day. If it is "
                               "held today, move the session to today first (the participants are told).",
                               day=day.isoformat()))
    record = ProceedingRecord(session_id=session.id, status=RecordStatus.OPEN, opened_at=utcnow())
    db.session.add(record)
    session.status = SessionStatus.HELD
    audit("mediation.session_started", record, actor=actor,
          details={"matter": matter.id, "session": session.id, "number": session.number})
    return record


# --- entries ------------------------------------------------------------------------------------------------

def _speaker(matter: MediationReferral, party_id: int | None) -> MediationParty | None:
    if party_id is None:
        return None
    party = next((p for p in active_parties(matter) if p.id == party_id), None)
    if party is None:
        raise MediationError(_("Choose a party of this mediation, or the mediator."), "speaker")
    return party


def _kind(value) -> EntryKind:
    try:
        return EntryKind(value)
    except ValueError:
        raise MediationError(_("Choose the kind of entry."), "kind") from None


def _text(value: str, field: str = "text", message: str | None = None) -> str:
    text = (value or "").strip()
    if not text:
        raise MediationError(message or _("Write what was said or done."), field)
    if len(text) > TEXT_MAX:
        raise MediationError(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), field)
    return text


def _entry_details(entry: ProceedingEntry) -> dict:
    """What the audit trail keeps of an entry: never its text (caucus notes stay out of the trail), its hash."""
    return {"record": entry.record_id, "position": entry.position, "kind": entry.kind.value,
            "speaker": entry.party_id, "text_sha256": _sha(entry.text)}


@atomic
def add_entry(matter: MediationReferral, record: ProceedingRecord, *, kind, party_id: int | None, text: str,
              files=(), actor) -> ProceedingEntry:
    """A new entry at the end of the record, time-stamped now, with its evidence files (checked before storing)."""
    ensure_open(matter)
    kind = _kind(kind)
    if kind == EntryKind.CAUCUS and not sees_caucus(actor, matter):
        raise MediationError(_("Only the mediators keep private caucus notes."), "kind")
    speaker = _speaker(matter, party_id)
    text = _text(text)
    try:
        checked = uploads.check_files(files, limit=EVIDENCE_PER_ENTRY, field="evidence")
    except uploads.UploadError as error:
        raise MediationError(error.message, "evidence") from None
    record = _locked_record(record)
    _ensure_recording(record)
    last = db.session.scalar(select(func.max(ProceedingEntry.position)).where(ProceedingEntry.record_id == record.id))
    entry = ProceedingEntry(record_id=record.id, position=(last or 0) + 1, kind=kind,
                            party_id=speaker.id if speaker else None, text=text, author_id=actor.id,
                            created_at=utcnow())
    db.session.add(entry)
    stored = uploads.store(checked) if checked else []
    try:
        db.session.flush()
        for item in stored:
            entry.evidence.append(ProceedingEvidence(entry_id=entry.id, uploaded_by_id=actor.id, **item.as_dict()))
        audit("mediation.entry_added", entry, actor=actor,
              details={**_entry_details(entry), "evidence": [s.sha256 for s in stored]})
    except Exception:
        uploads.remove([s.stored_name for s in stored])
        raise
    return entry


KEEP = object()  # edit_entry(): leave the speaker as it is


@atomic
def edit_entry(matter: MediationReferral, entry: ProceedingEntry, *, text: str, kind=None, party_id=KEEP,
               actor) -> ProceedingEntry:
    """Correct an entry while the record is open: its text, and its kind or speaker (a private note entered as a
    statement by mistake is made a caucus note again). The audit trail keeps the old text's hash."""
    ensure_open(matter)
    new_kind = entry.kind if kind in (None, "") else _kind(kind)
    if (entry.private or new_kind == EntryKind.CAUCUS) and not sees_caucus(actor, matter):
        raise MediationError(_("Only the mediators keep private caucus notes."), "kind")
    speaker_id = entry.party_id if party_id is KEEP else (s.id if (s := _speaker(matter, party_id)) else None)
    text = _text(text)
    record = _locked_record(entry.record)
    _ensure_recording(record)
    if (text, new_kind, speaker_id) == (entry.text, entry.kind, entry.party_id):
        return entry
    old = {"old_text_sha256": _sha(entry.text), "old_kind": entry.kind.value, "old_speaker": entry.party_id}
    entry.text, entry.kind, entry.party_id, entry.edited_at = text, new_kind, speaker_id, utcnow()
    audit("mediation.entry_edited", entry, actor=actor, details={**_entry_details(entry), **old})
    return entry


# --- attendance ---------------------------------------------------------------------------------------------

@atomic
def save_attendance(matter: MediationReferral, record: ProceedingRecord, rows: list[dict], actor) -> None:
    """rows: {party_id, present: "present" | "absent" | "" (not entered), attendee_name (who came for a department,
    or as agent)}. Only while the record is being kept."""
    session = record.session
    record = _locked_record(record)
    _ensure_recording(record)
    parties = {p.id: p for p in active_parties(matter)}
    checked = []
    for row in rows:
        party = parties.get(row.get("party_id"))
        if party is None:
            raise MediationError(_("Choose a party of this mediation."), "attendance")
        state = row.get("present") or ""
        if state not in ("", "present", "absent"):
            raise MediationError(_("Choose present or absent."), "attendance")
        name = (row.get("attendee_name") or "").strip()
        if len(name) > NAME_MAX:
            raise MediationError(_("The name is too long (at most %(n)d characters).", n=NAME_MAX), "attendance")
        checked.append((party, state, name))
    existing = {a.party_id: a for a in session.attendance}
    changes = []
    for party, state, name in checked:
        row = existing.get(party.id)
        if not state:
            if row is not None:
                session.attendance.remove(row)
                changes.append({"party": party.id, "present": None})
            continue
        present = state == "present"
        if row is None:
            row = SessionAttendance(session_id=session.id, party_id=party.id, present=present, attendee_name=name)
            session.attendance.append(row)
        elif row.present == present and row.attendee_name == name:
            continue
        row.present, row.attendee_name = present, name
        changes.append({"party": party.id, "present": present, "attendee": name})
    if changes:
        audit("mediation.attendance_saved", session, actor=actor, details={"record": record.id, "changes": changes})


def attendance_complete(matter: MediationReferral, session: MediationSession) -> bool:
    """Every party whose consent stands is entered as present or absent, and someone attended."""
    entered = {a.party_id: a for a in session.attendance}
    parties = active_parties(matter)
    return bool(parties) and all(p.id in entered for p in parties) and any(a.present for a in entered.values())


def attending_parties(matter: MediationReferral, session: MediationSession) -> list[MediationParty]:
    present = {a.party_id for a in session.attendance if a.present}
    return [p for p in matter.parties if p.id in present]


# --- read-back, confirmations, lock -------------------------------------------------------------------------

@atomic
def read_back(matter: MediationReferral, record: ProceedingRecord, actor) -> None:
    """The mediator has read the record back: no more entries or edits while the parties answer."""
    record = _locked_record(record)
    _ensure_recording(record)
    if not record.entries:
        raise MediationError(_("The record has no entries yet; there is nothing to read back."))
    if not attendance_complete(matter, record.session):
        raise MediationError(_("Record the attendance of every party before reading the record back."))
    record.status, record.read_back_at = RecordStatus.READ_BACK, utcnow()
    told = _ask_for_confirmation(matter, record)
    audit("mediation.record_read_back", record, actor=actor,
          details={"entries": len(record.entries), "content_sha256": content_hash(record), "told": told})


def _record_link(session: MediationSession) -> str:
    try:
        return external_url("mediation.record", matter_id=session.referral_id, session_id=session.id)
    except RuntimeError:  # no request and no base URL configured
        return ""


def _ask_for_confirmation(matter: MediationReferral, record: ProceedingRecord) -> int:
    """Tell each attending party whose answer is not recorded yet and that has an account (the petitioner, the
    active representatives of a department party) that the record awaits its answer, with the link to the record
    page. The mediator often records the answers in the session right after the read-back, so the message says
    that nothing more is needed then. Returns the messages sent."""
    session = record.session
    link = _record_link(session)
    sent = 0
    for person in party_recipients(unanswered(matter, record)):
        if not person.login:
            continue
        with force_locale(person.locale or "zh_CN"):
            subject = _("Mediation record to confirm: %(reference)s", reference=matter.case.reference)
            body = _("The record of session %(number)d of the mediation of case %(reference)s was read back. If you "
                     "have not answered in the session, please confirm on the record page that it says correctly "
                     "what was said, or decline with a reason. If you already gave your answer in the session and "
                     "the mediator recorded it, nothing more is needed: the record page shows your answer.",
                     number=session.number, reference=matter.case.reference)
            if link:
                body += "\n\n" + link
        send_message(person.login, subject, body)
        sent += 1
    return sent


@atomic
def reopen(matter: MediationReferral, record: ProceedingRecord, actor) -> None:
    """Back to correcting: the parties' answers are cleared (they confirm the corrected text again)."""
    record = _locked_record(record)
    _refuse_locked(record)
    if record.status != RecordStatus.READ_BACK:
        raise MediationError(_("The record is still being kept; there is nothing to reopen."))
    cleared = [{"party": c.party_id, "answer": c.answer.value, "how": c.how.value} for c in record.confirmations]
    for confirmation in list(record.confirmations):
        record.confirmations.remove(confirmation)
        db.session.delete(confirmation)
    record.status, record.read_back_at = RecordStatus.OPEN, None
    audit("mediation.record_reopened", record, actor=actor, details={"cleared": cleared})


@atomic
def confirm(matter: MediationReferral, record: ProceedingRecord, party: MediationParty, *, answer: str,
           note: str = "", how: ConfirmationHow, actor) -> ProceedingConfirmation:
    """A party's answer to the read-back record: confirmed, or declined with a reason. It may be changed until the
    record is locked."""
    record = _locked_record(record)
    _refuse_locked(record)
    if record.status != RecordStatus.READ_BACK:
        raise MediationError(_("The record is confirmed after the mediator has read it back."))
    if party.referral_id != matter.id or party.withdrawn_on is not None:
        raise MediationError(_("Choose a party of this mediation."), "party")
    if party.id not in {p.id for p in attending_parties(matter, record.session)}:
        raise MediationError(_("Only a party that attended the session confirms its record."), "party")
    try:
        value = ConfirmationAnswer(answer)
    except ValueError:
        raise MediationError(_("Confirm or decline the record."), "answer") from None
    note = (note or "").strip()
    if value == ConfirmationAnswer.DECLINED and not note:
        raise MediationError(_("Give the reason for declining."), "note")
    if len(note) > TEXT_MAX:
        raise MediationError(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "note")
    row = next((c for c in record.confirmations if c.party_id == party.id), None)
    previous = row.answer.value if row is not None else None
    if row is None:
        row = ProceedingConfirmation(record_id=record.id, party_id=party.id, answer=value, how=how)
        record.confirmations.append(row)
    row.answer, row.how, row.note = value, how, note
    row.recorded_by_id, row.recorded_at = actor.id, utcnow()
    audit("mediation.record_" + value.value, record, actor=actor,
          details={"party": party.id, "how": how.value, "previous": previous, "note_sha256": _sha(note)})
    return row


def unanswered(matter: MediationReferral, record: ProceedingRecord) -> list[MediationParty]:
    answered = {c.party_id for c in record.confirmations}
    return [p for p in attending_parties(matter, record.session) if p.id not in answered]


def canonical_text(record: ProceedingRecord) -> str:
    """What the lock hash covers, one item per line, in this order:

    1. ``record:<id>``, ``session:<id>``, ``matter:<id>``, ``number:<n>``, ``starts_at:`` / ``ends_at:`` (UTC ISO),
       ``place:``, ``room:``;
    2. ``attendance:`` then one line per party ordered by party id: ``<party id>|<side>|<name>|present|absent|<who
       attended>``;
    3. ``entries:`` then every entry ordered by position, caucus notes INCLUDED:
       ``<position>|<kind>|<speaker party id or "mediator">|<created_at UTC ISO>|<edited_at or "">`` followed by the
       text on the next line;
    4. ``confirmations:`` then one line per answer ordered by party id: ``<party id>|<answer>|<how>|<note>``.

    Errata are not part of it: each carries its own hash (erratum_hash()).
    """
    session = record.session
    lines = [f"record:{record.id}", f"session:{session.id}", f"matter:{session.referral_id}",
             f"number:{session.number}", f"starts_at:{session.starts_at.isoformat()}",
             f"ends_at:{session.ends_at.isoformat()}", f"place:{session.place}", f"room:{session.room}",
             "attendance:"]
    for row in sorted(session.attendance, key=lambda a: a.party_id):
        lines.append(f"{row.party_id}|{row.party.side.value}|{row.party.name}|"
                     f"{'present' if row.present else 'absent'}|{row.attendee_name}")
    lines.append("entries:")
    for entry in sorted(record.entries, key=lambda e: e.position):
        lines.append(f"{entry.position}|{entry.kind.value}|{entry.party_id or 'mediator'}|"
                     f"{entry.created_at.isoformat()}|{entry.edited_at.isoformat() if entry.edited_at else ''}")
        lines.append(entry.text)
    lines.append("confirmations:")
    for row in sorted(record.confirmations, key=lambda c: c.party_id):
        lines.append(f"{row.party_id}|{row.answer.value}|{row.how.value}|{row.note}")
    return "\n".join(lines)


def content_hash(record: ProceedingRecord) -> str:
    return _sha(canonical_text(record))


@atomic
def lock(matter: MediationReferral, record: ProceedingRecord, actor) -> str:
    """Lock the read-back record once every attending party has answered; its hash goes into the audit trail."""
    record = _locked_record(record)
    _refuse_locked(record)
    if record.status != RecordStatus.READ_BACK:
        raise MediationError(_("Read the record back to the parties before locking it."))
    if not attendance_complete(matter, record.session):
        raise MediationError(_("Record the attendance of every party before locking the record."))
    waiting = unanswered(matter, record)
    if waiting:
        raise MediationError(_("Waiting for the answer of: %(names)s.",
                               names=list_separator().join(p.name for p in waiting)))
    record.content_hash = content_hash(record)
    record.status, record.locked_at, record.locked_by_id = RecordStatus.LOCKED, utcnow(), actor.id
    audit("mediation.record_locked", record, actor=actor,
          details={"hash": record.content_hash, "entries": len(record.entries),
                   "confirmations": len(record.confirmations)})
    return record.content_hash


# --- errata -------------------------------------------------------------------------------------------------

def erratum_hash(erratum: ProceedingErratum) -> str:
    """sha256 over ``erratum:<record id>:<number>``, the corrected entry's position (or ""), the time (UTC ISO) and
    the text, one per line."""
    entry = db.session.get(ProceedingEntry, erratum.entry_id) if erratum.entry_id else None
    return _sha("\n".join([f"erratum:{erratum.record_id}:{erratum.number}", str(entry.position) if entry else "",
                           erratum.created_at.isoformat(), erratum.text]))


@atomic
def add_erratum(matter: MediationReferral, record: ProceedingRecord, *, text: str, entry_id: int | None,
                actor) -> ProceedingErratum:
    """A numbered correction under a locked record (the record's own text never changes)."""
    record = _locked_record(record)
    if record.status != RecordStatus.LOCKED:
        raise MediationError(_("Errata are for a locked record; while it is open, correct the entry itself."))
    text = _text(text, message=_("Write the correction."))
    if entry_id is not None:
        entry = next((e for e in record.entries if e.id == entry_id), None)
        if entry is None or entry.private:
            raise MediationError(_("Choose an entry of this record."), "entry_id")
    last = db.session.scalar(select(func.max(ProceedingErratum.number))
                             .where(ProceedingErratum.record_id == record.id))
    erratum = ProceedingErratum(record_id=record.id, number=(last or 0) + 1, text=text, entry_id=entry_id,
                                author_id=actor.id, created_at=utcnow())
    db.session.add(erratum)
    db.session.flush()
    audit("mediation.record_erratum", erratum, actor=actor,
          details={"record": record.id, "number": erratum.number, "entry": entry_id, "hash": erratum_hash(erratum)})
    return erratum


# --- the page's figures -------------------------------------------------------------------------------------

@dataclass
class RecordView:
    """What the record page and the PDF show to one user."""

    matter: MediationReferral
    session: MediationSession
    record: ProceedingRecord | None
    entries: list[ProceedingEntry]
    errata: list[ProceedingErratum]
    caucus: bool  # the user sees caucus notes (and this copy shows them)
    party: MediationParty | None  # the party the user speaks for
    numbers: dict[int, str] = field(default_factory=dict)  # entry id -> the number shown (entry_numbers())

    def number(self, entry: ProceedingEntry) -> str:
        return self.numbers.get(entry.id, str(entry.position))

    def label(self, entry: ProceedingEntry, form: str = "name") -> str:
        """The entry named with the noun of its kind and its number, for a sentence `form` (entry_phrase())."""
        return entry_phrase(entry, self.number(entry), form)

    def errata_of(self, entry: ProceedingEntry) -> list[ProceedingErratum]:
        """The errata (shown in this view) that correct this entry."""
        return [e for e in self.errata if e.entry_id == entry.id]


def record_view(matter: MediationReferral, session: MediationSession, record: ProceedingRecord | None, user,
                party_copy: bool = False) -> RecordView:
    caucus = sees_caucus(user, matter) and not party_copy
    return RecordView(matter, session, record, entries_for(record, user, matter, party_copy),
                      errata_for(record, user, matter, party_copy), caucus, policy.party_of(user, matter),
                      entry_numbers(record))


__all__ = ["EVIDENCE_PER_ENTRY", "RecordView", "TEXT_MAX", "add_entry", "add_erratum", "confirm",
           "attendance_complete", "attending_parties", "canonical_text", "content_hash", "edit_entry", "entries_for",
           "entry_numbers", "entry_phrase", "file_size", "errata_for", "erratum_hash", "load_record", "load_session",
           "lock", "may_see_entry", "mediator_users", "read_back", "record_view", "reopen", "save_attendance",
           "start_session", "unanswered"]
