"""Signing a mediation agreement (调解协议书): the work, without the request.

* open_signing() fixes the text: the current version's number and the sha256 of its document
  (drafting.document_hash) are what everyone signs; every party and the mediators are told.
* Order (People's Mediation Law art. 29 / DOMAIN.md): all parties, in parallel (a petitioner from their own account,
  a department through one of its representatives, or either in person on the mediator's device after an ID
  check) → a mediator assigned to the matter → the committee seal, which fixes the effective date and starts the
  sealed PDF (documents.start_sealing).
* Online signatures are confirmed with a one-time code sent to the signer; the mark is a drawn signature (PNG from
  the signature pad) or, without JavaScript, the typed name. Time, client address, user agent and the signed hash
  are kept on the signature.
* decline() records the refusal with its reason and returns the agreement to drafting (every signature void).
* remind_pending_signers() reminds each pending signer at most once per rules.SIGNING_REMINDER_DAYS.

Every change writes the audit trail and commits through @atomic; a refusal raises AgreementError (translated)
before anything changes.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, has_request_context
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import flag_modified

from portal import policy, rules, timeutil
from portal.accounts.models import Role, User
from portal.audit.services import record as audit
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.mediation.models import MediationParty, MediationReferral
from portal.text import list_separator

from . import documents
from .drafting import document_hash
from .models import (
    Agreement,
    AgreementReminder,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    CommitteeSeal,
    SignatureMark,
    SignatureMethod,
    SignatureStatus,
    SignerRole,
)
from .services import AgreementError, atomic, current_version, live_signatures, signed_version, void_signatures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_SIGNATURE_PIXELS = 4_000_000  # a drawn signature is a few hundred pixels a side; refuse decompression bombs
REASON_MAX = 2000
NAME_MAX = 100
CODE_PURPOSE = "agreement-sign-{id}"

# Identity documents a mediator checks before an in-person signature: kind -> (the words kept on the signature and
# printed on the Chinese document, the label of the form). Only the kind and the last four characters are kept.
ID_KINDS = {
    "resident_id": ("居民身份证", _l("Resident identity card")),
    "passport": ("护照", _l("Passport")),
    "hk_macau_taiwan": ("港澳台居民居住证/通行证", _l("Hong Kong, Macao or Taiwan residence permit or travel permit")),
    "other": ("其他有效证件", _l("Other valid identity document")),
}


# --- what the text must contain -------------------------------------------------------------------------

def missing_contents(version: AgreementVersion | None) -> list[str]:
    """What the version still lacks of the contents People's Mediation Law art. 29 requires (main facts, disputed
    matters, each party's responsibility, at least one obligation), as translated phrases; empty when complete."""
    if version is None:
        return [_("a saved draft")]
    missing = []
    if not (version.facts or "").strip():
        missing.append(_("the main facts"))
    if not (version.disputes or "").strip():
        missing.append(_("the disputed matters"))
    if not (version.responsibilities or "").strip():
        missing.append(_("each party's responsibility"))
    if not version.obligations:
        missing.append(_("at least one obligation"))
    return missing


def missing_message(missing: list[str]) -> str:
    return _("The agreement cannot be signed yet: it lacks %(missing)s. Add them in a new version first.",
             missing=_("; ").join(missing))


# --- loading --------------------------------------------------------------------------------------------

def load_for_signing(agreement_id: int) -> Agreement | None:
    """The agreement with everything the signing pages read (matter, committee, case, parties with their
    petitioner and department, mediators, versions with obligations, signatures), in a fixed number of queries."""
    referral = selectinload(Agreement.referral)
    return db.session.scalar(
        select(Agreement).where(Agreement.id == agreement_id).options(
            referral.selectinload(MediationReferral.parties).selectinload(MediationParty.petitioner),
            referral.selectinload(MediationReferral.parties).selectinload(MediationParty.department),
            referral.selectinload(MediationReferral.mediators),
            referral.selectinload(MediationReferral.committee),
            referral.selectinload(MediationReferral.case),
            selectinload(Agreement.versions).selectinload(AgreementVersion.obligations),
            selectinload(Agreement.signatures).selectinload(AgreementSignature.identity_checked_by)))


def prepare(agreement: Agreement) -> Agreement:
    """Load, in a fixed number of queries, what the signing panel reads of an agreement another page loaded
    (its parties' petitioners and departments, the committee, who checked an identity)."""
    matter = agreement.referral
    db.session.scalars(select(MediationParty).where(MediationParty.referral_id == matter.id).options(
        selectinload(MediationParty.petitioner), selectinload(MediationParty.department))).all()
    db.session.scalars(select(AgreementSignature).where(AgreementSignature.agreement_id == agreement.id).options(
        selectinload(AgreementSignature.identity_checked_by))).all()
    return agreement


# --- who signs ------------------------------------------------------------------------------------------

def parties_to_sign(agreement: Agreement) -> list[MediationParty]:
    """Every party whose consent stands signs (withdrawn parties are out of the matter)."""
    return [p for p in agreement.referral.parties if p.withdrawn_on is None]


@dataclass
class Signer:
    """One required signature and where it stands: pending, signed or declined."""

    role: SignerRole
    name: str
    party: MediationParty | None = None
    signature: AgreementSignature | None = None
    has_account: bool = True  # a petitioner registered by staff without an account signs in person

    @property
    def key(self) -> str:
        return f"party:{self.party.id}" if self.party is not None else self.role.value

    @property
    def state(self) -> str:
        if self.signature is None:
            return "pending"
        return self.signature.status.value


@dataclass
class SigningState:
    agreement: Agreement
    parties: list[Signer] = field(default_factory=list)
    mediator: Signer | None = None
    committee: Signer | None = None

    @property
    def signers(self) -> list[Signer]:
        return [*self.parties, self.mediator, self.committee]

    @property
    def parties_done(self) -> bool:
        return bool(self.parties) and all(s.state == "signed" for s in self.parties)

    @property
    def mediator_done(self) -> bool:
        return self.mediator.state == "signed"

    @property
    def sealed(self) -> bool:
        return self.committee.state == "signed"

    @property
    def step(self) -> str:
        """What signing waits for: parties, mediator, seal, or done (none while drafting)."""
        if self.agreement.status == AgreementStatus.DRAFTING:
            return "none"
        if not self.parties_done:
            return "parties"
        if not self.mediator_done:
            return "mediator"
        if not self.sealed:
            return "seal"
        return "done"

    @property
    def pending_parties(self) -> list[Signer]:
        return [s for s in self.parties if s.state == "pending"]

    def of_party(self, party: MediationParty | None) -> Signer | None:
        return next((s for s in self.parties if party is not None and s.party.id == party.id), None)


def signing_state(agreement: Agreement) -> SigningState:
    """The required signers of the agreement with their live signature (or refusal) on the current hash."""
    live = live_signatures(agreement) if agreement.status != AgreementStatus.DRAFTING else []
    by_party = {s.party_id: s for s in live if s.role == SignerRole.PARTY}
    state = SigningState(agreement)
    for party in parties_to_sign(agreement):
        has_account = party.department_id is not None or (party.petitioner is not None
                                                          and party.petitioner.user_id is not None)
        state.parties.append(Signer(SignerRole.PARTY, party.name, party, by_party.get(party.id), has_account))
    state.mediator = Signer(SignerRole.MEDIATOR, _l("Mediator"),
                            signature=next((s for s in live if s.role == SignerRole.MEDIATOR), None))
    state.committee = Signer(SignerRole.COMMITTEE, agreement.referral.committee.name,
                             signature=next((s for s in live if s.role == SignerRole.COMMITTEE), None))
    return state


def last_decline(agreement: Agreement) -> AgreementSignature | None:
    """The refusal that last sent the agreement back to drafting (shown to the mediator while drafting)."""
    declined = [s for s in agreement.signatures if s.status == SignatureStatus.DECLINED]
    return declined[-1] if declined else None


def has_seal_image(agreement: Agreement) -> bool:
    return db.session.get(CommitteeSeal, agreement.referral.committee_id) is not None


def code_purpose(agreement: Agreement) -> str:
    return CODE_PURPOSE.format(id=agreement.id)


# --- checks ---------------------------------------------------------------------------------------------

def _ensure_signing(agreement: Agreement) -> None:
    if agreement.status == AgreementStatus.DRAFTING:
        raise AgreementError(_("Signing has not been opened: the text is still being drafted."))
    if agreement.status != AgreementStatus.SIGNING:
        raise AgreementError(_("All signatures and the seal are in: the agreement can no longer be signed."))


def _ensure_same_text(agreement: Agreement, seen_hash: str | None) -> None:
    """The signer signs the text they read: a change since their page was loaded is refused."""
    if seen_hash is not None and seen_hash != agreement.document_hash:
        raise AgreementError(_("The text has changed since you opened this page. Read it again before signing."))


def _lock(agreement: Agreement) -> Agreement:
    """Re-read the agreement under a row lock (PostgreSQL; SQLite writes take turns), so that two signers acting
    at once see each other, and mark it changed so its version rises."""
    db.session.execute(select(Agreement.id).where(Agreement.id == agreement.id).with_for_update())
    db.session.refresh(agreement, ["status", "document_hash", "signing_version", "version"])
    db.session.expire(agreement, ["signatures"])
    flag_modified(agreement, "document_hash")
    return agreement


def _clean(value: str | None) -> str:
    return re.sub(r"\s+", " ", (value or "").strip())


def _signed_by(agreement: Agreement, party: MediationParty) -> AgreementSignature | None:
    return next((s for s in live_signatures(agreement) if s.role == SignerRole.PARTY and s.party_id == party.id),
                None)


def _party_of_agreement(agreement: Agreement, party_id) -> MediationParty:
    party = next((p for p in parties_to_sign(agreement) if party_id is not None and p.id == party_id), None)
    if party is None:
        raise AgreementError(_("Choose a party of this agreement."), "party")
    return party


def signature_png(data_url: str | None) -> bytes | None:
    """The drawn signature from the signature pad's data URL, checked: a real PNG that decodes, not larger than
    rules.SIGNATURE_IMAGE_MAX_BYTES, not blank. Returns it re-encoded (no foreign chunks), or None when empty."""
    data_url = (data_url or "").strip()
    if not data_url:
        return None
    prefix = "data:image/png;base64,"
    limit = rules.SIGNATURE_IMAGE_MAX_BYTES
    if not data_url.startswith(prefix):
        raise AgreementError(_("The drawn signature is not a PNG image. Draw it again."), "signature")
    if len(data_url) > len(prefix) + (limit * 4) // 3 + 8:
        raise AgreementError(_("The drawn signature is too large (at most %(kb)d KB).", kb=limit // 1024),
                             "signature")
    try:
        data = base64.b64decode(data_url[len(prefix):], validate=True)
    except (binascii.Error, ValueError):
        raise AgreementError(_("The drawn signature could not be read. Draw it again."), "signature") from None
    if len(data) > limit:
        raise AgreementError(_("The drawn signature is too large (at most %(kb)d KB).", kb=limit // 1024),
                             "signature")
    if not data.startswith(PNG_SIGNATURE):
        raise AgreementError(_("The drawn signature is not a PNG image. Draw it again."), "signature")
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "PNG":
                raise AgreementError(_("The drawn signature is not a PNG image. Draw it again."), "signature")
            width, height = image.size
            if not (0 < width * height <= MAX_SIGNATURE_PIXELS):
                raise AgreementError(_("The drawn signature has an unusual size. Draw it again."), "signature")
            image.load()
            rgba = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise AgreementError(_("The drawn signature could not be read. Draw it again."), "signature") from None
    extrema = rgba.getextrema()
    alpha_max = extrema[3][1]
    if alpha_max == 0 or all(low == high for low, high in extrema):
        raise AgreementError(_("The signature box is empty: draw your signature, or type your name."), "signature")
    out = io.BytesIO()
    rgba.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _mark(image_data_url: str | None, typed_name: str | None,
          expected: list[str]) -> tuple[SignatureMark, bytes | None, str]:
    """The signature mark: a drawn image, or a typed name that must match one of `expected`."""
    image = signature_png(image_data_url)
    if image is not None:
        return SignatureMark.DRAWN, image, ""
    typed = _clean(typed_name)
    if not typed:
        raise AgreementError(_("Draw your signature, or type your full name."), "typed_name")
    wanted = _unique(expected)
    if typed.casefold() not in {name.casefold() for name in wanted}:
        if len(wanted) == 1:
            raise AgreementError(_("The typed name must be exactly: %(name)s.", name=wanted[0]), "typed_name")
        raise AgreementError(_("The typed name must be %(names)s.", names=names_choice(wanted)), "typed_name")
    return SignatureMark.TYPED, None, typed[:NAME_MAX]


_SUFFIX = re.compile(r"\s*[(（][^()（）]*[)）]\s*$")


def _unique(names) -> list[str]:
    result: list[str] = []
    for name in names:
        name = _clean(name)
        if name and name.casefold() not in {n.casefold() for n in result}:
            result.append(name)
    return result


def names_choice(names: list[str]) -> str:
    """"A", "either A or B", "either A, B or C": the names a typed signature may read, for hints and messages."""

    quoted = [f"“{name}”" for name in names]
    if len(quoted) <= 1:
        return "".join(quoted)
    return _("either %(names)s or %(last)s", names=list_separator().join(quoted[:-1]), last=quoted[-1])


def account_names(user: User | None) -> list[str]:
    """The signer's account display name, and that name without a trailing suffix in brackets (full- or
    half-width), e.g. "李代表（人社局）" -> "李代表"."""
    if user is None or not user.display_name:
        return []
    name = _clean(user.display_name)
    return _unique([name, _SUFFIX.sub("", name)])


def typed_names(party: MediationParty, user: User | None) -> list[str]:
    """Names a typed signature may read: the party's name, the signer's account display name and that name
    without a bracketed suffix."""
    return _unique([party.name, *account_names(user)])


def _check_code(user: User, agreement: Agreement, code: str | None) -> None:
    from portal.accounts.services import AccountError, check_code

    if not (code or "").strip():
        raise AgreementError(_("Enter the code we sent you."), "code")
    try:
        check_code(user, code_purpose(agreement), code)
    except AccountError as error:
        raise AgreementError(error.message if hasattr(error, "message") else str(error), "code") from None


def _details(signature: AgreementSignature) -> dict:
    return {"role": signature.role.value, "party": signature.party_id, "department": signature.department_id,
            "signer": signature.signer_name, "status": signature.status.value,
            "method": signature.method.value, "mark": signature.mark.value if signature.mark else None,
            "image_sha256": hashlib.sha256(signature.image_png).hexdigest() if signature.image_png else None,
            "document_hash": signature.document_hash, "identity_checked_by": signature.identity_checked_by_id,
            "identity_document": signature.identity_document}


# --- messages -------------------------------------------------------------------------------------------

def _link(endpoint: str, **values) -> str:
    """An absolute link for a message (empty outside a request unless PORTAL_BASE_URL is configured)."""
    if has_request_context() or current_app.config.get("PORTAL_BASE_URL"):
        try:
            return external_url(endpoint, **values)
        except RuntimeError:
            return ""
    return ""


def party_users(agreement: Agreement, parties: list[MediationParty] | None = None) -> dict[int, list[User]]:
    """Accounts that speak for each party: the petitioner's own account, the active representatives of a party
    department (one query)."""
    parties = parties_to_sign(agreement) if parties is None else parties
    user_ids = {p.petitioner.user_id for p in parties if p.petitioner is not None and p.petitioner.user_id}
    department_ids = {p.department_id for p in parties if p.department_id}
    if not user_ids and not department_ids:
        return {p.id: [] for p in parties}
    condition = User.id.in_(user_ids) if user_ids else None
    reps = (User.role == Role.DEPARTMENT_REP) & User.department_id.in_(department_ids) if department_ids else None
    where = condition if reps is None else reps if condition is None else condition | reps
    users = list(db.session.scalars(select(User).where(User.active.is_(True), where).order_by(User.id)))
    result = {}
    for party in parties:
        if party.department_id is not None:
            result[party.id] = [u for u in users if u.role == Role.DEPARTMENT_REP
                                and u.department_id == party.department_id]
        elif party.petitioner is not None and party.petitioner.user_id:
            result[party.id] = [u for u in users if u.id == party.petitioner.user_id]
        else:
            result[party.id] = []
    return result


def mediator_users(agreement: Agreement) -> list[User]:
    ids = [m.user_id for m in agreement.referral.mediators]
    if not ids:
        return []
    return list(db.session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.id)))


def _tell(users, compose, link: str = "") -> int:
    """compose() -> (subject, body) in each user's language; each user once."""
    sent, seen = 0, set()
    for user in users:
        if user.id in seen or not user.login:
            continue
        seen.add(user.id)
        with force_locale(user.locale or "zh_CN"):
            subject, body = compose()
        if link:
            body += "\n\n" + link
        send_message(user.login, subject, body)
        sent += 1
    return sent


def _title(agreement: Agreement) -> str:
    return _("agreement %(number)s (case %(reference)s)", number=agreement.number,
             reference=agreement.referral.case.reference)


# --- opening signing ------------------------------------------------------------------------------------

@atomic
def open_signing(agreement: Agreement, actor: User) -> None:
    """The mediator fixes the text of the current version and opens signing."""
    _lock(agreement)
    if agreement.status != AgreementStatus.DRAFTING:
        raise AgreementError(_("Signing is already open for this agreement."))
    version = current_version(agreement)
    if version is None:
        raise AgreementError(_("Save a draft of the agreement before opening signing."))
    missing = missing_contents(version)
    if missing:
        raise AgreementError(missing_message(missing))
    if not parties_to_sign(agreement):
        raise AgreementError(_("The agreement has no parties to sign it."))
    agreement.signing_version = version.number
    agreement.document_hash = document_hash(version)
    agreement.signing_opened_at = timeutil.utcnow()
    agreement.status = AgreementStatus.SIGNING
    title = _title(agreement)
    users = party_users(agreement)
    sign_link = _link("agreements.sign", agreement_id=agreement.id)
    told = _tell([u for group in users.values() for u in group], lambda: (
        _("Please sign %(title)s", title=_title(agreement)),
        _("The text of %(title)s is fixed and open for signing. Sign in to the portal to read it, then sign it or "
          "decline with a reason; the signing page shows its document fingerprint. Once it is in effect, a copy "
          "can be checked at %(url)s with the code %(code)s.",
          title=_title(agreement), url=_link("agreements.verify") or "/verify",
          code=agreement.verification_code)), sign_link)
    told += _tell(mediator_users(agreement), lambda: (
        _("Signing opened: %(title)s", title=_title(agreement)),
        _("Signing of %(title)s is open (version %(version)d). The parties sign first, then a mediator, then the "
          "committee seal.", title=_title(agreement), version=version.number)),
        _link("agreements.agreement", agreement_id=agreement.id))
    audit("agreement.signing_opened", agreement, actor=actor,
          details={"number": agreement.number, "title": title, "version": version.number,
                   "document_hash": agreement.document_hash, "told": told})


# --- codes ----------------------------------------------------------------------------------------------

@atomic
def send_code(agreement: Agreement, user: User, role: SignerRole = SignerRole.PARTY) -> str:
    """Send a one-time code to the signer (e-mail, or text message to the phone; the outbox without a mail
    server). Returns where it went."""
    from portal.accounts.services import issue_code

    _ensure_signing(agreement)
    state = signing_state(agreement)
    if role == SignerRole.PARTY:
        party = policy.party_of(user, agreement.referral)
        signer = state.of_party(party)
        if signer is None:
            raise AgreementError(_("You do not sign this agreement for any party."))
        if signer.state != "pending":
            raise AgreementError(_("%(name)s has already signed this agreement.", name=party.name))
    else:
        if not state.parties_done:
            raise AgreementError(_("The mediator signs after every party has signed."))
        if state.mediator_done:
            raise AgreementError(_("A mediator has already signed this agreement."))
    destination = user.email or user.phone
    if not destination:
        raise AgreementError(_("Your account has no e-mail address or mobile number to send a code to."))
    issue_code(user, code_purpose(agreement), lambda code, minutes: (
        _("Your signing code"),
        _("Your code to sign %(title)s is %(code)s. It is valid for %(minutes)d minutes. If you did not ask for "
          "it, ignore this message.", title=_title(agreement), code=code, minutes=minutes)))
    return destination


# --- party signatures -----------------------------------------------------------------------------------

@atomic
def sign_as_party(agreement: Agreement, user: User, *, code: str | None, image: str | None, typed_name: str | None,
                  seen_hash: str | None, client_address: str = "", user_agent: str = "") -> AgreementSignature:
    """A party signs from its own account (a department through one of its representatives, on its behalf),
    confirming with the one-time code."""
    _lock(agreement)
    _ensure_signing(agreement)
    _ensure_same_text(agreement, seen_hash)
    party = policy.party_of(user, agreement.referral)
    if party is None or party.withdrawn_on is not None:
        raise AgreementError(_("You do not sign this agreement for any party."))
    if _signed_by(agreement, party) is not None:
        raise AgreementError(_("%(name)s has already signed this agreement.", name=party.name))
    mark, png, typed = _mark(image, typed_name, typed_names(party, user))
    _check_code(user, agreement, code)
    signature = AgreementSignature(
        role=SignerRole.PARTY, party_id=party.id, user_id=user.id, department_id=party.department_id,
        signer_name=user.display_name if party.department_id else party.name, status=SignatureStatus.SIGNED,
        method=SignatureMethod.ONLINE, mark=mark, image_png=png, typed_name=typed,
        document_hash=agreement.document_hash, client_address=(client_address or "")[:64],
        user_agent=(user_agent or "")[:300], signed_at=timeutil.utcnow())
    agreement.signatures.append(signature)
    audit("agreement.signed", agreement, actor=user, details=_details(signature))
    _after_party_signature(agreement)
    return signature


@atomic
def sign_in_person(agreement: Agreement, mediator: User, *, party_id, id_kind: str | None, id_last4: str | None,
                   identity_confirmed: bool, signer_name: str | None, image: str | None, typed_name: str | None,
                   seen_hash: str | None, client_address: str = "", user_agent: str = "") -> AgreementSignature:
    """A party signs on the mediator's device after the mediator checked their identity document (kind and last
    four characters kept). The way for a petitioner registered by staff without an account."""
    _lock(agreement)
    _ensure_signing(agreement)
    _ensure_same_text(agreement, seen_hash)
    party = _party_of_agreement(agreement, party_id)
    if _signed_by(agreement, party) is not None:
        raise AgreementError(_("%(name)s has already signed this agreement.", name=party.name), "party")
    if id_kind not in ID_KINDS:
        raise AgreementError(_("Choose the kind of identity document you checked."), "id_kind")
    last4 = (id_last4 or "").strip().upper()
    if not re.fullmatch(r"[0-9A-Z]{4}", last4):
        raise AgreementError(_("Enter the last four characters of the document number (digits, or X)."),
                             "id_last4")
    on_file = (party.petitioner.id_number or "").strip().upper() if party.petitioner is not None else ""
    if len(on_file) >= 4 and on_file[-4:] != last4:
        raise AgreementError(_("These last four characters do not match the ID number on file for %(name)s. Check "
                               "the document again.", name=party.name), "id_last4")
    if not identity_confirmed:
        raise AgreementError(_("Confirm that you checked the document in person and that it matches the party."),
                             "identity_confirmed")
    if party.department_id is not None:
        name = _clean(signer_name)
        if not name:
            raise AgreementError(_("Enter the name of the person signing for the department."), "signer_name")
        if len(name) > NAME_MAX:
            raise AgreementError(_("Use at most %(n)d characters.", n=NAME_MAX), "signer_name")
    else:
        name = party.name
    mark, png, typed = _mark(image, typed_name, [name])
    user_id = party.petitioner.user_id if party.petitioner is not None else None
    signature = AgreementSignature(
        role=SignerRole.PARTY, party_id=party.id, user_id=user_id, department_id=party.department_id,
        signer_name=name, status=SignatureStatus.SIGNED, method=SignatureMethod.IN_PERSON, mark=mark, image_png=png,
        typed_name=typed, identity_checked_by_id=mediator.id,
        identity_document=f"{ID_KINDS[id_kind][0]} ****{last4}", document_hash=agreement.document_hash,
        client_address=(client_address or "")[:64], user_agent=(user_agent or "")[:300],
        signed_at=timeutil.utcnow())
    agreement.signatures.append(signature)
    audit("agreement.signed", agreement, actor=mediator, details=_details(signature))
    _after_party_signature(agreement)
    return signature


def _after_party_signature(agreement: Agreement) -> None:
    """When the last party has signed, the mediators are told it is their turn."""
    if signing_state(agreement).parties_done:
        _tell(mediator_users(agreement), lambda: (
            _("All parties have signed: %(title)s", title=_title(agreement)),
            _("Every party has signed %(title)s. A mediator signs next, then the committee seal is applied.",
              title=_title(agreement))), _link("agreements.sign_mediator", agreement_id=agreement.id))


# --- declining ------------------------------------------------------------------------------------------

@atomic
def decline(agreement: Agreement, user: User, *, reason: str | None, seen_hash: str | None = None,
            client_address: str = "", user_agent: str = "") -> AgreementSignature:
    """A party declines to sign, with its reason: the refusal is kept, every signature collected is void and the
    agreement goes back to drafting; the mediators and the other parties are told."""
    _lock(agreement)
    _ensure_signing(agreement)
    party = policy.party_of(user, agreement.referral)
    if party is None or party.withdrawn_on is not None:
        raise AgreementError(_("You do not sign this agreement for any party."))
    if _signed_by(agreement, party) is not None:
        raise AgreementError(_("%(name)s has already signed this agreement.", name=party.name))
    reason = (reason or "").strip()
    if not reason:
        raise AgreementError(_("Say why you decline to sign: the mediator reads it before revising the text."),
                             "reason")
    if len(reason) > REASON_MAX:
        raise AgreementError(_("Use at most %(n)d characters.", n=REASON_MAX), "reason")
    signature = AgreementSignature(
        role=SignerRole.PARTY, party_id=party.id, user_id=user.id, department_id=party.department_id,
        signer_name=user.display_name if party.department_id else party.name, status=SignatureStatus.DECLINED,
        decline_reason=reason, method=SignatureMethod.ONLINE, mark=None, document_hash=agreement.document_hash,
        client_address=(client_address or "")[:64], user_agent=(user_agent or "")[:300],
        signed_at=timeutil.utcnow())
    agreement.signatures.append(signature)
    db.session.flush()
    hash_declined, title = agreement.document_hash, _title(agreement)
    voided = void_signatures(agreement)
    others = [u for pid, group in party_users(agreement).items() if pid != party.id for u in group]
    told = _tell(mediator_users(agreement), lambda: (
        _("Signing declined: %(title)s", title=_title(agreement)),
        _("%(name)s declined to sign %(title)s. Reason: %(reason)s\nThe agreement is back in drafting and the "
          "signatures collected are void.", name=party.name, title=_title(agreement), reason=reason)),
        _link("agreements.agreement", agreement_id=agreement.id))
    told += _tell(others, lambda: (
        _("Signing stopped: %(title)s", title=_title(agreement)),
        _("%(name)s declined to sign %(title)s. Reason: %(reason)s\nThe mediator will revise the text; the "
          "signatures collected so far are now void and everyone signs the new text again.", name=party.name,
          title=_title(agreement), reason=reason)), _link("agreements.agreement", agreement_id=agreement.id))
    audit("agreement.declined", agreement, actor=user,
          details={"title": title, "party": party.id, "name": party.name, "reason": reason,
                   "document_hash": hash_declined, "voided": [s.id for s in voided if s is not signature],
                   "told": told})
    return signature


# --- the mediator and the seal --------------------------------------------------------------------------

@atomic
def sign_as_mediator(agreement: Agreement, user: User, *, code: str | None, image: str | None,
                     typed_name: str | None, seen_hash: str | None, client_address: str = "",
                     user_agent: str = "") -> AgreementSignature:
    """A mediator assigned to the matter signs after every party, confirming with the one-time code."""
    _lock(agreement)
    _ensure_signing(agreement)
    _ensure_same_text(agreement, seen_hash)
    if not any(m.user_id == user.id for m in agreement.referral.mediators):
        raise AgreementError(_("Only a mediator assigned to this matter signs the agreement."))
    state = signing_state(agreement)
    if not state.parties_done:
        raise AgreementError(_("The mediator signs after every party has signed."))
    if state.mediator_done:
        raise AgreementError(_("A mediator has already signed this agreement."))
    mark, png, typed = _mark(image, typed_name, account_names(user))
    _check_code(user, agreement, code)
    signature = AgreementSignature(
        role=SignerRole.MEDIATOR, user_id=user.id, signer_name=user.display_name, status=SignatureStatus.SIGNED,
        method=SignatureMethod.ONLINE, mark=mark, image_png=png, typed_name=typed,
        document_hash=agreement.document_hash, client_address=(client_address or "")[:64],
        user_agent=(user_agent or "")[:300], signed_at=timeutil.utcnow())
    agreement.signatures.append(signature)
    audit("agreement.signed", agreement, actor=user, details=_details(signature))
    return signature


@atomic
def _apply_seal(agreement: Agreement, user: User, seen_hash: str | None, client_address: str,
                user_agent: str) -> AgreementSignature:
    _lock(agreement)
    _ensure_signing(agreement)
    _ensure_same_text(agreement, seen_hash)
    state = signing_state(agreement)
    if not state.parties_done:
        raise AgreementError(_("The seal comes last: every party must sign first."))
    if not state.mediator_done:
        raise AgreementError(_("The seal comes last: the mediator must sign first."))
    if state.sealed:
        raise AgreementError(_("The committee seal has already been applied."))
    committee = agreement.referral.committee
    if not has_seal_image(agreement):
        raise AgreementError(_("%(committee)s has no seal image yet. An administrator must upload it (signing "
                               "settings) before the seal can be applied.", committee=committee.name))
    now = timeutil.utcnow()
    signature = AgreementSignature(
        role=SignerRole.COMMITTEE, user_id=user.id, department_id=committee.id, signer_name=committee.name,
        status=SignatureStatus.SIGNED, method=SignatureMethod.ONLINE, mark=SignatureMark.SEAL,
        document_hash=agreement.document_hash, client_address=(client_address or "")[:64],
        user_agent=(user_agent or "")[:300], signed_at=now)
    agreement.signatures.append(signature)
    agreement.effective_at = now
    agreement.effective_on = now.astimezone(timeutil.local_zone()).date()
    agreement.status = AgreementStatus.SEALING
    audit("agreement.seal_applied", agreement, actor=user,
          details={**_details(signature), "effective_on": agreement.effective_on.isoformat(),
                   "effective_at": now.isoformat()})
    documents.start_sealing(agreement)
    return signature


def apply_seal(agreement: Agreement, user: User, *, seen_hash: str | None = None, client_address: str = "",
               user_agent: str = "") -> AgreementSignature:
    """A mediator of the committee applies its seal after every party and the mediator signed: the effective date
    is fixed and the sealed PDF is generated (documents.start_sealing, which runs once this commits)."""
    return _apply_seal(agreement, user, seen_hash, client_address, user_agent)


# --- reminders ------------------------------------------------------------------------------------------

def _reminder_key(agreement: Agreement, signer_key: str, n: int) -> str:
    return f"sign:{agreement.document_hash[:16]}:{signer_key}:{n}"


def _due_signers(agreement: Agreement, state: SigningState, reminders: list[AgreementReminder], now: datetime,
                 include_mediators: bool) -> list[tuple[str, list[User], int]]:
    """(signer key, people to remind, reminder number) for each pending signer not reminded within
    rules.SIGNING_REMINDER_DAYS on this text."""
    gap = timedelta(days=rules.SIGNING_REMINDER_DAYS)
    prefix = f"sign:{agreement.document_hash[:16]}:"
    due = []
    targets: list[tuple[str, list[User]]] = []
    if state.step == "parties":
        users = party_users(agreement, [s.party for s in state.pending_parties])
        targets = [(s.key, users.get(s.party.id, [])) for s in state.pending_parties]
    elif include_mediators and state.step in ("mediator", "seal"):
        targets = [(state.step, mediator_users(agreement))]
    for key, people in targets:
        if not people:
            continue
        sent = [r for r in reminders if r.key.startswith(f"{prefix}{key}:")]
        if sent and max(r.sent_at for r in sent) > now - gap:
            continue
        due.append((key, people, len(sent) + 1))
    return due


def _remind(agreement: Agreement, state: SigningState, reminders, now: datetime, actor: User | None,
            include_mediators: bool) -> int:
    reminded = 0
    for key, people, n in _due_signers(agreement, state, reminders, now, include_mediators):
        endpoint = "agreements.sign" if key.startswith("party:") else (
            "agreements.sign_mediator" if key == "mediator" else "agreements.agreement")
        if _tell(people, lambda: (
                _("Reminder: please sign %(title)s", title=_title(agreement)),
                _("%(title)s is waiting for your signature (signing opened on %(date)s). You may also decline "
                  "with a reason.", title=_title(agreement),
                  date=format_date(agreement.signing_opened_at.astimezone(timeutil.local_zone()).date(), "long"))),
                _link(endpoint, agreement_id=agreement.id)):
            db.session.add(AgreementReminder(agreement_id=agreement.id, key=_reminder_key(agreement, key, n),
                                             sent_at=now))
            reminded += 1
    if reminded:
        audit("agreement.signers_reminded", agreement, actor=actor,
              details={"reminded": reminded, "document_hash": agreement.document_hash})
    return reminded


def _reminders(agreement_ids: list[int]) -> dict[int, list[AgreementReminder]]:
    result: dict[int, list[AgreementReminder]] = {i: [] for i in agreement_ids}
    if agreement_ids:
        for row in db.session.scalars(select(AgreementReminder).where(
                AgreementReminder.agreement_id.in_(agreement_ids), AgreementReminder.key.like("sign:%"))):
            result[row.agreement_id].append(row)
    return result


@atomic
def remind_now(agreement: Agreement, actor: User, now: datetime | None = None) -> int:
    """The mediator reminds the parties who have not signed yet (each at most once per
    rules.SIGNING_REMINDER_DAYS). Returns how many signers were reminded."""
    _ensure_signing(agreement)
    state = signing_state(agreement)
    if state.step != "parties":
        raise AgreementError(_("Every party has signed: nobody is left to remind."))
    now = now or timeutil.utcnow()
    return _remind(agreement, state, _reminders([agreement.id])[agreement.id], now, actor, include_mediators=False)


def remind_pending_signers(now: datetime | None = None) -> int:
    """For the daily command: every signer still pending rules.SIGNING_REMINDER_DAYS after signing opened is
    reminded, and again every rules.SIGNING_REMINDER_DAYS while pending (parties first, then the mediators for
    their signature and the seal). Returns how many signers were reminded."""
    now = now or timeutil.utcnow()
    cutoff = now - timedelta(days=rules.SIGNING_REMINDER_DAYS)
    ids = list(db.session.scalars(select(Agreement.id).where(Agreement.status == AgreementStatus.SIGNING,
                                                             Agreement.signing_opened_at <= cutoff)
                                  .order_by(Agreement.id)))
    reminders = _reminders(ids)
    total = 0
    for agreement_id in ids:
        agreement = load_for_signing(agreement_id)
        total += _remind(agreement, signing_state(agreement), reminders[agreement_id], now, None,
                         include_mediators=True)
    db.session.commit()
    return total


__all__ = ["ID_KINDS", "Signer", "SigningState", "apply_seal", "decline", "has_seal_image", "last_decline",
           "load_for_signing", "open_signing", "party_users", "prepare", "remind_now", "remind_pending_signers",
           "send_code", "sign_as_mediator", "sign_as_party", "sign_in_person", "signed_version", "signing_state",
           "signature_png"]
