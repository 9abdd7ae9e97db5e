"""The home page of a mediator, a petitioner and a department representative shows the mediation work waiting
for them: open matters (running long marked), sessions today and ahead, records read back and waiting for
confirmation, agreements waiting for a signature or a new try at sealing; with a fixed number of queries."""
from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest

from portal import timeutil
from portal.accounts.models import DepartmentKind, Role
from portal.agreements.models import Agreement, AgreementSignature, AgreementStatus, SealStatus, SignerRole
from portal.cases.models import CaseStatus
from portal.mediation.models import (
    ConfirmationAnswer,
    ConfirmationHow,
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationSession,
    MediationStatus,
    PartySide,
    ProceedingConfirmation,
    ProceedingRecord,
    RecordStatus,
    SessionStatus,
)
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import UserRef, database, text

_n = itertools.count(1)


@dataclass
class World:
    mediator: UserRef
    other_mediator: UserRef
    petitioner: UserRef
    rep: UserRef
    outsider: UserRef
    committee_id: int
    department_id: int


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


@pytest.fixture
def world(app) -> World:
    with database(app):
        committee = make_department("南区人民调解委员会（测试）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        department = make_department("人社局（测试）")
        mediator = make_user(Role.MEDIATOR, committee, name="李调解", locale="en")
        other_mediator = make_user(Role.MEDIATOR, committee, name="周调解", locale="en")
        petitioner = make_user(Role.PETITIONER, name="陈信访", locale="en")
        rep = make_user(Role.DEPARTMENT_REP, department, locale="en")
        outsider = make_user(Role.DEPARTMENT_REP, make_department(), locale="en")
        return World(*[_ref(u) for u in (mediator, other_mediator, petitioner, rep, outsider)], committee.id,
                     department.id)


def as_user(client, user) -> None:
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def _now():
    return timeutil.utcnow()


def _today_start():
    """A start time today in Y City that has already passed (a session under way today)."""
    local_midnight = datetime.combine(timeutil.today(), time(0), timeutil.local_zone())
    return max(local_midnight.astimezone(timeutil.utcnow().tzinfo), _now() - timedelta(minutes=30))


def add_matter(app, world: World, *, subject="拖欠工资纠纷", mediator=None, days_ago=3, today_session=False,
               ahead_session=False, read_back=None, locked=False, agreement=None) -> dict:
    """A matter with the world's petitioner and department as parties. read_back: None, or which party already
    answered ("rep" / "petitioner" / "none"). agreement: None, "rep_to_sign" (the petitioner signed),
    "petitioner_to_sign" (the department signed), "seal_failed"."""
    with database(app) as session:
        from portal.accounts.models import User

        petitioner_user = session.get(User, world.petitioner.id)
        case = make_case(petitioner_user=petitioner_user, subject=subject)
        case.status = CaseStatus.MEDIATION
        matter = MediationReferral(case_id=case.id, committee_id=world.committee_id, status=MediationStatus.OPEN,
                                   referred_at=_now() - timedelta(days=days_ago))
        applicant = MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id, name="陈信访",
                                   consent_on=timeutil.today(), consent_how="书面")
        respondent = MediationParty(side=PartySide.RESPONDENT, department_id=world.department_id, name="人社局（测试）",
                                    consent_on=timeutil.today(), consent_how="函复")
        matter.parties = [applicant, respondent]
        matter.mediators = [MediationMediator(user_id=(mediator or world.mediator).id)]
        session.add(matter)
        session.flush()
        number = itertools.count(1)
        if today_session:
            start = _today_start()
            session.add(MediationSession(referral_id=matter.id, number=next(number), status=SessionStatus.SCHEDULED,
                                         uid=uuid.uuid4().hex, starts_at=start, ends_at=_now() + timedelta(hours=1),
                                         place="第一调解室"))
        if ahead_session:
            start = _now() + timedelta(days=3)
            session.add(MediationSession(referral_id=matter.id, number=next(number), status=SessionStatus.SCHEDULED,
                                         uid=uuid.uuid4().hex, starts_at=start, ends_at=start + timedelta(hours=1),
                                         place="第二调解室"))
        if read_back is not None or locked:
            start = _now() - timedelta(days=1)
            held = MediationSession(referral_id=matter.id, number=next(number), status=SessionStatus.HELD,
                                    uid=uuid.uuid4().hex, starts_at=start, ends_at=start + timedelta(hours=1))
            session.add(held)
            session.flush()
            record = ProceedingRecord(session_id=held.id,
                                      status=RecordStatus.LOCKED if locked else RecordStatus.READ_BACK,
                                      read_back_at=start + timedelta(minutes=50))
            session.add(record)
            session.flush()
            answered = {"rep": respondent, "petitioner": applicant}.get(read_back)
            if answered is not None:
                session.add(ProceedingConfirmation(record_id=record.id, party_id=answered.id,
                                                   answer=ConfirmationAnswer.CONFIRMED, how=ConfirmationHow.ONLINE))
        agreement_id = None
        if agreement:
            n = next(_n)
            row = Agreement(referral_id=matter.id, number=f"HOME-{n}-{uuid.uuid4().hex[:4]}",
                            verification_code=uuid.uuid4().hex[:12], document_hash="b" * 64, signing_version=1,
                            status=AgreementStatus.SEALING if agreement == "seal_failed" else AgreementStatus.SIGNING,
                            seal_status=SealStatus.FAILED if agreement == "seal_failed" else SealStatus.NONE)
            matter.status = MediationStatus.AGREEMENT
            session.add(row)
            session.flush()
            signed = {"rep_to_sign": applicant, "petitioner_to_sign": respondent}.get(agreement)
            if signed is not None:
                session.add(AgreementSignature(agreement_id=row.id, role=SignerRole.PARTY, party_id=signed.id,
                                               signer_name=signed.name, document_hash="b" * 64))
                # a voided signature of the other party does not count
                other = respondent if signed is applicant else applicant
                session.add(AgreementSignature(agreement_id=row.id, role=SignerRole.PARTY, party_id=other.id,
                                               signer_name=other.name, document_hash="a" * 64,
                                               voided_at=_now()))
            agreement_id = row.id
        session.commit()
        return {"matter": matter.id, "case": case.reference, "agreement": agreement_id}


def home(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return text(response)


def test_mediator_home_shows_the_work_waiting(app, client, world):
    long_one = add_matter(app, world, subject="久拖纠纷", days_ago=45, today_session=True)
    ahead = add_matter(app, world, ahead_session=True, read_back="rep")
    sealing = add_matter(app, world, agreement="seal_failed")
    signing = add_matter(app, world, agreement="rep_to_sign")
    quiet = add_matter(app, world, locked=True)
    theirs = add_matter(app, world, mediator=world.other_mediator, today_session=True, read_back="none")
    as_user(client, world.mediator)
    page = home(client)
    # open matters: theirs only, the one running long marked
    assert f'id="desk-matter-{long_one["matter"]}" class="due-overdue"' in page
    assert f'id="desk-matter-{ahead["matter"]}"' in page and f'id="desk-matter-{quiet["matter"]}"' in page
    assert f'id="desk-matter-{theirs["matter"]}"' not in page
    assert f'id="desk-matter-{sealing["matter"]}"' not in page  # ended with an agreement
    assert "running long" in page
    # sessions: today and ahead
    today_part, ahead_part = page.split('id="desk-sessions"')[1].split(">Ahead<")
    assert long_one["case"] in today_part and ahead["case"] not in today_part
    assert ahead["case"] in ahead_part and theirs["case"] not in page.split('id="desk-sessions"')[1]
    # records read back and waiting for confirmations (their matters only)
    records = page.split('id="desk-records"')[1].split('id="desk-agreements"')[0]
    assert ahead["case"] in records and "1 answer so far" in records
    assert quiet["case"] not in records and theirs["case"] not in records
    # agreements waiting: being signed, or sealing failed
    agreements = page.split('id="desk-agreements"')[1]
    assert f'id="desk-agreement-{sealing["agreement"]}"' in agreements and "sealing failed" in agreements
    assert f'id="desk-agreement-{signing["agreement"]}"' in agreements


def test_mediator_home_with_nothing_waiting_says_so(app, client, world):
    as_user(client, world.mediator)
    page = home(client)
    assert "No open mediation matters are assigned to you." in page and "No session today." in page
    assert "No record is waiting for confirmation." in page and "No agreement is waiting for you." in page


def test_parties_see_what_waits_for_their_own_answer(app, client, world):
    sessions = add_matter(app, world, today_session=True, ahead_session=True)
    rep_answered = add_matter(app, world, read_back="rep")
    petitioner_answered = add_matter(app, world, read_back="petitioner")
    rep_to_sign = add_matter(app, world, agreement="rep_to_sign")
    petitioner_to_sign = add_matter(app, world, agreement="petitioner_to_sign")
    add_matter(app, world, locked=True)

    as_user(client, world.petitioner)
    page = home(client)
    assert "Session 1" in page and sessions["case"] in page.split('id="desk-sessions"')[1]
    records = page.split('id="desk-records"')[1].split('id="desk-agreements"')[0]
    assert "Records waiting for your confirmation" in page
    assert rep_answered["case"] in records and petitioner_answered["case"] not in records
    agreements = page.split('id="desk-agreements"')[1]
    assert f'/agreements/{petitioner_to_sign["agreement"]}/sign' in agreements
    assert f'/agreements/{rep_to_sign["agreement"]}/sign' not in agreements

    as_user(client, world.rep)
    page = home(client)
    assert sessions["case"] in page.split('id="desk-sessions"')[1]
    records = page.split('id="desk-records"')[1].split('id="desk-agreements"')[0]
    assert petitioner_answered["case"] in records and rep_answered["case"] not in records
    agreements = page.split('id="desk-agreements"')[1]
    assert f'/agreements/{rep_to_sign["agreement"]}/sign' in agreements
    assert f'/agreements/{petitioner_to_sign["agreement"]}/sign' not in agreements

    # a department that takes no part sees none of it
    as_user(client, world.outsider)
    page = home(client)
    assert 'id="desk-sessions"' not in page and 'id="desk-records"' not in page


def test_a_withdrawn_party_is_not_asked(app, client, world):
    waiting = add_matter(app, world, read_back="none", agreement="rep_to_sign")
    with database(app) as session:
        party = session.query(MediationParty).filter_by(referral_id=waiting["matter"],
                                                        department_id=world.department_id).one()
        party.withdrawn_on = timeutil.today()
        session.commit()
    as_user(client, world.rep)
    page = home(client)
    assert 'id="desk-records"' not in page and f'id="desk-agreement-{waiting["agreement"]}"' not in page


@pytest.mark.parametrize("who", ["mediator", "petitioner", "rep"])
def test_home_keeps_its_query_count(app, client, world, count_queries, who):
    def everything():
        add_matter(app, world, days_ago=45, today_session=True, ahead_session=True, read_back="none")
        add_matter(app, world, read_back="rep", ahead_session=True)
        add_matter(app, world, read_back="petitioner")
        add_matter(app, world, agreement="rep_to_sign")
        add_matter(app, world, agreement="petitioner_to_sign")
        add_matter(app, world, agreement="seal_failed")

    everything()
    as_user(client, getattr(world, who))

    def queries() -> int:
        with count_queries() as counter:
            assert client.get("/").status_code == 200
        return counter.count

    first = queries()
    for _ in range(3):
        everything()
    assert queries() == first
