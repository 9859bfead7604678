"""The fields of a record a student checks: which, in what order, under
which label, and their text on the page (the check step of the student
journey). services/records.py fingerprints the same fields when a student
confirms them."""

import functools

from flask_babel import get_translations, lazy_pgettext
from flask_babel import lazy_gettext as _l

from services import idcard

GENDERS = {"M": _l("Male"), "F": _l("Female")}

# (field, label) in the order the record page shows them (the check step of the student journey); labels follow the national notice.
SHOWN = [
    ("name", lazy_pgettext("person", "Name")),
    ("gender", _l("Gender")),
    ("id_type", _l("ID type")),
    ("id_number", _l("ID number")),
    ("student_no", _l("Student number")),
    ("college", _l("College")),
    ("major", _l("Major")),
    ("level", _l("Level")),
    ("study_mode", _l("Study mode")),
    ("enrolled_on", _l("Enrolment date")),
    ("graduating_on", _l("Expected graduation date")),
]
ID_TYPE_LABELS = dict(idcard.ID_TYPES)


def raw_value(record, field):
    """The stored value of a shown field, as text (full ID number)."""
    if field == "college":
        return record.college.name
    value = getattr(record, field)
    return value.isoformat() if hasattr(value, "isoformat") else str(value or "")


def display(record, full_id=False):
    """[(field, label, text)] for the check page: codes as words, the ID
    number masked (in full for staff, who compare it: `full_id`)."""
    labels, genders, id_types = _words(get_translations())
    rows = []
    for (field, _lazy), label in zip(SHOWN, labels, strict=True):
        value = raw_value(record, field)
        if field == "id_number" and not full_id:
            value = idcard.mask(value)
        elif field == "gender":
            value = genders.get(value, value)
        elif field == "id_type":
            value = id_types.get(value, value)
        rows.append((field, label, value))
    return rows


@functools.lru_cache(maxsize=16)
def _words(translations):
    """The labels of SHOWN and the words for coded values in the language of
    `translations` (the request's catalog, one object per language for the
    process): looked up once, not a lazy string resolved per label per page."""
    return (
        [str(label) for _field, label in SHOWN],
        {code: str(word) for code, word in GENDERS.items()},
        {code: str(word) for code, word in ID_TYPE_LABELS.items()},
    )
