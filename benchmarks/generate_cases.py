"""Fill a database with realistic petition cases for load runs.

    PORTAL_DATABASE_URL=sqlite:///instance/bench.db .venv/bin/python benchmarks/generate_cases.py -n 100000

Builds N cases (default 100,000) with their petitioners, referrals, clocks and timeline events: Chinese names,
subjects and facts, a spread of channels, matter types, statuses, departments and due dates. Rows go in with
bulk INSERTs in batches (one executemany per table per batch), not one ORM object at a time.

The database is migrated to the newest revision first, and the demo departments and accounts are added
(make run's demo log-ins, e.g. staff@yx.example), plus more departments. Counting is idempotent: with
N cases already there nothing is added; with fewer, the rest is added. Refused when PORTAL_ENV=production.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, insert, select, text  # noqa: E402

from portal import rules  # noqa: E402
from portal.accounts.models import Department, DepartmentKind  # noqa: E402
from portal.cases.models import (Case, CaseEvent, CaseStatus, Category, Channel, Clock, ClockKind,  # noqa: E402
                                 ClockPause, LegalRoute, MatterType, Petitioner, ReferenceCounter, Referral,
                                 ReferralKind, ReferralRole, ReferralStatus)
from portal.cases.services import QUERY_CODE_ALPHABET  # noqa: E402

BATCH = 2000

# --- vocabulary ----------------------------------------------------------------------------------------

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
GIVEN = ("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强永红海燕玉兰凤英桂兰德明春梅金凤"
         "红梅晓东晓明文华立新淑珍淑华国平国强小红小军玉珍秀珍成龙天佑子涵欣怡梓轩浩然雨桐宇航思远")
DISTRICTS = ["东区", "西区", "南区", "北区", "高新区", "经开区", "临江县", "青山县"]
STREETS = ["和平路", "解放路", "人民路", "建设路", "文化路", "新华街", "中山路", "长江路", "滨河路", "光明街",
           "幸福里", "朝阳路", "团结路", "胜利街", "学府路"]
VILLAGES = ["李家村", "王庄村", "柳树湾村", "河东村", "石桥村", "杨柳村", "新民村", "红星村"]
COMPANIES = ["宏达建筑工程有限公司", "鑫源劳务派遣有限公司", "恒泰房地产开发有限公司", "顺发物业管理有限公司",
             "华强机械制造有限公司", "金穗食品有限公司", "远航物流有限公司", "锦绣家政服务有限公司",
             "天成商贸有限公司", "瑞丰化工有限公司"]

# category, lead department code, subject templates, fact templates, request templates
TOPICS = [
    ("劳动保障", "YX-RSJ",
     ["拖欠农民工工资", "拖欠工资{months}个月", "公司未缴纳社会保险", "工伤认定及赔偿", "解除劳动合同未支付经济补偿"],
     ["信访人自{year}年{month}月起在{company}从事{job}工作，公司以资金紧张为由拖欠工资共计{amount}元，"
      "多次向项目负责人讨要未果，{district}劳动监察大队已受理但至今未处理到位。",
      "信访人于{year}年{month}月在{company}工作期间受伤，住院治疗{days}天，公司拒绝申报工伤，也未支付医疗费用，"
      "信访人生活陷入困难。"],
     ["请求督促{company}尽快支付拖欠的工资{amount}元。", "请求依法认定工伤并落实相关待遇。"]),
    ("城乡建设", "YX-ZJJ",
     ["房屋拆迁补偿标准过低", "小区物业服务质量差", "楼房漏水长期未维修", "违章建筑影响采光", "商品房逾期交房"],
     ["信访人居住在{district}{street}{num}号，{year}年{month}月所在片区列入棚户区改造范围，补偿标准为每平方米"
      "{price}元，明显低于周边同类房屋市场价格，信访人多次与拆迁指挥部协商无果。",
      "{district}{street}小区自{year}年起由{company}提供物业服务，电梯频繁故障、楼道照明损坏、垃圾清运不及时，"
      "业主多次反映，物业公司置之不理，仍照常收取物业费。",
      "信访人于{year}年购买{company}开发的商品房，合同约定{month}月交房，开发商至今未交付，也未支付违约金，"
      "涉及业主{households}户。"],
     ["请求重新评估房屋价值，按市场价给予合理补偿。", "请求责令物业公司整改或依法更换物业服务企业。",
      "请求督促开发商尽快交房并依合同支付违约金。"]),
    ("国土资源", "YX-ZRZY",
     ["征地补偿款未足额发放", "宅基地审批迟迟未办", "土地承包经营权纠纷", "临时占地未恢复耕地"],
     ["{district}{village}集体土地于{year}年被征收用于道路建设，涉及耕地{mu}亩，村民应得补偿款至今仅发放一半，"
      "其余款项去向不明，村民多次向镇政府反映未得到答复。",
      "信访人系{district}{village}村民，{year}年{month}月提交宅基地建房申请，材料齐全，至今已逾{days}天未获审批。"],
     ["请求查明补偿款去向，足额发放到户。", "请求依法依规办理宅基地审批。"]),
    ("市场监管", "YX-SCJG",
     ["预付卡商家跑路", "食品安全问题举报", "虚假宣传欺骗消费者", "网购商品质量问题"],
     ["信访人于{year}年{month}月在{district}{street}一家健身房办理预付卡，充值{amount}元，现该店突然关门停业，"
      "经营者联系不上，涉及会员{households}余人。",
      "信访人在{district}{street}某餐馆就餐后出现腹泻症状，怀疑食材不新鲜，向店家反映被拒绝处理。"],
     ["请求依法查处，追回预付款。", "请求对该经营者依法查处。"]),
    ("环境保护", "YX-HBJ",
     ["工厂夜间排放刺激性气体", "施工噪音扰民", "河道污染", "餐饮油烟扰民"],
     ["{district}{street}附近的{company}长期在夜间排放刺激性气体，周边居民出现咳嗽、头痛等症状，"
      "居民多次拨打热线反映，问题反复出现。",
      "{district}{street}一处建筑工地每天夜间十点后仍在施工，噪音严重影响周边居民休息，涉及居民{households}户。",
      "{district}{village}附近河道近期出现大量死鱼，河水发黑发臭，怀疑上游企业偷排污水。"],
     ["请求环保部门依法查处，还居民清新空气。", "请求依法限制夜间施工。", "请求查明污染源并依法处理。"]),
    ("教育", "YX-JYJ",
     ["子女入学难", "学校乱收费", "校外培训机构退费难"],
     ["信访人系外来务工人员，在{district}居住并缴纳社保{months}年，子女今年申请就近入学被拒，理由是房产证明不符合要求。",
      "{district}某学校以资料费、补课费等名义向学生收取费用，每生{amount}元，家长意见较大。"],
     ["请求依政策解决子女入学问题。", "请求查处乱收费行为并退还费用。"]),
    ("卫生健康", "YX-WJW",
     ["医疗纠纷", "医院收费不合理", "医保报销受阻"],
     ["信访人之父于{year}年{month}月在{district}某医院手术后出现并发症，信访人认为医院存在过错，"
      "医院拒绝承担责任。",
      "信访人住院{days}天，出院结算时发现多项收费项目与实际治疗不符，共计{amount}元。"],
     ["请求组织医疗事故鉴定，依法赔偿。", "请求核查收费并退还不合理费用。"]),
    ("公安政法", "YX-GAJ",
     ["报案后迟迟不立案", "对治安处罚决定不服", "户籍迁移办理受阻"],
     ["信访人于{year}年{month}月被他人以投资为名骗取{amount}元，已向{district}派出所报案，至今未立案侦查。",
      "信访人因工作调动需将户口迁入本市，材料已齐全，派出所多次要求补充材料，办理周期已超过{days}天。"],
     ["请求依法立案侦查，追回损失。", "请求依法办理户籍迁移手续。"]),
    ("民政", "YX-MZJ",
     ["低保资格被取消", "养老服务补贴未发放", "残疾人补贴发放不到位"],
     ["信访人家庭成员{households}人，均无稳定收入，{year}年{month}月低保资格被取消，街道称系复核时收入超标，"
      "信访人认为复核结果与实际不符。"],
     ["请求重新核定低保资格。", "请求按政策发放补贴。"]),
    ("交通运输", "YX-JTJ",
     ["出租车拒载绕路", "公交线路调整不便民", "道路施工长期未完工"],
     ["{district}{street}道路自{year}年{month}月起封闭施工，原定工期{months}个月，至今未完工，"
      "沿线商户经营受到严重影响。"],
     ["请求加快施工进度，尽早恢复通行。", "请求优化公交线路。"]),
]
EXTRA_DEPARTMENTS = [
    ("YX-HBJ", "Y市生态环境局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-JYJ", "Y市教育局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-WJW", "Y市卫生健康委员会", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-GAJ", "Y市公安局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-MZJ", "Y市民政局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-JTJ", "Y市交通运输局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-CGJ", "Y市城市管理局", DepartmentKind.GOVERNMENT_DEPARTMENT),
    ("YX-XQJD", "Y市西区人民街道办事处", DepartmentKind.STREET_OFFICE),
    ("YX-NQJD", "Y市南区光明街道办事处", DepartmentKind.STREET_OFFICE),
    ("YX-LJX", "临江县人民政府", DepartmentKind.GOVERNMENT_DEPARTMENT),
]
CO_DEPARTMENT_CODES = ["YX-HPJD", "YX-XQJD", "YX-NQJD", "YX-CGJ", "YX-LJX", "YX-SCJG", "YX-RSJ", "YX-ZJJ"]

# status -> weight (about 40 % still open); open cases are recent, closed ones spread over two years
STATUS_WEIGHTS = {
    CaseStatus.REGISTERED: 4, CaseStatus.REJECTED: 6, CaseStatus.REFERRED: 5, CaseStatus.IN_PROGRESS: 18,
    CaseStatus.LEGAL_ROUTE: 5, CaseStatus.MEDIATION: 3, CaseStatus.ANSWERED: 10, CaseStatus.REVIEW: 3,
    CaseStatus.CONCLUDED: 46,
}
CHANNEL_WEIGHTS = {Channel.ONLINE: 40, Channel.LETTER: 20, Channel.VISIT: 25, Channel.PHONE: 12, Channel.FAX: 3}
MATTER_WEIGHTS = {MatterType.APPEAL: 70, MatterType.REPORT: 20, MatterType.SUGGESTION: 10}
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def id_number(rng: random.Random) -> str:
    born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    body = f"3201{rng.randrange(1, 20):02d}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]


def person_name(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else "")
    return rng.choice(SURNAMES) + given[:2]


def fill(template: str, rng: random.Random, received: date) -> str:
    return template.format(
        year=received.year - rng.choice((0, 0, 1)), month=rng.randrange(1, 13), months=rng.randrange(2, 13),
        company=rng.choice(COMPANIES), job=rng.choice(["钢筋", "木工", "水电安装", "保洁", "搬运", "装修"]),
        amount=rng.randrange(20, 900) * 100, district=rng.choice(DISTRICTS), street=rng.choice(STREETS),
        num=rng.randrange(1, 300), price=rng.randrange(30, 90) * 100, households=rng.randrange(10, 300),
        village=rng.choice(VILLAGES), mu=rng.randrange(5, 200), days=rng.randrange(30, 400))


# --- database set-up -------------------------------------------------------------------------------------

def prepare(db) -> tuple[dict, dict]:
    """Departments (demo ones plus more) and categories; returns {code: (id, name)} and {category: id}."""
    from portal.demo import DEMO_DEPARTMENTS, seed

    seed(if_empty=True)  # the demo accounts: staff@yx.example and the others of `make run`
    for code, name, kind in DEMO_DEPARTMENTS + EXTRA_DEPARTMENTS:
        if db.session.scalar(select(Department.id).where(Department.code == code)) is None:
            db.session.add(Department(code=code, name=name, kind=kind))
    for position, (category, *_rest) in enumerate(TOPICS):
        if db.session.scalar(select(Category.id).where(Category.name == category)) is None:
            db.session.add(Category(name=category, position=position))
    db.session.commit()
    departments = {code: (pk, name) for pk, code, name in db.session.execute(
        select(Department.id, Department.code, Department.name))}
    categories = dict(db.session.execute(select(Category.name, Category.id)).all())
    return departments, categories


def next_ids(db) -> dict:
    ids = {}
    for model in (Case, Petitioner, Referral, Clock, ClockPause, CaseEvent):
        ids[model] = (db.session.scalar(select(func.max(model.id))) or 0) + 1
    return ids


def reference_numbers(db) -> dict:
    return dict(db.session.execute(select(ReferenceCounter.scope, ReferenceCounter.last)).all())


# --- one case ---------------------------------------------------------------------------------------------

class Builder:
    def __init__(self, rng: random.Random, departments: dict, categories: dict, ids: dict, counters: dict,
                 today: date):
        self.rng, self.departments, self.categories, self.ids, self.counters = rng, departments, categories, ids, \
            counters
        self.today = today
        self.rows = {model: [] for model in (Case, Petitioner, Referral, Clock, ClockPause, CaseEvent)}
        self.statuses, self.status_weights = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
        self.channels, self.channel_weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
        self.matters, self.matter_weights = list(MATTER_WEIGHTS), list(MATTER_WEIGHTS.values())
        self.bureau = departments["YX-XFJ"]
        self.mediation = departments["YX-TJW"]
        self.co_departments = [departments[c] for c in CO_DEPARTMENT_CODES if c in departments]

    def next_id(self, model) -> int:
        value = self.ids[model]
        self.ids[model] = value + 1
        return value

    def moment(self, day: date) -> datetime:
        return datetime(day.year, day.month, day.day, self.rng.randrange(1, 10), self.rng.randrange(60),
                        self.rng.randrange(60), tzinfo=timezone.utc)

    def event(self, case_id: int, day: date, kind: str, *, department=None, data=None, text_="",
              internal=False):
        self.rows[CaseEvent].append(dict(
            id=self.next_id(CaseEvent), case_id=case_id, at=self.moment(min(day, self.today)), actor_id=None,
            department_id=department[0] if department else None, kind=kind, text=text_,
            data=json.dumps(data or {}, ensure_ascii=False), internal=internal))

    def clock(self, case_id: int, kind: ClockKind, started: date, days: int, *, stopped: date | None = None,
              referral_id=None, extension=0, paused=False) -> dict:
        row = dict(id=self.next_id(Clock), case_id=case_id, kind=kind, referral_id=referral_id, started_on=started,
                   base_due_on=started + timedelta(days=days),
                   due_on=started + timedelta(days=days + extension), provisional=False, extension_days=extension,
                   paused_days=0, paused_since=None, stopped_on=stopped)
        if paused and stopped is None:
            since = min(self.today, started + timedelta(days=self.rng.randrange(1, 20)))
            row["paused_since"] = since
            self.rows[ClockPause].append(dict(id=self.next_id(ClockPause), clock_id=row["id"],
                                              reason="等待信访人补充材料", paused_on=since, resumed_on=None,
                                              paused_by_id=None, resumed_by_id=None))
        self.rows[Clock].append(row)
        return row

    def referral(self, case_id: int, department, role: ReferralRole, status: ReferralStatus, sent: date) -> int:
        pk = self.next_id(Referral)
        self.rows[Referral].append(dict(
            id=pk, case_id=case_id, department_id=department[0], kind=self.rng.choice(list(ReferralKind)), role=role,
            status=status, note="", sent_on=sent, sent_by_id=None,
            accepted_on=sent + timedelta(days=self.rng.randrange(1, 10)) if status in (
                ReferralStatus.ACCEPTED, ReferralStatus.CLOSED) else None,
            objected_at=self.moment(sent + timedelta(days=3)) if status == ReferralStatus.OBJECTED else None,
            objection_reason="该事项不属于本单位职权范围，建议转交相关部门。" if status == ReferralStatus.OBJECTED else "",
            decided_by_id=None))
        return pk

    def reference(self, year: int) -> str:
        scope = f"{rules.REFERENCE_PREFIX}-{year}"
        number = self.counters.get(scope, 0) + 1
        self.counters[scope] = number
        return f"{scope}-{number:06d}"

    def case(self) -> None:
        rng = self.rng
        status = rng.choices(self.statuses, self.status_weights)[0]
        open_ = status in (CaseStatus.REGISTERED, CaseStatus.REFERRED, CaseStatus.IN_PROGRESS,
                           CaseStatus.MEDIATION, CaseStatus.ANSWERED, CaseStatus.REVIEW)
        if status in (CaseStatus.REGISTERED, CaseStatus.REFERRED):
            age = rng.randrange(0, 25)
        elif status in (CaseStatus.IN_PROGRESS, CaseStatus.MEDIATION):
            age = rng.randrange(10, 85)
        elif open_:
            age = rng.randrange(40, 140)
        else:
            age = rng.randrange(30, 730)
        received = self.today - timedelta(days=age)
        category, lead_code, subjects, facts, requests = rng.choice(TOPICS)
        lead = self.departments.get(lead_code) or rng.choice(self.co_departments)
        channel = rng.choices(self.channels, self.channel_weights)[0]
        case_id = self.next_id(Case)
        size = 5 if rng.random() < 0.04 else rng.choices((1, 2, 3), (85, 10, 5))[0]
        created = self.moment(received)
        row = dict(
            id=case_id, reference=self.reference(received.year),
            query_code="".join(rng.choice(QUERY_CODE_ALPHABET) for _ in range(rules.QUERY_CODE_LENGTH)),
            channel=channel, matter_type=rng.choices(self.matters, self.matter_weights)[0],
            category_id=self.categories.get(category), subject=fill(rng.choice(subjects), rng, received),
            facts=fill(rng.choice(facts), rng, received) + rng.choice(["", "信访人曾多次反映，问题一直未解决。",
                                                                       "现提供相关证明材料复印件。"]),
            request=fill(rng.choice(requests), rng, received), place=f"Y市{rng.choice(DISTRICTS)}",
            received_on=received, status=status, lead_department_id=None, next_due_on=None,
            group_visit=size == 5 and channel == Channel.VISIT, complex=rng.random() < 0.02, complex_reason="",
            rejection_reason="", rejection_route="", legal_route=None, legal_route_notice="", duplicate_of_id=None,
            duplicate_override_reason="", repeats_concluded_id=None, registered_by_id=None, submitted_by_id=None,
            created_at=created, updated_at=created, version=1)
        self.rows[Case].append(row)
        for position in range(size):
            self.rows[Petitioner].append(dict(
                id=self.next_id(Petitioner), case_id=case_id, position=position, name=person_name(rng),
                id_number=id_number(rng) if rng.random() < 0.9 else "",
                phone=f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}",
                address=f"Y市{rng.choice(DISTRICTS)}{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
                is_representative=size == 5, user_id=None))
        self.event(case_id, received, "registered", data={"channel": channel.value})
        self.story(row, status, received, lead, open_)

    def story(self, row: dict, status: CaseStatus, received: date, lead, open_: bool) -> None:
        """Referrals, clocks and events that a case in `status` has been through."""
        rng, case_id = self.rng, row["id"]
        open_dues = []
        routed = received + timedelta(days=rng.randrange(1, 12))
        if status == CaseStatus.REGISTERED:
            open_dues.append(self.clock(case_id, ClockKind.ROUTING, received, rules.ROUTING_DAYS)["due_on"])
            row["next_due_on"] = min(open_dues)
            return
        self.clock(case_id, ClockKind.ROUTING, received, rules.ROUTING_DAYS, stopped=min(routed, self.today))
        if status == CaseStatus.REJECTED:
            row["rejection_reason"] = "该事项已经或者依法应当通过诉讼途径解决。"
            row["rejection_route"] = "可向Y市东区人民法院提起诉讼。"
            self.event(case_id, routed, "rejected", department=self.bureau)
            return
        if status == CaseStatus.LEGAL_ROUTE:
            row["legal_route"] = rng.choice(list(LegalRoute))
            row["legal_route_notice"] = "本事项属于依法应当通过法定途径解决的事项，请依法向有关机关提出。"
            self.event(case_id, routed, "legal_route", data={"route": row["legal_route"].value})
            return
        if status == CaseStatus.MEDIATION:
            self.event(case_id, routed, "mediation_referral", data={"committee": self.mediation[1]})
            return
        # Referred to a lead department, perhaps after another one objected, with co-handling departments.
        if rng.random() < 0.06:
            wrong = rng.choice(self.co_departments)
            self.referral(case_id, wrong, ReferralRole.LEAD, ReferralStatus.OBJECTED, routed)
            self.event(case_id, routed + timedelta(days=3), "objected", department=wrong,
                       data={"department": wrong[1]})
        lead_status = ReferralStatus.PENDING if status == CaseStatus.REFERRED else (
            ReferralStatus.CLOSED if status == CaseStatus.CONCLUDED else ReferralStatus.ACCEPTED)
        referral_id = self.referral(case_id, lead, ReferralRole.LEAD, lead_status, routed)
        row["lead_department_id"] = lead[0]
        kind = rng.choice(["transfer", "assign"])
        self.event(case_id, routed, "referred", department=self.bureau,
                   data={"kind": kind, "department": lead[1], "role": "lead"})
        for co in rng.sample(self.co_departments, rng.choices((0, 1, 2), (75, 20, 5))[0]):
            if co != lead:
                self.referral(case_id, co, ReferralRole.CO, ReferralStatus.ACCEPTED
                              if lead_status != ReferralStatus.PENDING else ReferralStatus.PENDING, routed)
                self.event(case_id, routed, "referred", department=self.bureau,
                           data={"kind": kind, "department": co[1], "role": "co"})
        if status == CaseStatus.REFERRED:
            open_dues.append(self.clock(case_id, ClockKind.ACCEPTANCE, routed, rules.ACCEPTANCE_NOTICE_DAYS,
                                        referral_id=referral_id)["due_on"])
            self.clock(case_id, ClockKind.OBJECTION, routed, rules.OBJECTION_WORKING_DAYS + 2,
                       referral_id=referral_id)
            row["next_due_on"] = min(open_dues)
            return
        accepted = routed + timedelta(days=rng.randrange(1, 10))
        self.clock(case_id, ClockKind.ACCEPTANCE, routed, rules.ACCEPTANCE_NOTICE_DAYS, stopped=accepted,
                   referral_id=referral_id)
        self.event(case_id, accepted, "accepted", department=lead, data={"department": lead[1]})
        extension = rules.EXTENSION_MAX_DAYS if rng.random() < 0.1 else 0
        if status == CaseStatus.IN_PROGRESS:
            for n in range(rng.randrange(0, 4)):
                self.event(case_id, accepted + timedelta(days=5 * (n + 1)), "progress", department=lead,
                           text_="已约谈相关单位负责人，正在调查核实。")
            if rng.random() < 0.3:
                self.event(case_id, accepted + timedelta(days=2), "note", department=lead, internal=True,
                           text_="信访人情绪较激动，注意稳控。")
            if extension:
                self.event(case_id, accepted + timedelta(days=40), "extension_approved", data={"days": extension})
            handling = self.clock(case_id, ClockKind.HANDLING, accepted, rules.HANDLING_DAYS, extension=extension,
                                  paused=rng.random() < 0.05)
            if handling["paused_since"] is None:
                open_dues.append(handling["due_on"])
            row["next_due_on"] = min(open_dues) if open_dues else None
            return
        answered = accepted + timedelta(days=rng.randrange(20, 60))
        self.clock(case_id, ClockKind.HANDLING, accepted, rules.HANDLING_DAYS, stopped=answered, extension=extension)
        self.event(case_id, answered, "answered", department=lead,
                   data={"outcome": rng.choice(["support", "explain", "no_support"])})
        if status == CaseStatus.ANSWERED:
            self.clock(case_id, ClockKind.REVIEW_REQUEST, answered, rules.REVIEW_REQUEST_DAYS)
            return
        requested = answered + timedelta(days=rng.randrange(1, 30))
        self.clock(case_id, ClockKind.REVIEW_REQUEST, answered, rules.REVIEW_REQUEST_DAYS, stopped=requested)
        if status == CaseStatus.REVIEW or rng.random() < 0.2:
            self.event(case_id, requested, "review_requested")
            if status == CaseStatus.REVIEW:
                open_dues.append(self.clock(case_id, ClockKind.REVIEW, requested, rules.REVIEW_DAYS)["due_on"])
                row["next_due_on"] = min(open_dues)
                return
            self.clock(case_id, ClockKind.REVIEW, requested, rules.REVIEW_DAYS,
                       stopped=requested + timedelta(days=rng.randrange(5, 30)))
        else:
            self.event(case_id, requested, "rated", data={"value": rng.choice(
                ["satisfied", "satisfied", "basically_satisfied", "dissatisfied"])})
        self.event(case_id, requested + timedelta(days=31), "concluded")

    def flush(self, conn) -> int:
        written = 0
        for model in (Case, Petitioner, Referral, Clock, ClockPause, CaseEvent):
            rows = self.rows[model]
            if rows:
                conn.execute(insert(model.__table__), rows)
                written += len(rows)
                rows.clear()
        return written


def save_counters(db, counters: dict) -> None:
    """Reference counters continue after the generated numbers, so new cases never collide."""
    for scope, last in counters.items():
        row = db.session.get(ReferenceCounter, scope)
        if row is None:
            db.session.add(ReferenceCounter(scope=scope, last=last))
        else:
            row.last = max(row.last, last)
    db.session.commit()


def fix_sequences(db) -> None:
    """On PostgreSQL the ids were given explicitly: move each sequence past them."""
    if db.engine.dialect.name != "postgresql":
        return
    for model in (Case, Petitioner, Referral, Clock, ClockPause, CaseEvent):
        table = model.__table__.name
        db.session.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))"))
    db.session.commit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--cases", type=int, default=100_000, help="cases the database should hold")
    parser.add_argument("--seed", type=int, default=20261125, help="random seed (same seed, same data)")
    args = parser.parse_args(argv)
    if os.environ.get("PORTAL_ENV") == "production":
        print("Refused: PORTAL_ENV=production.", file=sys.stderr)
        return 2
    if not os.environ.get("PORTAL_DATABASE_URL"):
        print("Set PORTAL_DATABASE_URL to the database to fill (e.g. sqlite:///instance/bench.db).", file=sys.stderr)
        return 2

    from flask_migrate import upgrade

    from portal import create_app
    from portal.extensions import db
    from portal.timeutil import today

    app = create_app()
    with app.app_context():
        upgrade()
        departments, categories = prepare(db)
        have = db.session.scalar(select(func.count(Case.id)))
        wanted = args.cases - have
        if wanted <= 0:
            print(f"{have} cases already there; nothing to add.")
            return 0
        print(f"Adding {wanted} cases to {have} ({db.engine.url.render_as_string(hide_password=True)})")
        builder = Builder(random.Random(args.seed + have), departments, categories, next_ids(db),
                          reference_numbers(db), today())
        started = time.perf_counter()
        db.session.remove()
        rows = 0
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":  # outside any transaction, straight on the driver's connection
                conn.connection.dbapi_connection.execute("PRAGMA synchronous=OFF")
            for done in range(0, wanted, BATCH):
                with conn.begin():
                    for _ in range(min(BATCH, wanted - done)):
                        builder.case()
                    rows += builder.flush(conn)
                if (done // BATCH) % 10 == 9:
                    print(f"  {done + BATCH} cases, {rows} rows, {time.perf_counter() - started:.1f} s", flush=True)
        save_counters(db, builder.counters)
        fix_sequences(db)
        # Fresh planner statistics; on PostgreSQL also the visibility map (what autovacuum keeps up in a live
        # database), without which COUNT(*) reads the whole table instead of an index.
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE")
        total = db.session.scalar(select(func.count(Case.id)))
        print(f"Done: {wanted} cases ({rows} rows) in {time.perf_counter() - started:.1f} s; {total} cases in all.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
