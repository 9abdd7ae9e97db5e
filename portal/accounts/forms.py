from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from portal.forms import LOCALES, REQUIRED


class LoginForm(FlaskForm):
    login = StringField(_l("Email or mobile number"), validators=[DataRequired(REQUIRED), Length(max=254)],
                        render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class RegisterForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=100)],
                               render_kw={"autocomplete": "name"})
    login = StringField(_l("Email or mobile number"), validators=[DataRequired(REQUIRED), Length(max=254)],
                        description=_l("We send a confirmation code to it."),
                        render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=200)],
                             description=_l("At least 10 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords differ."))],
                              render_kw={"autocomplete": "new-password"})


class CodeForm(FlaskForm):
    code = StringField(_l("Confirmation code"),
                       validators=[DataRequired(REQUIRED), Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the 6 digits."))],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(REQUIRED)],
                            render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("New password"), validators=[DataRequired(REQUIRED), Length(max=200)],
                             description=_l("At least 10 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    password2 = PasswordField(_l("Repeat the new password"),
                              validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords differ."))],
                              render_kw={"autocomplete": "new-password"})


class AcceptInvitationForm(FlaskForm):
    display_name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    phone = StringField(_l("Mobile number (optional)"), validators=[Optional(), Length(max=20)])
    password = PasswordField(_l("Password"), validators=[DataRequired(REQUIRED), Length(max=200)],
                             description=_l("At least 10 characters, with letters and digits."),
                             render_kw={"autocomplete": "new-password"})
    password2 = PasswordField(_l("Repeat the password"),
                              validators=[DataRequired(REQUIRED), EqualTo("password", _l("The passwords differ."))],
                              render_kw={"autocomplete": "new-password"})


class LocaleForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LOCALES)
    next = HiddenField()
