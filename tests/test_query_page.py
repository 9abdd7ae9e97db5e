"""The public query page: reference + query code give status and dates, nothing personal, one answer for every
mistake, and a rate limit."""
from __future__ import annotations

import re
from datetime import date

import pytest

from portal import create_app
from portal.cases.models import CaseStatus
from portal.cases.services import add_event
from portal import config
from portal.extensions import db, limiter
from tests.factories import make_case, make_department
from tests.helpers import database, switch_language, text

NOT_FOUND = "No petition matches this reference and query code. Check both and try again."


@pytest.fixture
def english(client):
    switch_language(client, "en")
    return client


@pytest.fixture
def referred_case(app):
    """A case sent to a lead department, with a public and an internal timeline entry."""
    with database(app) as session:
        department = make_department("Y市人社局查询测试")
        case = make_case(name="张秘密", id_number="320102199001011232", phone="13955556666",
                         subject="拖欠工资的秘密细节", received_on=date(2026, 9, 20))
        case.status = CaseStatus.REFERRED
        case.lead_department = department
        add_event(case, "referred", department=department,
                  data={"kind": "assign", "department": department.name, "role": "lead"})
        add_event(case, "note", text="内部意见：不要外传", internal=True)
        session.commit()
        return {"reference": case.reference, "code": case.query_code, "department": department.name}


def ask(client, reference, code, **kwargs):
    return client.post("/query", data={"reference": reference, "code": code}, **kwargs)


def result(response) -> str:
    match = re.search(r'<div class="query-result" role="status">(.*?)</div>\s*</div>', text(response), re.S)
    return match.group(1) if match else ""


def test_query_page_is_public(client):
    response = client.get("/query")
    assert response.status_code == 200
    assert 'name="reference"' in text(response) and 'name="code"' in text(response)


def test_status_and_dates_but_nothing_personal(app, english, referred_case):
    response = ask(english, referred_case["reference"], referred_case["code"])
    assert response.status_code == 200
    page = text(response)
    assert referred_case["reference"] in page
    assert "Referred" in page  # the status
    assert referred_case["department"] in page  # the lead department
    assert "September 20, 2026" in page  # received
    assert "Sent to the handling department" in page and "Registered" in page  # the public steps
    for secret in ("张秘密", "320102199001011232", "3201", "13955556666", "139****", "拖欠工资的秘密细节",
                   "某公司自2026年6月起拖欠工资", "请求督促支付工资", "内部意见", "和平路"):
        assert secret not in page, secret


def test_the_code_is_read_leniently(app, english, referred_case):
    code = referred_case["code"].lower()
    spaced = f" {code[:4]} {code[4:]} "
    response = ask(english, referred_case["reference"].lower(), spaced)
    assert referred_case["department"] in text(response)


def test_wrong_code_and_wrong_reference_get_the_same_answer(app, english, referred_case):
    wrong_code = ask(english, referred_case["reference"], "AAAAAAAA")
    wrong_reference = ask(english, "YX-2026-999999", referred_case["code"])
    assert NOT_FOUND in text(wrong_code) and NOT_FOUND in text(wrong_reference)
    assert result(wrong_code) == result(wrong_reference) != ""
    assert referred_case["department"] not in text(wrong_code)
    assert wrong_code.status_code == wrong_reference.status_code == 200


@pytest.mark.parametrize("reference, code", [("", ""), ("x" * 500, "y" * 500), ("YX-2026-000001", "%' OR 1=1 --")])
def test_bad_input_is_a_message_not_an_error(app, english, reference, code):
    response = ask(english, reference, code)
    assert response.status_code == 200


def test_htmx_gets_the_fragment(app, english, referred_case):
    response = ask(english, referred_case["reference"], referred_case["code"], headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "<html" not in text(response) and 'id="query"' in text(response)
    assert referred_case["department"] in text(response)


@pytest.fixture
def limited_app(database_url, monkeypatch):
    """An app with rate limits on, as in production (the limiter object is shared by every app)."""
    monkeypatch.setattr(limiter, "enabled", limiter.enabled)
    app = create_app({**config.testing(database_url), "RATELIMIT_ENABLED": True, "PORTAL_QUERY_RATE_LIMIT": "10 per minute"})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_lookups_are_rate_limited(limited_app):
    client = limited_app.test_client()
    page = client.get("/query").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)
    codes = [client.post("/query", data={"csrf_token": token, "reference": "YX-2026-000001", "code": "ABCDEFGH"})
             .status_code for _ in range(11)]
    assert codes[:10] == [200] * 10
    assert codes[10] == 429
    assert client.get("/query").status_code == 200  # reading the page is not limited
