"""A department representative answers the availability grid; each click swaps the row in place (htmx)."""
from __future__ import annotations

from datetime import time

from playwright.sync_api import expect

from portal.conferences import meetings
from portal.conferences.models import Conference
from portal.extensions import db
from tests.factories import PASSWORD
from tests.scheduling_helpers import local_day, make_workspace


def _build(live_app):
    """A workspace with three member departments and a meeting with two candidate times."""
    from portal.accounts.models import User

    with live_app.app_context(), live_app.test_request_context():
        ws = make_workspace(title="浏览器测试联席会议")
        conference = db.session.get(Conference, ws.id)
        office = db.session.get(User, ws.office.id)
        first = meetings.SlotInput(on=local_day(10), at=time(9, 0), minutes=90,
                                   room="301会议室")
        meeting = meetings.propose(conference, office, "协调会", first)
        second = meetings.SlotInput(on=local_day(11), at=time(14, 0), minutes=60,
                                    online_link="https://meet.example/x")
        meetings.add_slot(meeting, office, second)
        slot_ids = [s.id for s in meeting.slots]
        return ws, meeting.id, slot_ids


def test_a_representative_answers_and_the_grid_updates_in_place(page, live_app, sign_in):
    ws, meeting_id, (first, second) = _build(live_app)
    rep = ws.reps[0]
    department = rep.department_id
    sign_in(page, rep.login, PASSWORD)
    page.goto(f"/conferences/{ws.id}/meetings/{meeting_id}")
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
    with live_app.app_context():
        from portal.accounts.models import Department

        own = db.session.get(Department, department).name
        others = [db.session.get(Department, d).name for d in ws.department_ids[1:]]
    expect(page.locator(f"#missing-{meeting_id}")).not_to_contain_text(own)  # swapped out of band

    # The row and the list of departments still missing came from the server.
    page.reload()
    expect(page.locator(f'#slot-{first} td[data-department="{department}"]')).to_have_class(
        "answer answer-if_need_be")
    missing = page.locator(f"#missing-{meeting_id}")
    for name in others:
        expect(missing).to_contain_text(name)
    expect(missing).not_to_contain_text(own)
