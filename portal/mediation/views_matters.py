"""Routes of the mediation matter: the list, the figures, the matter page and its controls (mediators, room,
parties, a withdrawal of consent, the outcome).

Thin: load the matter (404), check the policy (403), call a service in matters.py, then redirect after POST.
Bad input shows the form again with the message at its field: an htmx request gets the form's section (status
200), a plain POST the whole page. The parties see the page read-only.
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy
from portal.cases.models import LegalRoute
from portal.forms import attempt
from portal.htmx import add_vary, is_fragment, redirect_to

from . import bp, figures as figures_service, matters
from .forms_matters import MediatorForm, OutcomeForm, PartyForm, RoomForm, WithdrawForm
from .models import AfterMediation, MediationReferral, MediationStatus, PartySide
from .services import MediationError, active_parties

FORMS = {"mediator": MediatorForm, "room": RoomForm, "party": PartyForm, "withdraw": WithdrawForm,
         "outcome": OutcomeForm}
# The section of the page each form belongs to (the fragment an htmx request gets back).
SECTIONS = {"mediator": "mediation/matters/_team.html", "room": "mediation/matters/_team.html",
            "party": "mediation/matters/_parties.html", "withdraw": "mediation/matters/_parties.html",
            "outcome": "mediation/matters/_outcome.html"}


def load_matter(matter_id: int, permission: str = "mediation.view") -> MediationReferral:
    matter = matters.load_page_matter(matter_id)
    if matter is None:
        abort(404)
    policy.ensure(permission, matter)
    return matter


def _matter_url(matter_id: int) -> str:
    return url_for("mediation.matter", matter_id=matter_id)


def _choose(choices) -> list:
    return [("", _("Choose…"))] + list(choices)


def _form(name: str, matter: MediationReferral, **kwargs):
    form = FORMS[name](prefix=name, **kwargs)
    if name == "mediator":
        present = {m.user_id for m in matter.mediators}
        form.user_id.choices = _choose((u.id, u.display_name) for u in matters.mediators() if u.id not in present)
    elif name == "party":
        form.petitioner_id.choices = _choose((p.id, p.name) for p in matter.case.petitioners)
        form.department_id.choices = _choose((d.id, d.name) for d in matters.party_departments())
    elif name == "withdraw":
        form.party_id.choices = _choose((p.id, _("%(name)s (%(side)s)", name=p.name, side=p.side.label)) for p in active_parties(matter))
    elif name == "room" and "formdata" in kwargs and kwargs["formdata"] is None:
        form.room.data = matter.room
    return form


def _forms(matter: MediationReferral, overrides: dict | None = None) -> dict:
    """The forms of the page for a mediator of the matter, empty unless a refused one is shown again."""
    overrides = overrides or {}
    if not (matter.status == MediationStatus.OPEN and policy.can(current_user, "mediation.manage", matter)):
        return {}
    return {name: overrides.get(name) or _form(name, matter, formdata=None) for name in FORMS}


def _render(matter: MediationReferral, overrides: dict | None = None, section: str | None = None):
    context = {"matter": matter, "page": matters.matter_page(matter), "forms": _forms(matter, overrides)}
    template = section if section and is_fragment() else "mediation/matters/detail.html"
    return add_vary(make_response(render_template(template, **context)))



def _post(matter_id: int, name: str, work, message: str):
    """The common shape of a managing POST: validate, run the service, redirect; else show the form again."""
    matter = load_matter(matter_id, "mediation.manage")
    form = _form(name, matter)
    if form.validate_on_submit() and attempt(form, work, matter, form):
        flash(message, "success")
        return redirect_to(_matter_url(matter_id))
    if form.form_errors and not any(f.errors for f in form) and matter.status != MediationStatus.OPEN:
        # The matter ended meanwhile: nothing on the form can fix that.
        flash(form.form_errors[0], "error")
        return redirect_to(_matter_url(matter_id))
    return _render(load_matter(matter_id, "mediation.manage"), {name: form}, SECTIONS[name])


# --- the list and the figures -------------------------------------------------------------------------

@bp.route("")
@policy.requires("mediation.list")
def index():
    status = request.args.get("status", "open")
    if status not in matters.STATUS_FILTERS:
        status = "open"
    rows, more = matters.list_matters(current_user, status)
    labels = {"open": _("Open"), "ended": _("Ended"), "all": _("All")}
    labels.update({s.value: s.label for s in MediationStatus if s != MediationStatus.OPEN})
    return render_template("mediation/index.html", rows=rows, more=more, status=status,
                           filters=[(value, labels[value]) for value in matters.STATUS_FILTERS],
                           usual_days=matters.rules.MEDIATION_USUAL_DAYS)


@bp.route("/figures")
@policy.requires("mediation.list")
def figures():
    return render_template("mediation/figures.html", figures=figures_service.figures(current_user))


# --- the matter page ---------------------------------------------------------------------------------

@bp.route("/<int:matter_id>")
@policy.requires("mediation.view")
def matter(matter_id):
    return _render(load_matter(matter_id))


@bp.app_template_global("case_mediation")
def case_mediation(case):
    """The latest mediation matter of a case for the case pages (built once per request and case)."""
    from flask import g

    found = g.setdefault("case_mediations", {})
    if case.id not in found:
        found[case.id] = matters.case_mediation(case)
    return found[case.id]


# --- managing (the mediators of the matter and of its committee) ---------------------------------------

@bp.post("/<int:matter_id>/mediators")
@policy.requires("mediation.manage")
def assign_mediator(matter_id):
    return _post(matter_id, "mediator",
                 lambda matter, form: matters.assign_mediator(matter, current_user._get_current_object(),
                                                              form.user_id.data),
                 _("The mediator is assigned."))


@bp.post("/<int:matter_id>/mediators/<int:user_id>/remove")
@policy.requires("mediation.manage")
def remove_mediator(matter_id, user_id):
    matter = load_matter(matter_id, "mediation.manage")
    try:  # the CSRF token is checked for every POST by CSRFProtect
        matters.remove_mediator(matter, current_user._get_current_object(), user_id)
    except MediationError as error:
        flash(error.message, "error")
    else:
        flash(_("The mediator is no longer assigned."), "success")
    return redirect_to(_matter_url(matter_id))


@bp.post("/<int:matter_id>/room")
@policy.requires("mediation.manage")
def set_room(matter_id):
    return _post(matter_id, "room",
                 lambda matter, form: matters.set_room(matter, current_user._get_current_object(), form.room.data),
                 _("The mediation room is set."))


@bp.post("/<int:matter_id>/parties")
@policy.requires("mediation.manage")
def add_party(matter_id):
    def work(matter, form):
        matters.add_party(matter, current_user._get_current_object(), side=PartySide(form.side.data),
                          kind=form.kind.data, petitioner_id=form.petitioner_id.data,
                          department_id=form.department_id.data, name=form.name.data, phone=form.phone.data,
                          consent_on=form.consent_on.data, consent_how=form.consent_how.data)

    return _post(matter_id, "party", work, _("The party is added with its consent."))


@bp.post("/<int:matter_id>/withdraw")
@policy.requires("mediation.manage")
def withdraw(matter_id):
    return _post(matter_id, "withdraw",
                 lambda matter, form: matters.withdraw_consent(
                     matter, current_user._get_current_object(), party_id=form.party_id.data,
                     withdrawn_on=form.withdrawn_on.data, reason=form.reason.data),
                 _("The withdrawal is recorded; the mediation has ended and the case is back in triage."))


@bp.post("/<int:matter_id>/outcome")
@policy.requires("mediation.manage")
def outcome(matter_id):
    def work(matter, form):
        matters.record_outcome(
            matter, current_user._get_current_object(), kind=MediationStatus(form.kind.data), text=form.text.data,
            after=AfterMediation(form.after.data) if form.after.data else None,
            legal_route=LegalRoute(form.legal_route.data) if form.legal_route.data else None,
            legal_route_notice=form.legal_route_notice.data)

    return _post(matter_id, "outcome", work, _("The outcome of the mediation is recorded."))
