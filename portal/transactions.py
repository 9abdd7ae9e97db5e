"""One transaction per service call, and the refusal a service raises, the same way everywhere."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from sqlalchemy.orm.exc import StaleDataError

from portal.extensions import db


class Refusal(Exception):
    """A refusal with a message for the user (already translated) and the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def atomic_services(refusal: type[Exception], stale_message: Callable[[], str]):
    """A decorator that runs a service as one transaction: commit on success; roll back and re-raise on a
    `refusal`; a concurrent change of a row with a version column becomes `refusal(stale_message())` instead of
    a 500. `stale_message` is called at that moment so the message is translated in the user's language."""

    def atomic(service):
        @wraps(service)
        def wrapper(*args, **kwargs):
            try:
                result = service(*args, **kwargs)
                db.session.commit()
                return result
            except StaleDataError:
                db.session.rollback()
                raise refusal(stale_message())
            except refusal:
                db.session.rollback()
                raise

        return wrapper

    return atomic
