"""views_follow_up"""
from __future__ import annotations

from . import bp  # noqa: F401
