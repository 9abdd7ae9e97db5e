"""Forms of the public verification page and of the follow-up (judicial confirmation, performance). They check the
shape of the input; verification.py and follow_up.py decide."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, MultipleFileField
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import REQUIRED, int_or_none
from portal.uploads import ACCEPT

from .models import ObligationStatus

TEXT_MAX = 4000


class PartForm(FlaskForm):
    """The app-wide CSRFProtect checks every POST; the templates send csrf_token themselves."""

    class Meta:
        csrf = False


class VerifyForm(PartForm):
    """Either a PDF file or the short code printed on the agreement."""

    document = FileField(_l("The agreement as a PDF file"), render_kw={"accept": ".pdf,application/pdf"},
                         description=_l("The file is compared and checked, then forgotten: it is not kept."))
    code = StringField(_l("Or the verification code printed on the agreement"), validators=[Length(max=40)],
                       render_kw={"autocomplete": "off", "autocapitalize": "characters", "spellcheck": "false"})


class JudicialApplicationForm(PartForm):
    applied_on = DateField(_l("Applied on"), validators=[DataRequired(_l("Enter the day the application was made."))])
    court_id = SelectField(_l("Court"), coerce=int_or_none, validate_choice=False)
    court_name = StringField(_l("Or the court's name, when it is not in the list"), validators=[Length(max=200)])
    court_reference = StringField(_l("Court file number (optional)"), validators=[Length(max=100)])


class JudicialResultForm(PartForm):
    result = RadioField(_l("The court's decision"),
                        choices=[("confirmed", _l("Confirmed by the court")), ("rejected", _l("Not confirmed"))],
                        validators=[DataRequired(_l("Choose the court's decision."))])
    result_on = DateField(_l("Decided on"), validators=[DataRequired(_l("Enter the day of the court's decision."))])
    note = TextAreaField(_l("Note (required when not confirmed)"), validators=[Length(max=TEXT_MAX)],
                         render_kw={"rows": 2})


class ReportForm(PartForm):
    extent = RadioField(_l("Performed"), choices=[("performed", _l("In full")), ("partly", _l("In part"))],
                        validators=[DataRequired(_l("Say whether the obligation was performed in full or in part."))])
    text = TextAreaField(_l("What was done"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})
    evidence = MultipleFileField(_l("Evidence files (optional)"), description=_l("PDF, JPEG, PNG, Word or Excel."),
                                 render_kw={"accept": ACCEPT, "multiple": True})


class AnswerForm(PartForm):
    answer = RadioField(_l("Your answer"), choices=[("confirmed", _l("I confirm this report")),
                                                    ("disputed", _l("I dispute this report"))],
                        validators=[DataRequired(_l("Confirm or dispute the report."))])
    note = TextAreaField(_l("Note (required when disputing)"), validators=[Length(max=TEXT_MAX)],
                         render_kw={"rows": 2})


class StatusForm(PartForm):
    status = SelectField(_l("Status"), choices=[(s.value, s.label) for s in ObligationStatus],
                         validators=[DataRequired(_l("Choose a status."))])
    note = TextAreaField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 2})


class NoticeForm(PartForm):
    text = TextAreaField(_l("Supervision notice to the obliged party"),
                         validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)], render_kw={"rows": 3})

