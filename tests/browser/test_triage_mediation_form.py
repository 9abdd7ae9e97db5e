"""The triage form for mediation in a browser: the court fields show only for a court's referral, the person
fields only when the other side is a person (the page works without JavaScript, where everything shows), and a
form sent empty shows every message at once. Nothing is sent that changes a case."""
from __future__ import annotations

from playwright.sync_api import expect

from .helpers import STAFF, zh


def _registered_case_id(live_app) -> int:
    from sqlalchemy import select

    from portal.cases.models import Case, CaseStatus
    from portal.extensions import db

    with live_app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.status == CaseStatus.REGISTERED).order_by(Case.id)
                                    .limit(1))
        assert case_id is not None, "no demo case waits for triage"
        return case_id


def test_fields_show_for_their_choice_and_every_error_at_once(new_context, sign_in, live_app):
    page = sign_in(new_context().new_page(), STAFF)
    page.goto(f"/cases/{_registered_case_id(live_app)}/triage/mediation")
    form = page.locator("form.triage-form")
    court, person, department = form.locator("#court-fields"), form.locator("#other-person-fields"), \
        form.locator("#other-department-fields")
    expect(court).to_be_hidden()  # a petition's referral by default
    expect(department).to_be_visible()
    expect(person).to_be_hidden()
    form.locator("input[name=source][value=court]").check()
    expect(court).to_be_visible()
    form.locator("input[name=respondent][value=person]").check()
    expect(person).to_be_visible()
    expect(department).to_be_hidden()
    form.locator("#other_phone").fill("abc")
    form.get_by_role("button", name=zh("Refer to mediation")).click()
    for field in ("court", "court_reference", "other_party", "other_phone", "petitioner_consent_on",
                  "petitioner_consent_how", "other_consent_on", "other_consent_how", "scope_confirmed"):
        expect(page.locator(f"#{field}-error")).to_be_visible()
    # the form swapped in by htmx keeps the choices and shows the same parts
    expect(page.locator("#court-fields")).to_be_visible()
    expect(page.locator("#other-department-fields")).to_be_hidden()
