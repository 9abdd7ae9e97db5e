"""A department representative answers the availability grid; each click swaps the row in place (htmx)."""
from __future__ import annotations

from datetime import time

from playwright.sync_api import expect

from portal.conferences import meetings
from portal.conferences.models import Conference
from portal.extensions import db
from tests.scheduling_helpers import local_day

# Demo accounts only (no new users or departments: other browser tests count them). The representative
# who clicks is one no other browser test signs in with.
OFFICE, CONVENER, REPRESENTATIVE = "staff@yx.example", "leader@yx.example", "housing@yx.example"
MEMBER_CODES = ("YX-ZJJ", "YX-RSJ", "YX-ZRZY")


def _build(live_app):
    """A workspace with three member departments and a meeting with two candidate times."""
    from sqlalchemy import select

    from portal.accounts.models import Department, DepartmentKind, User
    from portal.conferences.models import ConferenceMember

    with live_app.app_context(), live_app.test_request_context():
        office = db.session.scalar(select(User).where(User.email == OFFICE))
        convener = db.session.scalar(select(User).where(User.email == CONVENER))
        bureau = db.session.scalar(select(Department).where(Department.kind == DepartmentKind.PETITION_BUREAU))
        members = [db.session.scalar(select(Department).where(Department.code == c)) for c in MEMBER_CODES]
        conference = Conference(title="浏览器测试联席会议", purpose="", convener_id=convener.id,
                                office_department_id=bureau.id, created_by_id=office.id)
        db.session.add(conference)
        db.session.flush()
        for department in members:
            db.session.add(ConferenceMember(conference_id=conference.id, department_id=department.id))
        db.session.commit()
        first = meetings.SlotInput(on=local_day(10), at=time(9, 0), minutes=90, room="301会议室")
        meeting = meetings.propose(conference, office, "协调会", first)
        second = meetings.SlotInput(on=local_day(11), at=time(14, 0), minutes=60,
                                    online_link="https://meet.example/x")
        meetings.add_slot(meeting, office, second)
        return (conference.id, meeting.id, [s.id for s in meeting.slots], [d.id for d in members],
                [d.name for d in members])


def test_a_representative_answers_and_the_grid_updates_in_place(page, live_app, sign_in):
    conference_id, meeting_id, (first, second), department_ids, names = _build(live_app)
    department = department_ids[0]
    sign_in(page, REPRESENTATIVE)
    page.goto(f"/conferences/{conference_id}/meetings/{meeting_id}")
    page.evaluate("window.__samePage = true")

    cell = page.locator(f'#slot-{first} td[data-department="{department}"]')
    expect(cell).to_have_class("answer answer-none")
    page.locator(f'#slot-{first} input[name="answer"][value="yes"]').check()
    expect(cell).to_have_class("answer answer-yes")
    expect(page.locator(f"#slot-{first} td.counts")).to_have_attribute("data-yes", "1")
    expect(page.locator(f'#slot-{first} input[name="answer"][value="yes"]')).to_be_checked()

    page.locator(f'#slot-{second} input[name="answer"][value="no"]').check()
    expect(page.locator(f'#slot-{second} td[data-department="{department}"]')).to_have_class("answer answer-no")
    # The answer is changed in place too.
    page.locator(f'#slot-{first} input[name="answer"][value="if_need_be"]').check()
    expect(cell).to_have_class("answer answer-if_need_be")
    expect(page.locator(f"#slot-{first} td.counts")).to_have_attribute("data-yes", "0")
    assert page.evaluate("window.__samePage === true"), "the page was reloaded instead of swapping the row"
    own, others = names[0], names[1:]
    expect(page.locator(f"#missing-{meeting_id}")).not_to_contain_text(own)  # swapped out of band

    # The row and the list of departments still missing came from the server.
    page.reload()
    expect(page.locator(f'#slot-{first} td[data-department="{department}"]')).to_have_class(
        "answer answer-if_need_be")
    missing = page.locator(f"#missing-{meeting_id}")
    for name in others:
        expect(missing).to_contain_text(name)
    expect(missing).not_to_contain_text(own)
