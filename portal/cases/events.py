"""How timeline entries read. Each flow adds the sentences of the event kinds it writes.

Entries store parameters (CaseEvent.data), not finished sentences, so the timeline reads in the viewer's language.
"""
from __future__ import annotations

import json

from flask_babel import lazy_gettext as _l

from .models import Channel, LegalRoute, OpinionOutcome, RatingValue, ReferralKind, ReferralRole

SENTENCES = {
    "registered": _l("Registered (%(channel)s)."),
    "submitted": _l("Submitted online."),
    "claimed": _l("%(name)s added the petition to their account."),
    "duplicate_override": _l("Registered although similar to %(other)s: %(reason)s"),
    "duplicate_linked": _l("Linked to the pending case %(other)s."),
    "repeats_concluded": _l("Repeats the facts and reasons of %(other)s, concluded after re-review."),
    "rejected": _l("Not accepted."),
    "referred": _l("%(kind)s to %(department)s as %(role)s."),
    "legal_route": _l("Routed to the legal channel: %(route)s."),
    "mediation_referral": _l("Referred to mediation at %(committee)s with the consent of both sides."),
    "mediation_outcome": _l("Mediation ended: %(mediation)s."),
    "mediation_withdrawn": _l("Mediation ended: %(party)s withdrew consent."),
    "mediation_returned": _l("Back to the petition bureau for triage after mediation ended; a new routing time "
                             "limit runs."),
    "mediation_concluded": _l("Closed: the petition is settled by mediation (%(mediation)s)."),
    "complex": _l("Marked complex for a joint conference."),
    "accepted": _l("%(department)s accepted the matter."),
    "objected": _l("%(department)s returned the matter as outside its competence."),
    "progress": _l("Progress reported."),
    "note": _l("Internal note."),
    "extension_requested": _l("Extension of %(days)s days requested."),
    "extension_approved": _l("Extension of %(days)s days approved."),
    "extension_refused": _l("Extension refused."),
    "paused": _l("Clock paused: %(clock)s."),
    "resumed": _l("Clock resumed: %(clock)s."),
    "answered": _l("Handling opinion issued: %(outcome)s."),
    "rated": _l("Rated: %(value)s."),
    "review_requested": _l("Review requested."),
    "rereview_requested": _l("Re-review requested."),
    "review_designated": _l("Review assigned to %(department)s."),
    "rereview_designated": _l("Re-review assigned to %(department)s."),
    "reviewed": _l("Review opinion issued: %(outcome)s."),
    "rereviewed": _l("Re-review opinion issued: %(outcome)s."),
    "concluded": _l("Concluded."),
    "supervision": _l("Supervision notice to %(department)s."),
    "supervision_answered": _l("%(department)s answered the supervision notice."),
    "referral_closed": _l("The referral to %(department)s was closed."),
    "returned_to_triage": _l("Back to triage after %(department)s objected; a new routing time limit runs."),
}

# data keys whose stored value is an enum value shown by its label
_ENUMS = {"channel": Channel, "route": LegalRoute, "outcome": OpinionOutcome, "value": RatingValue,
          "kind": ReferralKind, "role": ReferralRole}


def describe(event) -> str:
    data = json.loads(event.data or "{}")
    for key, enum_cls in _ENUMS.items():
        if key in data:
            try:
                data[key] = enum_cls(data[key]).label
            except ValueError:
                pass
    if "mediation" in data:
        from portal.mediation.models import MediationStatus

        try:
            data["mediation"] = MediationStatus(data["mediation"]).label
        except ValueError:
            pass
    if "clock" in data:
        from .models import ClockKind

        data["clock"] = ClockKind(data["clock"]).label
    sentence = SENTENCES.get(event.kind)
    if sentence is None:
        return event.kind
    try:
        return str(sentence) % data
    except (KeyError, TypeError, ValueError):
        return str(sentence)


def progress_attachment_ids(events) -> set[int]:
    """Ids of the files the handling department sent with its progress entries (to tell them apart in lists)."""
    ids: set[int] = set()
    for event in events:
        if event.kind != "progress":
            continue
        try:
            ids.update(int(i) for i in json.loads(event.data or "{}").get("attachments", []))
        except (ValueError, TypeError, AttributeError):
            continue
    return ids
