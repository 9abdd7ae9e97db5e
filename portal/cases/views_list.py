"""Finding cases: the case list with active search, filters, sorting and pages; the petitioner's own list."""
from flask import make_response, redirect, render_template, request, url_for
from flask_login import current_user

from portal import policy
from portal.accounts.models import Role
from portal.htmx import is_fragment
from portal.timeutil import today

from . import bp
from . import export as _export  # noqa: F401  (registers the export routes)
from .clocks import due_state
from .listing import OPEN, SORT_LABELS, CaseFilter, department_choices, find_cases, parse_filter
from .models import CaseStatus, Channel, MatterType
from .services import mask_phone

MY_CASES_PER_PAGE = 20


def _row_helpers():
    # Status names translated once per page, not once per row.
    return {"due_state": due_state, "mask_phone": mask_phone, "today": today(),
            "status_labels": {status: str(status.label) for status in CaseStatus}}


@bp.route("/cases")
@policy.requires("case.list")
def index():
    f = parse_filter(request.args)
    page = find_cases(current_user, f)
    context = dict(f=f, page=page, **_row_helpers())
    if is_fragment():
        response = make_response(render_template("cases/_case_rows.html", **context))
        # The address to bookmark: the filter as understood (no empty fields, bad values dropped).
        response.headers["HX-Push-Url"] = url_for("cases.index", **f.args())
        return response
    return render_template("cases/index.html", departments=department_choices(), statuses=list(CaseStatus),
                           channels=list(Channel), matter_types=list(MatterType), sorts=SORT_LABELS, OPEN=OPEN,
                           **context)


@bp.route("/my/cases")
@policy.requires("case.view")
def my_cases():
    """A petitioner's own cases; everyone else works from the case list."""
    if current_user.role != Role.PETITIONER:
        return redirect(url_for("cases.index") if policy.can(current_user, "case.list") else url_for("home.index"))
    f = parse_filter(request.args)
    own = CaseFilter(statuses=f.statuses, page=f.page, notices=f.notices)  # only status and page apply here
    page = find_cases(current_user, own, per_page=MY_CASES_PER_PAGE)
    return render_template("cases/my_cases.html", f=own, page=page, statuses=list(CaseStatus), OPEN=OPEN,
                           **_row_helpers())
