"""Routes of signing an agreement: opening signing, the signer's page (code, drawn or typed signature, decline),
in-person signing on the mediator's device, the mediator's signature, the committee seal, reminders, and the
signing panel (included by the agreement page, or on its own page here).

Thin views: load the agreement (404), check the policy (403), let signing.py do the work, redirect after POST. A
refusal shows the page again with the message next to the field and changes nothing. Everything works as plain
forms; signature.js adds the signature pad.
"""
from __future__ import annotations

from flask import abort, current_app, flash, make_response, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, rules
from portal.extensions import limiter
from portal.forms import EmptyForm, attempt
from portal.htmx import add_vary, is_fragment, redirect_to

from . import bp
from . import signing as svc
from .forms_signing import DeclineForm, InPersonForm, SignForm
from .models import AgreementStatus, SignerRole
from .services import agreement_url as svc_agreement_url, current_version, signed_version

BASE = "/agreements/<int:agreement_id>"


def _code_limit():
    return current_app.config["PORTAL_CODE_RATE_LIMIT"]


def _load(agreement_id: int, permission: str):
    """The agreement (404) and the user's right to it (403)."""
    agreement = svc.load_for_signing(agreement_id)
    if agreement is None:
        abort(404)
    policy.ensure("agreement.view", agreement)
    policy.ensure(permission, agreement)
    return agreement



def _client() -> dict:
    return {"client_address": request.remote_addr or "", "user_agent": request.user_agent.string or ""}


def agreement_url(agreement, anchor: str = "#signing") -> str:
    return svc_agreement_url(agreement.id, anchor)


# --- the panel ----------------------------------------------------------------------------------------------

def panel(agreement, loaded: bool = False) -> dict:
    """What the signing panel shows to the current user: each required signer with its status, the hash, and the
    actions this user may take now."""
    if not loaded:
        svc.prepare(agreement)
    state = svc.signing_state(agreement)
    user = current_user
    signing = agreement.status == AgreementStatus.SIGNING
    own_party = policy.party_of(user, agreement.referral) if user.is_authenticated else None
    own = state.of_party(own_party)
    can = lambda permission: user.is_authenticated and policy.can(user, permission, agreement)  # noqa: E731
    drafting = agreement.status == AgreementStatus.DRAFTING
    missing = svc.missing_contents(current_version(agreement)) if drafting else []
    return {
        "state": state, "agreement": agreement, "signing": signing,
        "version": signed_version(agreement), "current_version": current_version(agreement),
        "can_open": can("agreement.draft") and drafting and current_version(agreement) is not None and not missing,
        "open_blocked": svc.missing_message(missing) if missing and current_version(agreement) is not None else "",
        "own": own,
        "can_sign": signing and state.step == "parties" and own is not None and own.state == "pending"
        and can("agreement.sign"),
        "can_in_person": signing and state.step == "parties" and bool(state.pending_parties)
        and can("agreement.in_person"),
        "can_sign_mediator": signing and state.step == "mediator" and can("agreement.sign_mediator"),
        "can_seal": signing and state.step == "seal" and can("agreement.seal"),
        "can_remind": signing and state.step == "parties" and can("agreement.draft"),
        "seal_missing": signing and state.step == "seal" and can("agreement.seal")
        and not svc.has_seal_image(agreement),
        "last_decline": svc.last_decline(agreement) if agreement.status == AgreementStatus.DRAFTING else None,
        "mediates": can("agreement.draft"),
    }


@bp.app_context_processor
def _signing_globals():
    return {"signing_panel": panel}


def _render_panel_page(agreement, forms=None, status=200):
    context = {"p": panel(agreement, loaded=True), "agreement": agreement, "forms": forms or {},
               "agreement_page": svc_agreement_url(agreement.id)}
    template = "agreements/signing/_panel_body.html" if is_fragment() else "agreements/signing/status.html"
    return add_vary(make_response(render_template(template, **context), status))


@bp.get(BASE + "/signing")
@policy.requires("agreement.view")
def signing(agreement_id: int):
    """The signing panel on its own page (htmx: the panel alone)."""
    agreement = _load(agreement_id, "agreement.view")
    return _render_panel_page(agreement)


@bp.post(BASE + "/signing/open")
@policy.requires("agreement.draft")
def signing_open(agreement_id: int):
    agreement = _load(agreement_id, "agreement.draft")
    form = EmptyForm()
    if not attempt(form, svc.open_signing, agreement, current_user):
        flash(form.form_errors[0], "error")
        return redirect_to(agreement_url(agreement))
    flash(_("Signing is open: the parties have been told. The text can no longer change without voiding the "
            "signatures."), "success")
    return redirect_to(agreement_url(agreement))


@bp.post(BASE + "/signing/remind")
@policy.requires("agreement.draft")
def signing_remind(agreement_id: int):
    agreement = _load(agreement_id, "agreement.draft")
    form = EmptyForm()
    result = {}

    def remind():
        result["n"] = svc.remind_now(agreement, current_user)

    if not attempt(form, remind):
        flash(form.form_errors[0], "error")
    elif result["n"]:
        flash(_("%(n)d pending signer(s) reminded.", n=result["n"]), "success")
    else:
        flash(_("Nobody was reminded: each pending signer with an account was reminded within the last %(days)d "
                "days.", days=rules.SIGNING_REMINDER_DAYS), "warning")
    return redirect_to(agreement_url(agreement))


# --- the signer's page ------------------------------------------------------------------------------------------

def _sign_page(agreement, role: SignerRole, forms=None, status=200):
    forms = forms or {}
    p = panel(agreement, loaded=True)
    version = signed_version(agreement)
    party = policy.party_of(current_user, agreement.referral) if role == SignerRole.PARTY else None
    sign_form = forms.get("sign") or SignForm(formdata=None)
    sign_form.document_hash.data = agreement.document_hash
    decline_form = forms.get("decline") or DeclineForm(formdata=None)
    decline_form.document_hash.data = agreement.document_hash
    if role == SignerRole.PARTY:
        signer = p["own"]
        may_sign = p["can_sign"]
        expected = svc.typed_names(party, current_user) if party is not None else []
        code_url = url_for("agreements.sign_code", agreement_id=agreement.id)
        sign_url = url_for("agreements.sign_submit", agreement_id=agreement.id)
    else:
        signer = p["state"].mediator
        may_sign = p["can_sign_mediator"]
        expected = svc.account_names(current_user)
        code_url = url_for("agreements.sign_mediator_code", agreement_id=agreement.id)
        sign_url = url_for("agreements.sign_mediator_submit", agreement_id=agreement.id)
    if expected:
        sign_form.typed_name.description = (
            _("Type exactly: %(name)s", name=expected[0]) if len(expected) == 1
            else _("Type your name as %(names)s.", names=svc.names_choice(expected)))
    context = {
        "p": p, "agreement": agreement, "version": version, "role": role.value, "party": party, "signer": signer,
        "may_sign": may_sign, "expected_names": expected, "sign_form": sign_form, "decline_form": decline_form,
        "code_url": code_url, "sign_url": sign_url, "code_form": forms.get("code") or EmptyForm(formdata=None),
        "preview_url": _preview_link(agreement),
        "agreement_page": svc_agreement_url(agreement.id), "parties": {x.id: x for x in agreement.referral.parties},
        "snapshot": _snapshot(version),
    }
    return add_vary(make_response(render_template("agreements/signing/sign.html", **context), status))


def _preview_link(agreement) -> str:
    """The draft preview, until the agreement is in effect (then the sealed copy is the document)."""
    if agreement.status == AgreementStatus.EFFECTIVE:
        return ""
    return url_for("agreements.preview", agreement_id=agreement.id)


def _snapshot(version) -> list[str]:
    """The parties as the signed version states them (art. 29 (1)): side, name and representative (whole ID
    numbers and phones stay in the document itself)."""
    import json

    from portal.mediation.models import PartySide

    if version is None:
        return []
    try:
        data = json.loads(version.parties_snapshot or "[]")
    except ValueError:
        return []
    rows = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            side = str(PartySide(item.get("side")).label)
        except ValueError:
            side = ""
        bits = [side, str(item.get("name") or "")]
        if item.get("representative"):
            bits.append(_("represented by %(name)s", name=item["representative"]))
        rows.append(" · ".join(b for b in bits if b))
    return rows


@bp.get(BASE + "/sign")
@policy.requires("agreement.sign")
def sign(agreement_id: int):
    agreement = _load(agreement_id, "agreement.sign")
    return _sign_page(agreement, SignerRole.PARTY)


def _send_code(agreement_id: int, permission: str, role: SignerRole, endpoint: str):
    agreement = _load(agreement_id, permission)
    form = EmptyForm()
    sent = {}

    def work():
        sent["to"] = svc.send_code(agreement, current_user, role)

    if not form.validate() or not attempt(form, work):
        if not form.form_errors and form.errors:
            form.form_errors.append(_("The form has expired. Reload the page and try again."))
        return _sign_page(agreement, role, {"code": form})
    flash(_("A code has been sent to %(to)s. Enter it below with your signature.", to=sent["to"]), "success")
    return redirect_to(url_for(endpoint, agreement_id=agreement.id) + "#sign-form")


@bp.post(BASE + "/sign/code")
@policy.requires("agreement.sign")
@limiter.limit(_code_limit)
def sign_code(agreement_id: int):
    return _send_code(agreement_id, "agreement.sign", SignerRole.PARTY, "agreements.sign")


@bp.post(BASE + "/sign/submit")
@policy.requires("agreement.sign")
def sign_submit(agreement_id: int):
    agreement = _load(agreement_id, "agreement.sign")
    form = SignForm()
    if not form.validate() or not attempt(form, svc.sign_as_party, agreement, current_user, code=form.code.data,
                                           image=form.signature.data, typed_name=form.typed_name.data,
                                           seen_hash=form.document_hash.data or "", **_client()):
        form.signature.data = ""
        return _sign_page(svc.load_for_signing(agreement_id), SignerRole.PARTY, {"sign": form})
    flash(_("Thank you: your signature is recorded."), "success")
    return redirect_to(url_for("agreements.sign", agreement_id=agreement.id))


@bp.post(BASE + "/decline")
@policy.requires("agreement.sign")
def decline(agreement_id: int):
    agreement = _load(agreement_id, "agreement.sign")
    form = DeclineForm()
    if not form.validate() or not attempt(form, svc.decline, agreement, current_user, reason=form.reason.data,
                                           **_client()):
        return _sign_page(svc.load_for_signing(agreement_id), SignerRole.PARTY, {"decline": form})
    flash(_("You declined to sign. The mediator and the other parties have been told; the agreement is back in "
            "drafting and the signatures collected are now void."), "success")
    return redirect_to(url_for("agreements.sign", agreement_id=agreement.id))


# --- the mediator -------------------------------------------------------------------------------------------

@bp.get(BASE + "/sign/mediator")
@policy.requires("agreement.sign_mediator")
def sign_mediator(agreement_id: int):
    agreement = _load(agreement_id, "agreement.sign_mediator")
    return _sign_page(agreement, SignerRole.MEDIATOR)


@bp.post(BASE + "/sign/mediator/code")
@policy.requires("agreement.sign_mediator")
@limiter.limit(_code_limit)
def sign_mediator_code(agreement_id: int):
    return _send_code(agreement_id, "agreement.sign_mediator", SignerRole.MEDIATOR, "agreements.sign_mediator")


@bp.post(BASE + "/sign/mediator/submit")
@policy.requires("agreement.sign_mediator")
def sign_mediator_submit(agreement_id: int):
    agreement = _load(agreement_id, "agreement.sign_mediator")
    form = SignForm()
    if not form.validate() or not attempt(form, svc.sign_as_mediator, agreement, current_user,
                                           code=form.code.data, image=form.signature.data,
                                           typed_name=form.typed_name.data,
                                           seen_hash=form.document_hash.data or "", **_client()):
        form.signature.data = ""
        return _sign_page(svc.load_for_signing(agreement_id), SignerRole.MEDIATOR, {"sign": form})
    flash(_("Your signature as mediator is recorded. The committee seal is next."), "success")
    return redirect_to(agreement_url(agreement))


@bp.post(BASE + "/seal")
@policy.requires("agreement.seal")
def seal(agreement_id: int):
    agreement = _load(agreement_id, "agreement.seal")
    form = EmptyForm()
    seen = request.form.get("document_hash")
    if not form.validate() or not attempt(form, svc.apply_seal, agreement, current_user, seen_hash=seen,
                                           **_client()):
        if not form.form_errors:
            form.form_errors.append(_("The form has expired. Reload the page and try again."))
        flash(form.form_errors[0], "error")
        return redirect_to(agreement_url(agreement))
    flash(_("The committee seal is applied: the agreement takes effect on %(date)s. The sealed PDF is being "
            "generated.", date=format_date(agreement.effective_on, "long")), "success")
    return redirect_to(agreement_url(agreement))


# --- in person ----------------------------------------------------------------------------------------------

def _in_person_page(agreement, form=None, status=200):
    p = panel(agreement, loaded=True)
    form = form or InPersonForm(formdata=None)
    pending = [s.party for s in p["state"].pending_parties]
    form.party.choices = [("", "—")] + [(party.id, party.name) for party in pending]
    if form.party.data is None and request.method == "GET":
        form.party.data = request.args.get("party", type=int)
    form.document_hash.data = agreement.document_hash
    form.typed_name.label.text = _("Or type the signer's full name")
    form.typed_name.description = _("A petitioner types the name as on the agreement; for a department, the name "
                                    "of the person signing.")
    version = signed_version(agreement)
    context = {"p": p, "agreement": agreement, "form": form, "pending": pending, "version": version,
               "preview_url": _preview_link(agreement),
               "agreement_page": svc_agreement_url(agreement.id), "snapshot": _snapshot(version),
               "parties": {x.id: x for x in agreement.referral.parties}}
    return add_vary(make_response(render_template("agreements/signing/in_person.html", **context), status))


@bp.get(BASE + "/sign/in-person")
@policy.requires("agreement.in_person")
def sign_in_person(agreement_id: int):
    agreement = _load(agreement_id, "agreement.in_person")
    return _in_person_page(agreement)


@bp.post(BASE + "/sign/in-person/submit")
@policy.requires("agreement.in_person")
def sign_in_person_submit(agreement_id: int):
    agreement = _load(agreement_id, "agreement.in_person")
    form = InPersonForm()
    if not form.validate() or not attempt(
            form, svc.sign_in_person, agreement, current_user, party_id=form.party.data, id_kind=form.id_kind.data,
            id_last4=form.id_last4.data, identity_confirmed=form.identity_confirmed.data,
            signer_name=form.signer_name.data, image=form.signature.data, typed_name=form.typed_name.data,
            seen_hash=form.document_hash.data or "", **_client()):
        form.signature.data = ""
        return _in_person_page(svc.load_for_signing(agreement_id), form)
    flash(_("The signature given in person is recorded, with the identity check."), "success")
    return redirect_to(url_for("agreements.sign_in_person", agreement_id=agreement.id))
