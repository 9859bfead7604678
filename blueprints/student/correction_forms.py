"""The correction form (数据检查勘误表) of /record/correction: a tick box and a
"correct value" input per record field, and the check of each corrected
value, as registration checks it. The route lives in record.py."""

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, Optional, ValidationError

from blueprints.params import to_date
from blueprints.web import Form
from services import casework as reqs
from services import idcard, record_fields


class CorrectionForm(Form):
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=1000)], filters=[lambda v: v or ""])


FIELD_LABELS = dict(
    [(field, label) for field, label in record_fields.SHOWN]
    + [("birth_date", _l("Birth date")), ("ethnicity", _l("Ethnicity")), ("class_name", _l("Class"))]
)


ITEM_LABELS = dict(
    FIELD_LABELS, photo_missing=_l("My photo is missing"), photo_wrong=_l("The photo is not me")
)


def _add_fields(form_class):
    """A tick box and a 'correct value' input per record field, and a tick
    box per photo problem: the same for every record, so added once."""
    for field in reqs.FIELDS:
        setattr(form_class, "fix_" + field, BooleanField(FIELD_LABELS[field]))
        setattr(
            form_class,
            "new_" + field,
            StringField(
                _l("Correct %(field)s", field=FIELD_LABELS[field]),
                validators=[Optional(), Length(max=100)],
                filters=[lambda v: (v or "").strip()],
            ),
        )
    for item in reqs.PHOTO_ITEMS:
        setattr(form_class, "fix_" + item, BooleanField(ITEM_LABELS[item]))


_add_fields(CorrectionForm)


def correction_values(form, record):
    """{field: canonical new value} of the ticked fields, with field errors."""
    values, ok = {}, True
    for field in reqs.FIELDS:
        if not form["fix_" + field].data:
            continue
        target = form["new_" + field]
        value = target.data
        try:
            value = check_value(field, value, record)
        except ValidationError as exc:
            target.errors = list(target.errors) + [exc.args[0]]
            ok = False
            continue
        values[field] = value
    return values if ok else None


def check_value(field, value, record):
    """Validate one corrected value like registration does; returns its canonical text."""
    if not value:
        raise ValidationError(_l("Enter the correct value."))
    if field == "id_number":
        try:
            return idcard.validate(record.id_type, value)
        except idcard.IdNumberError as exc:
            raise ValidationError(exc.message) from None
    if field in reqs.DATE_FIELDS:
        day = to_date(value)
        if day is None:
            raise ValidationError(_l("Please enter a date like 1985-02-03, between 1900 and 2100."))
        return day.isoformat()
    if field == "gender":
        mapped = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}.get(
            value.lower(), value
        )
        if mapped not in ("M", "F"):
            raise ValidationError(_l("Enter 男 or 女."))
        return mapped
    if field == "id_type":
        code = idcard.ID_TYPE_BY_LABEL.get(value)
        if code is None:
            raise ValidationError(_l("Enter one of the ID types, e.g. 居民身份证."))
        return code
    if value == record_fields.raw_value(record, field):
        raise ValidationError(_l("This is what the record already says."))
    return value
