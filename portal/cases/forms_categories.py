"""The admin form for the category list."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from portal.forms import REQUIRED


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=100)])
    position = IntegerField(_l("Position in the list"), default=0,
                            validators=[Optional(), NumberRange(min=0, max=9999, message=_l("Use 0 to 9999."))],
                            description=_l("Lower numbers come first."))
    active = BooleanField(_l("Offered on new petitions"), default=True)
