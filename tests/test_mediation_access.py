"""Who sees a case in mediation: the other side and the entrusting court see the case but not its internal side
(notes, internal files, full personal data); a mediator sees only the cases in mediation with them."""
from __future__ import annotations

from datetime import date

from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.cases.models import Attachment, Case
from portal.mediation.models import MediationMediator, MediationParty, MediationReferral, MediationSource, PartySide
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import UserRef, database, text

NOTE = "信访人情绪激动，注意接待方式"
ID_NUMBER = "320102199001011234"


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def as_user(client, user) -> None:
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def _world(app):
    with database(app) as session:
        committee = make_department("南区人民调解委员会（访问）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department("北区人民调解委员会（访问）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        court = make_department("南区人民法院（访问）", kind=DepartmentKind.COURT)
        respondent = make_department("住建局（访问）")
        users = {
            "staff": make_user(Role.STAFF, locale="en"),
            "mediator": make_user(Role.MEDIATOR, committee, locale="en"),
            "assigned": make_user(Role.MEDIATOR, other_committee, locale="en"),  # assigned from another committee
            "outside_mediator": make_user(Role.MEDIATOR, other_committee, locale="en"),
            "respondent": make_user(Role.DEPARTMENT_REP, respondent, locale="en"),
            "court": make_user(Role.DEPARTMENT_REP, court, locale="en"),
        }
        case = make_case(id_number=ID_NUMBER)
        other_case = make_case(id_number="320102198001015678", subject="与调解无关的件")
        matter = MediationReferral(case_id=case.id, committee_id=committee.id, source=MediationSource.COURT,
                                   court_id=court.id, court_reference="（2026）南民诉前调1号")
        matter.parties = [
            MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id,
                           name=case.petitioners[0].name, consent_on=date(2026, 11, 2), consent_how="书面"),
            MediationParty(side=PartySide.RESPONDENT, department_id=respondent.id, name=respondent.name,
                           consent_on=date(2026, 11, 3), consent_how="函复")]
        matter.mediators = [MediationMediator(user_id=users["assigned"].id)]
        session.add(matter)
        session.add(Attachment(case_id=case.id, stored_name="internal-file-access", original_name="内部材料.pdf",
                               content_type="application/pdf", size=10, sha256="0" * 64, internal=True))
        session.commit()
        return {k: _ref(u) for k, u in users.items()}, case.id, other_case.id, matter.id


def test_the_other_side_and_the_court_see_the_case_but_not_its_internal_side(app, client):
    users, case_id, _, matter_id = _world(app)
    as_user(client, users["staff"])
    assert client.post(f"/cases/{case_id}/notes", data={"note-text": NOTE}).status_code == 303
    with database(app) as session:
        case = session.get(Case, case_id)
        petitioner_id = case.petitioners[0].id
        attachment_id = session.scalar(select(Attachment.id).where(Attachment.case_id == case_id))
    for who in ("respondent", "court"):
        as_user(client, users[who])
        page = text(client.get(f"/cases/{case_id}"))
        assert "内部材料.pdf" not in page and NOTE not in page, who
        assert ID_NUMBER not in page, who
        assert client.get(f"/attachments/{attachment_id}").status_code == 403, who
        assert client.post(f"/cases/{case_id}/petitioners/{petitioner_id}/reveal").status_code == 403, who
        assert client.post(f"/cases/{case_id}/notes", data={"note-text": "x"}).status_code == 403, who
        assert client.get(f"/mediation/{matter_id}").status_code == 200, who
        assert case_id in _listed_ids(app, client)
    # The bureau sees all of it.
    as_user(client, users["staff"])
    page = text(client.get(f"/cases/{case_id}"))
    assert NOTE in page and "内部材料.pdf" in page


def _listed_ids(app, client) -> set[int]:
    page = client.get("/cases").get_data(as_text=True)
    with database(app) as session:
        return {cid for cid in session.scalars(select(Case.id)) if f'href="/cases/{cid}"' in page}


def test_a_mediator_sees_only_the_cases_in_mediation_with_them(app, client):
    users, case_id, other_case_id, matter_id = _world(app)
    for who in ("mediator", "assigned"):
        as_user(client, users[who])
        assert client.get(f"/cases/{case_id}").status_code == 200, who
        assert client.get(f"/cases/{other_case_id}").status_code == 403, who
        assert client.get(f"/mediation/{matter_id}").status_code == 200, who
        listed = _listed_ids(app, client)
        assert case_id in listed and other_case_id not in listed, who
    as_user(client, users["outside_mediator"])
    assert client.get(f"/cases/{case_id}").status_code == 403
    assert client.get(f"/mediation/{matter_id}").status_code == 403
    assert case_id not in _listed_ids(app, client)
    assert "（2026）南民诉前调1号" not in text(client.get("/mediation"))
