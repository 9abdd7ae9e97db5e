"""Forms of the workspace: opening it, inviting departments, documents and messages. Choices are filled by the views.

The forms check the shape of the input; the services in workspace.py decide whether the step is allowed.
"""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from portal.forms import REQUIRED, int_or_none
from portal.uploads import ACCEPT

from .models import MemberKind
from .workspace import MESSAGE_MAX, NOTE_MAX, PURPOSE_MAX, TITLE_MAX


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        # A value that is not among the choices is refused with our own message (not a 500, not a bare error).
        if self.data:
            values = {value for value, _label in self.choices}
            if any(v not in values for v in self.data):
                raise ValidationError(_l("Choose among the listed options."))


def _ints(values):
    return [int_or_none(v) for v in values or []]


class WorkspaceForm(FlaskForm):
    """The app-wide CSRFProtect checks every POST; several forms share the workspace page with prefixes."""

    class Meta:
        csrf = False


class OpenForm(WorkspaceForm):
    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED), Length(max=TITLE_MAX)],
                        description=_l("For example: 宅基地确权登记久拖未办 联席会议"))
    purpose = TextAreaField(_l("Purpose"), validators=[Optional(), Length(max=PURPOSE_MAX)], render_kw={"rows": 3},
                            description=_l("What the departments must solve together."))
    case_ids = MultiCheckboxField(_l("Cases"), coerce=int_or_none, validate_choice=False,
                                  description=_l("Cases marked complex come first."))
    references = StringField(_l("Other related cases"), validators=[Optional(), Length(max=1000)],
                             description=_l("Their references, separated by spaces or commas, "
                                            "for example YX-2026-000012."))
    convener_id = SelectField(_l("Convener"), coerce=int_or_none, validators=[InputRequired(REQUIRED)],
                              validate_choice=False, description=_l("A leader who chairs the meetings."))
    department_ids = MultiCheckboxField(_l("Member departments"), coerce=int_or_none, validate_choice=False)


class InviteForm(WorkspaceForm):
    department_id = SelectField(_l("Department"), coerce=int_or_none, validators=[InputRequired(REQUIRED)],
                                validate_choice=False)
    kind = RadioField(_l("Takes part as"), choices=[(k.value, k.label) for k in MemberKind],
                      default=MemberKind.MEMBER.value, validators=[InputRequired(REQUIRED)])


class DocumentForm(WorkspaceForm):
    title = StringField(_l("Document title"), validators=[DataRequired(REQUIRED), Length(max=TITLE_MAX)])
    file = FileField(_l("File"), description=_l("PDF, JPEG, PNG, Word or Excel."),
                     render_kw={"accept": ACCEPT})
    note = StringField(_l("Note (optional)"), validators=[Optional(), Length(max=NOTE_MAX)])


class VersionForm(WorkspaceForm):
    file = FileField(_l("New version"), description=_l("PDF, JPEG, PNG, Word or Excel."),
                     render_kw={"accept": ACCEPT})
    note = TextAreaField(_l("What changed"), validators=[DataRequired(REQUIRED), Length(max=NOTE_MAX)],
                         render_kw={"rows": 2})


class MessageForm(WorkspaceForm):
    body = TextAreaField(_l("Message"), validators=[DataRequired(REQUIRED), Length(max=MESSAGE_MAX)],
                         render_kw={"rows": 3})
