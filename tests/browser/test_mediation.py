"""Mediation end to end, as a new user would try it (issue 5, "Done when"), in a real browser and through the pages.

Bureau staff refer a registered appeal of the demo petitioner to mediation with both consents, the other side being
the housing department. The mediator holds two sessions, adding entries live (Ctrl+Enter, no reload), among them a
private caucus note with an evidence file; each record is read back, confirmed by both parties (the department once
online from its own account) and locked; an edit from a page opened before the lock is refused and an erratum is
appended. The petitioner and the department never see the caucus note, on the pages or in their PDF. The outcome
(no agreement, legal channel) then shows on the case, for the bureau, the department and the petitioner.

Accounts: demo ones whose saved state no other browser test depends on here (nobody's language is switched, no
wrong password is typed). The case is the demo petitioner's online petition about the lift, which no other browser
test uses.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from datetime import time

import pytest
from playwright.sync_api import expect

from tests.scheduling_helpers import local_day

from .helpers import MEDIATOR, PETITIONER, STAFF, zh

REPRESENTATIVE = "housing@yx.example"  # the department on the other side: Y市住房和城乡建设局
DEPARTMENT = "Y市住房和城乡建设局"
COMMITTEE = "Y市人民调解委员会"
MEDIATOR_NAME = "李调解（调解委员会）"
PETITIONER_NAME = "陈信访"
CASE_SUBJECT = "小区电梯长期停运无人维修"  # registered appeal of the demo petitioner, waiting for triage

CAUCUS = "背对背：住建局私下表示可先行垫付维修资金的一半，请勿告知申请人"
CAUCUS_2 = "背对背：申请人私下表示最低可接受物业承担三分之二费用"
EVIDENCE_NAME = "住建局内部测算.pdf"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

FIRST = [  # (speaker: None for the mediator, else a party name; kind; text)
    (PETITIONER_NAME, "statement", "申请人陈述：电梯自9月起停运，老人上下楼困难。"),
    (DEPARTMENT, "statement", "住建局陈述：已督促物业申请维修资金，审批尚需时日。"),
    (None, "caucus", CAUCUS),
    (None, "proposal", "调解员建议：物业先行垫付维修费用，维修资金到位后冲抵。"),
]
SECOND = [
    (DEPARTMENT, "proposal", "住建局提出：两周内完成维修资金审批。"),
    (None, "caucus", CAUCUS_2),
    (PETITIONER_NAME, "statement", "申请人表示：不同意再等两周，要求物业立即维修。"),
]
ERRATUM = "更正：第1条中“9月”应为“8月下旬”。"
OUTCOME_REASON = "双方就维修费用的承担未能达成一致。"
LEGAL_NOTICE = "可向Y市东区人民法院提起诉讼，要求物业公司履行维修义务。"

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is needed")


# --- reading the database (to find the demo case and to check what the pages claim) -------------------------------

def _case_id(live_app) -> int:
    from sqlalchemy import select

    from portal.cases.models import Case, CaseStatus
    from portal.extensions import db

    with live_app.app_context():
        case = db.session.scalar(select(Case).where(Case.subject == CASE_SUBJECT))
        assert case is not None and case.status == CaseStatus.REGISTERED, "the demo case is not waiting for triage"
        return case.id


def _entry_texts(live_app, matter_id: int, number: int) -> list[str]:
    from sqlalchemy import select

    from portal.extensions import db
    from portal.mediation.models import MediationSession, ProceedingEntry, ProceedingRecord

    with live_app.app_context():
        return list(db.session.scalars(
            select(ProceedingEntry.text).join(ProceedingRecord).join(MediationSession)
            .where(MediationSession.referral_id == matter_id, MediationSession.number == number)
            .order_by(ProceedingEntry.position)))


# --- page helpers ------------------------------------------------------------------------------------------------

def _option(page, select: str, text: str) -> str:
    """The value of the option of `select` whose label contains `text`."""
    return page.locator(f"{select} option", has_text=text).first.get_attribute("value")


def _pdf_text(page, href: str) -> str:
    response = page.request.get(href)
    assert response.ok and response.headers["content-type"] == "application/pdf", response.status
    done = subprocess.run(["pdftotext", "-q", "-", "-"], input=response.body(), capture_output=True, check=True)
    return re.sub(r"\s+", "", done.stdout.decode("utf-8"))  # pdftotext breaks long lines


def _probe(text: str) -> str:
    """The start of an entry's text: short enough to stay on one line of the PDF's table cell."""
    return re.sub(r"\s+", "", text)[:12]


def _schedule(page, days_ahead: int, at: time) -> None:
    """On the matter page: schedule a session; accept the overlap warning if one comes up."""
    page.locator("#mediation-sessions").get_by_role("link", name=zh("Schedule a session")).click()
    page.fill("#on", local_day(days_ahead).isoformat())
    page.fill("#at", at.strftime("%H:%M"))
    page.fill("#minutes", "90")
    page.fill("#room", "第二调解室")
    submit = page.get_by_role("button", name=zh("Schedule and send the invitations"))
    submit.click()
    record_link, conflicts = page.locator("p.record-link a"), page.locator("#conflict-list")
    expect(record_link.or_(conflicts)).to_be_visible()
    if conflicts.is_visible():
        page.check("#confirm_conflicts")
        page.get_by_role("button", name=zh("Schedule and send the invitations")).click()
    expect(record_link).to_be_visible()
    expect(page.locator("main")).to_contain_text(zh("Scheduled"))


def _day_comes(live_app, matter_id: int) -> None:
    """The scheduled day arrives: a session starts on its day only, so its time is brought to now."""
    from datetime import timedelta

    from sqlalchemy import select

    from portal.extensions import db
    from portal.mediation.models import MediationSession, SessionStatus
    from portal.timeutil import utcnow

    with live_app.app_context():
        for session in db.session.scalars(select(MediationSession).where(
                MediationSession.referral_id == matter_id, MediationSession.status == SessionStatus.SCHEDULED)):
            length = session.ends_at - session.starts_at
            session.starts_at = utcnow() + timedelta(minutes=1)
            session.ends_at = session.starts_at + length
        db.session.commit()


def _start_and_attend(page) -> dict[str, str]:
    """From the session page: open the record, start the session, enter everyone present. Returns party ids by
    name."""
    page.locator("p.record-link a").click()
    page.locator("#start-session").click()
    expect(page.locator("#quick-add")).to_be_visible()
    parties = {}
    for row in page.locator("#attendance tbody tr").all():
        party_id = row.locator("input[name=party_id]").get_attribute("value")
        name = row.locator("th").inner_text()
        parties[PETITIONER_NAME if PETITIONER_NAME in name else DEPARTMENT] = party_id
        page.select_option(f"#present-{party_id}", "present")
    assert set(parties) == {PETITIONER_NAME, DEPARTMENT}, parties
    page.fill(f"#attendee-{parties[DEPARTMENT]}", "钱住建（住建局）")
    page.locator("#attendance").get_by_role("button", name=zh("Save attendance")).click()
    page.wait_for_url(re.compile(r"/record#attendance$"))
    expect(page.locator("main")).to_contain_text(zh("Attendance saved."))
    expect(page.locator(f"#present-{parties[DEPARTMENT]}")).to_have_value("present")
    expect(page.locator(f"#present-{parties[PETITIONER_NAME]}")).to_have_value("present")
    return parties


def _add_live(page, entries, parties, evidence=None) -> list[str]:
    """Quick-add each entry with the keyboard (type, Ctrl+Enter); each appears without a reload. Returns the ids of
    the new entries' list items."""
    page.evaluate("window.__sameRecordPage = 'still here'")
    items = page.locator("#entries > li")
    ids = []
    for speaker, kind, text in entries:
        before = items.count()
        page.select_option("#speaker", parties[speaker] if speaker else "mediator")
        page.select_option("#kind", kind)
        if kind == "caucus" and evidence is not None:
            page.set_input_files("#evidence", str(evidence))
        page.locator("#quick-add #text").focus()
        page.keyboard.type(text)
        page.keyboard.press("Control+Enter")
        expect(items).to_have_count(before + 1)
        added = items.last
        expect(added).to_contain_text(text)
        # A fresh form, with the keyboard in its text box, ready for the next entry.
        expect(page.locator("#quick-add #text")).to_have_value("")
        expect(page.locator("#quick-add #text")).to_be_focused()
        if kind == "caucus":
            expect(added).to_have_class(re.compile(r"\bentry-caucus\b"))
            expect(added).to_contain_text(zh("Mediators only"))
        ids.append(added.get_attribute("id"))
        assert page.evaluate("window.__sameRecordPage") == "still here", "the page was reloaded"
    return ids


def _read_back(page) -> None:
    page.locator("#read-back").click()
    expect(page.locator("#read-back-note")).to_be_visible()
    expect(page.locator("#record-status")).to_have_text(zh("Read back"))
    expect(page.locator("#quick-add")).to_have_count(0)


def _answer_in_session(page, party_id: str) -> None:
    page.select_option("#party", party_id)
    page.check("input[name=answer][value=confirmed]")
    page.locator(".confirm-form").get_by_role("button", name=zh("Record the answer")).click()
    expect(page.locator(f"li#answer-of-{party_id}")).to_contain_text(zh("Confirmed"))


def _lock(page) -> None:
    page.locator("#lock-record").click()
    expect(page.locator("#record-status")).to_have_text(zh("Locked"))
    expect(page.locator("#record-hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))


def _assert_no_caucus(page, *texts: str) -> None:
    html = page.content()
    for text in (*texts, EVIDENCE_NAME):
        assert text not in html, f"a party sees {text!r} on {page.url}"
    expect(page.locator(".entry-caucus")).to_have_count(0)


# --- the walk-through ----------------------------------------------------------------------------------------------

def test_mediation_from_referral_to_outcome(new_context, sign_in, live_app, tmp_path):
    case_id = _case_id(live_app)
    evidence = tmp_path / EVIDENCE_NAME
    evidence.write_bytes(PDF)

    # 1. Bureau staff triage the case: mediation, the housing department on the other side, both consents.
    staff = sign_in(new_context().new_page(), STAFF)
    staff.goto(f"/cases/{case_id}")
    staff.locator(".triage-choices").get_by_role("link", name=zh("Mediation"), exact=True).click()
    form = staff.locator("#triage-panel form")
    expect(form.locator("#committee")).to_be_visible()
    form.locator("#committee").select_option(label=COMMITTEE)
    form.locator("input[name=respondent][value=department]").check()
    form.locator("#other_department").select_option(label=DEPARTMENT)
    form.locator("#petitioner_consent_on").fill(local_day(-1).isoformat())
    form.locator("#petitioner_consent_how").fill("接访时签署调解申请书")
    form.locator("#other_consent_on").fill(local_day(0).isoformat())
    form.locator("#other_consent_how").fill("住建局书面同意函")
    form.locator("#scope_confirmed").check()
    form.get_by_role("button", name=zh("Refer to mediation")).click()
    panel = staff.locator("#case-mediation")
    expect(panel).to_contain_text(COMMITTEE)
    expect(panel).to_contain_text(DEPARTMENT)
    expect(panel).to_contain_text("住建局书面同意函")
    expect(staff.locator("#triage-h")).to_have_count(0)  # triaged: the choices are gone
    matter_href = panel.get_by_role("link", name=zh("Open the mediation")).get_attribute("href")
    matter_id = int(re.search(r"/mediation/(\d+)$", matter_href).group(1))

    # 2. The mediator finds the matter, takes it on and schedules session 1.
    mediator = sign_in(new_context().new_page(), MEDIATOR)
    mediator.goto("/mediation")
    mediator.locator(f"#matter-{matter_id} a").click()
    expect(mediator.locator("#mediation-parties")).to_contain_text(DEPARTMENT)
    expect(mediator.locator("#mediation-parties")).to_contain_text(PETITIONER_NAME)
    team = mediator.locator("#mediation-team")
    team.locator("summary", has_text=zh("Assign a mediator")).click()
    team.locator("#mediator-user_id").select_option(label=MEDIATOR_NAME)
    team.get_by_role("button", name=zh("Assign the mediator"), exact=True).click()
    expect(mediator.locator("#mediation-team .member-list")).to_contain_text(MEDIATOR_NAME)

    _schedule(mediator, 2, time(10, 0))
    _day_comes(live_app, matter_id)
    parties = _start_and_attend(mediator)
    record_1 = mediator.url.split("#")[0]

    # Live entries, keyboard only; one private caucus note with an evidence file.
    entry_ids = _add_live(mediator, FIRST, parties, evidence)
    caucus_item = mediator.locator(f"#{entry_ids[2]}")
    expect(caucus_item.locator(".evidence")).to_contain_text(EVIDENCE_NAME)
    evidence_href = caucus_item.locator(".evidence a").get_attribute("href")
    # A second tab on the record, left open while the record is closed (its correction forms go stale).
    stale = mediator.context.new_page()
    stale.goto(record_1)
    expect(stale.locator("details.entry-edit")).to_have_count(len(FIRST))
    mediator.bring_to_front()  # a tab in the background runs its timers (and htmx's swaps) slowly

    _read_back(mediator)
    _answer_in_session(mediator, parties[PETITIONER_NAME])
    _answer_in_session(mediator, parties[DEPARTMENT])
    _lock(mediator)

    # Locked: no entry form, no correction control; the page says corrections are errata.
    expect(mediator.locator("#quick-add")).to_have_count(0)
    expect(mediator.locator("details.entry-edit")).to_have_count(0)
    expect(mediator.locator("#locked")).to_be_visible()
    # A correction sent from the stale tab is refused, with the reason, and changes nothing.
    stale.bring_to_front()
    first = stale.locator(f"#{entry_ids[0]}")
    first.locator("summary").click()
    first.locator("textarea").fill("改过的陈述")
    first.locator("textarea").press("Control+Enter")
    expect(stale.locator(f"#{entry_ids[0]}")).to_contain_text(
        zh("This record is locked and cannot be changed; append an erratum to correct it."))
    expect(stale.locator(f"#{entry_ids[0]} details.entry-edit")).to_have_count(0)
    expect(stale.locator(f"#{entry_ids[0]}")).to_contain_text(FIRST[0][2])
    assert _entry_texts(live_app, matter_id, 1)[0] == FIRST[0][2]
    stale.close()
    mediator.bring_to_front()

    # An erratum is appended under the locked record.
    errata = mediator.locator("#errata")
    errata.locator("#text").fill(ERRATUM)
    errata.locator("#entry_id").select_option(entry_ids[0].removeprefix("entry-"))
    errata.get_by_role("button", name=zh("Append erratum")).click()
    expect(mediator.locator("#erratum-1")).to_contain_text(ERRATUM)
    expect(mediator.locator("#record-status")).to_have_text(zh("Locked"))
    assert _entry_texts(live_app, matter_id, 1) == [text for _speaker, _kind, text in FIRST]

    # The mediator's own file copy does hold the caucus note (so the checks of the party copies below mean something).
    file_copy = mediator.locator("#record-pdf").get_attribute("href")
    assert _probe(CAUCUS) in _pdf_text(mediator, file_copy)

    # 3. Session 2: the petitioner's answer is given in the session, the department confirms online.
    mediator.locator("header .crumbs a").first.click()
    expect(mediator.locator("#mediation-sessions li")).to_have_count(1)
    _schedule(mediator, 3, time(15, 0))
    _day_comes(live_app, matter_id)
    parties_2 = _start_and_attend(mediator)
    assert parties_2 == parties
    record_2 = mediator.url.split("#")[0]
    _add_live(mediator, SECOND, parties)
    _read_back(mediator)
    _answer_in_session(mediator, parties[PETITIONER_NAME])

    representative = sign_in(new_context().new_page(), REPRESENTATIVE)
    representative.goto("/mediation")
    representative.locator(f"#matter-{matter_id} a").click()
    expect(representative.locator("#mediation-sessions li")).to_have_count(2)
    _assert_no_caucus(representative, CAUCUS, CAUCUS_2)
    representative.locator("#mediation-sessions li").nth(1).get_by_role("link").click()
    representative.locator("p.record-link a").click()
    expect(representative.locator("#record-status")).to_have_text(zh("Read back"))
    _assert_no_caucus(representative, CAUCUS, CAUCUS_2)
    own = representative.locator("#own-confirm")
    own.locator("input[name=own-answer][value=confirmed]").check()
    own.get_by_role("button", name=zh("Send my answer")).click()
    expect(representative.locator(f"li#answer-of-{parties[DEPARTMENT]}")).to_contain_text(zh("Confirmed"))
    expect(representative.locator(f"li#answer-of-{parties[DEPARTMENT]}")).to_contain_text(zh("Answered online"))

    mediator.reload()
    expect(mediator.locator(f"li#answer-of-{parties[DEPARTMENT]}")).to_contain_text(zh("Answered online"))
    _lock(mediator)

    # 4. The parties read both records, on the page and in their PDF: never the caucus notes or their evidence.
    petitioner = sign_in(new_context().new_page(), PETITIONER)
    for page in (representative, petitioner):
        page.goto(f"/mediation/{matter_id}")
        expect(page.locator("#mediation-sessions li")).to_have_count(2)
        _assert_no_caucus(page, CAUCUS, CAUCUS_2)
        for record_url, entries, caucus in ((record_1, FIRST, CAUCUS), (record_2, SECOND, CAUCUS_2)):
            page.goto(record_url)
            expect(page.locator("#record-status")).to_have_text(zh("Locked"))
            expect(page.locator("#entries > li")).to_have_count(len(entries) - 1)
            _assert_no_caucus(page, CAUCUS, CAUCUS_2)
            pdf_link = page.locator("#record-pdf")
            expect(pdf_link).to_have_text(zh("Download PDF"))
            text = _pdf_text(page, pdf_link.get_attribute("href"))
            assert _probe(entries[0][2]) in text
            assert _probe(caucus) not in text and "背对背" not in text
            assert _probe(EVIDENCE_NAME) not in text
        expect(page.locator("#erratum-1")).to_have_count(0)  # the second record has no erratum
        page.goto(record_1)
        expect(page.locator("#erratum-1")).to_contain_text(ERRATUM)
        # Not even the file's address gives the caucus evidence away.
        assert page.request.get(evidence_href).status == 404

    # 5. The outcome: no agreement, the legal channel. It shows on the case for everyone concerned.
    mediator.goto(f"/mediation/{matter_id}")
    outcome = mediator.locator("#mediation-outcome")
    # the fields for "no agreement" show only once it is chosen, the legal channel's only when the case goes there
    no_agreement_fields = outcome.locator("#no-agreement-fields")
    expect(no_agreement_fields).to_be_hidden()
    outcome.locator("input[name=outcome-kind][value=agreement]").check()
    expect(no_agreement_fields).to_be_hidden()
    outcome.locator("input[name=outcome-kind][value=no_agreement]").check()
    expect(no_agreement_fields).to_be_visible()
    expect(outcome.locator("#legal-route-fields")).to_be_hidden()
    outcome.locator("#outcome-text").fill(OUTCOME_REASON)
    outcome.locator("input[name=outcome-after][value=handling]").check()
    expect(outcome.locator("#legal-route-fields")).to_be_hidden()
    outcome.locator("input[name=outcome-after][value=legal_route]").check()
    expect(outcome.locator("#legal-route-fields")).to_be_visible()
    outcome.locator("input[name=outcome-legal_route][value=litigation]").check()
    outcome.locator("#outcome-legal_route_notice").fill(LEGAL_NOTICE)
    mediator.once("dialog", lambda dialog: dialog.accept())  # an outcome cannot be undone: the form asks first
    outcome.get_by_role("button", name=zh("Record the outcome")).click()
    facts = mediator.locator("#mediation-outcome dl.facts")  # the form gives way to what was recorded
    expect(facts).to_contain_text(zh("No agreement"))
    expect(facts).to_contain_text(OUTCOME_REASON)
    expect(mediator.locator("#mediation-outcome form")).to_have_count(0)
    expect(mediator.locator("#mediation-sessions")).to_contain_text(zh("Held"))

    for page in (staff, representative, petitioner):
        page.goto(f"/cases/{case_id}")
        case_panel = page.locator("#case-mediation")
        expect(case_panel).to_contain_text(zh("No agreement"))
        expect(case_panel).to_contain_text(OUTCOME_REASON)
        expect(case_panel).to_contain_text(zh("Legal channel"))
        _assert_no_caucus(page, CAUCUS, CAUCUS_2)
    expect(staff.locator("main .case-head .tag").first).to_have_text(zh("Routed to legal channel"))
    expect(petitioner.locator("main")).to_contain_text(LEGAL_NOTICE)
    expect(petitioner.locator("main")).not_to_contain_text(zh("Your petition is referred to mediation"))
