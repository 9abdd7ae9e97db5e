"""A mediation agreement end to end (issue 6), in a real browser and through the pages only.

The demo petitioner submits a new online petition (a labour dispute), bureau staff refer it to mediation with the
human resources department on the other side, and the mediator holds one short session (one entry, read back,
confirmed, locked) and records "agreement reached". The mediator drafts the agreement with two obligations, previews
its PDF and opens signing. The petitioner signs with a one-time code and a signature drawn with the mouse; the
department signs through its representative on a phone-sized touch screen, drawing with a finger (touch events sent
through the Chrome DevTools protocol: Playwright's touchscreen can only tap); then the mediator signs and applies the
committee seal (an administrator uploads the seal image first when the committee has none). The sealed PDF appears
in the self-polling status panel, the petitioner downloads their copy from their own case page, and the public
verification page says the copy is authentic with a valid signature, shows none of its content, and reports a copy
with one changed byte as not authentic.

The database is read only to find ids, to read the one-time codes from the outbox and to check what the pages say.
Accounts: demo ones whose saved state no other browser test depends on (no language switch, no wrong password). The
case is new, so no other browser test's case is touched.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.scheduling_helpers import local_day

from .helpers import ADMIN, DEPARTMENT_REP, MEDIATOR, PETITIONER, STAFF, zh

DEPARTMENT = "Y市人力资源和社会保障局"  # the department of DEPARTMENT_REP (hrss@yx.example)
COMMITTEE = "Y市人民调解委员会"
MEDIATOR_NAME = "李调解（调解委员会）"
PETITIONER_NAME = "陈信访"
PETITIONER_ID_NUMBER = "320102198804121238"
CASE_SUBJECT = "物流公司拖欠加班费并未足额缴纳社会保险"
ENTRY = "申请人陈述：2026年6月至9月每周加班约十小时，公司未支付加班费。"
OBLIGATION_1 = "人社局督促物流公司向申请人一次性支付加班费人民币八千元"
OBLIGATION_2 = "申请人收到款项后撤回本信访事项"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is needed")


# --- reading the database ----------------------------------------------------------------------------------------

def _signing_code(live_app, recipient: str, agreement_id: int, after_id: int) -> str:
    """The one-time code in the newest message to `recipient` sent after message `after_id`."""
    from sqlalchemy import select

    from portal.agreements.models import Agreement
    from portal.extensions import db
    from portal.mail.models import OutboxMessage
    from portal.rules import ONE_TIME_CODE_DIGITS

    with live_app.app_context():
        message = db.session.scalar(select(OutboxMessage).where(OutboxMessage.recipient == recipient,
                                                                OutboxMessage.id > after_id)
                                    .order_by(OutboxMessage.id.desc()).limit(1))
        assert message is not None, f"no code was sent to {recipient}"
        agreement = db.session.get(Agreement, agreement_id)
        body = message.body.replace(agreement.number, " ").replace(agreement.referral.case.reference, " ")
    codes = re.findall(rf"(?<!\d)\d{{{ONE_TIME_CODE_DIGITS}}}(?!\d)", body)
    assert len(codes) == 1, body
    return codes[0]


def _last_message_id(live_app) -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.mail.models import OutboxMessage

    with live_app.app_context():
        return db.session.scalar(select(func.max(OutboxMessage.id))) or 0


def _signatures(live_app, agreement_id: int) -> list[tuple[str, str, bool]]:
    """(role, signer name, has a drawn image) of each signature given."""
    from sqlalchemy import select

    from portal.agreements.models import AgreementSignature
    from portal.extensions import db

    with live_app.app_context():
        rows = db.session.scalars(select(AgreementSignature).where(AgreementSignature.agreement_id == agreement_id)
                                  .order_by(AgreementSignature.id))
        return [(row.role.value, row.signer_name, row.mark is not None and row.mark.value == "drawn") for row in rows]


# --- page helpers ------------------------------------------------------------------------------------------------

def _pdf_text(page, href: str) -> str:
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "application/pdf", response.status
    return _text_of(response.body())


def _text_of(pdf: bytes) -> str:
    done = subprocess.run(["pdftotext", "-q", "-", "-"], input=pdf, capture_output=True, check=True)
    return re.sub(r"\s+", "", done.stdout.decode("utf-8"))  # pdftotext breaks long lines


def _probe(text: str) -> str:
    """The start of an obligation's text: short enough to stay on one line of the PDF's narrow table cell."""
    return re.sub(r"\s+", "", text)[:8]


def _stroke(box, fraction: float = 1.0) -> list[tuple[float, float]]:
    """Points of a signature-like zigzag inside the canvas's bounding box."""
    left, top, width, height = box["x"], box["y"], box["width"], box["height"]
    points = []
    for step in range(13):
        x = left + width * (0.1 + 0.06 * step)
        y = top + height * (0.3 if step % 2 else 0.7) * fraction + height * (1 - fraction) / 2
        points.append((x, y))
    return points


def _pad(page):
    """The visible signature canvas, once signature.js has swapped it in for the typed name."""
    canvas = page.locator("#sign-form fieldset[data-signature-pad] canvas")
    expect(canvas).to_be_visible()
    expect(page.locator("#sign-form fieldset[data-signature-pad]")).to_have_attribute("data-bound", "1")
    return canvas


def _draw_with_mouse(page) -> None:
    canvas = _pad(page)
    canvas.scroll_into_view_if_needed()
    points = _stroke(canvas.bounding_box())
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=4)
    page.mouse.up()


def _draw_with_finger(page) -> None:
    """A finger stroke: touchStart, touchMove…, touchEnd, as a touch screen sends them."""
    canvas = _pad(page)
    canvas.scroll_into_view_if_needed()
    points = _stroke(canvas.bounding_box())
    cdp = page.context.new_cdp_session(page)
    try:
        def touch(kind: str, point=None):
            touches = [] if point is None else [{"x": point[0], "y": point[1], "id": 1, "radiusX": 4, "radiusY": 4,
                                                  "force": 0.5}]
            cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": touches})

        touch("touchStart", points[0])
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            for i in range(1, 5):
                touch("touchMove", (x0 + (x1 - x0) * i / 4, y0 + (y1 - y0) * i / 4))
        touch("touchEnd")
    finally:
        cdp.detach()


def _pad_has_ink(page) -> bool:
    """Whether the canvas holds any drawn (non-transparent) pixel."""
    return page.locator("#sign-form canvas").evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; } return false; }")


def _sign(page, live_app, agreement_id: int, recipient: str, draw) -> None:
    """On a signing page: get a code, enter it, draw the signature, sign."""
    before = _last_message_id(live_app)
    page.locator("#send-code").click()
    expect(page.locator("#sign-form #code")).to_be_visible()
    code = _signing_code(live_app, recipient, agreement_id, before)
    page.locator("#sign-form #code").fill(code)
    draw(page)
    assert _pad_has_ink(page), "the stroke left no ink on the signature pad"
    page.locator("#sign-submit").click()


def _later_today(live_app) -> datetime:
    """A start a few minutes ahead on the portal's local day (a session starts on its day and is scheduled ahead).
    Just before local midnight, wait for the new day rather than schedule into it."""
    from portal import timeutil

    with live_app.app_context():
        zone = timeutil.local_zone()
    while True:
        now = datetime.now(zone)
        start = (now + timedelta(minutes=3)).replace(second=0, microsecond=0)
        if start.date() == now.date():
            return start
        time.sleep(max(1.0, (start.replace(hour=0, minute=0) - now).total_seconds() + 1))


def _schedule(page, live_app) -> None:
    """On the matter page: schedule a session later today; accept the overlap warning if one comes up."""
    start = _later_today(live_app)
    page.locator("#mediation-sessions").get_by_role("link", name=zh("Schedule a session")).click()
    page.fill("#on", start.date().isoformat())
    page.fill("#at", start.strftime("%H:%M"))
    page.fill("#minutes", "30")
    page.fill("#room", "第三调解室")
    page.get_by_role("button", name=zh("Schedule and send the invitations")).click()
    record_link, conflicts = page.locator("p.record-link a"), page.locator("#conflict-list")
    expect(record_link.or_(conflicts)).to_be_visible()
    if conflicts.is_visible():
        page.check("#confirm_conflicts")
        page.get_by_role("button", name=zh("Schedule and send the invitations")).click()
    expect(record_link).to_be_visible()


def _hold_session(page) -> None:
    """From the session page: start the session, everyone present, one entry, read back, both confirm, lock."""
    page.locator("p.record-link a").click()
    page.locator("#start-session").click()
    expect(page.locator("#quick-add")).to_be_visible()
    parties = {}
    for row in page.locator("#attendance tbody tr").all():
        party_id = row.locator("input[name=party_id]").get_attribute("value")
        parties[PETITIONER_NAME if PETITIONER_NAME in row.locator("th").inner_text() else DEPARTMENT] = party_id
        page.select_option(f"#present-{party_id}", "present")
    assert set(parties) == {PETITIONER_NAME, DEPARTMENT}, parties
    page.fill(f"#attendee-{parties[DEPARTMENT]}", "赵人社（人社局）")
    page.locator("#attendance").get_by_role("button", name=zh("Save attendance")).click()
    expect(page.locator("main")).to_contain_text(zh("Attendance saved."))

    page.select_option("#speaker", parties[PETITIONER_NAME])
    page.select_option("#kind", "statement")
    page.locator("#quick-add #text").fill(ENTRY)
    page.locator("#quick-add #text").press("Control+Enter")
    expect(page.locator("#entries > li")).to_have_count(1)
    expect(page.locator("#entries > li").last).to_contain_text(ENTRY)

    page.locator("#read-back").click()
    expect(page.locator("#record-status")).to_have_text(zh("Read back"))
    for party_id in parties.values():
        page.select_option("#party", party_id)
        page.check("input[name=answer][value=confirmed]")
        page.locator(".confirm-form").get_by_role("button", name=zh("Record the answer")).click()
        answer = page.locator(f"li#answer-of-{party_id}, li#answer-{party_id}")  # (the id was renamed)
        expect(answer).to_contain_text(zh("Confirmed"))
    page.locator("#lock-record").click()
    expect(page.locator("#record-status")).to_have_text(zh("Locked"))


# --- the walk-through ----------------------------------------------------------------------------------------------

def test_agreement_drafted_signed_sealed_downloaded_and_verified(new_context, sign_in, live_app, tmp_path):
    # 1. The demo petitioner submits a new petition online (so the case is linked to their account).
    petitioner = sign_in(new_context().new_page(), PETITIONER)
    petitioner.goto("/petitions/new")
    expect(petitioner.locator("input[name=name]")).to_have_value(PETITIONER_NAME)
    petitioner.fill("input[name=id_number]", PETITIONER_ID_NUMBER)
    petitioner.fill("input[name=address]", "Y市东区和平路1号")
    petitioner.click("button.primary[value=next]")
    expect(petitioner.locator("#step-heading")).to_contain_text("2")
    petitioner.select_option("select[name=matter_type]", "appeal")
    petitioner.fill("input[name=subject]", CASE_SUBJECT)
    petitioner.fill("textarea[name=facts]", "本人在某物流公司工作期间长期加班，公司未支付加班费，且未足额缴纳社会保险。")
    petitioner.fill("textarea[name=request]", "请求督促公司支付加班费并补缴社会保险。")
    petitioner.click("button.primary[value=next]")
    expect(petitioner.locator("#step-heading")).to_contain_text("3")
    petitioner.click("button.primary[value=next]")
    expect(petitioner.locator("#online-form")).to_contain_text(CASE_SUBJECT)
    petitioner.click("button.primary[value=submit]")
    expect(petitioner).to_have_url(re.compile(r"/cases/\d+/acknowledgment$"))
    case_id = int(re.search(r"/cases/(\d+)/", petitioner.url).group(1))

    # 2. Bureau staff refer it to mediation, the human resources department on the other side, both consents.
    staff = sign_in(new_context().new_page(), STAFF)
    staff.goto(f"/cases/{case_id}")
    staff.locator(".triage-choices").get_by_role("link", name=zh("Mediation"), exact=True).click()
    form = staff.locator("#triage-panel form")
    form.locator("#committee").select_option(label=COMMITTEE)
    form.locator("input[name=respondent][value=department]").check()
    form.locator("#other_department").select_option(label=DEPARTMENT)
    form.locator("#petitioner_consent_on").fill(local_day(0).isoformat())
    form.locator("#petitioner_consent_how").fill("网上提交时申请调解")
    form.locator("#other_consent_on").fill(local_day(0).isoformat())
    form.locator("#other_consent_how").fill("人社局书面同意函")
    form.locator("#scope_confirmed").check()
    form.get_by_role("button", name=zh("Refer to mediation")).click()
    panel = staff.locator("#case-mediation")
    expect(panel).to_contain_text(DEPARTMENT)
    matter_href = panel.get_by_role("link", name=zh("Open the mediation")).get_attribute("href")
    matter_id = int(re.search(r"/mediation/(\d+)$", matter_href).group(1))
    staff.context.close()

    # 3. The mediator takes it on, holds one session and records "agreement reached".
    mediator = sign_in(new_context().new_page(), MEDIATOR)
    mediator.on("dialog", lambda dialog: dialog.accept())
    mediator.goto(f"/mediation/{matter_id}")
    team = mediator.locator("#mediation-team")
    team.locator("summary", has_text=zh("Assign a mediator")).click()
    team.locator("#mediator-user_id").select_option(label=MEDIATOR_NAME)
    team.get_by_role("button", name=zh("Assign the mediator"), exact=True).click()
    expect(mediator.locator("#mediation-team .member-list")).to_contain_text(MEDIATOR_NAME)
    _schedule(mediator, live_app)
    _hold_session(mediator)
    mediator.goto(f"/mediation/{matter_id}")
    outcome = mediator.locator("#mediation-outcome")
    outcome.locator("input[name=outcome-kind][value=agreement]").check()
    outcome.get_by_role("button", name=zh("Record the outcome")).click()
    expect(mediator.locator("#mediation-outcome dl.facts")).to_contain_text(zh("Agreement reached"))

    # 4. The agreement: started from the matter, a version with two obligations, previewed, signing opened.
    mediator.locator("#start-agreement").click()
    expect(mediator.locator("#version-form")).to_be_visible()
    agreement_id = int(re.search(r"/agreements/(\d+)/edit", mediator.url).group(1))
    version = mediator.locator("#version-form")
    version.locator("#facts").fill("申请人于2026年6月至9月在物流公司工作期间每周加班约十小时，公司未支付加班费。")
    version.locator("#disputes").fill("加班费的数额及支付期限。")
    version.locator("#responsibilities").fill("物流公司应依法支付加班费；人社局负责督促落实。")
    for index, (party, what, due_days) in enumerate(((DEPARTMENT, OBLIGATION_1, 30),
                                                    (PETITIONER_NAME, OBLIGATION_2, 45))):
        row = version.locator(f"#obligation-{index}")
        select = row.locator(f"#obligations-{index}-party_id")
        select.select_option(select.locator("option", has_text=party).first.get_attribute("value"))
        row.locator(f"#obligations-{index}-what").fill(what)
        row.locator(f"#obligations-{index}-manner").fill("银行转账" if index == 0 else "书面申请")
        row.locator(f"#obligations-{index}-place").fill("Y市信访局")
        row.locator(f"#obligations-{index}-due_on").fill(local_day(due_days).isoformat())
    version.locator("#change_note").fill("写明事实和两项义务")
    mediator.locator("#save-version").click()
    expect(mediator.locator("#agreement-text")).to_contain_text(OBLIGATION_1)
    expect(mediator.locator("#agreement-text")).to_contain_text(OBLIGATION_2)

    preview = _pdf_text(mediator, mediator.locator("#preview-pdf").get_attribute("href"))
    for expected in (PETITIONER_NAME, DEPARTMENT, _probe(OBLIGATION_1), _probe(OBLIGATION_2)):
        assert expected in preview, expected

    mediator.locator("#open-signing").click()
    expect(mediator.locator("#agreement-status")).to_have_text(zh("Being signed"))
    signing_hash = mediator.locator("#signing-hash").inner_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", signing_hash)

    # 5. The petitioner signs: one-time code, a signature drawn with the mouse.
    petitioner.goto(f"/agreements/{agreement_id}")
    petitioner.locator("#sign-link").click()
    _sign(petitioner, live_app, agreement_id, PETITIONER, _draw_with_mouse)
    expect(petitioner.locator("main")).to_contain_text(zh("Thank you: your signature is recorded."))
    expect(petitioner.locator("#already-signed")).to_be_visible()

    # 6. The department signs through its representative on a phone, drawing with a finger.
    phone = new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True,
                        device_scale_factor=2).new_page()
    representative = sign_in(phone, DEPARTMENT_REP)
    representative.goto(f"/agreements/{agreement_id}")
    width = representative.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the agreement page being signed is {width}px wide on a 390px screen"
    representative.locator("#sign-link").click()
    width = representative.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the signing page is {width}px wide on a 390px screen"
    # Each obligation is a block with its labels: nothing scrolls sideways, the due date is in view of the reader.
    sideways = representative.evaluate(
        "[...document.querySelectorAll('main .table-wrap')].filter(w => w.scrollWidth > w.clientWidth + 1).length")
    assert sideways == 0, "a table scrolls sideways on the signing page at 390px"
    due = representative.locator("#text-obligations tbody tr").first.locator("td").last
    expect(due).to_be_visible()
    box = due.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the due date is off screen: {box}"
    _sign(representative, live_app, agreement_id, DEPARTMENT_REP, _draw_with_finger)
    expect(representative.locator("#already-signed")).to_be_visible()

    # 7. The mediator signs, then the seal (its image uploaded by an administrator if the committee has none).
    mediator.goto(f"/agreements/{agreement_id}")
    mediator.locator("#mediator-sign-link").click()
    _sign(mediator, live_app, agreement_id, MEDIATOR, _draw_with_mouse)
    expect(mediator.locator("main")).to_contain_text(
        zh("Your signature as mediator is recorded. The committee seal is next."))
    signatures = _signatures(live_app, agreement_id)
    assert [(role, drawn) for role, _name, drawn in signatures] == [("party", True), ("party", True),
                                                                  ("mediator", True)], signatures

    if mediator.locator("#seal-missing").count():
        from PIL import Image, ImageDraw

        seal = tmp_path / "seal.png"
        image = Image.new("RGBA", (200, 200), (255, 255, 255, 0))
        ImageDraw.Draw(image).ellipse((8, 8, 192, 192), outline=(200, 0, 0, 255), width=10)
        image.save(seal)
        admin = sign_in(new_context().new_page(), ADMIN)
        admin.goto("/admin/signing")
        section = admin.locator("section.signing-committee", has=admin.get_by_role("heading", name=COMMITTEE,
                                                                                    exact=True))
        section.locator("input[type=file][name$=image]").set_input_files(str(seal))
        section.get_by_role("button", name=zh("Upload the seal image")).click()
        expect(admin.locator("section.signing-committee", has=admin.get_by_role(
            "heading", name=COMMITTEE, exact=True)).locator("img.seal-preview")).to_be_visible()
        admin.context.close()
        mediator.reload()
    mediator.locator("#apply-seal").click()
    mediator.wait_for_url(re.compile(rf"/agreements/{agreement_id}(#.*)?$"))
    # The status panel polls itself until the sealed PDF is there.
    document = mediator.locator("#agreement-document")
    expect(document.get_by_role("link", name=zh("Download the agreement (PDF)"))).to_be_visible(timeout=30_000)
    expect(document.locator(".hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    mediator.reload()
    expect(mediator.locator("#agreement-status")).to_have_text(zh("In effect"))
    expect(mediator.locator("#signers .signer-signed")).to_have_count(4)  # two parties, the mediator, the seal

    # 8. The petitioner downloads their copy from their own case page.
    petitioner.goto(f"/cases/{case_id}")
    with petitioner.expect_download() as download_info:
        petitioner.locator("#download-agreement").click()
    copy = tmp_path / "agreement.pdf"
    download_info.value.save_as(copy)
    issued = copy.read_bytes()
    assert issued.startswith(b"%PDF")
    text = _text_of(issued)
    for expected in (PETITIONER_NAME, DEPARTMENT, _probe(OBLIGATION_1)):
        assert expected in text, expected

    # The agreement page in effect fits a 375 px phone: wide tables scroll inside their wrappers.
    narrow = sign_in(new_context(viewport={"width": 375, "height": 812}, is_mobile=True,
                                 device_scale_factor=2).new_page(), PETITIONER)
    narrow.goto(f"/agreements/{agreement_id}")
    expect(narrow.locator("#agreement-parties")).to_be_visible()
    width = narrow.evaluate("document.documentElement.scrollWidth")
    wide = narrow.evaluate("""() => Array.from(document.querySelectorAll('main *'))
        .filter(e => e.getBoundingClientRect().right > 376 && !e.closest('.table-wrap > table'))
        .slice(0, 8)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert width <= 375, f"the agreement page is {width}px wide on a 375px screen: {wide}"
    narrow.context.close()

    # 9. The public verification page, signed out: authentic, valid signature, none of the content.
    visitor = new_context().new_page()
    visitor.goto("/verify")
    visitor.locator("#document").set_input_files(str(copy))
    visitor.locator("#verify form button[type=submit]").click()
    result = visitor.locator("#verify .verify-result")
    expect(result.locator(".notice-ok")).to_contain_text(zh("Authentic."))
    expect(result.locator(".notice-danger")).to_have_count(0)
    expect(result.locator(".signature-checks")).to_contain_text(zh("Valid signature"))
    expect(result.locator(".signature-checks")).not_to_contain_text(zh("Invalid signature"))
    html = visitor.content()
    for secret in (OBLIGATION_1, OBLIGATION_2, _probe(OBLIGATION_1), PETITIONER_ID_NUMBER):
        assert secret not in html, f"the verification page shows {secret!r}"

    # One changed byte: not authentic.
    changed = bytearray(issued)
    middle = len(changed) // 2
    changed[middle] = changed[middle] ^ 0x01
    tampered = tmp_path / "agreement-changed.pdf"
    tampered.write_bytes(bytes(changed))
    visitor.locator("#document").set_input_files(str(tampered))
    visitor.locator("#verify form button[type=submit]").click()
    result = visitor.locator("#verify .verify-result")
    expect(result.locator(".notice-danger")).to_contain_text(zh("Not authentic."))
    expect(result.locator(".notice-ok")).to_have_count(0)


def test_signing_settings_fit_a_phone(new_context, sign_in):
    """/admin/signing at 390 px: the certificate's distinguished name and its fingerprint wrap inside the page."""
    page = sign_in(new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                               device_scale_factor=2).new_page(), ADMIN)
    page.goto("/admin/signing")
    section = page.locator("section.signing-committee").first
    create = section.locator("form[action$='/self-signed'] button")
    if create.count():
        with page.expect_navigation():
            create.click()
        assert page.locator(".flash-error").count() == 0, page.locator(".flashes").inner_text()
        page.goto("/admin/signing")
    fingerprint = page.locator("section.signing-committee code.hash").first
    expect(fingerprint).to_be_visible()
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint.inner_text().strip())
    width = page.evaluate("document.documentElement.scrollWidth")
    wide = page.evaluate("""() => Array.from(document.querySelectorAll('main *'))
        .filter(e => e.getBoundingClientRect().right > 391)
        .slice(0, 8)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")
    assert width <= 390, f"/admin/signing is {width}px wide on a 390px screen: {wide}"
    box = fingerprint.bounding_box()
    assert box["x"] + box["width"] <= 390, box
    page.context.close()
