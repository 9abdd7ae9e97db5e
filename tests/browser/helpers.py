"""Demo accounts and small page helpers shared by the browser tests."""
from __future__ import annotations

from pathlib import Path

from babel import Locale
from babel.support import Translations

from portal.config import ROOT
from portal.demo import DEMO_PASSWORD, DEMO_USERS

_DEMO_LOGINS = {login for login, *_ in DEMO_USERS}


def _demo(login: str) -> str:
    assert login in _DEMO_LOGINS, f"{login} is not a demo account"
    return login


ADMIN = _demo("admin@yx.example")
STAFF = _demo("staff@yx.example")
MEDIATOR = _demo("mediator@yx.example")
LEADER = _demo("leader@yx.example")
DEPARTMENT_REP = _demo("hrss@yx.example")
PETITIONER = _demo("13800000001")
# Each of these is used by one test only: switching the language is saved on the account, and a wrong
# password counts towards a lock-out, so no other test must depend on their state.
LANGUAGE_USER = _demo("market@yx.example")
NO_JS_USER = _demo("land@yx.example")
KEYBOARD_USER = _demo("court@yx.example")
WRONG_PASSWORD_USER = _demo("street@yx.example")
DEMO_USER_COUNT = len(DEMO_USERS)

PASSWORD = DEMO_PASSWORD

# Navigation links (hrefs) every admin has; other roles have no /admin/ link at all.
ADMIN_SECTIONS = ["/admin/users", "/admin/departments", "/admin/invitations", "/admin/outbox", "/admin/audit"]

# Looked up the way Flask-Babel does it for the portal (a parsed Locale), so that the tests expect
# exactly what the portal shows.
_CATALOG = Translations.load(str(Path(ROOT) / "portal" / "translations"), [Locale.parse("zh_CN")], domain="messages")


def zh(message: str) -> str:
    """The text the portal shows in Chinese for a message id.

    While a message is not translated yet (or the catalog is not found) this is the English id,
    as the portal shows it.
    """
    return _CATALOG.gettext(message)


def lang(page) -> str | None:
    """The lang attribute of <html> (read without page scripts, so it works with JavaScript off too)."""
    return page.locator("html").get_attribute("lang")


def heading(page) -> str:
    return page.locator("main h1").first.inner_text().strip()


def nav_links(page) -> list[str]:
    return [link.get_attribute("href") for link in page.locator("nav.main-nav ul a").all()]


def locale_button(page, label: str):
    """The language button in the header; its label is the language it switches to (中文 or English)."""
    return page.locator("header.site-header form.locale-switch").get_by_role("button", name=label, exact=True)


def sign_in_form(page, login: str, password: str = PASSWORD) -> None:
    """Fill and send the real log-in form on the current page."""
    page.locator("#login").fill(login)
    page.locator("#password").fill(password)
    page.locator("main form button[type=submit]").click()
