"""Drafting the mediation agreement through the HTTP routes: starting it from a matter that ended with an agreement
(only its mediators), versions with their validation messages, obligation rows without JavaScript, the diff, comments
by a petitioner party and a department party, refusals for everyone else on every route, the voiding of signatures
when the text changes while it is being signed, the preview PDF, the canonical text and its hash, the page's query
count."""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.agreements import drafting
from portal.agreements.models import (
    Agreement,
    AgreementComment,
    AgreementSignature,
    AgreementStatus,
    AgreementVersion,
    SignatureMethod,
    SignatureMark,
    SignerRole,
)
from flask_babel import force_locale

from portal.cases.models import CaseStatus
from portal.mediation.models import (
    MediationMediator,
    MediationParty,
    MediationReferral,
    MediationStatus,
    PartySide,
)
from portal.timeutil import today, utcnow
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import (
    UserRef,
    audit_actions,
    catalog,
    database,
    field_error,
    flashes,
    form_errors,
    is_login_redirect,
    location,
    outbox,
    text,
)

HX = {"HX-Request": "true"}
ID_NUMBER = "320102199001011234"


@dataclass
class World:
    staff: UserRef
    leader: UserRef
    admin: UserRef
    mediator: UserRef  # assigned to the matter
    colleague: UserRef  # same committee, not assigned
    outside_mediator: UserRef  # another committee
    party_rep: UserRef  # the department on the other side
    other_rep: UserRef  # a department that takes no part
    petitioner: UserRef  # the petitioner party
    stranger: UserRef  # another petitioner
    committee_id: int
    committee_code: str
    matter_id: int
    petitioner_party_id: int
    department_party_id: int
    case_id: int


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def make_matter(case, committee, mediator, department, status=MediationStatus.AGREEMENT) -> MediationReferral:
    from portal.extensions import db

    matter = MediationReferral(case_id=case.id, committee_id=committee.id, status=status, room="一号调解室",
                               closed_at=utcnow() if status != MediationStatus.OPEN else None)
    matter.parties.append(MediationParty(side=PartySide.APPLICANT, petitioner_id=case.petitioners[0].id,
                                         name=case.petitioners[0].name, consent_on=today() - timedelta(days=5),
                                         consent_how="书面申请"))
    matter.parties.append(MediationParty(side=PartySide.RESPONDENT, department_id=department.id,
                                         name=department.name, consent_on=today() - timedelta(days=4),
                                         consent_how="书面同意函"))
    matter.mediators.append(MediationMediator(user_id=mediator.id))
    case.status = CaseStatus.MEDIATION
    db.session.add(matter)
    db.session.commit()
    return matter


@pytest.fixture
def world(app) -> World:
    with database(app):
        committee = make_department("东区人民调解委员会（协议测试）", code="DQTJ",
                                    kind=DepartmentKind.MEDIATION_COMMITTEE)
        other_committee = make_department("西区人民调解委员会（协议测试）", kind=DepartmentKind.MEDIATION_COMMITTEE)
        party_department = make_department("住建局（协议测试）")
        other_department = make_department("市场监管局（协议测试）")
        staff = make_user(Role.STAFF, locale="en")
        leader = make_user(Role.LEADER, locale="en")
        admin = make_user(Role.ADMIN, locale="en")
        mediator = make_user(Role.MEDIATOR, committee, name="李调解", locale="en")
        colleague = make_user(Role.MEDIATOR, committee, name="周调解", locale="en")
        outside = make_user(Role.MEDIATOR, other_committee, name="吴调解", locale="en")
        party_rep = make_user(Role.DEPARTMENT_REP, party_department, name="王代表", locale="en")
        other_rep = make_user(Role.DEPARTMENT_REP, other_department, locale="en")
        petitioner = make_user(Role.PETITIONER, locale="en")
        stranger = make_user(Role.PETITIONER, locale="en")
        case = make_case(petitioner_user=petitioner, name="陈信访", id_number=ID_NUMBER, phone="13800000001")
        matter = make_matter(case, committee, mediator, party_department)
        return World(*[_ref(u) for u in (staff, leader, admin, mediator, colleague, outside, party_rep, other_rep,
                                         petitioner, stranger)],
                     committee.id, committee.code, matter.id, matter.parties[0].id, matter.parties[1].id, case.id)


def as_user(client, user) -> None:
    client.post("/logout")
    assert login(client, user.login, PASSWORD).status_code == 303


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def start(client, world):
    return client.post(f"/agreements/start/{world.matter_id}")


def the_agreement(app) -> Agreement:
    with database(app) as session:
        agreement = session.scalars(select(Agreement).order_by(Agreement.id.desc())).first()
        agreement.versions, agreement.signatures  # noqa: B018 - load before the session closes
        for version in agreement.versions:
            version.obligations  # noqa: B018
        return agreement


def started(app, client, world) -> Agreement:
    as_user(client, world.mediator)
    assert start(client, world).status_code == 303
    return the_agreement(app)


def version_data(world, **changes) -> dict:
    data = {"facts": "某公司自2026年6月起拖欠陈信访工资三个月。", "disputes": "欠薪数额及支付期限。",
            "responsibilities": "公司对欠薪负全部责任。", "other_terms": "双方不再就此事另行主张。",
            "change_note": "写明事实与义务",
            "obligations-0-party_id": str(world.department_party_id),
            "obligations-0-what": "督促公司支付拖欠工资人民币壹万贰仟元", "obligations-0-manner": "银行转账",
            "obligations-0-place": "东区人社局", "obligations-0-due_on": day(10),
            "obligations-1-party_id": "", "obligations-1-what": "", "obligations-1-manner": "",
            "obligations-1-place": "", "obligations-1-due_on": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def save(client, agreement_id, world, **changes):
    return client.post(f"/agreements/{agreement_id}/versions", data=version_data(world, **changes))


# --- starting ------------------------------------------------------------------------------------------------

def test_mediator_of_the_matter_starts_the_agreement_with_version_one_from_the_case(app, client, world):
    as_user(client, world.mediator)
    page = text(client.get(f"/mediation/{world.matter_id}"))
    assert "Draft the written agreement" in page
    response = start(client, world)
    assert response.status_code == 303
    agreement = the_agreement(app)
    assert response.headers["Location"].endswith(f"/agreements/{agreement.id}/edit")
    assert agreement.number == f"{world.committee_code}-{today().year}-0001"
    assert len(agreement.verification_code) == 10
    assert set(agreement.verification_code) <= set(drafting.CODE_ALPHABET)
    assert agreement.status == AgreementStatus.DRAFTING
    [version] = agreement.versions
    assert version.number == 1 and version.facts == "某公司自2026年6月起拖欠工资。"
    assert version.disputes == "请求督促支付工资。"
    with database(app) as session:
        snapshot = drafting.snapshot_of(session.get(AgreementVersion, version.id))
        assert version.content_hash == drafting.document_hash(session.get(AgreementVersion, version.id))
    assert [p["name"] for p in snapshot] == ["陈信访", "住建局（协议测试）"]
    assert snapshot[0]["id_number"] == ID_NUMBER and snapshot[0]["address"] == "Y市东区和平路1号"
    assert "agreement.started" in audit_actions(app)
    # A second start opens the same agreement.
    again = start(client, world)
    assert again.headers["Location"].endswith(f"/agreements/{agreement.id}")
    with database(app) as session:
        assert session.scalar(select(Agreement.id).where(Agreement.id != agreement.id)) is None
    # The matter page now links to the agreement, for the mediator and the parties.
    assert "Open the agreement" in text(client.get(f"/mediation/{world.matter_id}"))
    as_user(client, world.petitioner)
    assert "Open the agreement" in text(client.get(f"/mediation/{world.matter_id}"))
    # ... and the case pages: the petitioner's own, the department's.
    assert f'href="/agreements/{agreement.id}"' in text(client.get(f"/cases/{world.case_id}"))
    as_user(client, world.party_rep)
    assert f'href="/agreements/{agreement.id}"' in text(client.get(f"/cases/{world.case_id}"))


def test_numbers_follow_in_sequence_per_committee_and_year(app, client, world):
    with database(app) as session:
        matter = session.get(MediationReferral, world.matter_id)
        case = make_case(name="赵某")
        committee = matter.committee
        department = session.get(MediationParty, world.department_party_id).department
        mediator = session.get(MediationMediator, (world.matter_id, world.mediator.id)).user
        second = make_matter(case, committee, mediator, department)
        second_id = second.id
    as_user(client, world.mediator)
    assert start(client, world).status_code == 303
    assert client.post(f"/agreements/start/{second_id}").status_code == 303
    with database(app) as session:
        numbers = list(session.scalars(select(Agreement.number).order_by(Agreement.id)))
        codes = list(session.scalars(select(Agreement.verification_code)))
    assert numbers == [f"{world.committee_code}-{today().year}-0001", f"{world.committee_code}-{today().year}-0002"]
    assert len(set(codes)) == 2


def test_a_colliding_verification_code_is_drawn_again(app, client, world, monkeypatch):
    with database(app) as session:
        matter = session.get(MediationReferral, world.matter_id)
        second = make_matter(make_case(name="赵某"), matter.committee,
                             session.get(MediationMediator, (world.matter_id, world.mediator.id)).user,
                             session.get(MediationParty, world.department_party_id).department)
        second_id = second.id
    codes = iter(["AAAAAAAAAA", "AAAAAAAAAA", "BBBBBBBBBB"])
    monkeypatch.setattr(drafting, "_new_code", lambda: next(codes))
    as_user(client, world.mediator)
    assert start(client, world).status_code == 303
    assert client.post(f"/agreements/start/{second_id}").status_code == 303
    with database(app) as session:
        rows = session.execute(select(Agreement.number, Agreement.verification_code).order_by(Agreement.id)).all()
    assert [code for _number, code in rows] == ["AAAAAAAAAA", "BBBBBBBBBB"]
    assert [number for number, _code in rows] == [f"{world.committee_code}-{today().year}-0001",
                                                  f"{world.committee_code}-{today().year}-0002"]


def test_only_from_an_agreement_outcome(app, client, world):
    with database(app) as session:
        session.get(MediationReferral, world.matter_id).status = MediationStatus.ORAL_AGREEMENT
        session.commit()
    as_user(client, world.mediator)
    assert "Draft the written agreement" not in text(client.get(f"/mediation/{world.matter_id}"))
    response = start(client, world)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/mediation/{world.matter_id}")
    assert ("error", "A written agreement is drafted only after the mediation ended with an agreement.") in \
        flashes(client.get(f"/mediation/{world.matter_id}"))
    with database(app) as session:
        assert session.scalar(select(Agreement.id)) is None


@pytest.mark.parametrize("who", ["outside_mediator", "staff", "leader", "admin", "party_rep", "petitioner",
                                 "other_rep"])
def test_only_mediators_of_the_matter_start_it(app, client, world, who):
    as_user(client, getattr(world, who))
    assert start(client, world).status_code == 403
    with database(app) as session:
        assert session.scalar(select(Agreement.id)) is None


def test_a_mediator_of_the_committee_may_start_it_too(app, client, world):
    as_user(client, world.colleague)  # policy.mediates: the committee's mediators manage its matters
    assert start(client, world).status_code == 303


def test_anonymous_gets_the_login_page(app, client, world):
    assert is_login_redirect(client.post(f"/agreements/start/{world.matter_id}"))
    assert is_login_redirect(client.get("/agreements/1"))


# --- versions -------------------------------------------------------------------------------------------------

def test_saving_a_version_with_obligations(app, client, world):
    agreement = started(app, client, world)
    form = text(client.get(f"/agreements/{agreement.id}/edit"))
    assert 'name="obligations-0-what"' in form and 'name="obligations-1-what"' in form
    assert 'name="obligations-2-what"' not in form  # no obligation yet: two blank rows
    assert "Add another row" in form
    response = save(client, agreement.id, world, based_on="1")
    assert response.status_code == 303
    agreement = the_agreement(app)
    assert [v.number for v in agreement.versions] == [1, 2]
    v2 = agreement.versions[-1]
    assert v2.change_note == "写明事实与义务" and v2.created_by_id == world.mediator.id
    [obligation] = v2.obligations  # the empty row is ignored
    assert obligation.party_id == world.department_party_id and obligation.manner == "银行转账"
    assert obligation.due_on == today() + timedelta(days=10)
    assert v2.content_hash and v2.content_hash != agreement.versions[0].content_hash
    page = text(client.get(f"/agreements/{agreement.id}"))
    assert "督促公司支付拖欠工资人民币壹万贰仟元" in page and "东区人社局" in page and "Version 2" in page
    assert "公司对欠薪负全部责任。" in page and "双方不再就此事另行主张。" in page
    assert ID_NUMBER in page  # the mediator sees it in full
    # The edit form starts from version 2: its obligation and two blank rows.
    form = text(client.get(f"/agreements/{agreement.id}/edit"))
    assert "督促公司支付拖欠工资人民币壹万贰仟元" in form and 'name="obligations-2-what"' in form
    assert "agreement.version_saved" in audit_actions(app)


def test_version_validation_messages(app, client, world):
    agreement = started(app, client, world)
    response = save(client, agreement.id, world, facts="", change_note="")
    assert response.status_code == 200
    assert field_error(response, "facts") == "This field is required."
    assert field_error(response, "change_note") == "This field is required."
    response = save(client, agreement.id, world, **{"obligations-0-what": "", "obligations-0-due_on": day(-1)})
    assert field_error(response, "obligations-0-what") == "Say what is to be done."
    assert field_error(response, "obligations-0-due_on") == "The due date cannot be before today."
    response = save(client, agreement.id, world, **{"obligations-0-party_id": "", "obligations-0-due_on": ""})
    assert field_error(response, "obligations-0-party_id") == "Choose the party that performs this obligation."
    assert field_error(response, "obligations-0-due_on") == "Enter the date by which it is to be done."
    response = save(client, agreement.id, world, **{"obligations-0-party_id": "", "obligations-0-what": "",
                                                    "obligations-0-manner": "", "obligations-0-place": "",
                                                    "obligations-0-due_on": ""})
    assert "Add at least one obligation" in form_errors(response)
    response = save(client, agreement.id, world, **{"obligations-0-party_id": "999999"})
    assert response.status_code == 200
    assert field_error(response, "obligations-0-party_id")
    response = save(client, agreement.id, world, **{"obligations-0-due_on": "not a date"})
    assert response.status_code == 200 and field_error(response, "obligations-0-due_on")
    # Everything typed is still there.
    assert "督促公司支付拖欠工资人民币壹万贰仟元" in text(response)
    # htmx gets the form section alone, status 200.
    response = client.post(f"/agreements/{agreement.id}/versions", data=version_data(world, facts=""), headers=HX)
    assert response.status_code == 200 and "<html" not in response.get_data(as_text=True)
    assert field_error(response, "facts") == "This field is required."
    assert len(the_agreement(app).versions) == 1


def test_nothing_changed_and_a_stale_form_are_refused(app, client, world):
    agreement = started(app, client, world)
    assert save(client, agreement.id, world, based_on="1").status_code == 303
    same = save(client, agreement.id, world, based_on="2", change_note="again")
    assert same.status_code == 200 and "Nothing changed since version 2." in form_errors(same)
    stale = save(client, agreement.id, world, based_on="1", facts="另一种说法")
    assert "Version 2 was saved in the meantime" in form_errors(stale)
    assert len(the_agreement(app).versions) == 2


def test_obligation_rows_without_javascript(app, client, world):
    agreement = started(app, client, world)
    data = version_data(world, add_row="1")
    response = client.post(f"/agreements/{agreement.id}/versions", data=data)
    assert response.status_code == 200
    page = text(response)
    assert 'name="obligations-2-what"' in page and 'name="obligations-3-what"' not in page
    assert "督促公司支付拖欠工资人民币壹万贰仟元" in page  # what was typed stays
    assert not field_error(response, "facts") and not form_errors(response)  # no validation on "add a row"
    data.pop("add_row")
    data.update({"obligations-2-party_id": str(world.petitioner_party_id), "obligations-2-what": "撤回信访诉求",
                 "obligations-2-manner": "书面", "obligations-2-place": "", "obligations-2-due_on": day(20)})
    assert client.post(f"/agreements/{agreement.id}/versions", data=data).status_code == 303
    version = the_agreement(app).versions[-1]
    assert [(o.position, o.what) for o in version.obligations] == [(1, "督促公司支付拖欠工资人民币壹万贰仟元"),
                                                                   (2, "撤回信访诉求")]
    assert version.obligations[1].party_id == world.petitioner_party_id


def test_add_another_row_with_htmx_swaps_the_form_section(app, client, world):
    agreement = started(app, client, world)
    response = client.post(f"/agreements/{agreement.id}/versions", data=version_data(world, add_row="1"), headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="version-form-section"' in body
    assert 'name="obligations-2-what"' in body
    assert len(the_agreement(app).versions) == 1


# --- diff -----------------------------------------------------------------------------------------------------

def test_diff_shows_what_changed_by_section(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    save(client, agreement.id, world, facts="某公司自2026年5月起拖欠陈信访工资四个月。", change_note="改正月份",
         **{"obligations-0-due_on": day(15)})
    response = client.get(f"/agreements/{agreement.id}/diff?from=2&to=3")
    assert response.status_code == 200
    page = text(response)
    assert "Changes from version 2 to version 3" in page
    assert "<del>" in page and "<ins>" in page
    assert "removed" in page and "added" in page  # text labels, not colour alone
    assert "Changed:" in page
    assert "改正月份" in page
    facts = page.split('id="diff-facts"')[1].split("</section>")[0]
    assert "6" in facts.split("<del>")[1].split("</del>")[0] and "5" in facts.split("<ins>")[1].split("</ins>")[0]
    obligations = page.split('id="diff-obligations"')[1].split("</section>")[0]
    assert "changed" in obligations
    disputes = page.split('id="diff-disputes"')[1].split("</section>")[0]
    assert "unchanged" in disputes and "<del>" not in disputes
    # Version 1 has no obligations: the whole obligation line is added.
    page = text(client.get(f"/agreements/{agreement.id}/diff?from=1&to=3"))
    assert "Added:" in page
    assert client.get(f"/agreements/{agreement.id}/diff?from=1&to=9").status_code == 404
    # Without parameters: the latest change.
    assert "Changes from version 2 to version 3" in text(client.get(f"/agreements/{agreement.id}/diff"))


# --- comments ---------------------------------------------------------------------------------------------------

def test_comments_by_a_petitioner_party_and_a_department_party(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    as_user(client, world.petitioner)
    page = text(client.get(f"/agreements/{agreement.id}"))
    assert "Your comment on the current draft" in page
    assert ID_NUMBER in page  # the party sees their own ID number in full
    assert "Write a new version" not in page
    response = client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "希望支付日期提前到十二月一日。"})
    assert response.status_code == 303
    empty = client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "  "})
    assert empty.status_code == 200 and field_error(empty, "comment-text") == "Write your comment."
    empty = client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": ""}, headers=HX)
    assert empty.status_code == 200 and "<html" not in empty.get_data(as_text=True)
    assert field_error(empty, "comment-text") == "This field is required."
    as_user(client, world.party_rep)
    client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "本局同意督促。"}, headers=HX)
    as_user(client, world.mediator)
    client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "下一版调整日期。"})
    page = text(client.get(f"/agreements/{agreement.id}"))
    assert "希望支付日期提前到十二月一日。" in page and "本局同意督促。" in page and "下一版调整日期。" in page
    assert "for 陈信访" in page and "for 住建局（协议测试）" in page and "on version 2" in page
    with database(app) as session:
        comments = list(session.scalars(select(AgreementComment).order_by(AgreementComment.id)))
    assert [(c.author_id, c.party_id) for c in comments] == [
        (world.petitioner.id, world.petitioner_party_id), (world.party_rep.id, world.department_party_id),
        (world.mediator.id, None)]
    assert audit_actions(app).count("agreement.comment_added") == 3


SECOND_ID = "320102198502023456"
SECOND_PHONE = "13900000002"


def add_second_petitioner(app, world) -> int:
    """A second petitioner party (the stranger's account) with their own ID number and phone."""
    from portal.extensions import db

    with database(app):
        from portal.accounts.models import User

        other = make_case(petitioner_user=db.session.get(User, world.stranger.id), name="赵第二",
                          id_number=SECOND_ID, phone=SECOND_PHONE)
        matter = db.session.get(MediationReferral, world.matter_id)
        party = MediationParty(side=PartySide.APPLICANT, petitioner_id=other.petitioners[0].id, name="赵第二",
                               consent_on=today() - timedelta(days=3), consent_how="书面申请")
        matter.parties.append(party)
        db.session.commit()
        return party.id


def test_whole_id_numbers_and_phones_only_for_the_petitioner_themself_and_the_mediators(app, client, world,
                                                                                        monkeypatch):
    """One rule (drafting.shows_personal) on the page, the diff and the draft preview."""
    previews = []
    monkeypatch.setattr(drafting, "write_pdf", lambda html: previews.append(html) or b"%PDF-1.7 test")
    add_second_petitioner(app, world)
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    save(client, agreement.id, world, facts="某公司自2026年5月起拖欠陈信访工资四个月。", change_note="改正月份")
    masked_own, masked_second = "3201**********1234", "3201**********3456"
    full = {ID_NUMBER, "13800000001", SECOND_ID, SECOND_PHONE}
    sees = {
        "mediator": full, "colleague": full,  # the committee's mediators: every party in full
        "petitioner": {ID_NUMBER, "13800000001"},  # their own row only
        "stranger": {SECOND_ID, SECOND_PHONE},
        "party_rep": set(), "staff": set(), "leader": set(),
    }
    for who, visible in sees.items():
        as_user(client, getattr(world, who))
        previews.clear()
        screens = {"page": text(client.get(f"/agreements/{agreement.id}")),
                   "earlier version": text(client.get(f"/agreements/{agreement.id}?version=1")),
                   "diff": text(client.get(f"/agreements/{agreement.id}/diff?from=1&to=3")),
                   "preview": client.get(f"/agreements/{agreement.id}/preview.pdf") and previews[0]}
        for screen, page in screens.items():
            assert "陈信访" in page and "赵第二" in page, (who, screen)
            for value in full:
                assert (value in page) == (value in visible), (who, screen, value)
            if ID_NUMBER not in visible:
                assert masked_own in page, (who, screen)
            if SECOND_ID not in visible:
                assert masked_second in page, (who, screen)
        if visible != full:
            assert "only the petitioner concerned and the committee's mediators" in screens["page"]


def test_id_numbers_are_masked_for_the_bureau_and_leaders(app, client, world):
    agreement = started(app, client, world)
    for who in (world.staff, world.leader, world.party_rep):
        as_user(client, who)
        page = text(client.get(f"/agreements/{agreement.id}"))
        assert "陈信访" in page and ID_NUMBER not in page and "3201**********1234" in page
        assert "13800000001" not in page and "138****0001" in page
    as_user(client, world.petitioner)
    assert ID_NUMBER in text(client.get(f"/agreements/{agreement.id}"))


# --- refusals -----------------------------------------------------------------------------------------------

def _routes(agreement_id):
    return [("get", f"/agreements/{agreement_id}", "agreement.view"),
            ("get", f"/agreements/{agreement_id}/diff?from=1&to=1", "agreement.view"),
            ("get", f"/agreements/{agreement_id}/preview.pdf", "agreement.view"),
            ("get", f"/agreements/{agreement_id}/edit", "agreement.draft"),
            ("post", f"/agreements/{agreement_id}/versions", "agreement.draft"),
            ("post", f"/agreements/{agreement_id}/comments", "agreement.comment")]


WHO_MAY = {
    # Mediators read and draft only the matters of their committee or those they are assigned to.
    "agreement.view": {"staff", "leader", "mediator", "colleague", "party_rep", "petitioner"},
    "agreement.draft": {"mediator", "colleague"},
    "agreement.comment": {"mediator", "colleague", "party_rep", "petitioner"},
}


@pytest.mark.parametrize("who", ["staff", "leader", "admin", "outside_mediator", "party_rep", "other_rep",
                                 "petitioner", "stranger"])
def test_refusals_on_every_route(app, client, world, who, monkeypatch):
    monkeypatch.setattr(drafting, "write_pdf", lambda html: b"%PDF-1.7 test")
    agreement = started(app, client, world)
    as_user(client, getattr(world, who))
    for method, path, permission in _routes(agreement.id):
        data = version_data(world) if path.endswith("/versions") else {"comment-text": "评论"}
        response = client.get(path) if method == "get" else client.post(path, data=data)
        allowed = who in WHO_MAY[permission]
        if allowed:
            assert response.status_code in (200, 303), (who, path, response.status_code)
        else:
            assert response.status_code == 403, (who, path, response.status_code)
    # Nothing changed for those refused.
    if who not in WHO_MAY["agreement.draft"]:
        assert len(the_agreement(app).versions) == 1
    for path in ("/agreements/999999", "/agreements/999999/diff", "/agreements/999999/preview.pdf"):
        assert client.get(path).status_code == (404 if who != "admin" else 403)  # admins hold no agreement.view
    assert client.post("/agreements/start/999999").status_code in (403, 404)


def test_uninvolved_department_gets_403_on_the_agreement_and_its_preview(app, client, world, monkeypatch):
    monkeypatch.setattr(drafting, "write_pdf", lambda html: b"%PDF-1.7 test")
    agreement = started(app, client, world)
    as_user(client, world.other_rep)
    assert client.get(f"/agreements/{agreement.id}").status_code == 403
    assert client.get(f"/agreements/{agreement.id}/preview.pdf").status_code == 403
    assert "Open the agreement" not in text(client.get(f"/mediation/{world.matter_id}"))


# --- signing voided by a change ----------------------------------------------------------------------------------

def put_into_signing(app, agreement_id, world) -> None:
    """Set up what the signing part does: the text fixed, its hash, a party's signature collected."""
    with database(app) as session:
        agreement = session.get(Agreement, agreement_id)
        version = agreement.versions[-1]
        agreement.status = AgreementStatus.SIGNING
        agreement.signing_version = version.number
        agreement.document_hash = drafting.document_hash(version)
        agreement.signing_opened_at = utcnow()
        session.add(AgreementSignature(
            agreement_id=agreement.id, role=SignerRole.PARTY, party_id=world.department_party_id,
            user_id=world.party_rep.id, department_id=world.party_rep.department_id, signer_name="王代表",
            method=SignatureMethod.ONLINE, mark=SignatureMark.TYPED, typed_name="王代表",
            document_hash=agreement.document_hash))
        session.commit()


def test_a_change_while_signing_voids_signatures_and_tells_everyone(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    put_into_signing(app, agreement.id, world)
    form = text(client.get(f"/agreements/{agreement.id}/edit"))
    assert "voids every signature collected so far" in form
    response = save(client, agreement.id, world, based_on="2", facts="更正后的事实。", change_note="更正事实")
    assert response.status_code == 303
    agreement = the_agreement(app)
    assert agreement.status == AgreementStatus.DRAFTING and agreement.document_hash == ""
    assert agreement.signing_version is None
    [signature] = agreement.signatures
    assert signature.voided_at is not None
    for user in (world.petitioner, world.party_rep):
        [message] = outbox(app, user.login)
        assert agreement.number in message.subject and "void" in message.subject
        assert "Every signature collected so far is void" in message.body
    assert outbox(app, world.mediator.login) == []  # the one who changed it knows
    assert outbox(app, world.other_rep.login) == []
    assert "agreement.signatures_voided" in audit_actions(app)
    assert ("warning", "Version 3 is saved. The signatures collected so far are void and everyone has been told; "
                       "the agreement is back in drafting.") in flashes(client.get(f"/agreements/{agreement.id}"))


@pytest.mark.parametrize("status", [AgreementStatus.SEALING, AgreementStatus.EFFECTIVE])
def test_no_change_once_sealing(app, client, world, status):
    agreement = started(app, client, world)
    with database(app) as session:
        row = session.get(Agreement, agreement.id)
        row.status = status
        if status == AgreementStatus.EFFECTIVE:
            row.effective_on, row.effective_at = today(), utcnow()
        session.commit()
    response = client.get(f"/agreements/{agreement.id}/edit")
    assert response.status_code == 303
    response = save(client, agreement.id, world, based_on="1")
    assert response.status_code == 303
    assert len(the_agreement(app).versions) == 1
    page = text(client.get(f"/agreements/{agreement.id}"))
    assert "Write a new version" not in page and "Your comment on the current draft" not in page
    response = client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "太迟"})
    assert response.status_code == 303
    assert any("Comments are closed" in message for _kind, message in flashes(client.get(location(response))))
    with database(app) as session:
        assert session.scalar(select(AgreementComment.id)) is None


def test_no_draft_preview_once_in_effect(app, client, world, monkeypatch):
    made = []
    monkeypatch.setattr(drafting, "write_pdf", lambda html: made.append(html) or b"%PDF-1.7 test")
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    with database(app) as session:
        row = session.get(Agreement, agreement.id)
        row.status, row.effective_on, row.effective_at = AgreementStatus.EFFECTIVE, today(), utcnow()
        session.commit()
    for who in ("mediator", "petitioner", "party_rep", "staff", "leader"):
        as_user(client, getattr(world, who))
        for path in (f"/agreements/{agreement.id}/preview.pdf", f"/agreements/{agreement.id}/preview.pdf?version=1"):
            response = client.get(path)
            assert response.status_code == 303, (who, path)
            assert location(response) == f"/agreements/{agreement.id}"
            assert response.headers["Location"].endswith("#agreement-document")
            assert response.mimetype != "application/pdf"
        page = client.get(f"/agreements/{agreement.id}")
        assert any("The sealed copy is the document" in message for _kind, message in flashes(page)), who
        assert "Preview as PDF" not in text(client.get(f"/agreements/{agreement.id}"))
    assert made == []  # no draft was rendered for anyone


def test_diff_writes_due_dates_for_the_reader_and_the_hash_keeps_iso(app, client, world):
    from babel.dates import format_date

    agreement = started(app, client, world)
    save(client, agreement.id, world)
    save(client, agreement.id, world, change_note="推迟", **{"obligations-0-due_on": day(15)})
    page = text(client.get(f"/agreements/{agreement.id}/diff?from=2&to=3"))
    obligations = page.split('id="diff-obligations"')[1].split("</section>")[0]
    assert day(10) not in obligations and day(15) not in obligations
    # from version 1 (no obligation) the whole line is added: its date reads as the reader writes dates
    added = text(client.get(f"/agreements/{agreement.id}/diff?from=1&to=3"))
    added = added.split('id="diff-obligations"')[1].split("</section>")[0]
    assert format_date(today() + timedelta(days=15), "long", locale="en") in added and day(15) not in added
    with database(app) as session:
        version = session.scalars(select(AgreementVersion).where(AgreementVersion.agreement_id == agreement.id)
                                  .order_by(AgreementVersion.number.desc())).first()
        assert f'"due_on":"{day(15)}"' in drafting.canonical_text(version)
    legend = page.split('id="diff-legend"')[1].split("</p>")[0]
    assert not legend.rstrip().endswith(".")


def test_copies_clause_in_chinese_numerals_and_not_twice(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    assert [drafting.chinese_numeral(n) for n in (1, 3, 4, 10, 11, 20)] == ["一", "三", "四", "十", "十一", "二十"]
    with app.test_request_context():
        from portal.extensions import db

        row = db.session.get(Agreement, agreement.id)
        version = row.versions[-1]
        html = drafting.render_document_html(row, version, preview=True)
        assert 'id="copies-clause"' in html
        # two parties and the committee: three copies, in words in the Chinese document
        with force_locale("zh_CN"):
            assert drafting.number_in_words(3) == "三"
        with force_locale("en"):
            assert drafting.number_in_words(3) == "3"  # English: digits
        clause = html.split('id="copies-clause">')[1].split("</p>")[0]
        assert "3" not in clause and (catalog(app, "Made in %(n)s copies: one for each party and one kept by "
                                                   "the mediation committee.", n="三") == clause)
        for own in ("本协议书一式三份，双方各执一份，调解委员会留存一份。", "一式 3 份", "Made in three copies."):
            version.other_terms = own
            html = drafting.render_document_html(row, version, preview=True)
            assert 'id="copies-clause"' not in html and own in html, own
        db.session.rollback()


def test_mediator_signature_cell_names_the_signer_and_the_time(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    with app.test_request_context():
        from portal.extensions import db

        row = db.session.get(Agreement, agreement.id)
        version = row.versions[-1]
        drawn = AgreementSignature(agreement_id=row.id, role=SignerRole.MEDIATOR, signer_name="李调解",
                                   method=SignatureMethod.ONLINE, mark=SignatureMark.DRAWN,
                                   image_png=b"\x89PNG\r\n\x1a\nfake", document_hash="a" * 64,
                                   signed_at=utcnow())
        html = drafting.render_document_html(row, version, signatures=[drawn], issued=True)
        cell = html.split('class="signatures"')[1].split("</table>")[0]
        mediator_row = [r for r in cell.split("<tr>") if "李调解" in r][0]
        when = mediator_row.split('class="when">')[1].split("</div>")[0]
        assert when.startswith("李调解 · ") and len(when) > len("李调解 · ")  # the name and the time, like a party
        typed = AgreementSignature(agreement_id=row.id, role=SignerRole.MEDIATOR, signer_name="李调解",
                                   method=SignatureMethod.ONLINE, mark=SignatureMark.TYPED, typed_name="李调解",
                                   document_hash="a" * 64, signed_at=utcnow())
        html = drafting.render_document_html(row, version, signatures=[typed], issued=True)
        when = html.split('class="signatures"')[1].split("</table>")[0].split('class="when"')[-1].split("</div>")[0]
        assert "李调解" not in when  # a typed name is printed once
        # signatures, seal and verification kept together on one page
        assert ".tail { page-break-before: avoid" in html  # the seal and QR block stays with the last row
        closing = html.split('class="closing"')[1]
        assert 'class="signatures"' in closing
        tail = closing.split('class="tail"')[1]
        assert 'class="committee"' in tail and 'class="verification"' in tail
        assert catalog(app, "Fingerprint of the signed document (SHA-256)") in html
        preview = drafting.render_document_html(row, version, preview=True)
        assert catalog(app, "Document fingerprint (SHA-256)") in preview
        for other in ("Document hash", "Hash of this draft"):
            assert catalog(app, other) not in html + preview
        db.session.rollback()


def test_names_are_joined_for_the_reader_language(app):
    from portal.text import join_names

    with app.test_request_context():
        with force_locale("zh_CN"):
            assert join_names(["李调解", "周调解", ""]) == "李调解、周调解"
        with force_locale("en"):
            assert join_names(["Li", "Zhou"]) == "Li, Zhou"
        assert app.jinja_env.filters["names"] is join_names


# --- the canonical text and its hash --------------------------------------------------------------------------------

def test_canonical_text_and_hash_are_stable_and_change_with_every_field(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    with database(app) as session:
        version = session.get(Agreement, agreement.id).versions[-1]
        first = drafting.canonical_text(version)
        digest = drafting.document_hash(version)
        assert drafting.canonical_text(version) == first and drafting.document_hash(version) == digest
        assert digest == version.content_hash and len(digest) == 64
        assert first.startswith("portal-mediation-agreement/1\nnumber:")
        assert ID_NUMBER in first and "银行转账" in first
        original = {name: getattr(version, name) for name in ("facts", "disputes", "responsibilities", "other_terms",
                                                              "parties_snapshot")}
        seen = {digest}
        for name in ("facts", "disputes", "responsibilities", "other_terms"):
            setattr(version, name, original[name] + "。")
            seen.add(drafting.document_hash(version))
            setattr(version, name, original[name])
        obligation = version.obligations[0]
        for name, value in (("what", "另一件事"), ("manner", "现金"), ("place", "别处"),
                            ("due_on", obligation.due_on + timedelta(days=1)),
                            ("party_id", world.petitioner_party_id)):
            before = getattr(obligation, name)
            setattr(obligation, name, value)
            seen.add(drafting.document_hash(version))
            setattr(obligation, name, before)
        version.parties_snapshot = original["parties_snapshot"].replace("Y市东区和平路1号", "Y市东区和平路2号")
        seen.add(drafting.document_hash(version))
        version.parties_snapshot = original["parties_snapshot"]
        parent = version.agreement
        number = parent.number
        parent.number = number + "X"
        seen.add(drafting.document_hash(version))
        parent.number = number
        assert drafting.document_hash(version) == digest
        assert len(seen) == 1 + 4 + 5 + 1 + 1
        # A line break inside a text cannot pose as another section.
        version.facts = original["facts"] + "\ndisputes:\"x\""
        assert drafting.canonical_text(version).count("\ndisputes:") == 1
        session.rollback()


# --- the preview PDF ----------------------------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
def test_preview_pdf_has_the_sections_and_the_obligations(app, client, world, tmp_path):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    response = client.get(f"/agreements/{agreement.id}/preview.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    path = tmp_path / "preview.pdf"
    path.write_bytes(response.data)
    pdf_text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                              check=True).stdout
    squeezed = "".join(pdf_text.split())
    assert "人民调解协议书" in squeezed
    assert agreement.number in squeezed
    for expected in ("陈信访", ID_NUMBER, "住建局（协议测试）", "某公司自2026年6月起拖欠陈信访工资三个月。",
                     "欠薪数额及支付期限。", "公司对欠薪负全部责任。",
                     "督促公司支付拖欠工资", "人民币壹万贰仟元",  # one table cell, wrapped over two lines
                     "银行转账", "东区人社局", "双方不再就此事另行主张。", "第1页共"):
        assert expected in squeezed, expected
    assert agreement.verification_code not in squeezed  # no QR, no code in a preview
    # Someone who is neither a party nor a mediator gets the ID number masked.
    as_user(client, world.staff)
    path.write_bytes(client.get(f"/agreements/{agreement.id}/preview.pdf").data)
    staff_text = "".join(subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                                        check=True).stdout.split())
    assert ID_NUMBER not in staff_text and "3201**********1234" in staff_text
    # An earlier version and an unknown one.
    as_user(client, world.mediator)
    assert client.get(f"/agreements/{agreement.id}/preview.pdf?version=1").status_code == 200
    assert client.get(f"/agreements/{agreement.id}/preview.pdf?version=7").status_code == 404


def test_issued_document_has_qr_code_and_hash(app, client, world):
    agreement = started(app, client, world)
    save(client, agreement.id, world)
    with app.test_request_context():
        from portal.extensions import db

        row = db.session.get(Agreement, agreement.id)
        version = row.versions[-1]
        row.document_hash = drafting.document_hash(version)
        row.effective_on = date(2026, 12, 1)
        signature = AgreementSignature(agreement_id=row.id, role=SignerRole.PARTY, party_id=world.petitioner_party_id,
                                       signer_name="陈信访", method=SignatureMethod.IN_PERSON,
                                       mark=SignatureMark.DRAWN, image_png=b"\x89PNG\r\n\x1a\nfake",
                                       document_hash=row.document_hash, signed_at=utcnow())
        html = drafting.render_document_html(row, version, signatures=[signature], seal_image=b"\x89PNGseal",
                                             issued=True)
        preview = drafting.render_document_html(row, version, preview=True)
    assert "data:image/svg+xml" in html and f"/verify/{row.verification_code}" in html
    assert row.verification_code in html and row.document_hash in html
    assert html.count("data:image/png;base64,") == 2  # the drawn signature and the seal
    assert catalog(app, "signed in person") in html and "陈信访" in html
    assert "object-fit: contain" in html  # a drawn signature keeps its proportions
    assert "data:image/svg+xml" not in preview and row.verification_code not in preview


# --- the page's queries ------------------------------------------------------------------------------------------

def test_page_query_count_does_not_grow_with_the_data(app, client, world, count_queries):
    agreement = started(app, client, world)
    save(client, agreement.id, world)

    def measure():
        with count_queries() as counter:
            assert client.get(f"/agreements/{agreement.id}").status_code == 200
        return counter.count

    few = measure()
    rows = {}
    for i in range(2, 6):
        rows.update({f"obligations-{i}-party_id": str(world.petitioner_party_id), f"obligations-{i}-what": f"事项{i}",
                     f"obligations-{i}-manner": "", f"obligations-{i}-place": "", f"obligations-{i}-due_on": day(i)})
    for n in range(3):
        save(client, agreement.id, world, facts=f"事实第{n}稿", change_note=f"第{n}稿", **rows)
        client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": f"意见{n}"})
    as_user(client, world.petitioner)
    client.post(f"/agreements/{agreement.id}/comments", data={"comment-text": "我的意见"})
    as_user(client, world.mediator)
    many = measure()
    assert many == few
