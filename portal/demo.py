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
    ("admin@yx.example", "系统管理员", Role.ADMIN, "YX-XFJ"),
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
    return True


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
