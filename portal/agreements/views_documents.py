"""Routes of the sealed document: its status panel (polls itself while the PDF is generated), another try after a
failure, the copies (parties and the committee's archive only), and the admin page of the committees' signing
certificates and seal images.

Thin: load (404), check the policy (403), call documents.py, redirect after POST. A refused upload shows the page
again with the message at its field and changes nothing.
"""
from __future__ import annotations

from flask import abort, flash, make_response, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import policy
from portal.accounts.models import Department, DepartmentKind
from portal.extensions import db
from portal.forms import attach_error
from portal.htmx import add_vary, is_fragment, redirect_to

from . import bp, documents
from .forms_documents import CertificateForm, SealImageForm
from .models import Agreement, CommitteeCertificate, CommitteeSeal
from .services import AgreementError, agreement_url, load_agreement

CERTIFICATE_MAX_BYTES = 512 * 1024


def _load(agreement_id: int, permission: str) -> Agreement:
    agreement = load_agreement(agreement_id)
    if agreement is None:
        abort(404)
    policy.ensure(permission, agreement)
    return agreement


# --- the status panel, another try, the copies -----------------------------------------------------------------

@bp.app_template_global("agreement_seal_stalled")
def agreement_seal_stalled(agreement: Agreement) -> bool:
    """For the panel: a generation still running after documents.STALE_AFTER can be tried again."""
    return documents.sealing_stalled(agreement)


@bp.get("/agreements/<int:agreement_id>/document")
@policy.requires("agreement.view")
def document_panel(agreement_id: int):
    """The document's status: the fragment for htmx (it polls itself while the PDF is generated), else the page."""
    agreement = _load(agreement_id, "agreement.view")
    template = "agreements/documents/_panel.html" if is_fragment() else "agreements/documents/status.html"
    response = make_response(render_template(template, agreement=agreement, back_url=agreement_url(agreement.id)))
    response.headers["Cache-Control"] = "no-store"
    if is_fragment() and request.args.get("polling") and agreement.seal_status.value != "running":
        # The generation has ended while the page polled: the header, the signing and follow-up sections change
        # too, so the whole page is loaded again.
        response.headers["HX-Refresh"] = "true"
    return add_vary(response)


@bp.post("/agreements/<int:agreement_id>/document/retry")
@policy.requires("agreement.seal")
def document_retry(agreement_id: int):
    agreement = _load(agreement_id, "agreement.seal")
    try:
        documents.retry_sealing(agreement)
    except AgreementError as error:
        flash(error.message, "error")
    else:
        flash(_("The sealed PDF is being generated again."), "success")
    return redirect_to(agreement_url(agreement.id, "#agreement-document"))


@bp.get("/agreements/<int:agreement_id>/document.pdf")
@policy.requires("agreement.download")
def document_pdf(agreement_id: int):
    """A copy of the issued PDF, as an attachment named with the agreement's number; every download is audited."""
    agreement = _load(agreement_id, "agreement.download")
    path = documents.document_path(agreement)
    if path is None:
        abort(404)
    documents.record_download(agreement, current_user)
    response = send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=documents.download_name(agreement), max_age=0)
    response.headers["Cache-Control"] = "private, no-store"
    return response


# --- admin: certificates and seal images ----------------------------------------------------------------------

def _committee(committee_id: int) -> Department:
    committee = db.session.get(Department, committee_id)
    if committee is None or committee.kind != DepartmentKind.MEDIATION_COMMITTEE:
        abort(404)
    return committee


def _signing_page(forms: dict | None = None, status: int = 200):
    committees = list(db.session.scalars(
        select(Department).where(Department.kind == DepartmentKind.MEDIATION_COMMITTEE).order_by(Department.name)))
    certificates = {c.department_id: c for c in db.session.scalars(select(CommitteeCertificate))}
    seals = {s.department_id: s for s in db.session.scalars(select(CommitteeSeal))}
    forms = forms or {}
    rows = [{"committee": committee, "certificate": certificates.get(committee.id), "seal": seals.get(committee.id),
             "certificate_form": forms.get(("certificate", committee.id))
             or CertificateForm(prefix=f"cert{committee.id}", formdata=None),
             "seal_form": forms.get(("seal", committee.id)) or SealImageForm(prefix=f"seal{committee.id}",
                                                                             formdata=None)}
            for committee in committees]
    return make_response(render_template("admin/signing.html", rows=rows), status)


@bp.get("/admin/signing")
@policy.requires("admin.signing")
def admin_signing():
    return _signing_page()


@bp.post("/admin/signing/<int:committee_id>/certificate")
@policy.requires("admin.signing")
def admin_signing_certificate(committee_id: int):
    committee = _committee(committee_id)
    form = CertificateForm(prefix=f"cert{committee.id}")
    upload = form.file.data
    if form.validate():
        data = upload.stream.read(CERTIFICATE_MAX_BYTES + 1) if upload is not None and upload.filename else b""
        try:
            if len(data) > CERTIFICATE_MAX_BYTES:
                raise AgreementError(_("The file is larger than %(kb)d KB: a PKCS#12 file is much smaller.",
                                       kb=CERTIFICATE_MAX_BYTES // 1024), "file")
            row = documents.upload_certificate(committee, data, form.passphrase.data or "", current_user)
        except AgreementError as error:
            attach_error(form, error, "file")
        else:
            flash(_("The signing certificate of %(committee)s is configured: %(subject)s.",
                    committee=committee.name, subject=row.subject), "success")
            return redirect_to(url_for("agreements.admin_signing") + f"#committee-{committee.id}")
    form.passphrase.data = ""
    return _signing_page({("certificate", committee.id): form})


@bp.post("/admin/signing/<int:committee_id>/self-signed")
@policy.requires("admin.signing")
def admin_signing_self_signed(committee_id: int):
    committee = _committee(committee_id)
    documents.create_self_signed(committee, current_user)
    flash(_("%(committee)s has a signing certificate.", committee=committee.name), "success")
    return redirect_to(url_for("agreements.admin_signing") + f"#committee-{committee.id}")


@bp.post("/admin/signing/<int:committee_id>/seal")
@policy.requires("admin.signing")
def admin_signing_seal(committee_id: int):
    committee = _committee(committee_id)
    form = SealImageForm(prefix=f"seal{committee.id}")
    if form.validate():
        try:
            documents.upload_seal_image(committee, form.image.data, current_user)
        except AgreementError as error:
            attach_error(form, error, "image")
        else:
            flash(_("The seal image of %(committee)s is saved.", committee=committee.name), "success")
            return redirect_to(url_for("agreements.admin_signing") + f"#committee-{committee.id}")
    return _signing_page({("seal", committee.id): form})


@bp.get("/admin/signing/<int:committee_id>/seal-image")
@policy.requires("admin.signing")
def admin_signing_seal_image(committee_id: int):
    committee = _committee(committee_id)
    seal = documents.seal_of(committee.id)
    if seal is None:
        abort(404)
    from portal import uploads

    path = uploads.upload_folder() / seal.stored_name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=seal.content_type, as_attachment=True, download_name=seal.original_name,
                     max_age=0)
