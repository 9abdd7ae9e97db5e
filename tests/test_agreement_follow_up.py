"""After the agreement takes effect: the judicial confirmation window and its records, performance reports by the
obliged party with evidence, the petitioner's answers, statuses and the overall status, the committee's status
decisions and supervision notices, reminders sent once, access per role and query counts."""
from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import rules
from portal.agreements.models import (
    AgreementObligation,
    AgreementReminder,
    AgreementStatus,
    ConfirmationResult,
    JudicialConfirmation,
    ObligationStatus,
    PerformanceEvidence,
    PerformanceReport,
)
from portal.timeutil import today, utcnow
from tests.helpers import (
    audit_actions,
    count,
    database,
    field_error,
    form_errors,
    is_login_redirect,
    outbox,
    text,
)
from tests.test_agreement_verify import build_agreement, client_for

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def folders(_app, tmp_path, monkeypatch):
    monkeypatch.setitem(_app.config, "UPLOAD_FOLDER", str(tmp_path / "uploads"))
    monkeypatch.setitem(_app.config, "PORTAL_KEY_FOLDER", str(tmp_path / "keys"))
    return tmp_path


def build(app, **kwargs):
    kwargs.setdefault("sealed", False)
    return build_agreement(app, **kwargs)


def page_of(a) -> str:
    return f"/agreements/{a.id}/follow-up"


def obligation(app, obligation_id) -> AgreementObligation:
    with database(app) as db:
        row = db.get(AgreementObligation, obligation_id)
        _ = [(r.answer, r.evidence) for r in row.reports]
        return row


def day(offset: int) -> str:
    return (today() + timedelta(days=offset)).isoformat()


def report(client, a, index=0, extent="performed", text_="已通过银行转账支付叁万元。", files=None):
    oid = a.obligation_ids[index]
    data = {f"report-{oid}-extent": extent, f"report-{oid}-text": text_}
    if files:
        data[f"report-{oid}-evidence"] = files
    return client.post(f"/agreements/{a.id}/obligations/{oid}/reports", data=data,
                       content_type="multipart/form-data")


def answer(client, a, report_id, value="confirmed", note=""):
    return client.post(f"/agreements/{a.id}/reports/{report_id}/answer",
                       data={f"answer-{report_id}-answer": value, f"answer-{report_id}-note": note})


def reports(app, obligation_id) -> list[PerformanceReport]:
    return list(obligation(app, obligation_id).reports)


# --- judicial confirmation ----------------------------------------------------------------------------------

def test_the_window_runs_30_days_from_the_effective_date_with_days_left(app):
    a = build(app, effective_days_ago=25)
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    last = a.effective_on + timedelta(days=rules.JUDICIAL_CONFIRMATION_DAYS)
    assert f"{last.year}" in page and "5 days left" in page
    assert "No application recorded." in page
    assert "Record an application" not in page  # the parties see it; the committee records it


def test_a_closed_window(app):
    a = build(app, effective_days_ago=31)
    page = text(client_for(app, a.mediator).get(page_of(a)))
    assert "Window closed" in page and "Record an application" not in page


def test_the_mediator_records_an_application_and_the_result(app):
    a = build(app, effective_days_ago=3)
    mediator = client_for(app, a.mediator)
    assert "Record an application" in text(mediator.get(page_of(a)))
    response = mediator.post(f"/agreements/{a.id}/judicial", data={
        "judicial-applied_on": day(-1), "judicial-court_id": str(a.court_id), "judicial-court_name": "",
        "judicial-court_reference": "（2026）东民确字第12号"})
    assert response.status_code == 303
    with database(app) as db:
        [c] = db.scalars(select(JudicialConfirmation).where(JudicialConfirmation.agreement_id == a.id)).all()
        assert c.court_id == a.court_id and c.result == ConfirmationResult.PENDING
        cid = c.id
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    assert a.court_name in page and "（2026）东民确字第12号" in page and "Awaiting the court" in page
    # a second application while the first waits is refused
    response = mediator.post(f"/agreements/{a.id}/judicial", data={
        "judicial-applied_on": day(0), "judicial-court_name": "东区人民法院"})
    assert "already waiting" in form_errors(response)
    # the result: a date before the application is refused, then recorded
    response = mediator.post(f"/agreements/{a.id}/judicial/{cid}/result", data={
        "result-result": "confirmed", "result-result_on": day(-2), "result-note": ""})
    assert response.status_code == 200 and "between the application" in field_error(response, "result-result_on")
    response = mediator.post(f"/agreements/{a.id}/judicial/{cid}/result", data={
        "result-result": "confirmed", "result-result_on": day(0), "result-note": "裁定确认有效"})
    assert response.status_code == 303
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    assert "Confirmed by the court" in page and "裁定确认有效" in page
    assert "agreement.judicial_applied" in audit_actions(app) and "agreement.judicial_result" in audit_actions(app)
    assert any("Judicial confirmation" in m.subject for m in outbox(app, a.petitioner))


@pytest.mark.parametrize("data, field, message", [
    ({"judicial-applied_on": "", "judicial-court_name": "东区人民法院"}, "judicial-applied_on", "Enter the day"),
    ({"judicial-applied_on": "OFFSET:1", "judicial-court_name": "东区人民法院"}, "judicial-applied_on",
     "cannot be in the future"),
    ({"judicial-applied_on": "OFFSET:-5", "judicial-court_name": "东区人民法院"}, "judicial-applied_on",
     "must be made between"),
    ({"judicial-applied_on": "OFFSET:0", "judicial-court_name": ""}, "judicial-court_id", "Choose the court"),
    ({"judicial-applied_on": "OFFSET:0", "judicial-court_id": "COMMITTEE"}, "judicial-court_id",
     "Choose a court from the list"),
])
def test_application_rules(app, data, field, message):
    a = build(app, effective_days_ago=2)
    data = {k: (day(int(v.split(":")[1])) if v.startswith("OFFSET:") else
                str(a.committee_id) if v == "COMMITTEE" else v) for k, v in data.items()}
    response = client_for(app, a.mediator).post(f"/agreements/{a.id}/judicial", data=data)
    assert response.status_code == 200 and message in field_error(response, field)
    assert count(app, JudicialConfirmation, JudicialConfirmation.agreement_id == a.id) == 0


def test_a_rejection_needs_a_note(app):
    a = build(app, effective_days_ago=2)
    mediator = client_for(app, a.mediator)
    mediator.post(f"/agreements/{a.id}/judicial", data={"judicial-applied_on": day(0),
                                                        "judicial-court_name": "东区人民法院"})
    with database(app) as db:
        cid = db.scalar(select(JudicialConfirmation.id).where(JudicialConfirmation.agreement_id == a.id))
    response = mediator.post(f"/agreements/{a.id}/judicial/{cid}/result", data={
        "result-result": "rejected", "result-result_on": day(0)})
    assert "Say why" in field_error(response, "result-note")


def test_only_the_committee_records_judicial_confirmation(app):
    a = build(app, effective_days_ago=2)
    for who in (a.petitioner, a.rep, a.staff, a.leader, a.other_mediator, a.admin):
        response = client_for(app, who).post(f"/agreements/{a.id}/judicial", data={
            "judicial-applied_on": day(0), "judicial-court_name": "东区人民法院"})
        assert response.status_code == 403, who
    assert count(app, JudicialConfirmation, JudicialConfirmation.agreement_id == a.id) == 0


# --- performance --------------------------------------------------------------------------------------------

def test_the_obliged_department_reports_with_evidence_and_the_petitioner_confirms(app, folders):
    a = build(app)
    rep = client_for(app, a.rep)
    page = text(rep.get(page_of(a)))
    assert "Report performance" in page and "Not yet due or not reported" in page
    response = report(rep, a, files=[(io.BytesIO(PNG), "转账凭证.png")])
    assert response.status_code == 303
    [r] = reports(app, a.obligation_ids[0])
    assert r.extent == ObligationStatus.PERFORMED and [e.original_name for e in r.evidence] == ["转账凭证.png"]
    assert any("Performance reported" in m.subject for m in outbox(app, a.petitioner))
    # a second report while the first waits is refused
    assert "still waiting" in form_errors(report(rep, a))
    petitioner = client_for(app, a.petitioner)
    page = text(petitioner.get(page_of(a)))
    assert "转账凭证.png" in page and "I confirm this report" in page
    assert answer(petitioner, a, r.id).status_code == 303
    assert obligation(app, a.obligation_ids[0]).status == ObligationStatus.PERFORMED
    page = text(petitioner.get(page_of(a)))
    assert "Overall:" in page and 'class="tag overall-performed' in page
    assert "agreement.performance_reported" in audit_actions(app)
    assert "agreement.performance_answered" in audit_actions(app)


def test_a_partly_report_confirmed_makes_it_partly_and_a_dispute_keeps_it_open(app):
    a = build(app, due_in=(10, 20))
    rep, petitioner = client_for(app, a.rep), client_for(app, a.petitioner)
    report(rep, a, 0, extent="partly", text_="已支付一半。")
    [r] = reports(app, a.obligation_ids[0])
    response = answer(petitioner, a, r.id, "disputed", "")
    assert "Say what is disputed" in field_error(response, f"answer-{r.id}-note")
    assert answer(petitioner, a, r.id, "disputed", "未收到款项").status_code == 303
    assert obligation(app, a.obligation_ids[0]).status == ObligationStatus.PENDING
    report(rep, a, 0, extent="partly", text_="再次支付一半。")
    second = reports(app, a.obligation_ids[0])[1]
    answer(petitioner, a, second.id, "confirmed")
    assert obligation(app, a.obligation_ids[0]).status == ObligationStatus.PARTLY
    page = text(petitioner.get(page_of(a)))
    assert "未收到款项" in page and 'overall-partly' in page


def test_a_disputed_report_is_shown_as_disputed(app):
    a = build(app, due_in=(10, 20))
    rep, petitioner = client_for(app, a.rep), client_for(app, a.petitioner)
    report(rep, a, 0, extent="performed", text_="已全部支付。")
    [r] = reports(app, a.obligation_ids[0])
    page = text(petitioner.get(page_of(a)))
    assert "A report is waiting for the petitioner's answer" in page
    assert answer(petitioner, a, r.id, "disputed", "未收到款项").status_code == 303
    page = text(rep.get(page_of(a)))
    oid = a.obligation_ids[0]
    assert f'id="obligation-{oid}-disputed"' in page and "Report disputed" in page
    assert "The petitioner disputed the report of" in page and "未收到款项" in page
    assert f'id="obligation-{a.obligation_ids[1]}-disputed"' not in page


def test_an_overdue_obligation_with_an_unconfirmed_partly_report_says_so(app):
    a = build(app, effective_days_ago=20, due_in=(-2, 10))
    report(client_for(app, a.rep), a, 0, extent="partly", text_="已支付一半。")
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    oid = a.obligation_ids[0]
    assert f'id="obligation-{oid}-reported"' in page and "Reported as partly performed; not yet confirmed" in page
    assert "obligation-status-not_performed" not in page and "Overdue" in page


def test_an_overdue_obligation_is_notified_once_to_the_party_and_the_committee(app, monkeypatch):
    from portal.agreements.reminders import run_reminders

    monkeypatch.setitem(app.config, "PORTAL_BASE_URL", "https://portal.example")
    a = build(app, effective_days_ago=20, due_in=(-2, 10))
    with app.app_context():
        first = run_reminders()
    assert first["overdue"] == 1
    [to_rep] = [m for m in outbox(app, a.rep) if "Overdue since" in m.subject]
    [to_mediator] = [m for m in outbox(app, a.mediator) if "Obligation overdue" in m.subject]
    due = today() - timedelta(days=2)
    assert due.isoformat() not in to_rep.body and due.isoformat() not in to_mediator.body
    assert f"{due.year}" in to_rep.subject  # written out for the reader, e.g. "November 28, 2026"
    assert f"/agreements/{a.id}" in to_rep.body and f"/agreements/{a.id}" in to_mediator.body
    assert not [m for m in outbox(app, a.petitioner) if "Overdue since" in m.subject]
    keys = {r.key for r in _reminders(app, a.id)}
    assert f"overdue:obligation:{a.obligation_ids[0]}" in keys
    with app.app_context():
        assert run_reminders()["overdue"] == 0
    assert len([m for m in outbox(app, a.rep) if "Overdue since" in m.subject]) == 1


def test_only_the_obliged_party_reports(app):
    a = build(app)
    for who in (a.petitioner, a.mediator, a.staff, a.leader, a.admin):
        assert report(client_for(app, who), a).status_code == 403, who
    assert report(client_for(app, a.outsider), a).status_code == 403
    assert reports(app, a.obligation_ids[0]) == []


def test_only_the_petitioner_answers(app):
    a = build(app)
    report(client_for(app, a.rep), a)
    [r] = reports(app, a.obligation_ids[0])
    for who in (a.rep, a.mediator, a.staff, a.leader, a.outsider, a.other_petitioner, a.admin):
        assert answer(client_for(app, who), a, r.id).status_code == 403, who
    assert reports(app, a.obligation_ids[0])[0].answer is None


def test_an_overdue_obligation_without_a_confirmed_report_is_not_performed(app):
    a = build(app, effective_days_ago=20, due_in=(-2, 10))
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    assert "Overdue" in page and "due-overdue" in page
    assert "obligation-status-not_performed" in page and "overall-not_performed" in page


def test_the_committee_sets_a_status_with_a_note_and_sends_a_supervision_notice(app):
    a = build(app, effective_days_ago=20, due_in=(-2,))
    mediator = client_for(app, a.mediator)
    oid = a.obligation_ids[0]
    response = mediator.post(f"/agreements/{a.id}/obligations/{oid}/status",
                             data={f"status-{oid}-status": "performed", f"status-{oid}-note": ""})
    assert response.status_code == 200 and field_error(response, f"status-{oid}-note")
    response = mediator.post(f"/agreements/{a.id}/obligations/{oid}/notice",
                             data={f"notice-{oid}-text": "请于三日内履行付款义务。"})
    assert response.status_code == 303
    assert any("请于三日内履行付款义务" in m.body for m in outbox(app, a.rep))
    response = mediator.post(f"/agreements/{a.id}/obligations/{oid}/status",
                             data={f"status-{oid}-status": "performed", f"status-{oid}-note": "现场核实已付款"})
    assert response.status_code == 303
    assert obligation(app, oid).status == ObligationStatus.PERFORMED
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    assert "请于三日内履行付款义务" in page and "现场核实已付款" in page and "overall-performed" in page
    for who in (a.petitioner, a.rep, a.staff, a.other_mediator):
        assert client_for(app, who).post(f"/agreements/{a.id}/obligations/{oid}/notice",
                                         data={f"notice-{oid}-text": "x"}).status_code == 403, who


def test_evidence_of_a_wrong_type_is_refused_and_nothing_is_kept(app, folders):
    a = build(app)
    response = report(client_for(app, a.rep), a, files=[(io.BytesIO(b"MZ\x90\x00"), "virus.exe")])
    assert response.status_code == 200
    assert "only PDF, JPEG, PNG" in field_error(response, f"report-{a.obligation_ids[0]}-evidence")
    assert reports(app, a.obligation_ids[0]) == [] and count(app, PerformanceEvidence) == 0


def test_evidence_download_access(app):
    a = build(app)
    report(client_for(app, a.rep), a, files=[(io.BytesIO(PNG), "转账凭证.png")])
    [r] = reports(app, a.obligation_ids[0])
    url = f"/agreements/{a.id}/evidence/{r.evidence[0].id}"
    for who in (a.petitioner, a.rep, a.mediator, a.staff):
        response = client_for(app, who).get(url)
        assert response.status_code == 200 and response.data == PNG, who
        assert response.headers["Content-Disposition"].startswith("attachment")
    for who in (a.outsider, a.other_petitioner, a.admin):
        assert client_for(app, who).get(url).status_code == 403, who
    assert is_login_redirect(app.test_client().get(url))
    other = build(app)
    assert client_for(app, other.mediator).get(
        f"/agreements/{other.id}/evidence/{r.evidence[0].id}").status_code == 404


def test_nothing_to_follow_before_the_agreement_takes_effect(app):
    a = build(app, status=AgreementStatus.SIGNING)
    page = text(client_for(app, a.petitioner).get(page_of(a)))
    assert "The follow-up starts when the agreement takes effect." in page
    assert report(client_for(app, a.rep), a).status_code == 404


def test_route_access_per_role(app):
    a = build(app)
    assert is_login_redirect(app.test_client().get(page_of(a)))
    for who in (a.petitioner, a.rep, a.mediator, a.staff, a.leader):
        assert client_for(app, who).get(page_of(a)).status_code == 200, who
    for who in (a.outsider, a.other_petitioner, a.admin):
        assert client_for(app, who).get(page_of(a)).status_code == 403, who
    assert client_for(app, a.mediator).get("/agreements/999999/follow-up").status_code == 404


def test_htmx_refusal_returns_the_panel(app):
    a = build(app)
    oid = a.obligation_ids[0]
    response = client_for(app, a.rep).post(
        f"/agreements/{a.id}/obligations/{oid}/reports", data={f"report-{oid}-extent": "performed"},
        headers={"HX-Request": "true"}, content_type="multipart/form-data")
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in body and 'id="follow-up"' in body


def test_the_page_runs_a_fixed_number_of_queries(app, count_queries):
    small = build(app, due_in=(5,))
    big = build(app, due_in=(5, 6, 7, 8, 9, 10))
    for a in (small, big):
        rep = client_for(app, a.rep)
        for i in range(len(a.obligation_ids)):
            report(rep, a, i, files=[(io.BytesIO(PNG), f"证据{i}.png")])
    counts = {}
    for who in ("mediator", "petitioner", "rep"):
        for a in (small, big):
            client = client_for(app, getattr(a, who))
            client.get(page_of(a))
            with count_queries() as counter:
                assert client.get(page_of(a)).status_code == 200
            counts[(who, a.id)] = counter.count
        assert counts[(who, small.id)] == counts[(who, big.id)], counts


# --- reminders ----------------------------------------------------------------------------------------------

def test_reminders_are_sent_once(app):
    from portal.agreements.reminders import run_reminders

    closing = build(app, effective_days_ago=rules.JUDICIAL_CONFIRMATION_DAYS - rules.JUDICIAL_REMINDER_DAYS + 1,
                    due_in=(rules.OBLIGATION_REMINDER_DAYS - 1, rules.OBLIGATION_REMINDER_DAYS + 5))
    fresh = build(app, effective_days_ago=1, due_in=(30,))
    with app.app_context():
        first = run_reminders()
    assert first["judicial"] == 1 and first["obligations"] == 1
    assert any("Judicial confirmation" in m.subject for m in outbox(app, closing.petitioner))
    assert any("Judicial confirmation" in m.subject for m in outbox(app, closing.rep))
    assert any("Due on" in m.subject for m in outbox(app, closing.rep))
    assert not outbox(app, fresh.petitioner) and not outbox(app, fresh.rep)
    assert obligation(app, closing.obligation_ids[0]).reminded_at is not None
    assert obligation(app, closing.obligation_ids[1]).reminded_at is None
    with app.app_context():
        second = run_reminders()
    assert second["judicial"] == 0 and second["obligations"] == 0
    keys = {r.key for r in _reminders(app, closing.id)}
    assert keys == {"judicial:window", f"due:obligation:{closing.obligation_ids[0]}"}
    # a week later the second obligation comes due
    with app.app_context():
        later = run_reminders(utcnow() + timedelta(days=6))
    assert later["obligations"] == 1


def test_no_judicial_reminder_after_an_application(app):
    from portal.agreements.reminders import run_reminders

    a = build(app, effective_days_ago=rules.JUDICIAL_CONFIRMATION_DAYS - 2, due_in=(40,))
    client_for(app, a.mediator).post(f"/agreements/{a.id}/judicial", data={
        "judicial-applied_on": day(0), "judicial-court_name": "东区人民法院"})
    with app.app_context():
        assert run_reminders()["judicial"] == 0


def test_the_command_prints_the_counts(app):
    build(app, effective_days_ago=rules.JUDICIAL_CONFIRMATION_DAYS - 1, due_in=(1,))
    result = app.test_cli_runner().invoke(args=["agreements", "remind"])
    assert result.exit_code == 0, result.output
    assert "judicial: 1" in result.output and "obligations: 1" in result.output


def _reminders(app, agreement_id):
    with database(app) as db:
        return list(db.scalars(select(AgreementReminder).where(AgreementReminder.agreement_id == agreement_id)))


def test_the_agreement_page_carries_the_panel_and_a_change_returns_to_it(app):
    a = build(app)
    if "agreements.agreement" not in app.view_functions:
        pytest.skip("the agreement page is not there")
    page = text(client_for(app, a.rep).get(f"/agreements/{a.id}"))
    assert 'id="follow-up"' in page and "Report performance" in page
    response = report(client_for(app, a.rep), a)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/agreements/{a.id}#follow-up")


def test_a_petitioner_without_an_account_is_reminded_by_text_message(app):
    from portal.agreements.reminders import run_reminders
    from portal.cases.models import Petitioner
    from portal.mediation.models import MediationParty

    a = build(app, effective_days_ago=rules.JUDICIAL_CONFIRMATION_DAYS - 1, due_in=(40,))
    with database(app) as db:
        party = db.get(MediationParty, a.applicant_id)
        petitioner = db.get(Petitioner, party.petitioner_id)
        petitioner.user_id, phone = None, petitioner.phone
        db.commit()
    with app.app_context():
        assert run_reminders()["judicial"] == 1
    [message] = outbox(app, phone)
    assert message.channel == "sms" and a.number in message.body


def test_a_notice_to_a_party_without_contacts_is_recorded_with_a_warning(app):
    from portal.accounts.models import User

    a = build(app, due_in=(5,))
    with database(app) as db:
        rep = db.scalar(select(User).where(User.email == a.rep))
        rep.active = False
        db.commit()
    oid = a.obligation_ids[0]
    response = client_for(app, a.mediator).post(f"/agreements/{a.id}/obligations/{oid}/notice",
                                                data={f"notice-{oid}-text": "请尽快履行。"}, follow_redirects=True)
    assert "has no contact on file" in text(response)
    assert "agreement.supervision_notice" in audit_actions(app)
