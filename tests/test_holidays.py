"""Working-day counting across real Chinese holidays, and the admin-kept table for years the package lacks."""
from datetime import date

from sqlalchemy import select

from portal.accounts.models import Role
from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.holidays.models import HolidayDay, HolidayYear
from portal.holidays.services import WorkCalendar
from tests.conftest import login
from tests.factories import PASSWORD, make_user

SPRING_2027 = "2027-02-06 ~ 2027-02-13 春节\n2027-04-05 清明节"


def test_five_working_days_across_spring_festival_2026(ctx):
    # 12 Feb 2026 is a Thursday: 13 Fri (1), 14 Sat is an adjusted working day (2), 15–23 Feb are off,
    # 24 (3), 25 (4), 26 (5).
    deadline = WorkCalendar().add_working_days(date(2026, 2, 12), 5)
    assert deadline.due == date(2026, 2, 26)
    assert deadline.provisional is False


def test_five_working_days_across_national_day_2026(ctx):
    # 30 Sep 2026 (Wed): 1–7 Oct off, 8 (1), 9 (2), 10 Oct is a working Saturday (3), 12 (4), 13 (5).
    deadline = WorkCalendar().add_working_days(date(2026, 9, 30), 5)
    assert deadline.due == date(2026, 10, 13)


def test_calendar_limit_ending_in_a_holiday_moves_to_next_working_day(ctx):
    # 15 days after 20 Sep 2026 is 5 Oct, inside the National Day holiday: due on 8 Oct.
    calendar = WorkCalendar()
    assert calendar.add_calendar_days(date(2026, 9, 20), 15).due == date(2026, 10, 8)
    assert calendar.add_calendar_days(date(2026, 9, 20), 15, roll_to_working_day=False).due == date(2026, 10, 5)


def test_unknown_year_counts_monday_to_friday_and_is_provisional(ctx):
    # 2027 is beyond the package: 29 Jan 2027 (Fri) + 5 working days by weekdays = 5 Feb 2027.
    deadline = WorkCalendar().add_working_days(date(2027, 1, 29), 5)
    assert deadline.due == date(2027, 2, 5)
    assert deadline.provisional is True


def test_admin_table_decides_an_entered_year(app, client):
    with app.app_context():
        admin = make_user(Role.ADMIN)
        email = admin.email
    login(client, email, PASSWORD)
    response = client.post("/admin/holidays/new", data={
        "year": "2027", "source": "国务院办公厅关于2027年部分节假日安排的通知",
        "off_days": SPRING_2027, "work_days": "2027-02-14 春节调休"})
    assert response.status_code == 303
    with app.app_context():
        entry = db.session.get(HolidayYear, 2027)
        assert {d.day for d in entry.days if d.kind == HolidayDay.OFF} >= {date(2027, 2, 6), date(2027, 2, 13)}
        deadline = WorkCalendar().add_working_days(date(2027, 2, 4), 5)
        # 5 Feb (1), 6–13 off, 14 Sun works (2), 15 (3), 16 (4), 17 (5)
        assert deadline.due == date(2027, 2, 17)
        assert deadline.provisional is False
        assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "holiday_year.created"))


def test_admin_table_overrides_the_package(app, client):
    with app.app_context():
        admin = make_user(Role.ADMIN)
        email = admin.email
        assert WorkCalendar().is_working_day(date(2026, 2, 16)) == (False, False)
    login(client, email, PASSWORD)
    client.post("/admin/holidays/new", data={"year": "2026", "source": "更正", "off_days": "", "work_days": ""})
    with app.app_context():
        # An entered year with no exceptions is plain Monday–Friday.
        assert WorkCalendar().is_working_day(date(2026, 2, 16)) == (True, False)


def test_bad_holiday_input_is_refused_and_changes_nothing(app, client):
    with app.app_context():
        email = make_user(Role.ADMIN, locale="en").email
    login(client, email, PASSWORD)
    cases = [
        ("2027-02-30 春节", "does not exist"),
        ("春节 2027-02-06", "start with a date"),
        ("2026-12-31 元旦", "is not in 2027"),
        ("2027-02-10 ~ 2027-02-01", "backwards"),
    ]
    for off_days, message in cases:
        response = client.post("/admin/holidays/new", data={"year": "2027", "source": "x", "off_days": off_days})
        assert response.status_code == 200
        assert message in response.get_data(as_text=True)
    both = client.post("/admin/holidays/new", data={"year": "2027", "source": "x", "off_days": "2027-02-14",
                                                     "work_days": "2027-02-14"})
    assert "both as a day off and as a working day" in both.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(HolidayYear, 2027) is None


def test_only_admins_reach_the_holiday_table(app, client):
    with app.app_context():
        email = make_user(Role.STAFF).email
    login(client, email, PASSWORD)
    assert client.get("/admin/holidays/").status_code == 403
