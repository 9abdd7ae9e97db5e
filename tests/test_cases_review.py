"""Review (复查) and re-review (复核): windows of 30 days counted on the real calendar, the reviewing department
designated by the bureau, review opinions as PDFs, and the case concluded after re-review.

An opinion dated Thursday 10 Sep 2026: 30 days later is Saturday 10 Oct, a working day (adjusted for National
Day), so the window ends then and a request on Monday 12 Oct is refused.
"""
from __future__ import annotations

import shutil
from datetime import date

from sqlalchemy import select

from portal.accounts.models import Role
from portal.cases.models import CaseStatus, Clock, ClockKind, Opinion, Review
from tests.helpers import add_user, audit_actions, count, database, outbox, text
from tests.test_cases_handling import as_user, events, get_case, issue, on_day, pdf_text, world  # noqa: F401

OPINION_DAY = date(2026, 9, 10)


def answered(client, world, monkeypatch) -> None:
    on_day(monkeypatch, OPINION_DAY)
    as_user(client, world.lead_rep)
    assert issue(client, world.case_id, outcome="no_support").status_code == 303


def ask(client, case_id: int, reason: str = "处理意见认定事实不清，请求复查。"):
    return client.post(f"/cases/{case_id}/reviews", data={"review-reason": reason})


def designate(client, review_id: int, department_id):
    return client.post(f"/reviews/{review_id}/designate", data={"designate-department_id": str(department_id)})


def answer(client, review_id: int, outcome: str = "explain", facts: str = "复查查明：工资已部分支付。",
           reasons: str = "原处理意见适用法律正确。"):
    return client.post(f"/reviews/{review_id}/answer", data={"answer-outcome": outcome, "answer-facts": facts,
                                                             "answer-reasons": reasons})


def review_at(app, case_id: int, level: int) -> Review | None:
    with database(app) as session:
        return session.scalar(select(Review).where(Review.case_id == case_id, Review.level == level))


def clock_of(app, case_id: int, kind: ClockKind) -> Clock | None:
    with database(app) as session:
        return session.scalars(select(Clock).where(Clock.case_id == case_id, Clock.kind == kind)
                               .order_by(Clock.id.desc())).first()


def test_review_request_after_the_window_is_refused_and_the_opinion_is_final(app, client, world, monkeypatch):
    answered(client, world, monkeypatch)
    assert clock_of(app, world.case_id, ClockKind.REVIEW_REQUEST).due_on == date(2026, 10, 10)

    on_day(monkeypatch, date(2026, 10, 12))
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="review-form"' not in page
    assert "2026年10月10日" in page  # the page says by when a review could have been asked for: the opinion is final
    response = ask(client, world.case_id)
    assert response.status_code == 303
    follow = text(client.get(response.headers["Location"]))
    assert "2026年10月10日" in follow
    assert review_at(app, world.case_id, 1) is None
    assert get_case(app, world.case_id).status == CaseStatus.ANSWERED

    # Staff see that the opinion is final too.
    as_user(client, world.staff)
    assert "2026年10月10日" in text(client.get(f"/cases/{world.case_id}"))


def test_review_request_on_the_last_day_is_accepted(app, client, world, monkeypatch):
    answered(client, world, monkeypatch)
    on_day(monkeypatch, date(2026, 10, 10))
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="review-form"' in page and "2026年10月10日" in page
    assert ask(client, world.case_id, " ").status_code == 200  # a reason is needed
    assert review_at(app, world.case_id, 1) is None
    assert ask(client, world.case_id).status_code == 303
    review = review_at(app, world.case_id, 1)
    assert review.requested_on == date(2026, 10, 10) and "事实不清" in review.reason
    assert get_case(app, world.case_id).status == CaseStatus.REVIEW
    assert clock_of(app, world.case_id, ClockKind.REVIEW_REQUEST).stopped_on == date(2026, 10, 10)
    review_clock = clock_of(app, world.case_id, ClockKind.REVIEW)
    assert review_clock.started_on == date(2026, 10, 10) and review_clock.due_on == date(2026, 11, 9)
    assert "review.requested" in audit_actions(app)
    # Asking twice is refused.
    assert ask(client, world.case_id).status_code == 303
    assert count(app, Review, Review.case_id == world.case_id) == 1


def test_no_review_before_an_opinion_and_only_for_the_own_case(app, client, world):
    as_user(client, world.petitioner)
    assert 'id="review-form"' not in text(client.get(f"/cases/{world.case_id}"))
    assert ask(client, world.case_id).status_code == 303
    assert review_at(app, world.case_id, 1) is None
    stranger = add_user(app, Role.PETITIONER)
    as_user(client, stranger)
    assert ask(client, world.case_id).status_code == 403
    as_user(client, world.lead_rep)
    assert ask(client, world.case_id).status_code == 403


def test_review_and_re_review_answered_then_the_case_is_concluded(app, client, world, monkeypatch, tmp_path):
    answered(client, world, monkeypatch)
    on_day(monkeypatch, date(2026, 9, 20))
    as_user(client, world.petitioner)
    assert ask(client, world.case_id).status_code == 303
    review = review_at(app, world.case_id, 1)

    # The reviewing department cannot answer before it is designated; others never can.
    as_user(client, world.other_rep)
    assert client.get(f"/cases/{world.case_id}").status_code == 403
    assert answer(client, review.id).status_code == 403

    # The bureau sees the request on its workbench and designates; the lead department (whose opinion is
    # reviewed) is refused.
    as_user(client, world.staff)
    assert f"/cases/{world.case_id}" in text(client.get("/")).split('id="reviews-h"', 1)[-1]
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f'action="/reviews/{review.id}/designate"' in page
    assert designate(client, review.id, world.lead.id).status_code == 200
    assert designate(client, review.id, "abc").status_code == 200
    assert designate(client, review.id, 999999).status_code == 200
    assert review_at(app, world.case_id, 1).reviewing_department_id is None
    assert designate(client, review.id, world.other.id).status_code == 303
    assert review_at(app, world.case_id, 1).reviewing_department_id == world.other.id
    assert "review.designated" in audit_actions(app)
    as_user(client, world.lead_rep)
    assert designate(client, review.id, world.co.id).status_code == 403

    # The designated department now sees the case and answers; another department may not.
    as_user(client, world.co_rep)
    assert answer(client, review.id).status_code == 403
    on_day(monkeypatch, date(2026, 10, 15))
    as_user(client, world.other_rep)
    assert 'id="inbox-reviews-h"' in text(client.get("/"))
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f'action="/reviews/{review.id}/answer"' in page
    assert answer(client, review.id, outcome="").status_code == 200
    assert answer(client, review.id).status_code == 303
    with database(app) as session:
        opinion = session.scalar(select(Opinion).where(Opinion.case_id == world.case_id, Opinion.level == 1))
    assert opinion.department_id == world.other.id and opinion.issued_on == date(2026, 10, 15)
    assert get_case(app, world.case_id).status == CaseStatus.ANSWERED
    assert clock_of(app, world.case_id, ClockKind.REVIEW).stopped_on == date(2026, 10, 15)
    window = clock_of(app, world.case_id, ClockKind.REREVIEW_REQUEST)
    assert window.due_on == date(2026, 11, 16)  # 14 Nov is a Saturday: the limit runs to Monday 16 Nov
    assert events(app, world.case_id, "reviewed")
    assert any("2026年11月16日" in m.body for m in outbox(app, world.petitioner.login))

    # The petitioner downloads the review opinion and asks for re-review.
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f"/cases/{world.case_id}/opinions/1.pdf" in page and "2026年11月16日" in page
    response = client.get(f"/cases/{world.case_id}/opinions/1.pdf")
    assert response.status_code == 200
    if shutil.which("pdftotext"):
        content = pdf_text(response.data, tmp_path)
        assert get_case(app, world.case_id).reference in content and "2026年11月16日" in content
    on_day(monkeypatch, date(2026, 11, 2))
    assert ask(client, world.case_id, "复查意见仍未解决欠薪问题，请求复核。").status_code == 303
    rereview = review_at(app, world.case_id, 2)
    assert rereview.level == 2 and get_case(app, world.case_id).status == CaseStatus.REVIEW
    assert clock_of(app, world.case_id, ClockKind.REREVIEW).due_on == date(2026, 12, 2)

    # Re-review by the bureau itself (its staff answer for it).
    as_user(client, world.staff)
    assert designate(client, rereview.id, world.other.id).status_code == 200  # it gave the review opinion
    assert designate(client, rereview.id, world.bureau.id).status_code == 303
    assert answer(client, rereview.id, outcome="no_support").status_code == 303
    case = get_case(app, world.case_id)
    assert case.status == CaseStatus.CONCLUDED
    assert events(app, world.case_id, "rereviewed") and events(app, world.case_id, "concluded")
    assert "case.concluded" in audit_actions(app)
    with database(app) as session:
        levels = sorted(session.scalars(select(Opinion.level).where(Opinion.case_id == world.case_id)))
    assert levels == [0, 1, 2]

    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="review-form"' not in page
    assert f"/cases/{world.case_id}/opinions/2.pdf" in page
    assert client.get(f"/cases/{world.case_id}/opinions/2.pdf").status_code == 200
    assert ask(client, world.case_id).status_code == 303
    assert count(app, Review, Review.case_id == world.case_id) == 2


def test_re_review_window_passes_unused_and_the_review_opinion_is_final(app, client, world, monkeypatch):
    answered(client, world, monkeypatch)
    on_day(monkeypatch, date(2026, 9, 20))
    as_user(client, world.petitioner)
    ask(client, world.case_id)
    review = review_at(app, world.case_id, 1)
    as_user(client, world.staff)
    designate(client, review.id, world.bureau.id)
    on_day(monkeypatch, date(2026, 10, 15))
    assert answer(client, review.id).status_code == 303
    on_day(monkeypatch, date(2026, 11, 17))
    as_user(client, world.petitioner)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert 'id="review-form"' not in page and "2026年11月16日" in page
    assert ask(client, world.case_id).status_code == 303
    assert review_at(app, world.case_id, 2) is None


def test_missing_input_on_review_routes_gives_a_message_not_an_error(app, client, world, monkeypatch):
    answered(client, world, monkeypatch)
    on_day(monkeypatch, date(2026, 9, 15))
    as_user(client, world.petitioner)
    assert client.post(f"/cases/{world.case_id}/reviews").status_code == 200
    ask(client, world.case_id)
    review = review_at(app, world.case_id, 1)
    as_user(client, world.staff)
    assert client.post(f"/reviews/{review.id}/designate").status_code == 200
    designate(client, review.id, world.bureau.id)
    assert client.post(f"/reviews/{review.id}/answer").status_code == 200
    assert client.post("/reviews/999999/answer").status_code == 404
    with database(app) as session:
        assert session.scalar(select(Opinion).where(Opinion.case_id == world.case_id, Opinion.level == 1)) is None
