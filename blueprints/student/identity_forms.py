"""The forms of /identity (identity.py): real-name registration, the name
fix, and the ID pictures of ID change requests and disputes."""

import re

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import DateField, EmailField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional, ValidationError

from blueprints.forms import REQUIRED, checked_id_number, choices
from blueprints.params import in_date_range
from blueprints.web import Form, LiveForm
from services import idcard, regions

GENDER_CHOICES = [("M", _l("Male")), ("F", _l("Female"))]

MAX_PICTURE = 10 * 1024 * 1024
PICTURE_TYPES = ["jpg", "jpeg", "png", "webp"]
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def picture_field(label, required=True):
    validators = [
        FileAllowed(PICTURE_TYPES, _l("Please send a JPEG, PNG or WebP picture.")),
        FileSize(MAX_PICTURE, message=_l("Each picture may be at most 10 MB.")),
    ]
    validators.insert(0, FileRequired(_l("Please add a picture.")) if required else Optional())
    return FileField(label, validators=validators)


class EvidenceForm(Form):
    """ID pictures and contact, shared by ID change requests and disputes."""

    front = picture_field(_l("ID card, front (or one picture of both sides)"))
    back = picture_field(_l("ID card, back"), required=False)
    # Opaque token of pictures already received (services/pending_uploads.py).
    upload = HiddenField()
    phone = StringField(
        _l("Contact phone"),
        validators=[DataRequired(REQUIRED)],
        description=_l("Mainland mobile number, 11 digits."),
        filters=[lambda v: re.sub(r"[\s-]", "", v or "").removeprefix("+86")],
    )
    reply_email = EmailField(
        _l("Reply e-mail"),
        validators=[
            Optional(),
            Length(max=254),
            Email(_l("Please enter a valid e-mail address."), check_deliverability=False),
        ],
        description=_l("Where the answer goes; empty means your account's address."),
        filters=[lambda v: (v or "").strip().lower()],
    )
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=1000)], filters=[lambda v: v or ""])

    def validate_phone(self, field):
        if not MOBILE.match(field.data or ""):
            raise ValidationError(_l("Please enter an 11-digit mainland mobile number, e.g. 13812345678."))


class IdChangeForm(EvidenceForm):
    id_type = StringField()  # replaced in __init__ by a select with the ID types
    id_number = StringField(_l("Correct ID number"), validators=[DataRequired(REQUIRED), Length(max=40)])

    def validate_id_number(self, field):
        checked_id_number(current_user.id_type, field)
        if field.data == current_user.id_number:
            raise ValidationError(_l("This is the ID number you registered with already."))


def province_choices():
    return choices([("", _l("Province"))] + regions.provinces())


def city_choices(province):
    """The cities of the chosen province; with none chosen, every city grouped
    by province (<optgroup>), so the form works without JavaScript."""
    if province:
        return choices([("", _l("City"))] + regions.cities(province))
    grouped = [SelectChoice("", _l("City"))]
    for code, name in regions.provinces():
        grouped += [SelectChoice(city, label, optgroup=name) for city, label in regions.cities(code)]
    return grouped


class BirthDateField(DateField):
    """A YYYY-MM-DD date whose impossible values (2004-13-40) get their own message."""

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(
                _l("There is no such date. Please enter your birth date as YYYY-MM-DD, e.g. 1985-02-03.")
            ) from None


class RealNameForm(LiveForm):
    real_name = StringField(
        lazy_pgettext("person", "Name"),
        validators=[DataRequired(REQUIRED), Length(max=64, message=_l("At most %(max)d characters."))],
        description=_l(
            "Your real name, exactly as in your college's registry; otherwise your record cannot be found."
        ),
        filters=[lambda v: (v or "").strip()],
    )
    # No default: a preselected 男 is too easy to leave by mistake.
    gender = SelectField(
        _l("Gender"),
        choices=choices([("", _l("Please choose"))] + GENDER_CHOICES),
        validators=[DataRequired(REQUIRED)],
    )
    id_type = SelectField(
        _l("ID type"),
        choices=choices(idcard.ID_TYPES),
        description=_l("The document you used when you registered at the college."),
    )
    id_number = StringField(
        _l("ID number"),
        validators=[DataRequired(REQUIRED), Length(max=40, message=_l("At most %(max)d characters."))],
        description=_l(
            "Your real ID number, so your record can be found. "
            "ID type and ID number cannot be changed after registration."
        ),
    )
    birth_date = BirthDateField(
        _l("Birth date"),
        validators=[InputRequired(_l("Please enter your birth date like 1985-02-03.")), in_date_range],
        description=_l("Format YYYY-MM-DD, for example 1985-02-03."),
        render_kw={"inputmode": "numeric", "maxlength": 10, "type": "text", "autocomplete": "bday"},
    )
    province = SelectField(_l("Province"), validators=[DataRequired(REQUIRED)])
    city = SelectField(_l("City"), validators=[DataRequired(REQUIRED)])
    # Optional, so last: between required fields it was filled or skipped by mistake.
    nickname = StringField(
        _l("Nickname"),
        validators=[Optional(), Length(max=50, message=_l("At most %(max)d characters."))],
        description=_l("Optional, up to 50 characters."),
        filters=[lambda v: (v or "").strip() or None],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.province.data and regions.name_of(self.city.data or ""):
            # A city picked from the grouped list (no JavaScript) names its province.
            self.province.data = next(
                (code for code, _name in regions.provinces() if regions.is_valid(code, self.city.data)), ""
            )
        self.province.choices = province_choices()
        self.city.choices = city_choices(self.province.data)

    def validate_id_number(self, field):
        checked_id_number(self.id_type.data, field)

    def validate_city(self, field):
        if not regions.is_valid(self.province.data or "", field.data or ""):
            raise ValidationError(_l("Please choose a city of the chosen province."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        if ok:
            try:
                idcard.check_consistency(
                    self.id_type.data, self.id_number.data, self.birth_date.data, self.gender.data
                )
            except idcard.IdNumberError as exc:
                getattr(self, exc.field).errors.append(exc.message)
                return False
        return ok


class ProfileForm(Form):
    real_name = StringField(
        lazy_pgettext("person", "Name"),
        validators=[DataRequired(REQUIRED), Length(max=64)],
        filters=[lambda v: (v or "").strip()],
    )
    nickname = StringField(
        _l("Nickname"), validators=[Optional(), Length(max=50)], filters=[lambda v: (v or "").strip() or None]
    )
