"""Mediation agreements (调解协议书): drafting, signing, the sealed PDF, public verification, follow-up."""
from flask import Blueprint

bp = Blueprint("agreements", __name__)


def list_separator() -> str:
    """Between the items of a list of names: "、" in Chinese text, ", " otherwise."""
    from flask_babel import get_locale

    locale = get_locale()
    return "、" if locale is not None and locale.language == "zh" else ", "


@bp.app_template_filter("names")
def join_names(values) -> str:
    """{{ names|names }}: the non-empty items joined for the reader's language (张三、李四 / Zhang San, Li Si)."""
    return list_separator().join(str(v) for v in values or () if v not in (None, ""))


def colon() -> str:
    """After a label: "：" in Chinese text, ": " otherwise ({{ _("Phone") }}{{ colon() }}{{ phone }})."""
    from flask_babel import get_locale

    locale = get_locale()
    return "：" if locale is not None and locale.language == "zh" else ": "
