"""Routes of the follow-up of an agreement in effect: the judicial confirmation (application, result), performance
reports with evidence, the petitioner's answers, the committee's status decisions and supervision notices.

Thin: load the agreement (404), check the policy (403), call a service in follow_up.py, redirect after POST. A
refusal shows the panel again with the message at its field: an htmx request gets the panel (status 200), a plain
POST the follow-up page.
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, send_from_directory
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy
from portal.forms import attach_error, attempt
from portal.htmx import add_vary, is_fragment, redirect_to
from portal.uploads import upload_folder

from . import bp, follow_up as service
from .forms_follow_up import AnswerForm, JudicialApplicationForm, JudicialResultForm, NoticeForm, ReportForm, StatusForm
from .services import AgreementError, agreement_url, load_agreement


def _load(agreement_id: int, permission: str = "agreement.view"):
    agreement = load_agreement(agreement_id)
    if agreement is None:
        abort(404)
    policy.ensure(permission, agreement)
    return agreement


def _page_url(agreement_id: int) -> str:
    """Back to the agreement's page at its follow-up panel."""
    return agreement_url(agreement_id, "#follow-up")


def _render(agreement, overrides: dict | None = None):
    context = {"agreement": agreement, "follow_up_forms": overrides or {}}
    template = "agreements/follow_up/_panel.html" if is_fragment() else "agreements/follow_up/page.html"
    return add_vary(make_response(render_template(template, **context)))


def _done(agreement_id: int, message: str):
    flash(message, "success")
    return redirect_to(_page_url(agreement_id))



# --- forms of the panel (also used by the template global) --------------------------------------------------

def application_form(**kwargs):
    form = JudicialApplicationForm(prefix="judicial", **kwargs)
    form.court_id.choices = [("", _("Choose…"))] + [(c.id, c.name) for c in service.courts()]
    return form


def panel_forms(agreement, data, overrides: dict) -> dict:
    """Fresh forms for the controls the current user may use, unless a refused one is shown again."""
    forms: dict = {}
    if data is None:
        return forms
    user = current_user
    if policy.can(user, "agreement.supervise", agreement):
        if data.pending_confirmation is not None:
            forms["result"] = overrides.get("result") or JudicialResultForm(prefix="result", formdata=None)
        elif not data.confirmed and data.window and data.window.is_open:
            if "judicial" not in overrides:
                forms["judicial"] = application_form(formdata=None)
                forms["judicial"].court_id.data = agreement.referral.court_id  # 诉调对接: the entrusting court
    for row in data.rows:
        obligation = row.obligation
        key = obligation.id
        if (policy.can(user, "agreement.report", obligation) and row.open_report is None
                and obligation.status.value != "performed"):
            forms[f"report-{key}"] = overrides.get(f"report-{key}") or ReportForm(prefix=f"report-{key}",
                                                                                  formdata=None)
        if row.open_report is not None and policy.can(user, "agreement.answer", agreement) \
                and policy.party_of(user, agreement.referral) != obligation.party:
            rid = row.open_report.id
            forms[f"answer-{rid}"] = overrides.get(f"answer-{rid}") or AnswerForm(prefix=f"answer-{rid}",
                                                                                  formdata=None)
        if policy.can(user, "agreement.supervise", agreement):
            forms[f"status-{key}"] = overrides.get(f"status-{key}") or StatusForm(prefix=f"status-{key}",
                                                                                  formdata=None)
            if obligation.status.value != "performed":
                forms[f"notice-{key}"] = overrides.get(f"notice-{key}") or NoticeForm(prefix=f"notice-{key}",
                                                                                      formdata=None)
    forms.update(overrides)  # a refused form is shown again with its message, even if it no longer applies
    return forms


@bp.app_template_global("agreement_follow_up")
def agreement_follow_up(agreement, overrides: dict | None = None):
    """What the follow-up panel shows (None before the agreement is in effect) and its forms."""
    data = service.follow_up(agreement)
    return data, panel_forms(agreement, data, overrides or {})


# --- the page --------------------------------------------------------------------------------------------------

@bp.route("/agreements/<int:agreement_id>/follow-up")
@policy.requires("agreement.view")
def follow_up(agreement_id):
    return _render(_load(agreement_id))


# --- judicial confirmation --------------------------------------------------------------------------------------

@bp.route("/agreements/<int:agreement_id>/judicial", methods=["POST"])
@policy.requires("agreement.supervise")
def judicial_apply(agreement_id):
    agreement = _load(agreement_id, "agreement.supervise")
    form = application_form()
    if form.validate() and attempt(form, service.record_application, agreement, current_user, form.applied_on.data,
                                    form.court_id.data, form.court_name.data, form.court_reference.data):
        return _done(agreement_id, _("The application for judicial confirmation is recorded."))
    return _render(_load(agreement_id, "agreement.supervise"), {"judicial": form})


@bp.route("/agreements/<int:agreement_id>/judicial/<int:confirmation_id>/result", methods=["POST"])
@policy.requires("agreement.supervise")
def judicial_result(agreement_id, confirmation_id):
    agreement = _load(agreement_id, "agreement.supervise")
    confirmation = next((c for c in service.confirmations(agreement) if c.id == confirmation_id), None)
    if confirmation is None:
        abort(404)
    form = JudicialResultForm(prefix="result")
    if form.validate() and attempt(form, service.record_result, agreement, confirmation, current_user,
                                    form.result.data, form.result_on.data, form.note.data):
        return _done(agreement_id, _("The court's decision is recorded and the parties are told."))
    return _render(_load(agreement_id, "agreement.supervise"), {"result": form})


# --- performance ------------------------------------------------------------------------------------------------

def _obligation(agreement, obligation_id: int):
    obligation = service.find_obligation(agreement, obligation_id)
    if obligation is None:
        abort(404)
    return obligation


@bp.route("/agreements/<int:agreement_id>/obligations/<int:obligation_id>/reports", methods=["POST"])
@policy.requires("agreement.report")
def report_performance(agreement_id, obligation_id):
    agreement = _load(agreement_id)
    obligation = _obligation(agreement, obligation_id)
    policy.ensure("agreement.report", obligation)
    key = f"report-{obligation_id}"
    form = ReportForm(prefix=key)
    if form.validate():
        try:
            checked = service.check_evidence(form.evidence.data)
        except AgreementError as error:
            attach_error(form, error)
        else:
            if attempt(form, service.report_performance, agreement, obligation, current_user, form.extent.data,
                        form.text.data, checked):
                return _done(agreement_id, _("Your report is recorded; the petitioner is asked to confirm it."))
    return _render(_load(agreement_id), {key: form})


@bp.route("/agreements/<int:agreement_id>/reports/<int:report_id>/answer", methods=["POST"])
@policy.requires("agreement.answer")
def answer_report(agreement_id, report_id):
    agreement = _load(agreement_id)
    policy.ensure("agreement.answer", agreement)
    report = service.find_report(agreement, report_id)
    if report is None:
        abort(404)
    key = f"answer-{report_id}"
    form = AnswerForm(prefix=key)
    if form.validate() and attempt(form, service.answer_report, agreement, report, current_user, form.answer.data,
                                    form.note.data):
        return _done(agreement_id, _("Your answer is recorded."))
    return _render(_load(agreement_id), {key: form})


@bp.route("/agreements/<int:agreement_id>/obligations/<int:obligation_id>/status", methods=["POST"])
@policy.requires("agreement.supervise")
def set_obligation_status(agreement_id, obligation_id):
    agreement = _load(agreement_id, "agreement.supervise")
    obligation = _obligation(agreement, obligation_id)
    key = f"status-{obligation_id}"
    form = StatusForm(prefix=key)
    if form.validate() and attempt(form, service.set_status, agreement, obligation, current_user, form.status.data,
                                    form.note.data):
        return _done(agreement_id, _("The obligation's status is recorded."))
    return _render(_load(agreement_id, "agreement.supervise"), {key: form})


@bp.route("/agreements/<int:agreement_id>/obligations/<int:obligation_id>/notice", methods=["POST"])
@policy.requires("agreement.supervise")
def supervision_notice(agreement_id, obligation_id):
    agreement = _load(agreement_id, "agreement.supervise")
    obligation = _obligation(agreement, obligation_id)
    key = f"notice-{obligation_id}"
    form = NoticeForm(prefix=key)
    sent = []
    if form.validate() and attempt(form, lambda: sent.append(service.send_supervision_notice(
            agreement, obligation, current_user, form.text.data))):
        if not sent[0]:
            flash(_("The notice is recorded, but %(party)s has no contact on file: deliver it by other means.",
                    party=obligation.party.name), "warning")
            return redirect_to(_page_url(agreement_id))
        return _done(agreement_id, _("The supervision notice is sent to the obliged party."))
    return _render(_load(agreement_id, "agreement.supervise"), {key: form})


@bp.route("/agreements/<int:agreement_id>/evidence/<int:evidence_id>")
@policy.requires("agreement.view")
def performance_evidence(agreement_id, evidence_id):
    """A performance report's evidence, to those who see the agreement, as an attachment."""
    agreement = _load(agreement_id)
    evidence = service.find_evidence(agreement, evidence_id)
    if evidence is None:
        abort(404)
    return send_from_directory(upload_folder(), evidence.stored_name, mimetype=evidence.content_type,
                               as_attachment=True, download_name=evidence.original_name)
