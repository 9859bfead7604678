"""One validator for ids, page numbers and dates from URLs, query strings and forms.

Ids and pages are whole numbers with 1 ≤ n < 2**63 (what a database integer
holds); dates lie between 1900-01-01 and 2100-12-31. Anything else is a 404
(a path segment: no such page) or a 400 with the error page (a query
argument), never an OverflowError deep inside a query.
"""

import datetime
import re
from collections.abc import Mapping

from flask import abort, request
from flask_babel import lazy_gettext as _l
from werkzeug.routing import IntegerConverter, ValidationError
from wtforms import Field
from wtforms.validators import ValidationError as FormError

MAX_ID = 2**63 - 1
# No table has a billion pages; the cap keeps (page - 1) * size in range.
MAX_PAGE = 10**9
MIN_DATE = datetime.date(1900, 1, 1)
MAX_DATE = datetime.date(2100, 12, 31)
_NUMBER = re.compile(r"[0-9]{1,19}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

DATE_RANGE_MESSAGE = _l("Enter a date between 1900-01-01 and 2100-12-31.")


def to_id(value: object) -> int | None:
    """The number in `value` if it is an id (ASCII digits, 1 ≤ n < 2**63), else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 1 <= value <= MAX_ID else None
    if not isinstance(value, str) or not _NUMBER.fullmatch(value):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def to_date(value: object) -> datetime.date | None:
    """A YYYY-MM-DD string between 1900 and 2100 as a date, else None."""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return day if MIN_DATE <= day <= MAX_DATE else None


def id_arg(name: str, args: Mapping[str, str] | None = None) -> int | None:
    """An optional id from the query string: None when absent or empty, 400 when not an id."""
    value = (request.args if args is None else args).get(name, "").strip()
    if not value:
        return None
    number = to_id(value)
    if number is None:
        abort(400)
    return number


def page_arg(args: Mapping[str, str] | None = None) -> int:
    """The `page` query argument: 1 when absent, 400 when not a page number."""
    number = id_arg("page", args)
    return min(number or 1, MAX_PAGE)


def in_date_range(form: object, field: Field) -> None:
    """WTForms validator: a date field's value lies between 1900 and 2100."""
    day = field.data
    if isinstance(day, datetime.datetime):
        day = day.date()
    if day is not None and not MIN_DATE <= day <= MAX_DATE:
        raise FormError(DATE_RANGE_MESSAGE)


class IdConverter(IntegerConverter):
    """The app-wide `int` URL converter: 1 ≤ n < 2**63 or the rule does not match (404)."""

    regex = r"[0-9]+"  # ASCII digits only (\d would take any script's digits)

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value):
        if len(value) > 19:  # int() of 4300+ digits raises; anything this long is out of range
            raise ValidationError()
        return super().to_python(value)


def init_app(app):
    """Install the converter before any blueprint adds its rules."""
    app.url_map.converters["int"] = IdConverter
