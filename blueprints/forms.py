"""Account forms shared by the auth and account blueprints."""

from collections.abc import Iterable

from flask import request
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, Field, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError

from blueprints.web import Form, LiveForm
from services import idcard, passwords

REQUIRED = _l("This field is required.")
PASSWORD_AGAIN = _l("Please type it again: passwords are never sent back to the page.")


def checked_id_number(id_type: str, field: Field) -> None:
    """Validate and normalise an ID-number field for `id_type` (a form error if wrong)."""
    try:
        field.data = idcard.validate(id_type, field.data or "")
    except idcard.IdNumberError as exc:
        raise ValidationError(exc.message) from None


def ask_passwords_again(form: FlaskForm, names: tuple[str, ...] = ("password", "confirm")) -> None:
    """A form shown again after a full POST comes back with empty password
    fields (unless the browser refills them): name each one to fill again."""
    if request.method != "POST" or not form.errors:
        return
    for name in names:
        field = form[name]
        if field.data and not field.errors:
            field.errors = [*field.errors, PASSWORD_AGAIN]


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    """(value, label) pairs as the SelectChoice objects WTForms 3.3 expects."""
    return [SelectChoice(value, label) for value, label in pairs]


def email_field(
    label: str | None = None, description: str | None = None, autocomplete: str = "username"
) -> EmailField:
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
        # On the field, not in the template: inline validation re-renders the
        # field alone and must produce the same input.
        render_kw={"autocomplete": autocomplete, "inputmode": "email", "maxlength": 254},
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
        render_kw={"autocomplete": "new-password", "maxlength": 64},
    )

    def owner_email(self):
        """The address the password must not contain."""
        return getattr(self, "email", None) and self.email.data or ""

    def validate_password(self, field):
        found = passwords.problems(field.data or "", self.owner_email())
        if found:
            raise ValidationError(found[0])


class RegisterForm(NewPasswordMixin, LiveForm):
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


class ForgotUsernameForm(Form):
    real_name = StringField(
        lazy_pgettext("person", "Name"),
        validators=[DataRequired(REQUIRED), Length(max=64, message=_l("At most %(max)d characters."))],
    )
    id_type = SelectField(_l("ID type"), choices=choices(idcard.ID_TYPES))
    id_number = StringField(
        _l("ID number"),
        validators=[DataRequired(REQUIRED), Length(max=40, message=_l("At most %(max)d characters."))],
    )

    def validate_id_number(self, field):
        checked_id_number(self.id_type.data, field)


class ButtonForm(Form):
    """A form with nothing but its CSRF token, for one-button actions."""
