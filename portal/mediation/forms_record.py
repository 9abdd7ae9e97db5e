"""Forms of the proceedings record. They check the shape of the input; proceedings.py decides."""
from flask_babel import gettext as _, lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import REQUIRED
from portal.uploads import ACCEPT

from .models import EntryKind
from .proceedings import TEXT_MAX

MEDIATOR = "mediator"  # the speaker value for the mediator


def choice_id(value):
    """A select's id: empty is None; anything else that is not a number is refused with the field's message."""
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(_l("Choose one of the options.")) from None


class PartForm(FlaskForm):
    """The app-wide CSRFProtect checks every POST; the templates send csrf_token themselves."""

    class Meta:
        csrf = False


class EntryForm(PartForm):
    """The quick-add form at the top of the record page."""

    speaker = SelectField(_l("Speaker"), validate_choice=False, default=MEDIATOR)
    kind = SelectField(_l("Entry kind"), choices=[(k.value, k.label) for k in EntryKind], default=EntryKind.STATEMENT.value,
                       validate_choice=False,
                       description=_l("Every entry is part of the record read back to the parties and in their copy; "
                                      "only private caucus notes are hidden from them."))
    text = TextAreaField(_l("Entry"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         description=_l("Ctrl+Enter adds the entry."), render_kw={"rows": 3})
    evidence = MultipleFileField(_l("Evidence files (optional)"), description=_l("PDF, JPEG, PNG, Word or Excel."),
                                 render_kw={"accept": ACCEPT, "multiple": True})

    def setup(self, parties, caucus: bool):
        self.speaker.choices = [(MEDIATOR, _l("Mediator"))] + [
            (str(p.id), _("%(name)s (%(side)s)", name=p.name, side=p.side.label)) for p in parties]
        kinds = [k for k in EntryKind if caucus or k != EntryKind.CAUCUS]
        self.kind.choices = [(k.value, k.label) for k in kinds]
        return self

    def speaker_id(self):
        """None for the mediator; a party id; 0 (no such party, refused by the service) for anything else."""
        if self.speaker.data in (None, "", MEDIATOR):
            return None
        try:
            return int(self.speaker.data)
        except (TypeError, ValueError):
            return 0


class EditEntryForm(PartForm):
    """The correction of one entry (the template writes its fields with ids of their own per entry)."""

    speaker = SelectField(_l("Speaker"), validate_choice=False)
    kind = SelectField(_l("Entry kind"), validate_choice=False)
    text = TextAreaField(_l("Corrected text"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})

    speaker_id = EntryForm.speaker_id


class ConfirmForm(PartForm):
    """A party's answer to the read-back record, given online from its own account."""

    answer = RadioField(_l("Answer"), choices=[("confirmed", _l("Confirms the record")),
                                               ("declined", _l("Declines to confirm"))],
                        validators=[DataRequired(_l("Confirm or decline the record."))])
    note = TextAreaField(_l("Reason (required when declining)"), validators=[Length(max=TEXT_MAX)],
                         render_kw={"rows": 2})


class InSessionConfirmForm(ConfirmForm):
    """The answer a party gave in the session, recorded by the mediator."""

    party = SelectField(_l("Party"), coerce=choice_id, validate_choice=False)


class ErratumForm(PartForm):
    text = TextAreaField(_l("Correction"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})
    entry_id = SelectField(_l("Entry it corrects (optional)"), coerce=choice_id, validate_choice=False)
