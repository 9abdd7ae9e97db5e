"""The Chinese catalog is complete, and the language a user picks is the one the portal speaks.

The catalog test extracts the messages afresh, the way `make i18n-update` does, so a new English string
fails here until it is translated in the Chinese catalog.
"""
from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.config import ROOT
from portal.extensions import db
from tests.conftest import login
from tests.factories import PASSWORD, make_user

TRANSLATIONS = Path(ROOT) / "portal" / "translations"
PLACEHOLDER_RE = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")


def _chinese_mo() -> Path:
    """The compiled catalog the portal loads for zh_CN.

    Babel turns "zh_CN" into zh_Hans_CN, so gettext looks in zh_Hans_CN/ and zh/, never in zh_CN/:
    this finds the file the same way the portal does.
    """
    found = gettext.find("messages", str(TRANSLATIONS), [str(Locale.parse("zh_CN"))])
    assert found, ("no compiled Chinese catalog the portal can find under portal/translations "
                   "(Babel looks in zh_Hans_CN/ or zh/); run make setup or pybabel compile -d portal/translations")
    return Path(found)


def _entries(catalog) -> dict:
    # A plural entry's id is a (singular, plural) pair: a list in a .po catalog, a tuple in a compiled one.
    return {tuple(message.id) if isinstance(message.id, (list, tuple)) else message.id: message
            for message in catalog if message.id}


def _texts(message) -> list[str]:
    return list(message.string) if isinstance(message.string, (list, tuple)) else [message.string or ""]


def _ids(message) -> list[str]:
    return list(message.id) if isinstance(message.id, (list, tuple)) else [message.id]


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER_RE.finditer(text)}


def _show(message_id) -> str:
    return repr(message_id[0] if isinstance(message_id, tuple) else message_id)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Every message in the code and templates, extracted now (same options as make i18n-update)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "-q", "extract", "-F", str(Path(ROOT) / "babel.cfg"), "-k", "_l", "--ignore-dirs", ".*",
        "--no-location", "-o", str(pot), str(ROOT),
    ])
    with pot.open("rb") as f:
        catalog = read_po(f)
    assert len(_entries(catalog)) > 100, "the extraction found almost nothing: check babel.cfg"
    return catalog


@pytest.fixture(scope="module")
def chinese_po():
    po = _chinese_mo().with_suffix(".po")
    with po.open("rb") as f:
        return read_po(f)


def test_every_message_is_translated_into_chinese(template, chinese_po):
    translated = _entries(chinese_po)
    missing, empty, fuzzy, placeholders = [], [], [], []
    for key, message in _entries(template).items():
        entry = translated.get(key)
        if entry is None:
            missing.append(_show(key))
            continue
        if entry.fuzzy:
            fuzzy.append(_show(key))
        if not all(text.strip() for text in _texts(entry)):
            empty.append(_show(key))
            continue
        expected = set().union(*(_placeholders(text) for text in _ids(message)))
        for text in _texts(entry):
            if _placeholders(text) != expected:
                placeholders.append(f"{_show(key)}: {sorted(_placeholders(text))} instead of {sorted(expected)}")
    problems = [f"{title} ({len(items)}):\n  " + "\n  ".join(items)
                for title, items in [("not in the Chinese catalog (run make i18n-update)", missing),
                                     ("without a Chinese translation", empty),
                                     ("marked fuzzy", fuzzy),
                                     ("placeholders differ from the English", placeholders)] if items]
    assert not problems, "\n".join(problems)


def test_compiled_catalog_matches_the_po_file(chinese_po):
    """A stale .mo shows old text: the portal reads the compiled file, not the .po."""
    with _chinese_mo().open("rb") as f:
        compiled = _entries(read_mo(f))
    stale = [_show(key) for key, entry in _entries(chinese_po).items()
             if not entry.fuzzy and entry.string and (key not in compiled or _texts(compiled[key]) != _texts(entry))]
    assert not stale, ("compiled catalog out of date, run pybabel compile -d portal/translations:\n  "
                       + "\n  ".join(stale))


def _html_lang(page: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', page)
    return match.group(1) if match else ""


def test_login_page_is_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert _html_lang(page) == "zh-CN"
    assert "登录" in page
    assert "Y市信访综合服务平台" in page
    assert "Sign in" not in page


def test_visitor_switches_to_english(client):
    response = client.post("/locale", data={"locale": "en", "next": "/login"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert _html_lang(page) == "en"
    assert "Sign in" in page
    assert "登录" not in page
    # and back again
    page = client.post("/locale", data={"locale": "zh_CN", "next": "/login"}, follow_redirects=True).get_data(
        as_text=True)
    assert "登录" in page


def test_signed_in_choice_is_kept_on_the_account(app, client):
    with app.app_context():
        user = make_user(Role.PETITIONER, locale="zh_CN")
        user_id, email = user.id, user.email

    page = login(client, email, PASSWORD, follow=True).get_data(as_text=True)
    assert "我的信访" in page

    page = client.post("/locale", data={"locale": "en", "next": "/"}, follow_redirects=True).get_data(as_text=True)
    assert "My petitions" in page
    assert _html_lang(page) == "en"
    with app.app_context():
        assert db.session.scalar(select(User.locale).where(User.id == user_id)) == "en"

    client.post("/logout")

    # A new browser: nothing in its session, so the page is Chinese until the user signs in.
    fresh = app.test_client()
    assert "登录" in fresh.get("/login").get_data(as_text=True)
    page = login(fresh, email, PASSWORD, follow=True).get_data(as_text=True)
    assert "My petitions" in page
    assert "Sign out" in page
    assert _html_lang(page) == "en"
