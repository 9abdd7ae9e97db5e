"""Forms of the intake flow: staff registration, the online petition in steps, the public query."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from portal.forms import REQUIRED
from portal.uploads import ACCEPT

from .intake import MAX_PETITIONERS, STAFF_CHANNELS, normalize_phone, valid_phone
from .models import MatterType
from .services import normalize_id_number, valid_id_number

ID_MESSAGE = _l("This is not a valid resident ID number: 18 characters, the last one a digit or X, "
                "with a matching check digit.")
PHONE_MESSAGE = _l("Enter a mobile number (11 digits) or a landline number with its area code.")


def check_id_number(form, field):
    value = normalize_id_number(field.data)
    if value and not valid_id_number(value):
        raise ValidationError(ID_MESSAGE)


def check_phone(form, field):
    value = normalize_phone(field.data)
    if value and not valid_phone(value):
        raise ValidationError(PHONE_MESSAGE)


def matter_choices():
    return [("", _l("— choose —"))] + [(m.value, m.label) for m in MatterType]


class PetitionerRow(Form):
    """One petitioner of a staff registration (a sub-form: the CSRF token is the outer form's)."""

    name = StringField(_l("Full name"), validators=[DataRequired(REQUIRED), Length(max=100)],
                       render_kw={"autocomplete": "off"})
    id_number = StringField(_l("ID number"), validators=[Optional(), Length(max=18), check_id_number],
                            render_kw={"autocomplete": "off", "maxlength": 18})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20), check_phone],
                        render_kw={"autocomplete": "off", "inputmode": "tel"})
    address = StringField(_l("Postal address"), validators=[Optional(), Length(max=300)])


class DecisionFields:
    """What to do about likely duplicates; shown only when some were found."""

    duplicate_choice = StringField(validators=[Optional(), Length(max=30)])
    override_reason = TextAreaField(_l("Why is this a separate petition?"), validators=[Optional(), Length(max=2000)])
    repeat_acknowledged = BooleanField(_l("I have noted this and register the petition with the flag."))


class PetitionFields:
    matter_type = SelectField(_l("Type of matter"), choices=matter_choices, validators=[DataRequired(REQUIRED)],
                              description=_l("Suggestion, report or accusation, or an appeal or demand "
                                             "about your own rights."))
    category_id = SelectField(_l("Category"), coerce=int, default=0, validate_choice=True)
    subject = StringField(_l("Subject"), validators=[DataRequired(REQUIRED), Length(max=200)],
                          description=_l("One line, e.g. \"Wages unpaid for three months\"."))
    facts = TextAreaField(_l("Facts and reasons"), validators=[DataRequired(REQUIRED), Length(max=20000)],
                          render_kw={"rows": 8})
    request = TextAreaField(_l("Request"), validators=[DataRequired(REQUIRED), Length(max=20000)],
                            description=_l("What should be done."), render_kw={"rows": 4})
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)],
                        description=_l("Where the matter happened."))
    attachments = MultipleFileField(_l("Attachments"), render_kw={"accept": ACCEPT, "multiple": True})
    uploads = HiddenField()


class RegisterForm(DecisionFields, PetitionFields, FlaskForm):
    """Staff registration of a letter, visit, phone call or fax."""

    channel = SelectField(_l("Channel"), choices=lambda: [(c.value, c.label) for c in STAFF_CHANNELS],
                          validators=[DataRequired(REQUIRED)])
    received_on = DateField(_l("Received on"), validators=[DataRequired(_l("Enter a date."))])
    group_visit = BooleanField(_l("Group visit (the people below are its representatives)"))
    petitioners = FieldList(FormField(PetitionerRow), min_entries=1, max_entries=MAX_PETITIONERS)


# The steps of the online petition and the fields each one asks for.
STEPS = [
    ("who", _l("Who you are"), ("name", "id_number", "phone", "address")),
    ("what", _l("What happened"), ("matter_type", "category_id", "subject", "facts", "request", "place")),
    ("files", _l("Attachments"), ()),
    ("review", _l("Review and submit"), ()),
]
INLINE_FIELDS = ("name", "id_number", "phone", "address", "subject", "facts", "request", "place")


class OnlineForm(DecisionFields, PetitionFields, FlaskForm):
    """The online petition: every step's fields travel with the form, those of other steps hidden."""

    step = HiddenField(default="1")
    name = StringField(_l("Your name"), validators=[DataRequired(REQUIRED), Length(max=100)],
                       render_kw={"autocomplete": "name"})
    id_number = StringField(_l("Resident ID number"), validators=[DataRequired(REQUIRED), Length(max=18),
                                                                  check_id_number],
                            description=_l("18 characters; shown to the bureau only in part unless needed."),
                            render_kw={"autocomplete": "off", "maxlength": 18})
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=20), check_phone],
                        render_kw={"autocomplete": "tel", "inputmode": "tel"})
    address = StringField(_l("Postal address"), validators=[DataRequired(REQUIRED), Length(max=300)],
                          render_kw={"autocomplete": "street-address"})


class QueryForm(FlaskForm):
    reference = StringField(_l("Reference"), validators=[DataRequired(REQUIRED), Length(max=40)],
                            description=_l("e.g. YX-2026-000123"), render_kw={"autocomplete": "off"})
    code = StringField(_l("Query code"), validators=[DataRequired(REQUIRED), Length(max=40)],
                       description=_l("The 8 characters on your acknowledgment."),
                       render_kw={"autocomplete": "off", "autocapitalize": "characters"})
