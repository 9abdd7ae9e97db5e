"""Forms of triage, the department's decision and supervision. Choices are filled by the views."""
import re

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import REQUIRED, int_or_none

from portal.mediation.models import MediationSource

from .models import LegalRoute, ReferralKind


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class RejectForm(FlaskForm):
    reason = TextAreaField(_l("Why the petition is not accepted"),
                           validators=[DataRequired(REQUIRED), Length(max=4000)], render_kw={"rows": 4})
    route = TextAreaField(_l("Where the petitioner may turn instead"),
                          validators=[DataRequired(REQUIRED), Length(max=2000)], render_kw={"rows": 3},
                          description=_l("The body, procedure or channel that can deal with the matter. "
                                         "The petitioner reads this."))


class ReferForm(FlaskForm):
    kind = RadioField(_l("Referral"), choices=[(k.value, k.label) for k in ReferralKind],
                      validators=[InputRequired(REQUIRED)], default=ReferralKind.ASSIGN.value,
                      description=_l("Transfer (转送): the department handles it under its own competence. "
                                     "Assign (交办): the bureau assigns it and follows the result."))
    lead = SelectField(_l("Lead department"), coerce=int_or_none, validators=[InputRequired(REQUIRED)])
    co = MultiCheckboxField(_l("Co-handling departments (optional)"), coerce=int_or_none, validators=[Optional()])
    note = TextAreaField(_l("Note to the departments (optional)"), validators=[Optional(), Length(max=2000)],
                         render_kw={"rows": 3})
    complex = BooleanField(_l("Also mark complex for a joint conference"))
    complex_reason = TextAreaField(_l("Why it needs a joint conference"), validators=[Optional(), Length(max=4000)],
                                   render_kw={"rows": 2})

    def validate_complex_reason(self, field):
        if self.complex.data and not (field.data or "").strip():
            raise ValidationError(_l("Give the reason the case needs a joint conference."))


class LegalRouteForm(FlaskForm):
    route = RadioField(_l("Legal channel"), choices=[(r.value, r.label) for r in LegalRoute],
                       validators=[InputRequired(REQUIRED)])
    notice = TextAreaField(_l("Where to go and how"), validators=[DataRequired(REQUIRED), Length(max=4000)],
                           render_kw={"rows": 5},
                           description=_l("The body to turn to (court, arbitration commission, review body), its "
                                          "address and any time limit. This text is printed on the notice."))


PHONE_PATTERN = re.compile(r"[0-9+\- ]{5,20}")


class MediationForm(FlaskForm):
    """The referral to mediation. validate() checks every field at once (the fields a choice needs: the court for
    the court source, the department or the person for the other side, both consents), so every message shows in
    one go; the service checks the same again before it changes anything."""

    source = RadioField(_l("Referred from"), choices=[(s.value, s.label) for s in MediationSource],
                        validators=[InputRequired(REQUIRED)], default=MediationSource.PETITION.value)
    court = SelectField(_l("Entrusting court (诉调对接)"), coerce=int_or_none, validators=[Optional()])
    court_reference = StringField(_l("Court file number"), validators=[Length(max=100)],
                                  description=_l("Required for a matter entrusted by a court."))
    committee = SelectField(_l("People's mediation committee"), coerce=int_or_none,
                            validators=[InputRequired(REQUIRED)])
    respondent = RadioField(_l("The other side is"), choices=[("department", _l("A department")),
                                                             ("person", _l("Another person or company"))],
                            validators=[InputRequired(REQUIRED)], default="department")
    other_department = SelectField(_l("Department on the other side"), coerce=int_or_none, validators=[Optional()])
    other_party = StringField(_l("Name of the other party"), validators=[Length(max=200)],
                              description=_l("A person or company, when the other side is not a department."))
    other_phone = StringField(_l("Phone of the other party (optional)"), validators=[Length(max=20)])
    petitioner_consent_on = DateField(_l("Petitioner consented on"), validators=[Optional()],
                                      render_kw={"type": "date"})
    petitioner_consent_how = StringField(_l("How the petitioner consented"), validators=[Length(max=200)],
                                         description=_l("E.g. signed consent form, recorded phone call."))
    other_consent_on = DateField(_l("Other party consented on"), validators=[Optional()], render_kw={"type": "date"})
    other_consent_how = StringField(_l("How the other party consented"), validators=[Length(max=200)])
    scope_confirmed = BooleanField(_l("I confirm this is not an administrative dispute, and not a matter in "
                                      "litigation unless the court entrusts it for mediation"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Shown with the required mark inside the court fieldset (which is only about a court's referral).
        self.court_reference.flags.required = True

    def validate(self, extra_validators=None) -> bool:
        from flask_babel import gettext as _

        from portal import timeutil

        valid = super().validate(extra_validators)

        def refuse(field, message) -> None:
            nonlocal valid
            if not field.errors:
                field.errors = list(field.errors) + [message]
            valid = False

        if self.source.data == MediationSource.COURT.value:
            if self.court.data is None:
                refuse(self.court, _("Choose the court that entrusts the matter."))
            if not (self.court_reference.data or "").strip():
                refuse(self.court_reference, _("Enter the court's file number: a court-entrusted matter needs it."))
        if self.respondent.data == "department" and self.other_department.data is None:
            refuse(self.other_department, _("Choose the department on the other side."))
        elif self.respondent.data == "person":
            if not (self.other_party.data or "").strip():
                refuse(self.other_party, _("Enter the name of the other party."))
            phone = (self.other_phone.data or "").strip()
            if phone and not PHONE_PATTERN.fullmatch(phone):
                refuse(self.other_phone, _("Enter a phone number of 5 to 20 characters: digits, +, - and spaces."))
        today = timeutil.today()
        for when, how in ((self.petitioner_consent_on, self.petitioner_consent_how),
                          (self.other_consent_on, self.other_consent_how)):
            if when.data is None:
                refuse(when, _("Mediation needs the consent of both sides: enter the date of this side's consent."))
            elif when.data > today:
                refuse(when, _("A consent cannot be dated in the future."))
            if not (how.data or "").strip():
                refuse(how, _("Mediation needs the consent of both sides: record how this side consented."))
        if not self.scope_confirmed.data:
            refuse(self.scope_confirmed, _("Confirm that this is neither an administrative dispute nor a matter "
                                            "already in litigation: those cannot go to people's mediation."))
        return valid


class ComplexForm(FlaskForm):
    reason = TextAreaField(_l("Why it needs a joint conference"),
                           validators=[DataRequired(REQUIRED), Length(max=4000)], render_kw={"rows": 3},
                           description=_l("For example: several departments are competent, or the facts span "
                                          "their areas."))


class ObjectForm(FlaskForm):
    reason = TextAreaField(_l("Why the matter is outside your department's competence"),
                           validators=[DataRequired(REQUIRED), Length(max=4000)], render_kw={"rows": 3})
    next = HiddenField()


class SuperviseForm(FlaskForm):
    department = SelectField(_l("Responsible department"), coerce=int_or_none, validators=[InputRequired(REQUIRED)])
    notice = TextAreaField(_l("Supervision notice"), validators=[DataRequired(REQUIRED), Length(max=4000)],
                           render_kw={"rows": 4},
                           description=_l("What is overdue and what the department must do. It must answer in "
                                          "writing."))


class RespondForm(FlaskForm):
    response = TextAreaField(_l("Written answer"), validators=[DataRequired(REQUIRED), Length(max=4000)],
                             render_kw={"rows": 4},
                             description=_l("The reason for the delay and the progress made."))
    next = HiddenField()
