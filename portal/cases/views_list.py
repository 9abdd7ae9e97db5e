"""The case list."""
from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from portal import policy
from portal.extensions import db

from . import bp
from .models import Case


@bp.route("/cases")
@policy.requires("case.list")
def index():
    cases = db.session.scalars(
        select(Case).where(policy.visible_cases_clause(current_user)).order_by(Case.id.desc()).limit(50)
    ).all()
    return render_template("cases/index.html", cases=cases)
