"""Routes of the triage flow: triage outcomes, the department inbox (accept / object) and supervision (督办).

Thin: load the object (404), check the policy (403), call a service in portal.cases.triage, render or redirect.
An htmx request gets the fragment it swaps; everything works as plain forms with a redirect after POST.
"""
from __future__ import annotations

from flask import Response, abort, flash, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from portal import policy
from portal.audit.services import record
from portal.extensions import db
from portal.forms import attach_error
from portal.htmx import is_fragment, redirect_to

from . import bp, triage
from .clocks import due_state
from .forms_triage import (
    ComplexForm,
    LegalRouteForm,
    MediationForm,
    ObjectForm,
    ReferForm,
    RejectForm,
    RespondForm,
    SuperviseForm,
)
from .models import Case, CaseStatus, Clock, LegalRoute, Referral, ReferralKind, Supervision
from .services import CaseError
from .views import load_case


def _case_url(case: Case) -> str:
    return url_for("cases.detail", case_id=case.id)


def _safe_next(default: str) -> str:
    from portal.accounts.views import safe_next

    return safe_next(request.values.get("next"), default)


# --- template helpers -----------------------------------------------------------------------

@bp.app_template_global()
def triage_panel(case: Case):
    """Supervision notices, mediation referral and deadlines for the case page (a fixed number of queries).

    Several parts of the page ask for it; it is built once per request and case.
    """
    panels = g.setdefault("triage_panels", {})
    if case.id not in panels:
        panels[case.id] = triage.case_panel(case, current_user)
    return panels[case.id]


@bp.app_template_global()
def department_inbox():
    return triage.department_inbox(current_user)


@bp.app_template_global()
def staff_workbench():
    return triage.staff_workbench()


bp.add_app_template_global(due_state, "due_state")


@bp.app_template_global()
def supervision_late(supervision):
    return triage.supervision_late(supervision)


# --- triage -----------------------------------------------------------------------------------

OUTCOMES = {"reject": RejectForm, "refer": ReferForm, "legal": LegalRouteForm, "mediation": MediationForm,
            "complex": ComplexForm}


def _triage_titles() -> dict[str, str]:
    return {
        "reject": _("Not accepted"),
        "refer": _("Transfer or assign to departments"),
        "legal": _("Route to the legal channel"),
        "mediation": _("Refer to mediation"),
        "complex": _("Mark complex for a joint conference"),
    }


def _run_outcome(case: Case, outcome: str, form) -> str:
    """Call the service of `outcome` with the form's data; return the success message."""
    user = current_user._get_current_object()
    if outcome == "reject":
        triage.reject(case, user, form.reason.data, form.route.data)
        return _("The petition is not accepted; the petitioner is told the reason and where to turn.")
    if outcome == "refer":
        triage.refer(case, user, ReferralKind(form.kind.data), form.lead.data, [i for i in form.co.data if i],
                     form.note.data, form.complex_reason.data if form.complex.data else None)
        return _("The case is sent to the departments. They have 5 working days to object.")
    if outcome == "legal":
        triage.route_to_legal_channel(case, user, LegalRoute(form.route.data), form.notice.data)
        return _("The case is routed to the legal channel; the petitioner can download the written notice.")
    if outcome == "mediation":
        from portal.mediation.models import MediationSource

        by_department = form.respondent.data == "department"
        if by_department and form.other_department.data is None:
            raise CaseError(_("Choose the department on the other side."), "other_department")
        triage.refer_to_mediation(case, user, committee_id=form.committee.data,
                                  source=MediationSource(form.source.data), court_id=form.court.data,
                                  court_reference=form.court_reference.data,
                                  other_department_id=form.other_department.data if by_department else None,
                                  other_party=form.other_party.data, other_phone=form.other_phone.data,
                                  petitioner_consent_on=form.petitioner_consent_on.data,
                                  petitioner_consent_how=form.petitioner_consent_how.data,
                                  other_consent_on=form.other_consent_on.data,
                                  other_consent_how=form.other_consent_how.data,
                                  scope_confirmed=bool(form.scope_confirmed.data))
        return _("The case is referred to mediation.")
    triage.mark_complex(case, user, form.reason.data)
    return _("The case is marked complex for a joint conference.")


def _fill_choices(outcome: str, form) -> None:
    if outcome == "refer":
        departments = [(d.id, d.name) for d in triage.referral_departments()]
        form.lead.choices = [("", _("Choose…"))] + departments
        form.co.choices = departments
    elif outcome == "mediation":
        form.committee.choices = [("", _("Choose…"))] + [(d.id, d.name) for d in triage.mediation_committees()]
        form.court.choices = [("", _("Choose…"))] + [(d.id, d.name) for d in triage.mediation_courts()]
        form.other_department.choices = [("", _("Choose…"))] + [(d.id, d.name)
                                                                 for d in triage.referral_departments()]


@bp.route("/cases/<int:case_id>/triage/<outcome>", methods=["GET", "POST"])
@policy.requires("case.triage")
def triage_outcome(case_id, outcome):
    if outcome not in OUTCOMES:
        abort(404)
    case = load_case(case_id, "case.triage")
    if case.status != CaseStatus.REGISTERED:
        flash(_("This case has already been triaged (%(status)s). It can be triaged again only after a department "
                "returns it with an objection.", status=case.status.label), "warning")
        return redirect_to(_case_url(case))
    form = OUTCOMES[outcome]()
    _fill_choices(outcome, form)
    if form.validate_on_submit():
        try:
            message = _run_outcome(case, outcome, form)
        except CaseError as error:
            attach_error(form, error)
            case = load_case(case_id, "case.triage")  # the refusal rolled back: read the case afresh
        else:
            flash(message, "success")
            return redirect_to(_case_url(case))
    template = "cases/triage/_outcome_form.html" if is_fragment() else "cases/triage/outcome.html"
    return render_template(template, case=case, form=form, outcome=outcome, title=_triage_titles()[outcome])


@bp.route("/cases/<int:case_id>/legal-route-notice.pdf")
@policy.requires("case.view")
def legal_route_notice(case_id):
    case = load_case(case_id)
    if case.legal_route is None:
        abort(404)
    pdf = triage.legal_route_notice_pdf(case)
    record("case.legal_notice_downloaded", case, details={"reference": case.reference})
    db.session.commit()
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{case.reference}-legal-route-notice.pdf"'})


# --- the department inbox --------------------------------------------------------------------

@bp.route("/department/inbox")
@policy.requires("referral.decide")
def inbox():
    return render_template("cases/triage/inbox.html")


def _load_referral(referral_id: int) -> Referral:
    referral = db.session.scalar(
        select(Referral).where(Referral.id == referral_id).options(
            joinedload(Referral.department),
            joinedload(Referral.case).selectinload(Case.referrals).joinedload(Referral.department),
            joinedload(Referral.case).selectinload(Case.clocks).selectinload(Clock.pauses),
            joinedload(Referral.case).selectinload(Case.petitioners),
        ))
    if referral is None:
        abort(404)
    return referral


def _ensure_decidable(referral: Referral) -> str | None:
    """403 unless the referral is the user's department's; a message when it was already decided."""
    if policy.can(current_user, "referral.decide", referral):
        return None
    if current_user.department_id is not None and referral.department_id == current_user.department_id:
        return _("This referral has already been decided (%(status)s).", status=referral.status.label)
    abort(403)


def _row(referral: Referral, form=None, message: str | None = None, category: str = "success"):
    return render_template("cases/triage/_inbox_row.html", row=triage.inbox_row(referral), object_form=form,
                           row_message=message, row_category=category)


def _back() -> str:
    return _safe_next(url_for("cases.inbox"))


@bp.route("/referrals/<int:referral_id>/accept", methods=["POST"])
@policy.requires("referral.decide")
def accept_referral(referral_id):
    referral = _load_referral(referral_id)
    refused = _ensure_decidable(referral)  # the CSRF token is checked for every POST by CSRFProtect
    if refused is None:
        try:
            triage.accept(referral, current_user._get_current_object())
        except CaseError as error:
            refused = error.message
            referral = _load_referral(referral_id)
    if refused is not None:
        if is_fragment():
            return _row(referral, message=refused, category="error")
        flash(refused, "error")
        return redirect_to(_back())
    message = _("You accepted %(ref)s. The petitioner is told.", ref=referral.case.reference) \
        if referral.role.value == "lead" else _("You accepted %(ref)s as co-handling department.",
                                                 ref=referral.case.reference)
    if is_fragment():
        return _row(_load_referral(referral_id), message=message)
    flash(message, "success")
    return redirect_to(_back())


@bp.route("/referrals/<int:referral_id>/object", methods=["GET", "POST"])
@policy.requires("referral.decide")
def object_referral(referral_id):
    referral = _load_referral(referral_id)
    refused = _ensure_decidable(referral)
    if refused is not None:
        if is_fragment():
            return _row(referral, message=refused, category="error")
        flash(refused, "error")
        return redirect_to(_back())
    form = ObjectForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    elif form.validate_on_submit():
        try:
            triage.object_to(referral, current_user._get_current_object(), form.reason.data)
        except CaseError as error:
            referral = _load_referral(referral_id)
            if error.field is None:  # the window has closed: nothing the form can fix
                if is_fragment():
                    return _row(referral, message=error.message, category="error")
                flash(error.message, "error")
                return redirect_to(_back())
            attach_error(form, error)
        else:
            message = _("You returned %(ref)s to the petition bureau.", ref=referral.case.reference)
            if is_fragment():
                return _row(_load_referral(referral_id), message=message)
            flash(message, "success")
            return redirect_to(url_for("cases.inbox"))
    if is_fragment():
        return _row(referral, form=form)
    return render_template("cases/triage/object.html", referral=referral, row=triage.inbox_row(referral), form=form)


# --- supervision (督办) ------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/supervise", methods=["GET", "POST"])
@policy.requires("case.supervise")
def supervise(case_id):
    case = load_case(case_id, "case.supervise")
    overdue = triage.overdue_clocks(case)
    if not overdue:
        flash(_("A supervision notice is issued only on a case with an overdue time limit."), "warning")
        return redirect_to(_case_url(case))
    form = SuperviseForm()
    departments = triage.supervisable_departments(case)
    form.department.choices = [(d.id, d.name) for d in departments]
    if request.method == "GET" and departments:
        form.department.data = departments[0].id
    if form.validate_on_submit():
        try:
            triage.supervise(case, current_user._get_current_object(), form.department.data, form.notice.data)
        except CaseError as error:
            attach_error(form, error)
            case = load_case(case_id, "case.supervise")
        else:
            flash(_("The supervision notice is sent. The department must answer in writing."), "success")
            return redirect_to(_case_url(case))
    return render_template("cases/triage/supervise.html", case=case, form=form, overdue=overdue,
                           departments=departments)


@bp.route("/supervisions/<int:supervision_id>/respond", methods=["GET", "POST"])
@policy.requires("supervision.respond")
def respond_supervision(supervision_id):
    supervision = db.session.scalar(select(Supervision).where(Supervision.id == supervision_id)
                                    .options(joinedload(Supervision.department), joinedload(Supervision.issued_by)))
    if supervision is None:
        abort(404)
    policy.ensure("supervision.respond", supervision)
    case = db.session.get(Case, supervision.case_id)
    form = RespondForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if supervision.responded_at is not None:
        flash(_("This supervision notice has already been answered."), "info")
        return redirect_to(_safe_next(url_for("cases.inbox")))
    if form.validate_on_submit():
        try:
            triage.respond_to_supervision(supervision, case, current_user._get_current_object(), form.response.data)
        except CaseError as error:
            attach_error(form, error)
            supervision = db.session.get(Supervision, supervision_id)
            case = db.session.get(Case, supervision.case_id)
        else:
            flash(_("Your answer to the supervision notice is recorded."), "success")
            return redirect_to(_safe_next(url_for("cases.inbox")))
    return render_template("cases/triage/respond.html", supervision=supervision, case=case, form=form)
