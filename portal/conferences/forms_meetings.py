"""Forms of the meetings part: proposing a meeting, candidate slots, answers, choosing and cancelling."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    RadioField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from portal.forms import REQUIRED, int_or_none

from .meetings import MAX_MINUTES
from .models import Answer


class SlotFields:
    on = DateField(_l("Date"), validators=[InputRequired(REQUIRED)])
    at = TimeField(_l("Start time"), validators=[InputRequired(REQUIRED)], description=_l("Beijing time"))
    minutes = IntegerField(_l("Length (minutes)"), default=90,
                           validators=[InputRequired(REQUIRED),
                                       NumberRange(min=1, max=MAX_MINUTES,
                                                   message=_l("A meeting lasts from 1 to %(max)s minutes."))])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)],
                        description=_l("Address or building"))
    room = StringField(_l("Room"), validators=[Optional(), Length(max=100)],
                       description=_l("Bookings of the same room are checked for overlaps."))
    online_link = StringField(_l("Online link"), validators=[Optional(), Length(max=500)],
                              description=_l("Instead of or besides a place: https://…"))

    def slot_input(self):
        from .meetings import SlotInput

        return SlotInput(on=self.on.data, at=self.at.data, minutes=self.minutes.data, place=self.place.data or "",
                         room=self.room.data or "", online_link=self.online_link.data or "")


class ProposeForm(SlotFields, FlaskForm):
    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED), Length(max=200)])


class SlotForm(SlotFields, FlaskForm):
    pass


class AnswerForm(FlaskForm):
    slot_id = HiddenField(validators=[InputRequired(REQUIRED)], filters=[int_or_none])
    answer = RadioField(_l("Your answer"), choices=[(a.value, a.label) for a in Answer],
                        validators=[InputRequired(_l("Choose yes, if need be or no."))])


class ChooseForm(FlaskForm):
    slot_id = HiddenField(validators=[InputRequired(REQUIRED)], filters=[int_or_none])
    urgent_reason = TextAreaField(_l("Why the meeting is urgent"), validators=[Optional(), Length(max=4000)],
                                  render_kw={"rows": 3})
    confirm_conflicts = BooleanField(_l("I know about the overlapping meetings; fix this time anyway"))


class CancelForm(FlaskForm):
    reason = TextAreaField(_l("Reason (sent to the participants)"), validators=[Optional(), Length(max=2000)],
                           render_kw={"rows": 2})


class RemoveSlotForm(FlaskForm):
    slot_id = HiddenField(validators=[InputRequired(REQUIRED)], filters=[int_or_none])
