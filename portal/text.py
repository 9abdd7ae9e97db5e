"""Punctuation that follows the reader's language: Chinese text takes full-width marks."""
from __future__ import annotations

from flask_babel import get_locale


def _chinese() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "zh"


def list_separator() -> str:
    """Between the items of a list of names: "、" in Chinese text, ", " otherwise."""
    return "、" if _chinese() else ", "


def join_names(values) -> str:
    """{{ names|names }}: the non-empty items joined for the reader's language (张三、李四 / Zhang San, Li Si)."""
    return list_separator().join(str(v) for v in values or () if v not in (None, ""))


def colon() -> str:
    """After a label: "：" in Chinese text, ": " otherwise ({{ _("Phone") }}{{ colon() }}{{ phone }})."""
    return "：" if _chinese() else ": "
