"""Demonstration data: a petition bureau, departments and one account of every role."""
from __future__ import annotations

import secrets

from flask import current_app
from sqlalchemy import func, select

from portal.accounts.models import Department, DepartmentKind, Role, SystemSetting, User
from portal.accounts.services import hash_password
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import utcnow

DEMO_PASSWORD = "Demo2026pass"

DEMO_DEPARTMENTS = [
    ("YX-XFJ", "Y市信访局", DepartmentKind.PETITION_BUREAU),
    ("YX-RSJ", "Y市人力资源和社会保障局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-ZJJ", "Y市住房和城乡建设局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-ZRZY", "Y市自然资源和规划局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-SCJG", "Y市市场监督管理局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-DQFY", "Y市东区人民法院", DepartmentKind.COURT),
    ("YX-TJW", "Y市人民调解委员会", DepartmentKind.MEDIATION_COMMITTEE),
    ("YX-HPJD", "Y市东区和平街道办事处", DepartmentKind.STREET_OFFICE),
]

# (login, display name, role, department code)
DEMO_USERS = [
    ("admin@yx.example", "周管理（信息中心）", Role.ADMIN, "YX-XFJ"),
    ("staff@yx.example", "王晓明（信访局）", Role.STAFF, "YX-XFJ"),
    ("mediator@yx.example", "李调解（调解委员会）", Role.MEDIATOR, "YX-TJW"),
    ("leader@yx.example", "张副市长", Role.LEADER, None),
    ("hrss@yx.example", "赵人社（人社局）", Role.DEPARTMENT_REP, "YX-RSJ"),
    ("housing@yx.example", "钱住建（住建局）", Role.DEPARTMENT_REP, "YX-ZJJ"),
    ("land@yx.example", "孙自然（自然资源局）", Role.DEPARTMENT_REP, "YX-ZRZY"),
    ("market@yx.example", "周市监（市场监管局）", Role.DEPARTMENT_REP, "YX-SCJG"),
    ("court@yx.example", "吴法官（东区法院）", Role.DEPARTMENT_REP, "YX-DQFY"),
    ("street@yx.example", "郑街道（和平街道）", Role.DEPARTMENT_REP, "YX-HPJD"),
    ("13800000001", "陈信访", Role.PETITIONER, None),
]


class DemoRefused(RuntimeError):
    pass


def seed(if_empty: bool = False) -> bool:
    if current_app.config["PORTAL_ENV"] == "production":
        raise DemoRefused("Demo data is refused in production.")
    if if_empty and db.session.scalar(select(func.count(User.id))):
        return False
    departments = {}
    for code, name, kind in DEMO_DEPARTMENTS:
        department = db.session.scalar(select(Department).where(Department.code == code))
        if department is None:
            department = Department(code=code, name=name, kind=kind)
            db.session.add(department)
            record("department.created", department, details={"code": code, "demo": True})
        departments[code] = department
    password_hash = hash_password(DEMO_PASSWORD)
    for login, name, role, code in DEMO_USERS:
        column = User.email if "@" in login else User.phone
        if db.session.scalar(select(User).where(column == login)):
            continue
        user = User(display_name=name, role=role, department=departments.get(code), password_hash=password_hash,
                    session_token=secrets.token_hex(16), contact_confirmed_at=utcnow(), locale="zh_CN")
        if "@" in login:
            user.email = login
        else:
            user.phone = login
        db.session.add(user)
        record("user.created", user, details={"role": role.value, "demo": True})
    if db.session.get(SystemSetting, "demo_data") is None:
        db.session.add(SystemSetting(key="demo_data", value=utcnow().isoformat()))
    db.session.commit()
    with current_app.test_request_context(base_url=current_app.config.get("PORTAL_BASE_URL") or "http://127.0.0.1:5000"):
        _seed_cases()
        _seed_mediation()
        _seed_seal()
    return True


DEMO_CATEGORIES = ["劳动工资", "房屋征收与拆迁", "土地与规划", "物业与住房保障", "市场与消费维权", "社会保障", "其他"]


def _seed_cases() -> None:
    """A handful of cases in the states a new user should see, made through the same services the pages use."""
    from datetime import timedelta

    from portal.cases import handling, intake, triage
    from portal.cases.models import Case, Channel, LegalRoute, MatterType, OpinionOutcome, ReferralKind
    from portal.timeutil import today

    if db.session.scalar(select(func.count(Case.id))):
        return
    categories = {}
    for position, name in enumerate(DEMO_CATEGORIES):
        categories[name] = intake.save_category(None, name=name, position=position, active=True)
    users = {login: db.session.scalar(select(User).where((User.email == login) | (User.phone == login)))
             for login, *_rest in DEMO_USERS}
    depts = {code: db.session.scalar(select(Department).where(Department.code == code))
             for code, *_rest in DEMO_DEPARTMENTS}
    staff, petitioner = users["staff@yx.example"], users["13800000001"]
    day = today()

    def petition(channel, subject, facts, request, category, received, people, matter=MatterType.APPEAL, actor=staff):
        data = intake.PetitionData(channel=channel, received_on=received, matter_type=matter, subject=subject,
                                   facts=facts, request=request, petitioners=people,
                                   category_id=categories[category].id, place="Y市东区")
        return intake.register_case(data, actor=actor, decision=intake.Decision(override=True, reason="演示数据",
                                                                                  repeat_acknowledged=True))

    # 1. An online petition of the demo petitioner, waiting for triage.
    petition(Channel.ONLINE, "小区电梯长期停运无人维修", "本人居住的和平小区3号楼电梯自今年9月起停运，物业以维修资金不足为由拖延。",
             "请求督促物业公司尽快修复电梯。", "物业与住房保障", day - timedelta(days=3),
             [intake.PetitionerData("陈信访", "320102198804121238", "13800000001", "Y市东区和平路1号", petitioner.id)], actor=petitioner)
    # 2. A letter about unpaid wages: assigned to human resources (lead) with the street office, accepted, in handling.
    wages = petition(Channel.LETTER, "某建筑公司拖欠农民工工资", "2026年5月至8月在东区某工地务工，建筑公司拖欠12名工人工资共计36万元。",
                     "请求责令公司支付拖欠工资。", "劳动工资", day - timedelta(days=20),
                     [intake.PetitionerData("刘建国", "320102198503151230", "13912345678", "Y市东区建设路18号"),
                      intake.PetitionerData("王德胜", "320102197911020016", "13787654321", "Y市东区建设路20号")])
    referrals = triage.refer(wages, staff, ReferralKind.ASSIGN, depts["YX-RSJ"].id, [depts["YX-HPJD"].id],
                             note="请会同街道核实用工情况。", on=day - timedelta(days=18))
    triage.accept(referrals[0], users["hrss@yx.example"], on=day - timedelta(days=15))
    handling.add_progress(wages, users["hrss@yx.example"], "已约谈建筑公司负责人，公司承诺本月底前支付一半工资。")
    # 3. A visit about a housing subsidy: answered by the housing department; the petitioner may rate or ask for review.
    housing = petition(Channel.VISIT, "住房保障资格审核未通过", "申请公共租赁住房时被告知收入超标，但本人收入证明显示未超过标准。",
                       "请求重新审核住房保障资格。", "物业与住房保障", day - timedelta(days=40),
                       [intake.PetitionerData("陈信访", "320102198804121238", "13800000001", "Y市东区和平路1号", petitioner.id)])
    referral = triage.refer(housing, staff, ReferralKind.TRANSFER, depts["YX-ZJJ"].id, on=day - timedelta(days=38))[0]
    triage.accept(referral, users["housing@yx.example"], on=day - timedelta(days=36))
    handling.issue_opinion(housing, users["housing@yx.example"], OpinionOutcome.SUPPORT,
                           "经复核，申请人家庭人均月收入为2,850元，低于本市公共租赁住房准入标准。",
                           "原审核误将一次性补偿款计入月收入，予以纠正，申请人符合公共租赁住房保障条件。")
    # 4. A dispute already fit for the courts: routed to litigation with a written notice.
    legal = petition(Channel.PHONE, "商铺租赁合同纠纷", "与房东签订五年商铺租赁合同，房东提前两年收回商铺并拒绝退还押金。",
                     "请求退还押金并赔偿损失。", "市场与消费维权", day - timedelta(days=10),
                     [intake.PetitionerData("赵美华", "320102199208086629", "13698765432", "Y市西区商业街6号")])
    triage.route_to_legal_channel(legal, staff, LegalRoute.LITIGATION,
                                  "本纠纷属于民事合同纠纷，请向Y市东区人民法院提起民事诉讼，可申请法律援助。", on=day - timedelta(days=9))
    # 5. Land: referred 20 days ago and still not accepted, so the acceptance limit is overdue (supervision demo).
    land = petition(Channel.LETTER, "宅基地确权登记久拖未办", "2025年提交宅基地使用权确权登记申请，至今未获办理，多次询问无果。",
                    "请求依法办理确权登记。", "土地与规划", day - timedelta(days=24),
                    [intake.PetitionerData("孙有田", "320102196607070030", "13511112222", "Y市东区田园村3组")])
    triage.refer(land, staff, ReferralKind.ASSIGN, depts["YX-ZRZY"].id, on=day - timedelta(days=20))
    _seed_conference(land, users, depts)


def _seed_conference(case, users: dict, depts: dict):
    """A joint-conference workspace for the land case: convened by the leader, the bureau as the office, three
    member departments, one shared document and two messages, made through the workspace services."""
    from portal import uploads
    from portal.conferences import workspace

    staff = users["staff@yx.example"]
    conference = workspace.open_conference(
        staff, title="宅基地确权登记联席会议", purpose="宅基地确权登记久拖未办，涉及自然资源、住建和人社等部门，需共同研究解决。",
        case_ids=[case.id], convener_id=users["leader@yx.example"].id,
        department_ids=[depts[code].id for code in ("YX-RSJ", "YX-ZJJ", "YX-ZRZY")])
    pdf = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
           b"trailer<</Root 1 0 R>>\n%%EOF\n")
    workspace.add_document(conference, staff, "确权登记办理情况说明",
                           [uploads.CheckedFile("确权登记办理情况说明.pdf", "pdf", pdf)], note="信访局整理")
    workspace.post_message(conference, users["land@yx.example"], "自然资源局已调取该宅基地的测绘资料，本周内提供。")
    workspace.post_message(conference, staff, "请各成员单位在第一次会议前反馈本单位意见。")
    # The first meeting is being scheduled: three candidate times for the members to answer.
    from datetime import time, timedelta

    from portal.conferences import meetings
    from portal.timeutil import today

    first = meetings.propose(conference, staff, "第一次联席会议",
                             meetings.SlotInput(today() + timedelta(days=7), time(9, 30), 90, room="市政府3号楼301会议室"))
    for days, at in ((8, time(14, 30)), (9, time(9, 30))):
        meetings.add_slot(first, staff, meetings.SlotInput(today() + timedelta(days=days), at, 90,
                                                           room="市政府3号楼301会议室"))
    return conference


def _seed_mediation():
    """One open mediation matter (访调对接) for a new user to try: the demo petitioner against the street office over
    renovation damage, both consents recorded, the demo mediator assigned, a room set. Made once, through the
    services the pages use; nothing is added when a mediation matter exists already."""
    from datetime import timedelta

    from portal.cases import intake, triage
    from portal.cases.models import Case, CaseStatus, Channel, MatterType
    from portal.mediation import matters
    from portal.mediation.models import MediationReferral
    from portal.timeutil import today

    if db.session.scalar(select(func.count(MediationReferral.id))):
        return None
    users = {login: db.session.scalar(select(User).where((User.email == login) | (User.phone == login)))
             for login, *_rest in DEMO_USERS}
    depts = {code: db.session.scalar(select(Department).where(Department.code == code))
             for code, *_rest in DEMO_DEPARTMENTS}
    staff, petitioner, mediator = users["staff@yx.example"], users["13800000001"], users["mediator@yx.example"]
    if None in (staff, petitioner, mediator, depts["YX-TJW"], depts["YX-HPJD"]):
        return None
    day = today()
    subject = "老旧小区改造施工致房屋墙体开裂赔偿争议"
    case = db.session.scalar(select(Case).where(Case.subject == subject, Case.status == CaseStatus.REGISTERED))
    if case is None:
        data = intake.PetitionData(
            channel=Channel.VISIT, received_on=day - timedelta(days=6), matter_type=MatterType.APPEAL,
            subject=subject, facts="和平街道组织的老旧小区改造施工期间，外墙打孔导致本人住房两处墙体开裂，多次协商赔偿未果。",
            request="请求街道承担维修费用并赔偿损失。", place="Y市东区和平路1号",
            petitioners=[intake.PetitionerData("陈信访", "320102198804121238", "13800000001", "Y市东区和平路1号",
                                               petitioner.id)])
        case = intake.register_case(data, actor=staff, decision=intake.Decision(override=True, reason="演示数据",
                                                                                 repeat_acknowledged=True))
    matter = triage.refer_to_mediation(
        case, staff, committee_id=depts["YX-TJW"].id, other_department_id=depts["YX-HPJD"].id,
        petitioner_consent_on=day - timedelta(days=5), petitioner_consent_how="接访时签署调解申请书",
        other_consent_on=day - timedelta(days=4), other_consent_how="街道办事处书面同意函",
        scope_confirmed=True, on=day - timedelta(days=4))
    matters.assign_mediator(matter, staff, mediator.id)
    matters.set_room(matter, mediator, "Y市人民调解委员会第一调解室")
    return matter


DEMO_SEAL_FONT = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"  # Debian fonts-noto-cjk


def _seal_png(name: str) -> bytes:
    """A round red seal for the demo committee (a real committee uploads the image of its own seal)."""
    import io
    import math

    from PIL import Image, ImageDraw, ImageFont

    size, red = 400, (200, 30, 30, 255)
    image = Image.new("RGBA", (size, size), (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((12, 12, size - 12, size - 12), outline=red, width=14)
    centre, radius = size / 2, size / 2 - 70
    star = [(centre + (60 if i % 2 == 0 else 24) * math.sin(math.pi * i / 5),
             centre - (60 if i % 2 == 0 else 24) * math.cos(math.pi * i / 5)) for i in range(10)]
    draw.polygon(star, fill=red)
    font = ImageFont.truetype(DEMO_SEAL_FONT, 40)
    # The name runs along the upper arc, one character at a time, from left to right.
    span = math.radians(240)
    for i, char in enumerate(name):
        angle = -span / 2 + span * i / max(len(name) - 1, 1)
        glyph = Image.new("RGBA", (60, 60), (255, 255, 255, 0))
        ImageDraw.Draw(glyph).text((30, 30), char, font=font, fill=red, anchor="mm")
        glyph = glyph.rotate(-math.degrees(angle), resample=Image.BICUBIC)
        x, y = centre + radius * math.sin(angle), centre - radius * math.cos(angle)
        image.alpha_composite(glyph, (int(x - 30), int(y - 30)))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _seed_seal():
    """The demo mediation committee's seal image, so the demo agreement can be sealed without an admin step."""
    import io

    from werkzeug.datastructures import FileStorage

    from portal.agreements import documents

    committee = db.session.scalar(select(Department).where(Department.code == "YX-TJW"))
    admin = db.session.scalar(select(User).where(User.email == "admin@yx.example"))
    if committee is None or admin is None or documents.seal_of(committee.id) is not None:
        return None
    try:
        data = _seal_png(committee.name)
    except OSError:  # the CJK font is missing: the admin uploads a seal image instead
        return None
    upload = FileStorage(io.BytesIO(data), filename="demo-seal.png", content_type="image/png")
    return documents.upload_seal_image(committee, upload, admin)


def refuse_demo_data_in_production() -> None:
    """A production instance must not run on a database that holds the demo accounts."""
    from sqlalchemy.exc import SQLAlchemyError

    from portal.config import ConfigError

    try:
        marked = db.session.get(SystemSetting, "demo_data") is not None
    except SQLAlchemyError:  # before the first migration there is nothing to check
        db.session.rollback()
        return
    finally:
        db.session.remove()
    if marked:
        raise ConfigError("Refusing to start in production: the database holds demo data.")
