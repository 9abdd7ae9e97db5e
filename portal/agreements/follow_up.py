"""After the agreement takes effect: the judicial confirmation window (People's Mediation Law art. 33) with the
application and its result, and the follow-up of each obligation of the signed version (art. 31): performance
reports with evidence by the obliged party, the petitioner's confirmation or dispute, status set by the committee's
mediator, supervision notices. The committee's status changes and notices live in the audit trail, which is also
where the page reads them back from. No request object here; every change writes the audit trail.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app, has_request_context, url_for
from flask_babel import force_locale, format_date, gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from portal import rules
from portal.accounts.models import Department, DepartmentKind, Role, User
from portal.audit.models import AuditEvent
from portal.audit.services import record
from portal.extensions import db
from portal.mail.services import external_url, send_message
from portal.mediation.models import MediationParty, PartySide
from portal.timeutil import today as local_today, utcnow
from portal.uploads import UploadError, check_files, store

from .models import (
    Agreement,
    AgreementObligation,
    AgreementStatus,
    ConfirmationResult,
    JudicialConfirmation,
    ObligationStatus,
    PerformanceAnswer,
    PerformanceEvidence,
    PerformanceReport,
)
from .services import AgreementError, atomic, signed_version

LOG_ACTIONS = ("agreement.obligation_status_set", "agreement.supervision_notice")


# --- the judicial confirmation window -------------------------------------------------------------------------

@dataclass
class JudicialWindow:
    opens_on: date
    last_day: date
    days_left: int  # negative once closed

    @property
    def is_open(self) -> bool:
        return self.days_left >= 0

    @property
    def closing_soon(self) -> bool:
        return 0 <= self.days_left <= rules.JUDICIAL_REMINDER_DAYS


def judicial_window(agreement: Agreement, on: date | None = None) -> JudicialWindow | None:
    """Art. 33: a joint application within JUDICIAL_CONFIRMATION_DAYS of the day the agreement took effect."""
    if agreement.effective_on is None:
        return None
    on = on or local_today()
    last_day = agreement.effective_on + timedelta(days=rules.JUDICIAL_CONFIRMATION_DAYS)
    return JudicialWindow(agreement.effective_on, last_day, (last_day - on).days)


def confirmations(agreement: Agreement) -> list[JudicialConfirmation]:
    return list(db.session.scalars(
        select(JudicialConfirmation).where(JudicialConfirmation.agreement_id == agreement.id)
        .options(selectinload(JudicialConfirmation.court)).order_by(JudicialConfirmation.id)))


def courts() -> list[Department]:
    return list(db.session.scalars(select(Department).where(Department.kind == DepartmentKind.COURT,
                                                            Department.active.is_(True)).order_by(Department.name)))


def _ensure_effective(agreement: Agreement) -> None:
    if agreement.status != AgreementStatus.EFFECTIVE or agreement.effective_on is None:
        raise AgreementError(_("This agreement is not in effect yet."))


@atomic
def record_application(agreement: Agreement, actor: User, applied_on: date, court_id: int | None,
                       court_name: str, court_reference: str, on: date | None = None) -> JudicialConfirmation:
    _ensure_effective(agreement)
    on = on or local_today()
    window = judicial_window(agreement, on)
    existing = confirmations(agreement)
    if any(c.result == ConfirmationResult.PENDING for c in existing):
        raise AgreementError(_("An application is already waiting for the court's decision; record its result "
                               "first."))
    if any(c.result == ConfirmationResult.CONFIRMED for c in existing):
        raise AgreementError(_("The court has already confirmed this agreement."))
    if applied_on is None:
        raise AgreementError(_("Enter the day the application was made."), "applied_on")
    if applied_on > on:
        raise AgreementError(_("The day of the application cannot be in the future."), "applied_on")
    if not (window.opens_on <= applied_on <= window.last_day):
        raise AgreementError(_("The application must be made between %(start)s and %(end)s (within %(days)d days "
                               "of the agreement taking effect).", start=format_date(window.opens_on, "long"),
                               end=format_date(window.last_day, "long"), days=rules.JUDICIAL_CONFIRMATION_DAYS),
                             "applied_on")
    court_name = (court_name or "").strip()
    court = None
    if court_id is not None:
        court = db.session.get(Department, court_id)
        if court is None or court.kind != DepartmentKind.COURT:
            raise AgreementError(_("Choose a court from the list."), "court_id")
        court_name = ""
    elif not court_name:
        raise AgreementError(_("Choose the court or enter its name."), "court_id")
    confirmation = JudicialConfirmation(agreement_id=agreement.id, applied_on=applied_on,
                                        court_id=court.id if court else None, court_name=court_name,
                                        court_reference=(court_reference or "").strip(), recorded_by_id=actor.id)
    db.session.add(confirmation)
    record("agreement.judicial_applied", agreement, actor=actor,
           details={"applied_on": applied_on.isoformat(), "court": court.name if court else court_name,
                    "court_reference": confirmation.court_reference})
    return confirmation


@atomic
def record_result(agreement: Agreement, confirmation: JudicialConfirmation, actor: User, result: str,
                  result_on: date, note: str, on: date | None = None) -> JudicialConfirmation:
    on = on or local_today()
    if confirmation.agreement_id != agreement.id:
        raise AgreementError(_("This application belongs to another agreement."))
    if confirmation.result != ConfirmationResult.PENDING:
        raise AgreementError(_("The court's decision on this application is already recorded."))
    try:
        outcome = ConfirmationResult(result)
    except ValueError:
        outcome = None
    if outcome not in (ConfirmationResult.CONFIRMED, ConfirmationResult.REJECTED):
        raise AgreementError(_("Choose the court's decision."), "result")
    if result_on is None:
        raise AgreementError(_("Enter the day of the court's decision."), "result_on")
    if result_on < confirmation.applied_on or result_on > on:
        raise AgreementError(_("The decision's date must lie between the application (%(applied)s) and today.",
                               applied=format_date(confirmation.applied_on, "long")), "result_on")
    note = (note or "").strip()
    if outcome == ConfirmationResult.REJECTED and not note:
        raise AgreementError(_("Say why the court did not confirm the agreement."), "note")
    confirmation.result, confirmation.result_on, confirmation.note = outcome, result_on, note
    record("agreement.judicial_result", agreement, actor=actor,
           details={"confirmation_id": confirmation.id, "result": outcome.value, "result_on": result_on.isoformat(),
                    "note": note})
    _notify_parties(agreement, lambda: (
        _("Judicial confirmation of agreement %(number)s", number=agreement.number),
        _("The court's decision on the application for judicial confirmation of agreement %(number)s: %(result)s "
          "(%(day)s).", number=agreement.number, result=outcome.label, day=format_date(result_on, "long"))))
    return confirmation


# --- obligations ----------------------------------------------------------------------------------------------

def followed_obligations(agreement: Agreement) -> list[AgreementObligation]:
    """The obligations of the signed version, once the agreement is in effect, with their reports and evidence."""
    if agreement.status != AgreementStatus.EFFECTIVE:
        return []
    version = signed_version(agreement)
    if version is None:
        return []
    return list(db.session.scalars(
        select(AgreementObligation).where(AgreementObligation.version_id == version.id)
        .options(selectinload(AgreementObligation.party),
                 selectinload(AgreementObligation.reports).selectinload(PerformanceReport.evidence),
                 selectinload(AgreementObligation.reports).selectinload(PerformanceReport.reported_by))
        .order_by(AgreementObligation.position)))


def effective_status(obligation: AgreementObligation, on: date | None = None) -> ObligationStatus:
    """The stored status; a pending obligation past its due date without a confirmed report is not performed."""
    on = on or local_today()
    if obligation.status == ObligationStatus.PENDING and obligation.due_on < on:
        return ObligationStatus.NOT_PERFORMED
    return obligation.status


def overall_status(obligations: list[AgreementObligation], on: date | None = None) -> ObligationStatus | None:
    """The agreement as a whole: performed when every obligation is; not performed when none is even partly and
    one is overdue; pending while nothing is due yet; otherwise partly."""
    if not obligations:
        return None
    statuses = [effective_status(o, on) for o in obligations]
    if all(s == ObligationStatus.PERFORMED for s in statuses):
        return ObligationStatus.PERFORMED
    if not any(s in (ObligationStatus.PERFORMED, ObligationStatus.PARTLY) for s in statuses):
        if ObligationStatus.NOT_PERFORMED in statuses:
            return ObligationStatus.NOT_PERFORMED
        return ObligationStatus.PENDING
    return ObligationStatus.PARTLY


def open_report(obligation: AgreementObligation) -> PerformanceReport | None:
    return next((r for r in obligation.reports if r.answer is None), None)


def last_disputed(obligation: AgreementObligation) -> PerformanceReport | None:
    """The latest report, when the petitioner disputed it and nothing newer was reported."""
    if not obligation.reports or obligation.status == ObligationStatus.PERFORMED:
        return None
    latest = max(obligation.reports, key=lambda r: (r.reported_at, r.id))
    return latest if latest.answer == PerformanceAnswer.DISPUTED else None


def _obligation_of(agreement: Agreement, obligation_id: int) -> AgreementObligation | None:
    return next((o for o in followed_obligations(agreement) if o.id == obligation_id), None)


def find_obligation(agreement: Agreement, obligation_id: int) -> AgreementObligation | None:
    return _obligation_of(agreement, obligation_id)


def find_report(agreement: Agreement, report_id: int) -> PerformanceReport | None:
    for obligation in followed_obligations(agreement):
        for report in obligation.reports:
            if report.id == report_id:
                return report
    return None


def find_evidence(agreement: Agreement, evidence_id: int) -> PerformanceEvidence | None:
    for obligation in followed_obligations(agreement):
        for report in obligation.reports:
            for evidence in report.evidence:
                if evidence.id == evidence_id:
                    return evidence
    return None


def check_evidence(files) -> list:
    """Check the uploads before anything is stored (raises AgreementError at the evidence field)."""
    try:
        return check_files(files, field="evidence")  # at most rules.ATTACHMENTS_PER_CASE files
    except UploadError as error:
        raise AgreementError(error.message, "evidence")


@atomic
def report_performance(agreement: Agreement, obligation: AgreementObligation, actor: User, extent: str, text: str,
                       checked_files: list) -> PerformanceReport:
    _ensure_effective(agreement)
    try:
        extent_value = ObligationStatus(extent)
    except ValueError:
        extent_value = None
    if extent_value not in (ObligationStatus.PERFORMED, ObligationStatus.PARTLY):
        raise AgreementError(_("Say whether the obligation was performed in full or in part."), "extent")
    text = (text or "").strip()
    if not text:
        raise AgreementError(_("Describe what was done."), "text")
    if obligation.status == ObligationStatus.PERFORMED:
        raise AgreementError(_("This obligation is already recorded as performed."))
    if open_report(obligation) is not None:
        raise AgreementError(_("The previous report is still waiting for the petitioner's answer."))
    report = PerformanceReport(obligation_id=obligation.id, extent=extent_value, text=text, reported_by_id=actor.id)
    db.session.add(report)
    db.session.flush()
    for stored in store(checked_files):
        db.session.add(PerformanceEvidence(report_id=report.id, stored_name=stored.stored_name,
                                           original_name=stored.original_name, content_type=stored.content_type,
                                           size=stored.size, sha256=stored.sha256))
    record("agreement.performance_reported", obligation, actor=actor,
           details={"agreement_id": agreement.id, "report_id": report.id, "extent": extent_value.value,
                    "evidence": len(checked_files)})
    _notify_applicants(agreement, lambda: (
        _("Performance reported: agreement %(number)s", number=agreement.number),
        _("%(party)s reports that the obligation \"%(what)s\" was %(extent)s. Confirm or dispute the report on the "
          "agreement's page.", party=obligation.party.name, what=obligation.what, extent=extent_value.label.lower())))
    return report


@atomic
def answer_report(agreement: Agreement, report: PerformanceReport, actor: User, answer: str,
                  note: str) -> PerformanceReport:
    _ensure_effective(agreement)
    obligation = report.obligation
    if report.answer is not None:
        raise AgreementError(_("This report has already been answered."))
    actor_party = _party_of_user(agreement, actor)
    if actor_party is not None and actor_party.id == obligation.party_id:
        raise AgreementError(_("A party does not confirm its own report; the committee checks it."))
    try:
        answer_value = PerformanceAnswer(answer)
    except ValueError:
        raise AgreementError(_("Confirm or dispute the report."), "answer")
    note = (note or "").strip()
    if answer_value == PerformanceAnswer.DISPUTED and not note:
        raise AgreementError(_("Say what is disputed."), "note")
    report.answer, report.answer_note = answer_value, note
    report.answered_by_id, report.answered_at = actor.id, utcnow()
    before = obligation.status
    if answer_value == PerformanceAnswer.CONFIRMED:
        obligation.status = report.extent
    record("agreement.performance_answered", obligation, actor=actor,
           details={"agreement_id": agreement.id, "report_id": report.id, "answer": answer_value.value,
                    "note": note, "status_before": before.value, "status": obligation.status.value})
    _notify_party(obligation.party, link=agreement_link(agreement), compose=lambda: (
        _("Your performance report: agreement %(number)s", number=agreement.number),
        _("Your report on \"%(what)s\" was %(answer)s by the petitioner.", what=obligation.what,
          answer=answer_value.label.lower()) + (("\n" + note) if note else "")))
    return report


@atomic
def set_status(agreement: Agreement, obligation: AgreementObligation, actor: User, status: str,
               note: str) -> AgreementObligation:
    """The committee's mediator decides the status after checking (e.g. a dispute, or a late performance)."""
    _ensure_effective(agreement)
    try:
        value = ObligationStatus(status)
    except ValueError:
        raise AgreementError(_("Choose a status."), "status")
    note = (note or "").strip()
    if not note:
        raise AgreementError(_("Give the reason for the status."), "note")
    before = obligation.status
    obligation.status = value
    record("agreement.obligation_status_set", obligation, actor=actor,
           details={"agreement_id": agreement.id, "status_before": before.value, "status": value.value,
                    "note": note})
    return obligation


@atomic
def send_supervision_notice(agreement: Agreement, obligation: AgreementObligation, actor: User,
                            text: str) -> int:
    """A written supervision notice (督促履行) from the committee to the obliged party."""
    _ensure_effective(agreement)
    text = (text or "").strip()
    if not text:
        raise AgreementError(_("Write the notice."), "text")
    if obligation.status == ObligationStatus.PERFORMED:
        raise AgreementError(_("This obligation is already recorded as performed."))
    sent = _notify_party(obligation.party, link=agreement_link(agreement), compose=lambda: (
        _("Supervision notice: agreement %(number)s", number=agreement.number),
        _("The mediation committee reminds you of the obligation \"%(what)s\" due on %(due)s:",
          what=obligation.what, due=format_date(obligation.due_on, "long")) + "\n" + text))
    record("agreement.supervision_notice", obligation, actor=actor,
           details={"agreement_id": agreement.id, "text": text, "recipients": sent})
    return sent


def follow_up_log(obligations: list[AgreementObligation]) -> dict[int, list[dict]]:
    """Status decisions and supervision notices of the committee per obligation, from the audit trail (one query)."""
    import json

    if not obligations:
        return {}
    ids = {str(o.id): o.id for o in obligations}
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "agreement_obligation",
                                 AuditEvent.object_id.in_(list(ids)), AuditEvent.action.in_(LOG_ACTIONS))
        .order_by(AuditEvent.id))
    log: dict[int, list[dict]] = {o.id: [] for o in obligations}
    for event in events:
        details = json.loads(event.details or "{}")
        label = event.actor_label.split(" <", 1)[0]
        if event.action == "agreement.supervision_notice":
            log[ids[event.object_id]].append({"kind": "notice", "at": event.at, "by": label,
                                              "text": details.get("text", "")})
        else:
            try:
                status = ObligationStatus(details.get("status")).label
            except ValueError:
                status = ""
            log[ids[event.object_id]].append({"kind": "status", "at": event.at, "by": label, "status": status,
                                              "text": details.get("note", "")})
    return log


# --- the page's data ------------------------------------------------------------------------------------------

@dataclass
class ObligationRow:
    obligation: AgreementObligation
    status: ObligationStatus
    overdue: bool
    due_soon: bool
    open_report: PerformanceReport | None
    log: list[dict] = field(default_factory=list)
    disputed: PerformanceReport | None = None  # the latest report, when the petitioner disputed it

    @property
    def awaiting_confirmation(self) -> bool:
        """Past its due date with a report not yet answered: shown as reported, not as simply not performed."""
        return self.open_report is not None and self.status == ObligationStatus.NOT_PERFORMED \
            and self.obligation.status == ObligationStatus.PENDING


@dataclass
class FollowUp:
    agreement: Agreement
    window: JudicialWindow | None
    confirmations: list[JudicialConfirmation]
    rows: list[ObligationRow]
    overall: ObligationStatus | None

    @property
    def pending_confirmation(self) -> JudicialConfirmation | None:
        return next((c for c in self.confirmations if c.result == ConfirmationResult.PENDING), None)

    @property
    def confirmed(self) -> bool:
        return any(c.result == ConfirmationResult.CONFIRMED for c in self.confirmations)


def follow_up(agreement: Agreement, on: date | None = None) -> FollowUp | None:
    """Everything the follow-up panel shows, in a fixed number of queries; None before the agreement is in effect."""
    if agreement.status != AgreementStatus.EFFECTIVE:
        return None
    on = on or local_today()
    obligations = followed_obligations(agreement)
    log = follow_up_log(obligations)
    rows = []
    for obligation in obligations:
        status = effective_status(obligation, on)
        settled = status in (ObligationStatus.PERFORMED,)
        rows.append(ObligationRow(
            obligation, status, overdue=not settled and obligation.due_on < on,
            due_soon=not settled and on <= obligation.due_on <= on + timedelta(days=rules.OBLIGATION_REMINDER_DAYS),
            open_report=open_report(obligation), log=log.get(obligation.id, []), disputed=last_disputed(obligation)))
    return FollowUp(agreement, judicial_window(agreement, on), confirmations(agreement), rows,
                    overall_status(obligations, on))


# --- messages -------------------------------------------------------------------------------------------------

def _party_of_user(agreement: Agreement, user: User) -> MediationParty | None:
    from portal.policy import party_of

    return party_of(user, agreement.referral)


def party_contacts(party: MediationParty) -> list[tuple[str, str]]:
    """(address, locale) for a party: a petitioner's account (or the phone on file), a department's active
    representatives, another person's phone."""
    if party.petitioner_id is not None:
        petitioner = party.petitioner
        user = db.session.get(User, petitioner.user_id) if petitioner and petitioner.user_id else None
        if user is not None and user.active and user.login:
            return [(user.login, user.locale or "zh_CN")]
        return [(petitioner.phone, "zh_CN")] if petitioner and petitioner.phone else []
    if party.department_id is not None:
        reps = db.session.scalars(select(User).where(User.department_id == party.department_id,
                                                     User.role == Role.DEPARTMENT_REP, User.active.is_(True))
                                  .order_by(User.id))
        return [(u.login, u.locale or "zh_CN") for u in reps if u.login]
    return [(party.phone, "zh_CN")] if party.phone else []


def agreement_link(agreement: Agreement) -> str:
    """The absolute link to the agreement's follow-up; from the daily command (no request) through
    PORTAL_BASE_URL."""
    try:
        base = current_app.config.get("PORTAL_BASE_URL", "").rstrip("/")
        if not has_request_context() and base:
            with current_app.test_request_context("/", base_url=base):
                return url_for("agreements.follow_up", agreement_id=agreement.id, _external=True)
        return external_url("agreements.follow_up", agreement_id=agreement.id)
    except RuntimeError:  # no request and no base URL configured
        return ""


def _notify_party(party: MediationParty, compose, link: str = "") -> int:
    """One message per contact of the party, in the recipient's language, with the link to the agreement."""
    sent = 0
    for address, locale in party_contacts(party):
        with force_locale(locale):
            subject, body = compose()
        send_message(address, subject, body + (f"\n\n{link}" if link else ""))
        sent += 1
    return sent


def _notify_parties(agreement: Agreement, compose) -> int:
    link = agreement_link(agreement)
    return sum(_notify_party(p, compose, link) for p in agreement.referral.parties if p.withdrawn_on is None)


def _notify_applicants(agreement: Agreement, compose) -> int:
    link = agreement_link(agreement)
    return sum(_notify_party(p, compose, link) for p in agreement.referral.parties
               if p.withdrawn_on is None and p.side == PartySide.APPLICANT)
