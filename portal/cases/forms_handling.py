"""Forms of the handling flow. Each form has a prefix, so that several of them can share the case page.

The forms check the shape of the input (present, not too long, a number); the services decide whether the step is
allowed and give the reason when it is not.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import TextInput

from portal import rules
from portal.forms import REQUIRED, int_or_none
from portal.uploads import ACCEPT

from .handling import OPINION_TEXT_MAX, TEXT_MAX
from .models import OpinionOutcome, RatingValue


class DaysField(IntegerField):
    """A whole number of days, with a message of our own for anything else (a text box with a numeric keyboard:
    a number box would let the browser refuse some input silently)."""

    widget = TextInput()

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        raw = (valuelist[0] or "").strip()
        if not raw:
            self.data = None
            return
        try:
            self.data = int(raw)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a whole number of days.")) from None


class HandlingForm(FlaskForm):
    """The app-wide CSRFProtect checks the token of every POST (templates send it as csrf_token); the forms carry
    a prefix, which would rename a per-form token field, so they leave the check to it."""

    class Meta:
        csrf = False


class ProgressForm(HandlingForm):
    text = TextAreaField(_l("Progress report"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         description=_l("The petitioner sees this entry on their case page."),
                         render_kw={"rows": 3})
    attachments = MultipleFileField(_l("Files for the petitioner (optional)"),
                                    description=_l("PDF, JPEG, PNG, Word or Excel; the petitioner can download them."),
                                    render_kw={"accept": ACCEPT, "multiple": True})


class NoteForm(HandlingForm):
    text = TextAreaField(_l("Internal note"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         description=_l("Seen by the bureau and the departments on the case, never by the petitioner."),
                         render_kw={"rows": 3})


class PauseForm(HandlingForm):
    clock_id = SelectField(_l("Time limit"), coerce=int_or_none, validate_choice=False)
    reason = TextAreaField(_l("Reason for the pause"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                           description=_l("For example: waiting for the petitioner's materials, a hearing."),
                           render_kw={"rows": 2})


class ExtensionForm(HandlingForm):
    days = DaysField(_l("Extra days"), validators=[InputRequired(REQUIRED)],
                     description=_l("At most %(n)d days in all.", n=rules.EXTENSION_MAX_DAYS),
                     render_kw={"inputmode": "numeric", "autocomplete": "off", "size": 4})
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                           description=_l("A leader decides; once approved, the petitioner reads this reason."),
                           render_kw={"rows": 3})


class ExtensionDecisionForm(HandlingForm):
    decision = StringField()  # the value of the button pressed: approve or refuse
    note = TextAreaField(_l("Note (required to refuse)"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})


OUTCOME_CHOICES = [(o.value, o.label) for o in OpinionOutcome]
RATING_CHOICES = [(v.value, v.label) for v in RatingValue]


class OpinionForm(HandlingForm):
    outcome = RadioField(_l("Outcome"), choices=OUTCOME_CHOICES, validate_choice=False)
    facts = TextAreaField(_l("Facts established"), validators=[DataRequired(REQUIRED), Length(max=OPINION_TEXT_MAX)],
                          render_kw={"rows": 5})
    reasons = TextAreaField(_l("Reasons and legal basis"),
                            validators=[DataRequired(REQUIRED), Length(max=OPINION_TEXT_MAX)], render_kw={"rows": 5})


class ReviewRequestForm(HandlingForm):
    reason = TextAreaField(_l("Why do you disagree with the opinion?"),
                           validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)], render_kw={"rows": 4})


class DesignateForm(HandlingForm):
    department_id = SelectField(_l("Reviewing department"), coerce=int_or_none, validate_choice=False)


class RatingForm(HandlingForm):
    value = RadioField(_l("How satisfied are you with the handling opinion?"), choices=RATING_CHOICES,
                       validate_choice=False)
    comment = TextAreaField(_l("Comment (optional)"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 3})
