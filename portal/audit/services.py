"""The audit trail: every state change writes one event in the same transaction.

Each event's hash covers its fields and the previous event's hash, so editing or
deleting a stored event breaks the chain at that point; verify_chain() finds it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy import select, text

from portal.extensions import db
from portal.timeutil import utcnow

from .models import AuditEvent

GENESIS = "0" * 64


def _digest(event: AuditEvent) -> str:
    payload = "|".join(
        [
            event.prev_hash,
            event.at.isoformat(timespec="microseconds"),
            str(event.actor_id or ""),
            event.actor_label,
            event.action,
            event.object_type,
            event.object_id,
            event.client_addr,
            event.details,
        ]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _actor():
    if has_request_context() and current_user and current_user.is_authenticated:
        return current_user._get_current_object()
    return None


def record(action: str, obj=None, *, details: dict | None = None, actor=None,
           object_type: str | None = None, object_id=None) -> AuditEvent:
    """Add an audit event to the current transaction (the caller commits)."""
    actor = actor if actor is not None else _actor()
    if obj is not None:
        object_type = object_type or getattr(obj, "__tablename__", type(obj).__name__.lower())
        if object_id is None:
            db.session.flush()  # new objects need their id
            object_id = obj.id
    if db.engine.dialect.name == "postgresql":
        # Appends to the chain take turns: this lock conflicts with itself (and lets readers through) until the
        # transaction ends, so two writers never link to the same previous event.
        db.session.execute(text("LOCK TABLE audit_event IN SHARE ROW EXCLUSIVE MODE"))
    last = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.id if actor is not None else None,
        actor_label=actor.audit_label if actor is not None else "system",
        action=action,
        object_type=object_type or "",
        object_id="" if object_id is None else str(object_id),
        client_addr=(request.remote_addr or "") if has_request_context() else "",
        details=json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str),
        prev_hash=last or GENESIS,
    )
    event.hash = _digest(event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str = ""


def verify_chain() -> ChainReport:
    """Walk the chain in order; report the first event whose hash or link does not hold."""
    prev = GENESIS
    checked = 0
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=1000))
    for event in rows:
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id, "link to the previous event is broken")
        if _digest(event) != event.hash:
            return ChainReport(False, checked, event.id, "content does not match its hash")
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)
