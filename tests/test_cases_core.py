"""The shared case record: reference numbers, access to a case, the timeline's internal entries, clocks."""
from datetime import date

from portal.accounts.models import Role
from portal.cases.clocks import clock_state, pause_clock, resume_clock, start_clock
from portal.cases.models import ClockKind, Referral, ReferralKind, ReferralRole, ReferralStatus
from portal.cases.services import add_event, mask_id_number, mask_phone, next_reference, valid_id_number
from portal.extensions import db
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user


def test_reference_numbers_count_per_year(ctx):
    first, second = next_reference(2026), next_reference(2026)
    assert first.startswith("YX-2026-") and len(first) == len("YX-2026-000001")
    assert int(second[-6:]) == int(first[-6:]) + 1
    assert next_reference(2027) == "YX-2027-000001"


def test_masking_and_id_check():
    assert mask_id_number("320102199001011234") == "3201**********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert valid_id_number("11010519491231002X")
    assert not valid_id_number("110105194912310021")


def test_routing_clock_across_national_day(ctx):
    case = make_case(received_on=date(2026, 9, 20))
    clock = case.clocks[0]
    # 15 days after 20 Sep 2026 is 5 Oct, a day off: the limit runs to 8 Oct.
    assert clock.due_on == date(2026, 10, 8)
    assert case.next_due_on == date(2026, 10, 8)
    assert clock_state(clock, on=date(2026, 10, 9)).state == "overdue"
    assert clock_state(clock, on=date(2026, 10, 6)).state == "near"


def test_pause_moves_the_due_date(ctx):
    case = make_case(received_on=date(2026, 3, 2))
    clock = case.clocks[0]
    before = clock.due_on
    pause_clock(clock, "等待补充材料", None, on=date(2026, 3, 5))
    assert case.next_due_on is None  # a paused clock makes nobody overdue
    resume_clock(clock, None, on=date(2026, 3, 12))
    assert clock.paused_days == 7
    assert clock.due_on >= before
    assert case.next_due_on == clock.due_on


def test_objection_window_counts_working_days_across_spring_festival(ctx):
    case = make_case(received_on=date(2026, 2, 10))
    clock = start_clock(case, ClockKind.OBJECTION, date(2026, 2, 12))
    assert clock.due_on == date(2026, 2, 26)


def test_department_sees_only_cases_it_takes_part_in(app, client):
    with app.app_context():
        housing = make_department("住建局测试")
        labour = make_department("人社局测试")
        rep_housing = make_user(Role.DEPARTMENT_REP, housing)
        rep_labour = make_user(Role.DEPARTMENT_REP, labour)
        case = make_case()
        db.session.add(Referral(case=case, department=housing, kind=ReferralKind.ASSIGN, role=ReferralRole.LEAD,
                                status=ReferralStatus.PENDING, sent_on=date.today()))
        db.session.commit()
        case_id, housing_login, labour_login = case.id, rep_housing.email, rep_labour.email
    login(client, labour_login, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 403
    client.post("/logout")
    login(client, housing_login, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 200


def test_petitioner_never_sees_internal_timeline_entries(app, client):
    with app.app_context():
        petitioner = make_user(Role.PETITIONER)
        staff = make_user(Role.STAFF)
        case = make_case(petitioner_user=petitioner)
        add_event(case, "note", actor=staff, text="内部意见：此人多次重复信访", internal=True)
        db.session.commit()
        case_id, p_login, s_login = case.id, petitioner.email, staff.email
    login(client, p_login, PASSWORD)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "拖欠工资三个月" in page
    assert "内部意见" not in page
    client.post("/logout")
    login(client, s_login, PASSWORD)
    assert "内部意见" in client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_other_petitioner_gets_403(app, client):
    with app.app_context():
        owner = make_user(Role.PETITIONER)
        other = make_user(Role.PETITIONER)
        case_id = make_case(petitioner_user=owner).id
        other_login = other.email
    login(client, other_login, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 403
    assert client.get("/cases/999999").status_code in (403, 404)


def test_labels_of_enums_sharing_a_value_stay_apart(app):
    from flask_babel import force_locale

    from portal.cases.models import CaseStatus, RequestStatus

    with app.test_request_context(), force_locale("en"):
        assert str(ReferralStatus.PENDING.label) == "Awaiting acceptance"
        assert str(RequestStatus.PENDING.label) == "Pending"
        assert str(CaseStatus.REVIEW.label) == "Under review"
        assert str(ClockKind.REVIEW.label) == "Review"


def test_a_petitioners_window_closes_instead_of_falling_overdue(ctx):
    case = make_case(received_on=date(2026, 9, 1))
    window = start_clock(case, ClockKind.REVIEW_REQUEST, date(2026, 9, 10))
    assert clock_state(window, on=date(2026, 10, 12)).state == "closed"
    assert clock_state(case.clocks[0], on=date(2026, 10, 12)).state == "overdue"


def test_petitioner_sees_the_files_of_their_petition_but_not_internal_ones(app, client):
    from portal.cases.models import Attachment

    with app.app_context():
        petitioner = make_user(Role.PETITIONER)
        case = make_case(petitioner_user=petitioner)
        for name, internal in [("证据照片.png", False), ("内部研判.pdf", True)]:
            db.session.add(Attachment(case=case, stored_name=f"x-{name}", original_name=name, content_type="image/png",
                                      size=10, sha256="0" * 64, internal=internal, uploaded_by_id=petitioner.id))
        db.session.commit()
        case_id, email = case.id, petitioner.email
    login(client, email, PASSWORD)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "证据照片.png" in page
    assert "内部研判.pdf" not in page
