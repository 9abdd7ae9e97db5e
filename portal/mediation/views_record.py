"""Routes of the proceedings record (调解笔录) of a mediation session.

Thin views: load the matter (404), check the policy (403), load the session of that matter (404), let
proceedings.py do the work, redirect after POST. A refusal shows the page again with the message next to the
field and changes nothing. htmx requests for the quick-add and edit forms get fragments; without JavaScript the
same forms post and redirect.
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, make_response, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy
from portal.extensions import db
from portal.forms import EmptyForm, int_or_none, attempt
from portal.htmx import add_vary, is_fragment, redirect_to
from portal.pdf import render_pdf

from . import bp
from . import proceedings as svc
from .forms_record import ConfirmForm, EditEntryForm, EntryForm, ErratumForm, InSessionConfirmForm
from .models import ConfirmationAnswer, ConfirmationHow, EntryKind, ProceedingEvidence, RecordStatus
from .services import active_parties, load_matter

RECORD = "/<int:matter_id>/sessions/<int:session_id>/record"


@bp.app_template_filter("file_size")
def file_size(size) -> str:
    return svc.file_size(size)


def _load(matter_id: int, session_id: int, permission: str = "mediation.view"):
    """The matter (404), the user's right to it (403), the session of that matter (404) and its record."""
    matter = load_matter(matter_id)
    if matter is None:
        abort(404)
    policy.ensure("mediation.view", matter)
    if permission != "mediation.view":
        policy.ensure(permission, matter)
    session = svc.load_session(matter, session_id)
    if session is None:
        abort(404)
    return matter, session, svc.load_record(session)


def _existing(record):
    if record is None:
        abort(404)
    return record



def _record_url(matter, session, anchor: str = "") -> str:
    return url_for("mediation.record", matter_id=matter.id, session_id=session.id) + anchor


def _link(endpoint: str, **values) -> str | None:
    """A link to a page another part of mediation provides, once it exists."""
    return url_for(endpoint, **values) if endpoint in current_app.view_functions else None


def _entry_form(matter, view, form=None):
    form = form or EntryForm(formdata=None)
    return form.setup(active_parties(matter), view.caucus)


def _focus(form):
    """The text box of a form swapped in by htmx keeps the keyboard focus (htmx focuses [autofocus])."""
    form.text.render_kw = {**(form.text.render_kw or {}), "autofocus": True}
    return form


def _context(matter, session, record, forms=None, party_copy=False) -> dict:
    forms = forms or {}
    view = svc.record_view(matter, session, record, current_user, party_copy)
    manage = policy.can(current_user, "mediation.manage", matter)
    attending = svc.attending_parties(matter, session)
    confirm_form = forms.get("confirm") or InSessionConfirmForm(formdata=None)
    confirm_form.party.choices = [(p.id, p.name) for p in attending]
    erratum_form = forms.get("erratum") or ErratumForm(formdata=None)
    erratum_form.entry_id.choices = [("", _("None"))] + [(e.id, view.label(e))
                                                         for e in view.entries if not e.private]
    own = view.party
    status = record.status if record else None
    entry_form = _entry_form(matter, view, forms.get("entry"))
    if manage and status == RecordStatus.OPEN and not forms.get("edit_errors"):
        _focus(entry_form)  # live use: the text box is ready to type in, on load and after "Start the session"
    answers = {c.party_id: c for c in record.confirmations} if record else {}
    declined = [p for p in attending if p.id in answers and answers[p.id].answer == ConfirmationAnswer.DECLINED]
    return {
        "matter": matter, "session": session, "record": record, "view": view, "manage": manage,
        "parties": {p.id: p for p in matter.parties}, "active": active_parties(matter),
        "attendance": {a.party_id: a for a in session.attendance}, "attending": attending,
        "answers": answers, "declined": declined,
        "mediators": svc.mediator_users(matter),
        "entry_form": entry_form,
        "edit_errors": forms.get("edit_errors", {}), "attendance_form": forms.get("attendance") or EmptyForm(),
        "confirm_form": confirm_form, "erratum_form": erratum_form,
        "own_form": forms.get("own") or ConfirmForm(formdata=None, prefix="own"),
        "own_party": own, "own_attended": own is not None and own.id in {p.id for p in attending},
        "can_confirm": own is not None and policy.can(current_user, "record.confirm", matter),
        "closing_form": forms.get("closing") or EmptyForm(),
        "matter_url": _link("mediation.matter", matter_id=matter.id),
        "session_url": _link("mediation.session", matter_id=matter.id, session_id=session.id),
        "record_url": _record_url(matter, session), "RecordStatus": RecordStatus,
        "entry_kinds": [(k.value, k.label) for k in EntryKind if view.caucus or k != EntryKind.CAUCUS],
    }


def _page(matter, session, record, forms=None, status=200):
    return add_vary(make_response(render_template("mediation/record/page.html",
                                                  **_context(matter, session, record, forms)), status))


@bp.get(RECORD)
@policy.requires("mediation.view")
def record(matter_id: int, session_id: int):
    matter, session, record = _load(matter_id, session_id)
    return _page(matter, session, record)


@bp.post(RECORD + "/start")
@policy.requires("mediation.manage")
def record_start(matter_id: int, session_id: int):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    form = EmptyForm()
    if not attempt(form, svc.start_session, matter, session, actor=current_user):
        flash(form.form_errors[0], "error")
        return redirect_to(_record_url(matter, session))
    flash(_("The session has started; the record is open."), "success")
    return redirect_to(_record_url(matter, session, "#quick-add"))


@bp.post(RECORD + "/entries")
@policy.requires("mediation.manage")
def record_add_entry(matter_id: int, session_id: int):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    form = EntryForm()
    _entry_form(matter, svc.record_view(matter, session, record, current_user), form)
    ok = form.validate() and attempt(form, svc.add_entry, matter, record, kind=form.kind.data,
                                      party_id=form.speaker_id(), text=form.text.data,
                                      files=request.files.getlist("evidence"), actor=current_user)
    if is_fragment():
        context = _context(matter, session, svc.load_record(session), {"entry": form} if not ok else None)
        if not ok:
            _focus(context["entry_form"])
            response = make_response(render_template("mediation/record/_entry_form.html", **context))
            response.headers["HX-Retarget"], response.headers["HX-Reswap"] = "#quick-add", "outerHTML"
            return add_vary(response)
        fresh = _entry_form(matter, context["view"])
        # the speaker is kept for the next entry; after a private caucus note the kind goes back to a statement,
        # so that what follows is not silently kept from the parties
        fresh.speaker.data = form.speaker.data
        fresh.kind.data = EntryKind.STATEMENT.value if form.kind.data == EntryKind.CAUCUS.value else form.kind.data
        context["entry_form"] = _focus(fresh)
        entry = context["view"].entries[-1] if context["view"].entries else None
        return add_vary(make_response(render_template("mediation/record/_entry_added.html", entry=entry,
                                                      **context)))
    if not ok:
        return _page(matter, session, svc.load_record(session), {"entry": form})
    flash(_("Entry added."), "success")
    return redirect_to(_record_url(matter, session, "#quick-add"))


@bp.post(RECORD + "/entries/<int:entry_id>")
@policy.requires("mediation.manage")
def record_edit_entry(matter_id: int, session_id: int, entry_id: int):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    entry = next((e for e in record.entries if e.id == entry_id), None)
    if entry is None or not svc.may_see_entry(entry, current_user, matter):
        abort(404)
    form = EditEntryForm()
    speaker = svc.KEEP if form.speaker.data is None else form.speaker_id()
    ok = form.validate() and attempt(form, svc.edit_entry, matter, entry, text=form.text.data, kind=form.kind.data,
                                      party_id=speaker, actor=current_user)
    messages = [*form.speaker.errors, *form.kind.errors, *form.text.errors, *form.form_errors]
    errors = {} if ok else {entry_id: (" ".join(str(e) for e in messages), form.text.data or "")}
    if is_fragment():
        context = _context(matter, session, svc.load_record(session), {"edit_errors": errors})
        entry = next(e for e in context["view"].entries if e.id == entry_id)
        return add_vary(make_response(render_template("mediation/record/_entry.html", entry=entry, alone=True,
                                                      **context)))
    if not ok:
        return _page(matter, session, svc.load_record(session), {"edit_errors": errors})
    number = svc.entry_numbers(svc.load_record(session)).get(entry.id, str(entry.position))
    flash(svc.entry_phrase(entry, number, "corrected"), "success")
    return redirect_to(_record_url(matter, session, f"#entry-{entry_id}"))


@bp.post(RECORD + "/attendance")
@policy.requires("mediation.manage")
def record_attendance(matter_id: int, session_id: int):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    rows = [{"party_id": int_or_none(raw), "present": request.form.get(f"present-{raw}", ""),
             "attendee_name": request.form.get(f"attendee-{raw}", "")} for raw in request.form.getlist("party_id")]
    form = EmptyForm()
    if not attempt(form, svc.save_attendance, matter, record, rows, actor=current_user):
        return _page(matter, session, svc.load_record(session), {"attendance": form})
    flash(_("Attendance saved."), "success")
    return redirect_to(_record_url(matter, session, "#attendance"))


def _closing_step(matter_id: int, session_id: int, work, done: str, anchor: str = "#closing"):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    form = EmptyForm()
    if not attempt(form, work, matter, record, actor=current_user):
        return _page(matter, session, svc.load_record(session), {"closing": form})
    flash(done, "success")
    return redirect_to(_record_url(matter, session, anchor))


@bp.post(RECORD + "/read-back")
@policy.requires("mediation.manage")
def record_read_back(matter_id: int, session_id: int):
    return _closing_step(matter_id, session_id, svc.read_back,
                         _("The record has been read back. Record each attending party's answer."))


@bp.post(RECORD + "/reopen")
@policy.requires("mediation.manage")
def record_reopen(matter_id: int, session_id: int):
    return _closing_step(matter_id, session_id, svc.reopen,
                         _("The record is open for corrections again; the answers were cleared."), "#entries")


@bp.post(RECORD + "/lock")
@policy.requires("mediation.manage")
def record_lock(matter_id: int, session_id: int):
    return _closing_step(matter_id, session_id, svc.lock, _("The record is locked."), "#locked")


@bp.post(RECORD + "/confirmations")
@policy.requires("mediation.manage")
def record_confirm_in_session(matter_id: int, session_id: int):
    """The mediator records a party's answer given in the session after the read-back."""
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    form = InSessionConfirmForm()
    party = next((p for p in matter.parties if p.id == form.party.data), None) if form.validate() else None
    if party is None and not form.errors:
        form.party.errors = [_("Choose a party of this mediation.")]
    if party is None or not attempt(form, svc.confirm, matter, record, party, answer=form.answer.data,
                                     note=form.note.data, how=ConfirmationHow.IN_SESSION, actor=current_user):
        return _page(matter, session, svc.load_record(session), {"confirm": form})
    flash(_("Answer of %(name)s recorded.", name=party.name), "success")
    return redirect_to(_record_url(matter, session, "#closing"))


@bp.post(RECORD + "/confirm")
@policy.requires("record.confirm")
def record_confirm_online(matter_id: int, session_id: int):
    """A party confirms (or declines) the read-back record from its own account."""
    matter, session, record = _load(matter_id, session_id, "record.confirm")
    record = _existing(record)
    party = policy.party_of(current_user, matter)
    form = ConfirmForm(prefix="own")
    if not form.validate() or not attempt(form, svc.confirm, matter, record, party, answer=form.answer.data,
                                           note=form.note.data, how=ConfirmationHow.ONLINE, actor=current_user):
        return _page(matter, session, svc.load_record(session), {"own": form})
    flash(_("Thank you: your answer to the record is saved."), "success")
    return redirect_to(_record_url(matter, session, "#closing"))


@bp.post(RECORD + "/errata")
@policy.requires("mediation.manage")
def record_erratum(matter_id: int, session_id: int):
    matter, session, record = _load(matter_id, session_id, "mediation.manage")
    record = _existing(record)
    form = ErratumForm()
    if not form.validate() or not attempt(form, svc.add_erratum, matter, record, text=form.text.data,
                                           entry_id=form.entry_id.data, actor=current_user):
        return _page(matter, session, svc.load_record(session), {"erratum": form})
    flash(_("Erratum appended."), "success")
    return redirect_to(_record_url(matter, session, "#errata"))


@bp.get(RECORD + "/evidence/<int:evidence_id>")
@policy.requires("mediation.view")
def record_evidence(matter_id: int, session_id: int, evidence_id: int):
    """An evidence file, as an attachment, after the same check as its entry (caucus evidence: mediators only)."""
    matter, session, record = _load(matter_id, session_id)
    record = _existing(record)
    item = db.session.get(ProceedingEvidence, evidence_id)
    entry = next((e for e in record.entries if item is not None and e.id == item.entry_id), None)
    if entry is None or not svc.may_see_entry(entry, current_user, matter):
        abort(404)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / item.stored_name
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name)


@bp.get("/<int:matter_id>/sessions/<int:session_id>/record.pdf")
@policy.requires("mediation.view")
def record_pdf(matter_id: int, session_id: int):
    """The file copy (with caucus notes, marked internal) for mediators; the party copy for everyone else, and for
    a mediator who asks for it with ?copy=party."""
    matter, session, record = _load(matter_id, session_id)
    record = _existing(record)
    party_copy = request.args.get("copy") == "party"
    context = _context(matter, session, record, party_copy=party_copy)
    data = render_pdf("mediation/pdf/record.html", **context)
    kind = "file" if context["view"].caucus else "party"
    response = make_response(data)
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = (f'attachment; filename="mediation-record-{matter.id}-'
                                               f'{session.number}-{kind}.pdf"')
    response.headers["Cache-Control"] = "private, no-store"
    return response
