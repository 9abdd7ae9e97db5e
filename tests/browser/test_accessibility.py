"""Keyboard use, JavaScript switched off and a phone-sized screen."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .helpers import (ADMIN, KEYBOARD_USER, NO_JS_USER, PASSWORD, PETITIONER, WRONG_PASSWORD_USER, heading, lang,
                      locale_button, sign_in_form, zh)


def focused(page) -> dict:
    return page.evaluate("""() => {
        const el = document.activeElement;
        return {tag: el.tagName.toLowerCase(), id: el.id, cls: el.className, href: el.getAttribute("href")};
    }""")


# --- keyboard ------------------------------------------------------------------------------

def test_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(page, sign_in):
    sign_in(page, ADMIN)
    page.goto("/")  # a fresh page load, focus on the document

    page.keyboard.press("Tab")

    assert focused(page) == {"tag": "a", "id": "", "cls": "skip-link", "href": "#main"}
    skip = page.locator("a.skip-link")
    expect(skip).to_have_text(zh("Skip to content"))
    expect(skip).to_be_in_viewport()  # hidden off screen until it has the focus

    page.keyboard.press("Enter")

    assert focused(page)["id"] == "main"
    expect(skip).not_to_be_in_viewport()


def test_log_in_with_the_keyboard_only(page, base_url):
    page.goto("/login")
    # The login field has autofocus; from anywhere else, Tab gets there.
    for _ in range(10):
        if focused(page)["id"] == "login":
            break
        page.keyboard.press("Tab")
    assert focused(page)["id"] == "login"

    page.keyboard.type(KEYBOARD_USER)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "remember"
    page.keyboard.press("Space")
    expect(page.locator("#remember")).to_be_checked()
    page.keyboard.press("Tab")
    assert focused(page)["tag"] == "button"
    page.keyboard.press("Enter")

    page.wait_for_url(f"{base_url}/")
    assert heading(page) == zh("Department inbox")


def test_a_wrong_password_is_reported_next_to_the_field(page):
    page.goto("/login")
    sign_in_form(page, WRONG_PASSWORD_USER, "not-the-password")
    password = page.locator("#password")
    expect(password).to_have_attribute("aria-invalid", "true")
    error = page.locator("#password-error")
    expect(error).to_be_visible()
    expect(password).to_have_attribute("aria-describedby", "password-error")
    assert lang(page) == "zh-CN"


# --- JavaScript off ---------------------------------------------------------------------------

def test_log_in_and_language_switch_work_without_javascript(new_context, base_url):
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/")
    assert page.url == f"{base_url}/login"

    sign_in_form(page, NO_JS_USER)

    page.wait_for_url(f"{base_url}/")
    assert heading(page) == zh("Department inbox")
    assert lang(page) == "zh-CN"

    page.locator("nav.main-nav").get_by_role("link", name=zh("My account"), exact=True).click()
    page.wait_for_url(f"{base_url}/account")
    locale_button(page, "English").click()

    page.wait_for_url(f"{base_url}/account")
    assert lang(page) == "en"
    expect(locale_button(page, "中文")).to_be_visible()
    expect(page.locator("nav.main-nav")).to_contain_text("My account")

    locale_button(page, "中文").click()
    page.wait_for_url(f"{base_url}/account")
    assert lang(page) == "zh-CN"

    page.locator("nav.main-nav").get_by_role("button", name=zh("Sign out")).click()
    page.wait_for_url(f"{base_url}/login")
    expect(page.locator("main")).to_contain_text(zh("You are signed out."))


# --- phone ----------------------------------------------------------------------------------

@pytest.mark.parametrize("login", [None, ADMIN, PETITIONER], ids=["login-page", "admin", "petitioner"])
def test_no_horizontal_scroll_on_a_phone(new_context, sign_in, login):
    page = new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True).new_page()
    if login:
        sign_in(page, login)
    else:
        page.goto("/login")

    widths = page.evaluate("({scroll: document.documentElement.scrollWidth, inner: window.innerWidth})")

    assert widths["inner"] == 390
    assert widths["scroll"] <= widths["inner"], widths
