"""In-page (htmx) requests that fail show a message or navigate to the log-in page, never a page in a fragment."""
from portal.accounts.models import Role
from tests.conftest import login
from tests.factories import PASSWORD, make_user

FRAGMENT = {"HX-Request": "true"}


def test_expired_session_on_an_htmx_request_navigates_to_login(client):
    response = client.get("/cases?q=工资", headers={**FRAGMENT, "HX-Current-URL": "http://localhost/cases?q=工资"})
    assert response.status_code == 204
    assert response.headers["HX-Redirect"].startswith("/login?next=")
    assert response.headers["HX-Redirect"].startswith("/login?next=/cases")


def test_plain_request_of_anonymous_user_goes_to_login_with_next(client):
    response = client.get("/cases?status=open")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_refusal_of_an_htmx_request_is_an_alert_retargeted_above_the_page(app, client):
    with app.app_context():
        email = make_user(Role.PETITIONER).email
    login(client, email, PASSWORD)
    response = client.get("/admin/users", headers=FRAGMENT)
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#page-alert"
    body = response.get_data(as_text=True)
    assert 'role="alert"' in body and "<html" not in body


def test_boosted_navigation_to_a_refused_page_gets_the_whole_error_page(app, client):
    with app.app_context():
        email = make_user(Role.PETITIONER).email
    login(client, email, PASSWORD)
    response = client.get("/admin/users", headers={**FRAGMENT, "HX-Boosted": "true"})
    assert response.status_code == 403
    assert "<html" in response.get_data(as_text=True)
    assert "HX-Retarget" not in response.headers
