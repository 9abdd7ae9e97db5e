"""Helpers for the HTTP tests: build data, sign in, read pages and look into the database.

Database work happens in short `with database(app)` blocks. Never keep an app context open while the client
makes requests: a request reuses an open app context, and with it `g`, where Flask-Login caches the user.
"""
from __future__ import annotations

import html
import re
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from portal.accounts.models import Role, User
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.mail.models import OutboxMessage
from tests.conftest import login
from tests.factories import PASSWORD, make_department, make_user


@dataclass(frozen=True)
class UserRef:
    id: int
    login: str
    email: str | None
    phone: str | None
    department_id: int | None
    display_name: str


@dataclass(frozen=True)
class DepartmentRef:
    id: int
    code: str
    name: str


@contextmanager
def database(app):
    """The database session in an app context of its own."""
    with app.app_context():
        yield db.session


def add_user(app, role: Role = Role.PETITIONER, **kwargs) -> UserRef:
    with database(app):
        user = make_user(role, **kwargs)
        return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def add_department(app, **kwargs) -> DepartmentRef:
    with database(app):
        department = make_department(**kwargs)
        return DepartmentRef(department.id, department.code, department.name)


def sign_in(app, client, role: Role = Role.ADMIN, **kwargs) -> UserRef:
    """Create a user of `role` and sign in with `client`."""
    user = add_user(app, role, **kwargs)
    response = login(client, user.login, kwargs.get("password", PASSWORD))
    assert response.status_code == 303, f"log-in failed ({response.status_code})"
    return user


def set_user(app, user_id: int, **values) -> None:
    """Change columns of a user directly in the database (e.g. move a lock into the past)."""
    with database(app) as session:
        user = session.get(User, user_id)
        for name, value in values.items():
            setattr(user, name, value)
        session.commit()


def get_user(app, user_id: int) -> User:
    """A detached copy of the user as stored now (its columns stay readable)."""
    with database(app) as session:
        return session.get(User, user_id)


def count(app, model, *where) -> int:
    with database(app) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def audit_actions(app) -> list[str]:
    """Actions of every audit event written in this test, oldest first."""
    with database(app) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def audit_events(app, action: str) -> list[AuditEvent]:
    with database(app) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def outbox(app, recipient: str) -> list[OutboxMessage]:
    with database(app) as session:
        return list(session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == recipient).order_by(OutboxMessage.id)))


def text(response) -> str:
    """The page with HTML entities decoded."""
    return html.unescape(response.get_data(as_text=True))


def location(response) -> str:
    """Path and query a redirect points to."""
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def redirect_query(response) -> dict[str, list[str]]:
    return parse_qs(urlsplit(response.headers["Location"]).query)


def field_error(response, field_id: str) -> str:
    """The error shown under a form field ('' when there is none)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)).strip() if match else ""


def form_errors(response) -> str:
    """Errors shown above a form ('' when there are none)."""
    match = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', response.get_data(as_text=True), re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def flashes(response) -> list[tuple[str, str]]:
    return [(category, html.unescape(message)) for category, message in
            re.findall(r'<p class="flash flash-(\w+)">(.*?)</p>', response.get_data(as_text=True), re.S)]


def page_lang(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    return match.group(1) if match else ""


def switch_language(client, locale: str) -> None:
    response = client.post("/locale", data={"locale": locale, "next": "/"})
    assert response.status_code == 303


def catalog(app, message: str, locale: str = "zh_CN", **variables) -> str:
    """What the portal's catalog says for `message` in `locale` (the English text while untranslated)."""
    with app.test_request_context(), force_locale(locale):
        return gettext(message, **variables)


def is_login_redirect(response) -> bool:
    return response.status_code in (301, 302, 303) and urlsplit(response.headers["Location"]).path == "/login"



def parameterless_get_routes(app) -> list[tuple[str, str]]:
    """(path, endpoint) of every GET route without URL parameters, static files excepted."""
    return sorted((rule.rule, rule.endpoint) for rule in app.url_map.iter_rules()
                  if "GET" in rule.methods and not rule.arguments and rule.endpoint != "static")
