"""Workspaces for the scheduling tests, built directly with the models (Conference + ConferenceMember rows)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar
from sqlalchemy import select

from portal.accounts.models import DepartmentKind, Role
from portal.conferences.models import Conference, ConferenceMember, Meeting
from portal.extensions import db
from portal.mail.models import OutboxMessage
from tests.factories import make_department, make_user
from tests.helpers import UserRef, database

ZONE = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Workspace:
    id: int
    office: UserRef
    convener: UserRef
    reps: tuple[UserRef, ...]  # one representative per member department
    department_ids: tuple[int, ...]
    outsider: UserRef  # representative of a department that is not a member


def _ref(user) -> UserRef:
    return UserRef(user.id, user.login, user.email, user.phone, user.department_id, user.display_name)


def make_workspace(title: str = "欠薪问题联席会议", departments: int = 3, *, office_user=None, convener=None,
                   shared_department_ids: tuple[int, ...] = ()) -> Workspace:
    """Call inside an app context. Departments in shared_department_ids join as members too."""
    from portal.accounts.models import Department

    bureau = db.session.scalar(select(Department).where(Department.kind == DepartmentKind.PETITION_BUREAU))
    if bureau is None:
        bureau = make_department(name="Y市信访局测试", kind=DepartmentKind.PETITION_BUREAU)
    office_user = office_user or make_user(Role.STAFF, bureau)
    convener = convener or make_user(Role.LEADER)
    depts = [make_department() for _ in range(departments)]
    depts += [db.session.get(Department, i) for i in shared_department_ids]
    reps = [make_user(Role.DEPARTMENT_REP, d) for d in depts]
    outsider = make_user(Role.DEPARTMENT_REP, make_department())
    conference = Conference(title=title, purpose="", convener_id=convener.id, office_department_id=bureau.id,
                            created_by_id=office_user.id)
    db.session.add(conference)
    db.session.flush()
    for d in depts:
        db.session.add(ConferenceMember(conference_id=conference.id, department_id=d.id))
    db.session.commit()
    return Workspace(conference.id, _ref(office_user), _ref(convener), tuple(_ref(r) for r in reps),
                     tuple(d.id for d in depts), _ref(outsider))


def add_workspace(app, **kwargs) -> Workspace:
    with database(app):
        return make_workspace(**kwargs)


def local_day(days_ahead: int) -> date:
    return datetime.now(ZONE).date() + timedelta(days=days_ahead)


def slot_data(days_ahead: int = 10, at: str = "09:00", minutes: int = 90, **extra) -> dict:
    data = {"on": local_day(days_ahead).isoformat(), "at": at, "minutes": str(minutes), "place": "", "room": "",
            "online_link": ""}
    data.update(extra)
    if not (data["place"] or data["room"] or data["online_link"]):
        data["place"] = "市政府3号楼"
    return data


def utc_of(days_ahead: int, at: str) -> datetime:
    hour, minute = map(int, at.split(":"))
    return datetime.combine(local_day(days_ahead), time(hour, minute), tzinfo=ZONE).astimezone(UTC)


def get_meeting(app, meeting_id: int) -> Meeting:
    with database(app) as session:
        meeting = session.get(Meeting, meeting_id)
        _ = [(s.id, len(s.answers)) for s in meeting.slots]
        return meeting


def calendars(app, recipient: str) -> list[Calendar]:
    """The iCalendar attachments sent to `recipient`, oldest first, parsed back."""
    with database(app) as session:
        messages = session.scalars(select(OutboxMessage).where(OutboxMessage.recipient == recipient)
                                   .order_by(OutboxMessage.id)).all()
        found = []
        for message in messages:
            for attachment in message.attachments:
                if attachment.content_type.startswith("text/calendar"):
                    found.append((attachment.content_type, Calendar.from_ical(attachment.data)))
        return found


def vevent(calendar: Calendar):
    events = [c for c in calendar.walk("VEVENT")]
    assert len(events) == 1
    return events[0]
