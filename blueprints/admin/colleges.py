"""Colleges (admin): code, name, the office contact students are shown,
numbers of records and staff; edited in place like cohorts."""

from flask import Blueprint
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from peewee import fn
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.admin.common import TOO_LONG, InlineTable, stripped
from blueprints.forms import REQUIRED
from blueprints.web import Form
from models import College, Record, User
from services.vocab import Role

bp = Blueprint("colleges", __name__, url_prefix="/colleges")


class CollegeForm(Form):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(REQUIRED), Length(max=32, message=TOO_LONG)],
        filters=[stripped],
        description=_l("A short code. A registry file may name the college by this code or by its name."),
    )
    name = StringField(
        lazy_pgettext("college", "Name"),
        validators=[DataRequired(REQUIRED), Length(max=100, message=TOO_LONG)],
        filters=[stripped],
    )
    office_contact = TextAreaField(
        _l("Office contact"),
        validators=[Length(max=500, message=TOO_LONG)],
        filters=[stripped],
        description=_l("Shown to students on the correction page: office, room, phone, hours."),
    )


COLLEGE_FIELDS = ("code", "name", "office_contact")


def college_rows():
    """Colleges with their numbers of records and staff (one query)."""
    records = Record.select(fn.COUNT(Record.id)).where(Record.college == College.id)
    staff = User.select(fn.COUNT(User.id)).where((User.college == College.id) & (User.role == Role.STAFF))
    return College.select(College, records.alias("record_count"), staff.alias("staff_count")).order_by(
        College.code
    )


def check_college_unique(form, college_id=None):
    """Field errors for a code or name another college has; True when both are free."""
    for name, message in (
        ("code", _("Another college has this code.")),
        ("name", _("Another college has this name.")),
    ):
        query = College.select().where(getattr(College, name) == form[name].data)
        if college_id is not None:
            query = query.where(College.id != college_id)
        if query.exists():
            form[name].errors.append(message)
    return not (form.code.errors or form.name.errors)


def duplicate_college(form):
    form.form_errors.append(_("Another college has this code or name."))


table = InlineTable(
    "college",
    College,
    CollegeForm,
    COLLEGE_FIELDS,
    college_rows,
    added=lambda form: _("College %(name)s added.", name=form.name.data),
    saved=lambda form: _("College %(name)s saved.", name=form.name.data),
    duplicate=duplicate_college,
    check=check_college_unique,
)

# /admin/colleges: GET the list, POST add; /admin/colleges/<id>: GET the row, POST save it; /<id>/edit: the row as a form.
table.add_routes(bp)
