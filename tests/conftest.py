"""Fixtures: one migrated database per run, every test inside a transaction that is rolled back.

PORTAL_TEST_DATABASE_URL selects the engine (PostgreSQL in CI when a server answers); without it
the tests use a SQLite file in a temporary folder.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text

from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession

from portal import create_app
from portal.config import testing
from portal.extensions import db

class _ConnectionSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy picks the engine per table; in tests everything goes through one connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(mapper, clause, bind, **kwargs)


TOKEN_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def postgres_schema_url(url: str, schema: str) -> str:
    """Give this test process its own schema, so parallel workers and runs never share tables."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"


def drop_postgres_schema(url: str, schema: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def migrated_app(url: str):
    """An app whose database has been upgraded to the newest migration."""
    from flask_migrate import upgrade

    app = create_app(testing(url))
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    schema = f"test_{os.getpid()}"
    yield postgres_schema_url(url, schema)
    drop_postgres_schema(url, schema)


@pytest.fixture(scope="session")
def _app(database_url):
    return migrated_app(database_url)


class PortalClient(FlaskClient):
    """A test client that sends the CSRF token with every form, as the browser does."""

    def csrf_token(self) -> str:
        page = self.get("/", follow_redirects=True).get_data(as_text=True)
        match = TOKEN_RE.search(page)
        assert match, "no CSRF token on the page"
        return match.group(1) or match.group(2)

    def post(self, *args, **kwargs):
        data = kwargs.get("data")
        if data is None and "json" not in kwargs:
            data = {}
        if isinstance(data, dict) and "csrf_token" not in data:
            kwargs["data"] = {**data, "csrf_token": self.csrf_token()}
        return super().post(*args, **kwargs)


@pytest.fixture
def app(_app):
    """The app with every database change of the test rolled back afterwards."""
    with _app.app_context():
        connection = db.engine.connect()
    transaction = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": _ConnectionSession})
    _app.test_client_class = PortalClient
    try:
        yield _app
    finally:
        with _app.app_context():
            db.session.remove()
        db.session = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(app) -> PortalClient:
    return app.test_client()


@pytest.fixture
def ctx(app):
    """An application context for reading and writing the database directly in a test."""
    with app.app_context():
        yield


def login(client: PortalClient, login: str, password: str, follow: bool = False):
    return client.post("/login", data={"login": login, "password": password}, follow_redirects=follow)


@pytest.fixture
def count_queries(app):
    """with count_queries() as counter: ...; counter.count is the number of SQL statements run."""

    @contextmanager
    def counting():
        class Counter:
            count = 0
            statements: list[str] = []

        counter = Counter()
        counter.statements = []

        def before(conn, cursor, statement, parameters, context, executemany):
            if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
                counter.count += 1
                counter.statements.append(statement)

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
