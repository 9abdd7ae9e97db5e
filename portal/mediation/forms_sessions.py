"""Forms of the mediation sessions: scheduling or moving a session, cancelling it."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, StringField, TextAreaField, TimeField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from portal import rules
from portal.forms import REQUIRED

from .sessions import DEFAULT_MINUTES, SessionInput


class SessionForm(FlaskForm):
    on = DateField(_l("Date"), validators=[InputRequired(REQUIRED)])
    at = TimeField(_l("Start time"), validators=[InputRequired(REQUIRED)], description=_l("Beijing time"))
    minutes = IntegerField(_l("Length (minutes)"), default=DEFAULT_MINUTES,
                           validators=[InputRequired(REQUIRED),
                                       NumberRange(min=1, max=rules.MEDIATION_SESSION_MAX_MINUTES,
                                                   message=_l("A session lasts from 1 to %(max)s minutes."))])
    room = StringField(_l("Mediation room"), validators=[Optional(), Length(max=100)],
                       description=_l("Bookings of the same room are checked for overlaps."))
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)],
                        description=_l("Address or building, for the invitations"))
    confirm_conflicts = BooleanField(_l("I know about the overlapping bookings; schedule this time anyway"))

    def session_input(self) -> SessionInput:
        return SessionInput(on=self.on.data, at=self.at.data, minutes=self.minutes.data,
                            room=self.room.data or "", place=self.place.data or "")


class CancelSessionForm(FlaskForm):
    reason = TextAreaField(_l("Reason (sent to the participants)"),
                           validators=[InputRequired(_l("Give the reason for cancelling (it is sent to the "
                                                        "participants).")), Length(max=2000)],
                           render_kw={"rows": 2, "required": True})
