"""Accounts through the HTTP routes: log-in and lock-out, sessions, passwords, registration, invitations."""
from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from flask_babel import force_locale, format_datetime
from sqlalchemy import select

from portal import create_app, rules
from portal.accounts.models import Invitation, OneTimeCode, Role, User
from portal.accounts.services import find_by_login
from portal.extensions import limiter
from portal.mail.models import OutboxMessage
from portal.timeutil import utcnow
from tests.conftest import login
from tests.factories import PASSWORD
from tests.helpers import (add_department, add_user, audit_actions, count, database, field_error, flashes, get_user,
                           is_login_redirect, location, outbox, parameterless_get_routes, redirect_query, set_user,
                           sign_in, switch_language, text)

NEW_PASSWORD = "Fresh-start-2026"
WRONG = "Wrong-passw0rd"
NOT_CORRECT = "The login or password is not correct."
LOCKED = "This account is locked after too many failed log-ins."
DEACTIVATED = "This account has been deactivated. Contact the petition bureau."


# --- helpers ----------------------------------------------------------------------------

def english_client(app):
    client = app.test_client()
    switch_language(client, "en")
    return client


def fail_logins(client, login_name: str, times: int):
    response = None
    for _ in range(times):
        response = login(client, login_name, WRONG)
        assert response.status_code == 200
    return response


def signed_in(client) -> bool:
    """True when the client's session opens a page only signed-in users see."""
    response = client.get("/account")
    if is_login_redirect(response):
        return False
    assert response.status_code == 200
    return True


def set_cookie(response, name: str) -> str:
    return next((h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")), "")


def cookie_flags(header: str) -> set[str]:
    """The attributes of a Set-Cookie header: {"httponly", "secure", "samesite=lax", "expires", ...}."""
    flags = set()
    for part in header.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        flags.add(f"samesite={value.lower()}" if name.lower() == "samesite" else name.lower())
    return flags


def password_is(app, user_id: int, password: str) -> bool:
    try:
        return PasswordHasher().verify(get_user(app, user_id).password_hash, password)
    except VerificationError:
        return False


def change_password(client, current: str, new: str):
    return client.post("/account/password", data={"current": current, "password": new, "password2": new})


def register(client, login_name: str, name: str = "新用户", password: str = PASSWORD):
    return client.post("/register", data={"display_name": name, "login": login_name,
                                          "password": password, "password2": password})


def sent_code(app, recipient: str) -> str:
    """The code of the newest message to `recipient` in the outbox."""
    messages = outbox(app, recipient)
    assert messages, f"no message to {recipient} in the outbox"
    match = re.search(r"\b(\d{6})\b", messages[-1].body)
    assert match, "no 6-digit code in the message"
    return match.group(1)


def other_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def confirm(client, code: str):
    return client.post("/account/confirm", data={"code": code})


def newest_code_row(app, user_id: int) -> OneTimeCode:
    with database(app) as session:
        return session.scalars(select(OneTimeCode).where(OneTimeCode.user_id == user_id)
                               .order_by(OneTimeCode.id.desc())).first()


def invite(app, admin_client, email: str, department_id: int) -> str:
    """Admin sends an invitation; returns the path of the link found in the outbox message."""
    response = admin_client.post("/admin/invitations",
                                 data={"email": email, "display_name": "周代表", "department_id": str(department_id)})
    assert response.status_code == 303
    messages = outbox(app, email)
    assert len(messages) == 1
    match = re.search(r"https?://\S+/invitation/\S+", messages[0].body)
    assert match, "no invitation link in the message"
    return urlsplit(match.group(0)).path


def accept(client, path: str, name: str = "周代表", phone: str = ""):
    return client.post(path, data={"display_name": name, "phone": phone,
                                   "password": NEW_PASSWORD, "password2": NEW_PASSWORD})


# --- log-in -----------------------------------------------------------------------------

def test_login_by_email_opens_the_home_page(app, client):
    user = add_user(app, Role.PETITIONER)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 303
    assert location(response) == "/"
    home = client.get("/")
    assert home.status_code == 200
    assert user.display_name in text(home)
    assert get_user(app, user.id).last_login_at is not None
    assert audit_actions(app) == ["auth.login"]


def test_login_by_email_ignores_case_and_surrounding_spaces(app, client):
    user = add_user(app, Role.STAFF, email="mixed.case@test.example")
    assert login(client, "  Mixed.Case@Test.Example ", PASSWORD).status_code == 303
    assert signed_in(client)


@pytest.mark.parametrize("typed", ["13812345678", "138 1234 5678", "+86 138 1234 5678", "+8613812345678",
                                   "138-1234-5678"])
def test_login_by_mobile_number_in_any_common_format(app, client, typed):
    add_user(app, Role.PETITIONER, phone="13812345678")
    response = login(client, typed, PASSWORD)
    assert response.status_code == 303
    assert signed_in(client)


def test_wrong_password_is_refused_with_a_message(app):
    client = english_client(app)
    user = add_user(app, Role.PETITIONER)
    response = login(client, user.email, WRONG)
    assert response.status_code == 200
    assert field_error(response, "password") == NOT_CORRECT
    assert not signed_in(client)
    stored = get_user(app, user.id)
    assert stored.failed_logins == 1 and stored.locked_until is None
    assert audit_actions(app)[-1] == "auth.login_failed"


def test_unknown_login_gets_the_same_message_as_a_wrong_password(app):
    client = english_client(app)
    response = login(client, "nobody@test.example", WRONG)
    assert response.status_code == 200
    assert field_error(response, "password") == NOT_CORRECT
    assert audit_actions(app)[-1] == "auth.login_failed"


def test_five_failed_logins_lock_the_account_for_fifteen_minutes(app):
    client = english_client(app)
    user = add_user(app, Role.PETITIONER)
    before = utcnow()
    response = fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK)
    locked_until = get_user(app, user.id).locked_until
    assert locked_until is not None
    assert before + rules.LOGIN_LOCK_DURATION <= locked_until <= utcnow() + rules.LOGIN_LOCK_DURATION
    message = field_error(response, "password")
    assert message.startswith(LOCKED)
    with app.test_request_context(), force_locale("en"):
        assert format_datetime(locked_until, "short") in message  # says until when


def test_four_failed_logins_do_not_lock(app, client):
    user = add_user(app, Role.PETITIONER)
    fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK - 1)
    assert get_user(app, user.id).locked_until is None
    assert login(client, user.email, PASSWORD).status_code == 303


def test_locked_account_refuses_even_the_right_password(app):
    client = english_client(app)
    user = add_user(app, Role.PETITIONER)
    fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert field_error(response, "password").startswith(LOCKED)
    assert not signed_in(client)
    assert audit_actions(app)[-1] == "auth.login_refused_locked"


def test_lock_ends_when_its_time_has_passed(app, client):
    user = add_user(app, Role.PETITIONER)
    fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK)
    set_user(app, user.id, locked_until=utcnow() - timedelta(seconds=1))
    assert login(client, user.email, PASSWORD).status_code == 303
    assert signed_in(client)
    stored = get_user(app, user.id)
    assert stored.locked_until is None and stored.failed_logins == 0


def test_after_a_lock_ends_one_more_failure_does_not_lock_again(app, client):
    user = add_user(app, Role.PETITIONER)
    fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK)
    set_user(app, user.id, locked_until=utcnow() - timedelta(seconds=1))
    fail_logins(client, user.email, 1)
    stored = get_user(app, user.id)
    assert stored.failed_logins == 1
    assert stored.locked_until < utcnow()


def test_failures_older_than_the_window_do_not_count(app, client):
    user = add_user(app, Role.PETITIONER)
    fail_logins(client, user.email, rules.LOGIN_FAILURES_BEFORE_LOCK - 1)
    set_user(app, user.id, failed_window_start=utcnow() - rules.LOGIN_FAILURE_WINDOW - timedelta(minutes=1))
    fail_logins(client, user.email, 1)  # would be the fifth within the window
    stored = get_user(app, user.id)
    assert stored.locked_until is None
    assert stored.failed_logins == 1
    assert login(client, user.email, PASSWORD).status_code == 303


def test_deactivated_account_is_refused(app):
    client = english_client(app)
    user = add_user(app, Role.STAFF, active=False)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 200
    assert field_error(response, "password") == DEACTIVATED
    assert not signed_in(client)
    assert audit_actions(app)[-1] == "auth.login_refused_inactive"


def test_logout_ends_the_session(app, client):
    sign_in(app, client, Role.STAFF)
    response = client.post("/logout", data={})
    assert response.status_code == 303
    assert location(response) == "/login"
    assert not signed_in(client)
    assert audit_actions(app)[-1] == "auth.logout"


# --- cookies and sessions ---------------------------------------------------------------

def test_remember_me_sets_a_long_lived_remember_cookie(app, client):
    user = add_user(app, Role.STAFF)
    response = client.post("/login", data={"login": user.email, "password": PASSWORD, "remember": "y"})
    assert response.status_code == 303
    cookie = set_cookie(response, "remember_token")
    assert cookie, "no remember cookie"
    assert {"httponly", "expires"} <= cookie_flags(cookie)
    assert "samesite=lax" in cookie_flags(cookie)


def test_without_remember_me_there_is_no_remember_cookie(app, client):
    user = add_user(app, Role.STAFF)
    response = login(client, user.email, PASSWORD)
    assert response.status_code == 303
    assert set_cookie(response, "remember_token") == ""


def test_logout_removes_the_remember_cookie(app, client):
    user = add_user(app, Role.STAFF)
    client.post("/login", data={"login": user.email, "password": PASSWORD, "remember": "y"})
    client.post("/logout", data={})
    assert client.get_cookie("remember_token") is None
    assert not signed_in(client)


def test_remember_cookie_alone_signs_the_user_in(app, client):
    user = add_user(app, Role.STAFF)
    client.post("/login", data={"login": user.email, "password": PASSWORD, "remember": "y"})
    fresh = app.test_client()
    fresh.set_cookie("remember_token", client.get_cookie("remember_token").value)
    assert signed_in(fresh)


def test_session_cookie_is_httponly_and_samesite_lax(app, client):
    response = client.get("/login")
    cookie = set_cookie(response, "session")
    assert cookie, "the log-in page sets no session cookie"
    flags = cookie_flags(cookie)
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags  # plain http outside production


@pytest.fixture
def production_app(tmp_path, monkeypatch):
    """An app started the way a deployment starts it: PORTAL_ENV=production in the environment."""
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)  # the limiter is shared by every app
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "production-test-key")
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'prod.db'}", "RATELIMIT_ENABLED": False})


def test_production_cookies_are_secure(production_app):
    assert production_app.config["REMEMBER_COOKIE_SECURE"] is True
    response = production_app.test_client().get("/login", base_url="https://localhost")
    flags = cookie_flags(set_cookie(response, "session"))
    assert {"secure", "httponly", "samesite=lax"} <= flags


def test_password_change_ends_other_sessions_and_keeps_this_one(app, client):
    user = sign_in(app, client, Role.STAFF)
    other_device = app.test_client()
    assert login(other_device, user.email, PASSWORD).status_code == 303
    response = change_password(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 303
    assert signed_in(client)
    assert not signed_in(other_device)
    assert password_is(app, user.id, NEW_PASSWORD)
    assert audit_actions(app)[-1] == "user.password_changed"


def test_password_change_voids_remember_cookies_of_other_devices(app, client):
    user = sign_in(app, client, Role.STAFF)
    other_device = app.test_client()
    other_device.post("/login", data={"login": user.email, "password": PASSWORD, "remember": "y"})
    remembered = other_device.get_cookie("remember_token").value
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 303
    fresh = app.test_client()
    fresh.set_cookie("remember_token", remembered)
    assert not signed_in(fresh)


def test_password_change_needs_the_current_password(app, client):
    user = sign_in(app, client, Role.STAFF, locale="en")
    response = change_password(client, WRONG, NEW_PASSWORD)
    assert response.status_code == 200
    assert field_error(response, "current") == "The current password is not correct."
    assert password_is(app, user.id, PASSWORD)


@pytest.mark.parametrize("new_password, message", [
    ("Short1x", "Use at least 10 characters."),
    ("onlyletters-here", "Use both letters and digits."),
    ("1234567890123", "Use both letters and digits."),
    ("password1234", "This password is too easy to guess."),
])
def test_password_policy_refuses_weak_passwords(app, client, new_password, message):
    user = sign_in(app, client, Role.STAFF, locale="en")
    response = change_password(client, PASSWORD, new_password)
    assert response.status_code == 200
    assert message in field_error(response, "password")
    assert password_is(app, user.id, PASSWORD)


def test_password_policy_refuses_a_password_containing_the_login(app, client):
    user = sign_in(app, client, Role.PETITIONER, phone="13912345678", locale="en")
    response = change_password(client, PASSWORD, "Ab13912345678")
    assert response.status_code == 200
    assert "This password is too easy to guess." in field_error(response, "password")
    assert password_is(app, user.id, PASSWORD)


def test_password_change_with_mismatched_repeat_is_refused(app, client):
    user = sign_in(app, client, Role.STAFF, locale="en")
    response = client.post("/account/password",
                           data={"current": PASSWORD, "password": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"})
    assert response.status_code == 200
    assert field_error(response, "password2") == "The passwords differ."
    assert password_is(app, user.id, PASSWORD)


# --- forced password change -------------------------------------------------------------

def test_must_change_password_sends_every_other_page_to_the_change_form(app, client):
    user = add_user(app, Role.ADMIN)
    set_user(app, user.id, must_change_password=True)
    login(client, user.email, PASSWORD)
    still_open = {"accounts.change_password", "home.healthz"}
    wrong = []
    for path, endpoint in parameterless_get_routes(app):
        response = client.get(path)
        if endpoint in still_open:
            if response.status_code != 200:
                wrong.append((path, response.status_code))
        elif response.status_code != 302 or location(response) != "/account/password":
            wrong.append((path, response.status_code, response.headers.get("Location")))
    assert wrong == []


def test_forced_change_is_lifted_once_the_password_is_changed(app, client):
    user = add_user(app, Role.STAFF)
    set_user(app, user.id, must_change_password=True)
    login(client, user.email, PASSWORD)
    assert change_password(client, PASSWORD, NEW_PASSWORD).status_code == 303
    assert client.get("/account").status_code == 200
    assert get_user(app, user.id).must_change_password is False


def test_forced_change_still_lets_the_user_sign_out(app, client):
    user = add_user(app, Role.STAFF)
    set_user(app, user.id, must_change_password=True)
    login(client, user.email, PASSWORD)
    response = client.post("/logout", data={})
    assert response.status_code == 303 and location(response) == "/login"


# --- next= after log-in -----------------------------------------------------------------

def test_login_returns_to_the_page_that_asked_for_it(app, client):
    user = add_user(app, Role.STAFF)
    asked = client.get("/account")
    assert is_login_redirect(asked)
    next_path = redirect_query(asked)["next"][0]
    response = client.post("/login", data={"login": user.email, "password": PASSWORD, "next": next_path})
    assert location(response) == "/account"


@pytest.mark.parametrize("target", ["//evil.example", "//evil.example/account", "https://evil.example/",
                                    "/\\evil.example", "\\\\evil.example", "/\t/evil.example", "/\n/evil.example",
                                    "javascript:alert(1)"])
def test_login_never_follows_next_to_another_site(app, client, target):
    user = add_user(app, Role.STAFF)
    response = client.post("/login", data={"login": user.email, "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


def test_language_switch_never_follows_next_to_another_site(app, client):
    response = client.post("/locale", data={"locale": "en", "next": "//evil.example"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


# --- self-registration ------------------------------------------------------------------

def test_registration_by_email_creates_an_unconfirmed_petitioner_and_sends_a_code(app, client):
    response = register(client, "New.Petitioner@Test.Example", name="王新")
    assert response.status_code == 303
    assert location(response) == "/account/confirm"
    with database(app):
        user = find_by_login("new.petitioner@test.example")
        assert user is not None
        assert (user.role, user.display_name, user.email, user.contact_confirmed_at) == (
            Role.PETITIONER, "王新", "new.petitioner@test.example", None)
    messages = outbox(app, "new.petitioner@test.example")
    assert len(messages) == 1 and messages[0].channel == "email"
    assert re.search(r"\b\d{6}\b", messages[0].body)
    assert audit_actions(app) == ["user.registered", "code.issued"]
    assert client.get("/account/confirm").status_code == 200  # signed in, asked for the code


def test_registration_by_mobile_number_sends_the_code_as_a_text_message(app, client):
    response = register(client, "+86 139 0000 1111")
    assert response.status_code == 303
    assert count(app, User, User.phone == "13900001111", User.email.is_(None)) == 1
    messages = outbox(app, "13900001111")
    assert len(messages) == 1 and messages[0].channel == "sms"
    assert re.search(r"\b\d{6}\b", messages[0].body)


def test_the_right_code_confirms_the_contact(app, client):
    register(client, "confirm.me@test.example")
    response = confirm(client, sent_code(app, "confirm.me@test.example"))
    assert response.status_code == 303
    assert location(response) == "/"
    with database(app):
        user = find_by_login("confirm.me@test.example")
        assert user.contact_confirmed_at is not None
    assert newest_code_row(app, user.id).used_at is not None
    assert audit_actions(app)[-1] == "user.contact_confirmed"
    assert location(client.get("/account/confirm")) == "/"  # nothing left to confirm


def test_a_wrong_code_is_refused_and_counted(app, client):
    register(client, "wrong.code@test.example")
    switch_language(client, "en")
    response = confirm(client, other_code(sent_code(app, "wrong.code@test.example")))
    assert response.status_code == 200
    assert field_error(response, "code") == "The code is not correct."
    with database(app):
        user = find_by_login("wrong.code@test.example")
        assert user.contact_confirmed_at is None
    assert newest_code_row(app, user.id).attempts == 1
    assert audit_actions(app)[-1] == "code.failed"


def test_after_five_wrong_tries_even_the_right_code_is_refused(app, client):
    register(client, "five.tries@test.example")
    switch_language(client, "en")
    code = sent_code(app, "five.tries@test.example")
    for _ in range(rules.ONE_TIME_CODE_MAX_ATTEMPTS):
        assert confirm(client, other_code(code)).status_code == 200
    response = confirm(client, code)
    assert response.status_code == 200
    assert field_error(response, "code") == "The code has expired or was used up. Ask for a new one."
    with database(app):
        assert find_by_login("five.tries@test.example").contact_confirmed_at is None


def test_an_expired_code_is_refused(app, client):
    register(client, "late@test.example")
    code = sent_code(app, "late@test.example")
    with database(app) as session:
        row = session.scalars(select(OneTimeCode)).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert confirm(client, code).status_code == 200
    with database(app):
        assert find_by_login("late@test.example").contact_confirmed_at is None


def test_a_new_code_voids_the_old_one(app, client):
    register(client, "resend@test.example")
    old = sent_code(app, "resend@test.example")
    new = old
    while new == old:  # two random codes can coincide; ask again until they differ
        response = client.post("/account/confirm/resend", data={})
        assert response.status_code == 303 and location(response) == "/account/confirm"
        new = sent_code(app, "resend@test.example")
    with database(app) as session:
        rows = session.scalars(select(OneTimeCode).order_by(OneTimeCode.id)).all()
        assert all(row.used_at is not None for row in rows[:-1])  # every earlier code is void
        assert rows[-1].used_at is None
    assert confirm(client, old).status_code == 200
    assert confirm(client, new).status_code == 303
    with database(app):
        assert find_by_login("resend@test.example").contact_confirmed_at is not None


@pytest.mark.parametrize("existing, typed", [
    ({"email": "taken@test.example"}, "Taken@Test.Example"),
    ({"phone": "13700001111"}, "+86 137 0000 1111"),
])
def test_registration_refuses_a_login_that_is_taken(app, client, existing, typed):
    add_user(app, Role.STAFF, **existing)
    switch_language(client, "en")
    response = register(client, typed)
    assert response.status_code == 200
    assert field_error(response, "login") == "An account with this login already exists."
    assert count(app, User) == 1
    assert count(app, OutboxMessage) == 0


def test_registration_refuses_something_that_is_neither_email_nor_mobile(app, client):
    switch_language(client, "en")
    response = register(client, "12345")
    assert response.status_code == 200
    assert field_error(response, "login") == "Enter a valid email address or mobile number."
    assert count(app, User) == 0


def test_registration_refuses_a_password_containing_the_mobile_number_however_typed(app, client):
    switch_language(client, "en")
    response = register(client, "+86 139 0000 1111", password="Ab13900001111")
    assert response.status_code == 200
    assert "This password is too easy to guess." in field_error(response, "password")
    assert count(app, User) == 0


def test_registration_applies_the_password_policy(app, client):
    switch_language(client, "en")
    response = register(client, "weak@test.example", password="short1")
    assert response.status_code == 200
    assert "Use at least 10 characters." in field_error(response, "password")
    assert count(app, User) == 0


# --- invitations ------------------------------------------------------------------------

@pytest.fixture
def admin_client(app):
    client = app.test_client()
    sign_in(app, client, Role.ADMIN)
    return client


def test_invitation_puts_a_one_time_link_in_the_outbox(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    token = path.rsplit("/", 1)[1]
    with database(app) as session:
        invitation = session.scalars(select(Invitation)).one()
        assert (invitation.email, invitation.department_id, invitation.status) == (
            "rep@dept.example", department.id, "pending")
        assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only a digest is stored
    assert audit_actions(app)[-1] == "invitation.created"


def test_invitation_link_creates_a_department_rep_in_that_department(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    visitor = app.test_client()
    page = visitor.get(path)
    assert page.status_code == 200
    assert "rep@dept.example" in text(page) and department.name in text(page)
    response = accept(visitor, path, phone="+86 136 0000 2222")
    assert response.status_code == 303 and location(response) == "/"
    with database(app) as session:
        user = find_by_login("rep@dept.example")
        assert (user.role, user.department_id, user.phone, user.display_name) == (
            Role.DEPARTMENT_REP, department.id, "13600002222", "周代表")
        assert user.contact_confirmed_at is not None and not user.must_change_password
        invitation = session.scalars(select(Invitation)).one()
        assert invitation.accepted_user_id == user.id and invitation.status == "accepted"
    assert signed_in(visitor)
    assert audit_actions(app)[-2:] == ["invitation.accepted", "user.created"]


def test_invitation_link_works_only_once(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    assert accept(app.test_client(), path).status_code == 303
    second = app.test_client()
    assert second.get(path).status_code == 404
    assert accept(second, path, name="冒名者").status_code == 404
    assert count(app, User, User.email == "rep@dept.example") == 1


def test_expired_invitation_shows_the_invalid_page(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    with database(app) as session:
        session.scalars(select(Invitation)).one().expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    visitor = english_client(app)
    response = visitor.get(path)
    assert response.status_code == 404
    assert "Invitation not valid" in text(response)
    assert accept(visitor, path).status_code == 404
    assert count(app, User, User.email == "rep@dept.example") == 0


def test_revoked_invitation_shows_the_invalid_page(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    with database(app) as session:
        invitation_id = session.scalars(select(Invitation.id)).one()
    assert admin_client.post(f"/admin/invitations/{invitation_id}/revoke", data={}).status_code == 303
    visitor = english_client(app)
    response = visitor.get(path)
    assert response.status_code == 404
    assert "Invitation not valid" in text(response)
    assert accept(visitor, path).status_code == 404
    assert count(app, User, User.email == "rep@dept.example") == 0


def test_made_up_invitation_token_shows_the_invalid_page(app, client):
    assert client.get("/invitation/not-a-real-token").status_code == 404


def test_accepting_an_invitation_applies_the_password_policy(app, admin_client):
    department = add_department(app)
    path = invite(app, admin_client, "rep@dept.example", department.id)
    visitor = english_client(app)
    response = visitor.post(path, data={"display_name": "周代表", "phone": "", "password": "rep@dept.example1",
                                        "password2": "rep@dept.example1"})
    assert response.status_code == 200
    assert "This password is too easy to guess." in field_error(response, "password")
    assert count(app, User, User.email == "rep@dept.example") == 0
    assert visitor.get(path).status_code == 200  # the link still works


def test_flash_after_registration_names_where_the_code_went(app, client):
    switch_language(client, "en")
    response = register(client, "flash@test.example")
    page = client.get(location(response))
    assert ("success", "Your account is created. Enter the code we sent to flash@test.example.") in flashes(page)

