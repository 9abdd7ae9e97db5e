"""Accounts: passwords, sign-in with lock-out, one-time codes, registration, invitations.

No request object here; views pass what they read from the request. Every state change writes the audit trail.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import force_locale, gettext as _
from sqlalchemy import func, or_, select

from portal import rules
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.timeutil import utcnow
from portal.transactions import Refusal

from .models import Department, Invitation, OneTimeCode, Role, User

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")  # mainland mobile numbers
COMMON_PASSWORDS = {"password123", "1234567890", "qwertyuiop", "12345678910", "password1234", "abc1234567"}


class AccountError(Refusal):
    """A refusal with a message for the user (already translated) and the form field it concerns."""


# --- logins and passwords ---------------------------------------------------------------

def normalize_login(value: str) -> tuple[str, str]:
    """('email', address) or ('phone', digits); raises AccountError for anything else."""
    value = (value or "").strip()
    if "@" in value:
        value = value.lower()
        if not EMAIL_RE.match(value):
            raise AccountError(_("Enter a valid email address or mobile number."), "login")
        return "email", value
    digits = re.sub(r"[\s\-()]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not PHONE_RE.match(digits):
        raise AccountError(_("Enter a valid email address or mobile number."), "login")
    return "phone", digits


def _hasher() -> PasswordHasher:
    if current_app.config.get("PORTAL_ARGON2_FAST"):
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _verify_password(user: User, password: str) -> bool:
    hasher = _hasher()
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return True


def password_problems(password: str, login: str = "") -> list[str]:
    if login:
        try:  # compare with the login as stored: "+86 139 0000 1111" is 13900001111
            login = normalize_login(login)[1]
        except AccountError:
            login = ""  # an invalid login is refused on its own
    problems = []
    if len(password) < rules.PASSWORD_MIN_LENGTH:
        problems.append(_("Use at least %(n)d characters.", n=rules.PASSWORD_MIN_LENGTH))
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        problems.append(_("Use both letters and digits."))
    if password.lower() in COMMON_PASSWORDS or (login and login.lower() in password.lower()):
        problems.append(_("This password is too easy to guess."))
    return problems


def _new_session_token() -> str:
    return secrets.token_hex(16)


def find_by_login(value: str) -> User | None:
    try:
        kind, normalized = normalize_login(value)
    except AccountError:
        return None
    column = User.email if kind == "email" else User.phone
    return db.session.scalar(select(User).where(column == normalized))


def login_taken(kind: str, value: str, exclude_id: int | None = None) -> bool:
    column = User.email if kind == "email" else User.phone
    query = select(User.id).where(column == value)
    if exclude_id:
        query = query.where(User.id != exclude_id)
    return db.session.scalar(query) is not None


# --- sign-in ----------------------------------------------------------------------------

@dataclass
class LoginRefused(Exception):
    message: str
    locked_until: datetime | None = None


def authenticate(login: str, password: str) -> User:
    """Return the user or raise LoginRefused. Failed attempts count towards the lock-out."""
    user = find_by_login(login)
    now = utcnow()
    if user is None:
        _hasher().hash(password)  # same work as a real check, so timing does not reveal accounts
        record("auth.login_failed", details={"login": login[:100], "reason": "unknown"})
        db.session.commit()
        raise LoginRefused(_("The login or password is not correct."))
    if user.locked_until and user.locked_until > now:
        record("auth.login_refused_locked", user, actor=user)
        db.session.commit()
        raise LoginRefused(_("This account is locked after too many failed log-ins."), user.locked_until)
    if not _verify_password(user, password):
        if user.failed_window_start is None or now - user.failed_window_start > rules.LOGIN_FAILURE_WINDOW:
            user.failed_window_start, user.failed_logins = now, 0
        user.failed_logins += 1
        details = {"failures": user.failed_logins}
        if user.failed_logins >= rules.LOGIN_FAILURES_BEFORE_LOCK:
            user.locked_until = now + rules.LOGIN_LOCK_DURATION
            user.failed_logins, user.failed_window_start = 0, None
            details["locked_until"] = user.locked_until.isoformat()
        record("auth.login_failed", user, actor=user, details=details)
        db.session.commit()
        if user.locked_until and user.locked_until > now:
            raise LoginRefused(_("This account is locked after too many failed log-ins."), user.locked_until)
        raise LoginRefused(_("The login or password is not correct."))
    if not user.active:
        record("auth.login_refused_inactive", user, actor=user)
        db.session.commit()
        raise LoginRefused(_("This account has been deactivated. Contact the petition bureau."))
    user.failed_logins, user.failed_window_start, user.locked_until = 0, None, None
    user.last_login_at = now
    record("auth.login", user, actor=user)
    db.session.commit()
    return user


def record_logout(user: User) -> None:
    record("auth.logout", user, actor=user)
    db.session.commit()


def change_password(user: User, current: str, new: str) -> None:
    if not _verify_password(user, current):
        raise AccountError(_("The current password is not correct."), "current")
    problems = password_problems(new, user.login)
    if problems:
        raise AccountError(" ".join(problems), "password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_token = _new_session_token()  # other sessions end
    record("user.password_changed", user, actor=user)
    db.session.commit()


def set_locale(user: User, locale: str) -> None:
    if user.locale != locale:
        user.locale = locale
        record("user.locale_changed", user, details={"locale": locale})
        db.session.commit()


# --- one-time codes ---------------------------------------------------------------------

def _code_digest(user_id: int, purpose: str, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user_id}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def issue_code(user: User, purpose: str, compose, destination: str | None = None) -> OneTimeCode:
    """Create a code, send it to the user's email (or phone), or to `destination` (e.g. a phone on file for a case),
    and void earlier unused codes for the purpose.

    compose(code, minutes) returns the (subject, body) of the message.
    """
    now = utcnow()
    for old in db.session.scalars(
        select(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose,
                                  OneTimeCode.used_at.is_(None))
    ):
        old.used_at = now
    code = "".join(secrets.choice(string.digits) for _ in range(rules.ONE_TIME_CODE_DIGITS))
    destination = destination or user.email or user.phone
    otc = OneTimeCode(user_id=user.id, purpose=purpose, destination=destination,
                      code_hash=_code_digest(user.id, purpose, code),
                      expires_at=now + rules.ONE_TIME_CODE_VALIDITY)
    db.session.add(otc)
    minutes = int(rules.ONE_TIME_CODE_VALIDITY.total_seconds() // 60)
    with force_locale(user.locale):
        subject, body = compose(code, minutes)
    send_message(destination, subject, body)
    record("code.issued", otc, actor=user, details={"purpose": purpose, "destination": destination})
    return otc


def check_code(user: User, purpose: str, code: str) -> None:
    """Accept the newest valid code or raise AccountError; each wrong try counts."""
    otc = db.session.scalar(
        select(OneTimeCode).where(OneTimeCode.user_id == user.id, OneTimeCode.purpose == purpose,
                                  OneTimeCode.used_at.is_(None)).order_by(OneTimeCode.id.desc()).limit(1)
    )
    now = utcnow()
    if otc is None or otc.expires_at <= now or otc.attempts >= rules.ONE_TIME_CODE_MAX_ATTEMPTS:
        raise AccountError(_("The code has expired or was used up. Ask for a new one."), "code")
    if not hmac.compare_digest(otc.code_hash, _code_digest(user.id, purpose, (code or "").strip())):
        otc.attempts += 1
        record("code.failed", otc, actor=user, details={"attempts": otc.attempts})
        db.session.commit()
        raise AccountError(_("The code is not correct."), "code")
    otc.used_at = now
    record("code.used", otc, actor=user, details={"purpose": purpose})


def send_contact_confirmation(user: User) -> None:
    issue_code(user, "confirm_contact", lambda code, minutes: (
        _("Your confirmation code"),
        _("Your confirmation code for the petition portal is %(code)s. It is valid for %(minutes)d minutes.",
          code=code, minutes=minutes)))
    db.session.commit()


def confirm_contact(user: User, code: str) -> None:
    check_code(user, "confirm_contact", code)
    user.contact_confirmed_at = utcnow()
    record("user.contact_confirmed", user, actor=user, details={"destination": user.login})
    db.session.commit()


# --- creating accounts ------------------------------------------------------------------

def _place_login(user: User, login: str, exclude_id: int | None = None, expect: str | None = None) -> None:
    kind, value = normalize_login(login)
    if expect == "phone" and kind != "phone":  # an address in the mobile field would replace the email
        raise AccountError(_("Enter a valid mobile number."), "phone")
    if login_taken(kind, value, exclude_id):
        raise AccountError(_("An account with this login already exists."), "login")
    if kind == "email":
        user.email = value
    else:
        user.phone = value


def register_petitioner(display_name: str, login: str, password: str, locale: str) -> User:
    problems = password_problems(password, login)
    if problems:
        raise AccountError(" ".join(problems), "password")
    user = User(display_name=display_name.strip(), role=Role.PETITIONER, locale=locale,
                password_hash=hash_password(password), session_token=_new_session_token())
    _place_login(user, login)
    db.session.add(user)
    record("user.registered", user, actor=user, details={"role": user.role.value})
    send_contact_confirmation(user)
    return user


def _check_department(role: Role, department: Department | None) -> None:
    if role == Role.DEPARTMENT_REP and department is None:
        raise AccountError(_("A department representative belongs to a department."), "department")


def create_user(*, display_name: str, email: str | None, phone: str | None, role: Role,
                department: Department | None, locale: str, password: str) -> User:
    """Admin creates an account; the user must change the given password at first log-in."""
    if not email and not phone:
        raise AccountError(_("Give an email address or a mobile number."), "email")
    _check_department(role, department)
    problems = password_problems(password, email or phone or "")
    if problems:
        raise AccountError(" ".join(problems), "password")
    user = User(display_name=display_name.strip(), role=role, department=department, locale=locale,
                password_hash=hash_password(password), session_token=_new_session_token(),
                must_change_password=True, contact_confirmed_at=utcnow())
    for login, expect in ((email, None), (phone, "phone")):
        if login:
            _place_login(user, login, expect=expect)
    db.session.add(user)
    record("user.created", user, details={"role": role.value, "department": department.code if department else None})
    db.session.commit()
    return user


def update_user(user: User, *, display_name: str, email: str | None, phone: str | None, role: Role,
                department: Department | None, locale: str, active: bool, version: int, acting: User) -> None:
    if version != user.version:
        raise AccountError(_("Someone else changed this record meanwhile. Reload and try again."))
    if not email and not phone:
        raise AccountError(_("Give an email address or a mobile number."), "email")
    _check_department(role, department)
    if not active and user.id == acting.id:
        raise AccountError(_("You cannot deactivate your own account."), "active")
    if role != user.role and user.id == acting.id:  # like deactivation: never lose the last admin by accident
        raise AccountError(_("You cannot change your own role."), "role")
    before = {"display_name": user.display_name, "email": user.email, "phone": user.phone,
              "role": user.role.value, "department_id": user.department_id, "active": user.active}
    # Clear and re-place the logins without flushing in between: a user row without any login breaks has_login.
    with db.session.no_autoflush:
        user.email = user.phone = None
        for login, expect in ((email, None), (phone, "phone")):
            if login:
                _place_login(user, login, exclude_id=user.id, expect=expect)
    user.display_name, user.role, user.department, user.locale = display_name.strip(), role, department, locale
    if user.active and not active:
        user.session_token = _new_session_token()
    user.active = active
    after = {"display_name": user.display_name, "email": user.email, "phone": user.phone,
             "role": user.role.value, "department_id": department.id if department else None, "active": active}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    record("user.updated", user, details=changes)
    db.session.commit()


def set_active(user: User, active: bool, acting: User) -> None:
    if not active and user.id == acting.id:
        raise AccountError(_("You cannot deactivate your own account."), "active")
    if user.active == active:
        return
    user.active = active
    if not active:
        user.session_token = _new_session_token()
    record("user.activated" if active else "user.deactivated", user)
    db.session.commit()


def reset_password(user: User) -> str:
    """Give the user a temporary password (shown once to the admin) that must be changed at log-in."""
    alphabet = string.ascii_letters.replace("l", "").replace("I", "").replace("O", "") + "23456789"
    while True:
        temporary = "".join(secrets.choice(alphabet) for _ in range(rules.TEMPORARY_PASSWORD_LENGTH))
        if not password_problems(temporary):
            break
    user.password_hash = hash_password(temporary)
    user.must_change_password = True
    user.session_token = _new_session_token()
    user.locked_until, user.failed_logins, user.failed_window_start = None, 0, None
    record("user.password_reset", user)
    db.session.commit()
    return temporary


# --- invitations ------------------------------------------------------------------------

def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(*, email: str, display_name: str, department: Department, invited_by: User) -> str:
    kind, email = normalize_login(email)
    if kind != "email":
        raise AccountError(_("Invitations are sent by email."), "email")
    if login_taken("email", email):
        raise AccountError(_("An account with this login already exists."), "login")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(token_hash=_token_digest(token), email=email, display_name=display_name.strip(),
                            department=department, role=Role.DEPARTMENT_REP, invited_by=invited_by,
                            expires_at=utcnow() + rules.INVITATION_VALIDITY)
    db.session.add(invitation)
    link = external_url("accounts.accept_invitation", token=token)
    days = rules.INVITATION_VALIDITY.days
    send_message(email, _("Invitation to the petition portal"),
                 _("You are invited to join the petition portal as a representative of %(department)s.\n"
                   "Open this link within %(days)d days to create your account:\n%(link)s",
                   department=department.name, days=days, link=link))
    record("invitation.created", invitation, details={"email": email, "department": department.code})
    db.session.commit()
    return token


def find_invitation(token: str) -> Invitation | None:
    invitation = db.session.scalar(select(Invitation).where(Invitation.token_hash == _token_digest(token or "")))
    if invitation is None or invitation.status != "pending":
        return None
    return invitation


def accept_invitation(invitation: Invitation, *, display_name: str, phone: str | None, password: str,
                      locale: str) -> User:
    problems = password_problems(password, invitation.email)
    if problems:
        raise AccountError(" ".join(problems), "password")
    if login_taken("email", invitation.email):
        raise AccountError(_("An account with this login already exists."), "login")
    user = User(display_name=display_name.strip(), role=invitation.role, department_id=invitation.department_id,
                email=invitation.email, locale=locale, password_hash=hash_password(password),
                session_token=_new_session_token(), contact_confirmed_at=utcnow())
    if phone:
        kind, value = normalize_login(phone)
        if kind != "phone":
            raise AccountError(_("Enter a valid mobile number."), "phone")
        if login_taken("phone", value):
            raise AccountError(_("An account with this login already exists."), "login")
        user.phone = value
    db.session.add(user)
    db.session.flush()
    invitation.accepted_at, invitation.accepted_user_id = utcnow(), user.id
    record("invitation.accepted", invitation, actor=user, details={"user_id": user.id})
    record("user.created", user, actor=user, details={"role": user.role.value, "via": "invitation"})
    db.session.commit()
    return user


def revoke_invitation(invitation: Invitation) -> None:
    if invitation.status != "pending":
        raise AccountError(_("Only a pending invitation can be revoked."))
    invitation.revoked_at = utcnow()
    record("invitation.revoked", invitation)
    db.session.commit()


# --- departments ------------------------------------------------------------------------

def save_department(department: Department | None, *, name: str, code: str, kind, active: bool,
                    version: int | None = None) -> Department:
    name, code = name.strip(), code.strip().upper()
    if department is not None and version is not None and version != department.version:
        raise AccountError(_("Someone else changed this record meanwhile. Reload and try again."))
    clash = db.session.scalar(
        select(Department).where(or_(func.lower(Department.name) == name.lower(), Department.code == code))
        .where(Department.id != (department.id if department else -1))
    )
    if clash is not None:
        raise AccountError(_("Another department already has this name or code."), "code")
    creating = department is None
    if creating:
        department = Department(name=name, code=code, kind=kind, active=active)
        db.session.add(department)
        record("department.created", department, details={"name": name, "code": code, "kind": kind.value})
    else:
        before = {"name": department.name, "code": department.code, "kind": department.kind.value,
                  "active": department.active}
        department.name, department.code, department.kind, department.active = name, code, kind, active
        after = {"name": name, "code": code, "kind": kind.value, "active": active}
        record("department.updated", department,
               details={k: [before[k], after[k]] for k in before if before[k] != after[k]})
    db.session.commit()
    return department
