"""Joint-conference workspaces: opening one, members, shared documents with versions, the message thread."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from portal.accounts.models import Department, DepartmentKind, Role
from portal.cases.models import Case
from portal.conferences.models import (
    Conference,
    ConferenceCase,
    ConferenceDocument,
    ConferenceMember,
    ConferenceMessage,
    DocumentVersion,
    MemberKind,
)
from tests.conftest import login
from tests.factories import PASSWORD, make_case, make_user
from tests.helpers import (
    UserRef,
    add_department,
    add_user,
    audit_actions,
    audit_events,
    catalog,
    count,
    database,
    field_error,
    flashes,
    form_errors,
    location,
    text,
)

PDF_BYTES = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF_V2 = b"%PDF-1.4\n% second version\n%%EOF\n"
HX = {"HX-Request": "true"}


@dataclass
class World:
    bureau: object
    departments: list
    outsider_department: object
    staff: object
    leader: object
    reps: list
    outsider: object
    petitioner: object
    case_id: int
    other_case_id: int


@pytest.fixture
def world(app) -> World:
    bureau = add_department(app, name="Y市信访局（测试）", kind=DepartmentKind.PETITION_BUREAU)
    departments = [add_department(app, name=name) for name in ("人社局（测试）", "住建局（测试）", "自然资源局（测试）")]
    outsider_department = add_department(app, name="市场监管局（测试）")
    with database(app) as session:
        def rep(role, department_id):
            user = make_user(role, department=session.get(Department, department_id))
            return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)

        staff = rep(Role.STAFF, bureau.id)
        reps = [rep(Role.DEPARTMENT_REP, d.id) for d in departments]
        outsider = rep(Role.DEPARTMENT_REP, outsider_department.id)
    leader = add_user(app, Role.LEADER, name="张副市长")
    petitioner = add_user(app, Role.PETITIONER)
    with database(app) as session:
        case = make_case(subject="宅基地确权登记久拖未办")
        case.complex, case.complex_reason = True, "涉及多个部门"
        other = make_case(subject="拖欠工资三个月")
        session.commit()
        case_id, other_id = case.id, other.id
    return World(bureau, departments, outsider_department, staff, leader, reps, outsider, petitioner, case_id,
                 other_id)


def as_user(client, user):
    client.post("/logout")
    response = login(client, user.login, PASSWORD)
    assert response.status_code == 303


def open_form(world: World, **changes) -> dict:
    data = {"open-title": "宅基地确权联席会议", "open-purpose": "协调确权登记", "open-case_ids": [str(world.case_id)],
            "open-references": "", "open-convener_id": str(world.leader.id),
            "open-department_ids": [str(d.id) for d in world.departments]}
    data.update(changes)
    return data


def open_workspace(client, world: World, **changes) -> int:
    as_user(client, world.staff)
    response = client.post("/conferences/new", data=open_form(world, **changes))
    assert response.status_code == 303, text(response)
    return int(re.search(r"/conferences/(\d+)$", location(response)).group(1))


# --- opening ---------------------------------------------------------------------------------------------------

def test_staff_open_a_workspace_for_a_complex_case_from_its_page(app, client, world):
    as_user(client, world.staff)
    page = text(client.get(f"/cases/{world.case_id}"))
    assert f"/conferences/new?case={world.case_id}" in page
    form = text(client.get(f"/conferences/new?case={world.case_id}"))
    assert "宅基地确权登记久拖未办" in form and "张副市长" in form
    # The complex case is offered (and preselected); the ordinary case is not listed among the choices.
    assert re.search(rf'value="{world.case_id}"[^>]*checked|checked[^>]*value="{world.case_id}"', form)
    assert not re.search(rf'name="open-case_ids" type="checkbox" value="{world.other_case_id}"', form)

    conference_id = open_workspace(client, world)
    with database(app) as session:
        conference = session.get(Conference, conference_id)
        assert conference.title == "宅基地确权联席会议"
        assert conference.convener_id == world.leader.id
        assert conference.office_department_id == world.bureau.id
        assert [link.case_id for link in conference.case_links] == [world.case_id]
        assert sorted(m.department_id for m in conference.members) == sorted(d.id for d in world.departments)
        assert {m.kind for m in conference.members} == {MemberKind.MEMBER}
    assert "conference.opened" in audit_actions(app)
    page = text(client.get(f"/conferences/{conference_id}"))
    assert "宅基地确权联席会议" in page and "人社局（测试）" in page and "张副市长" in page
    # The case page links to its workspace.
    assert f"/conferences/{conference_id}" in text(client.get(f"/cases/{world.case_id}"))


def test_related_cases_can_be_named_by_reference(app, client, world):
    with database(app) as session:
        reference = session.get(Case, world.other_case_id).reference
    conference_id = open_workspace(client, world, **{"open-references": reference.lower()})
    with database(app) as session:
        assert sorted(session.scalars(select(ConferenceCase.case_id).where(
            ConferenceCase.conference_id == conference_id))) == sorted([world.case_id, world.other_case_id])


@pytest.mark.parametrize("changes, field, message", [
    ({"open-title": ""}, "open-title", "This field is required."),
    ({"open-case_ids": []}, "open-case_ids", "Choose at least one case."),
    ({"open-case_ids": ["x"]}, "open-case_ids", "Choose among the listed options."),
    ({"open-references": "YX-1999-999999"}, "open-references", "No case has the reference %(refs)s."),
    ({"open-convener_id": ""}, "open-convener_id", "This field is required."),
    ({"open-convener_id": "abc"}, "open-convener_id", "Choose a leader as the convener."),
    ({"open-department_ids": []}, "open-department_ids", "Choose at least one member department."),
    ({"open-department_ids": ["999999"]}, "open-department_ids", "Choose among the listed options."),
])
def test_bad_input_is_refused_and_changes_nothing(app, client, world, changes, field, message):
    as_user(client, world.staff)
    response = client.post("/conferences/new", data=open_form(world, **changes))
    assert response.status_code == 200
    assert field_error(response, field) == catalog(app, message, **({"refs": "YX-1999-999999"} if "%" in message else {}))
    assert count(app, Conference) == 0


def test_the_convener_must_be_a_leader(app, client, world):
    as_user(client, world.staff)
    response = client.post("/conferences/new", data=open_form(world, **{"open-convener_id": str(world.staff.id)}))
    assert field_error(response, "open-convener_id") == catalog(app, "Choose a leader as the convener.")
    assert count(app, Conference) == 0


def test_staff_outside_the_bureau_cannot_be_the_office(app, client, world):
    elsewhere = add_user(app, Role.STAFF)
    as_user(client, elsewhere)
    response = client.post("/conferences/new", data=open_form(world))
    assert response.status_code == 200 and form_errors(response) == catalog(app, "Your account belongs to no petition bureau department, so it cannot be the office of a joint conference. Ask an administrator to set your department.")
    assert count(app, Conference) == 0


def test_only_staff_open_workspaces(app, client, world):
    for user in (world.reps[0], world.leader, world.petitioner):
        as_user(client, user)
        assert client.get("/conferences/new").status_code == 403
        assert client.post("/conferences/new", data=open_form(world)).status_code == 403
    assert count(app, Conference) == 0


# --- the list and access -----------------------------------------------------------------------------------------

def test_the_list_shows_only_the_workspaces_one_takes_part_in(app, client, world):
    conference_id = open_workspace(client, world)
    assert "宅基地确权联席会议" in text(client.get("/conferences"))
    for user in (world.reps[0], world.leader):
        as_user(client, user)
        page = text(client.get("/conferences"))
        assert f"/conferences/{conference_id}" in page and catalog(app, "Joint conferences") in page
        assert client.get(f"/conferences/{conference_id}").status_code == 200
    as_user(client, world.outsider)
    page = text(client.get("/conferences"))
    assert f"/conferences/{conference_id}\"" not in page
    assert client.get(f"/conferences/{conference_id}").status_code == 403
    other_leader = add_user(app, Role.LEADER)
    as_user(client, other_leader)
    assert client.get(f"/conferences/{conference_id}").status_code == 403
    as_user(client, world.petitioner)
    assert client.get("/conferences").status_code == 403
    assert client.get("/conferences/999999").status_code == 403


def test_missing_workspace_is_404(client, world):
    as_user(client, world.staff)
    assert client.get("/conferences/999999").status_code == 404


# --- members ---------------------------------------------------------------------------------------------------

def test_invite_a_guest_then_a_department_leaves_and_its_history_stays(app, client, world):
    conference_id = open_workspace(client, world)
    response = client.post(f"/conferences/{conference_id}/members",
                           data={"invite-department_id": str(world.outsider_department.id), "invite-kind": "guest"})
    assert response.status_code == 303
    as_user(client, world.outsider)
    assert client.get(f"/conferences/{conference_id}").status_code == 200  # a guest's representative takes part

    as_user(client, world.staff)
    with database(app) as session:
        member = session.scalar(select(ConferenceMember).where(
            ConferenceMember.conference_id == conference_id,
            ConferenceMember.department_id == world.outsider_department.id))
        assert member.kind == MemberKind.GUEST
        member_id = member.id
    assert client.post(f"/conferences/{conference_id}/members/{member_id}/leave").status_code == 303
    page = text(client.get(f"/conferences/{conference_id}"))
    assert catalog(app, "Left") in page and "市场监管局（测试）" in page
    as_user(client, world.outsider)
    assert client.get(f"/conferences/{conference_id}").status_code == 403
    # Invited again: the same row, present again.
    as_user(client, world.staff)
    assert client.post(f"/conferences/{conference_id}/members",
                       data={"invite-department_id": str(world.outsider_department.id),
                             "invite-kind": "member"}).status_code == 303
    with database(app) as session:
        member = session.get(ConferenceMember, member_id)
        assert member.left_at is None and member.kind == MemberKind.MEMBER
    actions = audit_actions(app)
    assert actions.count("conference.member_invited") == 2 and "conference.member_left" in actions


def test_inviting_a_present_department_or_nonsense_is_refused(app, client, world):
    conference_id = open_workspace(client, world)
    response = client.post(f"/conferences/{conference_id}/members",
                           data={"invite-department_id": str(world.departments[0].id), "invite-kind": "member"})
    assert response.status_code == 200
    assert field_error(response, "invite-department_id") == catalog(app, "%(dept)s already takes part.", dept="人社局（测试）")
    for data in ({"invite-department_id": "x", "invite-kind": "member"},
                 {"invite-department_id": str(world.outsider_department.id), "invite-kind": "boss"},
                 {"invite-department_id": str(world.bureau.id), "invite-kind": "member"},
                 {"invite-department_id": "99999999999999", "invite-kind": "member"}, {}):
        assert client.post(f"/conferences/{conference_id}/members", data=data).status_code == 200
    assert count(app, ConferenceMember, ConferenceMember.conference_id == conference_id) == 3


def test_only_the_office_manages_members(app, client, world):
    conference_id = open_workspace(client, world)
    for user in (world.reps[0], world.leader):
        as_user(client, user)
        assert client.post(f"/conferences/{conference_id}/members",
                           data={"invite-department_id": str(world.outsider_department.id),
                                 "invite-kind": "member"}).status_code == 403
        assert client.post(f"/conferences/{conference_id}/close").status_code == 403
    assert count(app, ConferenceMember, ConferenceMember.conference_id == conference_id) == 3


def test_a_closed_workspace_is_read_only(app, client, world):
    conference_id = open_workspace(client, world)
    client.post(f"/conferences/{conference_id}/messages", data={"message-body": "开会前请准备材料"})
    assert client.post(f"/conferences/{conference_id}/close").status_code == 303
    page = text(client.get(f"/conferences/{conference_id}"))
    assert catalog(app, "This workspace is closed; it can be read but no longer changed.") in page and "开会前请准备材料" in page
    assert 'id="message-form"' not in page and 'id="invite-form"' not in page
    response = client.post(f"/conferences/{conference_id}/messages", data={"message-body": "再说一句"},
                           follow_redirects=True)
    assert ("error", catalog(app, "This workspace is closed; it can be read but no longer changed.")) in flashes(response)
    assert count(app, ConferenceMessage) == 1
    assert client.post(f"/conferences/{conference_id}/close").status_code == 303  # refused, flashed
    assert audit_actions(app).count("conference.closed") == 1


# --- documents -----------------------------------------------------------------------------------------------------

def upload(client, conference_id, data=PDF_BYTES, name="会议材料.pdf", title="确权登记材料", note=""):
    return client.post(f"/conferences/{conference_id}/documents",
                       data={"document-title": title, "document-note": note,
                             "document-file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_documents_with_versions_and_audited_downloads(app, client, world):
    conference_id = open_workspace(client, world)
    as_user(client, world.reps[0])
    assert upload(client, conference_id).status_code == 303
    with database(app) as session:
        document = session.scalar(select(ConferenceDocument))
        document_id = document.id
    response = client.post(f"/conferences/{conference_id}/documents/{document_id}/versions",
                           data={"version-note": "补充了测绘数据", "version-file": (io.BytesIO(PDF_V2), "材料v2.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 303
    page = text(client.get(f"/conferences/{conference_id}/documents/{document_id}"))
    assert "补充了测绘数据" in page and "材料v2.pdf" in page and "会议材料.pdf" in page
    with database(app) as session:
        versions = list(session.scalars(select(DocumentVersion).order_by(DocumentVersion.number)))
        assert [v.number for v in versions] == [1, 2]
        ids = [v.id for v in versions]
    assert "材料v2.pdf" in text(client.get(f"/conferences/{conference_id}"))  # the newest version on the page

    as_user(client, world.reps[1])
    first = client.get(f"/conferences/{conference_id}/documents/{document_id}/versions/{ids[0]}")
    assert first.status_code == 200 and first.data == PDF_BYTES
    assert first.headers["Content-Disposition"].startswith("attachment")
    second = client.get(f"/conferences/{conference_id}/documents/{document_id}/versions/{ids[1]}")
    assert second.data == PDF_V2
    opened = audit_events(app, "conference.document_opened")
    assert len(opened) == 2 and opened[0].actor_id == world.reps[1].id
    assert f'"version": {ids[0]}' in opened[0].details

    as_user(client, world.outsider)
    assert client.get(f"/conferences/{conference_id}/documents/{document_id}/versions/{ids[0]}").status_code == 403
    assert len(audit_events(app, "conference.document_opened")) == 2


def test_a_version_of_another_workspace_is_not_found(app, client, world):
    first = open_workspace(client, world)
    second = open_workspace(client, world, **{"open-title": "另一个"})
    assert upload(client, first).status_code == 303
    with database(app) as session:
        version = session.scalar(select(DocumentVersion))
        document_id, version_id = version.document_id, version.id
    assert client.get(f"/conferences/{second}/documents/{document_id}/versions/{version_id}").status_code == 404
    assert client.get(f"/conferences/{second}/documents/{document_id}").status_code == 404
    assert client.get(f"/conferences/{first}/documents/{document_id}/versions/999999").status_code == 404


def test_bad_uploads_are_refused_and_store_nothing(app, client, world):
    conference_id = open_workspace(client, world)
    response = upload(client, conference_id, data=b"MZ\x90\x00 not a pdf")
    assert response.status_code == 200 and field_error(response, "document-file").startswith("会议材料.pdf ")
    response = client.post(f"/conferences/{conference_id}/documents", data={"document-title": "无文件"},
                           content_type="multipart/form-data")
    assert field_error(response, "document-file") == catalog(app, "Choose a file.")
    response = upload(client, conference_id, title="")
    assert field_error(response, "document-title") == catalog(app, "This field is required.")
    assert count(app, ConferenceDocument) == 0 and count(app, DocumentVersion) == 0
    assert upload(client, conference_id).status_code == 303
    with database(app) as session:
        document_id = session.scalar(select(ConferenceDocument.id))
    response = client.post(f"/conferences/{conference_id}/documents/{document_id}/versions",
                           data={"version-note": "", "version-file": (io.BytesIO(PDF_V2), "v2.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 200 and field_error(response, "version-note") == catalog(app, "This field is required.")
    assert count(app, DocumentVersion) == 1


# --- messages ----------------------------------------------------------------------------------------------------

def test_messages_append_with_htmx_and_others_see_them_by_polling(app, client, world):
    conference_id = open_workspace(client, world)
    as_user(client, world.reps[0])
    page = text(client.get(f"/conferences/{conference_id}"))
    assert 'hx-trigger="every 10s"' in page and 'id="messages-after" name="after" value="0"' in page

    response = client.post(f"/conferences/{conference_id}/messages",
                           data={"message-body": "人社局已核实用工情况", "after": "0"}, headers=HX)
    assert response.status_code == 200
    fragment = text(response)
    assert "人社局已核实用工情况" in fragment and "<html" not in fragment
    with database(app) as session:
        first_id = session.scalar(select(ConferenceMessage.id))
    assert f'id="messages-after" name="after" value="{first_id}" hx-swap-oob="true"' in fragment

    # Another member polls with the last id it shows: it gets only what is new.
    other = app.test_client()
    as_user(other, world.reps[1])
    polled = text(other.get(f"/conferences/{conference_id}/messages/new?after=0", headers=HX))
    assert "人社局已核实用工情况" in polled
    assert "人社局已核实用工情况" not in text(other.get(f"/conferences/{conference_id}/messages/new?after={first_id}",
                                                         headers=HX))
    assert "conference.message_posted" in audit_actions(app)


def test_messages_without_javascript_and_bad_input(app, client, world):
    conference_id = open_workspace(client, world)
    response = client.post(f"/conferences/{conference_id}/messages", data={"message-body": "请各单位周五前反馈"})
    assert response.status_code == 303 and location(response).endswith(f"/conferences/{conference_id}")
    assert "请各单位周五前反馈" in text(client.get(f"/conferences/{conference_id}"))
    response = client.post(f"/conferences/{conference_id}/messages", data={"message-body": "   "})
    assert response.status_code == 200 and field_error(response, "message-body") == catalog(app, "This field is required.")
    response = client.post(f"/conferences/{conference_id}/messages", data={"message-body": ""}, headers=HX)
    assert response.status_code == 200 and response.headers["HX-Retarget"] == "#message-form"
    for after in ("abc", "-5", "99999999999999999999"):
        assert client.get(f"/conferences/{conference_id}/messages/new?after={after}", headers=HX).status_code == 200
    assert client.get("/conferences/new?case=99999999999999").status_code == 200
    assert client.get(f"/conferences/{conference_id}/messages/new").status_code == 303
    assert count(app, ConferenceMessage) == 1


def test_the_convener_posts_and_an_outsider_cannot(app, client, world):
    conference_id = open_workspace(client, world)
    as_user(client, world.leader)
    assert client.post(f"/conferences/{conference_id}/messages", data={"message-body": "请抓紧办理"}).status_code == 303
    as_user(client, world.outsider)
    assert client.post(f"/conferences/{conference_id}/messages", data={"message-body": "我也说"}).status_code == 403
    assert count(app, ConferenceMessage) == 1


# --- queries -------------------------------------------------------------------------------------------------------

def test_the_list_and_the_page_run_a_fixed_number_of_queries(app, client, world, count_queries):
    conference_id = open_workspace(client, world)
    open_workspace(client, world, **{"open-title": "第二个"})

    def measure():
        with count_queries() as counter:
            assert client.get(f"/conferences/{conference_id}").status_code == 200
        page = counter.count
        with count_queries() as counter:
            assert client.get("/conferences").status_code == 200
        return page, counter.count

    upload(client, conference_id, title="首份材料")  # with none at all, SQLAlchemy skips the versions query
    client.post(f"/conferences/{conference_id}/messages", data={"message-body": "第一条"})
    before = measure()
    for n in range(3):
        upload(client, conference_id, title=f"材料{n}")
        client.post(f"/conferences/{conference_id}/messages", data={"message-body": f"消息{n}"})
    for department in [add_department(app) for _ in range(3)]:
        client.post(f"/conferences/{conference_id}/members",
                    data={"invite-department_id": str(department.id), "invite-kind": "guest"})
    for n in range(3):
        open_workspace(client, world, **{"open-title": f"更多{n}"})
    assert measure() == before


# --- demo data -----------------------------------------------------------------------------------------------------

def test_the_demo_has_a_workspace_for_the_land_case(app, client):
    from portal.demo import DEMO_PASSWORD, seed

    with database(app) as session:
        seed()
        conference = session.scalar(select(Conference))
        case = session.get(Case, conference.case_links[0].case_id)
        assert case.subject == "宅基地确权登记久拖未办"
        assert sorted(m.department.code for m in conference.members) == ["YX-RSJ", "YX-ZJJ", "YX-ZRZY"]
        assert conference.convener.email == "leader@yx.example"
        assert count(app, ConferenceDocument) == 1 and count(app, ConferenceMessage) == 2
        conference_id = conference.id
    assert login(client, "land@yx.example", DEMO_PASSWORD).status_code == 303
    page = text(client.get(f"/conferences/{conference_id}"))
    assert "确权登记办理情况说明" in page and "本周内提供" in page


def test_the_case_is_linked_only_for_those_who_may_open_it(app, client, world):
    conference_id = open_workspace(client, world)
    assert f'href="/cases/{world.case_id}"' in text(client.get(f"/conferences/{conference_id}"))
    as_user(client, world.reps[0])  # a member department works on the workspace's cases too
    assert f'href="/cases/{world.case_id}"' in text(client.get(f"/conferences/{conference_id}"))
    # an administrator opens every workspace but no case: the case is named, not linked
    from portal.accounts.models import Role
    from tests.conftest import login
    from tests.factories import PASSWORD, make_user

    with app.app_context():
        admin_login = make_user(Role.ADMIN).email
    client.post("/logout")
    login(client, admin_login, PASSWORD)
    page = text(client.get(f"/conferences/{conference_id}"))
    assert "宅基地确权登记久拖未办" in page and f'href="/cases/{world.case_id}"' not in page


def test_member_departments_see_the_workspace_cases(app, client):
    """Members work on the workspace's cases together, so each member department may open them."""
    from sqlalchemy import select

    from portal.accounts.models import Role
    from portal.conferences.models import Conference, ConferenceCase, ConferenceMember
    from portal.extensions import db
    from tests.conftest import login
    from tests.factories import PASSWORD, make_case, make_department, make_user

    with app.app_context():
        member, outsider = make_department(), make_department()
        rep, other = make_user(Role.DEPARTMENT_REP, member), make_user(Role.DEPARTMENT_REP, outsider)
        staff, leader = make_user(Role.STAFF), make_user(Role.LEADER)
        case = make_case()
        conference = Conference(title="测试联席会议", convener_id=leader.id, office_department_id=member.id,
                                created_by_id=staff.id)
        db.session.add(conference)
        db.session.flush()
        db.session.add_all([ConferenceCase(conference_id=conference.id, case_id=case.id),
                            ConferenceMember(conference_id=conference.id, department_id=member.id)])
        db.session.commit()
        case_id, rep_login, other_login = case.id, rep.email, other.email
        assert db.session.scalar(select(ConferenceMember.id).where(ConferenceMember.department_id == member.id))
    login(client, rep_login, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 200
    assert f"/cases/{case_id}" in client.get("/cases").get_data(as_text=True)
    client.post("/logout")
    login(client, other_login, PASSWORD)
    assert client.get(f"/cases/{case_id}").status_code == 403
