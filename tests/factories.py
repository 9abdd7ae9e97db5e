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
