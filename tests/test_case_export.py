"""Exports of the case list: the current filter, masked ID numbers and phones, one audit event per export."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from portal.accounts.models import Role
from portal.cases.models import CaseStatus
from portal.timeutil import today
from tests.helpers import audit_events, is_login_redirect, sign_in
from tests.test_case_list import add_case

ID_NUMBER = "320102199001011234"
PHONE = "13912345678"


def read_csv(response) -> list[list[str]]:
    raw = response.get_data()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV without a UTF-8 byte order mark"
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def read_xlsx(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.get_data()), read_only=True).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def staff(app, client):
    return sign_in(app, client, Role.STAFF, locale="en")


def test_csv_export_of_the_current_filter_is_masked_and_audited(app, client, staff):
    wages = add_case(app, name="张三", id_number=ID_NUMBER, phone=PHONE, subject="拖欠工资",
                     petitioners=[("李四", "13700001111")])
    add_case(app, name="王五", subject="噪音扰民", facts="夜间施工噪音。", status=CaseStatus.CONCLUDED)

    response = client.get("/cases/export.csv?q=工资&status=open&page=3")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Reference", "Received", "Channel"]
    assert len(body) == 1  # the filter applies; the page does not
    row = dict(zip(header, body[0]))
    assert row["Reference"] == wages.reference
    assert row["Subject"] == "拖欠工资"
    assert row["Petitioners"] == "张三；李四"
    assert row["ID numbers (masked)"] == "3201**********1234"
    assert row["Phones (masked)"] == "139****5678；137****1111"
    raw = response.get_data(as_text=True)
    assert ID_NUMBER not in raw and PHONE not in raw and "13700001111" not in raw

    events = audit_events(app, "case.exported")
    assert len(events) == 1
    details = json.loads(events[0].details)
    assert details == {"format": "csv", "filter": {"q": "工资", "status": ["open"]}, "rows": 1}
    assert events[0].actor_id == staff.id


def test_xlsx_export_is_masked_audited_and_keeps_text_as_text(app, client, staff):
    first = add_case(app, id_number=ID_NUMBER, phone=PHONE, subject="=HYPERLINK(\"http://x\")",
                     received_on=today() - timedelta(days=3))
    second = add_case(app, subject="第二件", received_on=today() - timedelta(days=1))

    response = client.get("/cases/export.xlsx?sort=received")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    rows = read_xlsx(response)
    header, body = rows[0], rows[1:]
    assert [r[0] for r in body] == [first.reference, second.reference]  # the list's sort order
    row = dict(zip(header, body[0]))
    assert row["Subject"] == "=HYPERLINK(\"http://x\")"  # stored as text, not as a formula
    assert row["ID numbers (masked)"] == "3201**********1234" and row["Phones (masked)"] == "139****5678"
    assert all(ID_NUMBER not in str(v) and PHONE not in str(v) for r in rows for v in r)

    details = json.loads(audit_events(app, "case.exported")[0].details)
    assert details == {"format": "xlsx", "filter": {"sort": "received"}, "rows": 2}


def test_status_names_are_the_case_status_ones(app, client, staff):
    add_case(app, status=CaseStatus.REVIEW)  # "review" is also a clock kind: the case status's name is wanted
    row = dict(zip(*read_csv(client.get("/cases/export.csv"))[:2]))
    assert row["Status"] == "Under review"
    assert "Under review" in client.get("/cases", headers={"HX-Request": "true"}).get_data(as_text=True)


def test_csv_cells_that_look_like_formulas_are_defused(app, client, staff):
    add_case(app, subject="=1+2", name="@SUM(A1)")
    row = dict(zip(*read_csv(client.get("/cases/export.csv"))[:2]))
    assert row["Subject"] == "'=1+2" and row["Petitioners"] == "'@SUM(A1)"


def test_export_of_nothing_still_has_a_header_and_is_audited(app, client, staff):
    rows = read_csv(client.get("/cases/export.csv?q=不存在的事项"))
    assert len(rows) == 1
    assert json.loads(audit_events(app, "case.exported")[0].details)["rows"] == 0


def test_large_export_streams_in_batches(app, client, staff, monkeypatch):
    from portal.cases import export

    monkeypatch.setattr(export, "BATCH", 2)
    refs = [add_case(app, received_on=today() - timedelta(days=i)).reference for i in range(5)]
    response = client.get("/cases/export.csv")
    assert response.is_streamed
    assert [r[0] for r in read_csv(response)[1:]] == refs  # newest first, every batch in order


def test_bad_filter_values_are_ignored_in_exports(app, client, staff):
    add_case(app)
    for query in ("page=abc&due_within=-5&status=bogus&sort=x&department=abc", "q=%00"):
        assert client.get(f"/cases/export.csv?{query}").status_code == 200
        assert client.get(f"/cases/export.xlsx?{query}").status_code == 200


@pytest.mark.parametrize("role", [Role.DEPARTMENT_REP, Role.MEDIATOR, Role.PETITIONER, Role.ADMIN])
def test_only_bureau_staff_and_leaders_export(app, client, role):
    add_case(app)
    sign_in(app, client, role)
    assert client.get("/cases/export.csv").status_code == 403
    assert client.get("/cases/export.xlsx").status_code == 403
    assert audit_events(app, "case.exported") == []


def test_leader_exports_and_anonymous_is_sent_to_log_in(app, client):
    add_case(app)
    assert is_login_redirect(client.get("/cases/export.csv"))
    sign_in(app, client, Role.LEADER)
    assert len(read_csv(client.get("/cases/export.csv"))) == 2


def test_export_links_carry_the_filter(app, client, staff):
    add_case(app, subject="拖欠工资")
    body = client.get("/cases?q=工资&status=open&page=1", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'href="/cases/export.csv?q=%E5%B7%A5%E8%B5%84&amp;status=open"' in body
    assert 'href="/cases/export.xlsx?q=%E5%B7%A5%E8%B5%84&amp;status=open"' in body
