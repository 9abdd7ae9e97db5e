"""Finding cases: the case list's search, filters, sorting and pages, over HTTP, as each role sees it."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from portal.accounts.models import Role
from portal.cases.models import (CaseStatus, Channel, MatterType, Petitioner, Referral, ReferralKind, ReferralRole,
                                 ReferralStatus)
from portal.timeutil import today
from tests.factories import make_case
from tests.helpers import add_department, database, is_login_redirect, sign_in, text

FRAGMENT = {"HX-Request": "true"}


@dataclass(frozen=True)
class CaseRef:
    id: int
    reference: str


def add_case(app, *, status: CaseStatus = CaseStatus.REGISTERED, lead=None, co=(), objected=(), facts=None,
             next_due_on="unchanged", petitioners=(), **kwargs) -> CaseRef:
    """A case through the factory, then moved to the state a test needs (lead and co-handling departments by id)."""
    with database(app) as session:
        case = make_case(**kwargs)
        case.status = status
        if facts is not None:
            case.facts = facts
        if next_due_on != "unchanged":
            case.next_due_on = next_due_on
        for department_id, role, referral_status in (
                [(lead, ReferralRole.LEAD, ReferralStatus.ACCEPTED)] if lead else []) + [
                (d, ReferralRole.CO, ReferralStatus.ACCEPTED) for d in co] + [
                (d, ReferralRole.LEAD, ReferralStatus.OBJECTED) for d in objected]:
            session.add(Referral(case=case, department_id=department_id, kind=ReferralKind.ASSIGN, role=role,
                                 status=referral_status, sent_on=case.received_on))
        if lead:
            case.lead_department_id = lead
        for position, (name, phone) in enumerate(petitioners, 1):
            case.petitioners.append(Petitioner(name=name, phone=phone, id_number="", position=position))
        session.commit()
        return CaseRef(case.id, case.reference)


def listed(response) -> list[str]:
    """References of the rows of the case list, in order."""
    return re.findall(r'<a href="/cases/\d+">(YX-\d{4}-\d{6})</a>', response.get_data(as_text=True))


@pytest.fixture
def staff(app, client):
    return sign_in(app, client, Role.STAFF, locale="en")


# --- page and fragment ----------------------------------------------------------------------

def test_full_page_and_htmx_fragment(app, client, staff):
    case = add_case(app, subject="拖欠工资三个月")
    page = client.get("/cases")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "<html" in body and 'id="case-rows"' in body
    assert 'method="get"' in body and 'hx-push-url="true"' in body  # works without JS, bookmarkable with it
    assert listed(page) == [case.reference]

    fragment = client.get("/cases?q=工资", headers=FRAGMENT)
    assert fragment.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    assert "<form" not in fragment.get_data(as_text=True)
    assert listed(fragment) == [case.reference]
    assert "HX-Request" in fragment.headers["Vary"]
    # The address htmx puts in the location bar holds the filter without empty fields or bad values.
    pushed = client.get("/cases?q=工资&status=&channel=pigeon&department=&sort=due&page=1", headers=FRAGMENT)
    assert pushed.headers["HX-Push-Url"] == "/cases?q=%E5%B7%A5%E8%B5%84&sort=due"

    # A boosted navigation or a history restore wants the whole page.
    for header in ({"HX-Request": "true", "HX-Boosted": "true"},
                   {"HX-Request": "true", "HX-History-Restore-Request": "true"}):
        assert "<html" in client.get("/cases?q=工资", headers=header).get_data(as_text=True)


def test_row_shows_first_petitioner_masked_phone_status_lead_and_due_date(app, client, staff):
    housing = add_department(app, name="住建局列表测试")
    due = today() + timedelta(days=10)
    add_case(app, name="王大明", phone="13912345678", subject="房屋漏水", status=CaseStatus.IN_PROGRESS,
             lead=housing.id, next_due_on=due, petitioners=[("李二", "13700000000")])
    page = text(client.get("/cases"))
    assert "王大明" in page and "+1 more" in page
    assert "139****5678" in page
    assert "13912345678" not in page and "13700000000" not in page  # a phone is never shown whole in the list
    assert "In handling" in page and "住建局列表测试" in page and due.isoformat() in page


def test_near_due_and_overdue_rows_are_highlighted(app, client, staff):
    add_case(app, subject="快到期", next_due_on=today() + timedelta(days=1))
    add_case(app, subject="已超期", next_due_on=today() - timedelta(days=2))
    add_case(app, subject="还早", next_due_on=today() + timedelta(days=30))
    body = client.get("/cases?sort=due").get_data(as_text=True)
    rows = re.findall(r"<tr( class=\"due-(\w+)\")?>\s*<td><a", body)
    assert [state for _, state in rows] == ["overdue", "near", ""]
    assert "Overdue" in body and "Due soon" in body


# --- search ----------------------------------------------------------------------------------

def test_search_by_reference_name_subject_and_chinese_substring_of_facts(app, client, staff):
    wages = add_case(app, name="张三", subject="拖欠工资", facts="某建筑公司自六月起拖欠农民工工资共计三万元。")
    noise = add_case(app, name="李四", subject="噪音扰民", facts="楼下饭店夜间营业，油烟和噪音严重影响休息。")
    land = add_case(app, name="王五", subject="征地补偿", facts="村集体土地被征收，补偿款至今未发放到户。")

    assert listed(client.get(f"/cases?q={wages.reference}")) == [wages.reference]
    assert listed(client.get(f"/cases?q={wages.reference.lower()}")) == [wages.reference]
    assert listed(client.get(f"/cases?q={noise.reference[-4:]}")) == [noise.reference]
    assert listed(client.get("/cases?q=王五")) == [land.reference]
    assert listed(client.get("/cases?q=噪音")) == [noise.reference]
    assert listed(client.get("/cases?q=农民工")) == [wages.reference]  # only in the facts
    assert listed(client.get("/cases?q=补偿款")) == [land.reference]
    assert listed(client.get("/cases?q=油烟 饭店")) == [noise.reference]  # every word must match
    assert listed(client.get("/cases?q=油烟 征收")) == []
    assert set(listed(client.get("/cases?q=%20"))) == {wages.reference, noise.reference, land.reference}


def test_search_ignores_case_of_latin_letters(app, client, staff):
    case = add_case(app, name="Maria Lopez", subject="ABC贸易公司拖欠货款", facts="合同纠纷。")
    assert listed(client.get("/cases?q=abc贸易")) == [case.reference]
    assert listed(client.get("/cases?q=MARIA")) == [case.reference]


def test_search_treats_like_wildcards_as_text(app, client, staff):
    add_case(app, subject="工资", facts="普通事实")
    percent = add_case(app, subject="利率100%的借款", facts="民间借贷")
    assert listed(client.get("/cases?q=%25")) == [percent.reference]
    assert listed(client.get("/cases?q=_")) == []


# --- filters ---------------------------------------------------------------------------------

def test_filters_status_channel_and_matter_type(app, client, staff):
    registered = add_case(app, status=CaseStatus.REGISTERED, channel=Channel.LETTER, matter_type=MatterType.APPEAL)
    handling = add_case(app, status=CaseStatus.IN_PROGRESS, channel=Channel.VISIT, matter_type=MatterType.REPORT)
    concluded = add_case(app, status=CaseStatus.CONCLUDED, channel=Channel.VISIT,
                         matter_type=MatterType.SUGGESTION)

    assert listed(client.get("/cases?status=in_progress")) == [handling.reference]
    assert set(listed(client.get("/cases?status=open"))) == {registered.reference, handling.reference}
    assert set(listed(client.get("/cases?status=registered&status=concluded"))) == {registered.reference,
                                                                                    concluded.reference}
    assert set(listed(client.get("/cases?channel=visit"))) == {handling.reference, concluded.reference}
    assert listed(client.get("/cases?matter_type=suggestion")) == [concluded.reference]
    assert listed(client.get("/cases?channel=visit&matter_type=report&status=open")) == [handling.reference]


def test_department_filter_finds_lead_and_co_handling_but_not_returned_cases(app, client, staff):
    housing = add_department(app, name="住建局筛选")
    labour = add_department(app, name="人社局筛选")
    led = add_case(app, lead=housing.id)
    co = add_case(app, lead=labour.id, co=[housing.id])
    returned = add_case(app, objected=[housing.id])
    assert set(listed(client.get(f"/cases?department={housing.id}"))) == {led.reference, co.reference}
    assert listed(client.get(f"/cases?department={labour.id}")) == [co.reference]
    assert returned.reference not in listed(client.get(f"/cases?department={housing.id}"))
    page = text(client.get("/cases"))
    assert f'<option value="{housing.id}" >住建局筛选</option>' in page


def test_due_within_and_overdue(app, client, staff):
    now = today()
    overdue = add_case(app, next_due_on=now - timedelta(days=1))
    due_today = add_case(app, next_due_on=now)
    in_five = add_case(app, next_due_on=now + timedelta(days=5))
    in_twenty = add_case(app, next_due_on=now + timedelta(days=20))
    no_clock = add_case(app, next_due_on=None)

    assert set(listed(client.get("/cases?due_within=5"))) == {due_today.reference, in_five.reference}
    assert listed(client.get("/cases?due_within=0")) == [due_today.reference]
    assert listed(client.get("/cases?overdue=1")) == [overdue.reference]
    assert set(listed(client.get("/cases?overdue=1&due_within=5"))) == {overdue.reference, due_today.reference,
                                                                        in_five.reference}
    everything = listed(client.get("/cases?sort=due"))
    assert everything == [overdue.reference, due_today.reference, in_five.reference, in_twenty.reference,
                          no_clock.reference]  # cases without a running clock last


# --- sorting and pages -------------------------------------------------------------------------

def test_sorting(app, client, staff):
    now = today()
    old = add_case(app, received_on=now - timedelta(days=40), next_due_on=now + timedelta(days=9))
    new = add_case(app, received_on=now - timedelta(days=1), next_due_on=now + timedelta(days=2))
    middle = add_case(app, received_on=now - timedelta(days=20), next_due_on=None)

    assert listed(client.get("/cases")) == [new.reference, middle.reference, old.reference]
    assert listed(client.get("/cases?sort=received")) == [old.reference, middle.reference, new.reference]
    assert listed(client.get("/cases?sort=due")) == [new.reference, old.reference, middle.reference]
    assert listed(client.get("/cases?sort=-due")) == [old.reference, new.reference, middle.reference]
    by_reference = sorted([old.reference, new.reference, middle.reference])
    assert listed(client.get("/cases?sort=reference")) == by_reference
    assert listed(client.get("/cases?sort=-reference")) == by_reference[::-1]


def test_pages_keep_the_filter_and_a_page_past_the_end_shows_the_last(app, client, staff):
    refs = [add_case(app, subject=f"工资案件{i}", received_on=today() - timedelta(days=i)).reference
            for i in range(55)]
    add_case(app, subject="其他事项", facts="与前述无关。")
    first = client.get("/cases?q=工资&sort=received")
    assert len(listed(first)) == 50
    assert listed(first) == refs[::-1][:50]
    body = text(first)
    assert "55 cases" in body and "Page 1 of 2" in body
    next_link = re.search(r'<a href="([^"]+)" rel="next">', body).group(1)
    assert "q=%E5%B7%A5%E8%B5%84" in next_link and "sort=received" in next_link and "page=2" in next_link
    second = client.get(next_link)
    assert listed(second) == refs[::-1][50:]
    assert listed(client.get("/cases?q=工资&sort=received&page=99")) == refs[::-1][50:]
    assert listed(client.get("/cases?q=工资&sort=received&page=2", headers=FRAGMENT)) == refs[::-1][50:]


# --- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "page=abc", "page=0", "page=-3", "page=99999999999999999999", "page=1.5",
    "due_within=-5", "due_within=abc", "due_within=100000", "due_within=99999999999999999999",
    "status=unknown", "status=", "channel=pigeon", "matter_type=x", "department=abc", "department=-1",
    "department=99999999999999", "department=424242", "sort=drop table", "sort=", "overdue=maybe",
    "q=" + "长" * 500, "q=%00", "q=%25%25%5C", "q=\\", "status=open&status=open&status=nonsense",
])
def test_bad_query_parameters_never_fail(app, client, staff, query):
    add_case(app)
    for headers in ({}, FRAGMENT):
        response = client.get(f"/cases?{query}", headers=headers)
        assert response.status_code == 200, query


def test_bad_values_are_explained(app, client, staff):
    add_case(app)
    body = text(client.get("/cases?status=unknown&due_within=-5&page=abc&channel=pigeon&sort=zzz"))
    assert 'Unknown status "unknown" ignored.' in body
    assert '"Due within" takes a whole number of days' in body
    assert 'Unknown channel "pigeon" ignored.' in body
    assert "Unknown page number" in body and "Unknown sort order ignored." in body
    assert len(listed(client.get("/cases?status=unknown"))) == 1  # the bad value is dropped, not applied


# --- who sees what -----------------------------------------------------------------------------

def test_department_rep_sees_only_their_departments_cases(app, client):
    housing = add_department(app, name="住建局可见")
    labour = add_department(app, name="人社局可见")
    theirs = add_case(app, lead=housing.id, subject="住建局主办")
    co = add_case(app, lead=labour.id, co=[housing.id], subject="住建局协办")
    other = add_case(app, lead=labour.id, subject="人社局主办")
    returned = add_case(app, objected=[housing.id], subject="已退回")
    unrouted = add_case(app, subject="未分流")
    sign_in(app, client, Role.DEPARTMENT_REP, department=database_department(app, housing.id), locale="en")

    assert set(listed(client.get("/cases"))) == {theirs.reference, co.reference}
    for ref in (other.reference, returned.reference, unrouted.reference):
        assert listed(client.get(f"/cases?q={ref}")) == []
        assert listed(client.get(f"/cases?q={ref}", headers=FRAGMENT)) == []
    assert listed(client.get(f"/cases?department={labour.id}")) == [co.reference]
    assert "Export this view" not in text(client.get("/cases"))  # exports are for the bureau and leaders


def database_department(app, department_id):
    from portal.accounts.models import Department

    with database(app) as session:
        return session.get(Department, department_id)


@pytest.mark.parametrize("role", [Role.STAFF, Role.LEADER])
def test_bureau_wide_roles_see_every_case(app, client, role):
    refs = {add_case(app).reference for _ in range(3)}
    sign_in(app, client, role)
    assert set(listed(client.get("/cases"))) == refs


def test_petitioner_and_anonymous_cannot_use_the_case_list(app, client):
    add_case(app)
    assert is_login_redirect(client.get("/cases"))
    sign_in(app, client, Role.PETITIONER)
    assert client.get("/cases").status_code == 403
    assert client.get("/cases", headers=FRAGMENT).status_code == 403


# --- the petitioner's own list --------------------------------------------------------------------

def test_petitioner_sees_only_own_cases_and_a_summary_at_home(app, client):
    petitioner = sign_in(app, client, Role.PETITIONER, locale="en")
    with database(app) as session:
        from portal.accounts.models import User

        user = session.get(User, petitioner.id)
        mine_open = make_case(petitioner_user=user, subject="我的工资问题")
        mine_done = make_case(petitioner_user=user, subject="我的噪音问题")
        mine_done.status = CaseStatus.CONCLUDED
        session.commit()
        mine = {mine_open.reference, mine_done.reference}
    stranger = add_case(app, subject="别人的事项")

    page = client.get("/my/cases")
    assert page.status_code == 200
    assert set(listed(page)) == mine and stranger.reference not in text(page)
    assert listed(client.get("/my/cases?status=concluded")) == [mine_done.reference]
    assert listed(client.get("/my/cases?q=别人的事项&department=1")) != [stranger.reference]
    assert client.get("/my/cases?status=bogus&page=abc").status_code == 200

    home = text(client.get("/"))
    assert "/my/cases" in home
    assert re.search(r"<dt>Registered</dt><dd><a href=\"/my/cases\?status=registered\">1</a>", home)
    assert re.search(r"<dt>Concluded</dt><dd><a href=\"/my/cases\?status=concluded\">1</a>", home)


def test_petitioner_without_cases(app, client):
    sign_in(app, client, Role.PETITIONER, locale="en")
    assert "You have no petitions yet." in text(client.get("/my/cases"))
    assert "You have no petitions yet." in text(client.get("/"))


def test_my_cases_sends_bureau_users_to_the_case_list(app, client):
    sign_in(app, client, Role.STAFF)
    response = client.get("/my/cases")
    assert response.status_code == 302 and response.headers["Location"].endswith("/cases")


def test_ping_is_public_and_plain(app, client):
    response = client.get("/ping")
    assert response.status_code == 200 and response.get_data(as_text=True) == "ok"
