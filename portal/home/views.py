from flask import jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal import policy
from portal.accounts.models import Role
from portal.extensions import db

from . import bp, desk

HOME_TEMPLATES = {
    Role.ADMIN: "home/admin.html",
    Role.STAFF: "home/staff.html",
    Role.MEDIATOR: "home/mediator.html",
    Role.DEPARTMENT_REP: "home/department.html",
    Role.LEADER: "home/leader.html",
    Role.PETITIONER: "home/petitioner.html",
}


@bp.route("/")
@policy.public
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    extra = {}
    if current_user.role == Role.PETITIONER:
        from portal.cases.listing import own_status_summary

        extra["my_summary"] = own_status_summary(current_user)
    if current_user.role == Role.MEDIATOR:
        extra["desk"] = desk.mediator_desk(current_user)
    elif current_user.role in (Role.PETITIONER, Role.DEPARTMENT_REP):
        extra["desk"] = desk.party_desk(current_user)
    return render_template(HOME_TEMPLATES[current_user.role], **extra)


@bp.route("/ping")
@policy.public
def ping():
    """A bare endpoint without the database: the yardstick of benchmarks/run.sh."""
    return "ok", 200, {"Content-Type": "text/plain; charset=utf-8"}


@bp.route("/healthz")
@policy.public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database=False), 503
    return jsonify(status="ok", database=True)
