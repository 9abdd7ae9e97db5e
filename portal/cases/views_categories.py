"""Admin pages for the category list offered on new petitions (/admin/categories)."""
from __future__ import annotations

from flask import flash, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from portal import policy
from portal.extensions import db
from portal.forms import attach_error
from portal.htmx import redirect_to

from . import bp
from .forms_categories import CategoryForm
from .intake import save_category
from .models import Case, Category
from .services import CaseError


@bp.route("/admin/categories")
@policy.requires("admin.categories")
def categories():
    rows = db.session.execute(
        select(Category, func.count(Case.id)).outerjoin(Case, Case.category_id == Category.id)
        .group_by(Category.id).order_by(Category.position, Category.name)
    ).all()
    return render_template("admin/categories.html", rows=rows)


@bp.route("/admin/categories/new", methods=["GET", "POST"])
@policy.requires("admin.categories")
def new_category():
    return _category_form(None)


@bp.route("/admin/categories/<int:category_id>", methods=["GET", "POST"])
@policy.requires("admin.categories")
def edit_category(category_id):
    return _category_form(db.get_or_404(Category, category_id))


def _category_form(category):
    form = CategoryForm(obj=category)
    if form.validate_on_submit():
        try:
            saved = save_category(category, name=form.name.data, position=form.position.data or 0,
                                  active=form.active.data)
        except CaseError as error:
            db.session.rollback()
            attach_error(form, error)
        else:
            flash(_("Saved."), "success")
            return redirect_to(url_for("cases.categories", _anchor=f"category-{saved.id}"))
    return render_template("admin/category_form.html", form=form, category=category)
