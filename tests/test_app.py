"""The application as a whole: health check, production safeguards, demo data, migrations, query counts."""
from __future__ import annotations

import os
import smtplib

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from portal import config as portal_config, create_app
from portal.accounts.models import Department, Role, SystemSetting, User
from portal.config import ConfigError
from portal.demo import DEMO_PASSWORD, DEMO_USERS, seed
from portal.extensions import db, limiter
from portal.mail.models import OutboxMessage
from tests.conftest import drop_postgres_schema, login, migrated_app, postgres_schema_url
from tests.factories import make_department, make_user
from tests.helpers import add_department, count, database, location, sign_in


# --- helpers ----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _keep_the_limiter_as_it_was(monkeypatch):
    """Flask-Limiter keeps `enabled` on the one shared Limiter: an app created here must not switch it."""
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)


def production(url: str, **overrides) -> dict:
    """A production configuration that passes every check; overrides break one of them."""
    return {**portal_config.testing(url), "PORTAL_ENV": "production",
            "SECRET_KEY": "a-long-production-secret", "DEBUG": False, "PORTAL_DEMO_DATA": False, **overrides}


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'portal.db'}"


@pytest.fixture
def empty_database_url(tmp_path):
    """An empty database on the engine the test run uses (a schema of its own on PostgreSQL)."""
    base = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    schema = f"migration_check_{os.getpid()}"
    yield postgres_schema_url(base, schema)
    drop_postgres_schema(base, schema)


def users_page_queries(client, count_queries) -> tuple[int, str]:
    with count_queries() as counter:
        response = client.get("/admin/users")
    assert response.status_code == 200
    return counter.count, response.get_data(as_text=True)


def add_users(app, how_many: int) -> None:
    """Half of them department representatives, each with a department of their own."""
    with database(app):
        for n in range(how_many):
            if n % 2:
                make_user(Role.DEPARTMENT_REP, department=make_department())
            else:
                make_user(Role.PETITIONER)


# --- health check -----------------------------------------------------------------------

def test_healthz_reports_a_reachable_database(app, client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


@pytest.mark.parametrize("url", ["postgresql+psycopg://nobody@127.0.0.1:1/x",
                                 "sqlite:////nonexistent-directory/portal.db"], ids=["postgresql", "sqlite"])
def test_healthz_answers_503_when_the_database_is_unreachable(url):
    broken = create_app(portal_config.testing(url))
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "database": False}


def test_security_headers_on_every_page(app, client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "HX-Request" in response.headers["Vary"]


def test_an_unexpected_error_shows_a_friendly_page():
    broken = create_app(portal_config.testing("sqlite://"))
    broken.config["PROPAGATE_EXCEPTIONS"] = False

    def fails():
        raise RuntimeError("boom")

    broken.add_url_rule("/fails", "fails", fails)
    response = broken.test_client().get("/fails")
    assert response.status_code == 500
    assert "boom" not in response.get_data(as_text=True)
    assert '<section class="error-page">' in response.get_data(as_text=True)


# --- production safeguards --------------------------------------------------------------

def test_a_safe_production_configuration_starts_with_secure_cookies(sqlite_url):
    app = create_app(production(sqlite_url))
    assert app.config["PORTAL_ENV"] == "production"
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


@pytest.mark.parametrize("overrides, named", [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"DEBUG": True}, "debug is on"),
    ({"PORTAL_DEMO_DATA": True}, "demo data is enabled"),
], ids=["no-secret-key", "empty-secret-key", "debug", "demo-data-flag"])
def test_production_refuses_an_unsafe_configuration(sqlite_url, overrides, named):
    with pytest.raises(ConfigError, match=named):
        create_app(production(sqlite_url, **overrides))


def test_production_names_every_problem_at_once(sqlite_url):
    with pytest.raises(ConfigError) as refused:
        create_app(production(sqlite_url, SECRET_KEY=None, DEBUG=True))
    assert "SECRET_KEY is not set" in str(refused.value) and "debug is on" in str(refused.value)


def test_production_from_the_environment_refuses_a_missing_secret_key(sqlite_url, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, "RATELIMIT_ENABLED": False})


def test_production_from_the_environment_refuses_debug(sqlite_url, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "a-long-production-secret")
    monkeypatch.setenv("PORTAL_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug"):
        create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url, "RATELIMIT_ENABLED": False})


def test_production_refuses_a_database_holding_demo_data(sqlite_url):
    development = migrated_app(sqlite_url)
    create_app(production(sqlite_url))  # a migrated database without demo data is fine
    with development.app_context():
        seed()
        db.session.remove()
    with pytest.raises(ConfigError, match="demo data"):
        create_app(production(sqlite_url))


# --- demo data --------------------------------------------------------------------------

def test_seed_demo_creates_departments_and_one_account_of_every_role(app):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert count(app, Department) >= 7
    with database(app) as session:
        roles = session.execute(select(User.role, func.count()).group_by(User.role)).all()
        assert {role for role, _ in roles} == set(Role)
        assert session.get(SystemSetting, "demo_data") is not None
    assert count(app, User) == len(DEMO_USERS)


def test_demo_accounts_can_sign_in(app, client):
    app.test_cli_runner().invoke(args=["seed-demo"])
    admin_login = next(login_name for login_name, _, role, _ in DEMO_USERS if role == Role.ADMIN)
    response = login(client, admin_login, DEMO_PASSWORD)
    assert response.status_code == 303 and location(response) == "/"
    petitioner_phone = next(login_name for login_name, _, role, _ in DEMO_USERS if role == Role.PETITIONER)
    assert login(app.test_client(), f"+86 {petitioner_phone}", DEMO_PASSWORD).status_code == 303


def test_seed_demo_if_empty_leaves_a_used_database_alone(app):
    sign_in(app, app.test_client(), Role.ADMIN)
    result = app.test_cli_runner().invoke(args=["seed-demo", "--if-empty"])
    assert result.exit_code == 0
    assert "not loaded" in result.output
    assert count(app, User) == 1 and count(app, Department) == 0


def test_seed_demo_twice_adds_nothing_the_second_time(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["seed-demo"])
    users, departments = count(app, User), count(app, Department)
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert (count(app, User), count(app, Department)) == (users, departments)


def test_seed_demo_is_refused_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_ENV", "production")
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "refused in production" in result.stderr
    assert count(app, User) == 0 and count(app, Department) == 0


# --- migrations -------------------------------------------------------------------------

def test_migrations_have_a_single_head():
    app = create_app(portal_config.testing("sqlite://"))
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_migrations_build_exactly_the_schema_of_the_models(empty_database_url):
    migrated = migrated_app(empty_database_url)
    with migrated.app_context():
        try:
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = compare_metadata(context, db.metadata)
        finally:
            db.engine.dispose()
    assert differences == []


# --- outgoing mail ----------------------------------------------------------------------

class FakeSMTP:
    """Stands in for smtplib.SMTP and keeps what it was asked to send."""

    sent: list = []
    fail_with: Exception | None = None

    def __init__(self, host, port, timeout=None):
        self.host, self.port = host, port

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, username, password):
        pass

    def send_message(self, message):
        if FakeSMTP.fail_with:
            raise FakeSMTP.fail_with
        FakeSMTP.sent.append(message)


@pytest.fixture
def smtp(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SERVER", "smtp.test.example")
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(FakeSMTP, "sent", [])
    monkeypatch.setattr(FakeSMTP, "fail_with", None)
    return FakeSMTP


def register(client, login_name: str):
    return client.post("/register", data={"display_name": "收信人", "login": login_name,
                                          "password": "Mail-test-2026", "password2": "Mail-test-2026"})


def test_with_a_mail_server_email_is_sent_and_marked_sent(app, client, smtp):
    assert register(client, "mail@test.example").status_code == 303
    assert [m["To"] for m in smtp.sent] == ["mail@test.example"]
    with database(app) as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.status, message.channel) == ("sent", "email")
        assert message.sent_at is not None
        assert smtp.sent[0].get_content().strip() == message.body.strip()


def test_a_failed_delivery_keeps_the_message_and_the_account(app, client, smtp):
    smtp.fail_with = OSError("connection refused")
    assert register(client, "bounce@test.example").status_code == 303
    with database(app) as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert message.status == "failed"
        assert "connection refused" in message.error
    assert count(app, User, User.email == "bounce@test.example") == 1


def test_text_messages_stay_in_the_outbox_even_with_a_mail_server(app, client, smtp):
    assert register(client, "13911112222").status_code == 303
    assert smtp.sent == []
    with database(app) as session:
        message = session.scalars(select(OutboxMessage)).one()
        assert (message.status, message.channel, message.recipient) == ("kept", "sms", "13911112222")


def test_links_in_messages_use_the_configured_public_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://portal.example.gov.cn/")
    sign_in(app, client, Role.ADMIN)
    department = add_department(app)
    client.post("/admin/invitations", data={"email": "rep@dept.example", "display_name": "",
                                            "department_id": str(department.id)})
    with database(app) as session:
        body = session.scalars(select(OutboxMessage.body)).one()
    assert "https://portal.example.gov.cn/invitation/" in body


# --- query counts -----------------------------------------------------------------------

def test_users_page_runs_the_same_number_of_queries_for_3_or_60_users(app, client, count_queries):
    sign_in(app, client, Role.ADMIN)
    add_users(app, 2)
    few, page = users_page_queries(client, count_queries)
    assert page.count('<a href="/admin/users/') == 3
    add_users(app, 57)
    many, page = users_page_queries(client, count_queries)
    assert page.count('<a href="/admin/users/') == 50  # the first page of 60
    assert few == many
    assert few <= 5


def test_demo_cases_show_every_stage(app):
    """The demo gives a new user a case in each stage, made through the real services (chain intact)."""
    from sqlalchemy import select

    from portal.audit.services import verify_chain
    from portal.cases.models import Case, CaseStatus
    from portal.demo import seed
    from portal.extensions import db

    with app.app_context():
        seed()
        statuses = set(db.session.scalars(select(Case.status)))
        assert {CaseStatus.REGISTERED, CaseStatus.IN_PROGRESS, CaseStatus.ANSWERED, CaseStatus.LEGAL_ROUTE,
                CaseStatus.REFERRED} <= statuses
        assert verify_chain().ok
