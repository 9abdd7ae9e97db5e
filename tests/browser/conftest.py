"""Browser tests: a live portal with the demo data, driven through Debian's chromium.

The live server runs on its own SQLite file (not the rolled-back database of tests/conftest.py),
migrated and seeded once per session. Every test gets a new browser context (fresh cookies) in the
one browser of the session.

Tests that change a user's saved language sign in with a demo account that no other test uses
(see helpers.py), so the order of the tests does not matter.
"""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from portal.config import testing

from .helpers import PASSWORD, sign_in_form

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if Path(item.path).resolve().is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """Debian's chromium; Playwright never downloads a browser."""
    return {"executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    from flask_migrate import upgrade

    from portal.demo import seed

    url = f"sqlite:///{tmp_path_factory.mktemp('live') / 'live.db'}"
    app = create_app(testing(url))
    assert app.config["RATELIMIT_ENABLED"] is False
    with app.app_context():
        upgrade()
        seed()
    return app


@pytest.fixture(scope="session")
def live_url(live_app):
    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        with live_app.app_context():
            from portal.extensions import db

            db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_url):
    """page.goto("/login") goes to the live server."""
    return live_url


@pytest.fixture
def sign_in(base_url):
    """sign_in(page, login): open /login, send the real form and wait for the home page."""

    def _sign_in(page, login: str, password: str = PASSWORD):
        page.goto("/login")
        sign_in_form(page, login, password)
        page.wait_for_url(f"{base_url}/")
        return page

    return _sign_in
