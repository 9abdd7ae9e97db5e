"""Routes of the joint-conference minutes part: agenda, attendance, minutes, tasks and the task list.

Thin views: load the workspace and the meeting (404), check the policy (403), let a service in minutes.py or
tasks.py do the work, redirect after POST. A refusal shows the page again with the message and changes nothing.
The meeting page itself belongs to the scheduling part; these pages live under its sub-paths.
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, make_response, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import policy
from portal.accounts.models import Department, Role, User
from portal.extensions import db
from portal.forms import int_or_none, attempt
from portal.htmx import add_vary, is_fragment, redirect_to
from portal.pdf import render_pdf

from . import bp
from . import minutes as svc
from . import tasks as task_svc
from .forms_minutes import (
    AddendumForm,
    AgendaItemForm,
    AnswerForm,
    CommentForm,
    GuestForm,
    MinutesForm,
    ReportForm,
    SupervisionForm,
    TaskForm,
)
from .models import (
    AgendaItem,
    ConferenceCase,
    ConferenceDocument,
    Decision,
    Meeting,
    MinutesComment,
    MinutesStatus,
    Task,
    TaskReport,
    TaskReportFile,
    TaskSupervision,
)
from .views import load_conference

METHOD_LABELS = {"notice": _l("Written notice"), "interview": _l("Interview"), "on_site": _l("On-site supervision")}



def _form_failed(form) -> bool:
    """Shape errors are shown on the form; True when the form is not valid."""
    return not form.validate()


def load_meeting(conference_id: int, meeting_id: int, permission: str = "conference.view"):
    conference = load_conference(conference_id, permission)
    meeting = db.session.get(Meeting, meeting_id)
    if meeting is None or meeting.conference_id != conference.id:
        abort(404)
    return conference, meeting


@bp.app_template_global("supervision_method_label")
def supervision_method_label(method: str) -> str:
    return str(METHOD_LABELS.get(method, METHOD_LABELS["notice"]))


@bp.app_template_global("task_state")
def task_state(task) -> str:
    return task_svc.task_state(task)


# --- agenda and attendance ----------------------------------------------------------------------------------

def _agenda_form(conference, form=None):
    form = form or AgendaItemForm(formdata=None)
    case_ids = [link.case_id for link in conference.case_links]
    from portal.cases.models import Case

    cases = list(db.session.scalars(select(Case).where(Case.id.in_(case_ids)).order_by(Case.id))) if case_ids else []
    documents = list(db.session.scalars(select(ConferenceDocument).where(
        ConferenceDocument.conference_id == conference.id).order_by(ConferenceDocument.id)))
    form.case_id.choices = [("", _("None"))] + [(c.id, f"{c.reference} {c.subject}") for c in cases]
    form.document_id.choices = [("", _("None"))] + [(d.id, d.title) for d in documents]
    return form, {c.id: c for c in cases}, {d.id: d for d in documents}


def _attendance_rows(conference, meeting):
    """(department, attendance row or None, guest) for each member department, then guests already entered."""
    entered = {a.department_id: a for a in meeting.attendance}
    rows, seen = [], set()
    for member in conference.members:
        if member.left_at is None and member.department_id not in seen:
            seen.add(member.department_id)
            rows.append((member.department, entered.get(member.department_id), member.kind.value == "guest"))
    for department_id, row in entered.items():
        if department_id not in seen:
            rows.append((row.department, row, True))
    return rows


def _agenda_page(conference, meeting, agenda_form=None, guest_form=None, status=200):
    items = svc.agenda_items(meeting)
    form, cases, documents = _agenda_form(conference, agenda_form)
    context = {"conference": conference, "meeting": meeting, "items": items, "cases": cases, "documents": documents}
    if is_fragment() and agenda_form is None and guest_form is None:
        return add_vary(make_response(render_template("conferences/agenda/_list.html", **context)))
    guest_form = guest_form or GuestForm(formdata=None)
    member_ids = {m.department_id for m in conference.members if m.left_at is None}
    guest_form.guest_department_id.choices = [("", _("Choose a department"))] + [
        (d.id, d.name) for d in db.session.scalars(select(Department).where(Department.active.is_(True))
                                                   .order_by(Department.name)) if d.id not in member_ids]
    return add_vary(make_response(render_template(
        "conferences/agenda/page.html", form=form, guest_form=guest_form,
        attendance=_attendance_rows(conference, meeting), **context), status))


@bp.get("/conferences/<int:conference_id>/meetings/<int:meeting_id>/agenda")
@policy.requires("conference.view")
def meeting_agenda(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id)
    svc.ensure_carried(meeting, actor=current_user._get_current_object())
    return _agenda_page(conference, meeting)


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/agenda/items")
@policy.requires("conference.manage")
def agenda_add(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    form = AgendaItemForm()
    _agenda_form(conference, form)
    if _form_failed(form) or not attempt(form, svc.add_agenda_item, meeting, title=form.title.data,
                                          notes=form.notes.data, case_id=form.case_id.data,
                                          document_id=form.document_id.data, actor=current_user):
        return _agenda_page(conference, meeting, agenda_form=form)
    flash(_("Agenda item added."), "success")
    return redirect_to(url_for("conferences.meeting_agenda", conference_id=conference.id, meeting_id=meeting.id))


def _load_item(meeting, item_id: int) -> AgendaItem:
    item = db.session.get(AgendaItem, item_id)
    if item is None or item.meeting_id != meeting.id:
        abort(404)
    return item


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/agenda/<int:item_id>/move")
@policy.requires("conference.manage")
def agenda_move(conference_id: int, meeting_id: int, item_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    item = _load_item(meeting, item_id)
    try:
        svc.move_agenda_item(item, request.form.get("direction", ""), actor=current_user)
    except svc.Refused as error:
        db.session.rollback()
        flash(error.message, "error")
    if is_fragment():
        return _agenda_page(conference, meeting)
    return redirect_to(url_for("conferences.meeting_agenda", conference_id=conference.id, meeting_id=meeting.id)
                       + f"#agenda-item-{item.id}")


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/agenda/<int:item_id>/remove")
@policy.requires("conference.manage")
def agenda_remove(conference_id: int, meeting_id: int, item_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    svc.remove_agenda_item(_load_item(meeting, item_id), actor=current_user)
    if is_fragment():
        return _agenda_page(conference, meeting)
    flash(_("Agenda item removed."), "success")
    return redirect_to(url_for("conferences.meeting_agenda", conference_id=conference.id, meeting_id=meeting.id))


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/attendance")
@policy.requires("conference.manage")
def attendance_save(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    rows = []
    for raw in request.form.getlist("department_id"):
        department_id = int_or_none(raw)
        rows.append({"department_id": department_id, "status": request.form.get(f"status-{raw}", ""),
                     "representative": request.form.get(f"representative-{raw}", "")})
    guest = GuestForm()
    if _form_failed(guest):
        return _agenda_page(conference, meeting, guest_form=guest)
    if guest.guest_department_id.data is not None:
        rows.append({"department_id": guest.guest_department_id.data, "status": "attended",
                     "representative": guest.guest_representative.data or ""})
    if not attempt(guest, svc.save_attendance, meeting, rows, actor=current_user):
        return _agenda_page(conference, meeting, guest_form=guest)
    flash(_("Attendance saved."), "success")
    return redirect_to(url_for("conferences.meeting_agenda", conference_id=conference.id, meeting_id=meeting.id)
                       + "#attendance")


# --- minutes ------------------------------------------------------------------------------------------------

def _minutes_page(conference, meeting, minutes=None, forms=None, status=200):
    forms = forms or {}
    if minutes is None:
        minutes = svc.load_minutes(meeting)
    editor = forms.get("minutes")
    if editor is None:
        editor = MinutesForm(formdata=None)
        if minutes is not None:
            editor.body.data = minutes.body
            editor.decisions.data = "\n".join(d.text for d in minutes.decisions)
            editor.version.data = minutes.version
    task_forms = {}
    departments = task_svc.member_departments(conference)
    owners = list(db.session.scalars(select(User).where(
        User.department_id.in_([d.id for d in departments]), User.role == Role.DEPARTMENT_REP,
        User.active.is_(True)).order_by(User.display_name))) if departments else []
    for decision in (minutes.decisions if minutes else []):
        form = forms.get(("task", decision.id)) or TaskForm(formdata=None, prefix=f"d{decision.id}")
        form.department_id.choices = [("", _("Choose a department"))] + [(d.id, d.name) for d in departments]
        form.owner_id.choices = [("", _("None"))] + [(u.id, f"{u.display_name} ({u.department.name})")
                                                     for u in owners]
        task_forms[decision.id] = form
    attendance = sorted(meeting.attendance, key=lambda a: a.department_id)
    db.session.scalars(select(Department).where(Department.id.in_([a.department_id for a in attendance]))).all()
    response = make_response(render_template(
        "conferences/minutes/page.html", conference=conference, meeting=meeting, minutes=minutes,
        attendance=attendance, editor=editor, comment_form=forms.get("comment") or CommentForm(formdata=None),
        addendum_form=forms.get("addendum") or AddendumForm(formdata=None), task_forms=task_forms), status)
    return add_vary(response)


def _minutes_url(conference, meeting, anchor: str = "") -> str:
    return url_for("conferences.meeting_minutes", conference_id=conference.id, meeting_id=meeting.id) + anchor


@bp.get("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes")
@policy.requires("conference.view")
def meeting_minutes(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id)
    return _minutes_page(conference, meeting)


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes/draft")
@policy.requires("conference.manage")
def minutes_save(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    minutes = svc.load_minutes(meeting)
    form = MinutesForm()
    if minutes is not None and minutes.status == MinutesStatus.APPROVED:
        form.form_errors.append(svc._locked().message)
        return _minutes_page(conference, meeting, minutes, {"minutes": form})
    if _form_failed(form) or not attempt(form, svc.save_draft, meeting, minutes, body=form.body.data,
                                          decisions=svc.parse_decisions(form.decisions.data),
                                          version=int_or_none(form.version.data), actor=current_user):
        return _minutes_page(conference, meeting, None, {"minutes": form})
    flash(_("Draft saved."), "success")
    return redirect_to(_minutes_url(conference, meeting))


def _existing_minutes(meeting):
    minutes = svc.load_minutes(meeting)
    if minutes is None:
        abort(404)
    return minutes


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes/comments")
@policy.requires("minutes.comment")
def minutes_comment(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id)
    minutes = _existing_minutes(meeting)
    policy.ensure("minutes.comment", minutes)
    form = CommentForm()
    if _form_failed(form) or not attempt(form, svc.comment, minutes, text=form.text.data,
                                          proposed_text=form.proposed_text.data, actor=current_user):
        return _minutes_page(conference, meeting, None, {"comment": form})
    flash(_("Amendment proposed.") if form.proposed_text.data.strip() else _("Comment added."), "success")
    return redirect_to(_minutes_url(conference, meeting, "#comments"))


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes/comments/<int:comment_id>")
@policy.requires("conference.manage")
def minutes_resolve(conference_id: int, meeting_id: int, comment_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    minutes = _existing_minutes(meeting)
    entry = db.session.get(MinutesComment, comment_id)
    if entry is None or entry.minutes_id != minutes.id:
        abort(404)
    decision = request.form.get("decision")
    try:
        if decision not in ("accept", "decline"):
            raise svc.Refused(_("Accept or decline the amendment."))
        svc.resolve_amendment(entry, decision == "accept", actor=current_user)
    except svc.Refused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect_to(_minutes_url(conference, meeting, "#comments"))
    flash(_("Amendment accepted; the draft is now revision %(n)d.", n=minutes.revision) if decision == "accept"
          else _("Amendment declined."), "success")
    return redirect_to(_minutes_url(conference, meeting))


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes/approve")
@policy.requires("minutes.approve")
def minutes_approve(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id)
    minutes = _existing_minutes(meeting)
    policy.ensure("minutes.approve", minutes)
    try:
        svc.approve(minutes, actor=current_user)
    except svc.Refused as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect_to(_minutes_url(conference, meeting))
    flash(_("Minutes approved and locked."), "success")
    return redirect_to(_minutes_url(conference, meeting))


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes/addenda")
@policy.requires("conference.manage")
def minutes_addendum(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    minutes = _existing_minutes(meeting)
    form = AddendumForm()
    if _form_failed(form) or not attempt(form, svc.add_addendum, minutes, form.text.data, actor=current_user):
        return _minutes_page(conference, meeting, None, {"addendum": form})
    flash(_("Addendum added."), "success")
    return redirect_to(_minutes_url(conference, meeting, "#addenda"))


@bp.get("/conferences/<int:conference_id>/meetings/<int:meeting_id>/minutes.pdf")
@policy.requires("conference.view")
def minutes_pdf(conference_id: int, meeting_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id)
    minutes = _existing_minutes(meeting)
    attendance = sorted(meeting.attendance, key=lambda a: a.department_id)
    data = render_pdf("conferences/pdf/minutes.html", conference=conference, meeting=meeting, minutes=minutes,
                      attendance=attendance)
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="minutes-{meeting.id}.pdf"'
    return response


@bp.post("/conferences/<int:conference_id>/meetings/<int:meeting_id>/decisions/<int:decision_id>/tasks")
@policy.requires("conference.manage")
def task_create(conference_id: int, meeting_id: int, decision_id: int):
    conference, meeting = load_meeting(conference_id, meeting_id, "conference.manage")
    minutes = _existing_minutes(meeting)
    decision = db.session.get(Decision, decision_id)
    if decision is None or decision.minutes_id != minutes.id:
        abort(404)
    form = TaskForm(prefix=f"d{decision.id}")
    if _form_failed(form) or not attempt(form, task_svc.create_task, decision, department_id=form.department_id.data,
                                          owner_id=form.owner_id.data, title=form.title.data,
                                          expected_result=form.expected_result.data, due_on=form.due_on.data,
                                          actor=current_user):
        return _minutes_page(conference, meeting, None, {("task", decision.id): form})
    flash(_("Task created."), "success")
    return redirect_to(_minutes_url(conference, meeting, f"#decision-{decision.id}"))


# --- tasks --------------------------------------------------------------------------------------------------

def load_task(conference_id: int, task_id: int):
    """The task; its workspace's viewers and the responsible department may open it."""
    task = db.session.scalar(select(Task).where(Task.id == task_id, Task.conference_id == conference_id).options(
        joinedload(Task.conference), joinedload(Task.department), joinedload(Task.owner),
        selectinload(Task.reports).selectinload(TaskReport.files),
        selectinload(Task.supervisions)))
    if task is None:
        abort(404)
    if not (policy.can(current_user, "conference.view", task.conference)
            or policy.can(current_user, "task.report", task)):
        abort(403)
    return task


def _task_page(task, forms=None, status=200):
    forms = forms or {}
    return add_vary(make_response(render_template(
        "conferences/tasks/detail.html", task=task, conference=task.conference,
        report_form=forms.get("report") or ReportForm(formdata=None),
        supervision_form=forms.get("supervision") or SupervisionForm(formdata=None),
        answer_forms={s.id: forms.get(("answer", s.id)) or AnswerForm(formdata=None, prefix=f"s{s.id}")
                      for s in task.supervisions}), status))


def _task_url(task, anchor: str = "") -> str:
    return url_for("conferences.task_detail", conference_id=task.conference_id, task_id=task.id) + anchor


@bp.get("/conferences/<int:conference_id>/tasks/<int:task_id>")
@policy.requires("task.list")
def task_detail(conference_id: int, task_id: int):
    return _task_page(load_task(conference_id, task_id))


@bp.post("/conferences/<int:conference_id>/tasks/<int:task_id>/reports")
@policy.requires("task.report")
def task_report(conference_id: int, task_id: int):
    task = load_task(conference_id, task_id)
    policy.ensure("task.report", task)
    form = ReportForm()
    if _form_failed(form) or not attempt(form, task_svc.report_progress, task, text=form.text.data,
                                          files=request.files.getlist("attachments"), done=form.done.data,
                                          actor=current_user):
        return _task_page(task, {"report": form})
    flash(_("Progress reported."), "success")
    return redirect_to(_task_url(task, "#reports"))


@bp.post("/conferences/<int:conference_id>/tasks/<int:task_id>/supervisions")
@policy.requires("task.supervise")
def task_supervise(conference_id: int, task_id: int):
    task = load_task(conference_id, task_id)
    policy.ensure("task.supervise", task)
    form = SupervisionForm()
    if _form_failed(form) or not attempt(form, task_svc.supervise, task, method=form.method.data,
                                          notice=form.notice.data, actor=current_user):
        return _task_page(task, {"supervision": form})
    flash(_("Supervision notice sent."), "success")
    return redirect_to(_task_url(task, "#supervision"))


@bp.post("/conferences/<int:conference_id>/tasks/<int:task_id>/supervisions/<int:supervision_id>")
@policy.requires("task.answer_supervision")
def task_answer(conference_id: int, task_id: int, supervision_id: int):
    task = load_task(conference_id, task_id)
    supervision = db.session.get(TaskSupervision, supervision_id)
    if supervision is None or supervision.task_id != task.id:
        abort(404)
    policy.ensure("task.answer_supervision", supervision)
    form = AnswerForm(prefix=f"s{supervision.id}")
    if _form_failed(form) or not attempt(form, task_svc.answer_supervision, supervision, reason=form.reason.data,
                                          progress=form.progress.data, actor=current_user):
        return _task_page(task, {("answer", supervision.id): form})
    flash(_("Answer sent to the office."), "success")
    return redirect_to(_task_url(task, "#supervision"))


@bp.get("/conferences/<int:conference_id>/tasks/<int:task_id>/files/<int:file_id>")
@policy.requires("task.list")
def task_file(conference_id: int, task_id: int, file_id: int):
    task = load_task(conference_id, task_id)
    item = db.session.get(TaskReportFile, file_id)
    if item is None or item.report.task_id != task.id:
        abort(404)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / item.stored_name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name)


@bp.get("/tasks")
@policy.requires("task.list")
def task_list():
    name = request.args.get("show", "open")
    if name not in task_svc.FILTERS:
        name = "open"
    tasks = task_svc.task_list(current_user, name)
    template = "conferences/tasks/_rows.html" if is_fragment() else "conferences/tasks/index.html"
    return add_vary(make_response(render_template(template, tasks=tasks, show=name, filters=task_svc.FILTERS)))


@bp.app_template_global("workspace_tasks")
def workspace_tasks(conference):
    return task_svc.conference_tasks(conference.id)


@bp.app_template_global("case_conference_panel")
def case_conference_panel(case):
    """The workspaces the user may view for a case, with their meetings and tasks (three queries)."""
    from .models import Conference

    conferences = list(db.session.scalars(
        select(Conference).join(ConferenceCase, ConferenceCase.conference_id == Conference.id)
        .where(ConferenceCase.case_id == case.id, policy.visible_conferences_clause(current_user))
        .order_by(Conference.id)))
    if not conferences:
        return []
    ids = [c.id for c in conferences]
    meetings = list(db.session.scalars(select(Meeting).where(Meeting.conference_id.in_(ids))
                                       .order_by(Meeting.starts_at, Meeting.id)))
    tasks = list(db.session.scalars(select(Task).where(Task.conference_id.in_(ids)).options(
        joinedload(Task.department)).order_by(Task.status.desc(), Task.due_on)))
    return [(c, [m for m in meetings if m.conference_id == c.id], [t for t in tasks if t.conference_id == c.id])
            for c in conferences]


@bp.app_template_global("workspace_meetings")
def workspace_meetings(conference):
    return list(db.session.scalars(select(Meeting).where(Meeting.conference_id == conference.id)
                                   .order_by(Meeting.starts_at, Meeting.id)))


@bp.app_template_global("workspace_url")
def workspace_url(conference) -> str | None:
    """The workspace page, once its part provides it (conferences.detail)."""
    if "conferences.detail" in current_app.view_functions:
        return url_for("conferences.detail", conference_id=conference.id)
    return None
