"""The convener opens the draft minutes of a meeting and approves them; the page then shows them locked."""
from __future__ import annotations

import uuid
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import select

from portal.accounts.models import Department, User
from portal.conferences.models import (
    Conference,
    ConferenceMember,
    Decision,
    Meeting,
    MeetingStatus,
    Minutes,
    MinutesStatus,
)
from portal.extensions import db
from portal.timeutil import utcnow

from .helpers import LEADER


def _workspace_with_draft_minutes(live_app) -> tuple[str, int]:
    with live_app.app_context():
        convener = db.session.scalar(select(User).where(User.email == LEADER))
        office = db.session.scalar(select(Department).where(Department.code == "YX-XFJ"))
        members = db.session.scalars(select(Department).where(Department.code.in_(["YX-RSJ", "YX-ZJJ"]))).all()
        conference = Conference(title="浏览器测试联席会议", convener_id=convener.id, office_department_id=office.id)
        db.session.add(conference)
        db.session.flush()
        for department in members:
            db.session.add(ConferenceMember(conference_id=conference.id, department_id=department.id))
        start = utcnow() - timedelta(days=1)
        meeting = Meeting(conference_id=conference.id, title="第一次会议", status=MeetingStatus.HELD,
                          uid=f"{uuid.uuid4()}@browser-test", starts_at=start, ends_at=start + timedelta(hours=2))
        db.session.add(meeting)
        db.session.flush()
        from portal.conferences.models import Attendance, AttendanceStatus

        for department in members:  # approval needs the attendance
            db.session.add(Attendance(meeting_id=meeting.id, department_id=department.id,
                                      status=AttendanceStatus.ATTENDED))
        minutes = Minutes(meeting_id=meeting.id, body="会议研究了欠薪问题的处理方案。", revision=1)
        minutes.decisions.append(Decision(position=1, text="人社局牵头督促企业支付工资"))
        db.session.add(minutes)
        db.session.commit()
        return f"/conferences/{conference.id}/meetings/{meeting.id}/minutes", minutes.id


def test_convener_approves_the_draft_and_the_page_shows_it_locked(browser, live_app, base_url, sign_in):
    url, minutes_id = _workspace_with_draft_minutes(live_app)
    page = browser.new_context(base_url=base_url).new_page()
    sign_in(page, LEADER)
    page.goto(url)
    expect(page.locator("#minutes-body")).to_contain_text("会议研究了欠薪问题的处理方案。")
    expect(page.locator("#minutes-locked")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())  # approving asks for a confirmation first
    page.locator("#approve-minutes").click()

    expect(page.locator("#minutes-locked")).to_be_visible()
    expect(page.locator("#approve-minutes")).to_have_count(0)
    with live_app.app_context():
        minutes = db.session.get(Minutes, minutes_id)
        assert minutes.status == MinutesStatus.APPROVED and len(minutes.content_hash) == 64
        content_hash = minutes.content_hash
    expect(page.locator("#minutes-hash")).to_have_text(content_hash)
    expect(page.locator("#minutes-status")).to_have_class("tag tag-ok")
    page.context.close()
