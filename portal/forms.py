"""Shared form pieces."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

LOCALES = [("zh_CN", "中文"), ("en", "English")]


REQUIRED = _l("This field is required.")


def int_or_none(value):
    """Coerce a select's value; anything that is not a number becomes None (refused as a choice), never a 500."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class EmptyForm(FlaskForm):
    """A POST-only button that carries the CSRF token."""


def attach_error(form, error, default_field: str | None = None) -> None:
    """Show a service's refusal next to the field it concerns, or above the form."""
    name = getattr(error, "field", None) or default_field
    message = getattr(error, "message", str(error))
    if name and name in form._fields:
        form[name].errors = list(form[name].errors) + [message]
    else:
        form.form_errors.append(message)


def attempt(form, work, *args, **kwargs):
    """Run a service for a form: its result (or True) on success; on a refusal the message goes on the form, the
    database is left unchanged and the answer is None. A concurrent change (a version or unique clash) is a
    refusal too."""
    from flask_babel import gettext as _
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from portal.extensions import db
    from portal.transactions import Refusal

    try:
        return work(*args, **kwargs) or True
    except Refusal as error:
        db.session.rollback()
        attach_error(form, error)
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        form.form_errors.append(_("Someone else changed this at the same time. Reload the page and try again."))
    return None
