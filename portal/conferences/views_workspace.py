"""Routes of the joint-conference workspace part: the list, opening a workspace, members, documents and messages.

Thin views: load the workspace (404) and check the policy (403) through load_conference, let a service in
workspace.py do the work, then redirect after POST. A refused step shows the workspace page again with the message
at the field (or a flash). Messages also answer htmx requests with just the new messages.
"""
from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, flash, make_response, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy, uploads
from portal.extensions import db
from portal.forms import EmptyForm, attach_error, int_or_none, attempt
from portal.htmx import add_vary, is_fragment, redirect_to

from . import bp, workspace
from .forms_workspace import DocumentForm, InviteForm, MessageForm, OpenForm, VersionForm
from .models import Conference, DocumentVersion, MemberKind
from .views import load_conference
from .workspace import WorkspaceError

FORMS = {"invite": InviteForm, "document": DocumentForm, "message": MessageForm}


def _form(name: str, **kwargs):
    return FORMS[name](prefix=name, **kwargs)



def _invite_choices(form: InviteForm, conference: Conference) -> None:
    present = {m.department_id for m in conference.members if m.left_at is None}
    form.department_id.choices = [("", _("Choose a department"))] + [
        (d.id, d.name) for d in workspace.member_departments() if d.id not in present]


@bp.app_template_global("workspace_forms")
def workspace_forms(conference: Conference, overrides: dict | None = None) -> dict:
    """The forms of the workspace page, empty unless a refused one is shown again with its input and errors."""
    overrides = overrides or {}
    forms = {name: overrides.get(name) or _form(name, formdata=None) for name in FORMS}
    if policy.can(current_user, "conference.manage", conference) and "invite" not in overrides:
        _invite_choices(forms["invite"], conference)
    return forms


def _page(conference: Conference, overrides: dict | None = None, status: int = 200):
    return make_response(render_template("conferences/detail.html", conference=conference,
                                          view=workspace.overview(conference), forms_override=overrides or {},
                                          empty_form=EmptyForm()), status)


def _back(conference_id: int, message: str, anchor: str = ""):
    flash(message, "success")
    url = url_for("conferences.detail", conference_id=conference_id)
    return redirect_to(url if is_fragment() or not anchor else f"{url}#{anchor}")


def _refused(conference_id: int, name: str, form):
    """A refusal of the step itself comes back as a flash; a problem with the input shows the page again."""
    if form.form_errors and not any(f.errors for f in form):
        for message in form.form_errors:
            flash(message, "error")
        return redirect_to(url_for("conferences.detail", conference_id=conference_id))
    return _page(load_conference(conference_id), {name: form})


# --- the list and the page --------------------------------------------------------------------------------

@bp.route("/conferences")
@policy.requires("conference.list")
def index():
    return render_template("conferences/index.html", conferences=workspace.visible_conferences(current_user))


@bp.route("/conferences/<int:conference_id>")
@policy.requires("conference.view")
def detail(conference_id):
    return _page(load_conference(conference_id))


# --- opening -------------------------------------------------------------------------------------------------

def _open_choices(form: OpenForm, preselected):
    complex_cases = workspace.complex_cases()
    offered = list(complex_cases)
    for case in preselected:
        if case.id not in {c.id for c in offered}:
            offered.insert(0, case)
    complex_mark = _("marked complex")  # outside the f-string, where the message extractor finds it
    form.case_ids.choices = [(c.id, f"{c.reference} {c.subject}" + (f" ({complex_mark})" if c.complex else ""))
                             for c in offered]
    form.convener_id.choices = [("", _("Choose a leader"))] + [(u.id, u.display_name) for u in workspace.leaders()]
    form.department_ids.choices = [(d.id, d.name) for d in workspace.member_departments()]


@bp.route("/conferences/new", methods=["GET", "POST"])
@policy.requires("conference.open")
def open_conference():
    from portal.cases.models import Case

    form = OpenForm(prefix="open")
    case_id = workspace.db_id(int_or_none(request.args.get("case")))
    preselected = [c for c in [db.session.get(Case, case_id) if case_id else None] if c is not None]
    _open_choices(form, preselected)
    if request.method == "GET" and preselected:
        form.case_ids.data = [preselected[0].id]
        form.title.data = _("Joint conference: %(subject)s", subject=preselected[0].subject)[:200]
    if workspace.office_of(current_user) is None:
        form.form_errors.append(_("Your account belongs to no petition bureau department, so it cannot be the "
                                  "office of a joint conference. Ask an administrator to set your department."))
    elif form.validate_on_submit():
        try:
            extra = workspace.cases_by_reference(form.references.data)
        except WorkspaceError as error:
            attach_error(form, error)
            extra = None
        if extra is not None:
            conference = attempt(form, workspace.open_conference, current_user, title=form.title.data,
                                  purpose=form.purpose.data,
                                  case_ids=list(form.case_ids.data or []) + [c.id for c in extra],
                                  convener_id=form.convener_id.data, department_ids=form.department_ids.data or [])
            if conference:
                flash(_("The workspace is open."), "success")
                return redirect_to(url_for("conferences.detail", conference_id=conference.id))
    return render_template("conferences/workspace/open.html", form=form)


# --- members and closing -------------------------------------------------------------------------------------

@bp.route("/conferences/<int:conference_id>/members", methods=["POST"])
@policy.requires("conference.manage")
def invite(conference_id):
    conference = load_conference(conference_id, "conference.manage")
    form = _form("invite")
    _invite_choices(form, conference)
    if form.validate_on_submit() and attempt(form, workspace.invite, conference, current_user,
                                              form.department_id.data, MemberKind(form.kind.data)):
        return _back(conference_id, _("The department was invited."), "members")
    return _refused(conference_id, "invite", form)


@bp.route("/conferences/<int:conference_id>/members/<int:member_id>/leave", methods=["POST"])
@policy.requires("conference.manage")
def leave(conference_id, member_id):
    conference = load_conference(conference_id, "conference.manage")
    if not any(m.id == member_id for m in conference.members):
        abort(404)
    form = EmptyForm()
    if attempt(form, workspace.leave, conference, current_user, member_id):
        return _back(conference_id, _("The department has left the workspace; its history stays."), "members")
    return _refused(conference_id, "leave", form)


@bp.route("/conferences/<int:conference_id>/close", methods=["POST"])
@policy.requires("conference.manage")
def close(conference_id):
    conference = load_conference(conference_id, "conference.manage")
    form = EmptyForm()
    if attempt(form, workspace.close, conference, current_user):
        return _back(conference_id, _("The workspace is closed. It stays readable."))
    return _refused(conference_id, "close", form)


# --- documents ---------------------------------------------------------------------------------------------

def _checked_file(form, field_name: str = "file"):
    try:
        return uploads.check_files(request.files.getlist(form[field_name].name), limit=1, field=field_name)
    except uploads.UploadError as refused:
        attach_error(form, refused)
        return None


@bp.route("/conferences/<int:conference_id>/documents", methods=["POST"])
@policy.requires("conference.post")
def add_document(conference_id):
    conference = load_conference(conference_id, "conference.post")
    form = _form("document")
    if form.validate_on_submit():
        files = _checked_file(form)
        if files is not None and attempt(form, workspace.add_document, conference, current_user, form.title.data,
                                          files, form.note.data):
            return _back(conference_id, _("The document was shared."), "documents")
    return _refused(conference_id, "document", form)


def _document_page(conference, document, form=None):
    return render_template("conferences/workspace/document.html", conference=conference, document=document,
                           form=form or VersionForm(prefix="version", formdata=None))


@bp.route("/conferences/<int:conference_id>/documents/<int:document_id>")
@policy.requires("conference.view")
def document(conference_id, document_id):
    conference = load_conference(conference_id)
    item = workspace.load_document(conference, document_id)
    if item is None:
        abort(404)
    return _document_page(conference, item)


@bp.route("/conferences/<int:conference_id>/documents/<int:document_id>/versions", methods=["POST"])
@policy.requires("conference.post")
def add_version(conference_id, document_id):
    conference = load_conference(conference_id, "conference.post")
    item = workspace.load_document(conference, document_id)
    if item is None:
        abort(404)
    form = VersionForm(prefix="version")
    if form.validate_on_submit():
        files = _checked_file(form)
        if files is not None and attempt(form, workspace.add_version, conference, item, current_user, files,
                                          form.note.data):
            flash(_("The new version was uploaded."), "success")
            return redirect_to(url_for("conferences.document", conference_id=conference_id, document_id=document_id))
    if form.form_errors and not any(f.errors for f in form):
        for message in form.form_errors:
            flash(message, "error")
        return redirect_to(url_for("conferences.document", conference_id=conference_id, document_id=document_id))
    return _document_page(conference, workspace.load_document(load_conference(conference_id), document_id), form)


@bp.route("/conferences/<int:conference_id>/documents/<int:document_id>/versions/<int:version_id>")
@policy.requires("conference.view")
def download(conference_id, document_id, version_id):
    conference = load_conference(conference_id)
    version = db.session.get(DocumentVersion, version_id)
    if version is None or version.document_id != document_id or version.document.conference_id != conference.id:
        abort(404)
    path = Path(current_app.config["UPLOAD_FOLDER"]) / version.stored_name
    if not path.is_file():
        abort(404)
    workspace.document_opened(conference, version, current_user)
    return send_file(path, mimetype=version.content_type, as_attachment=True, download_name=version.original_name)


# --- messages ------------------------------------------------------------------------------------------------

def _new_messages(conference: Conference):
    """Messages after the one the page shows last (the `after` value the page sends), for htmx."""
    after = int_or_none(request.values.get("after"))
    after = after if after is None or 0 <= after < 2**31 else None
    items = workspace.messages(conference, after=after if after is not None else 0)
    last = items[-1].id if items else after
    response = make_response(render_template("conferences/workspace/_new_messages.html", conference=conference,
                                             messages=items, last_id=last or 0))
    return add_vary(response)


@bp.route("/conferences/<int:conference_id>/messages/new")
@policy.requires("conference.view")
def messages(conference_id):
    conference = load_conference(conference_id)
    if is_fragment():
        return _new_messages(conference)
    return redirect_to(url_for("conferences.detail", conference_id=conference_id) + "#messages")


@bp.route("/conferences/<int:conference_id>/messages", methods=["POST"])
@policy.requires("conference.post")
def post_message(conference_id):
    conference = load_conference(conference_id, "conference.post")
    form = _form("message")
    if form.validate_on_submit() and attempt(form, workspace.post_message, conference, current_user,
                                              form.body.data):
        if is_fragment():
            return _new_messages(conference)
        return redirect_to(url_for("conferences.detail", conference_id=conference_id) + "#messages")
    if is_fragment():
        response = make_response(render_template("conferences/workspace/_message_form.html", conference=conference,
                                                 form=form))
        response.headers["HX-Retarget"] = "#message-form"
        response.headers["HX-Reswap"] = "outerHTML"
        return response
    return _refused(conference_id, "message", form)


@bp.app_template_global("conferences_of_case")
def conferences_of_case(case) -> list[Conference]:
    """For the case page: the workspaces the case is in that the signed-in user may open."""
    if not policy.can(current_user, "conference.list"):
        return []
    return workspace.conferences_of_case(current_user, case)
