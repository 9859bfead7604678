"""Account forms shared by the auth and account blueprints."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from blueprints.web import Form
from services import passwords

REQUIRED = _l("This field is required.")


def email_field(label=None, description=None):
    """An e-mail username field: required, ≤ 254 characters, valid syntax."""
    return EmailField(
        label or _l("E-mail (username)"),
        validators=[
            DataRequired(REQUIRED),
            Length(max=254, message=_l("At most %(max)d characters.")),
            Email(_l("Please enter a valid e-mail address."), check_deliverability=False),
        ],
        description=description,
        filters=[lambda v: (v or "").strip().lower()],
    )


class NewPasswordMixin:
    """Password twice with the rules of services.passwords."""

    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED)],
        description=_l(
            "8 to 64 characters. A phrase you can remember is best; very common passwords are refused."
        ),
    )
    confirm = PasswordField(
        _l("Password again"),
        validators=[DataRequired(REQUIRED), EqualTo("password", _l("The two passwords differ."))],
        description=_l("Type the password once more."),
    )

    def owner_email(self):
        """The address the password must not contain."""
        return getattr(self, "email", None) and self.email.data or ""

    def validate_password(self, field):
        found = passwords.problems(field.data or "", self.owner_email())
        if found:
            raise ValidationError(found[0])


class RegisterForm(NewPasswordMixin, Form):
    email = email_field(description=_l("Use a valid address: the activation mail goes there."))
    accept_terms = BooleanField(
        _l("I have read and accept the terms of service"),
        validators=[DataRequired(_l("Please accept the terms of service to continue."))],
    )


class LoginForm(Form):
    email = email_field()
    password = PasswordField(
        _l("Password"),
        validators=[DataRequired(REQUIRED), Length(max=128, message=_l("At most %(max)d characters."))],
    )
    remember = BooleanField(_l("Stay logged in on this device (30 days)"))


class EmailForm(Form):
    email = email_field()


class NewAddressForm(Form):
    new_email = email_field(
        _l("Right e-mail address"), _l("Enter the right address; the old link stops working.")
    )


class ResetForm(NewPasswordMixin, Form):
    def __init__(self, *args, email="", **kwargs):
        super().__init__(*args, **kwargs)
        self._email = email

    def owner_email(self):
        return self._email


class ChangePasswordForm(ResetForm):
    current = PasswordField(
        _l("Current password"),
        validators=[DataRequired(REQUIRED), Length(max=128, message=_l("At most %(max)d characters."))],
    )


class ButtonForm(Form):
    """A form with nothing but its CSRF token, for one-button actions."""
