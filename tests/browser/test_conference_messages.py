"""The workspace's message thread: htmx appends one's own message at once and others' by polling."""
from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from portal.conferences.models import Conference
from portal.extensions import db

from .helpers import DEPARTMENT_REP, STAFF


def _demo_workspace(live_app) -> int:
    with live_app.app_context():
        return db.session.scalar(select(Conference.id).where(Conference.title == "宅基地确权登记联席会议"))


def test_a_message_appears_without_reload_and_others_see_it_by_polling(browser, live_app, base_url, sign_in):
    conference_id = _demo_workspace(live_app)
    poster = browser.new_context(base_url=base_url).new_page()
    reader = browser.new_context(base_url=base_url).new_page()
    sign_in(poster, DEPARTMENT_REP)
    sign_in(reader, STAFF)
    reader.goto(f"/conferences/{conference_id}")
    reader.evaluate("window.__samePage = true")
    poster.goto(f"/conferences/{conference_id}")
    poster.evaluate("window.__samePage = true")
    before = poster.locator("#message-list > li").count()

    box = poster.locator("#message-body")
    box.fill("人社局：拖欠工资部分已立案查处。")
    poster.locator("#message-form button[type=submit]").click()

    expect(poster.locator("#message-list > li")).to_have_count(before + 1)
    expect(poster.locator("#message-list > li").last).to_contain_text("人社局：拖欠工资部分已立案查处。")
    expect(box).to_have_value("")
    assert poster.evaluate("window.__samePage") is True  # appended, not reloaded

    # The other member's page polls every 10 s and gets only the new message.
    expect(reader.locator("#message-list > li").last).to_contain_text("人社局：拖欠工资部分已立案查处。",
                                                                   timeout=15_000)
    expect(reader.locator("#message-list > li")).to_have_count(before + 1)
    assert reader.evaluate("window.__samePage") is True
    poster.context.close()
    reader.context.close()
