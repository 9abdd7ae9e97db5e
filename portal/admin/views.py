from datetime import datetime, time, timedelta, timezone

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from portal import policy
from portal.accounts import services as accounts
from portal.accounts.models import Department, DepartmentKind, Invitation, Role, User
from portal.audit.models import AuditEvent
from portal.audit.services import verify_chain
from portal.extensions import db
from portal.forms import EmptyForm, attach_error
from portal.htmx import is_fragment, redirect_to
from portal.mail.models import OutboxMessage
from portal.timeutil import utcnow

from . import bp
from .forms import AuditFilterForm, DepartmentForm, InvitationForm, NewUserForm, UserFilterForm, UserForm

PER_PAGE = 50
MAX_PAGE = 100_000  # a larger page number in the address is bad input, not a database error


def _page_number(value) -> int:
    return value if isinstance(value, int) and 1 <= value <= MAX_PAGE else 1


def _posted_version(form) -> int:
    """The record version the form was loaded with; an unreadable one counts as stale."""
    try:
        return int(form.version.data)
    except (TypeError, ValueError):
        return 0


def _department_choices(blank: bool = True):
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    inactive = _("inactive")
    choices = [(d.id, d.name if d.active else f"{d.name} ({inactive})") for d in departments]
    return ([(0, _("— none —"))] if blank else []) + choices


@bp.route("/")
@policy.requires("admin.dashboard")
def dashboard():
    counts = {
        "users": db.session.scalar(select(func.count(User.id))),
        "departments": db.session.scalar(select(func.count(Department.id))),
        "pending_invitations": db.session.scalar(
            select(func.count(Invitation.id)).where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None),
                                                    Invitation.expires_at > utcnow())),
        "outbox": db.session.scalar(select(func.count(OutboxMessage.id))),
        "audit": db.session.scalar(select(func.count(AuditEvent.id))),
    }
    return render_template("admin/dashboard.html", counts=counts)


# --- users ------------------------------------------------------------------------------

@bp.route("/users")
@policy.requires("admin.users")
def users():
    form = UserFilterForm(request.args)
    form.validate()
    query = select(User).order_by(User.display_name, User.id)
    if form.q.data:
        like = f"%{form.q.data.strip()}%"
        query = query.where(or_(User.display_name.ilike(like), User.email.ilike(like), User.phone.ilike(like)))
    if form.role.data and not form.role.errors:
        query = query.where(User.role == Role(form.role.data))
    page = db.paginate(query, page=_page_number(form.page.data), per_page=PER_PAGE, error_out=False)
    template = "admin/_user_rows.html" if is_fragment() else "admin/users.html"
    return render_template(template, form=form, page=page)


def _user_form_values(form):
    department = db.session.get(Department, form.department_id.data) if form.department_id.data else None
    return dict(display_name=form.display_name.data, email=form.email.data or None, phone=form.phone.data or None,
                role=Role(form.role.data), department=department, locale=form.locale.data)


@bp.route("/users/new", methods=["GET", "POST"])
@policy.requires("admin.users")
def new_user():
    form = NewUserForm()
    form.department_id.choices = _department_choices()
    if form.validate_on_submit():
        try:
            user = accounts.create_user(**_user_form_values(form), password=form.password.data)
        except accounts.AccountError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("The account of %(name)s is created.", name=user.display_name), "success")
            return redirect_to(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@policy.requires("user.edit")
def edit_user(user_id):
    user = db.get_or_404(User, user_id)
    form = UserForm(obj=user, role=user.role.value, department_id=user.department_id or 0, version=user.version)
    form.department_id.choices = _department_choices()
    if form.validate_on_submit():
        try:
            accounts.update_user(user, **_user_form_values(form), active=form.active.data,
                                 version=_posted_version(form), acting=current_user)
        except accounts.AccountError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect_to(url_for("admin.edit_user", user_id=user.id))
    return render_template("admin/user_form.html", form=form, user=user)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@policy.requires("user.deactivate")
def set_user_active(user_id):
    user = db.get_or_404(User, user_id)
    activate = request.form.get("active") == "1"
    if not activate:
        policy.ensure("user.deactivate", user)
    form = EmptyForm()
    if form.validate_on_submit():
        accounts.set_active(user, activate, current_user)
        flash(_("The account is active again.") if activate else _("The account is deactivated."), "success")
    return redirect_to(url_for("admin.edit_user", user_id=user.id))


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@policy.requires("user.edit")
def reset_password(user_id):
    user = db.get_or_404(User, user_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    temporary = accounts.reset_password(user)
    return render_template("admin/password_reset.html", user=user, temporary=temporary)


# --- departments ------------------------------------------------------------------------

@bp.route("/departments")
@policy.requires("admin.departments")
def departments():
    rows = db.session.execute(
        select(Department, func.count(User.id)).outerjoin(User, User.department_id == Department.id)
        .group_by(Department.id).order_by(Department.name)
    ).all()
    return render_template("admin/departments.html", rows=rows)


@bp.route("/departments/new", methods=["GET", "POST"])
@policy.requires("admin.departments")
def new_department():
    return _department_form(None)


@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
@policy.requires("admin.departments")
def edit_department(department_id):
    return _department_form(db.get_or_404(Department, department_id))


def _department_form(department):
    form = DepartmentForm(obj=department, kind=department.kind.value if department else None,
                          version=department.version if department else None)
    if form.validate_on_submit():
        try:
            saved = accounts.save_department(department, name=form.name.data, code=form.code.data,
                                             kind=DepartmentKind(form.kind.data), active=form.active.data,
                                             version=_posted_version(form) if form.version.data else None)
        except accounts.AccountError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect_to(url_for("admin.departments", _anchor=f"dept-{saved.id}"))
    return render_template("admin/department_form.html", form=form, department=department)


# --- invitations ------------------------------------------------------------------------

@bp.route("/invitations", methods=["GET", "POST"])
@policy.requires("admin.invitations")
def invitations():
    form = InvitationForm()
    form.department_id.choices = [c for c in _department_choices(blank=False)]
    if form.validate_on_submit():
        department = db.session.get(Department, form.department_id.data)
        try:
            accounts.create_invitation(email=form.email.data, display_name=form.display_name.data or "",
                                       department=department, invited_by=current_user)
        except accounts.AccountError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("The invitation is sent to %(email)s.", email=form.email.data), "success")
            return redirect_to(url_for("admin.invitations"))
    rows = db.session.scalars(select(Invitation).order_by(Invitation.id.desc()).limit(200)).all()
    return render_template("admin/invitations.html", form=form, rows=rows)


@bp.route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
@policy.requires("admin.invitations")
def revoke_invitation(invitation_id):
    invitation = db.get_or_404(Invitation, invitation_id)
    if EmptyForm().validate_on_submit():
        try:
            accounts.revoke_invitation(invitation)
            flash(_("The invitation is revoked."), "success")
        except accounts.AccountError as error:
            flash(error.message, "error")
    return redirect_to(url_for("admin.invitations"))


# --- outbox -----------------------------------------------------------------------------

@bp.route("/outbox")
@policy.requires("admin.outbox")
def outbox():
    from sqlalchemy.orm import selectinload

    from portal.mail.models import OutboxAttachment

    attachments = selectinload(OutboxMessage.attachments).load_only(OutboxAttachment.id, OutboxAttachment.filename)
    page = db.paginate(select(OutboxMessage).options(attachments).order_by(OutboxMessage.id.desc()),
                       page=_page_number(request.args.get("page", 1, type=int)), per_page=PER_PAGE, error_out=False)
    return render_template("admin/outbox.html", page=page)


@bp.route("/outbox/attachments/<int:attachment_id>")
@policy.requires("admin.outbox")
def outbox_attachment(attachment_id):
    from flask import Response

    from portal.mail.models import OutboxAttachment

    item = db.get_or_404(OutboxAttachment, attachment_id)
    response = Response(item.data, mimetype=item.content_type.split(";")[0])
    response.headers["Content-Disposition"] = f'attachment; filename="{item.filename}"'
    return response


# --- audit trail ------------------------------------------------------------------------

@bp.route("/audit")
@policy.requires("admin.audit")
def audit():
    form = AuditFilterForm(request.args)
    form.validate()
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if form.action.data:
        query = query.where(AuditEvent.action.startswith(form.action.data.strip()))
    if form.actor.data:
        query = query.where(AuditEvent.actor_label.ilike(f"%{form.actor.data.strip()}%"))
    if form.object_type.data:
        query = query.where(AuditEvent.object_type == form.object_type.data.strip())
    if form.object_id.data:
        query = query.where(AuditEvent.object_id == form.object_id.data.strip())
    start = _local_midnight(form.date_from.data) if form.date_from.data and not form.date_from.errors else None
    if start:
        query = query.where(AuditEvent.at >= start)
    end = _local_midnight(form.date_to.data, days_after=1) if form.date_to.data and not form.date_to.errors else None
    if end:
        query = query.where(AuditEvent.at < end)
    page = db.paginate(query, page=_page_number(form.page.data), per_page=PER_PAGE, error_out=False)
    template = "admin/_audit_rows.html" if is_fragment() else "admin/audit.html"
    return render_template(template, form=form, page=page)


def _local_midnight(day, days_after: int = 0):
    """Start of a local day in UTC; None for a day the clock cannot represent (the filter is then ignored)."""
    from portal.timeutil import local_zone

    try:
        # zoneinfo, not the pytz zone Babel hands out: pytz attached directly gives the zone's 1900 offset (+08:06).
        start = datetime.combine(day + timedelta(days=days_after), time.min, tzinfo=local_zone())
        return start.astimezone(timezone.utc)
    except OverflowError:
        return None


@bp.route("/audit/verify")
@policy.requires("admin.audit")
def audit_verify():
    return render_template("admin/audit_verify.html", report=verify_chain())
