"""The audit trail is a hash chain: verify_chain(), `flask audit verify` and /admin/audit/verify find a break."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text as sql

from portal.accounts.models import Department, Role
from portal.audit.models import AuditEvent
from portal.audit.services import GENESIS, _digest, verify_chain
from portal import config as portal_config, create_app
from portal.extensions import limiter
from portal.timeutil import utcnow
from tests.conftest import PortalClient, login
from tests.helpers import add_user, audit_events, database, sign_in, text


# --- helpers ----------------------------------------------------------------------------

def make_history(app, client) -> list[int]:
    """An admin signs in and makes a few changes; returns the ids of the events written, oldest first."""
    sign_in(app, client, Role.ADMIN, locale="en")
    assert client.post("/admin/departments/new",
                       data={"name": "审计测试局", "code": "AUD", "kind": "court", "active": "y"}).status_code == 303
    staff = add_user(app, Role.STAFF)
    assert client.post(f"/admin/users/{staff.id}/reset-password", data={}).status_code == 200
    assert client.post(f"/admin/users/{staff.id}/active", data={"active": "0"}).status_code == 303
    assert client.post(f"/admin/users/{staff.id}/active", data={"active": "1"}).status_code == 303
    ids = event_ids(app)
    assert len(ids) >= 5
    return ids


def event_ids(app) -> list[int]:
    with database(app) as session:
        return list(session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def run_sql(app, statement: str, **params) -> None:
    """Change the table behind the portal's back, as someone with database access could."""
    with database(app) as session:
        result = session.execute(sql(statement), params)
        assert result.rowcount == 1
        session.commit()


def verify(app):
    with database(app):
        return verify_chain()


def audit_cli(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


# --- the chain --------------------------------------------------------------------------

def test_chain_verifies_after_a_series_of_changes(app, client):
    ids = make_history(app, client)
    report = verify(app)
    assert report.ok
    assert report.checked == len(ids)
    assert report.broken_id is None


def test_each_event_carries_the_hash_of_the_one_before(app, client):
    make_history(app, client)
    with database(app) as session:
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert events[0].prev_hash == GENESIS
        for before, after in zip(events, events[1:]):
            assert after.prev_hash == before.hash
        assert len({event.hash for event in events}) == len(events)


@pytest.mark.parametrize("column, value", [
    ("details", '{"forged": true}'),
    ("action", "user.harmless"),
    ("actor_label", "someone else"),
    ("client_addr", "10.9.9.9"),
    ("object_id", "not-an-id"),
])
def test_tampering_one_event_is_caught_naming_that_event(app, client, column, value):
    ids = make_history(app, client)
    target = ids[len(ids) // 2]
    run_sql(app, f"UPDATE audit_event SET {column} = :value WHERE id = :id", value=value, id=target)
    report = verify(app)
    assert not report.ok
    assert report.broken_id == target
    assert report.checked == ids.index(target)


def test_changing_an_events_time_is_caught(app, client):
    ids = make_history(app, client)
    target = ids[1]
    with database(app) as session:
        event = session.get(AuditEvent, target)
        event.at = event.at - timedelta(days=3)
        session.commit()
    assert verify(app).broken_id == target


def test_rewriting_an_event_with_a_matching_hash_breaks_the_link_of_the_next(app, client):
    ids = make_history(app, client)
    target, following = ids[2], ids[3]
    with database(app) as session:
        event = session.get(AuditEvent, target)
        event.details = json.dumps({"forged": True})
        event.hash = _digest(event)  # a careful forger recomputes this event's hash
        session.commit()
    report = verify(app)
    assert not report.ok
    assert report.broken_id == following


def test_deleting_a_middle_event_is_caught_at_the_event_after_it(app, client):
    ids = make_history(app, client)
    middle = ids[len(ids) // 2]
    run_sql(app, "DELETE FROM audit_event WHERE id = :id", id=middle)
    report = verify(app)
    assert not report.ok
    assert report.broken_id == ids[ids.index(middle) + 1]


# --- the command and the page -----------------------------------------------------------

def test_cli_verify_exits_0_when_the_chain_is_intact(app, client):
    ids = make_history(app, client)
    result = audit_cli(app)
    assert result.exit_code == 0
    assert f"intact: {len(ids)} events" in result.output


def test_cli_verify_exits_1_naming_the_broken_event(app, client):
    ids = make_history(app, client)
    target = ids[-2]
    run_sql(app, "UPDATE audit_event SET details = :forged WHERE id = :id", forged='{"forged": 1}', id=target)
    result = audit_cli(app)
    assert result.exit_code == 1
    assert f"BROKEN at event {target}" in result.stderr


def test_verify_page_says_the_chain_is_intact(app, client):
    ids = make_history(app, client)
    response = client.get("/admin/audit/verify")
    assert response.status_code == 200
    assert 'class="notice notice-ok"' in response.get_data(as_text=True)
    assert f"The chain is intact: {len(ids)} events checked." in text(response)


def test_verify_page_names_the_broken_event(app, client):
    ids = make_history(app, client)
    target = ids[3]
    run_sql(app, "UPDATE audit_event SET action = 'user.nothing' WHERE id = :id", id=target)
    response = client.get("/admin/audit/verify")
    assert response.status_code == 200
    assert 'class="notice notice-danger"' in response.get_data(as_text=True)
    assert f"The chain is broken at event {target}. 3 events before it are intact." in text(response)


# --- what an event records --------------------------------------------------------------

def test_event_records_actor_client_address_object_and_time(app, client):
    client.environ_base["REMOTE_ADDR"] = "203.0.113.7"
    admin = sign_in(app, client, Role.ADMIN, name="审计管理员")
    before = utcnow()
    client.post("/admin/departments/new", data={"name": "地址测试局", "code": "ADDR", "kind": "court", "active": "y"})
    with database(app) as session:
        department_id = session.scalars(select(Department.id).where(Department.code == "ADDR")).one()
    event = audit_events(app, "department.created")[-1]
    assert event.actor_id == admin.id
    assert event.actor_label == f"审计管理员 <{admin.email}>"
    assert event.client_addr == "203.0.113.7"
    assert (event.object_type, event.object_id) == ("department", str(department_id))
    assert json.loads(event.details)["code"] == "ADDR"
    assert before <= event.at <= utcnow()


def test_failed_log_in_of_an_unknown_login_records_the_address_without_actor(app, client):
    client.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    login(client, "ghost@test.example", "Wrong-passw0rd")
    event = audit_events(app, "auth.login_failed")[-1]
    assert (event.actor_id, event.actor_label, event.client_addr) == (None, "system", "198.51.100.4")
    assert json.loads(event.details)["login"] == "ghost@test.example"


def test_events_written_outside_a_request_are_by_the_system(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0
    events = audit_events(app, "department.created")
    assert events
    assert {(e.actor_id, e.actor_label, e.client_addr) for e in events} == {(None, "system", "")}
    assert verify(app).ok


def test_a_forwarded_for_header_is_not_trusted_without_a_configured_proxy(app, client):
    client.post("/login", data={"login": "ghost@test.example", "password": "Wrong-passw0rd"},
                headers={"X-Forwarded-For": "203.0.113.99"})
    assert {e.client_addr for e in audit_events(app, "auth.login_failed")} == {"127.0.0.1"}


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(app, database_url, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)  # shared by every app
    proxied = create_app({**portal_config.testing(database_url), "PORTAL_PROXY_COUNT": 1})
    proxied.test_client_class = PortalClient
    client = proxied.test_client()
    client.post("/login", data={"login": "ghost@test.example", "password": "Wrong-passw0rd"},
                headers={"X-Forwarded-For": "203.0.113.99"})
    assert audit_events(app, "auth.login_failed")[-1].client_addr == "203.0.113.99"
