"""Y City petition portal."""
from __future__ import annotations

from flask import Flask, flash, redirect, render_template, request, session, url_for
from flask_babel import format_date, format_datetime, gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.routing import IntegerConverter

from . import config as config_module
from .extensions import babel, csrf, db, limiter, login_manager, migrate

LOCALES = ("zh_CN", "en")


class DatabaseIntConverter(IntegerConverter):
    """<int:...> in a route only matches numbers an INTEGER column can hold: a larger one is a 404, not an error."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder="../templates", static_folder="../static",
                instance_path=str(config_module.INSTANCE))
    app.url_map.converters["int"] = DatabaseIntConverter
    # The profile named in `config` (if any) decides the defaults, e.g. Secure cookies in production.
    app.config.update(config_module.load((config or {}).get("PORTAL_ENV")))
    if config:
        app.config.update(config)
    config_module.check_production(app.config)
    if app.config.get("PORTAL_PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["PORTAL_PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    login_manager.session_protection = "basic"

    _import_models()
    _register_blueprints(app)
    _register_hooks(app)
    _register_errors(app)
    _register_template_helpers(app)

    from .cli import register_cli

    register_cli(app)
    if app.config["PORTAL_ENV"] == "production":
        with app.app_context():
            from .demo import refuse_demo_data_in_production

            refuse_demo_data_in_production()
    return app


def _import_models() -> None:
    # Models must be imported so that SQLAlchemy (and Alembic) know every table.
    from .accounts import models as _accounts  # noqa: F401
    from .audit import models as _audit  # noqa: F401
    from .cases import models as _cases  # noqa: F401
    from .conferences import models as _conferences  # noqa: F401
    from .scheduling import models as _scheduling  # noqa: F401
    from .holidays import models as _holidays  # noqa: F401
    from .mail import models as _mail  # noqa: F401
    from .mediation import models as _mediation  # noqa: F401
    from .agreements import models as _agreements  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from .accounts import bp as accounts_bp, views as _av  # noqa: F401
    from .agreements import (bp as agreements_bp, views_documents as _agd, views_drafting as _agr,  # noqa: F401
                             views_follow_up as _agf, views_signing as _ags, views_verify as _agv)
    from .admin import bp as admin_bp, views as _adv  # noqa: F401
    from .cases import (bp as cases_bp, views as _cv, views_categories as _cc, views_claim as _ccl,  # noqa: F401
                        views_handling as _ch, views_intake as _ci, views_list as _cl, views_triage as _ct)
    from .conferences import (bp as conferences_bp, views_meetings as _cfm, views_minutes as _cfn,  # noqa: F401
                              views_workspace as _cfw)
    from .holidays import bp as holidays_bp, views as _hol  # noqa: F401
    from .home import bp as home_bp, views as _hv  # noqa: F401
    from .mediation import (bp as mediation_bp, views_matters as _mm, views_record as _mr,  # noqa: F401
                            views_sessions as _ms)
    from .scheduling import bp as scheduling_bp, views as _sv  # noqa: F401

    app.register_blueprint(home_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(conferences_bp)
    app.register_blueprint(scheduling_bp)
    app.register_blueprint(mediation_bp)
    app.register_blueprint(agreements_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(holidays_bp, url_prefix="/admin/holidays")


def select_locale() -> str:
    if current_user and current_user.is_authenticated and current_user.locale in LOCALES:
        return current_user.locale
    if session.get("locale") in LOCALES:
        return session["locale"]
    return "zh_CN"


@login_manager.unauthorized_handler
def _unauthorized():
    """Anonymous users go to the log-in page; an in-page request (an expired session) navigates there whole."""
    from urllib.parse import urlsplit

    from flask import Response

    if request.headers.get("HX-Request") == "true":
        current = urlsplit(request.headers.get("HX-Current-URL", ""))
        target = (current.path + (f"?{current.query}" if current.query else "")) if current.path else request.path
        response = Response(status=204)
        response.headers["HX-Redirect"] = url_for("accounts.login", next=target)
        return response
    return redirect(url_for("accounts.login", next=request.full_path if request.query_string else request.path))


@login_manager.user_loader
def load_user(user_id: str):
    from .accounts.models import User

    try:
        pk, token = user_id.split(":", 1)
        user = db.session.get(User, int(pk))
    except (ValueError, TypeError):
        return None
    # A changed password or a deactivation changes the token and ends every other session.
    if user is None or user.session_token != token or not user.active:
        return None
    return user


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        # Let SQLAlchemy issue BEGIN itself: pysqlite's own transaction handling breaks SAVEPOINTs.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn):
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


# Pages a user who must change their password may still open.
_PASSWORD_CHANGE_EXEMPT = {"accounts.change_password", "accounts.logout", "accounts.set_locale", "static",
                           "home.healthz"}


def _register_hooks(app: Flask) -> None:
    from .htmx import add_vary

    @app.before_request
    def force_password_change():
        # The endpoint is checked first: /healthz must answer without loading the user from the database.
        if (request.endpoint not in _PASSWORD_CHANGE_EXEMPT and current_user.is_authenticated
                and current_user.must_change_password):
            flash(_("Please choose a new password before you continue."), "warning")
            return redirect(url_for("accounts.change_password"))
        return None

    @app.after_request
    def headers(response):
        add_vary(response)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _register_errors(app: Flask) -> None:
    from .htmx import is_fragment

    def page(code: int, title: str, message: str):
        if is_fragment():
            # An in-page request shows the message above the page instead of pasting a page into a fragment.
            response = app.make_response((render_template("errors/_alert.html", code=code, title=title,
                                                          message=message), code))
            response.headers["HX-Retarget"] = "#page-alert"
            response.headers["HX-Reswap"] = "innerHTML"
            return response
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(400)
    def bad_request(error):
        return page(400, _("Bad request"), _("The request could not be understood. Go back and try again."))

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return page(400, _("The form has expired"),
                    _("For your security the form was refused. Reload the page and send it again."))

    @app.errorhandler(403)
    def forbidden(error):
        return page(403, _("Access denied"), _("You do not have access to this page."))

    @app.errorhandler(404)
    def not_found(error):
        return page(404, _("Page not found"), _("There is nothing at this address."))

    @app.errorhandler(405)
    def method_not_allowed(error):
        return page(405, _("Not allowed"), _("This action is not available here."))

    @app.errorhandler(413)
    def too_large(error):
        return page(413, _("File too large"), _("The upload is larger than the portal accepts."))

    @app.errorhandler(429)
    def too_many(error):
        return page(429, _("Too many attempts"), _("Too many requests in a short time. Wait a minute and try again."))

    @app.errorhandler(500)
    def server_error(error):
        db.session.rollback()
        return page(500, _("Something went wrong"),
                    _("The portal could not finish this request. Nothing was saved. Try again later."))


def _register_template_helpers(app: Flask) -> None:
    from . import policy
    from .forms import LOCALES as LOCALE_CHOICES, EmptyForm
    from .cases.events import describe as describe_event, progress_attachment_ids
    from .text import colon, join_names
    from .htmx import is_fragment
    from .timeutil import utcnow

    app.jinja_env.globals.update(
        can=lambda permission, obj=None: policy.can(current_user, permission, obj),
        is_fragment=is_fragment,
        locale_choices=LOCALE_CHOICES,
        empty_form=EmptyForm,
        current_locale=select_locale,
        now_utc=utcnow,
        describe_event=describe_event,
        progress_attachment_ids=progress_attachment_ids,
        colon=colon,
    )
    app.jinja_env.filters["names"] = join_names
    app.jinja_env.filters["datetime"] = lambda value, fmt="medium": format_datetime(value, fmt) if value else ""
    app.jinja_env.filters["date"] = lambda value, fmt="medium": format_date(value, fmt) if value else ""
