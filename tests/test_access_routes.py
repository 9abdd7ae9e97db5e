"""Every route declares who may use it, and the routes do what the declaration says.

The tests walk app.url_map, so a new route is covered (and a route without an access rule fails) without
touching this file. Routes with URL parameters are opened with real records where the test knows the
parameter (users, departments, invitations); any other parameter gets a placeholder value.
"""
from __future__ import annotations

import re

import pytest
from flask import url_for
from flask.testing import FlaskClient
from sqlalchemy import select

from portal import config as portal_config, create_app, policy
from portal.accounts.models import Department, Invitation, Role, User
from portal.accounts.services import create_invitation
from portal.extensions import db
from tests.helpers import (add_department, add_user, catalog, get_user, is_login_redirect, page_lang,
                           parameterless_get_routes, redirect_query, sign_in, switch_language, text)

ANONYMOUS = "anonymous"
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


# --- helpers ----------------------------------------------------------------------------

def undeclared_routes(app) -> list[str]:
    """Endpoints whose view has no access rule (or one that names no known permission)."""
    missing = []
    for endpoint, view in app.view_functions.items():
        if endpoint == "static":
            continue
        try:
            policy.allowed_roles(view)
        except (LookupError, KeyError):
            missing.append(endpoint)
    return sorted(missing)


def admits(app, endpoint: str, who) -> bool:
    """Does the route's declared rule let `who` (a Role or ANONYMOUS) in?"""
    roles = policy.allowed_roles(app.view_functions[endpoint])
    if roles is None:
        return True
    return who != ANONYMOUS and who in roles


def is_public(app, endpoint: str) -> bool:
    return policy.allowed_roles(app.view_functions[endpoint]) is None


def parameter_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules() if rule.arguments and rule.endpoint != "static"),
                  key=lambda rule: rule.rule)


def post_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules() if rule.methods & UNSAFE_METHODS),
                  key=lambda rule: rule.rule)


def build_path(app, rule, known: dict) -> str:
    """The rule's URL with real records for known parameters and a placeholder for the others."""
    converters = {name: converter for converter, name in re.findall(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", rule.rule)}
    values = {name: known[name] if name in known else (1 if converters[name] in ("int", "float") else "placeholder")
              for name in rule.arguments}
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


@pytest.fixture
def records(app) -> dict:
    """Real records for the URL parameters the tests know about."""
    department = add_department(app)
    target = add_user(app, Role.STAFF)
    inviter = add_user(app, Role.ADMIN)
    with app.test_request_context():  # the invitation link is built from the request
        token = create_invitation(email="invited@test.example", display_name="",
                                  department=db.session.get(Department, department.id),
                                  invited_by=db.session.get(User, inviter.id))
        invitation_id = db.session.scalars(select(Invitation.id)).one()
    return {"user_id": target.id, "department_id": department.id, "invitation_id": invitation_id, "token": token}


def acceptable(response, allowed: bool, anonymous: bool) -> bool:
    status = response.status_code
    if not allowed:
        return is_login_redirect(response) if anonymous else status == 403
    return status == 200 or (300 <= status < 400 and not is_login_redirect(response))


# --- (1) every route declares its rule --------------------------------------------------

def test_every_route_declares_an_access_rule(app):
    assert undeclared_routes(app) == []


def test_the_walk_notices_a_route_without_a_rule():
    bare = create_app(portal_config.testing("sqlite://"))
    bare.add_url_rule("/forgotten", "forgotten", lambda: "open to all")
    assert undeclared_routes(bare) == ["forgotten"]


def test_every_admin_route_admits_only_administrators(app):
    wrong = {}
    for rule in app.url_map.iter_rules():
        roles = policy.allowed_roles(app.view_functions[rule.endpoint]) if rule.endpoint != "static" else None
        if rule.rule.startswith("/admin/") and roles != frozenset({Role.ADMIN}):
            wrong[rule.rule] = sorted(role.value for role in roles or ())
    assert wrong == {}


# --- (2) roles x routes -----------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_log_in_except_on_public_routes(app, client):
    wrong = []
    for path, endpoint in parameterless_get_routes(app):
        response = client.get(path)
        if is_public(app, endpoint):
            if not (response.status_code == 200 or 300 <= response.status_code < 400):
                wrong.append((path, response.status_code))
        elif not is_login_redirect(response) or redirect_query(response).get("next") != [path]:
            wrong.append((path, response.status_code, response.headers.get("Location")))
    assert wrong == []


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_reaches_exactly_the_routes_its_rule_admits(app, client, role):
    sign_in(app, client, role)
    wrong = []
    for path, endpoint in parameterless_get_routes(app):
        response = client.get(path)
        if not acceptable(response, admits(app, endpoint, role), anonymous=False):
            wrong.append((path, response.status_code, response.headers.get("Location")))
    assert wrong == []


@pytest.mark.parametrize("who", [ANONYMOUS, *Role], ids=lambda who: getattr(who, "value", who))
def test_routes_with_parameters_follow_their_rule_for_every_role(app, client, records, who):
    if who != ANONYMOUS:
        sign_in(app, client, who)
    wrong = []
    for rule in parameter_rules(app):
        if "GET" not in rule.methods or is_public(app, rule.endpoint):
            continue  # public ones below: opening an invitation link signs the visitor out
        path = build_path(app, rule, records)
        response = client.get(path)
        allowed = admits(app, rule.endpoint, who)
        known = set(rule.arguments) <= set(records)
        if known or not allowed:
            ok = acceptable(response, allowed, anonymous=who == ANONYMOUS)
        else:  # an admitted role on a placeholder record: anything but a refusal by role or a crash
            ok = response.status_code < 500 and response.status_code != 403 and not is_login_redirect(response)
        if not ok:
            wrong.append((path, response.status_code, response.headers.get("Location")))
    assert wrong == []


def test_the_parameter_walk_uses_real_records_for_the_admin_pages(app, records):
    opened = {rule.endpoint for rule in parameter_rules(app) if set(rule.arguments) <= set(records)}
    assert {"admin.edit_user", "admin.edit_department", "accounts.accept_invitation",
            "admin.set_user_active", "admin.reset_password", "admin.revoke_invitation"} <= opened


def test_public_invitation_link_opens_for_everyone(app, records):
    for who in [ANONYMOUS, *Role]:
        client = app.test_client()
        if who != ANONYMOUS:
            sign_in(app, client, who)
        assert client.get(f"/invitation/{records['token']}").status_code == 200, who


def test_post_only_routes_refuse_get(app, client, records):
    sign_in(app, client, Role.ADMIN)
    wrong = []
    post_only = [rule for rule in post_rules(app) if "GET" not in rule.methods]
    assert post_only, "no POST-only routes found"
    for rule in post_only:
        for visitor in (client, app.test_client()):
            response = visitor.get(build_path(app, rule, records))
            if response.status_code != 405:
                wrong.append((rule.rule, response.status_code))
    assert wrong == []


@pytest.mark.parametrize("who", [ANONYMOUS, Role.ADMIN], ids=["anonymous", "admin"])
def test_every_post_without_csrf_token_is_refused(app, client, records, who):
    if who != ANONYMOUS:
        sign_in(app, client, who)
    wrong = []
    for rule in post_rules(app):
        response = FlaskClient.post(client, build_path(app, rule, records), data={"locale": "en", "active": "0"})
        if response.status_code != 400:
            wrong.append((rule.rule, response.status_code))
    assert wrong == []


def test_a_refused_post_changes_nothing_and_explains(app, client, records):
    sign_in(app, client, Role.ADMIN, locale="en")
    response = FlaskClient.post(client, f"/admin/users/{records['user_id']}/active", data={"active": "0"})
    assert response.status_code == 400
    assert "The form has expired" in text(response)
    assert get_user(app, records["user_id"]).active is True


def test_a_signed_in_user_keeps_the_session_after_a_refused_logout(app, client):
    sign_in(app, client, Role.STAFF)
    assert FlaskClient.post(client, "/logout").status_code == 400
    assert client.get("/account").status_code == 200


def test_only_admins_see_the_admin_links(app, client):
    sign_in(app, client, Role.PETITIONER)
    petitioner_home = client.get("/").get_data(as_text=True)
    admin_client = app.test_client()
    sign_in(app, admin_client, Role.ADMIN)
    admin_home = admin_client.get("/").get_data(as_text=True)
    for link in ('href="/admin/users"', 'href="/admin/audit"', 'href="/admin/outbox"'):
        assert link in admin_home
        assert link not in petitioner_home


# --- error pages in both languages ------------------------------------------------------

def assert_speaks(app, response, locale: str, *messages: str) -> None:
    assert page_lang(response) == ("zh-CN" if locale == "zh_CN" else "en")
    page = text(response)
    for message in messages:
        translated = catalog(app, message, locale)
        assert translated in page
        if translated != message:
            assert message not in page


def test_forbidden_page_is_in_chinese_by_default(app, client):
    sign_in(app, client, Role.PETITIONER)
    response = client.get("/admin/")
    assert response.status_code == 403
    assert_speaks(app, response, "zh_CN", "Access denied", "You do not have access to this page.")


def test_forbidden_page_is_in_english_after_switching(app, client):
    user = sign_in(app, client, Role.PETITIONER)
    switch_language(client, "en")
    response = client.get("/admin/")
    assert response.status_code == 403
    assert_speaks(app, response, "en", "Access denied", "You do not have access to this page.")
    assert get_user(app, user.id).locale == "en"  # the choice is kept with the account


def test_not_found_page_is_in_chinese_by_default(app, client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_speaks(app, response, "zh_CN", "Page not found", "There is nothing at this address.")


def test_not_found_page_is_in_english_after_switching(app, client):
    switch_language(client, "en")
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert_speaks(app, response, "en", "Page not found", "There is nothing at this address.")


def test_unknown_language_is_ignored(app, client):
    response = client.post("/locale", data={"locale": "xx", "next": "/login"})
    assert response.status_code == 303
    assert page_lang(client.get("/login")) == "zh-CN"
