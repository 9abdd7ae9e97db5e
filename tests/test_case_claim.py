"""A petitioner registered by staff from a letter adds the case to their account with the query code and a code
sent to the phone on file."""
import re

from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.cases.models import Petitioner
from portal.extensions import db
from portal.mail.models import OutboxMessage
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_user


def _setup(app, phone="13611112222"):
    with app.app_context():
        case = make_case(phone=phone, name="李春花")  # registered by staff: no account on it
        user = make_user(Role.PETITIONER, phone="13900009999", locale="en")
        return case.id, case.reference, case.query_code, user.phone


def _code_sent_to(app, phone):
    with app.app_context():
        message = db.session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == phone)
                                     .order_by(OutboxMessage.id.desc())).first()
        return re.search(r"(?<![-\d])(\d{6})\b", message.body).group(1)  # not the reference number


def test_claim_with_query_code_and_code_to_the_phone_on_file(app, client):
    case_id, reference, query_code, login_phone = _setup(app)
    login(client, login_phone, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 403
    response = client.post("/my/claim", data={"reference": reference, "query_code": query_code})
    assert response.status_code == 303
    with app.app_context():
        petitioner_id = db.session.scalar(select(Petitioner.id).where(Petitioner.case_id == case_id))
    page = client.post("/my/claim/code", data={"petitioner": petitioner_id, "code": ""}).get_data(as_text=True)
    assert "136****2222" in page
    code = _code_sent_to(app, "13611112222")
    wrong = client.post("/my/claim/code", data={"petitioner": petitioner_id, "code": "000000" if code != "000000"
                                                else "111111"})
    assert "not correct" in wrong.get_data(as_text=True)
    done = client.post("/my/claim/code", data={"petitioner": petitioner_id, "code": code})
    assert done.status_code == 303, re.findall(r'class="error"[^>]*>[^<]*', done.get_data(as_text=True))
    assert done.headers["Location"].endswith(f"/cases/{case_id}")
    assert client.get(f"/cases/{case_id}").status_code == 200
    with app.app_context():
        assert db.session.get(Petitioner, petitioner_id).user_id is not None
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "case.claimed"))


def test_wrong_query_code_gives_the_same_answer_as_a_wrong_reference(app, client):
    case_id, reference, query_code, login_phone = _setup(app)
    login(client, login_phone, PASSWORD)
    bad_code = client.post("/my/claim", data={"reference": reference, "query_code": "AAAAAAAA"})
    bad_ref = client.post("/my/claim", data={"reference": "YX-2026-999999", "query_code": query_code})
    assert "No petition matches" in bad_code.get_data(as_text=True)
    assert "No petition matches" in bad_ref.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.recipient == "13611112222")) is None


def test_only_petitioners_claim(app, client):
    with app.app_context():
        email = make_user(Role.STAFF).email
    login(client, email, PASSWORD)
    assert client.get("/my/claim").status_code == 403
