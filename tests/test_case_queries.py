"""The case list, its search fragment, the petitioner's own list and the case page each run a fixed number of
SQL queries, however many rows, petitioners and events there are (no query per row)."""
from __future__ import annotations

import re

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from portal.accounts.models import Department, Role, User
from portal.cases.clocks import pause_clock, resume_clock, start_clock
from portal.cases.models import (Attachment, CaseStatus, Category, Channel, ClockKind, MatterType, Petitioner, Referral,
                                 ReferralKind, ReferralRole, ReferralStatus)
from portal.cases.services import add_event
from portal.extensions import db
from portal.timeutil import today
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_department, make_user
from tests.helpers import database

FRAGMENT = {"HX-Request": "true"}
# Every filter at once; the cases built below all match it.
ALL_FILTERS = ("q=拖欠&status=open&channel=letter&matter_type=appeal&department={dept}&due_within=30&overdue=1"
               "&sort=due")
EVENT_KINDS = [
    ("registered", {"channel": "letter"}, False),
    ("referred", {"kind": "assign", "department": "住建局", "role": "lead"}, False),
    ("accepted", {"department": "住建局"}, False),
    ("progress", {}, False),
    ("note", {}, True),
    ("paused", {"clock": "handling"}, False),
    ("resumed", {"clock": "handling"}, False),
    ("extension_requested", {"days": 30}, True),
]


@dataclass
class World:
    lead: int  # department ids
    co: int
    staff: int  # user ids
    rep: int
    owner: int
    logins: dict


@pytest.fixture
def world(app) -> World:
    with database(app):
        db.session.add(Category(name="劳动保障查询计数"))
        lead = make_department("住建局查询计数")
        co = make_department("人社局查询计数")
        users = {"staff": make_user(Role.STAFF), "rep": make_user(Role.DEPARTMENT_REP, lead),
                 "owner": make_user(Role.PETITIONER)}
        return World(lead.id, co.id, users["staff"].id, users["rep"].id, users["owner"].id,
                     {who: user.email for who, user in users.items()})


def build_case(world: World, size: int, *, owner: bool = False, received_on: date | None = None) -> int:
    """A case in handling at `lead` with `size` petitioners and `size` timeline events, and, growing with size,
    co-handling referrals, clocks with pauses and attachments."""
    session = db.session
    lead = session.get(Department, world.lead)
    co = session.get(Department, world.co)
    staff = session.get(User, world.staff)
    case = make_case(petitioner_user=session.get(User, world.owner) if owner else None,
                     received_on=received_on or today() - timedelta(days=20), channel=Channel.LETTER,
                     matter_type=MatterType.APPEAL, subject="拖欠工资")
    case.status = CaseStatus.IN_PROGRESS
    case.lead_department = lead
    case.category = session.scalar(select(Category).where(Category.name == "劳动保障查询计数"))
    session.add(Referral(case=case, department=lead, kind=ReferralKind.ASSIGN, role=ReferralRole.LEAD,
                         status=ReferralStatus.ACCEPTED, sent_on=case.received_on, accepted_on=case.received_on))
    for n in range(1, size):
        session.add(Petitioner(case=case, position=n, name=f"信访人{n}", id_number=f"32010219900101{n:04d}",
                               phone=f"1390000{n:04d}", user_id=None))
    for n in range(min(size, 3) - 1):
        session.add(Referral(case=case, department=co, kind=ReferralKind.TRANSFER, role=ReferralRole.CO,
                             status=ReferralStatus.OBJECTED if n else ReferralStatus.ACCEPTED,
                             sent_on=case.received_on))
    for n in range(min(size, 3)):
        clock = start_clock(case, ClockKind.HANDLING, case.received_on + timedelta(days=n))
        session.flush()
        if size > 1:
            pause_clock(clock, "等待补充材料", staff, on=case.received_on + timedelta(days=n + 1))
            resume_clock(clock, staff, on=case.received_on + timedelta(days=n + 3))
        session.add(Attachment(case=case, stored_name=f"{case.id}-{n}-{size}", original_name=f"材料{n}.pdf",
                               content_type="application/pdf", size=10, sha256="0" * 64, internal=n == 1,
                               uploaded_by_id=staff.id))
    for n in range(size - 1):
        kind, data, internal = EVENT_KINDS[n % len(EVENT_KINDS)]
        add_event(case, kind, actor=staff, department=lead if n % 2 else co, data=data, internal=internal,
                  text=f"第{n}条记录")
    case.next_due_on = today() + timedelta(days=5)
    session.commit()
    return case.id


def build_cases(app, world: World, count: int, **kwargs) -> list[int]:
    with database(app):
        return [build_case(world, 2, received_on=today() - timedelta(days=20 + n), **kwargs) for n in range(count)]


def queries(client, count_queries, path: str, headers=None) -> int:
    client.get(path, headers=headers)  # warm up: first-request work (translations, caches) is not the point
    with count_queries() as counter:
        response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code)
    return counter.count


def rows(client, path: str, headers=None) -> int:
    return len(re.findall(r'<a href="/cases/\d+">', client.get(path, headers=headers).get_data(as_text=True)))


def sign_in_as(client, world: World, who: str):
    assert login(client, world.logins[who], PASSWORD).status_code == 303


# --- the case list ----------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["staff", "rep"])
@pytest.mark.parametrize("variant", ["plain", "filters", "fragment", "filters-fragment", "search-fragment"])
def test_case_list_query_count_does_not_grow_with_rows(app, client, count_queries, world, who, variant):
    path = {"plain": "/cases", "filters": "/cases?" + ALL_FILTERS.format(dept=world.lead),
            "fragment": "/cases", "filters-fragment": "/cases?" + ALL_FILTERS.format(dept=world.lead),
            "search-fragment": "/cases?q=工资"}[variant]
    headers = FRAGMENT if variant.endswith("fragment") else None
    sign_in_as(client, world, who)

    build_cases(app, world, 3)
    few_rows = rows(client, path, headers)
    few = queries(client, count_queries, path, headers)
    build_cases(app, world, 57)
    many_rows = rows(client, path, headers)
    many = queries(client, count_queries, path, headers)

    assert (few_rows, many_rows) == (3, 50)
    assert few == many, f"{variant} as {who}: {few} queries with 3 cases, {many} with 60"
    assert many <= 8, f"{variant} as {who}: {many} queries"


def test_petitioners_own_list_query_count_does_not_grow(app, client, count_queries, world):
    sign_in_as(client, world, "owner")
    build_cases(app, world, 1, owner=True)
    few = queries(client, count_queries, "/my/cases")
    build_cases(app, world, 24, owner=True)
    assert rows(client, "/my/cases") == 20
    many = queries(client, count_queries, "/my/cases")
    assert few == many, f"{few} queries with 1 case, {many} with 25"
    assert queries(client, count_queries, "/") == queries(client, count_queries, "/")  # the home page summary


# --- the case page ------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["staff", "rep", "owner"])
def test_case_page_query_count_does_not_grow_with_events_and_petitioners(app, client, count_queries, world, who):
    with database(app):
        small = build_case(world, 1, owner=True)
        large = build_case(world, 20, owner=True)
    sign_in_as(client, world, who)
    few = queries(client, count_queries, f"/cases/{small}")
    many = queries(client, count_queries, f"/cases/{large}")
    assert few == many, f"case page as {who}: {few} queries with 1 event and petitioner, {many} with 20"


def test_the_large_case_really_has_what_the_page_shows(app, client, world):
    with database(app) as session:
        case_id = build_case(world, 20, owner=True)
        from portal.cases.models import Case

        case = session.get(Case, case_id)
        assert (len(case.petitioners), len(case.events), len(case.clocks), len(case.referrals)) == (20, 20, 4, 3)
    sign_in_as(client, world, "staff")
    body = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert all(f"第{n}条记录" in body for n in range(19))  # every event is on the page
