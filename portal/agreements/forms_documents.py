"""Forms of the committees' signing settings (admin). They check the shape of the input; documents.py decides."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import PasswordField
from wtforms.validators import Length


class PartForm(FlaskForm):
    """The app-wide CSRFProtect checks every POST; the templates send csrf_token themselves."""

    class Meta:
        csrf = False


class CertificateForm(PartForm):
    file = FileField(_l("PKCS#12 file (.p12 or .pfx)"),
                     description=_l("The committee's signing certificate with its private key."),
                     render_kw={"accept": ".p12,.pfx,application/x-pkcs12"})
    passphrase = PasswordField(_l("Passphrase"), validators=[Length(max=200)],
                               description=_l("Kept encrypted; never shown again and never written to the log."))


class SealImageForm(PartForm):
    image = FileField(_l("Seal image (PNG or JPEG)"),
                      description=_l("A scan of the committee's seal on a white or transparent background."),
                      render_kw={"accept": ".png,.jpg,.jpeg,image/png,image/jpeg"})
