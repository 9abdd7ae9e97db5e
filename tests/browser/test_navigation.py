"""Signing in as each role, role navigation, access denied, htmx navigation and active search."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .helpers import (ADMIN, ADMIN_SECTIONS, DEMO_USER_COUNT, DEPARTMENT_REP, LEADER, MEDIATOR, PETITIONER, STAFF,
                      heading, lang, locale_button, nav_links, zh)

# (log-in, home page heading, role label)
ROLES = [
    pytest.param(ADMIN, "Administration", "Administrator", id="admin"),
    pytest.param(STAFF, "Bureau workbench", "Bureau staff", id="staff"),
    pytest.param(MEDIATOR, "Mediation desk", "Mediator", id="mediator"),
    pytest.param(LEADER, "Leader's overview", "Leader", id="leader"),
    pytest.param(DEPARTMENT_REP, "Department inbox", "Department representative", id="department-rep"),
    pytest.param(PETITIONER, "My petitions", "Petitioner", id="petitioner"),
]


def assert_role_navigation(page, is_admin: bool) -> None:
    links = nav_links(page)
    assert links[0] == "/" and links[-1] == "/account", links
    admin_links = [href for href in links if href.startswith("/admin")]
    if is_admin:
        assert set(ADMIN_SECTIONS) <= set(admin_links), links
    else:
        assert admin_links == [], links
    users_link = page.locator("nav.main-nav").get_by_role("link", name=zh("Users"), exact=True)
    expect(users_link).to_have_count(1 if is_admin else 0)


def test_login_page_is_in_chinese_by_default(page):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert lang(page) == "zh-CN"
    assert heading(page) == zh("Sign in")
    # The Chinese catalog is really in use (Babel looks up zh_CN as zh_Hans_CN, then zh).
    assert re.search(r"[\u4e00-\u9fff]", heading(page)), heading(page)
    # The header offers the other language, labelled in that language.
    expect(locale_button(page, "English")).to_have_attribute("lang", "en")
    # Signed out, the header offers only the public pages: no one's account, no sign-out.
    expect(page.locator("nav.main-nav .who")).to_have_count(0)
    expect(page.locator("nav.main-nav a[href='/query']")).to_have_count(1)


@pytest.mark.parametrize("login, home_heading, role_label", ROLES)
def test_each_role_signs_in_to_its_own_home_page(page, sign_in, login, home_heading, role_label):
    sign_in(page, login)

    assert lang(page) == "zh-CN"
    assert heading(page) == zh(home_heading)
    expect(page).to_have_title(re.compile("^" + re.escape(zh(home_heading)) + " · "))
    assert_role_navigation(page, is_admin=login == ADMIN)
    expect(page.locator("nav.main-nav .who")).to_contain_text(f" · {zh(role_label)}")
    expect(page.locator("nav.main-nav a[aria-current=page]")).to_have_attribute("href", "/")


def test_petitioner_gets_the_access_denied_page_in_chinese(page, sign_in):
    sign_in(page, PETITIONER)

    response = page.goto("/admin/users")

    assert response.status == 403
    assert lang(page) == "zh-CN"
    expect(page.locator("main h1")).to_have_text(f"{zh('Access denied')} (403)")
    expect(page.locator("main")).to_contain_text(zh("You do not have access to this page."))
    expect(page.locator("main").get_by_role("link", name=zh("Back to the home page"))).to_have_attribute("href", "/")
    assert_role_navigation(page, is_admin=False)


def test_nav_links_are_boosted_and_swap_the_page_without_a_reload(page, sign_in, base_url):
    sign_in(page, ADMIN)
    expect(page.locator("body")).to_have_attribute("hx-boost", "true")
    page.evaluate("window.__marker = 1")

    page.locator("nav.main-nav").get_by_role("link", name=zh("Users"), exact=True).click()

    page.wait_for_url(f"{base_url}/admin/users")
    expect(page.locator("main h1")).to_have_text(zh("Users"))
    expect(page).to_have_title(re.compile("^" + re.escape(zh("Users")) + " · "))
    expect(page.locator("nav.main-nav a[aria-current=page]")).to_have_attribute("href", "/admin/users")
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of swapped"

    page.go_back()
    page.wait_for_url(f"{base_url}/")
    expect(page.locator("main h1")).to_have_text(zh("Administration"))


def _user_count(live_app) -> int:
    """Other browser tests add accounts to the shared live database, so count what is there now."""
    from portal.accounts.models import User
    from portal.extensions import db

    with live_app.app_context():
        return db.session.query(User).count()


def test_user_search_filters_the_table_as_you_type(page, sign_in, base_url, live_app):
    sign_in(page, ADMIN)
    page.goto("/admin/users")
    rows = page.locator("#user-rows tbody tr")
    total = _user_count(live_app)
    assert total >= DEMO_USER_COUNT
    expect(rows).to_have_count(total)
    page.evaluate("window.__marker = 1")

    page.locator("#q").press_sequentially("hrss", delay=20)

    page.wait_for_url(re.compile(r"/admin/users\?(.*&)?q=hrss(&|$)"))
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("hrss@yx.example")
    expect(page.locator("main h1")).to_have_count(1)  # only the rows were swapped, not a page into the page
    assert page.evaluate("window.__marker") == 1, "the search reloaded the page"

    page.locator("#q").fill("nobody-has-this-name")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_text(zh("No users match."))

    page.locator("#q").fill("")
    expect(rows).to_have_count(total)

    # The pushed URL is a real page: opening it gives the whole page, already filtered.
    page.goto("/admin/users?q=court")
    expect(page.locator("main h1")).to_have_text(zh("Users"))
    expect(page.locator("#q")).to_have_value("court")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("court@yx.example")
