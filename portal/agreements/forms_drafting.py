"""Forms of drafting: a new version with its obligation rows, and a comment. The views fill the party choices; the
service checks everything again (a refusal comes back next to its field)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.forms import REQUIRED, int_or_none

BLANK_ROWS = 2  # blank obligation rows offered below the filled ones (without JavaScript)
MAX_ROWS = 60


class ObligationRowForm(Form):
    """One obligation (art. 29 (3)): who does what, how, where and by when. A row left empty is ignored."""

    party_id = SelectField(_l("Obliged party"), coerce=int_or_none, validators=[Optional()])
    what = TextAreaField(_l("What is to be done"), validators=[Length(max=4000)], render_kw={"rows": 2})
    manner = StringField(_l("How (manner of performance)"), validators=[Length(max=500)])
    place = StringField(_l("Where"), validators=[Length(max=200)])
    due_on = DateField(_l("By when"), validators=[Optional()], render_kw={"type": "date"})

    def is_blank(self) -> bool:
        return not (self.party_id.data or (self.what.data or "").strip() or (self.manner.data or "").strip()
                    or (self.place.data or "").strip() or self.due_on.raw_data and any(self.due_on.raw_data))


class VersionForm(FlaskForm):
    based_on = HiddenField()
    facts = TextAreaField(_l("Main facts"), validators=[InputRequired(REQUIRED), Length(max=20000)],
                          render_kw={"rows": 6})
    disputes = TextAreaField(_l("Disputed matters"), validators=[InputRequired(REQUIRED), Length(max=20000)],
                             render_kw={"rows": 4})
    responsibilities = TextAreaField(_l("Each party's responsibility"),
                                     validators=[InputRequired(REQUIRED), Length(max=20000)], render_kw={"rows": 4})
    obligations = FieldList(FormField(ObligationRowForm), min_entries=1, max_entries=MAX_ROWS)
    other_terms = TextAreaField(_l("Other terms"), validators=[Optional(), Length(max=20000)], render_kw={"rows": 4},
                                description=_l("Anything else agreed besides the obligations (optional)."))
    change_note = StringField(_l("What changed in this version"),
                              validators=[InputRequired(REQUIRED), Length(max=500)],
                              description=_l("Shown in the list of versions, e.g. \"Payment date moved to 15 "
                                             "January\"."))

    def set_parties(self, choices) -> None:
        for entry in self.obligations:
            entry.form.party_id.choices = list(choices)


class CommentForm(FlaskForm):
    text = TextAreaField(_l("Your comment on the current draft"), validators=[InputRequired(REQUIRED),
                                                                             Length(max=4000)],
                         render_kw={"rows": 3})
