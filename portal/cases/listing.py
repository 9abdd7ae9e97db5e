"""Finding cases: the filters of the case list, read from the address, turned into one SQL query.

The list page, its htmx fragment, the exports and the petitioner's own list all go through here, so a
bookmarked address, an export and the rows on screen always agree. Who sees which case is not decided
here: every query starts from policy.visible_cases_clause(user).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import ceil

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.sql.elements import True_
from sqlalchemy.orm import joinedload, load_only, selectinload

from portal import policy
from portal.accounts.models import Department
from portal.extensions import db
from portal.timeutil import today as local_today

from .models import OPEN_STATUSES, Case, CaseStatus, Channel, MatterType, Petitioner, Referral, ReferralStatus

PER_PAGE = 50
MAX_PAGE = 100_000  # a larger page number in the address is bad input, not a database error
MAX_DUE_WITHIN = 366  # days; a limit runs for a few months at most
MAX_SEARCH_LENGTH = 100
OPEN = "open"  # status filter value: every status that still needs work

# sort key in the address -> ORDER BY; the case id last, so that pages never overlap
SORTS = {
    "-received": (Case.received_on.desc(), Case.id.desc()),
    "received": (Case.received_on.asc(), Case.id.asc()),
    "due": (Case.next_due_on.asc().nulls_last(), Case.id.asc()),
    "-due": (Case.next_due_on.desc().nulls_last(), Case.id.desc()),
    "reference": (Case.reference.asc(),),
    "-reference": (Case.reference.desc(),),
}
DEFAULT_SORT = "-received"
SORT_LABELS = {
    "-received": _l("Received, newest first"),
    "received": _l("Received, oldest first"),
    "due": _l("Next due date, soonest first"),
    "-due": _l("Next due date, latest first"),
    "reference": _l("Reference, ascending"),
    "-reference": _l("Reference, descending"),
}


@dataclass
class CaseFilter:
    """The filters of one view of the list, as read from the address."""

    q: str = ""
    statuses: list[str] = field(default_factory=list)  # CaseStatus values, or OPEN
    channels: list[Channel] = field(default_factory=list)
    matter_types: list[MatterType] = field(default_factory=list)
    department_id: int | None = None
    due_within: int | None = None
    overdue: bool = False
    sort: str = DEFAULT_SORT
    page: int = 1
    notices: list[str] = field(default_factory=list)  # what was ignored and why, for the user

    def args(self, **changes) -> dict:
        """The filter as address parameters (defaults left out): for links, the pager and exports."""
        values = {
            "q": self.q,
            "status": list(self.statuses),
            "channel": [c.value for c in self.channels],
            "matter_type": [m.value for m in self.matter_types],
            "department": self.department_id,
            "due_within": self.due_within,
            "overdue": "1" if self.overdue else None,
            "sort": self.sort if self.sort != DEFAULT_SORT else None,
            "page": self.page if self.page != 1 else None,
        }
        values.update(changes)
        return {k: v for k, v in values.items() if v not in (None, "", [])}

    def describe(self) -> dict:
        """The filter for the audit trail (without the page)."""
        return self.args(page=None)


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _enum_values(args, name: str, enum_cls, bad: list[str]) -> list:
    """The known values of a repeatable parameter; unknown ones go to `bad`."""
    found = []
    for raw in args.getlist(name):
        raw = raw.strip()
        if not raw:
            continue
        try:
            value = enum_cls(raw)
        except ValueError:
            bad.append(raw[:40])
            continue
        if value not in found:
            found.append(value)
    return found


def parse_filter(args) -> CaseFilter:
    """Read the list filters from request.args. Bad values are dropped and explained, never an error."""
    notices: list[str] = []
    f = CaseFilter(notices=notices)

    # Control characters (a NUL byte is refused by PostgreSQL) never belong in a search.
    q = " ".join("".join(ch for ch in (args.get("q") or "") if ch.isprintable() or ch.isspace()).split())
    if len(q) > MAX_SEARCH_LENGTH:
        notices.append(_("The search text was shortened to %(n)d characters.", n=MAX_SEARCH_LENGTH))
        q = q[:MAX_SEARCH_LENGTH]
    f.q = q

    for raw in args.getlist("status"):
        raw = raw.strip()
        if not raw:
            continue
        if raw != OPEN and raw not in {s.value for s in CaseStatus}:
            notices.append(_('Unknown status "%(value)s" ignored.', value=raw[:40]))
        elif raw not in f.statuses:
            f.statuses.append(raw)
    bad: list[str] = []
    f.channels = _enum_values(args, "channel", Channel, bad)
    notices.extend(_('Unknown channel "%(value)s" ignored.', value=v) for v in bad)
    bad = []
    f.matter_types = _enum_values(args, "matter_type", MatterType, bad)
    notices.extend(_('Unknown matter type "%(value)s" ignored.', value=v) for v in bad)

    raw = (args.get("department") or "").strip()
    if raw:
        number = _int(raw)
        if number is None or not 1 <= number <= 2**31 - 1:
            notices.append(_("Unknown department ignored."))
        else:
            f.department_id = number

    raw = (args.get("due_within") or "").strip()
    if raw:
        number = _int(raw)
        if number is None or not 0 <= number <= MAX_DUE_WITHIN:
            notices.append(_('"Due within" takes a whole number of days from 0 to %(max)d; ignored.',
                             max=MAX_DUE_WITHIN))
        else:
            f.due_within = number

    f.overdue = (args.get("overdue") or "").strip().lower() in {"1", "on", "true", "yes", "y"}

    raw = (args.get("sort") or "").strip()
    if raw in SORTS:
        f.sort = raw
    elif raw:
        notices.append(_("Unknown sort order ignored."))

    raw = (args.get("page") or "").strip()
    if raw:
        number = _int(raw)
        if number is None or not 1 <= number <= MAX_PAGE:
            notices.append(_("Unknown page number; showing the first page."))
        else:
            f.page = number
    return f


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


REFERENCE_RE = re.compile(r"^[A-Za-z]{2}-\d{4}-\d{6}$")


def _contains(column, pattern: str):
    """Substring match, case-insensitive for letters. A word without letters that have case (Chinese, digits)
    needs no case folding, and ILIKE's folding of every row costs: PostgreSQL's ILIKE is about 2.5 times slower
    than LIKE on Chinese text. SQLite's LIKE already ignores ASCII case (its lower() knows no other letters)."""
    if db.session.get_bind().dialect.name == "sqlite" or pattern.lower() == pattern.upper():
        return column.like(pattern, escape="\\")
    return column.ilike(pattern, escape="\\")


def search_clause(q: str):
    """Reference, petitioner name, subject, or a substring of the facts (Chinese needs no word splitting).

    Every word must match. A whole reference number finds that case through its unique index. Other words
    are substring matches (LIKE '%...%'), a scan of the visible cases: about 0.1 s for 100,000 cases on SQLite
    (see benchmarks/). A trigram index (pg_trgm) would not help the usual one- and two-character Chinese
    words, which have no trigram, so there is none.
    """
    conditions = []
    for term in q.split():
        if REFERENCE_RE.match(term):
            conditions.append(Case.reference == term.upper())
            continue
        pattern = _like_pattern(term)
        conditions.append(or_(
            _contains(Case.reference, pattern),
            _contains(Case.subject, pattern),
            _contains(Case.facts, pattern),
            Case.id.in_(select(Petitioner.case_id).where(_contains(Petitioner.name, pattern))),
        ))
    return conditions


def conditions(user, f: CaseFilter, on: date | None = None) -> list:
    """The WHERE conditions of a filter for `user`: what the user may see, narrowed by the filter."""
    on = on or local_today()
    visible = policy.visible_cases_clause(user)
    where = [] if isinstance(visible, True_) else [visible]  # "WHERE 1 = 1" would cost a scan on SQLite
    if f.q:
        where.extend(search_clause(f.q))
    if f.statuses:
        wanted = {CaseStatus(s) for s in f.statuses if s != OPEN}
        if OPEN in f.statuses:
            wanted.update(OPEN_STATUSES)
        where.append(Case.status.in_(sorted(wanted, key=lambda s: s.value)))
    if f.channels:
        where.append(Case.channel.in_(f.channels))
    if f.matter_types:
        where.append(Case.matter_type.in_(f.matter_types))
    if f.department_id is not None:
        # The lead department, or any department holding a referral it has not returned.
        where.append(or_(Case.lead_department_id == f.department_id,
                         Case.id.in_(select(Referral.case_id).where(Referral.department_id == f.department_id,
                                                                    Referral.status != ReferralStatus.OBJECTED))))
    if f.overdue and f.due_within is not None:
        where.append(Case.next_due_on <= on + timedelta(days=f.due_within))  # overdue, or due within N days
    elif f.overdue:
        where.append(Case.next_due_on < on)
    elif f.due_within is not None:
        where.append(Case.next_due_on.between(on, on + timedelta(days=f.due_within)))
    return where


def row_options():
    """What a list row shows, loaded in a fixed number of queries. Only the columns a row shows are read (every
    other one raises if touched, so a template change cannot turn into a query per row): ORM objects with all
    their columns cost more time than the SQL."""
    return (
        load_only(Case.id, Case.reference, Case.subject, Case.status, Case.received_on, Case.next_due_on,
                  Case.lead_department_id, Case.version, raiseload=True),
        joinedload(Case.lead_department).load_only(Department.name, raiseload=True),
        selectinload(Case.petitioners).load_only(Petitioner.position, Petitioner.name, Petitioner.phone,
                                                  raiseload=True),
    )


@dataclass
class Page:
    """One page of results; has what templates/_macros/forms.html's pager() reads."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def prev_num(self) -> int:
        return self.page - 1

    @property
    def next_num(self) -> int:
        return self.page + 1

    @property
    def first(self) -> int:
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return self.first + len(self.items) - 1 if self.items else 0


def find_cases(user, f: CaseFilter, per_page: int = PER_PAGE, on: date | None = None) -> Page:
    """One page of the cases `user` may see that match `f`, in a fixed number of queries: the count, the page,
    the petitioners of the page. On SQLite a search reads the whole table anyway, so there the count comes with
    the page (COUNT(*) OVER ()) from one scan instead of two."""
    where = conditions(user, f, on)
    page = max(1, f.page)
    query = select(Case).where(*where).order_by(*SORTS[f.sort]).options(*row_options()).limit(per_page)
    if f.q and db.session.get_bind().dialect.name == "sqlite":
        # SQLite: one scan for count and page (measured 0.05-0.1 s at 100,000 cases, against up to 0.35 s for a
        # count and then a page walked in date order). PostgreSQL counts in parallel: there two queries are faster.
        rows = db.session.execute(query.add_columns(func.count().over().label("total"))
                                  .offset((page - 1) * per_page)).all()
        if rows or page == 1:
            return Page(items=[row[0] for row in rows], page=page, per_page=per_page,
                        total=rows[0].total if rows else 0)
    # COUNT(*) with no condition left (bureau-wide roles, no filter) is SQLite's instant table count.
    total = db.session.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    if total and (page - 1) * per_page >= total:
        page = ceil(total / per_page)  # past the end (an old bookmark): show the last page
    f.page = page
    items = list(db.session.scalars(query.offset((page - 1) * per_page))) if total else []
    return Page(items=items, page=page, per_page=per_page, total=total)


def department_choices() -> list[tuple[int, str]]:
    return [(d.id, d.name) for d in db.session.execute(select(Department.id, Department.name)
                                                        .order_by(Department.name))]


def own_status_summary(user) -> list[tuple[CaseStatus, int]]:
    """How many of the user's own cases are in each status, in the order of the workflow."""
    rows = dict(db.session.execute(select(Case.status, func.count(Case.id))
                                   .where(policy.visible_cases_clause(user)).group_by(Case.status)).all())
    return [(status, rows[status]) for status in CaseStatus if rows.get(status)]
