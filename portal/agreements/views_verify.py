"""The public verification page: upload the agreement's PDF or enter its short code; the QR code on the document
opens /verify/<code>. Public and rate-limited per client address; nothing uploaded is kept."""
from __future__ import annotations

from flask import current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _

from portal import policy
from portal.extensions import db, limiter
from portal.forms import attach_error
from portal.htmx import add_vary, is_fragment

from . import bp, verification
from .forms_follow_up import VerifyForm
from .services import AgreementError


def _verify_limit():
    return current_app.config.get("PORTAL_VERIFY_RATE_LIMIT", "10 per minute;100 per hour")


def _render(form, check=None, by_code=None, code_searched=False, status=200):
    context = {"form": form, "check": check, "by_code": by_code, "code_searched": code_searched}
    template = "agreements/verify/_result.html" if is_fragment() else "agreements/verify/page.html"
    return add_vary(make_response(render_template(template, **context), status))


@bp.route("/verify", methods=["GET", "POST"])
@policy.public
@limiter.limit(_verify_limit, methods=["POST"])
def verify():
    form = VerifyForm()
    if request.method == "GET":
        return _render(form)
    if not form.validate_on_submit():
        return _render(form)
    upload = form.document.data
    if upload is not None and getattr(upload, "filename", ""):
        try:
            data = verification.read_upload(upload)
        except AgreementError as error:
            attach_error(form, error)
            return _render(form)
        check = verification.check_file(data)
        db.session.rollback()  # read only
        return _render(form, check=check)
    code = verification.normalise_code(form.code.data)
    if not code:
        form.form_errors.append(_("Choose the PDF file of the agreement, or enter the code."))
        return _render(form)
    if is_fragment():
        return verify_result_by_code(form, form.code.data)
    return redirect(url_for("agreements.verify_code", code=code), 303)


def verify_result_by_code(form, code: str):
    agreement = verification.find_by_code(code)
    by_code = verification.facts(agreement) if agreement is not None else None
    return _render(form, by_code=by_code, code_searched=True)


@bp.route("/verify/<code>")
@policy.public
@limiter.limit(_verify_limit)
def verify_code(code):
    """The QR link: the same facts as the code form (no file comparison)."""
    form = VerifyForm(formdata=None)
    form.code.data = code
    agreement = verification.find_by_code(code)
    by_code = verification.facts(agreement) if agreement is not None else None
    response = _render(form, by_code=by_code, code_searched=True, status=200 if by_code else 404)
    response.headers["Cache-Control"] = "no-store"
    return response
