"""The language button in the header: English on request, remembered on the account."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from .helpers import LANGUAGE_USER, heading, lang, locale_button, sign_in_form, zh


def test_switch_to_english_is_remembered_after_signing_out_and_in(page, sign_in, new_context, base_url):
    sign_in(page, LANGUAGE_USER)
    assert lang(page) == "zh-CN"
    assert heading(page) == zh("Department inbox")

    locale_button(page, "English").click()

    expect(locale_button(page, "中文")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main h1")).to_have_text("Department inbox")
    expect(page).to_have_title(re.compile(r"^Department inbox · Y City Petition Portal$"))
    expect(page.locator("nav.main-nav")).to_contain_text("My account")
    expect(page).to_have_url(f"{base_url}/")  # back on the page the button was pressed on

    page.locator("nav.main-nav").get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{base_url}/login")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("main")).to_contain_text("You are signed out.")
    sign_in_form(page, LANGUAGE_USER)
    page.wait_for_url(f"{base_url}/")
    expect(page.locator("main h1")).to_have_text("Department inbox")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    # A new browser (no cookies): the log-in page is Chinese, the account brings English back.
    other = new_context().new_page()
    other.goto("/login")
    assert lang(other) == "zh-CN"
    sign_in_form(other, LANGUAGE_USER)
    other.wait_for_url(f"{base_url}/")
    expect(other.locator("html")).to_have_attribute("lang", "en")
    expect(other.locator("main h1")).to_have_text("Department inbox")

    # And back to Chinese.
    locale_button(other, "中文").click()
    expect(locale_button(other, "English")).to_be_visible()
    expect(other.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(other.locator("main h1")).to_have_text(zh("Department inbox"))

