"""Administration pages: users, departments, invitations, outbox and the audit trail, each change audited."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from flask_babel import to_user_timezone
from sqlalchemy import select

from portal.accounts.models import Department, DepartmentKind, Invitation, Role, User
from portal.audit.models import AuditEvent
from portal.mail.models import OutboxMessage
from portal.timeutil import utcnow
from tests.conftest import login
from tests.factories import PASSWORD
from tests.helpers import (add_department, add_user, audit_actions, audit_events, count, database, field_error,
                           flashes, form_errors, get_user, is_login_redirect, location, set_user, sign_in, text)

NEW_PASSWORD = "Initial-pass-2026"
STALE = "Someone else changed this record meanwhile. Reload and try again."


# --- helpers ----------------------------------------------------------------------------

@pytest.fixture
def admin(app, client):
    """The client signed in as an administrator who reads English."""
    return sign_in(app, client, Role.ADMIN, locale="en")


def new_user_form(**values) -> dict:
    return {"display_name": "刘新人", "email": "new.person@test.example", "phone": "", "role": "staff",
            "department_id": "0", "locale": "zh_CN", "password": NEW_PASSWORD, **values}


def edit_form(app, user_id: int, **values) -> dict:
    """The user form as the edit page would send it back, with `values` changed."""
    user = get_user(app, user_id)
    form = {"display_name": user.display_name, "email": user.email or "", "phone": user.phone or "",
            "role": user.role.value, "department_id": str(user.department_id or 0), "locale": user.locale,
            "active": "y", "version": str(user.version)}
    form.update(values)
    return {k: v for k, v in form.items() if v is not None}  # None leaves a field out (an unticked box)


def department_form(**values) -> dict:
    return {"name": "Y市教育局", "code": "YX-JYJ", "kind": "government_department", "active": "y", **values}


def hidden_value(response, name: str) -> str:
    match = re.search(rf'<input id="{name}" name="{name}" type="hidden" value="([^"]*)">',
                      response.get_data(as_text=True))
    assert match, f"no hidden {name} field"
    return match.group(1)


def listed_user_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<a href="/admin/users/(\d+)">', response.get_data(as_text=True))]


def audit_rows(response) -> list[tuple[int, str, str]]:
    """(event id, action, object) of every row of the audit table."""
    pattern = (r"<tr>\s*<td>(\d+)</td>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td><code>([^<]*)</code></td>\s*"
               r"<td>([^<]*)</td>")
    return [(int(i), action, " ".join(obj.split())) for i, action, obj in
            re.findall(pattern, response.get_data(as_text=True), re.S)]


def temporary_password(response) -> str:
    match = re.search(r'<p class="secret"><code>([^<]+)</code></p>', response.get_data(as_text=True))
    assert match, "no temporary password on the page"
    return match.group(1)


def signed_in(client) -> bool:
    response = client.get("/account")
    return response.status_code == 200 and not is_login_redirect(response)


# --- users ------------------------------------------------------------------------------

def test_admin_creates_a_user_who_appears_in_the_list(app, client, admin):
    department = add_department(app)
    response = client.post("/admin/users/new", data=new_user_form(role="department_rep",
                                                                  department_id=str(department.id)))
    assert response.status_code == 303
    with database(app) as session:
        user = session.scalars(select(User).where(User.email == "new.person@test.example")).one()
        assert (user.role, user.department_id, user.display_name) == (Role.DEPARTMENT_REP, department.id, "刘新人")
        assert user.must_change_password is True
        assert user.contact_confirmed_at is not None
        user_id = user.id
    assert location(response) == f"/admin/users/{user_id}"
    listing = client.get("/admin/users")
    assert user_id in listed_user_ids(listing)
    assert "new.person@test.example" in text(listing)
    event = audit_events(app, "user.created")[-1]
    assert (event.object_type, event.object_id, event.actor_id) == ("user", str(user_id), admin.id)


def test_a_created_user_must_change_the_password_at_first_log_in(app, client, admin):
    client.post("/admin/users/new", data=new_user_form())
    newcomer = app.test_client()
    assert login(newcomer, "new.person@test.example", NEW_PASSWORD).status_code == 303
    response = newcomer.get("/")
    assert response.status_code == 302 and location(response) == "/account/password"


def test_new_user_with_an_invalid_email_is_refused(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(email="not-an-email"))
    assert response.status_code == 200
    assert field_error(response, "email") == "Enter a valid email address."
    assert count(app, User) == 1  # only the admin
    assert "user.created" not in audit_actions(app)


def test_new_user_without_email_and_phone_is_refused(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(email=""))
    assert response.status_code == 200
    assert field_error(response, "email") == "Give an email address or a mobile number."
    assert count(app, User) == 1


def test_new_user_with_a_taken_login_is_refused(app, client, admin):
    add_user(app, Role.STAFF, email="new.person@test.example")
    response = client.post("/admin/users/new", data=new_user_form(email="New.Person@test.example"))
    assert response.status_code == 200
    assert "An account with this login already exists." in form_errors(response)
    assert count(app, User) == 2


def test_new_user_password_may_not_contain_the_mobile_number_however_typed(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(email="", phone="138 0000 2222",
                                                                  password="Xy13800002222"))
    assert response.status_code == 200
    assert "This password is too easy to guess." in field_error(response, "password")
    assert count(app, User) == 1


def test_new_user_with_an_invalid_mobile_number_is_told_about_the_number(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(email="", phone="12", password="Abcdefgh12345"))
    assert response.status_code == 200
    assert field_error(response, "password") == ""
    assert "Enter a valid email address or mobile number." in form_errors(response)
    assert count(app, User) == 1


def test_an_email_typed_into_the_mobile_field_is_refused(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(phone="other@test.example"))
    assert response.status_code == 200
    assert field_error(response, "phone") == "Enter a valid mobile number."
    assert count(app, User) == 1


def test_editing_an_email_into_the_mobile_field_keeps_the_email(app, client, admin):
    user = add_user(app, Role.STAFF, email="kept@test.example")
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, phone="other@test.example"))
    assert response.status_code == 200
    assert field_error(response, "phone") == "Enter a valid mobile number."
    stored = get_user(app, user.id)
    assert (stored.email, stored.phone) == ("kept@test.example", None)


def test_department_rep_without_department_is_refused(app, client, admin):
    response = client.post("/admin/users/new", data=new_user_form(role="department_rep", department_id="0"))
    assert response.status_code == 200
    assert "A department representative belongs to a department." in form_errors(response)
    assert count(app, User) == 1


def test_edit_saves_the_change_and_audits_it(app, client, admin):
    user = add_user(app, Role.STAFF, name="旧名字")
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, display_name="新名字",
                                                                       phone="+86 135 0000 3333"))
    assert response.status_code == 303 and location(response) == f"/admin/users/{user.id}"
    stored = get_user(app, user.id)
    assert (stored.display_name, stored.phone, stored.email, stored.version) == (
        "新名字", "13500003333", user.email, 2)
    event = audit_events(app, "user.updated")[-1]
    assert event.object_id == str(user.id)
    assert json.loads(event.details)["display_name"] == ["旧名字", "新名字"]


def test_edit_can_replace_the_email_with_a_mobile_number(app, client, admin):
    user = add_user(app, Role.PETITIONER)
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, email="", phone="13500004444"))
    assert response.status_code == 303
    stored = get_user(app, user.id)
    assert (stored.email, stored.phone) == (None, "13500004444")


def test_edit_with_a_stale_version_is_refused_and_changes_nothing(app, client, admin):
    user = add_user(app, Role.STAFF, name="原名")
    page = client.get(f"/admin/users/{user.id}")
    loaded_version = hidden_value(page, "version")
    form = edit_form(app, user.id, display_name="我的修改", version=loaded_version)
    colleague = app.test_client()
    sign_in(app, colleague, Role.ADMIN)
    assert colleague.post(f"/admin/users/{user.id}",
                          data=edit_form(app, user.id, display_name="同事的修改")).status_code == 303
    response = client.post(f"/admin/users/{user.id}", data=form)
    assert response.status_code == 200
    assert STALE in form_errors(response)
    stored = get_user(app, user.id)
    assert (stored.display_name, stored.version) == ("同事的修改", 2)
    assert len(audit_events(app, "user.updated")) == 1


def test_edit_to_another_users_login_is_refused_and_changes_nothing(app, client, admin):
    add_user(app, Role.STAFF, email="first@test.example")
    second = add_user(app, Role.STAFF, email="second@test.example", phone="13500006666")
    response = client.post(f"/admin/users/{second.id}",
                           data=edit_form(app, second.id, email="First@test.example", display_name="改名"))
    assert response.status_code == 200
    assert "An account with this login already exists." in form_errors(response)
    stored = get_user(app, second.id)
    assert (stored.email, stored.phone, stored.display_name, stored.version) == (
        "second@test.example", "13500006666", second.display_name, 1)


def test_admin_cannot_change_their_own_role(app, client, admin):
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(app, admin.id, role="staff"))
    assert response.status_code == 200
    assert field_error(response, "role") == "You cannot change your own role."
    assert get_user(app, admin.id).role == Role.ADMIN
    assert client.get("/admin/").status_code == 200


def test_edit_turning_a_user_into_a_rep_without_department_is_refused(app, client, admin):
    user = add_user(app, Role.STAFF)
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, role="department_rep"))
    assert response.status_code == 200
    assert "A department representative belongs to a department." in form_errors(response)
    assert get_user(app, user.id).role == Role.STAFF


def test_deactivation_ends_the_users_existing_session(app, client, admin):
    user_client = app.test_client()
    user = sign_in(app, user_client, Role.STAFF)
    response = client.post(f"/admin/users/{user.id}/active", data={"active": "0"})
    assert response.status_code == 303
    assert get_user(app, user.id).active is False
    assert not signed_in(user_client)
    assert login(user_client, user.email, PASSWORD).status_code == 200  # refused
    assert audit_actions(app)[-2:] == ["user.deactivated", "auth.login_refused_inactive"]


def test_activation_lets_the_user_sign_in_again(app, client, admin):
    user = add_user(app, Role.STAFF, active=False)
    response = client.post(f"/admin/users/{user.id}/active", data={"active": "1"})
    assert response.status_code == 303
    assert get_user(app, user.id).active is True
    assert login(app.test_client(), user.email, PASSWORD).status_code == 303
    assert "user.activated" in audit_actions(app)


def test_deactivation_by_the_edit_form_also_ends_the_session(app, client, admin):
    user_client = app.test_client()
    user = sign_in(app, user_client, Role.STAFF)
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, active=None))
    assert response.status_code == 303
    assert get_user(app, user.id).active is False
    assert not signed_in(user_client)
    assert json.loads(audit_events(app, "user.updated")[-1].details)["active"] == [True, False]


def test_admin_cannot_deactivate_themself_with_the_button(app, client, admin):
    response = client.post(f"/admin/users/{admin.id}/active", data={"active": "0"})
    assert response.status_code == 403
    assert get_user(app, admin.id).active is True
    assert signed_in(client)
    assert "user.deactivated" not in audit_actions(app)


def test_admin_cannot_deactivate_themself_with_the_edit_form(app, client, admin):
    response = client.post(f"/admin/users/{admin.id}", data=edit_form(app, admin.id, active=None))
    assert response.status_code == 200
    assert field_error(response, "active") == "You cannot deactivate your own account."
    assert get_user(app, admin.id).active is True
    assert signed_in(client)


def test_edit_page_offers_no_deactivate_button_for_oneself(app, client, admin):
    other = add_user(app, Role.STAFF)
    own_page = client.get(f"/admin/users/{admin.id}").get_data(as_text=True)
    other_page = client.get(f"/admin/users/{other.id}").get_data(as_text=True)
    button = '<input type="hidden" name="active" value="0">'
    assert button in other_page
    assert button not in own_page


def test_reset_password_shows_a_temporary_password_that_works_once(app, client, admin):
    user = add_user(app, Role.STAFF)
    set_user(app, user.id, locked_until=utcnow().replace(year=utcnow().year + 1))
    response = client.post(f"/admin/users/{user.id}/reset-password", data={})
    assert response.status_code == 200
    temporary = temporary_password(response)
    assert temporary not in client.get(f"/admin/users/{user.id}").get_data(as_text=True)  # shown only once
    stored = get_user(app, user.id)
    assert stored.must_change_password is True and stored.locked_until is None
    assert login(app.test_client(), user.email, PASSWORD).status_code == 200  # the old password is gone
    newcomer = app.test_client()
    assert login(newcomer, user.email, temporary).status_code == 303
    assert location(newcomer.get("/")) == "/account/password"
    assert "user.password_reset" in audit_actions(app)


def test_reset_password_ends_the_users_sessions(app, client, admin):
    user_client = app.test_client()
    user = sign_in(app, user_client, Role.STAFF)
    client.post(f"/admin/users/{user.id}/reset-password", data={})
    assert not signed_in(user_client)


# --- user list --------------------------------------------------------------------------

def test_user_list_search_finds_by_name_email_or_phone(app, client, admin):
    alice = add_user(app, Role.STAFF, name="王丽丽", email="lili@test.example")
    bob = add_user(app, Role.PETITIONER, name="赵强", phone="13600005555")
    for query, expected in [("丽丽", alice.id), ("lili@", alice.id), ("0000555", bob.id)]:
        ids = listed_user_ids(client.get("/admin/users", query_string={"q": query}))
        assert ids == [expected], query


def test_user_list_filters_by_role(app, client, admin):
    staff = add_user(app, Role.STAFF)
    add_user(app, Role.PETITIONER)
    assert listed_user_ids(client.get("/admin/users?role=staff")) == [staff.id]


def test_htmx_search_returns_only_the_rows_fragment(app, client, admin):
    match = add_user(app, Role.STAFF, name="检索目标")
    add_user(app, Role.STAFF, name="其他人")
    response = client.get("/admin/users", query_string={"q": "检索"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and "<table" in body
    assert listed_user_ids(response) == [match.id]
    assert "HX-Request" in response.headers["Vary"]


def test_full_page_when_not_an_htmx_request_or_when_boosted(app, client, admin):
    plain = client.get("/admin/users")
    boosted = client.get("/admin/users", headers={"HX-Request": "true", "HX-Boosted": "true"})
    for response in (plain, boosted):
        assert response.status_code == 200
        assert "<html" in response.get_data(as_text=True)
        assert 'id="user-rows"' in response.get_data(as_text=True)


def test_user_list_marks_deactivated_and_locked_accounts(app, client, admin):
    add_user(app, Role.STAFF, active=False)
    locked = add_user(app, Role.STAFF)
    set_user(app, locked.id, locked_until=utcnow().replace(year=utcnow().year + 1))
    body = client.get("/admin/users").get_data(as_text=True)
    assert body.count('class="tag tag-muted"') == 1
    assert body.count('class="tag tag-warn"') == 1


# --- departments ------------------------------------------------------------------------

def test_admin_creates_a_department(app, client, admin):
    response = client.post("/admin/departments/new", data=department_form(code="yx-jyj"))
    assert response.status_code == 303
    with database(app) as session:
        department = session.scalars(select(Department).where(Department.name == "Y市教育局")).one()
        assert (department.code, department.kind, department.active) == (
            "YX-JYJ", DepartmentKind.GOVERNMENT_DEPARTMENT, True)
        department_id = department.id
    assert response.headers["Location"].endswith(f"/admin/departments#dept-{department_id}")
    assert f'id="dept-{department_id}"' in client.get("/admin/departments").get_data(as_text=True)
    event = audit_events(app, "department.created")[-1]
    assert event.object_id == str(department_id)
    assert json.loads(event.details)["code"] == "YX-JYJ"


def test_admin_edits_a_department(app, client, admin):
    department = add_department(app, name="旧局名")
    response = client.post(f"/admin/departments/{department.id}",
                           data=department_form(name="新局名", code=department.code, kind="court", version="1"))
    assert response.status_code == 303
    with database(app) as session:
        stored = session.get(Department, department.id)
        assert (stored.name, stored.kind, stored.version) == ("新局名", DepartmentKind.COURT, 2)
    details = json.loads(audit_events(app, "department.updated")[-1].details)
    assert details["name"] == ["旧局名", "新局名"]


@pytest.mark.parametrize("clash", [{"code": "t-dup"}, {"name": "重复的名字"}])
def test_duplicate_department_code_or_name_is_refused(app, client, admin, clash):
    add_department(app, name="重复的名字", code="T-DUP")
    response = client.post("/admin/departments/new", data=department_form(**clash))
    assert response.status_code == 200
    assert field_error(response, "code") == "Another department already has this name or code."
    assert count(app, Department) == 1
    assert "department.created" not in audit_actions(app)


def test_renaming_a_department_to_another_ones_code_is_refused(app, client, admin):
    add_department(app, code="T-ONE")
    second = add_department(app, code="T-TWO")
    response = client.post(f"/admin/departments/{second.id}",
                           data=department_form(name=second.name, code="T-ONE", version="1"))
    assert response.status_code == 200
    assert field_error(response, "code") == "Another department already has this name or code."
    with database(app) as session:
        assert session.get(Department, second.id).code == "T-TWO"


def test_department_edit_with_a_stale_version_is_refused(app, client, admin):
    department = add_department(app, name="原局名")
    client.post(f"/admin/departments/{department.id}", data=department_form(name="第一次", code=department.code,
                                                                            version="1"))
    response = client.post(f"/admin/departments/{department.id}",
                           data=department_form(name="第二次", code=department.code, version="1"))
    assert response.status_code == 200
    assert STALE in form_errors(response)
    with database(app) as session:
        assert session.get(Department, department.id).name == "第一次"


# --- invitations and outbox -------------------------------------------------------------

def invite(client, department_id: int, email: str = "rep@dept.example"):
    return client.post("/admin/invitations", data={"email": email, "display_name": "",
                                                   "department_id": str(department_id)})


def test_invitation_is_created_sent_and_audited(app, client, admin):
    department = add_department(app)
    response = invite(client, department.id)
    assert response.status_code == 303 and location(response) == "/admin/invitations"
    with database(app) as session:
        invitation = session.scalars(select(Invitation)).one()
        assert (invitation.email, invitation.department_id, invitation.invited_by_id) == (
            "rep@dept.example", department.id, admin.id)
    assert count(app, OutboxMessage, OutboxMessage.recipient == "rep@dept.example") == 1
    assert "invitation.created" in audit_actions(app)
    assert "rep@dept.example" in text(client.get("/admin/invitations"))


def test_invitation_for_an_existing_login_is_refused(app, client, admin):
    department = add_department(app)
    add_user(app, Role.STAFF, email="rep@dept.example")
    response = invite(client, department.id)
    assert response.status_code == 200
    assert "An account with this login already exists." in form_errors(response)
    assert count(app, Invitation) == 0
    assert count(app, OutboxMessage) == 0


def test_admin_revokes_a_pending_invitation(app, client, admin):
    department = add_department(app)
    invite(client, department.id)
    with database(app) as session:
        invitation_id = session.scalars(select(Invitation.id)).one()
    response = client.post(f"/admin/invitations/{invitation_id}/revoke", data={})
    assert response.status_code == 303
    with database(app) as session:
        invitation = session.get(Invitation, invitation_id)
        assert invitation.revoked_at is not None and invitation.status == "revoked"
    event = audit_events(app, "invitation.revoked")[-1]
    assert event.object_id == str(invitation_id)


def test_revoking_twice_says_so_and_audits_once(app, client, admin):
    department = add_department(app)
    invite(client, department.id)
    with database(app) as session:
        invitation_id = session.scalars(select(Invitation.id)).one()
    client.post(f"/admin/invitations/{invitation_id}/revoke", data={})
    response = client.post(f"/admin/invitations/{invitation_id}/revoke", data={}, follow_redirects=True)
    assert ("error", "Only a pending invitation can be revoked.") in flashes(response)
    assert audit_actions(app).count("invitation.revoked") == 1


def test_outbox_page_shows_the_messages(app, client, admin):
    department = add_department(app)
    invite(client, department.id)
    with database(app) as session:
        body = session.scalars(select(OutboxMessage.body)).one()
    page = text(client.get("/admin/outbox"))
    assert "rep@dept.example" in page
    assert body in page


def dashboard_count(response, link: str) -> int:
    match = re.search(rf'<dd><a href="{link}">(\d+)</a></dd>', response.get_data(as_text=True))
    assert match, f"no count linking to {link}"
    return int(match.group(1))


def test_dashboard_counts_match_the_database(app, client, admin):
    department = add_department(app)
    add_user(app, Role.STAFF)
    invite(client, department.id)
    page = client.get("/admin/")
    assert dashboard_count(page, "/admin/users") == count(app, User) == 2
    assert dashboard_count(page, "/admin/departments") == count(app, Department) == 1
    assert dashboard_count(page, "/admin/outbox") == count(app, OutboxMessage) == 1
    assert dashboard_count(page, "/admin/audit") == count(app, AuditEvent)


def test_dashboard_counts_only_invitations_that_can_still_be_used(app, client, admin):
    department = add_department(app)
    for email in ("open@dept.example", "expired@dept.example", "revoked@dept.example"):
        invite(client, department.id, email=email)
    with database(app) as session:
        invitations = {i.email: i for i in session.scalars(select(Invitation))}
        invitations["expired@dept.example"].expires_at = utcnow() - timedelta(seconds=1)
        invitations["revoked@dept.example"].revoked_at = utcnow()
        session.commit()
    assert dashboard_count(client.get("/admin/"), "/admin/invitations") == 1


# --- audit page -------------------------------------------------------------------------

def test_audit_page_filters_by_action(app, client, admin):
    add_department(app)
    client.post("/admin/users/new", data=new_user_form())
    client.post("/admin/users/new", data=new_user_form(email="second@test.example"))
    rows = audit_rows(client.get("/admin/audit?action=user.created"))
    expected = [e.id for e in reversed(audit_events(app, "user.created"))]
    assert len(expected) == 2
    assert [row[0] for row in rows] == expected
    assert {row[1] for row in rows} == {"user.created"}


def test_audit_action_filter_matches_a_prefix(app, client, admin):
    user = add_user(app, Role.STAFF)
    client.post(f"/admin/users/{user.id}/active", data={"active": "0"})
    actions = {row[1] for row in audit_rows(client.get("/admin/audit?action=user."))}
    assert actions == {"user.deactivated"}


def test_audit_page_filters_by_object(app, client, admin):
    first = add_user(app, Role.STAFF)
    second = add_user(app, Role.STAFF)
    for user in (first, second):
        client.post(f"/admin/users/{user.id}/reset-password", data={})
        client.post(f"/admin/users/{user.id}/active", data={"active": "0"})
    rows = audit_rows(client.get(f"/admin/audit?object_type=user&object_id={first.id}"))
    assert [row[1] for row in rows] == ["user.deactivated", "user.password_reset"]
    assert {row[2] for row in rows} == {f"user {first.id}"}


def test_user_page_links_to_the_history_of_that_account(app, client, admin):
    user = add_user(app, Role.STAFF)
    page = client.get(f"/admin/users/{user.id}").get_data(as_text=True)
    assert f"/admin/audit?object_type=user&amp;object_id={user.id}" in page


def test_audit_htmx_filter_returns_only_rows(app, client, admin):
    response = client.get("/admin/audit?action=auth.", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in response.get_data(as_text=True)
    assert [row[1] for row in audit_rows(response)] == ["auth.login"]


def test_audit_page_filters_by_date(app, client, admin):
    with database(app) as session:
        at = session.scalars(select(AuditEvent.at)).one()
    with app.test_request_context():  # the filter reads days in the portal's time zone
        today = to_user_timezone(at).date()
    assert len(audit_rows(client.get(f"/admin/audit?date_from={today}&date_to={today}"))) == 1
    assert audit_rows(client.get(f"/admin/audit?date_from={today.replace(year=today.year + 1)}")) == []
    assert audit_rows(client.get(f"/admin/audit?date_to={today.replace(year=today.year - 1)}")) == []


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/admin/users?page=abc", "/admin/users?page=-4", "/admin/users?page=99999999999999999999999",
    "/admin/users?role=emperor", "/admin/users?q=" + "长" * 300,
    "/admin/audit?date_from=2026-13-45", "/admin/audit?date_to=yesterday", "/admin/audit?date_to=9999-12-31",
    "/admin/audit?date_from=0001-01-01", "/admin/audit?page=zz", "/admin/audit?page=99999999999999999999999",
    "/admin/audit?object_id=" + "9" * 200, "/admin/outbox?page=abc", "/admin/outbox?page=99999999999999999999999",
])
def test_bad_list_parameters_are_ignored(app, client, admin, path):
    response = client.get(path)
    assert response.status_code == 200


def test_unreadable_filters_do_not_hide_rows(app, client, admin):
    staff = add_user(app, Role.STAFF)
    assert set(listed_user_ids(client.get("/admin/users?role=emperor&page=abc"))) == {admin.id, staff.id}
    assert len(audit_rows(client.get("/admin/audit?date_from=2026-13-45&page=zz"))) == len(audit_actions(app))


@pytest.mark.parametrize("path", ["/admin/users/99999999999999999999999", "/admin/users/0",
                                  "/admin/departments/424242", "/admin/users/abc"])
def test_unknown_records_are_not_found(app, client, admin, path):
    assert client.get(path).status_code == 404


def test_garbled_version_counts_as_stale(app, client, admin):
    user = add_user(app, Role.STAFF, name="不变")
    response = client.post(f"/admin/users/{user.id}", data=edit_form(app, user.id, display_name="变", version="x1"))
    assert response.status_code == 200
    assert STALE in form_errors(response)
    assert get_user(app, user.id).display_name == "不变"


def test_garbled_department_version_counts_as_stale(app, client, admin):
    department = add_department(app, name="不变局")
    response = client.post(f"/admin/departments/{department.id}",
                           data=department_form(name="变局", code=department.code, version="zz"))
    assert response.status_code == 200
    assert STALE in form_errors(response)


@pytest.mark.parametrize("form, field", [
    ({"role": "emperor"}, "role"),
    ({"department_id": "abc"}, "department_id"),
    ({"department_id": "424242"}, "department_id"),
    ({"locale": "xx"}, "locale"),
    ({"display_name": ""}, "display_name"),
    ({"password": ""}, "password"),
])
def test_bad_new_user_fields_are_named(app, client, admin, form, field):
    response = client.post("/admin/users/new", data=new_user_form(**form))
    assert response.status_code == 200
    assert field_error(response, field)
    assert count(app, User) == 1


@pytest.mark.parametrize("form, field", [
    ({"code": "with space"}, "code"),
    ({"code": ""}, "code"),
    ({"kind": "ministry"}, "kind"),
    ({"name": ""}, "name"),
])
def test_bad_department_fields_are_named(app, client, admin, form, field):
    response = client.post("/admin/departments/new", data=department_form(**form))
    assert response.status_code == 200
    assert field_error(response, field)
    assert count(app, Department) == 0


@pytest.mark.parametrize("form, field", [
    ({"email": "nobody"}, "email"),
    ({"department_id": "abc"}, "department_id"),
    ({"department_id": "424242"}, "department_id"),
])
def test_bad_invitation_fields_are_named(app, client, admin, form, field):
    department = add_department(app)
    data = {"email": "rep@dept.example", "display_name": "", "department_id": str(department.id), **form}
    response = client.post("/admin/invitations", data=data)
    assert response.status_code == 200
    assert field_error(response, field)
    assert count(app, Invitation) == 0


def test_outbox_shows_and_serves_message_attachments(app, client):
    from portal.accounts.models import Role
    from portal.extensions import db
    from portal.mail.services import send_message
    from tests.conftest import login
    from tests.factories import PASSWORD, make_user

    with app.test_request_context():
        admin = make_user(Role.ADMIN)
        message = send_message("rep@test.example", "会议邀请", "请参加会议",
                               [("invite.ics", "text/calendar; method=REQUEST", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")])
        db.session.commit()
        attachment_id, email = message.attachments[0].id, admin.email
    login(client, email, PASSWORD)
    assert "invite.ics" in client.get("/admin/outbox").get_data(as_text=True)
    response = client.get(f"/admin/outbox/attachments/{attachment_id}")
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert response.data.startswith(b"BEGIN:VCALENDAR")


def test_the_audit_date_filter_starts_at_local_midnight(app):
    """Asia/Shanghai midnight is 16:00 UTC the day before (not the zone's historical +08:06 offset)."""
    from datetime import date, datetime, timezone

    from portal.admin.views import _local_midnight

    with app.test_request_context():
        assert _local_midnight(date(2026, 11, 30)) == datetime(2026, 11, 29, 16, 0, tzinfo=timezone.utc)
        assert _local_midnight(date(2026, 11, 30), days_after=1) == datetime(2026, 11, 30, 16, 0, tzinfo=timezone.utc)
