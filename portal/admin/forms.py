from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from portal.accounts.models import DepartmentKind, Role
from portal.forms import LOCALES, REQUIRED


def role_choices():
    return [(r.value, r.label) for r in Role]


def kind_choices():
    return [(k.value, k.label) for k in DepartmentKind]


class UserForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    email = StringField(_l("Email"), validators=[Optional(), Email(_l("Enter a valid email address.")),
                                                 Length(max=254)])
    phone = StringField(_l("Mobile number"), validators=[Optional(), Length(max=20)])
    role = SelectField(_l("Role"), choices=role_choices, validators=[DataRequired(REQUIRED)])
    department_id = SelectField(_l("Department"), coerce=int, validate_choice=True,
                                description=_l("Required for department representatives."))
    locale = SelectField(_l("Language"), choices=LOCALES)
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()


class NewUserForm(UserForm):
    password = PasswordField(_l("Initial password"), validators=[DataRequired(REQUIRED), Length(max=200)],
                             description=_l("The user must change it at the first log-in."),
                             render_kw={"autocomplete": "new-password"})


class DepartmentForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=200)])
    code = StringField(_l("Short code"), validators=[
        DataRequired(REQUIRED), Length(max=20),
        Regexp(r"^[A-Za-z0-9_-]+$", message=_l("Use letters, digits, - and _ only."))])
    kind = SelectField(_l("Kind"), choices=kind_choices, validators=[DataRequired(REQUIRED)])
    active = BooleanField(_l("Active"), default=True)
    version = HiddenField()


class InvitationForm(FlaskForm):
    email = StringField(_l("Email"), validators=[DataRequired(REQUIRED), Email(_l("Enter a valid email address.")),
                                                 Length(max=254)])
    display_name = StringField(_l("Full name (optional)"), validators=[Optional(), Length(max=100)])
    department_id = SelectField(_l("Department"), coerce=int, validators=[DataRequired(REQUIRED)])


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    action = StringField(_l("Action"), validators=[Optional(), Length(max=64)])
    actor = StringField(_l("Actor"), validators=[Optional(), Length(max=100)])
    object_type = StringField(_l("Object type"), validators=[Optional(), Length(max=64)])
    object_id = StringField(_l("Object id"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("To"), validators=[Optional()])
    page = IntegerField(validators=[Optional()])


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
    role = SelectField(_l("Role"), choices=lambda: [("", _l("All roles"))] + role_choices(), validators=[Optional()])
    page = IntegerField(validators=[Optional()])
