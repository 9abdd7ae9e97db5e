"""Routes of the joint-conference meetings part: proposing, candidate slots, the availability grid,
choosing a time (conflicts, notice), cancelling and the .ics download.

Thin: load the workspace and the meeting (404), check the policy (403), call portal.conferences.meetings,
render or redirect. An htmx answer gets the grid row it swaps; everything works as plain forms too.
"""
from __future__ import annotations

from flask import Response, abort, flash, g, render_template, request, url_for
from flask_babel import format_datetime, format_time
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, rules, timeutil
from portal.forms import attach_error
from portal.htmx import is_fragment, redirect_to

from . import bp, meetings
from .forms_meetings import AnswerForm, CancelForm, ChooseForm, ProposeForm, RemoveSlotForm, SlotForm
from .models import Answer, Conference, Meeting, MeetingStatus
from .views import load_conference

# --- template helpers ---------------------------------------------------------------------------------------

@bp.app_template_global()
def conference_meetings(conference: Conference):
    """The meetings of a workspace with their grids, built once per request (a fixed number of queries)."""
    cache = g.setdefault("conference_meetings", {})
    if conference.id not in cache:
        cache[conference.id] = meetings.conference_meetings(conference)
    return cache[conference.id]


@bp.app_template_global()
def meeting_span(starts_at, ends_at) -> str:
    if starts_at is None or ends_at is None:
        return ""
    zone = timeutil.local_zone()
    same_day = starts_at.astimezone(zone).date() == ends_at.astimezone(zone).date()
    end = format_time(ends_at, "short") if same_day else format_datetime(ends_at, "short")
    return f"{format_datetime(starts_at, 'short')} – {end}"


@bp.app_template_global()
def answer_choices():
    return list(Answer)


@bp.app_template_global()
def meetings_workspace_url(conference: Conference) -> str:
    """The workspace page once its part is there; until then the list of its meetings."""
    from flask import current_app

    if "conferences.detail" in current_app.view_functions:
        return url_for("conferences.detail", conference_id=conference.id)
    return url_for("conferences.meetings_index", conference_id=conference.id)


@bp.app_template_global()
def meeting_location(meeting) -> str:
    return meetings.location_of(meeting)


@bp.app_template_global()
def my_upcoming_meetings():
    if not current_user.is_authenticated:
        return []
    cache = g.get("my_upcoming_meetings")
    if cache is None:
        cache = g.my_upcoming_meetings = meetings.upcoming_for(current_user)
    return cache


def _grid_context(conference: Conference, view) -> dict:
    meeting = view.meeting
    return {
        "conference": conference, "view": view, "meeting": meeting, "answers": list(Answer),
        "can_answer": meeting.status in meetings.OPEN_STATUSES and policy.can(current_user, "meeting.answer", meeting),
        "can_manage": meeting.status in meetings.OPEN_STATUSES and policy.can(current_user, "conference.manage",
                                                                              conference),
    }


# --- loading ----------------------------------------------------------------------------------------------

def _load(conference_id: int, meeting_id: int, permission: str = "conference.view"):
    conference = load_conference(conference_id, permission)
    meeting = meetings.load_meeting(conference, meeting_id)
    if meeting is None:
        abort(404)
    return conference, meeting


def _meeting_url(conference: Conference, meeting: Meeting) -> str:
    return url_for("conferences.meeting", conference_id=conference.id, meeting_id=meeting.id)


def _render_meeting(conference, meeting, slot_form=None, cancel_form=None, status: int = 200):
    view = meetings.meeting_view(conference, meeting)
    return render_template("conferences/meetings/detail.html", slot_form=slot_form or SlotForm(formdata=None),
                           cancel_form=cancel_form or CancelForm(formdata=None),
                           **_grid_context(conference, view)), status


# --- pages ----------------------------------------------------------------------------------------------------

@bp.route("/conferences/<int:conference_id>/meetings")
@policy.requires("conference.view")
def meetings_index(conference_id):
    conference = load_conference(conference_id)
    return render_template("conferences/meetings/index.html", conference=conference)


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>")
@policy.requires("conference.view")
def meeting(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id)
    return _render_meeting(conference, meeting)


@bp.route("/conferences/<int:conference_id>/meetings/new", methods=["GET", "POST"])
@policy.requires("conference.manage")
def propose_meeting(conference_id):
    conference = load_conference(conference_id, "conference.manage")
    form = ProposeForm()
    if form.validate_on_submit():
        try:
            meeting = meetings.propose(conference, current_user._get_current_object(), form.title.data,
                                       form.slot_input())
        except meetings.MeetingError as error:
            attach_error(form, error)
            conference = load_conference(conference_id, "conference.manage")
        else:
            flash(_("The meeting is proposed. Member departments can now answer the availability grid."), "success")
            return redirect_to(_meeting_url(conference, meeting))
    return render_template("conferences/meetings/new.html", conference=conference, form=form)


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>/slots", methods=["POST"])
@policy.requires("conference.manage")
def add_slot(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id, "conference.manage")
    form = SlotForm()
    if form.validate_on_submit():
        try:
            meetings.add_slot(meeting, current_user._get_current_object(), form.slot_input())
        except meetings.MeetingError as error:
            attach_error(form, error)
            conference, meeting = _load(conference_id, meeting_id, "conference.manage")
        else:
            flash(_("The time is added to the candidates."), "success")
            return redirect_to(_meeting_url(conference, meeting))
    return _render_meeting(conference, meeting, slot_form=form)


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>/slots/remove", methods=["POST"])
@policy.requires("conference.manage")
def remove_slot(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id, "conference.manage")
    form = RemoveSlotForm()
    try:
        if not form.validate_on_submit():
            raise meetings.MeetingError(_("This time is not a candidate of the meeting (any more). Reload the page."))
        meetings.remove_slot(meeting, current_user._get_current_object(), form.slot_id.data)
    except meetings.MeetingError as error:
        flash(error.message, "error")
    else:
        flash(_("The time is removed from the candidates."), "success")
    return redirect_to(_meeting_url(conference, meeting))


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>/answer", methods=["POST"])
@policy.requires("meeting.answer")
def answer_slot(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id)
    policy.ensure("meeting.answer", meeting)
    form = AnswerForm()
    message, category = _("Your answer is saved."), "success"
    try:
        if not form.validate_on_submit():
            field = "slot_id" if form.slot_id.errors else "answer"
            raise meetings.MeetingError(_("Choose yes, if need be or no.") if field == "answer"
                                        else _("This time is not a candidate of the meeting (any more). "
                                               "Reload the page."), field)
        meetings.answer(meeting, current_user._get_current_object(), form.slot_id.data, form.answer.data)
    except meetings.MeetingError as error:
        message, category = error.message, "error"
        conference, meeting = _load(conference_id, meeting_id)
    else:
        conference, meeting = _load(conference_id, meeting_id)
    if is_fragment():
        view = meetings.meeting_view(conference, meeting)
        row = view.row(form.slot_id.data) if isinstance(form.slot_id.data, int) else None
        if row is None:  # the slot is gone: the whole grid is out of date
            return redirect_to(_meeting_url(conference, meeting))
        return render_template("conferences/meetings/_answer_response.html", row=row, row_message=message,
                               row_category=category, **_grid_context(conference, view))
    flash(message, category)
    return redirect_to(_meeting_url(conference, meeting))


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>/choose", methods=["GET", "POST"])
@policy.requires("conference.manage")
def choose_slot(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id, "conference.manage")
    if meeting.status not in meetings.OPEN_STATUSES:
        flash(_("This meeting is %(status)s; it can no longer be changed.", status=meeting.status.label), "warning")
        return redirect_to(_meeting_url(conference, meeting))
    form = ChooseForm(data={"slot_id": request.args.get("slot_id")} if request.method == "GET" else None)
    slot_id = form.slot_id.data
    conflicts, warned = [], False
    if request.method == "POST" and form.validate_on_submit():
        try:
            meetings.fix(meeting, current_user._get_current_object(), slot_id,
                         confirm_conflicts=bool(form.confirm_conflicts.data), urgent_reason=form.urgent_reason.data)
        except meetings.ConflictWarning as warning:
            conflicts, warned = warning.conflicts, True
            form.form_errors.append(warning.message)
            conference, meeting = _load(conference_id, meeting_id, "conference.manage")
        except meetings.MeetingError as error:
            if error.field == "urgent_reason":
                attach_error(form, error)
            else:  # about the slot itself (a hidden field): shown above the form
                form.form_errors.append(error.message)
            conference, meeting = _load(conference_id, meeting_id, "conference.manage")
        else:
            flash(_("The meeting is fixed. The participants are invited by mail with a calendar file."), "success")
            return redirect_to(_meeting_url(conference, meeting))
    view = meetings.meeting_view(conference, meeting)
    row = view.row(slot_id) if isinstance(slot_id, int) else None
    if row is None:
        flash(_("This time is not a candidate of the meeting (any more). Reload the page."), "error")
        return redirect_to(_meeting_url(conference, meeting))
    if not warned:
        conflicts = meetings.slot_conflicts(meeting, row.slot)
    return render_template("conferences/meetings/choose.html", conference=conference, meeting=meeting, view=view,
                           row=row, form=form, conflicts=conflicts,
                           short_notice=meetings.short_notice(row.slot.starts_at),
                           notice_days=rules.MEETING_NOTICE_DAYS)


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>/cancel", methods=["POST"])
@policy.requires("conference.manage")
def cancel_meeting(conference_id, meeting_id):
    conference, meeting = _load(conference_id, meeting_id, "conference.manage")
    form = CancelForm()
    if form.validate_on_submit():
        try:
            was_scheduled = meeting.status == MeetingStatus.SCHEDULED
            meetings.cancel(meeting, current_user._get_current_object(), form.reason.data)
        except meetings.MeetingError as error:
            flash(error.message, "error")
        else:
            flash(_("The meeting is cancelled. The participants are told.") if was_scheduled
                  else _("The meeting is cancelled."), "success")
        return redirect_to(_meeting_url(conference, meeting))
    return _render_meeting(conference, meeting, cancel_form=form)


@bp.route("/conferences/<int:conference_id>/meetings/<int:meeting_id>.ics")
@policy.requires("conference.view")
def meeting_ics(conference_id, meeting_id):
    _conference, meeting = _load(conference_id, meeting_id)
    if meeting.starts_at is None:
        abort(404)
    return Response(meetings.meeting_ics(meeting), mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="meeting-{meeting.id}.ics"',
        "Cache-Control": "private, no-store"})
