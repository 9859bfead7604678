"""Cohorts (admin): deadlines, re-check window, time zone and number of records.

Edited in place like colleges: "edit" swaps the row's form in (htmx) or shows
the page with that row open (no JavaScript); a valid POST returns the row,
or redirects to the list with 303.
"""

import datetime
import functools
import zoneinfo

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from peewee import JOIN, fn
from wtforms import StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import DateInput

from blueprints import params
from blueprints.admin.common import ISO_DATE, TOO_LONG, InlineTable, stripped
from blueprints.forms import REQUIRED
from blueprints.web import Form
from models import Cohort, Record

bp = Blueprint("cohorts", __name__, url_prefix="/cohorts")

PHASES = {
    "open": _l("open for confirmation"),
    "closed": _l("closed until the re-check"),
    "recheck": _l("re-check window"),
    "over": _l("over"),
}


@bp.context_processor
def phase_labels():
    return {"phase_labels": PHASES}


# -- forms ------------------------------------------------------------------------


class IsoDateField(StringField):
    """A date typed or picked as YYYY-MM-DD, with our own message when it is not one."""

    widget = DateInput()

    def process_formdata(self, valuelist):
        self.data = None
        if not valuelist:
            return
        text = valuelist[0].strip()
        if not text:
            raise ValueError(REQUIRED)
        try:
            if not ISO_DATE.fullmatch(text):
                raise ValueError(text)
            self.data = datetime.date.fromisoformat(text)
        except ValueError:
            raise ValueError(_l("Enter a date as YYYY-MM-DD, e.g. 2027-03-17.")) from None
        if params.to_date(text) is None:
            self.data = None
            raise ValueError(params.DATE_RANGE_MESSAGE)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if self.data else ""


@functools.cache
def time_zones():
    return frozenset(zoneinfo.available_timezones())


class CohortForm(Form):
    name = StringField(
        lazy_pgettext("cohort", "Name"),
        validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)],
        filters=[stripped],
        description=_l("e.g. 2027届"),
    )
    confirm_deadline = IsoDateField(
        _l("Confirmation deadline"),
        validators=[InputRequired(REQUIRED)],
        description=_l("The last day students can confirm or file a correction."),
    )
    recheck_start = IsoDateField(_l("Re-check from"), validators=[InputRequired(REQUIRED)])
    recheck_end = IsoDateField(_l("Re-check until"), validators=[InputRequired(REQUIRED)])
    timezone = StringField(
        _l("Time zone"),
        default="Asia/Shanghai",
        validators=[DataRequired(REQUIRED), Length(max=64, message=TOO_LONG)],
        filters=[stripped],
        description=_l("The dates are days in this time zone (IANA name, e.g. Asia/Shanghai)."),
    )

    def validate_timezone(self, field):
        if field.data not in time_zones():
            raise ValidationError(_l("Unknown time zone; use an IANA name such as Asia/Shanghai."))

    def validate(self, extra_validators=None):
        ok = super().validate(extra_validators)
        deadline, start, end = self.confirm_deadline.data, self.recheck_start.data, self.recheck_end.data
        if start and end and start > end:
            self.recheck_end.errors.append(_l("The re-check window cannot end before it starts."))
            ok = False
        if deadline and start and deadline >= start:
            self.recheck_start.errors.append(_l("The re-check window must start after the deadline."))
            ok = False
        return ok


COHORT_FIELDS = ("name", "confirm_deadline", "recheck_start", "recheck_end", "timezone")


# -- cohorts ------------------------------------------------------------------------


def cohort_rows():
    """Cohorts with their record counts (one query)."""
    return (
        Cohort.select(Cohort, fn.COUNT(Record.id).alias("record_count"))
        .join(Record, JOIN.LEFT_OUTER, on=(Record.cohort == Cohort.id))
        .group_by(Cohort)
        .order_by(Cohort.confirm_deadline.desc(), Cohort.id.desc())
    )


def duplicate_name(form):
    form.name.errors.append(_("A cohort with this name already exists."))


table = InlineTable(
    "cohort",
    Cohort,
    CohortForm,
    COHORT_FIELDS,
    cohort_rows,
    added=lambda form: _("Cohort %(name)s added.", name=form.name.data),
    saved=lambda form: _("Cohort %(name)s saved.", name=form.name.data),
    duplicate=duplicate_name,
)

# /admin/cohorts: GET the list, POST add; /admin/cohorts/<id>: GET the row, POST save it; /<id>/edit: the row as a form.
table.add_routes(bp)
