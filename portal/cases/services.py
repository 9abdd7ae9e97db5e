"""Shared case work: reference numbers, query codes, the timeline, masking, duplicates.

The flows (intake, triage, handling, answers) live in their own modules beside this one and use these.
"""
from __future__ import annotations

import json
import re
import secrets
from datetime import date

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import joinedload

from portal import rules
from portal.extensions import db
from portal.transactions import Refusal

from .models import OPEN_STATUSES, Case, CaseEvent, Petitioner, ReferenceCounter

QUERY_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


class CaseError(Refusal):
    """A refusal with a message for the user (already translated) and the form field it concerns."""


# --- numbers and codes --------------------------------------------------------------------

def next_reference(year: int) -> str:
    """YX-2026-000123: the next number of the year, unique under concurrent writes.

    The counter row is created if missing (ON CONFLICT DO NOTHING) and then incremented with one UPDATE ...
    RETURNING, which holds the row lock until the transaction ends, so two requests never get the same number.
    """
    scope = f"{rules.REFERENCE_PREFIX}-{year}"
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(ReferenceCounter).values(scope=scope, last=0).on_conflict_do_nothing())
    number = db.session.execute(
        update(ReferenceCounter).where(ReferenceCounter.scope == scope)
        .values(last=ReferenceCounter.last + 1).returning(ReferenceCounter.last)
    ).scalar_one()
    return f"{scope}-{number:06d}"


def new_query_code() -> str:
    return "".join(secrets.choice(QUERY_CODE_ALPHABET) for _ in range(rules.QUERY_CODE_LENGTH))


# --- the timeline ---------------------------------------------------------------------------

def add_event(case: Case, kind: str, *, actor=None, department=None, data: dict | None = None, text: str = "",
              internal: bool = False) -> CaseEvent:
    event = CaseEvent(case=case, kind=kind, actor_id=actor.id if actor is not None else None,
                      department_id=department.id if department is not None else None,
                      data=json.dumps(data or {}, ensure_ascii=False, default=str), text=text, internal=internal)
    db.session.add(event)
    return event


def timeline(case: Case, internal: bool) -> list[CaseEvent]:
    """The case's events; internal ones only when `internal` (see policy "case.internal")."""
    query = (select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id)
             .options(joinedload(CaseEvent.department)))
    if not internal:
        query = query.where(CaseEvent.internal.is_(False))
    return list(db.session.scalars(query))


# --- personal data ----------------------------------------------------------------------------

def mask_id_number(value: str) -> str:
    """3201**********1234: the region and the last four digits."""
    value = value or ""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + "*" * (len(value) - 8) + value[-4:]


def mask_phone(value: str) -> str:
    """138****5678."""
    value = value or ""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


ID_NUMBER_RE = re.compile(r"^\d{17}[\dX]$")


def normalize_id_number(value: str) -> str:
    return (value or "").strip().upper()


def valid_id_number(value: str) -> bool:
    """Mainland resident ID: 18 characters with the ISO 7064 MOD 11-2 check digit."""
    if not ID_NUMBER_RE.match(value):
        return False
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(value[:17], weights))
    return "10X98765432"[total % 11] == value[17]


# --- duplicates --------------------------------------------------------------------------------

def _bigrams(text: str) -> set[str]:
    text = re.sub(r"\s+", "", text or "")
    return {text[i:i + 2] for i in range(len(text) - 1)} or ({text} if text else set())


def subject_similarity(a: str, b: str) -> float:
    """Dice coefficient over character bigrams: works for Chinese text without word segmentation."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


DUPLICATE_SIMILARITY = 0.5


def likely_duplicates(id_numbers: list[str], phones: list[str], subject: str, exclude_id: int | None = None,
                      limit: int = 10) -> list[Case]:
    """Pending cases of the same petitioner (ID number or phone) whose subject is similar."""
    keys = [v for v in id_numbers if v] + [v for v in phones if v]
    if not keys:
        return []
    conditions = []
    if any(id_numbers):
        conditions.append(Petitioner.id_number.in_([v for v in id_numbers if v]))
    if any(phones):
        conditions.append(Petitioner.phone.in_([v for v in phones if v]))
    query = (select(Case).join(Petitioner).where(or_(*conditions), Case.status.in_(OPEN_STATUSES))
             .order_by(Case.id.desc()).limit(50).distinct())
    if exclude_id:
        query = query.where(Case.id != exclude_id)
    found = [c for c in db.session.scalars(query) if subject_similarity(c.subject, subject) >= DUPLICATE_SIMILARITY]
    return found[:limit]


def concluded_with_same_facts(id_numbers: list[str], subject: str) -> Case | None:
    """A case of the same petitioner concluded after re-review whose subject is similar (not accepted again)."""
    from .models import CaseStatus, Review

    ids = [v for v in id_numbers if v]
    if not ids:
        return None
    query = (select(Case).join(Petitioner).join(Review, (Review.case_id == Case.id) & (Review.level == 2))
             .where(Petitioner.id_number.in_(ids), Case.status == CaseStatus.CONCLUDED).order_by(Case.id.desc()))
    for case in db.session.scalars(query.limit(20)):
        if subject_similarity(case.subject, subject) >= DUPLICATE_SIMILARITY:
            return case
    return None


def count_by_status(clause) -> dict:
    rows = db.session.execute(select(Case.status, func.count(Case.id)).where(clause).group_by(Case.status))
    return {status: n for status, n in rows}


def days_between(a: date, b: date) -> int:
    return (b - a).days
