"""Rate limits on log-in, registration and confirmation codes, counted per client address."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal import config as portal_config, create_app
from portal.accounts.models import OneTimeCode, Role
from portal.extensions import limiter
from tests.conftest import PortalClient, login
from tests.factories import PASSWORD
from tests.helpers import add_user, catalog, database, get_user, outbox, page_lang, switch_language, text

WRONG = "Wrong-passw0rd"


# --- helpers ----------------------------------------------------------------------------

@pytest.fixture
def limited(app, database_url, monkeypatch):
    """An app with rate limits on: 3 log-in posts and 2 code posts a minute per address.

    It shares the test's rolled-back database connection. Flask-Limiter keeps `enabled` on the one shared
    Limiter, so it is put back afterwards.
    """
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    limited_app = create_app({**portal_config.testing(database_url), "RATELIMIT_ENABLED": True,
                              "PORTAL_LOGIN_RATE_LIMIT": "3 per minute", "PORTAL_CODE_RATE_LIMIT": "2 per minute"})
    limited_app.test_client_class = PortalClient
    return limited_app


def client_at(app, address: str) -> PortalClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def use_up_logins(client, login_name: str) -> None:
    for _ in range(3):
        assert login(client, login_name, WRONG).status_code == 200


# --- log-in -----------------------------------------------------------------------------

def test_fourth_log_in_post_from_one_address_gets_429_with_a_friendly_page(app, limited):
    user = add_user(limited, Role.STAFF)
    client = client_at(limited, "192.0.2.10")
    use_up_logins(client, user.email)
    response = login(client, user.email, WRONG)
    assert response.status_code == 429
    assert '<section class="error-page">' in response.get_data(as_text=True)
    assert page_lang(response) == "zh-CN"
    assert catalog(limited, "Too many attempts") in text(response)
    assert get_user(limited, user.id).failed_logins == 3  # the fourth never reached the password check


def test_limit_page_in_english_after_switching(app, limited):
    client = client_at(limited, "192.0.2.11")
    switch_language(client, "en")
    use_up_logins(client, "someone@test.example")
    response = login(client, "someone@test.example", WRONG)
    assert response.status_code == 429
    assert "Too many attempts" in text(response)
    assert "Wait a minute and try again." in text(response)


def test_limit_holds_even_for_the_right_password(app, limited):
    user = add_user(limited, Role.STAFF)
    client = client_at(limited, "192.0.2.12")
    use_up_logins(client, user.email)
    assert login(client, user.email, PASSWORD).status_code == 429
    assert client.get("/account").status_code == 302  # not signed in


def test_other_addresses_are_not_held_back(app, limited):
    user = add_user(limited, Role.STAFF)
    use_up_logins(client_at(limited, "192.0.2.13"), user.email)
    assert login(client_at(limited, "192.0.2.13"), user.email, PASSWORD).status_code == 429
    assert login(client_at(limited, "198.51.100.20"), user.email, PASSWORD).status_code == 303


def test_the_log_in_page_still_opens_while_posts_are_held_back(app, limited):
    client = client_at(limited, "192.0.2.14")
    use_up_logins(client, "someone@test.example")
    assert client.get("/login").status_code == 200


# --- registration and codes -------------------------------------------------------------

def test_registration_posts_are_limited_too(app, limited):
    client = client_at(limited, "192.0.2.15")
    for _ in range(3):
        response = client.post("/register", data={"display_name": "", "login": "", "password": "", "password2": ""})
        assert response.status_code == 200
    assert client.post("/register", data={"display_name": "", "login": "", "password": "",
                                          "password2": ""}).status_code == 429


def test_confirmation_code_guesses_are_limited(app, limited):
    client = client_at(limited, "192.0.2.16")
    assert client.post("/register", data={"display_name": "猜码人", "login": "guess@test.example",
                                          "password": PASSWORD, "password2": PASSWORD}).status_code == 303
    code = int(re.search(r"\b(\d{6})\b", outbox(limited, "guess@test.example")[0].body).group(1))
    guesses = [f"{(code + n) % 1_000_000:06d}" for n in (1, 2, 3)]
    for guess in guesses[:2]:
        assert client.post("/account/confirm", data={"code": guess}).status_code == 200
    assert client.post("/account/confirm", data={"code": guesses[2]}).status_code == 429
    with database(limited) as session:
        assert session.scalars(select(OneTimeCode.attempts)).one() == 2
