"""Enums stored as strings (with a CHECK constraint) and shown by translatable labels."""
from __future__ import annotations

import enum

from sqlalchemy import Enum

# (enum class, member) -> lazy label. Keyed by class: members of different enums share values ("pending")
# and compare equal, so the member alone would mix their labels up. Each models module registers its own.
_LABELS: dict = {}


def register_labels(labels: dict) -> dict:
    _LABELS.update(labels)
    return labels


def db_enum(cls, name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, length=32, create_constraint=True,
                values_callable=lambda e: [m.value for m in e], validate_strings=True)


class LabelledEnum(str, enum.Enum):
    @property
    def label(self):
        return _LABELS[(type(self), self)]
