"""Routes for claiming a staff-registered case into the petitioner's account."""
from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import RadioField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from portal import policy
from portal.extensions import db, limiter
from portal.forms import REQUIRED, attach_error, int_or_none
from portal.htmx import redirect_to

from . import bp, claim
from .models import Case
from .services import CaseError


class ClaimForm(FlaskForm):
    reference = StringField(_l("Reference"), validators=[DataRequired(REQUIRED), Length(max=30)],
                            description=_l("As on your acknowledgment, e.g. YX-2026-000123."))
    query_code = StringField(_l("Query code"), validators=[DataRequired(REQUIRED), Length(max=20)])


class ClaimCodeForm(FlaskForm):
    petitioner = RadioField(_l("Who are you on this petition?"), coerce=int_or_none,
                            validators=[DataRequired(_l("Choose your name on the petition."))])
    code = StringField(_l("Code sent to that mobile number"),
                       validators=[Regexp(r"^\s*(\d{6})?\s*$", message=_l("Enter the 6 digits."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


def _claim_limit():
    from flask import current_app

    return current_app.config["PORTAL_CODE_RATE_LIMIT"]


@bp.route("/my/claim", methods=["GET", "POST"])
@policy.requires("case.claim")
@limiter.limit(_claim_limit, methods=["POST"])
def claim_start():
    form = ClaimForm()
    if form.validate_on_submit():
        try:
            case = claim.find_claimable(current_user, form.reference.data, form.query_code.data)
        except CaseError as error:
            attach_error(form, error)
        else:
            session["claim_case_id"] = case.id
            return redirect_to(url_for("cases.claim_code"))
    return render_template("cases/claim/start.html", form=form)


@bp.route("/my/claim/code", methods=["GET", "POST"])
@policy.requires("case.claim")
@limiter.limit(_claim_limit, methods=["POST"])
def claim_code():
    case = db.session.get(Case, session.get("claim_case_id") or 0)
    if case is None:
        return redirect(url_for("cases.claim_start"))
    form = ClaimCodeForm()
    form.petitioner.choices = claim.choices(case)
    if form.validate_on_submit():
        try:
            if not (form.code.data or "").strip():
                person = claim.send_claim_code(current_user, case, form.petitioner.data)
                flash(_("A code is on its way to the mobile number on file for %(name)s.", name=person.name), "info")
                return render_template("cases/claim/code.html", form=form, case=case, sent=True)
            claim.confirm_claim(current_user, case, form.petitioner.data, form.code.data)
        except CaseError as error:
            attach_error(form, error)
        else:
            session.pop("claim_case_id", None)
            flash(_("Petition %(ref)s is now in your account.", ref=case.reference), "success")
            return redirect_to(url_for("cases.detail", case_id=case.id))
    return render_template("cases/claim/code.html", form=form, case=case, sent=bool(form.code.data))
