"""Claiming a case into one's account (a petition registered by staff from a letter, visit or call).

The petitioner proves two things: they hold the reference and query code from the acknowledgment, and they can
read a one-time code sent to the phone on file for their name on the case. Then that Petitioner row gets their
user_id, and the case appears in their account (follow it, rate the answer, ask for review, sign agreements).
"""
from __future__ import annotations

from flask_babel import gettext as _

from portal.accounts.services import AccountError, check_code, issue_code
from portal.audit.services import record
from portal.extensions import db

from .intake import find_by_query_code
from .models import Case, Petitioner
from .services import CaseError, add_event, mask_phone


def _purpose(petitioner: Petitioner) -> str:
    return f"claim:{petitioner.id}"


def find_claimable(user, reference: str, query_code: str) -> Case:
    case = find_by_query_code(reference, query_code)
    if case is None:
        raise CaseError(_("No petition matches this reference and query code."), "reference")
    if any(p.user_id == user.id for p in case.petitioners) or case.submitted_by_id == user.id:
        raise CaseError(_("This petition is already in your account."), "reference")
    if not [p for p in case.petitioners if p.user_id is None and p.phone]:
        raise CaseError(_("No mobile number is on file for this petition. Ask the petition bureau to add yours."),
                        "reference")
    return case


def choices(case: Case) -> list[tuple[int, str]]:
    """The people on the case who can still be claimed, shown by name and masked phone."""
    return [(p.id, f"{p.name} · {mask_phone(p.phone)}") for p in case.petitioners if p.user_id is None and p.phone]


def send_claim_code(user, case: Case, petitioner_id: int) -> Petitioner:
    petitioner = next((p for p in case.petitioners if p.id == petitioner_id and p.user_id is None and p.phone), None)
    if petitioner is None:
        raise CaseError(_("Choose your name on the petition."), "petitioner")
    issue_code(user, _purpose(petitioner), lambda code, minutes: (
        _("Code to add petition %(ref)s to your account", ref=case.reference),
        _("Your code to add petition %(ref)s to your account on the petition portal is %(code)s. "
          "It is valid for %(minutes)d minutes. If you did not ask for it, ignore this message.",
          ref=case.reference, code=code, minutes=minutes)), destination=petitioner.phone)
    db.session.commit()
    return petitioner


def confirm_claim(user, case: Case, petitioner_id: int, code: str) -> Petitioner:
    petitioner = next((p for p in case.petitioners if p.id == petitioner_id and p.user_id is None), None)
    if petitioner is None:
        raise CaseError(_("Choose your name on the petition."), "petitioner")
    try:
        check_code(user, _purpose(petitioner), code)
    except AccountError as error:
        raise CaseError(error.message, "code") from None
    petitioner.user_id = user.id
    add_event(case, "claimed", actor=user, internal=True, data={"name": petitioner.name})
    record("case.claimed", case, actor=user, details={"petitioner": petitioner.id, "phone": mask_phone(petitioner.phone)})
    db.session.commit()
    return petitioner
