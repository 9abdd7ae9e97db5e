"""Private caucus notes (背对背) are for the mediators only: a party (the petitioner, the department on the other
side) never sees their text or their evidence, on any page, in any download, or by guessing an evidence URL."""
from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest
from flask import url_for
from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.mediation.models import EntryKind, ProceedingRecord
from portal.mediation.proceedings import canonical_text
from tests.helpers import database, parameterless_get_routes, text
from tests.test_mediation_record import PNG, add, attend, build_matter, client_for, entries, upload_folder  # noqa: F401

CAUCUS = "背对背：申请人底线为五千元，可以接受分期。"
CAUCUS_FILE = "私下出示的底线说明.png"
OPEN_TEXT = "申请人陈述：公司拖欠工资三个月。"


def page_text(response, tmp_path) -> str:
    """What a person reads in a response: the page, or the text of a PDF."""
    if response.mimetype == "application/pdf":
        path = tmp_path / f"{uuid.uuid4().hex}.pdf"
        path.write_bytes(response.data)
        content = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
        return "".join(content.split())
    return text(response)


@pytest.fixture
def caucus_matter(app):
    """A started session whose record holds an open statement and a caucus note with evidence, read back,
    confirmed by both parties and locked."""
    m = build_matter(app)
    mediator = client_for(app, m.mediator)
    assert mediator.post(f"{m.base}/start").status_code == 303
    assert add(mediator, m, OPEN_TEXT, speaker=m.applicant_id).status_code == 303
    assert add(mediator, m, CAUCUS, speaker=m.applicant_id, kind="caucus",
               files=[(io.BytesIO(PNG), CAUCUS_FILE)]).status_code == 303
    caucus = next(e for e in entries(app, m.session_id) if e.kind == EntryKind.CAUCUS)
    m.caucus_entry_id, m.caucus_evidence_id = caucus.id, caucus.evidence[0].id
    m.evidence_url = f"{m.base}/evidence/{m.caucus_evidence_id}"
    m.mediator_client = mediator
    return m


def lock(app, m):
    mediator = m.mediator_client
    assert attend(mediator, m).status_code == 303
    assert mediator.post(f"{m.base}/read-back").status_code == 303
    for party in (m.applicant_id, m.respondent_id):
        mediator.post(f"{m.base}/confirmations", data={"party": str(party), "answer": "confirmed"})
    assert mediator.post(f"{m.base}/lock").status_code == 303


def reachable_urls(app, m) -> list[str]:
    """Every page and download a party could open about this matter, and every page without parameters."""
    known = {"matter_id": m.matter_id, "session_id": m.session_id, "case_id": m.case_id,
             "evidence_id": m.caucus_evidence_id}
    urls = [m.pdf + "?copy=file", m.pdf + "?copy=party", m.base + "?copy=file"]
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if "GET" in rule.methods and rule.arguments and rule.arguments <= set(known) \
                    and rule.endpoint != "static":
                urls.append(url_for(rule.endpoint, **{name: known[name] for name in rule.arguments}))
    urls += [path for path, _endpoint in parameterless_get_routes(app)]
    return urls


@pytest.mark.parametrize("locked", [False, True])
def test_parties_never_see_caucus_notes_on_any_page_or_download(app, caucus_matter, tmp_path, locked):
    m = caucus_matter
    if locked:
        lock(app, m)
    urls = reachable_urls(app, m)
    for who in (m.petitioner, m.rep):
        client = client_for(app, who)
        assert OPEN_TEXT in text(client.get(m.base))  # the party does read the record
        for url in urls:
            response = client.get(url, headers={"Accept": "text/html"})
            content = page_text(response, tmp_path)
            assert CAUCUS not in content and "底线" not in content, (who, url)
            assert CAUCUS_FILE not in content and "Private caucus note" not in content, (who, url)
        # Guessing the evidence URL does not help.
        assert client.get(m.evidence_url).status_code in (403, 404)
        party_pdf = page_text(client.get(m.pdf), tmp_path)
        assert OPEN_TEXT in party_pdf and "Partycopy" in party_pdf and "INTERNAL" not in party_pdf


def test_the_bureau_and_leaders_do_not_see_caucus_notes_either(app, caucus_matter, tmp_path):
    m = caucus_matter
    # A mediator of another committee does not open the matter at all.
    assert client_for(app, m.other_mediator).get(m.base).status_code == 403
    for who in (m.staff, m.leader):
        client = client_for(app, who)
        page = text(client.get(m.base))
        assert OPEN_TEXT in page and CAUCUS not in page and CAUCUS_FILE not in page
        assert CAUCUS not in page_text(client.get(m.pdf), tmp_path)
        assert client.get(m.evidence_url).status_code == 404


def test_mediators_see_caucus_notes_and_get_the_internal_file_copy(app, caucus_matter, tmp_path):
    m = caucus_matter
    mediator = m.mediator_client
    page = text(mediator.get(m.base))
    assert CAUCUS in page and CAUCUS_FILE in page and "Mediators only" in page
    download = mediator.get(m.evidence_url)
    assert download.status_code == 200 and download.data == PNG
    file_copy = page_text(mediator.get(m.pdf), tmp_path)
    assert "".join(CAUCUS.split()) in file_copy and "Filecopy,internal" in file_copy
    party_copy = page_text(mediator.get(m.pdf + "?copy=party"), tmp_path)
    assert OPEN_TEXT in party_copy and CAUCUS not in party_copy and "Partycopy" in party_copy


def test_only_mediators_write_caucus_notes_and_errata_stay_on_the_party_record(app, caucus_matter):
    m = caucus_matter
    for who in (m.petitioner, m.rep, m.staff):
        response = client_for(app, who).post(f"{m.base}/entries",
                                             data={"speaker": "mediator", "kind": "caucus", "text": "想看看"})
        assert response.status_code == 403
    # The party view of the entry form offers no caucus kind to anyone but the mediators (who always have it).
    assert 'value="caucus"' in text(m.mediator_client.get(m.base))
    lock(app, m)
    response = m.mediator_client.post(f"{m.base}/errata", data={"text": "更正底线", "entry_id": str(m.caucus_entry_id)})
    assert response.status_code == 200 and "Choose an entry of this record." in text(response)


def test_the_audit_trail_keeps_hashes_not_caucus_text_and_the_lock_covers_the_caucus(app, caucus_matter):
    m = caucus_matter
    lock(app, m)
    with database(app) as db:
        details = " ".join(db.scalars(select(AuditEvent.details)))
        assert CAUCUS not in details and "底线" not in details
        record = db.scalar(select(ProceedingRecord).where(ProceedingRecord.session_id == m.session_id))
        canonical = canonical_text(record)
        assert CAUCUS in canonical and OPEN_TEXT in canonical
        assert json.loads(db.scalar(select(AuditEvent.details).where(
            AuditEvent.action == "mediation.record_locked")))["hash"] == record.content_hash
