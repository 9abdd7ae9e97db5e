"""Satisfaction rating (满意度评价): after the handling opinion, once per case, counted for the lead department,
never for matters routed to the legal channel."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.accounts.models import Role
from portal.cases.models import CaseStatus, LegalRoute, Rating, RatingValue
from portal.extensions import db
from tests.factories import make_case
from tests.helpers import add_user, audit_actions, count, database, text
from tests.test_cases_handling import as_user, events, issue, on_day, world  # noqa: F401


def rate(client, case_id: int, value: str = "basically_satisfied", comment: str = "处理及时，但赔付偏低。"):
    return client.post(f"/cases/{case_id}/rating", data={"rating-value": value, "rating-comment": comment})


def test_the_petitioner_rates_once_and_the_rating_counts_for_the_lead_department(app, client, world, monkeypatch):
    as_user(client, world.petitioner)
    assert 'id="rating-form"' not in text(client.get(f"/cases/{world.case_id}"))  # no opinion yet
    assert rate(client, world.case_id).status_code == 303
    assert count(app, Rating, Rating.case_id == world.case_id) == 0

    on_day(monkeypatch, date(2026, 9, 10))
    as_user(client, world.lead_rep)
    issue(client, world.case_id)

    as_user(client, world.petitioner)
    assert 'id="rating-form"' in text(client.get(f"/cases/{world.case_id}"))
    assert rate(client, world.case_id, value="").status_code == 200
    assert rate(client, world.case_id, value="delighted").status_code == 200
    assert rate(client, world.case_id, comment="长" * 5001).status_code == 200
    assert count(app, Rating, Rating.case_id == world.case_id) == 0

    assert rate(client, world.case_id).status_code == 303
    with database(app) as session:
        rating = session.scalars(select(Rating).where(Rating.case_id == world.case_id)).one()
    assert rating.department_id == world.lead.id and rating.value == RatingValue.BASIC
    assert rating.comment == "处理及时，但赔付偏低。" and rating.rated_by_id == world.petitioner.id
    assert "rating.given" in audit_actions(app)
    assert events(app, world.case_id, "rated")

    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="rating-form"' not in page
    assert rate(client, world.case_id, value="dissatisfied").status_code == 303
    with database(app) as session:
        assert session.scalars(select(Rating).where(Rating.case_id == world.case_id)).one().value == RatingValue.BASIC

    # The lead department and the bureau see the rating on the case page.
    as_user(client, world.lead_rep)
    assert "处理及时，但赔付偏低。" in text(client.get(f"/cases/{world.case_id}"))


def test_only_the_own_petitioner_rates(app, client, world, monkeypatch):
    on_day(monkeypatch, date(2026, 9, 10))
    as_user(client, world.lead_rep)
    issue(client, world.case_id)
    assert rate(client, world.case_id).status_code == 403
    stranger = add_user(app, Role.PETITIONER)
    as_user(client, stranger)
    assert rate(client, world.case_id).status_code == 403
    assert count(app, Rating, Rating.case_id == world.case_id) == 0


def test_rating_is_not_offered_for_the_legal_channel(app, client, world):
    with database(app):
        from portal.accounts.models import User

        case = make_case(petitioner_user=db.session.get(User, world.petitioner.id), subject="劳动争议待裁决")
        case.status = CaseStatus.LEGAL_ROUTE
        case.legal_route = LegalRoute.ARBITRATION
        db.session.commit()
        case_id = case.id
    as_user(client, world.petitioner)
    assert 'id="rating-form"' not in text(client.get(f"/cases/{case_id}"))
    response = rate(client, case_id)
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert "arbitration" in page.lower() or "仲裁" in page
    assert count(app, Rating, Rating.case_id == case_id) == 0
