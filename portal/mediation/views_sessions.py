"""Routes of the mediation sessions: the sessions of a matter, scheduling (conflict warning, then confirm),
the session page, moving and cancelling it, and its .ics download.

Thin: load the matter and the session (404), check the policy (403), call portal.mediation.sessions, render or
redirect. Everything works as plain forms; with htmx the sessions list comes back as its fragment.
"""
from __future__ import annotations

from flask import Response, abort, current_app, flash, make_response, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, rules
from portal.forms import attach_error
from portal.htmx import is_fragment, redirect_to

from . import bp, sessions
from .forms_sessions import CancelSessionForm, SessionForm
from .models import MediationReferral, MediationSession, SessionStatus
from .services import MediationError, ensure_consent, load_matter

# --- template helpers -----------------------------------------------------------------------------------------


@bp.app_template_global()
def session_location(session: MediationSession) -> str:
    return sessions.location_of(session)


@bp.app_template_global()
def session_span(starts_at, ends_at) -> str:
    """"2026年11月30日 23:35–23:50": the date once for a session within one day (sessions.session_span)."""
    return sessions.session_span(starts_at, ends_at)


@bp.app_template_global()
def session_max_minutes() -> int:
    return rules.MEDIATION_SESSION_MAX_MINUTES


# --- loading ----------------------------------------------------------------------------------------------------

def _matter(matter_id: int, permission: str = "mediation.view") -> MediationReferral:
    matter = load_matter(matter_id)
    if matter is None:
        abort(404)
    policy.ensure(permission, matter)
    return matter


def _load(matter_id: int, session_id: int, permission: str = "mediation.view"):
    matter = _matter(matter_id, permission)
    session = next((s for s in matter.sessions if s.id == session_id), None)
    if session is None:
        abort(404)
    return matter, session


def _session_url(matter, session) -> str:
    return url_for("mediation.session", matter_id=matter.id, session_id=session.id)


def _consent_problem(matter) -> str | None:
    try:
        ensure_consent(matter)
    except MediationError as error:
        return error.message
    return None


def _form_for(session: MediationSession) -> SessionForm:
    from portal import timeutil

    local = session.starts_at.astimezone(timeutil.local_zone())
    return SessionForm(formdata=None, data={
        "on": local.date(), "at": local.time().replace(second=0, microsecond=0),
        "minutes": int((session.ends_at - session.starts_at).total_seconds() // 60),
        "room": session.room, "place": session.place})


def _render_session(matter, session, *, move_form=None, cancel_form=None, conflicts=(), reasons=None, status=200):
    started = sessions.has_started(session)
    can_manage = policy.can(current_user, "mediation.manage", matter)
    changeable = can_manage and session.status == SessionStatus.SCHEDULED and not started
    record_url = None
    if "mediation.record" in current_app.view_functions:
        record_url = url_for("mediation.record", matter_id=matter.id, session_id=session.id)
    return render_template(
        "mediation/sessions/detail.html", matter=matter, session=session,
        participants=sessions.session_participants(session), started=started, can_manage=can_manage,
        changeable=changeable, record_url=record_url, conflicts=list(conflicts), conflict_reasons=reasons or {},
        consent_problem=_consent_problem(matter) if changeable else None,
        move_form=move_form or _form_for(session), cancel_form=cancel_form or CancelSessionForm(formdata=None),
    ), status


def _refused(matter, session, rendered):
    """A refused move or cancel shows the session page again, under the session page's address: a boosted form
    would otherwise leave the POST-only /move or /cancel address in the bar (reloading it gives 405)."""
    response = make_response(*rendered) if isinstance(rendered, tuple) else make_response(rendered)
    response.headers["HX-Push-Url"] = _session_url(matter, session)
    return response


# --- pages ------------------------------------------------------------------------------------------------------

@bp.route("/<int:matter_id>/sessions", endpoint="sessions")
@policy.requires("mediation.view")
def sessions_index(matter_id):
    matter = _matter(matter_id)
    template = "mediation/sessions/_list.html" if is_fragment() else "mediation/sessions/index.html"
    return render_template(template, matter=matter)


@bp.route("/<int:matter_id>/sessions/new", methods=["GET", "POST"])
@policy.requires("mediation.manage")
def session_new(matter_id):
    matter = _matter(matter_id, "mediation.manage")
    form = SessionForm(data={"room": matter.room})
    conflicts, reasons = [], {}
    if form.validate_on_submit():
        try:
            session = sessions.schedule(matter, current_user._get_current_object(), form.session_input(),
                                        confirm_conflicts=bool(form.confirm_conflicts.data))
        except sessions.ConflictWarning as warning:
            conflicts, reasons = warning.conflicts, warning.reasons
            form.form_errors.append(warning.message)
            matter = _matter(matter_id, "mediation.manage")
        except MediationError as error:
            attach_error(form, error)
            matter = _matter(matter_id, "mediation.manage")
        else:
            flash(_("Session %(number)d is scheduled. The participants are invited by mail with a calendar file.",
                    number=session.number), "success")
            return redirect_to(_session_url(matter, session))
    return render_template("mediation/sessions/new.html", matter=matter, form=form, conflicts=conflicts,
                           conflict_reasons=reasons, consent_problem=_consent_problem(matter))


@bp.route("/<int:matter_id>/sessions/<int:session_id>")
@policy.requires("mediation.view")
def session(matter_id, session_id):
    matter, session = _load(matter_id, session_id)
    return _render_session(matter, session)


@bp.route("/<int:matter_id>/sessions/<int:session_id>/move", methods=["POST"])
@policy.requires("mediation.manage")
def session_reschedule(matter_id, session_id):
    matter, session = _load(matter_id, session_id, "mediation.manage")
    form = SessionForm()
    conflicts, reasons = [], {}
    if form.validate_on_submit():
        try:
            sessions.reschedule(session, current_user._get_current_object(), form.session_input(),
                                confirm_conflicts=bool(form.confirm_conflicts.data))
        except sessions.ConflictWarning as warning:
            conflicts, reasons = warning.conflicts, warning.reasons
            form.form_errors.append(warning.message)
        except MediationError as error:
            if error.field is None:  # about the session itself (started, cancelled, consent): on the page
                flash(error.message, "error")
                return redirect_to(_session_url(matter, session))
            attach_error(form, error)
        else:
            flash(_("The session is moved. The participants get an update of the same calendar entry."), "success")
            return redirect_to(_session_url(matter, session))
        matter, session = _load(matter_id, session_id, "mediation.manage")
    return _refused(matter, session, _render_session(matter, session, move_form=form, conflicts=conflicts,
                                                     reasons=reasons))


@bp.route("/<int:matter_id>/sessions/<int:session_id>/cancel", methods=["POST"])
@policy.requires("mediation.manage")
def session_cancel(matter_id, session_id):
    matter, session = _load(matter_id, session_id, "mediation.manage")
    form = CancelSessionForm()
    if form.validate_on_submit():
        try:
            sessions.cancel(session, current_user._get_current_object(), form.reason.data)
        except MediationError as error:
            if error.field is None:
                flash(error.message, "error")
                return redirect_to(_session_url(matter, session))
            attach_error(form, error)
        else:
            flash(_("The session is cancelled. The participants are told."), "success")
            return redirect_to(_session_url(matter, session))
        matter, session = _load(matter_id, session_id, "mediation.manage")
    return _refused(matter, session, _render_session(matter, session, cancel_form=form))


@bp.route("/<int:matter_id>/sessions/<int:session_id>.ics")
@policy.requires("mediation.view")
def session_ics(matter_id, session_id):
    _matter_row, session = _load(matter_id, session_id)
    return Response(sessions.session_ics(session), mimetype="text/calendar", headers={
        "Content-Disposition": f'attachment; filename="mediation-session-{session.id}.ics"',
        "Cache-Control": "private, no-store"})
