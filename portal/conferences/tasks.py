"""Tasks from decisions (议定事项) and their supervision (督办): the work, without the request.

Every change writes the audit trail and commits; a refusal raises Refused before anything changes.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import policy, rules, uploads
from portal.accounts.models import Role, User
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.timeutil import today as local_today
from portal.timeutil import utcnow

from .minutes import TEXT_MAX, TITLE_MAX, Refused, ensure_open
from .models import Conference, Decision, MemberKind, Task, TaskReport, TaskReportFile, TaskStatus, TaskSupervision

SUPERVISION_METHODS = ("notice", "interview", "on_site")
FILTERS = ("open", "overdue", "done", "all")


def task_state(task: Task, on: date | None = None) -> str:
    """"done", "overdue", "near" (due within TASK_REMINDER_DAYS) or "open"."""
    on = on or local_today()
    if task.status == TaskStatus.DONE:
        return "done"
    if task.due_on < on:
        return "overdue"
    if task.due_on <= on + timedelta(days=rules.TASK_REMINDER_DAYS):
        return "near"
    return "open"


def member_departments(conference: Conference):
    return [m.department for m in conference.members if m.left_at is None and m.kind == MemberKind.MEMBER]


def create_task(decision: Decision, *, department_id: int | None, owner_id: int | None, title: str,
                expected_result: str, due_on: date | None, actor) -> Task:
    conference = decision.minutes.meeting.conference
    ensure_open(conference)
    title = (title or "").strip() or decision.text
    if department_id not in {d.id for d in member_departments(conference)}:
        raise Refused(_("Choose a member department of this workspace."), "department_id")
    if owner_id is not None:
        owner = db.session.get(User, owner_id)
        if owner is None or owner.department_id != department_id or not owner.active:
            raise Refused(_("The owner must be an active user of the responsible department."), "owner_id")
    if due_on is None:
        raise Refused(_("Enter the due date."), "due_on")
    if due_on < local_today():
        raise Refused(_("The due date cannot be in the past."), "due_on")
    task = Task(conference_id=conference.id, decision_id=decision.id, department_id=department_id,
                owner_id=owner_id, title=title[:TITLE_MAX], expected_result=(expected_result or "").strip()[:TEXT_MAX],
                due_on=due_on, created_by_id=actor.id)
    db.session.add(task)
    record("task.created", task, actor=actor, details={"decision": decision.id, "department": department_id,
                                                       "due_on": due_on.isoformat()})
    db.session.commit()
    return task


def report_progress(task: Task, *, text: str, files, done: bool, actor) -> TaskReport:
    """A progress report with files; `done` also marks the task done. A bad file refuses the whole report."""
    text = (text or "").strip()
    if not text:
        raise Refused(_("Describe the progress."), "text")
    if len(text) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "text")
    if task.status == TaskStatus.DONE:
        raise Refused(_("This task is done; no more reports are taken."))
    try:
        checked = uploads.check_files(files, field="attachments")
    except uploads.UploadError as error:
        raise Refused(error.message, "attachments") from None
    stored = uploads.store(checked)
    report = TaskReport(task_id=task.id, text=text, author_id=actor.id)
    for item in stored:
        report.files.append(TaskReportFile(**item.as_dict()))
    db.session.add(report)
    record("task.reported", report, actor=actor, details={"task": task.id, "files": len(stored)})
    if done:
        _mark_done(task, actor)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        uploads.remove([s.stored_name for s in stored])
        raise
    return report


def _mark_done(task: Task, actor) -> None:
    task.status, task.done_on = TaskStatus.DONE, local_today()
    record("task.done", task, actor=actor)


def mark_done(task: Task, actor) -> None:
    if task.status == TaskStatus.DONE:
        raise Refused(_("This task is already done."))
    if not task.reports:
        raise Refused(_("Report the result before marking the task done."))
    _mark_done(task, actor)
    db.session.commit()


def _link(task: Task) -> str:
    """The task page for a message: absolute when the portal knows its address, else its path (the CLI)."""
    try:
        return external_url("conferences.task_detail", conference_id=task.conference_id, task_id=task.id)
    except RuntimeError:
        with current_app.test_request_context():
            return url_for("conferences.task_detail", conference_id=task.conference_id, task_id=task.id)


def _recipients(task: Task) -> list[str]:
    """(address, locale) of the owner, or else of every active representative of the department."""
    if task.owner is not None and task.owner.active and (task.owner.email or task.owner.phone):
        return [(task.owner.email or task.owner.phone, task.owner.locale)]
    reps = db.session.scalars(select(User).where(User.department_id == task.department_id,
                                                 User.role == Role.DEPARTMENT_REP, User.active.is_(True)))
    return [(u.email or u.phone, u.locale) for u in reps if u.email or u.phone]


def supervise(task: Task, *, method: str, notice: str, actor, on: date | None = None) -> TaskSupervision:
    if task.status == TaskStatus.DONE:
        raise Refused(_("This task is done; it needs no supervision."))
    if method not in SUPERVISION_METHODS:
        raise Refused(_("Choose how the task is supervised."), "method")
    notice = (notice or "").strip()
    if not notice:
        raise Refused(_("Write the supervision notice."), "notice")
    if len(notice) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "notice")
    on = on or local_today()
    supervision = TaskSupervision(task_id=task.id, method=method, notice=notice, issued_by_id=actor.id,
                                  respond_by=on + timedelta(days=rules.TASK_SUPERVISION_RESPONSE_DAYS))
    db.session.add(supervision)
    record("task.supervised", supervision, actor=actor,
           details={"task": task.id, "method": method, "respond_by": supervision.respond_by.isoformat()})
    link = _link(task)
    for recipient, locale in _recipients(task):
        with force_locale(locale or "zh_CN"):
            subject = _("Supervision notice: %(title)s", title=task.title)
            body = _("%(notice)s\n\nAnswer by %(date)s with the reason for the delay and a progress report: %(link)s",
                     notice=notice, date=supervision.respond_by.isoformat(), link=link)
        send_message(recipient, subject, body)
    db.session.commit()
    return supervision


def answer_supervision(supervision: TaskSupervision, *, reason: str, progress: str, actor) -> None:
    if supervision.responded_at is not None:
        raise Refused(_("This notice has already been answered."))
    reason, progress = (reason or "").strip(), (progress or "").strip()
    if not reason:
        raise Refused(_("Give the reason for the delay."), "reason")
    if not progress:
        raise Refused(_("Report the progress so far."), "progress")
    if len(reason) > TEXT_MAX or len(progress) > TEXT_MAX:
        raise Refused(_("The text is too long (at most %(n)d characters).", n=TEXT_MAX), "reason")
    supervision.reason, supervision.progress = reason, progress
    supervision.responded_by_id, supervision.responded_at = actor.id, utcnow()
    record("task.supervision_answered", supervision, actor=actor, details={"task": supervision.task_id})
    db.session.commit()


def send_task_reminders(on: date | None = None) -> int:
    """Remind the responsible department of every open task due within TASK_REMINDER_DAYS, once per task."""
    on = on or local_today()
    tasks = list(db.session.scalars(
        select(Task).where(Task.status == TaskStatus.OPEN, Task.reminded_on.is_(None), Task.due_on >= on,
                           Task.due_on <= on + timedelta(days=rules.TASK_REMINDER_DAYS))
        .options(joinedload(Task.owner), joinedload(Task.conference)).order_by(Task.id)))
    for task in tasks:
        link = _link(task)
        recipients = _recipients(task)
        for recipient, locale in recipients:
            with force_locale(locale or "zh_CN"):
                subject = _("Task due on %(date)s: %(title)s", date=task.due_on.isoformat(), title=task.title)
                body = _("The task \"%(title)s\" of %(conference)s is due on %(date)s. Report the progress: %(link)s",
                         title=task.title, conference=task.conference.title, date=task.due_on.isoformat(), link=link)
            send_message(recipient, subject, body)
        task.reminded_on = on
        record("task.reminded", task, details={"on": on.isoformat(), "recipients": len(recipients)})
    db.session.commit()
    return len(tasks)


# --- lists --------------------------------------------------------------------------------------------------

def visible_tasks_clause(user):
    """A department representative sees their department's tasks; staff and leaders those of workspaces they see."""
    if user.role == Role.DEPARTMENT_REP:
        return Task.department_id == user.department_id
    return Task.conference_id.in_(select(Conference.id).where(policy.visible_conferences_clause(user)))


def filter_clause(name: str, on: date):
    if name == "done":
        return Task.status == TaskStatus.DONE
    if name == "overdue":
        return (Task.status == TaskStatus.OPEN) & (Task.due_on < on)
    if name == "open":
        return Task.status == TaskStatus.OPEN
    return None


def task_list(user, name: str = "open", on: date | None = None, limit: int = 500) -> list[Task]:
    """The user's tasks across all workspaces, in one query."""
    on = on or local_today()
    query = select(Task).where(visible_tasks_clause(user)).options(
        joinedload(Task.conference), joinedload(Task.department), joinedload(Task.owner))
    clause = filter_clause(name, on)
    if clause is not None:
        query = query.where(clause)
    return list(db.session.scalars(query.order_by(Task.status.desc(), Task.due_on, Task.id).limit(limit)))


def conference_tasks(conference_id: int) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.conference_id == conference_id).options(
        joinedload(Task.department), joinedload(Task.owner)).order_by(Task.status.desc(), Task.due_on, Task.id)))
