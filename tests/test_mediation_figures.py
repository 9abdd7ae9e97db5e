"""Mediation figures on known data: referrals by source, sessions held per matter, days to outcome (average and
median), outcomes by kind, open and running long; a department counts only its own; a fixed number of queries."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone

import pytest

from portal.accounts.models import DepartmentKind, Role
from portal.cases.models import CaseStatus
from portal.mediation.models import (
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationSource,
    MediationStatus,
    PartySide,
    SessionStatus,
)
from portal.timeutil import today, utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import database, is_login_redirect, text


def figure(page: str, name: str) -> str:
    match = re.search(rf'<dd id="fig-{re.escape(name)}">(.*?)</dd>', page, re.S)
    assert match, name
    return match.group(1).strip()


@pytest.fixture
def known(app):
    """Six matters: four from petitions, two from a court; outcomes after 10, 20 and 40 days, one withdrawn after 5;
    two open, one of them for 45 days. Five held sessions and one cancelled. The department is party to two."""
    with database(app) as session:
        committee = make_department("调解委员会（统计）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        court = make_department("法院（统计）", kind=DepartmentKind.COURT)
        party_department = make_department("住建局（统计）")
        users = {role: make_user(role, {Role.DEPARTMENT_REP: party_department, Role.MEDIATOR: committee}.get(role),
                                 locale="en")
                 for role in (Role.STAFF, Role.LEADER, Role.MEDIATOR, Role.DEPARTMENT_REP, Role.PETITIONER,
                              Role.ADMIN)}
        now = utcnow()
        # (source, status, days since referral, days to outcome or None, held sessions, department party)
        rows = [(MediationSource.PETITION, MediationStatus.AGREEMENT, 50, 10, 2, True),
                (MediationSource.PETITION, MediationStatus.NO_AGREEMENT, 60, 20, 1, False),
                (MediationSource.COURT, MediationStatus.ORAL_AGREEMENT, 90, 40, 1, False),
                (MediationSource.PETITION, MediationStatus.WITHDRAWN, 30, 5, 0, False),
                (MediationSource.COURT, MediationStatus.OPEN, 45, None, 1, True),
                (MediationSource.PETITION, MediationStatus.OPEN, 3, None, 0, False)]
        for n, (source, status, age, to_outcome, held, with_department) in enumerate(rows):
            case = make_case(subject=f"统计纠纷{n}")
            case.status = CaseStatus.MEDIATION
            referred = now - timedelta(days=age)
            matter = MediationReferral(case_id=case.id, committee_id=committee.id, source=source, status=status,
                                       court_id=court.id if source == MediationSource.COURT else None,
                                       referred_at=referred,
                                       closed_at=referred + timedelta(days=to_outcome) if to_outcome else None)
            matter.parties = [MediationParty(side=PartySide.APPLICANT, name="甲", consent_on=today(),
                                             consent_how="书面")]
            if with_department:
                matter.parties.append(MediationParty(side=PartySide.RESPONDENT, name=party_department.name,
                                                     department_id=party_department.id, consent_on=today(),
                                                     consent_how="书面"))
            session.add(matter)
            session.flush()
            start = datetime.combine(today(), time(9), timezone.utc)
            statuses = [SessionStatus.HELD] * held + ([SessionStatus.CANCELLED] if n == 0 else [])
            for number, session_status in enumerate(statuses, 1):
                session.add(MediationSession(referral_id=matter.id, number=number, status=session_status,
                                             uid=f"fig-{matter.id}-{number}", starts_at=start,
                                             ends_at=start + timedelta(hours=1)))
        session.commit()
        return {role: user.login for role, user in users.items()}


def get(client, user_login, path="/mediation/figures"):
    client.post("/logout")
    if user_login:
        assert login(client, user_login, PASSWORD).status_code == 303
    return client.get(path)


def test_figures_on_known_data(app, client, known):
    for role in (Role.STAFF, Role.LEADER, Role.MEDIATOR):
        response = get(client, known[role])
        assert response.status_code == 200, role
        page = text(response)
        assert figure(page, "referrals") == "6"
        assert (figure(page, "source-petition"), figure(page, "source-court")) == ("4", "2")
        assert figure(page, "open") == "2" and figure(page, "running-long") == "1"
        assert figure(page, "held") == "5" and figure(page, "per-matter") == "0.8"  # 5 held / 6 matters
        assert figure(page, "ended") == "4"
        assert [figure(page, f"outcome-{s}") for s in ("agreement", "oral_agreement", "no_agreement",
                                                       "withdrawn")] == ["1", "1", "1", "1"]
        assert figure(page, "days-average") == "18.8"  # (10 + 20 + 40 + 5) / 4
        assert figure(page, "days-median") == "15.0"  # (10 + 20) / 2


def test_a_department_counts_only_the_matters_it_is_party_to(app, client, known):
    page = text(get(client, known[Role.DEPARTMENT_REP]))
    assert figure(page, "referrals") == "2"
    assert (figure(page, "source-petition"), figure(page, "source-court")) == ("1", "1")
    assert figure(page, "held") == "3" and figure(page, "open") == "1" and figure(page, "running-long") == "1"
    assert figure(page, "days-average") == "10.0" and figure(page, "days-median") == "10.0"


def test_figures_refused_to_petitioners_and_admins(app, client, known):
    assert get(client, known[Role.PETITIONER]).status_code == 403
    assert get(client, known[Role.ADMIN]).status_code == 403
    assert is_login_redirect(get(client, None))


def test_figures_without_any_matter(app, client):
    with database(app):
        staff = make_user(Role.STAFF, locale="en")
        login_name = staff.login
    page = text(get(client, login_name))
    assert figure(page, "referrals") == "0" and figure(page, "days-median") == "—"
    assert figure(page, "per-matter") == "—"


def test_figures_keep_their_query_count(app, client, known, count_queries):
    get(client, known[Role.STAFF], "/")
    with count_queries() as counter:
        assert client.get("/mediation/figures").status_code == 200
    few = counter.count
    with database(app) as session:
        committee_id = session.query(MediationReferral.committee_id).first()[0]
        for n in range(15):
            case = make_case(subject=f"更多纠纷{n}")
            closed = utcnow() - timedelta(days=n)
            session.add(MediationReferral(case_id=case.id, committee_id=committee_id,
                                          status=MediationStatus.NO_AGREEMENT,
                                          referred_at=closed - timedelta(days=7), closed_at=closed))
        session.commit()
    with count_queries() as counter:
        page = text(client.get("/mediation/figures"))
    assert counter.count == few
    assert figure(page, "referrals") == "21"
