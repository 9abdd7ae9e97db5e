"""A petitioner submits an online petition through every step in a real browser; bureau staff then find it."""
import re

from playwright.sync_api import expect

from .helpers import PASSWORD, STAFF, sign_in_form

PETITIONER = "13800000002"  # registered by this test, so the demo petitioner's cases stay as they are
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _register_confirmed_petitioner(live_app):
    from portal.accounts.models import Role, User
    from portal.accounts.services import hash_password
    from portal.extensions import db
    from portal.timeutil import utcnow

    with live_app.app_context():
        if db.session.query(User).filter_by(phone=PETITIONER).first() is None:
            db.session.add(User(display_name="林网上", phone=PETITIONER, role=Role.PETITIONER, locale="zh_CN",
                                password_hash=hash_password(PASSWORD), session_token="browser-online-petition",
                                contact_confirmed_at=utcnow()))
            db.session.commit()


def test_online_petition_step_by_step_then_found_by_staff(page, live_url, live_app, tmp_path):
    _register_confirmed_petitioner(live_app)
    page.goto(f"{live_url}/login")
    sign_in_form(page, PETITIONER)
    page.wait_for_url(re.compile(r"/$"))
    page.goto(f"{live_url}/petitions/new")

    # 1 who: name and phone come from the account
    expect(page.locator("input[name=name]")).to_have_value("林网上")
    page.fill("input[name=id_number]", "32010219850315123")  # one digit short: refused inline
    page.locator("input[name=address]").focus()
    expect(page.locator("#id_number-error")).to_be_visible()  # checked as soon as the field is left
    page.fill("input[name=address]", "Y市东区和平路8号")
    page.fill("input[name=id_number]", "320102198503151230")
    page.click("button.primary[value=next]")

    # 2 what happened
    expect(page.locator("#step-heading")).to_contain_text("2")
    page.select_option("select[name=matter_type]", "appeal")
    page.fill("input[name=subject]", "噪音扰民长期无人处理")
    page.fill("textarea[name=facts]", "楼下饭店排风机每天夜间运行至凌晨两点，噪音严重影响休息。")
    page.fill("textarea[name=request]", "请求责令饭店整改排风设备。")
    page.click("button.primary[value=next]")

    # 3 attachments
    expect(page.locator("#step-heading")).to_contain_text("3")
    evidence = tmp_path / "噪音记录.pdf"
    evidence.write_bytes(PDF)
    page.set_input_files("input[name=attachments]", str(evidence))
    page.click("button[value=upload]")
    expect(page.locator("#online-form")).to_contain_text("噪音记录.pdf")
    page.click("button.primary[value=next]")

    # 4 review and submit
    expect(page.locator("#online-form")).to_contain_text("噪音扰民长期无人处理")
    page.click("button.primary[value=submit]")
    expect(page).to_have_url(re.compile(r"/cases/\d+/acknowledgment$"))
    body = page.locator("main").inner_text()
    reference = re.search(r"YX-\d{4}-\d{6}", body).group(0)

    # Bureau staff find it by a word of the facts in the case list (active search)
    page.context.clear_cookies()
    page.goto(f"{live_url}/login")
    sign_in_form(page, STAFF)
    page.wait_for_url(re.compile(r"/$"))
    page.goto(f"{live_url}/cases")
    page.fill("input[name=q]", "排风机")
    expect(page.locator("main table")).to_contain_text(reference)
    expect(page).to_have_url(re.compile(r"q=%E6%8E%92%E9%A3%8E%E6%9C%BA|q=排风机"))
