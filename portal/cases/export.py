"""Exports of the case list (CSV and XLSX) for the current filter, with ID numbers and phones masked.

An export is an access to personal data: each one writes an audit event with the filter and the number of rows
before the first byte is sent. The rows are exactly the cases counted then (their ids are fixed first) and are
read in batches, so memory stays flat for 100,000 cases.
"""
from __future__ import annotations

import csv
import io
import tempfile
from datetime import date

from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from portal import policy
from portal.accounts.models import Department
from portal.audit.services import record
from portal.extensions import db
from portal.timeutil import today

from . import bp
from .clocks import due_state
from .listing import SORTS, conditions, parse_filter
from .models import Case, CaseStatus, Category, Channel, MatterType, Petitioner
from .services import mask_id_number, mask_phone

BATCH = 1000
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A cell starting with one of these is a formula to Excel: user-written text is prefixed with ' (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _safe(value):
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _texts() -> dict:
    """Every translated text of the file, fixed before streaming starts (the generator runs after the view)."""
    return {
        "headers": [_("Reference"), _("Received"), _("Channel"), _("Matter type"), _("Category"), _("Subject"),
                    _("Petitioners"), _("ID numbers (masked)"), _("Phones (masked)"), _("Status"),
                    _("Lead department"), _("Next due date"), _("Time limit")],
        # One table per enum: members of different enums can share a value ("review", "pending").
        "channel": {m: str(m.label) for m in Channel},
        "matter_type": {m: str(m.label) for m in MatterType},
        "status": {m: str(m.label) for m in CaseStatus},
        "overdue": _("Overdue"),
        "near": _("Due soon"),
        "sheet": _("Cases"),
    }


def _row(case, people: list, on: date, texts: dict) -> list:
    state = due_state(case.next_due_on, on)
    return [
        case.reference, case.received_on, texts["channel"][case.channel], texts["matter_type"][case.matter_type],
        case.category or "", case.subject,
        "；".join(p.name for p in people),
        "；".join(mask_id_number(p.id_number) for p in people if p.id_number),
        "；".join(mask_phone(p.phone) for p in people if p.phone),
        texts["status"][case.status], case.lead_department or "",
        case.next_due_on, texts[state] if state else "",
    ]


def _batches(app, ids: list[int], on: date, texts: dict):
    """The exported rows in the list's order, BATCH cases at a time, as plain rows (two queries a batch).

    Each batch is read in an application context of its own that is closed again before the rows are handed
    on, so no context stays pushed while the response waits for the client.
    """
    lead = aliased(Department)
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        with app.app_context():
            cases = {row.id: row for row in db.session.execute(
                select(Case.id, Case.reference, Case.received_on, Case.channel, Case.matter_type,
                       Category.name.label("category"), Case.subject, Case.status,
                       lead.name.label("lead_department"), Case.next_due_on)
                .outerjoin(Category, Case.category_id == Category.id)
                .outerjoin(lead, Case.lead_department_id == lead.id)
                .where(Case.id.in_(chunk)))}
            people = {case_id: [] for case_id in chunk}
            for person in db.session.execute(
                    select(Petitioner.case_id, Petitioner.name, Petitioner.id_number, Petitioner.phone)
                    .where(Petitioner.case_id.in_(chunk)).order_by(Petitioner.case_id, Petitioner.position,
                                                                    Petitioner.id)):
                people[person.case_id].append(person)
        yield [_row(cases[case_id], people[case_id], on, texts) for case_id in chunk if case_id in cases]


def _csv(app, ids: list[int], on: date, texts: dict):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # the BOM makes Excel read the file as UTF-8 (Chinese text)
    writer.writerow(texts["headers"])
    yield buffer.getvalue().encode("utf-8")
    for rows in _batches(app, ids, on, texts):
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(["" if v is None else v.isoformat() if isinstance(v, date) else _safe(v) for v in row]
                         for row in rows)
        yield buffer.getvalue().encode("utf-8")


def _xlsx(app, ids: list[int], on: date, texts: dict):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)  # rows go to a temporary file as they come, not into memory
    sheet = workbook.create_sheet(texts["sheet"])
    sheet.append(texts["headers"])

    def text_cell(value):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # text stays text, never a formula
        return cell

    for rows in _batches(app, ids, on, texts):
        for row in rows:
            # Plain values are fast; only text that openpyxl would take for a formula ("=...") gets a cell.
            sheet.append([text_cell(v) if isinstance(v, str) and v.startswith("=") else v for v in row])
    with tempfile.TemporaryFile() as out:
        workbook.save(out)
        out.seek(0)
        while chunk := out.read(64 * 1024):
            yield chunk


@bp.route("/cases/export.csv")
@policy.requires("case.export")
def export_csv():
    return export("csv")


@bp.route("/cases/export.xlsx")
@policy.requires("case.export")
def export_xlsx():
    return export("xlsx")


def export(fmt: str):
    f = parse_filter(request.args)
    texts = _texts()
    ids = list(db.session.scalars(select(Case.id).where(*conditions(current_user, f)).order_by(*SORTS[f.sort])))
    record("case.exported", object_type="case", details={"format": fmt, "filter": f.describe(), "rows": len(ids)})
    db.session.commit()
    on = today()
    stamp = on.strftime("%Y%m%d")
    app = current_app._get_current_object()
    body = _csv(app, ids, on, texts) if fmt == "csv" else _xlsx(app, ids, on, texts)
    response = Response(body,
                        mimetype="text/csv" if fmt == "csv" else XLSX_TYPE)
    if fmt == "csv":
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="cases-{stamp}.{fmt}"'
    response.headers["Cache-Control"] = "no-store"
    return response
