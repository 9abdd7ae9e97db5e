"""Forms of the signing pages. The services check everything again; these give each field its label and carry
the CSRF token. The drawn signature arrives as a PNG data URL in a hidden field (signature.js fills it); without
JavaScript the signer types their name instead."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from portal.forms import int_or_none

from .signing import ID_KINDS


class _MarkForm(FlaskForm):
    """The signature mark: drawn (hidden data URL) or typed; and the hash of the text the signer read."""

    signature = HiddenField(_l("Drawn signature"))
    typed_name = StringField(_l("Or type your full name"), validators=[Optional(), Length(max=100)],
                             render_kw={"autocomplete": "name"})
    document_hash = HiddenField()


class SignForm(_MarkForm):
    code = StringField(_l("Code sent to you"), validators=[Optional(), Length(max=12)],
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 6})


class DeclineForm(FlaskForm):
    reason = TextAreaField(_l("Why do you decline to sign?"), validators=[Optional(), Length(max=2000)],
                           description=_l("The mediator reads this before revising the text. Declining returns "
                                          "the agreement to drafting: everyone signs the revised text again."))
    document_hash = HiddenField()


class InPersonForm(_MarkForm):
    party = SelectField(_l("Party signing"), coerce=int_or_none, validate_choice=False)
    id_kind = SelectField(_l("Identity document checked"), validate_choice=False,
                          choices=[("", "—")] + [(kind, label) for kind, (_stored, label) in ID_KINDS.items()])
    id_last4 = StringField(_l("Last four characters of its number"), validators=[Optional(), Length(max=4)],
                           description=_l("Only these four characters are kept, never the whole number."),
                           render_kw={"maxlength": 4, "autocomplete": "off"})
    identity_confirmed = BooleanField(_l("I checked this document in person and it matches the party"))
    signer_name = StringField(_l("Name of the person signing for a department"),
                              validators=[Optional(), Length(max=100)],
                              description=_l("Only for a department party: who signs on its behalf."))
