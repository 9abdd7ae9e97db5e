"""Routes of the intake flow: staff registration, the online petition in steps, the acknowledgment and its PDF,
whole ID numbers and phones on request, and the public query page.

Thin: read the request, call portal.cases.intake, render. Every page works without JavaScript; with htmx the
same URL answers a fragment (portal.htmx.is_fragment).
"""
from __future__ import annotations

from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, rules, uploads
from portal.audit.services import record
from portal.extensions import db, limiter
from portal.forms import attach_error
from portal.htmx import is_fragment, redirect_to
from portal.mail.services import external_url
from portal.pdf import render_pdf
from portal.timeutil import today

from . import bp, intake
from .forms_intake import INLINE_FIELDS, STEPS, OnlineForm, QueryForm, RegisterForm
from .models import Channel, ClockKind, MatterType
from .services import CaseError, mask_id_number, mask_phone
from .views import case_page, load_case


@bp.app_template_filter("mask_id")
def _mask_id_filter(value):
    return mask_id_number(value or "")


@bp.app_template_filter("mask_phone")
def _mask_phone_filter(value):
    return mask_phone(value or "")


def _limits() -> dict:
    return {"group_max": rules.GROUP_VISIT_MAX_REPRESENTATIVES, "max_files": rules.ATTACHMENTS_PER_CASE,
            "max_mb": f"{rules.ATTACHMENT_MAX_BYTES / (1024 * 1024):g}", "accept": uploads.ACCEPT}


def _category_choices():
    return [(0, _("— none —"))] + [(c.id, c.name) for c in intake.active_categories()]


# --- shared pieces ----------------------------------------------------------------------------------

def _take_uploads(form) -> tuple[list[uploads.StoredFile], str | None]:
    """Files kept for this form so far, minus those removed, plus those just sent.

    A bad new file is refused with a message and none of the new files is kept (nothing changes).
    """
    pending = uploads.read_pending_token(form.uploads.data, current_user.id)
    removed = set(request.form.getlist("remove_upload"))
    if removed:
        uploads.remove([f.stored_name for f in pending if f.stored_name in removed])
        pending = [f for f in pending if f.stored_name not in removed]
    error = None
    try:
        checked = uploads.check_files(request.files.getlist("attachments"), already=len(pending))
    except uploads.UploadError as refused:
        error = refused.message
    else:
        pending += uploads.store(checked)
    form.uploads.data = uploads.pending_token(pending, current_user.id)
    return pending, error


def _decision(form) -> intake.Decision:
    choice = (form.duplicate_choice.data or "").strip()
    number = choice[5:] if choice.startswith("link:") else ""
    return intake.Decision(link_to_id=int(number) if number.isdigit() and len(number) <= 10 else None,
                           override=choice == "override", reason=form.override_reason.data or "",
                           repeat_acknowledged=bool(form.repeat_acknowledged.data))


def _decision_missing(form, findings) -> None:
    """The person saw the check and saved without deciding: say what is missing instead of showing it again."""
    if not request.form.get("decision_shown"):
        return
    if findings.duplicates and not form.duplicate_choice.data:
        form.duplicate_choice.errors = [_("Choose: link it to the pending petition, or register it separately "
                                          "and say why.")]
    elif findings.repeat is not None and not form.repeat_acknowledged.data:
        form.repeat_acknowledged.errors = [_("Confirm that you have read this before saving.")]


def _findings_after_error(data) -> intake.Findings:
    """The findings again, for a refusal of the decision itself (the petition's data had passed its checks)."""
    return intake.find(data, current_user)


# --- staff registration ------------------------------------------------------------------------------

def _register_data(form) -> intake.PetitionData:
    return intake.PetitionData(
        channel=Channel(form.channel.data), received_on=form.received_on.data,
        matter_type=MatterType(form.matter_type.data), subject=form.subject.data or "", facts=form.facts.data or "",
        request=form.request.data or "", place=form.place.data or "", category_id=form.category_id.data or None,
        group_visit=bool(form.group_visit.data),
        petitioners=[intake.PetitionerData(e.form.name.data or "", e.form.id_number.data or "",
                                           e.form.phone.data or "", e.form.address.data or "")
                     for e in form.petitioners.entries])


def _show_register_error(form, error, context: dict) -> None:
    """Put a refusal next to its field, including a field of one petitioner row (petitioners-2-phone)."""
    name = error.field or ""
    if name == "petitioners":
        context["petitioners_error"] = error.message
        return
    parts = name.split("-")
    if len(parts) == 3 and parts[0] == "petitioners" and parts[1].isdigit():
        index = int(parts[1])
        if index < len(form.petitioners.entries) and parts[2] in form.petitioners.entries[index].form._fields:
            sub = form.petitioners.entries[index].form[parts[2]]
            sub.errors = list(sub.errors) + [error.message]
            return
    attach_error(form, error)


def _add_row(form, context: dict) -> None:
    rows = len(form.petitioners.entries) + 1
    group = bool(form.group_visit.data) and form.channel.data == Channel.VISIT.value
    try:
        intake.check_group(Channel.VISIT if group else Channel.LETTER, group, rows)
    except CaseError as error:
        context["petitioners_error"] = error.message
        return
    form.petitioners.append_entry()
    context["focus_row"] = len(form.petitioners.entries) - 1


def _remove_row(form, value: str) -> None:
    if not value.isdigit() or len(form.petitioners.entries) <= 1:
        return
    index = int(value)
    if index >= len(form.petitioners.entries):
        return
    rows = [e.data for i, e in enumerate(form.petitioners.entries) if i != index]
    form.petitioners.entries, form.petitioners.last_index = [], -1
    for row in rows:
        form.petitioners.append_entry(row)


def _render_register(form, pending, **context):
    template = "cases/intake/_register_form.html" if is_fragment() else "cases/intake/register.html"
    return render_template(template, form=form, pending=pending, **_limits(), **context)


@bp.route("/cases/register", methods=["GET", "POST"])
@policy.requires("case.register")
def register():
    form = RegisterForm()
    form.category_id.choices = _category_choices()
    if request.method == "GET":
        form.received_on.data = today()
        return _render_register(form, [])
    pending, upload_error = _take_uploads(form)
    context: dict = {}
    if "add_petitioner" in request.form:
        _add_row(form, context)
    elif "remove_petitioner" in request.form:
        _remove_row(form, request.form.get("remove_petitioner", ""))
    elif request.form.getlist("remove_upload"):
        pass  # only a file was taken off the list
    elif form.validate() and upload_error is None:
        data = _register_data(form)
        try:
            case = intake.register_case(data, actor=current_user, decision=_decision(form), attachments=pending)
        except intake.DecisionNeeded as needed:
            db.session.rollback()
            context["findings"] = needed.findings
            _decision_missing(form, needed.findings)
        except CaseError as error:
            db.session.rollback()
            _show_register_error(form, error, context)
            if error.field in ("duplicate_choice", "override_reason"):
                context["findings"] = _findings_after_error(data)
        else:
            flash(_("Registered as %(ref)s.", ref=case.reference), "success")
            return redirect_to(url_for("cases.acknowledgment", case_id=case.id))
    if upload_error:
        form.attachments.errors = [upload_error]
    return _render_register(form, pending, **context)


# --- online petition -------------------------------------------------------------------------------------

def _step_number(value) -> int:
    return int(value) if str(value or "").isdigit() and 1 <= int(value) <= len(STEPS) else 1


def _inline_validation(form) -> None:
    for name in INLINE_FIELDS:
        field = form[name]
        field.render_kw = {**(field.render_kw or {}),
                           "hx-post": url_for("cases.check_online_field", name=name), "hx-trigger": "change",
                           "hx-target": "closest .field", "hx-swap": "outerHTML", "hx-params": name,
                           "hx-sync": "closest form:abort"}


def _online_form() -> OnlineForm:
    form = OnlineForm()
    form.category_id.choices = _category_choices()
    _inline_validation(form)
    return form


def _validate_step(form, number: int) -> bool:
    results = [form[name].validate(form) for name in STEPS[number - 1][2]]
    return all(results)


def _first_invalid_step(form) -> int | None:
    for number in range(1, len(STEPS) + 1):
        if not _validate_step(form, number):
            return number
    return None


def _online_data(form) -> intake.PetitionData:
    return intake.PetitionData(
        channel=Channel.ONLINE, received_on=today(), matter_type=MatterType(form.matter_type.data),
        subject=form.subject.data or "", facts=form.facts.data or "", request=form.request.data or "",
        place=form.place.data or "", category_id=form.category_id.data or None,
        petitioners=[intake.PetitionerData(form.name.data or "", form.id_number.data or "", form.phone.data or "",
                                           form.address.data or "", user_id=current_user.id)])


def _online_error_step(form, error: CaseError) -> int:
    """Show a service refusal on its field and return the step that asks for it."""
    name = (error.field or "").removeprefix("petitioners-0-")
    for number, (_key, _label, names) in enumerate(STEPS, start=1):
        if name in names:
            attach_error(form, CaseError(error.message, name))
            return number
    if name == "attachments":
        form.attachments.errors = [error.message]
        return 3
    attach_error(form, CaseError(error.message, name if name in form._fields else None))
    return len(STEPS)


def _render_online(form, step: int, pending, **context):
    template = "cases/intake/_online_form.html" if is_fragment() else "cases/intake/online.html"
    categories = dict(form.category_id.choices)
    return render_template(template, form=form, step=step, steps=STEPS, pending=pending, **_limits(),
                           category_name=categories.get(form.category_id.data) if form.category_id.data else None,
                           matter_label=dict(form.matter_type.choices).get(form.matter_type.data, ""),
                           **context)


def _confirm_first():
    if not current_user.contact_confirmed:
        flash(_("Confirm %(dest)s first: then you can submit a petition online.", dest=current_user.login),
              "warning")
        return redirect_to(url_for("accounts.confirm"))
    return None


@bp.route("/petitions/new", methods=["GET", "POST"])
@policy.requires("case.submit")
def submit_online():
    refused = _confirm_first()
    if refused is not None:
        return refused
    form = _online_form()
    if request.method == "GET":
        form.name.data = current_user.display_name
        form.phone.data = current_user.phone or ""
        return _render_online(form, 1, [])
    step = _step_number(form.step.data)
    pending, upload_error = _take_uploads(form)
    go = request.form.get("go", "next")
    context: dict = {}
    if upload_error:
        form.attachments.errors = [upload_error]
        step = 3
    elif request.form.getlist("remove_upload") or go == "upload":
        step = 3
    elif go == "back":
        step = max(1, step - 1)
    elif go == "submit" or step == len(STEPS):
        invalid = _first_invalid_step(form)
        if invalid is not None:
            step = invalid
        else:
            data = _online_data(form)
            try:
                case = intake.register_case(data, actor=current_user, decision=_decision(form),
                                            attachments=pending)
            except intake.DecisionNeeded as needed:
                db.session.rollback()
                context["findings"], step = needed.findings, len(STEPS)
                _decision_missing(form, needed.findings)
            except CaseError as error:
                db.session.rollback()
                step = _online_error_step(form, error)
                if step == len(STEPS):
                    context["findings"] = _findings_after_error(data)
            else:
                flash(_("Your petition is submitted as %(ref)s.", ref=case.reference), "success")
                return redirect_to(url_for("cases.acknowledgment", case_id=case.id))
    elif step < len(STEPS):
        if _validate_step(form, step):
            step += 1
    if step == len(STEPS) and "findings" not in context:
        invalid = _first_invalid_step(form)
        if invalid is not None:
            step = invalid
        else:
            data = _online_data(form)
            try:
                data = intake.check_petition(data, online=True)
            except CaseError as error:
                step = _online_error_step(form, error)
            else:
                context["findings"] = intake.find(data, current_user)
    form.step.data = str(step)
    return _render_online(form, step, pending, **context)


@bp.route("/petitions/new/check/<name>", methods=["POST"])
@policy.requires("case.submit")
def check_online_field(name):
    """Inline validation: the field's fragment, with its error if it has one."""
    if name not in INLINE_FIELDS:
        abort(404)
    form = _online_form()
    form[name].validate(form)
    return render_template("cases/intake/_field.html", f=form[name])


# --- acknowledgment --------------------------------------------------------------------------------------

def _routing_due(case):
    return next((c.due_on for c in case.clocks if c.kind == ClockKind.ROUTING), None)


@bp.route("/cases/<int:case_id>/acknowledgment")
@policy.requires("case.acknowledgment")
def acknowledgment(case_id):
    case = load_case(case_id, "case.acknowledgment")
    return render_template("cases/intake/acknowledgment.html", case=case, routing_due=_routing_due(case),
                           routing_days=rules.ROUTING_DAYS, acceptance_days=rules.ACCEPTANCE_NOTICE_DAYS)


@bp.route("/cases/<int:case_id>/acknowledgment.pdf")
@policy.requires("case.acknowledgment")
def acknowledgment_pdf(case_id):
    case = load_case(case_id, "case.acknowledgment")
    pdf = render_pdf("cases/pdf/acknowledgment.html", case=case, routing_due=_routing_due(case), printed_on=today(),
                     routing_days=rules.ROUTING_DAYS, acceptance_days=rules.ACCEPTANCE_NOTICE_DAYS,
                     query_url=external_url("cases.query"))
    response = make_response(pdf)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{case.reference}.pdf"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- personal data in full ---------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/petitioners/<int:petitioner_id>/reveal", methods=["POST"])
@policy.requires("case.view_personal")
def reveal_personal(case_id, petitioner_id):
    """Whole ID number and phone of one petitioner; every view goes into the audit trail."""
    case = load_case(case_id)
    policy.ensure("case.view_personal", case)
    petitioner = next((p for p in case.petitioners if p.id == petitioner_id), None)
    if petitioner is None:
        abort(404)
    record("case.personal_viewed", case, details={"petitioner_id": petitioner.id, "reference": case.reference})
    db.session.commit()
    if is_fragment():
        return render_template("cases/intake/_petitioner_row.html", case=case, p=petitioner, revealed={petitioner.id})
    return case_page(case, revealed={petitioner.id})


# --- public query page --------------------------------------------------------------------------------

def _query_limit():
    return current_app.config.get("PORTAL_QUERY_RATE_LIMIT", "10 per minute;100 per hour")


@bp.route("/query", methods=["GET", "POST"])
@policy.public
@limiter.limit(_query_limit, methods=["POST"])
def query():
    """Status and dates of a case for whoever holds its reference and query code; nothing personal."""
    form = QueryForm()
    status, searched = None, False
    if form.validate_on_submit():
        searched = True
        case = intake.find_by_query_code(form.reference.data, form.code.data)
        status = intake.public_status(case) if case is not None else None
    template = "cases/query_form.html" if is_fragment() else "cases/query.html"
    return render_template(template, form=form, status=status, searched=searched)
