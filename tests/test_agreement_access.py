"""Courts and agreements: the court asked to confirm an agreement (司法确认) may read it and download a copy; other
courts and departments may not."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from portal.accounts.models import Department, Role
from portal.agreements.models import JudicialConfirmation
from portal.timeutil import today
from tests.factories import make_user
from tests.helpers import database
from tests.test_agreement_verify import build_agreement, client_for


def _court_rep(app, court_id: int) -> str:
    with database(app) as session:
        return make_user(Role.DEPARTMENT_REP, session.get(Department, court_id), locale="en").login


def test_the_court_asked_for_judicial_confirmation_reads_and_downloads_the_agreement(app):
    a = build_agreement(app)
    with app.app_context():
        folder = Path(app.config["UPLOAD_FOLDER"])
        folder.mkdir(parents=True, exist_ok=True)
    with database(app) as session:
        from portal.agreements.models import Agreement

        (folder / session.get(Agreement, a.id).pdf_stored_name).write_bytes(a.pdf)
    court = client_for(app, _court_rep(app, a.court_id))
    outsider = client_for(app, a.outsider)
    for client in (court, outsider):
        assert client.get(f"/agreements/{a.id}").status_code == 403
        assert client.get(f"/agreements/{a.id}/document.pdf").status_code == 403
    with database(app) as session:
        session.add(JudicialConfirmation(agreement_id=a.id, applied_on=today() - timedelta(days=1),
                                         court_id=a.court_id, court_name=a.court_name, court_reference="（2026）确1号"))
        session.commit()
    assert court.get(f"/agreements/{a.id}").status_code == 200
    response = court.get(f"/agreements/{a.id}/document.pdf")
    assert response.status_code == 200 and response.data == a.pdf
    assert outsider.get(f"/agreements/{a.id}").status_code == 403
    assert outsider.get(f"/agreements/{a.id}/document.pdf").status_code == 403
