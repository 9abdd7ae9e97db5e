"""Routes of drafting: starting the agreement from its mediation matter, the agreement page, a new version with its
obligation rows ("add another row" works without JavaScript), comments, the diff of two versions and the preview
PDF.

Thin: load the agreement (404), check the policy (403), call a service in drafting.py, then redirect after POST.
Bad input shows the form again with the message at its field (status 200, also for htmx).
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, timeutil
from portal.forms import attempt
from portal.htmx import add_vary, is_fragment, redirect_to
from portal.mediation.models import MediationStatus

from . import bp, drafting
from .forms_drafting import BLANK_ROWS, MAX_ROWS, CommentForm, VersionForm
from .models import Agreement, AgreementStatus
from .services import AgreementError, agreement_url, current_version


def load(agreement_id: int, permission: str = "agreement.view") -> Agreement:
    agreement = drafting.load_page_agreement(agreement_id)
    if agreement is None:
        abort(404)
    policy.ensure(permission, agreement)
    return agreement


def _user():
    return current_user._get_current_object()



@bp.app_template_global("matter_agreement")
def matter_agreement(matter):
    """The agreement of a mediation matter (for its page and the case panel), looked up once per request."""
    from flask import g

    if matter is None or matter.status != MediationStatus.AGREEMENT:
        return None
    found = g.setdefault("matter_agreements", {})
    if matter.id not in found:
        found[matter.id] = drafting.agreement_of_matter(matter)
    return found[matter.id]


# --- starting ------------------------------------------------------------------------------------------------

@bp.post("/agreements/start/<int:matter_id>")
@policy.requires("agreement.draft")
def start(matter_id: int):
    from portal.mediation.matters import load_page_matter

    matter = load_page_matter(matter_id)
    if matter is None:
        abort(404)
    policy.ensure("mediation.manage", matter)
    existing = drafting.agreement_of_matter(matter)
    if existing is not None:
        return redirect_to(agreement_url(existing.id))
    try:
        agreement = drafting.start_agreement(matter, _user())
    except AgreementError as error:
        flash(error.message, "error")
        return redirect_to(url_for("mediation.matter", matter_id=matter_id))
    flash(_("The agreement is started: version 1 is filled from the case. Write the facts, the responsibilities "
            "and the obligations next."), "success")
    return redirect_to(url_for("agreements.edit", agreement_id=agreement.id))


# --- the agreement page -----------------------------------------------------------------------------------------

def _render_page(agreement: Agreement, comment_form: CommentForm | None = None, version_number: int | None = None):
    page = drafting.agreement_page(agreement, _user(), version_number)
    context = {"agreement": agreement, "page": page,
               "comment_form": comment_form or CommentForm(formdata=None, prefix="comment")}
    if is_fragment() and comment_form is not None:
        return add_vary(make_response(render_template("agreements/drafting/_comments.html", **context)))
    return add_vary(make_response(render_template("agreements/page.html", **context)))


@bp.get("/agreements/<int:agreement_id>")
@policy.requires("agreement.view")
def agreement(agreement_id: int):
    return _render_page(load(agreement_id), version_number=request.args.get("version", type=int))


# --- versions ---------------------------------------------------------------------------------------------------

def _party_choices(agreement: Agreement):
    parties = [p for p in agreement.referral.parties if p.withdrawn_on is None]
    return [("", _("Choose…"))] + [(p.id, _("%(name)s (%(side)s)", name=p.name, side=p.side.label)) for p in parties]


def _initial_form(agreement: Agreement) -> VersionForm:
    version = current_version(agreement)
    rows = [{"party_id": o.party_id, "what": o.what, "manner": o.manner, "place": o.place, "due_on": o.due_on}
            for o in (version.obligations if version else [])]
    data = {"based_on": str(version.number) if version else "", "facts": version.facts if version else "",
            "disputes": version.disputes if version else "",
            "responsibilities": version.responsibilities if version else "",
            "other_terms": version.other_terms if version else "", "change_note": "", "obligations": rows}
    form = VersionForm(formdata=None, data=data)
    for _n in range(BLANK_ROWS):
        if len(form.obligations) < MAX_ROWS:
            form.obligations.append_entry()
    # FieldList(min_entries=1) adds an empty first row when there is no data: keep the blank rows at BLANK_ROWS.
    while len(form.obligations) > max(len(rows) + BLANK_ROWS, 1):
        form.obligations.pop_entry()
    return form


def _render_edit(agreement: Agreement, form: VersionForm, status: int = 200):
    form.set_parties(_party_choices(agreement))
    context = {"agreement": agreement, "form": form, "version": current_version(agreement),
               "signing": agreement.status.value == "signing", "today": timeutil.today()}
    template = "agreements/drafting/_version_form.html" if is_fragment() else "agreements/drafting/edit.html"
    return add_vary(make_response(render_template(template, **context), status))


def _edit_allowed(agreement: Agreement) -> None:
    if agreement.status in drafting.LOCKED_STATUSES:
        flash(_("The text can no longer change: the agreement has been signed and sealed."),
              "error")
        abort(make_response(redirect_to(agreement_url(agreement.id))))


@bp.get("/agreements/<int:agreement_id>/edit")
@policy.requires("agreement.draft")
def edit(agreement_id: int):
    agreement = load(agreement_id, "agreement.draft")
    _edit_allowed(agreement)
    return _render_edit(agreement, _initial_form(agreement))


def _rows(form: VersionForm) -> list[drafting.ObligationInput]:
    return [drafting.ObligationInput(party_id=entry.form.party_id.data, what=entry.form.what.data or "",
                                     manner=entry.form.manner.data or "", place=entry.form.place.data or "",
                                     due_on=entry.form.due_on.data)
            for entry in form.obligations]


def _check_rows(agreement: Agreement, form: VersionForm) -> bool:
    """Messages next to each obligation field; at least one filled row. True when the rows are fine."""
    problems = drafting.check_obligations(agreement.referral, _rows(form), timeutil.today())
    for index, name, message in problems:
        field = form.obligations[index].form[name]
        if message not in field.errors:
            field.errors = list(field.errors) + [message]
    filled = [entry for entry in form.obligations if not entry.form.is_blank()]
    if not filled and not any(entry.form.errors for entry in form.obligations):
        form.form_errors.append(_("Add at least one obligation: who does what, how, where and by when."))
        return False
    return not problems and not any(entry.form.errors for entry in form.obligations)


@bp.post("/agreements/<int:agreement_id>/versions")
@policy.requires("agreement.draft")
def save_version(agreement_id: int):
    agreement = load(agreement_id, "agreement.draft")
    _edit_allowed(agreement)
    form = VersionForm()
    form.set_parties(_party_choices(agreement))
    if "add_row" in request.form:  # "add another row": the same form again with one more blank row
        if len(form.obligations) < MAX_ROWS:
            form.obligations.append_entry()
        return _render_edit(agreement, form)
    valid = form.validate_on_submit()
    rows_ok = _check_rows(agreement, form)
    if valid and rows_ok:
        try:
            based_on = int(form.based_on.data) if form.based_on.data else None
        except ValueError:
            based_on = None
        signing = agreement.status.value == "signing"
        version = attempt(form, drafting.save_version, agreement, _user(), facts=form.facts.data,
                           disputes=form.disputes.data, responsibilities=form.responsibilities.data,
                           other_terms=form.other_terms.data, change_note=form.change_note.data,
                           obligations=_rows(form), based_on=based_on)
        if version:
            if signing:
                flash(_("Version %(n)d is saved. The signatures collected so far are void and everyone has been "
                        "told; the agreement is back in drafting.", n=version.number), "warning")
            else:
                flash(_("Version %(n)d is saved.", n=version.number), "success")
            return redirect_to(agreement_url(agreement_id, "#agreement-text"))
        agreement = load(agreement_id, "agreement.draft")
    return _render_edit(agreement, form)


# --- comments ---------------------------------------------------------------------------------------------------

@bp.post("/agreements/<int:agreement_id>/comments")
@policy.requires("agreement.comment")
def comment(agreement_id: int):
    agreement = load(agreement_id, "agreement.comment")
    if agreement.status in drafting.LOCKED_STATUSES:  # the form is no longer shown: say why on the page
        flash(_("Comments are closed: the agreement has been signed and sealed."), "error")
        return redirect_to(agreement_url(agreement_id))
    form = CommentForm(prefix="comment")
    if form.validate_on_submit() and attempt(form, drafting.add_comment, agreement, _user(), form.text.data):
        flash(_("Your comment is added."), "success")
        return redirect_to(agreement_url(agreement_id, "#agreement-comments"))
    return _render_page(load(agreement_id, "agreement.comment"), comment_form=form)


# --- the diff and the preview -----------------------------------------------------------------------------------

@bp.get("/agreements/<int:agreement_id>/diff")
@policy.requires("agreement.view")
def diff(agreement_id: int):
    agreement = load(agreement_id)
    numbers = [v.number for v in agreement.versions]
    if not numbers:
        abort(404)
    latest = numbers[-1]
    to_number = request.args.get("to", type=int) or latest
    from_number = request.args.get("from", type=int) or max(1, to_number - 1)
    versions = {v.number: v for v in agreement.versions}
    if from_number not in versions or to_number not in versions:
        abort(404)
    sections = drafting.diff_versions(versions[from_number], versions[to_number], viewer=_user())
    return render_template("agreements/drafting/diff.html", agreement=agreement, sections=sections,
                           old=versions[from_number], new=versions[to_number], versions=agreement.versions)


@bp.get("/agreements/<int:agreement_id>/preview.pdf")
@policy.requires("agreement.view")
def preview(agreement_id: int):
    agreement = load(agreement_id)
    if agreement.status == AgreementStatus.EFFECTIVE:
        # No "draft" once in effect: the sealed copy is the document (and its download has its own permission).
        flash(_("The agreement is in effect: there is no draft preview any more. The sealed copy is the "
                "document."), "info")
        return redirect_to(agreement_url(agreement_id, "#agreement-document"))
    number = request.args.get("version", type=int)
    version = next((v for v in agreement.versions if v.number == number), None) if number else None
    if number and version is None:
        abort(404)
    try:
        data = drafting.preview_pdf(agreement, version, viewer=_user())
    except AgreementError as error:
        flash(error.message, "error")
        return redirect_to(agreement_url(agreement_id))
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    label = version.number if version else (current_version(agreement).number)
    response.headers["Content-Disposition"] = (f'attachment; filename="agreement-{agreement.id}-v{label}-'
                                               'preview.pdf"')
    response.headers["Cache-Control"] = "private, no-store"
    return response
