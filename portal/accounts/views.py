from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime, gettext as _
from flask_login import current_user, login_user, logout_user

from portal import policy
from portal.extensions import limiter
from portal.forms import attach_error
from portal.htmx import redirect_to

from . import bp, services
from .forms import AcceptInvitationForm, ChangePasswordForm, CodeForm, LocaleForm, LoginForm, RegisterForm
from .services import AccountError, LoginRefused


def safe_next(target: str | None, default: str) -> str:
    """Only same-site paths are followed after log-in.

    Control characters are refused too: browsers drop tabs and newlines from a URL, so "/<tab>/evil.example"
    would become "//evil.example".
    """
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ord(ch) < 32 or ord(ch) == 127 for ch in target)):
        return target
    return default


def _login_limit():
    return current_app.config["PORTAL_LOGIN_RATE_LIMIT"]


def _code_limit():
    return current_app.config["PORTAL_CODE_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@policy.public
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.login.data, form.password.data)
        except LoginRefused as refused:
            message = refused.message
            if refused.locked_until:
                message += " " + _("Try again after %(time)s.", time=format_datetime(refused.locked_until, "short"))
            form.password.errors.append(message)
        else:
            login_user(user, remember=form.remember.data)
            session["locale"] = user.locale
            return redirect_to(safe_next(form.next.data, url_for("home.index")))
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@policy.signed_in
def logout():
    services.record_logout(current_user)
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect_to(url_for("accounts.login"))


@bp.route("/register", methods=["GET", "POST"])
@policy.public
@limiter.limit(_login_limit, methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_petitioner(form.display_name.data, form.login.data, form.password.data,
                                                session.get("locale", "zh_CN"))
        except AccountError as error:
            attach_error(form, error)
        else:
            login_user(user)
            flash(_("Your account is created. Enter the code we sent to %(dest)s.", dest=user.login), "success")
            return redirect_to(url_for("accounts.confirm"))
    return render_template("accounts/register.html", form=form)


@bp.route("/account/confirm", methods=["GET", "POST"])
@policy.requires("account.use")
@limiter.limit(_code_limit, methods=["POST"])
def confirm():
    if current_user.contact_confirmed:
        return redirect(url_for("home.index"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            services.confirm_contact(current_user, form.code.data)
        except AccountError as error:
            attach_error(form, error)
        else:
            flash(_("Thank you, %(dest)s is confirmed.", dest=current_user.login), "success")
            return redirect_to(url_for("home.index"))
    return render_template("accounts/confirm.html", form=form)


@bp.route("/account/confirm/resend", methods=["POST"])
@policy.requires("account.use")
@limiter.limit(_code_limit)
def resend_code():
    if not current_user.contact_confirmed:
        services.send_contact_confirmation(current_user)
        flash(_("A new code is on its way to %(dest)s.", dest=current_user.login), "info")
    return redirect_to(url_for("accounts.confirm"))


@bp.route("/account")
@policy.requires("account.use")
def profile():
    return render_template("accounts/profile.html", locale_form=LocaleForm(locale=current_user.locale))


@bp.route("/account/password", methods=["GET", "POST"])
@policy.requires("account.use")
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(current_user, form.current.data, form.password.data)
        except AccountError as error:
            attach_error(form, error)
        else:
            login_user(current_user._get_current_object())  # the session token changed; keep this session
            flash(_("Your password is changed."), "success")
            return redirect_to(url_for("home.index"))
    return render_template("accounts/password.html", form=form)


@bp.route("/invitation/<token>", methods=["GET", "POST"])
@policy.public
@limiter.limit(_login_limit, methods=["POST"])
def accept_invitation(token):
    invitation = services.find_invitation(token)
    if invitation is None:
        return render_template("accounts/invitation_invalid.html"), 404
    form = AcceptInvitationForm(display_name=invitation.display_name or None)
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(invitation, display_name=form.display_name.data,
                                              phone=form.phone.data, password=form.password.data,
                                              locale=session.get("locale", "zh_CN"))
        except AccountError as error:
            attach_error(form, error)
        else:
            login_user(user)
            flash(_("Welcome, %(name)s. Your account is ready.", name=user.display_name), "success")
            return redirect_to(url_for("home.index"))
    return render_template("accounts/invitation.html", form=form, invitation=invitation)


@bp.route("/locale", methods=["POST"])
@policy.public
def set_locale():
    form = LocaleForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            services.set_locale(current_user, form.locale.data)
    return redirect_to(safe_next(form.next.data or request.referrer and _path(request.referrer), url_for("home.index")))


def _path(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")
