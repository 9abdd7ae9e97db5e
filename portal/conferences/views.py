"""Workspace pages shared by every part: loading a workspace with its access check."""
from __future__ import annotations

from flask import abort
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from portal import policy
from portal.extensions import db

from .models import Conference, ConferenceMember


def load_conference(conference_id: int, permission: str = "conference.view") -> Conference:
    """The workspace with its members, in a fixed number of queries; 404 if missing, 403 if not allowed."""
    conference = db.session.scalar(
        select(Conference).where(Conference.id == conference_id).options(
            selectinload(Conference.members).joinedload(ConferenceMember.department),
            selectinload(Conference.case_links),
            joinedload(Conference.convener),
        )
    )
    if conference is None:
        abort(404)
    policy.ensure(permission, conference)
    return conference
