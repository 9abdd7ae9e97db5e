"""What a new user reads on the agreement pages once it is signed or in effect: current labels, no draft preview
after it takes effect, the page reloading when the sealed copy is issued, the case and matter pages saying since when
it is in effect, and plain wording (party names, comment authors, court file numbers)."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.agreements.models import (
    Agreement,
    AgreementComment,
    AgreementStatus,
    AgreementVersion,
    JudicialConfirmation,
    SealStatus,
)
from portal.mediation.models import MediationParty
from portal.timeutil import today
from tests.helpers import database, text
from tests.test_agreement_verify import build_agreement, client_for

HX = {"HX-Request": "true"}


@pytest.fixture(autouse=True)
def folders(_app, tmp_path, monkeypatch):
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(_app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))


def test_an_effective_agreement_shows_its_version_as_signed_and_no_draft_preview(app):
    a = build_agreement(app, sealed=False)
    page = text(client_for(app, a.mediator).get(f"/agreements/{a.id}"))
    versions = page[page.index('id="agreement-versions"'):]
    assert ">signed<" in versions and "being signed" not in versions
    assert 'id="preview-pdf"' not in page and "Preview as PDF" not in page


def test_a_version_being_signed_is_labelled_so_and_can_be_previewed(app):
    a = build_agreement(app, sealed=False, status=AgreementStatus.SIGNING)
    page = text(client_for(app, a.mediator).get(f"/agreements/{a.id}"))
    assert "being signed" in page[page.index('id="agreement-versions"'):]
    assert 'id="preview-pdf"' in page


def test_the_polling_status_panel_reloads_the_page_when_the_sealed_copy_is_issued(app):
    a = build_agreement(app, sealed=False, status=AgreementStatus.SEALING)
    with database(app) as db:
        db.get(Agreement, a.id).seal_status = SealStatus.RUNNING
        db.commit()
    mediator = client_for(app, a.mediator)
    running = mediator.get(f"/agreements/{a.id}/document?polling=1", headers=HX)
    assert running.status_code == 200 and "HX-Refresh" not in running.headers
    assert "polling=1" in text(running)
    with database(app) as db:
        agreement = db.get(Agreement, a.id)
        agreement.seal_status, agreement.status = SealStatus.DONE, AgreementStatus.EFFECTIVE
        agreement.effective_on = today()
        db.commit()
    done = mediator.get(f"/agreements/{a.id}/document?polling=1", headers=HX)
    assert done.status_code == 200 and done.headers.get("HX-Refresh") == "true"
    # Without htmx (or without polling) the panel is simply shown.
    assert "HX-Refresh" not in mediator.get(f"/agreements/{a.id}/document?polling=1").headers


def test_case_and_matter_pages_say_since_when_the_agreement_is_in_effect(app):
    a = build_agreement(app, effective_days_ago=3)
    with database(app) as db:
        case_id = db.get(Agreement, a.id).referral.case_id
    since = (today() - timedelta(days=3))
    matter_page = text(client_for(app, a.mediator).get(f"/mediation/{a.matter_id}"))
    assert 'id="agreement-in-effect"' in matter_page and "is in effect since" in matter_page
    assert 'id="agreement-copy"' in matter_page and f"/agreements/{a.id}/document.pdf" in matter_page
    assert str(since.year) in matter_page
    case_page = text(client_for(app, a.petitioner).get(f"/cases/{case_id}"))
    assert "is in effect since" in case_page and "download your copy" in case_page
    assert case_page.count('id="download-agreement"') <= 1 and 'id="agreement-copy"' not in case_page


def test_a_matter_in_signing_is_described_in_words_not_a_status_label(app):
    a = build_agreement(app, sealed=False, status=AgreementStatus.SIGNING)
    page = text(client_for(app, a.mediator).get(f"/mediation/{a.matter_id}"))
    assert "being signed" in page and 'id="agreement-in-effect"' not in page


def test_party_names_comment_authors_and_court_references_read_plainly(app):
    a = build_agreement(app, sealed=False, status=AgreementStatus.DRAFTING)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == a.id))
        agreement = db.get(Agreement, a.id)
        petitioner_id = next(s.user_id for s in agreement.signatures if s.party_id == a.applicant_id)
        rep_id = next(s.user_id for s in agreement.signatures if s.party_id == a.department_party_id)
        db.add(AgreementComment(version_id=version.id, author_id=petitioner_id, party_id=a.applicant_id,
                                text="请提前支付。"))
        db.add(AgreementComment(version_id=version.id, author_id=rep_id, party_id=a.department_party_id,
                                text="本局同意督促。"))
        db.commit()
        party_name = db.get(MediationParty, a.department_party_id).name
    page = text(client_for(app, a.mediator).get(f"/agreements/{a.id}"))
    assert "陈信访 · for 陈信访" not in page and "陈信访 · for" not in page
    assert f"for {party_name}" in page  # a representative speaks for the department
    assert f"{party_name} <span" not in page and " department</span>" not in page


def test_a_court_file_number_in_brackets_is_not_bracketed_again(app):
    a = build_agreement(app, sealed=False)
    with database(app) as db:
        db.add(JudicialConfirmation(agreement_id=a.id, applied_on=today(), court_name="东区人民法院",
                                    court_reference="(2026)东民特字第88号"))
        db.commit()
    page = text(client_for(app, a.mediator).get(f"/agreements/{a.id}/follow-up"))
    assert "((2026)" not in page and "(2026)东民特字第88号" in page


def test_a_typed_signature_prints_the_name_once(app):
    from portal.agreements import drafting

    a = build_agreement(app, sealed=False)
    with database(app) as db:
        version = db.scalar(select(AgreementVersion).where(AgreementVersion.agreement_id == a.id))
        version.parties_snapshot = json.dumps(drafting.parties_snapshot(db.get(Agreement, a.id).referral),
                                              ensure_ascii=False)
        db.commit()
    with app.test_request_context():
        agreement = drafting.load_page_agreement(a.id)
        version = next(v for v in agreement.versions if v.number == agreement.signing_version)
        html = drafting.render_document_html(agreement, version, signatures=list(agreement.signatures))
    block = html[html.index('<table class="signatures">'):]
    block = re.sub(r"<th>.*?</th>", "", block[:block.index("</table>")], flags=re.S)  # the party headings
    assert block.count("李代表") == 1 and block.count("陈信访") == 1
