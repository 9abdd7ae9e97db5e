from portal.accounts.models import Role, User
from portal.extensions import db
from tests.conftest import login
from tests.factories import PASSWORD, make_user


def test_login_lands_on_role_home(app, client):
    with app.app_context():
        user = make_user(Role.ADMIN)
        email = user.email
    response = login(client, email, PASSWORD, follow=True)
    assert response.status_code == 200
    assert "系统管理" in response.get_data(as_text=True) or "Administration" in response.get_data(as_text=True)


def test_rollback_between_tests(app):
    with app.app_context():
        assert db.session.query(User).count() == 0
