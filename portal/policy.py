"""Who may do what: the one place for access rules.

* PERMISSIONS maps each permission to the roles that hold it.
* OBJECT_RULES narrows a permission to particular objects (a department representative
  only where their department takes part, a petitioner only their own).
* Every route declares its rule with one of the decorators below: @public, @signed_in
  or @requires("permission"). tests/test_access_routes.py fails for a route without one.
* Templates call can(...) (a Jinja global) to show or hide the same controls.
"""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import abort
from flask_login import current_user

from portal.accounts.models import Role

A = Role.ADMIN
S = Role.STAFF
M = Role.MEDIATOR
D = Role.DEPARTMENT_REP
L = Role.LEADER
P = Role.PETITIONER
EVERYONE = frozenset(Role)

PERMISSIONS: dict[str, frozenset[Role]] = {
    "account.use": EVERYONE,  # own profile, password, language
    "admin.dashboard": frozenset({A}),
    "admin.users": frozenset({A}),
    "admin.departments": frozenset({A}),
    "admin.invitations": frozenset({A}),
    "admin.outbox": frozenset({A}),
    "admin.audit": frozenset({A}),
    "admin.holidays": frozenset({A}),
    "user.view": frozenset({A}),
    "user.edit": frozenset({A}),
    "user.deactivate": frozenset({A}),
}

# permission -> rule(user, obj) that must also hold when an object is given
OBJECT_RULES: dict[str, Callable] = {
    # An admin never deactivates their own account, so the portal cannot lose its last admin by accident.
    "user.deactivate": lambda user, target: user.id != target.id,
}


def has_role_permission(user, permission: str) -> bool:
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.role in PERMISSIONS[permission]


def can(user, permission: str, obj=None) -> bool:
    if not has_role_permission(user, permission):
        return False
    rule = OBJECT_RULES.get(permission)
    if obj is not None and rule is not None:
        return bool(rule(user, obj))
    return True


def ensure(permission: str, obj=None) -> None:
    """Abort with 403 unless the current user may do `permission` (on `obj`)."""
    if not can(current_user, permission, obj):
        abort(403)


# --- route declarations ---------------------------------------------------------------

def _declare(view, rule: str):
    view.access_rule = rule
    return view


def public(view):
    """Anyone, signed in or not."""
    return _declare(view, "public")


def signed_in(view):
    """Any signed-in user; object checks happen inside the view through ensure()."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            from portal.extensions import login_manager

            return login_manager.unauthorized()
        return view(*args, **kwargs)

    return _declare(wrapper, "signed_in")


def requires(permission: str):
    """Signed-in users whose role holds `permission`; others get 403, anonymous users the log-in page."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                from portal.extensions import login_manager

                return login_manager.unauthorized()
            if not has_role_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        return _declare(wrapper, f"requires:{permission}")

    return decorator


def allowed_roles(view) -> frozenset[Role] | None:
    """The roles a declared route admits (None for public routes). Used by the access tests."""
    rule = getattr(view, "access_rule", None)
    if rule == "public":
        return None
    if rule == "signed_in":
        return EVERYONE
    if rule and rule.startswith("requires:"):
        return PERMISSIONS[rule.split(":", 1)[1]]
    raise LookupError("route declares no access rule")
