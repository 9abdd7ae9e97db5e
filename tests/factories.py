"""Test data builders. They write through the models directly; the services are what the tests exercise."""
from __future__ import annotations

import itertools
import secrets

from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.accounts.services import hash_password
from portal.extensions import db
from portal.timeutil import utcnow

PASSWORD = "Passw0rd-test"
_seq = itertools.count(1)


def make_department(name: str | None = None, code: str | None = None,
                    kind: DepartmentKind = DepartmentKind.GOVERNMENT_DEPARTMENT, active: bool = True) -> Department:
    n = next(_seq)
    department = Department(name=name or f"测试部门{n}", code=code or f"T{n:04d}", kind=kind, active=active)
    db.session.add(department)
    db.session.commit()
    return department


def make_user(role: Role = Role.PETITIONER, department: Department | None = None, *, email: str | None = None,
              phone: str | None = None, name: str | None = None, password: str = PASSWORD,
              confirmed: bool = True, active: bool = True, locale: str = "zh_CN") -> User:
    n = next(_seq)
    if role == Role.DEPARTMENT_REP and department is None:
        department = make_department()
    if email is None and phone is None:
        email = f"{role.value}{n}@test.example"
    user = User(display_name=name or f"用户{n}", role=role, department=department, email=email, phone=phone,
                password_hash=hash_password(password), session_token=secrets.token_hex(16), active=active,
                contact_confirmed_at=utcnow() if confirmed else None, locale=locale)
    db.session.add(user)
    db.session.commit()
    return user


def make_case(*, petitioner_user: User | None = None, name: str = "陈信访", id_number: str = "320102199001011234",
              phone: str = "13800000001", subject: str = "拖欠工资三个月", received_on=None, channel=None,
              matter_type=None, registered_by: User | None = None, start_routing_clock: bool = True):
    """A registered case waiting for triage, with one petitioner and its routing clock."""
    from datetime import date

    from portal.cases.clocks import start_clock
    from portal.cases.models import Case, Channel, ClockKind, MatterType, Petitioner
    from portal.cases.services import add_event, new_query_code, next_reference

    received_on = received_on or date.today()
    case = Case(reference=next_reference(received_on.year), query_code=new_query_code(),
                channel=channel or (Channel.ONLINE if petitioner_user else Channel.LETTER),
                matter_type=matter_type or MatterType.APPEAL, subject=subject,
                facts="某公司自2026年6月起拖欠工资。", request="请求督促支付工资。", place="Y市东区",
                received_on=received_on, submitted_by=petitioner_user, registered_by=registered_by)
    case.petitioners.append(Petitioner(name=name, id_number=id_number, phone=phone, address="Y市东区和平路1号",
                                       user_id=petitioner_user.id if petitioner_user else None))
    db.session.add(case)
    if start_routing_clock:
        start_clock(case, ClockKind.ROUTING, received_on)
    add_event(case, "registered", actor=registered_by, data={"channel": case.channel.value})
    db.session.commit()
    return case
