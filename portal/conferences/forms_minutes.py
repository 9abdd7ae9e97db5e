"""Forms of the agenda, minutes and tasks part. They check the shape of the input; the services decide."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from portal.forms import REQUIRED
from portal.uploads import ACCEPT

from .minutes import TEXT_MAX, TITLE_MAX


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


class AgendaItemForm(PartForm):
    title = StringField(_l("Title"), validators=[DataRequired(REQUIRED), Length(max=TITLE_MAX)])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})
    case_id = SelectField(_l("Case (optional)"), coerce=choice_id, validate_choice=False)
    document_id = SelectField(_l("Document (optional)"), coerce=choice_id, validate_choice=False)


class GuestForm(PartForm):
    guest_department_id = SelectField(_l("Invited department"), coerce=choice_id, validate_choice=False)
    guest_representative = StringField(_l("Representative"), validators=[Length(max=200)])


class MinutesForm(PartForm):
    body = TextAreaField(_l("Text of the minutes"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 12})
    decisions = TextAreaField(_l("Decisions (one per line)"), validators=[Length(max=TEXT_MAX)],
                              render_kw={"rows": 5})
    version = HiddenField()


class CommentForm(PartForm):
    text = TextAreaField(_l("Comment"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})
    proposed_text = TextAreaField(_l("Proposed text (for an amendment, optional)"),
                                  description=_l("The whole text of the minutes as you propose it."),
                                  validators=[Length(max=TEXT_MAX)], render_kw={"rows": 6})


class AddendumForm(PartForm):
    text = TextAreaField(_l("Addendum"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})


class TaskForm(PartForm):
    title = StringField(_l("Task"), description=_l("Empty: the decision's text."), validators=[Length(max=TITLE_MAX)])
    department_id = SelectField(_l("Responsible department"), coerce=choice_id, validate_choice=False,
                                validators=[DataRequired(REQUIRED)])
    owner_id = SelectField(_l("Owner (optional)"), coerce=choice_id, validate_choice=False)
    due_on = DateField(_l("Due date"), validators=[DataRequired(REQUIRED)])
    expected_result = TextAreaField(_l("Expected result"), validators=[Length(max=TEXT_MAX)], render_kw={"rows": 2})


class ReportForm(PartForm):
    text = TextAreaField(_l("Progress"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                         render_kw={"rows": 3})
    attachments = MultipleFileField(_l("Files (optional)"), description=_l("PDF, JPEG, PNG, Word or Excel."),
                                    render_kw={"accept": ACCEPT, "multiple": True})
    done = BooleanField(_l("The task is done"))


class SupervisionForm(PartForm):
    method = SelectField(_l("Method"), choices=[("notice", _l("Written notice")), ("interview", _l("Interview")),
                                                ("on_site", _l("On-site supervision"))])
    notice = TextAreaField(_l("Notice"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                           render_kw={"rows": 3})


class AnswerForm(PartForm):
    reason = TextAreaField(_l("Reason for the delay"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                           render_kw={"rows": 3})
    progress = TextAreaField(_l("Progress report"), validators=[DataRequired(REQUIRED), Length(max=TEXT_MAX)],
                             render_kw={"rows": 3})
