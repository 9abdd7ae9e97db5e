from datetime import date

from flask import flash, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from portal import policy
from portal.extensions import db
from portal.forms import EmptyForm, attach_error
from portal.htmx import redirect_to

from . import bp, services
from .forms import HolidayYearForm
from .models import HolidayYear


def _lines(entry: HolidayYear, kind: str) -> str:
    return "\n".join(f"{d.day.isoformat()} {d.name}".strip() for d in entry.days if d.kind == kind)


@bp.route("/")
@policy.requires("admin.holidays")
def index():
    entered = db.session.scalars(select(HolidayYear).order_by(HolidayYear.year.desc())).all()
    this_year = date.today().year
    years = [(y, services.year_source(y)) for y in range(this_year - 1, this_year + 3)]
    return render_template("holidays/index.html", entered=entered, years=years,
                           package_years=services.PACKAGE_YEARS)


@bp.route("/new", methods=["GET", "POST"])
@policy.requires("admin.holidays")
def new():
    return _edit(None)


@bp.route("/<int:year>", methods=["GET", "POST"])
@policy.requires("admin.holidays")
def edit(year):
    return _edit(db.get_or_404(HolidayYear, year))


def _edit(entry):
    form = HolidayYearForm(obj=entry)
    if entry is not None and not form.is_submitted():
        form.off_days.data = _lines(entry, "off")
        form.work_days.data = _lines(entry, "work")
    if form.validate_on_submit():
        year = entry.year if entry is not None else form.year.data
        if entry is None and db.session.get(HolidayYear, year) is not None:
            form.year.errors.append(_("This year is already entered; edit it instead."))
        else:
            try:
                services.save_year(year, form.source.data, form.parsed_off, form.parsed_work)
            except services.HolidayError as error:
                db.session.rollback()
                attach_error(form, error)
            else:
                flash(_("The holiday table of %(year)d is saved.", year=year), "success")
                return redirect_to(url_for("holidays.index"))
    return render_template("holidays/edit.html", form=form, entry=entry)


@bp.route("/<int:year>/delete", methods=["POST"])
@policy.requires("admin.holidays")
def delete(year):
    entry = db.get_or_404(HolidayYear, year)
    if EmptyForm().validate_on_submit():
        services.delete_year(entry)
        flash(_("The holiday table of %(year)d is removed.", year=year), "success")
    return redirect_to(url_for("holidays.index"))
