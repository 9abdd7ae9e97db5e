"""Agenda, attendance and minutes of a workspace meeting: the work, without the request.

* carry_open_tasks(meeting) puts the workspace's open tasks from earlier meetings on the meeting's agenda (one item
  per task, AgendaItem.task_id); ensure_carried() does it once, lazily, when the agenda is first shown.
* Minutes (会议纪要) are drafted by the office, commented on / amended by members and the convener, approved by the
  convener. Approval locks them: a sha256 of the canonical text (body, decisions, attendance) goes on the row and
  into the audit trail; later corrections are addenda only.
* Every change writes the audit trail and commits; a refusal raises Refused before anything changes.
"""
from __future__ import annotations

import hashlib
from contextlib import nullcontext

from flask import has_request_context
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from portal.accounts.models import Department
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import utcnow
from portal.transactions import Refusal

from .models import (
    AgendaItem,
    Attendance,
    AttendanceStatus,
    ConferenceDocument,
    Decision,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesAddendum,
    MinutesComment,
    MinutesStatus,
    Task,
    TaskStatus,
)

TITLE_MAX = 300
TEXT_MAX = 20000
DECISIONS_MAX = 50


class Refused(Refusal):
    """A step that is not allowed, with a message for the user (already translated)."""


def ensure_minutes_open(meeting: Meeting) -> None:
    """Approved minutes cover the agenda and attendance too: afterwards only an addendum corrects them."""
    minutes = db.session.scalar(select(Minutes).where(Minutes.meeting_id == meeting.id))
    if minutes is not None and minutes.status == MinutesStatus.APPROVED:
        raise Refused(_("The minutes of this meeting are approved; corrections go in an addendum."))


def ensure_open(conference) -> None:
    """A closed workspace can be read, not changed (the office closes it when its work is done)."""
    if conference.closed_at is not None:
        raise Refused(_("This workspace is closed; it can be read but no longer changed."))


# --- agenda -------------------------------------------------------------------------------------------------

def agenda_items(meeting: Meeting) -> list[AgendaItem]:
    return list(db.session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id)
                                   .order_by(AgendaItem.position, AgendaItem.id)))


def _next_position(meeting: Meeting) -> int:
    last = db.session.scalar(select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == meeting.id))
    return (last or 0) + 1


def carry_open_tasks(meeting: Meeting, actor=None) -> list[AgendaItem]:
    """Put every open task of the workspace from earlier meetings on this meeting's agenda (once per task).

    Called by the scheduling part when it creates a meeting, and lazily by ensure_carried(). Commits.
    """
    on_agenda = select(AgendaItem.task_id).where(AgendaItem.meeting_id == meeting.id, AgendaItem.task_id.is_not(None))
    own_decisions = (select(Decision.id).join(Minutes, Minutes.id == Decision.minutes_id)
                     .where(Minutes.meeting_id == meeting.id))
    tasks = list(db.session.scalars(
        select(Task).where(Task.conference_id == meeting.conference_id, Task.status == TaskStatus.OPEN,
                           Task.id.not_in(on_agenda),
                           (Task.decision_id.is_(None)) | Task.decision_id.not_in(own_decisions))
        .options(joinedload(Task.department)).order_by(Task.due_on, Task.id)))
    position = _next_position(meeting)
    items = []
    locale = None if has_request_context() else (getattr(actor, "locale", None) or "zh_CN")
    for task in tasks:
        with force_locale(locale) if locale else nullcontext():
            title = _("Open task: %(title)s (%(department)s, due %(due)s)", title=task.title,
                      department=task.department.name, due=task.due_on.isoformat())
        item = AgendaItem(meeting_id=meeting.id, position=position, task_id=task.id, title=title[:TITLE_MAX],
                          notes=task.expected_result)
        db.session.add(item)
        items.append(item)
        position += 1
    record("agenda.tasks_carried", meeting, actor=actor, details={"tasks": [t.id for t in tasks]})
    db.session.commit()
    return items


def tasks_carried(meeting: Meeting) -> bool:
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "agenda.tasks_carried", AuditEvent.object_type == "meeting",
        AuditEvent.object_id == str(meeting.id))) > 0


def ensure_carried(meeting: Meeting, actor=None) -> None:
    """Carry the open tasks onto a coming meeting's agenda the first time it is shown, if nobody did yet."""
    if meeting.status in (MeetingStatus.POLLING, MeetingStatus.SCHEDULED) and not tasks_carried(meeting):
        carry_open_tasks(meeting, actor=actor)


def add_agenda_item(meeting: Meeting, *, title: str, notes: str = "", case_id: int | None = None,
                    document_id: int | None = None, actor=None) -> AgendaItem:
    ensure_open(meeting.conference)
    ensure_minutes_open(meeting)
    title = (title or "").strip()
    if not title:
        raise Refused(_("Give the agenda item a title."), "title")
    conference = meeting.conference
    if case_id is not None and case_id not in {link.case_id for link in conference.case_links}:
        raise Refused(_("Choose a case of this workspace."), "case_id")
    if document_id is not None:
        document = db.session.get(ConferenceDocument, document_id)
        if document is None or document.conference_id != conference.id:
            raise Refused(_("Choose a document of this workspace."), "document_id")
    item = AgendaItem(meeting_id=meeting.id, position=_next_position(meeting), title=title[:TITLE_MAX],
                      notes=(notes or "").strip(), case_id=case_id, document_id=document_id)
    db.session.add(item)
    record("agenda.item_added", item, actor=actor, details={"meeting": meeting.id, "title": item.title})
    db.session.commit()
    return item


def move_agenda_item(item: AgendaItem, direction: str, actor=None) -> None:
    """Swap an item with its neighbour above ("up") or below ("down"); at either end nothing changes."""
    ensure_open(item.meeting.conference)
    ensure_minutes_open(item.meeting)
    if direction not in ("up", "down"):
        raise Refused(_("Move an item up or down."))
    items = agenda_items(item.meeting)
    for index, entry in enumerate(items):  # make positions distinct and consecutive first
        entry.position = index + 1
    index = next(i for i, entry in enumerate(items) if entry.id == item.id)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(items):
        items[index].position, items[other].position = items[other].position, items[index].position
        record("agenda.item_moved", item, actor=actor, details={"direction": direction, "position": item.position})
    db.session.commit()


def remove_agenda_item(item: AgendaItem, actor=None) -> None:
    ensure_open(item.meeting.conference)
    ensure_minutes_open(item.meeting)
    record("agenda.item_removed", item, actor=actor, details={"meeting": item.meeting_id, "title": item.title})
    db.session.delete(item)
    db.session.commit()


# --- attendance ---------------------------------------------------------------------------------------------

def save_attendance(meeting: Meeting, rows: list[dict], actor=None) -> None:
    """rows: {department_id, status ("attended" | "absent" | "" to clear), representative, guest}.

    Member departments of the workspace are entered as members; any other department as an invited guest.
    """
    ensure_open(meeting.conference)
    ensure_minutes_open(meeting)
    member_ids = {m.department_id for m in meeting.conference.members if m.left_at is None and m.kind.value == "member"}
    existing = {a.department_id: a for a in meeting.attendance}
    checked = []
    for row in rows:
        department_id, status = row.get("department_id"), (row.get("status") or "")
        if department_id is None or db.session.get(Department, department_id) is None:
            raise Refused(_("Choose a department."), "department_id")
        if status not in ("", "attended", "absent"):
            raise Refused(_("Choose attended or absent."), "status")
        representative = (row.get("representative") or "").strip()
        if len(representative) > 200:
            raise Refused(_("The representative's name is too long (at most 200 characters)."), "representative")
        checked.append((department_id, status, representative, department_id not in member_ids))
    changes = []
    for department_id, status, representative, guest in checked:
        row = existing.get(department_id)
        if not status:
            if row is not None:
                db.session.delete(row)
                changes.append({"department": department_id, "status": ""})
            continue
        if row is None:
            row = Attendance(meeting_id=meeting.id, department_id=department_id, status=AttendanceStatus(status))
            db.session.add(row)
            meeting.attendance.append(row)
        elif row.status.value == status and row.representative == representative and row.guest == guest:
            continue
        row.status, row.representative, row.guest = AttendanceStatus(status), representative, guest
        changes.append({"department": department_id, "status": status, "guest": guest})
    if changes:
        record("meeting.attendance_saved", meeting, actor=actor, details={"changes": changes})
    db.session.commit()


# --- minutes ------------------------------------------------------------------------------------------------

def load_minutes(meeting: Meeting) -> Minutes | None:
    """The minutes with everything their page shows, in a fixed number of queries."""
    return db.session.scalar(select(Minutes).where(Minutes.meeting_id == meeting.id).options(
        selectinload(Minutes.decisions).selectinload(Decision.tasks).options(
            joinedload(Task.department), joinedload(Task.owner)),
        selectinload(Minutes.comments).options(joinedload(MinutesComment.author),
                                               joinedload(MinutesComment.department)),
        selectinload(Minutes.addenda),
    ))


def parse_decisions(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _locked():
    return Refused(_("These minutes are approved and locked; they cannot be changed. Add an addendum to correct "
                     "them."))


def save_draft(meeting: Meeting, minutes: Minutes | None, *, body: str, decisions: list[str], version: int | None,
               actor) -> Minutes:
    """Create or change the draft. `version` is the one the editor loaded; another save since then is refused."""
    ensure_open(meeting.conference)
    if minutes is not None and minutes.status == MinutesStatus.APPROVED:
        raise _locked()
    body = (body or "").strip()
    if not body:
        raise Refused(_("Write the text of the minutes."), "body")
    if len(body) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "body")
    if len(decisions) > DECISIONS_MAX:
        raise Refused(_("At most %(n)d decisions.", n=DECISIONS_MAX), "decisions")
    if minutes is None:
        minutes = Minutes(meeting_id=meeting.id, body=body, revision=1, drafted_by_id=actor.id)
        db.session.add(minutes)
        for index, text in enumerate(decisions):
            minutes.decisions.append(Decision(position=index + 1, text=text))
        record("minutes.drafted", minutes, actor=actor, details={"meeting": meeting.id, "revision": 1})
        db.session.commit()
        return minutes
    if version is None or version != minutes.version:
        raise Refused(_("Someone else saved these minutes while you were editing (now revision %(n)d). Your "
                        "changes were not saved: reload the page, then make them again.", n=minutes.revision))
    old = minutes.decisions
    for decision in old[len(decisions):]:
        if decision.tasks:
            raise Refused(_("Decision %(n)d has tasks and cannot be removed.", n=decision.position), "decisions")
    changed = body != minutes.body or [d.text for d in old] != decisions
    if not changed:
        return minutes
    for index, text in enumerate(decisions):
        if index < len(old):
            old[index].text, old[index].position = text, index + 1
        else:
            minutes.decisions.append(Decision(position=index + 1, text=text))
    for decision in old[len(decisions):]:
        minutes.decisions.remove(decision)
    minutes.body = body
    minutes.revision += 1
    record("minutes.draft_saved", minutes, actor=actor, details={"revision": minutes.revision})
    db.session.commit()
    return minutes


def comment(minutes: Minutes, *, text: str, proposed_text: str = "", actor) -> MinutesComment:
    ensure_open(minutes.meeting.conference)
    if minutes.status == MinutesStatus.APPROVED:
        raise Refused(_("These minutes are approved; comments are closed."))
    text, proposed_text = (text or "").strip(), (proposed_text or "").strip()
    if not text:
        raise Refused(_("Write your comment (for an amendment: why the text should change)."), "text")
    if len(text) > TEXT_MAX or len(proposed_text) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "text")
    entry = MinutesComment(minutes_id=minutes.id, revision=minutes.revision, department_id=actor.department_id,
                           author_id=actor.id, text=text, proposed_text=proposed_text)
    db.session.add(entry)
    record("minutes.amendment_proposed" if proposed_text else "minutes.commented", entry, actor=actor,
           details={"minutes": minutes.id, "revision": minutes.revision})
    db.session.commit()
    return entry


def resolve_amendment(entry: MinutesComment, accept: bool, actor) -> None:
    ensure_open(entry.minutes.meeting.conference)
    minutes = entry.minutes
    if minutes.status == MinutesStatus.APPROVED:
        raise _locked()
    if not entry.proposed_text:
        raise Refused(_("This comment proposes no amendment."))
    if entry.resolution:
        raise Refused(_("This amendment has already been decided."))
    if accept:
        if entry.revision != minutes.revision:
            raise Refused(_("This amendment was proposed on revision %(old)d; the draft is now revision %(new)d. "
                            "Decline it, or ask for a proposal on the current text.",
                            old=entry.revision, new=minutes.revision))
        minutes.body = entry.proposed_text
        minutes.revision += 1
    entry.resolution = "accepted" if accept else "declined"
    record("minutes.amendment_" + entry.resolution, entry, actor=actor,
           details={"minutes": minutes.id, "revision": minutes.revision})
    db.session.commit()


def canonical_text(minutes: Minutes) -> str:
    """What the approval hash covers: meeting, text, decisions and attendance, in a fixed order."""
    meeting = minutes.meeting
    lines = [f"meeting:{meeting.id}", f"title:{meeting.title}",
             f"starts_at:{meeting.starts_at.isoformat() if meeting.starts_at else ''}", "body:", minutes.body,
             "decisions:"]
    lines += [f"{d.position}. {d.text}" for d in sorted(minutes.decisions, key=lambda d: d.position)]
    lines.append("attendance:")
    for row in sorted(meeting.attendance, key=lambda a: a.department_id):
        lines.append(f"{row.department_id}|{row.department.name}|{row.status.value}|"
                     f"{'guest' if row.guest else 'member'}|{row.representative}")
    return "\n".join(lines)


def content_hash(minutes: Minutes) -> str:
    return hashlib.sha256(canonical_text(minutes).encode("utf-8")).hexdigest()


def approve(minutes: Minutes, actor) -> None:
    ensure_open(minutes.meeting.conference)
    if minutes.status == MinutesStatus.APPROVED:
        raise Refused(_("These minutes are already approved."))
    pending = [c for c in minutes.comments if c.proposed_text and not c.resolution]
    if pending:
        raise Refused(_("%(n)d proposed amendments are still undecided; the office accepts or declines them first.",
                        n=len(pending)))
    if not minutes.meeting.attendance:  # the minutes record who attended: the meeting has taken place
        raise Refused(_("Enter the attendance before the minutes are approved."))
    minutes.content_hash = content_hash(minutes)
    minutes.status = MinutesStatus.APPROVED
    minutes.approved_by_id, minutes.approved_at = actor.id, utcnow()
    record("minutes.approved", minutes, actor=actor,
           details={"hash": minutes.content_hash, "revision": minutes.revision})
    db.session.commit()


def add_addendum(minutes: Minutes, text: str, actor) -> MinutesAddendum:
    if minutes.status != MinutesStatus.APPROVED:
        raise Refused(_("Addenda are for approved minutes; change the draft instead."))
    text = (text or "").strip()
    if not text:
        raise Refused(_("Write the correction."), "text")
    if len(text) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "text")
    addendum = MinutesAddendum(minutes_id=minutes.id, text=text, created_by_id=actor.id)
    db.session.add(addendum)
    minutes.addenda.append(addendum)
    record("minutes.addendum_added", addendum, actor=actor, details={"minutes": minutes.id})
    db.session.commit()
    return addendum
