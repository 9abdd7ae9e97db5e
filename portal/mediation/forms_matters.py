"""Forms of the matter page: mediators, room, parties, a withdrawal of consent and the outcome. The views fill the
choices; the services check the rest (a refusal comes back next to its field)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.cases.models import LegalRoute
from portal.forms import REQUIRED, int_or_none

from .models import AfterMediation, MediationStatus, PartySide


class MediatorForm(FlaskForm):
    user_id = SelectField(_l("Mediator"), coerce=int_or_none, validators=[InputRequired(REQUIRED)])


class RoomForm(FlaskForm):
    room = StringField(_l("Mediation room"), validators=[InputRequired(REQUIRED), Length(max=100)],
                       description=_l("Where the sessions are usually held."))


class PartyForm(FlaskForm):
    side = RadioField(_l("Side"), choices=[(s.value, s.label) for s in PartySide],
                      validators=[InputRequired(REQUIRED)], default=PartySide.RESPONDENT.value)
    kind = RadioField(_l("The party is"), choices=[("petitioner", _l("A petitioner of the case")),
                                                   ("department", _l("A department")),
                                                   ("person", _l("Another person or company"))],
                      validators=[InputRequired(REQUIRED)], default="person")
    petitioner_id = SelectField(_l("Petitioner"), coerce=int_or_none, validators=[Optional()])
    department_id = SelectField(_l("Department"), coerce=int_or_none, validators=[Optional()])
    name = StringField(_l("Name of the person or company"), validators=[Length(max=200)])
    phone = StringField(_l("Phone (optional)"), validators=[Length(max=20)])
    consent_on = DateField(_l("Consented on"), validators=[Optional()], render_kw={"type": "date"})
    consent_how = StringField(_l("How the party consented"), validators=[Length(max=200)],
                              description=_l("E.g. signed consent form, recorded phone call."))


class WithdrawForm(FlaskForm):
    party_id = SelectField(_l("Party withdrawing consent"), coerce=int_or_none, validators=[InputRequired(REQUIRED)])
    withdrawn_on = DateField(_l("Withdrawn on"), validators=[Optional()], render_kw={"type": "date"})
    reason = TextAreaField(_l("Reason given"), validators=[Length(max=4000)], render_kw={"rows": 3},
                           description=_l("The mediation ends with this reason and the case goes back to the "
                                          "petition bureau's triage."))


OUTCOME_CHOICES = [(MediationStatus.AGREEMENT.value, _l("Agreement reached: the written agreement is drafted next")),
                   (MediationStatus.ORAL_AGREEMENT.value, _l("Oral agreement, recorded by the mediator (art. 28)")),
                   (MediationStatus.NO_AGREEMENT.value, _l("No agreement"))]


class OutcomeForm(FlaskForm):
    kind = RadioField(_l("Mediation outcome"), choices=OUTCOME_CHOICES, validators=[InputRequired(REQUIRED)])
    text = TextAreaField(_l("Terms of the oral agreement, or why no agreement was reached"),
                         validators=[Length(max=4000)], render_kw={"rows": 4},
                         description=_l("Required for an oral agreement (its terms as recorded) and for no "
                                        "agreement (the reason). The petitioner reads this."))
    after = RadioField(_l("Without agreement, the case goes"), choices=[(a.value, a.label) for a in AfterMediation],
                       validators=[Optional()])
    legal_route = RadioField(_l("Legal channel"), choices=[(r.value, r.label) for r in LegalRoute],
                             validators=[Optional()])
    legal_route_notice = TextAreaField(_l("Where to go and how"), validators=[Length(max=4000)],
                                       render_kw={"rows": 4},
                                       description=_l("For the legal channel: the body to turn to, its address and "
                                                      "any time limit. This text is printed on the notice."))
