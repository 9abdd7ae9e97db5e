"""Routes of the handling flow: progress, notes, pauses, extensions, opinions, reviews and ratings.

Thin views: load the case (404) and check the policy (403), let a service in handling.py do the work, then
redirect after POST. A refusal re-renders the case page with the message next to the field. Progress entries
and notes also answer htmx requests with the new timeline, so they appear without a reload.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import force_locale, gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import policy, uploads
from portal.accounts.models import Role
from portal.audit.services import record
from portal.extensions import db
from portal.forms import attach_error, attempt
from portal.htmx import is_fragment, redirect_to
from portal.pdf import render_pdf

from . import bp, handling
from .forms_handling import (DesignateForm, ExtensionDecisionForm, ExtensionForm, NoteForm, OpinionForm, PauseForm,
                             ProgressForm, RatingForm, ReviewRequestForm)
from .models import Case, Extension, Opinion, Review
from .services import timeline
from .views import case_page, load_case

# form name -> (class, prefix); the prefix keeps field ids unique on the case page
FORMS = {
    "progress": ProgressForm, "note": NoteForm, "pause": PauseForm, "extension": ExtensionForm,
    "opinion": OpinionForm, "review": ReviewRequestForm, "designate": DesignateForm, "answer": OpinionForm,
    "rating": RatingForm,
}


def _form(name: str, **kwargs):
    return FORMS[name](prefix=name, **kwargs)


@dataclass
class HandlingView:
    """What _handling_actions.html and _petitioner_actions.html show for the signed-in user."""

    state: handling.HandlingState
    forms: dict = field(default_factory=dict)
    open_forms: set = field(default_factory=set)  # forms shown unfolded (they carry errors)
    pausable: list = field(default_factory=list)
    paused: list = field(default_factory=list)
    departments: list = field(default_factory=list)
    progress_files: list = field(default_factory=list)  # for the petitioner: files sent with progress entries
    extension_max: int = handling.rules.EXTENSION_MAX_DAYS
    review_request_days: int = handling.rules.REVIEW_REQUEST_DAYS


@bp.app_template_global("handling_view")
def handling_view(case: Case, overrides: dict | None = None) -> HandlingView:
    overrides = overrides or {}
    state = handling.handling_state(case)
    view = HandlingView(state=state, open_forms=set(overrides))
    for name in FORMS:
        view.forms[name] = overrides.get(name) or _form(name, formdata=None)
    if current_user.role == Role.PETITIONER:
        view.progress_files = handling.progress_files(case)
    if current_user.role != Role.PETITIONER and policy.can(current_user, "case.pause", case):
        view.pausable = handling.pausable_clocks(current_user, case)
        view.paused = handling.paused_clocks(current_user, case)
        view.forms["pause"].clock_id.choices = [(c.id, c.kind.label) for c in view.pausable]
    if state.open_review is not None and policy.can(current_user, "review.designate", state.open_review):
        # The body whose opinion is under review is not offered (the service refuses it too).
        reviewed = state.opinions.get(state.open_review.level - 1)
        view.departments = [d for d in handling.reviewing_departments()
                            if reviewed is None or d.id != reviewed.department_id]
        form = view.forms["designate"]
        form.department_id.choices = [("", _("Choose a department"))] + [(d.id, d.name) for d in view.departments]
        if form.department_id.data is None:
            form.department_id.data = state.open_review.reviewing_department_id
    return view


@bp.app_template_global("opinion_title")
def opinion_title(level: int) -> str:
    return handling.opinion_title(level)


@bp.app_template_global("pending_extensions")
def pending_extensions():
    return handling.pending_extensions()


@bp.app_template_global("extension_decision_form")
def extension_decision_form(extension: Extension, overrides: dict | None = None):
    return (overrides or {}).get(extension.id) or ExtensionDecisionForm(prefix=f"ext{extension.id}", formdata=None)


# --- helpers ------------------------------------------------------------------------------------------


def _case_url(case_id: int) -> str:
    """The case page at its handling section. An htmx redirect (HX-Redirect) goes to the bare page: a link that
    differs from the current page only by its #anchor would scroll instead of loading the page again."""
    url = url_for("cases.detail", case_id=case_id)
    return url if is_fragment() else url + "#handling"


def _back_to_case(case_id: int, message: str):
    flash(message, "success")
    return redirect_to(_case_url(case_id))


def _only_form_errors(form) -> bool:
    return bool(form.form_errors) and not any(f.errors for f in form)


def _refused(case_id: int, name: str, form):
    """A refusal of the step itself (not possible now) comes back as a message on the case page; a problem with
    the input shows the case page again with the form unfolded, the input kept and the message at the field."""
    if _only_form_errors(form):
        for message in form.form_errors:
            flash(message, "error")
        return redirect_to(_case_url(case_id))
    case = load_case(case_id)
    response = make_response(case_page(case, handling_forms={name: form}))
    if request.headers.get("HX-Request"):
        response.headers["HX-Push-Url"] = url_for("cases.detail", case_id=case_id)
    return response


def _timeline_fragment(case: Case, name: str):
    """The new timeline for the htmx request, and an empty form in place of the one just sent."""
    fresh = _form(name, formdata=None)
    return render_template("cases/handling/_timeline_update.html", case=case, name=name, form=fresh,
                           events=timeline(case, internal=policy.can(current_user, "case.internal", case)))


def _entry(case_id: int, permission: str, name: str, work, message: str):
    """Progress entries and notes: htmx gets the new timeline (or the form with its errors), others a redirect.
    A progress entry with files reloads the page, whose list of attachments then shows them."""
    case = load_case(case_id, permission)
    form = _form(name)
    files = []
    if form.validate_on_submit():
        if "attachments" in form:
            try:
                files = uploads.check_files(request.files.getlist(form.attachments.name),
                                            already=len(case.attachments), field="attachments")
            except uploads.UploadError as refused:
                attach_error(form, refused)
        if not form.errors and not form.form_errors and attempt(form, work, case, current_user, form.text.data,
                                                                  *([files] if files else [])):
            if is_fragment() and not files:
                return _timeline_fragment(load_case(case_id, permission), name)
            return _back_to_case(case_id, message)
    if is_fragment():
        response = make_response(render_template(f"cases/handling/_{name}_form.html", case=case, form=form))
        response.headers["HX-Retarget"] = f"#{name}-form"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return _refused(case_id, name, form)


# --- handling by the lead department ------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/progress", methods=["POST"])
@policy.requires("case.handle")
def add_progress(case_id):
    return _entry(case_id, "case.handle", "progress", handling.add_progress, _("Progress entry added."))


@bp.route("/cases/<int:case_id>/notes", methods=["POST"])
@policy.requires("case.note")
def add_note(case_id):
    return _entry(case_id, "case.note", "note", handling.add_note, _("Internal note added."))


@bp.route("/cases/<int:case_id>/pause", methods=["POST"])
@policy.requires("case.pause")
def pause(case_id):
    case = load_case(case_id, "case.pause")
    form = _form("pause")
    form.clock_id.choices = [(c.id, c.kind.label) for c in handling.pausable_clocks(current_user, case)]
    if form.validate_on_submit() and attempt(form, handling.pause, case, current_user, form.clock_id.data,
                                              form.reason.data):
        return _back_to_case(case_id, _("The time limit is paused."))
    return _refused(case_id, "pause", form)


@bp.route("/cases/<int:case_id>/clocks/<int:clock_id>/resume", methods=["POST"])
@policy.requires("case.pause")
def resume(case_id, clock_id):
    case = load_case(case_id, "case.pause")
    form = _form("pause", formdata=None)  # holds a refusal, if any
    if attempt(form, handling.resume, case, current_user, clock_id):
        return _back_to_case(case_id, _("The time limit runs again."))
    return _refused(case_id, "pause", form)


@bp.route("/cases/<int:case_id>/extensions", methods=["POST"])
@policy.requires("case.handle")
def request_extension(case_id):
    case = load_case(case_id, "case.handle")
    form = _form("extension")
    if form.validate_on_submit() and attempt(form, handling.request_extension, case, current_user, form.days.data,
                                              form.reason.data):
        return _back_to_case(case_id, _("The extension request is sent to a leader."))
    return _refused(case_id, "extension", form)


@bp.route("/extensions/<int:extension_id>/decide", methods=["POST"])
@policy.requires("extension.decide")
def decide_extension(extension_id):
    from portal.accounts.views import safe_next

    extension = db.get_or_404(Extension, extension_id)
    case = load_case(extension.case_id, "case.view")
    policy.ensure("extension.decide", extension)
    form = ExtensionDecisionForm(prefix=f"ext{extension.id}")
    back = safe_next(request.form.get("next"), url_for("home.index"))
    if form.validate_on_submit():
        decision = form.decision.data
        if decision not in ("approve", "refuse"):
            form.form_errors.append(_("Choose approve or refuse."))
        elif attempt(form, handling.decide_extension, extension, current_user, decision == "approve",
                      form.note.data):
            flash(_("Extension of %(days)d days approved for %(ref)s.", days=extension.days, ref=case.reference)
                  if decision == "approve" else _("Extension refused for %(ref)s.", ref=case.reference), "success")
            return redirect_to(back)
    if _only_form_errors(form):
        for message in form.form_errors:
            flash(message, "error")
        return redirect_to(back)
    if back.startswith(url_for("cases.detail", case_id=case.id)):
        response = make_response(case_page(load_case(case.id), decision_forms={extension.id: form}))
    else:
        response = make_response(render_template("home/leader.html", decision_forms={extension.id: form}))
    if request.headers.get("HX-Request"):
        response.headers["HX-Push-Url"] = back
    return response


# --- opinions ----------------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/opinion", methods=["POST"])
@policy.requires("case.handle")
def issue_opinion(case_id):
    case = load_case(case_id, "case.handle")
    form = _form("opinion")
    if form.validate_on_submit() and attempt(form, handling.issue_opinion, case, current_user, form.outcome.data,
                                              form.facts.data, form.reasons.data):
        return _back_to_case(case_id, _("The handling opinion is issued; the petitioner is told."))
    return _refused(case_id, "opinion", form)


@bp.route("/cases/<int:case_id>/opinions/<int:level>.pdf")
@policy.requires("opinion.download")
def opinion_pdf(case_id, level):
    case = load_case(case_id, "opinion.download")
    opinion = db.session.scalar(select(Opinion).where(Opinion.case_id == case.id, Opinion.level == level))
    if opinion is None:
        abort(404)
    window = None
    if level < 2:
        window = handling.last_clock(case, handling.REQUEST_WINDOW[level + 1])
        if window is not None and window.started_on != opinion.issued_on:
            window = None
    # An official document: always in Chinese, whatever language the reader uses the portal in.
    with force_locale("zh_CN"):
        pdf = render_pdf("cases/pdf/opinion.html", case=case, opinion=opinion, window=window,
                         title=handling.opinion_title(level), rules=handling.rules,
                         petitioners=[p.name for p in case.petitioners])
    record("opinion.downloaded", opinion, details={"case": case.id, "level": level})
    db.session.commit()
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}-opinion-{level}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- review and re-review -----------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/reviews", methods=["POST"])
@policy.requires("case.review_request")
def request_review(case_id):
    case = load_case(case_id, "case.review_request")
    form = _form("review")
    if form.validate_on_submit() and attempt(form, handling.request_review, case, current_user, form.reason.data):
        return _back_to_case(case_id, _("Your request is registered. The bureau will name the reviewing body."))
    return _refused(case_id, "review", form)


@bp.route("/reviews/<int:review_id>/designate", methods=["POST"])
@policy.requires("review.designate")
def designate_reviewer(review_id):
    review = db.get_or_404(Review, review_id)
    case = load_case(review.case_id, "case.view")
    policy.ensure("review.designate", review)
    form = _form("designate")
    if form.validate_on_submit() and attempt(form, handling.designate_reviewer, review, current_user,
                                              form.department_id.data):
        return _back_to_case(case.id, _("The reviewing department is designated."))
    return _refused(case.id, "designate", form)


@bp.route("/reviews/<int:review_id>/answer", methods=["POST"])
@policy.requires("review.answer")
def answer_review(review_id):
    review = db.get_or_404(Review, review_id)
    case = load_case(review.case_id, "case.view")
    policy.ensure("review.answer", review)
    form = _form("answer")
    if form.validate_on_submit() and attempt(form, handling.answer_review, review, current_user,
                                              form.outcome.data, form.facts.data, form.reasons.data):
        return _back_to_case(case.id, _("The opinion is issued; the petitioner is told."))
    return _refused(case.id, "answer", form)


# --- satisfaction rating ------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/rating", methods=["POST"])
@policy.requires("case.rate")
def rate(case_id):
    case = load_case(case_id, "case.rate")
    form = _form("rating")
    if form.validate_on_submit() and attempt(form, handling.rate, case, current_user, form.value.data,
                                              form.comment.data):
        return _back_to_case(case_id, _("Thank you for your rating."))
    return _refused(case_id, "rating", form)
