"""Colleges (admin): code, name, the office contact students are shown,
numbers of records and staff; edited in place like cohorts."""

import functools

from flask import Blueprint, abort, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from peewee import fn
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from blueprints.access import admin_view
from blueprints.admin.common import TOO_LONG, save, stripped
from blueprints.forms import REQUIRED
from blueprints.web import Form, redirect_to, render, swap_or_redirect
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
        lazy_pgettext("college", "Name"), validators=[DataRequired(REQUIRED), Length(max=100, message=TOO_LONG)], filters=[stripped]
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


def college_row(college_id):
    row = college_rows().where(College.id == college_id).first()
    if row is None:
        abort(404)
    return row


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


ROW = "manage/_college_row.html"


def page_context(form=None, editing=None, edit_form=None):
    """The list with the add form; `editing` is the id of the row shown as a form."""
    return dict(
        colleges=list(college_rows()),
        form=form or CollegeForm(formdata=None),
        editing=editing,
        edit_form=edit_form,
    )


def colleges_page(status=200, **page):
    return render("manage/colleges.html", status=status, **page_context(**page))


@bp.get("")
@admin_view
def index():
    """Colleges with their office contact and numbers of records and staff."""
    return colleges_page()


@bp.post("")
@admin_view
def create():
    """Add a college."""
    form = CollegeForm()
    if form.validate_on_submit() and check_college_unique(form):
        if save(College, form, COLLEGE_FIELDS):
            flash(_("College %(name)s added.", name=form.name.data), "success")
            return redirect_to("admin.colleges.index")
        form.form_errors.append(_("Another college has this code or name."))
    return colleges_page(400, form=form)


@bp.get("/<int:college_id>/edit")
@admin_view
def edit(college_id):
    """The row as a form: alone for htmx, inside the page otherwise."""
    college = college_row(college_id)
    form = CollegeForm(obj=college)
    page = functools.partial(page_context, editing=college.id, edit_form=form)
    return render("manage/colleges.html", partial=ROW, page_ctx=page, c=college, row_form=form)


@bp.get("/<int:college_id>")
@admin_view
def row(college_id):
    """The row as shown (htmx "cancel"); without htmx, the list."""
    return swap_or_redirect(url_for("admin.colleges.index"), ROW, c=college_row(college_id), row_form=None)


@bp.post("/<int:college_id>")
@admin_view
def update(college_id):
    """Save a college's code, name and office contact."""
    found = college_row(college_id)
    form = CollegeForm()
    if form.validate_on_submit() and check_college_unique(form, found.id):
        if save(College, form, COLLEGE_FIELDS, obj=found):
            return swap_or_redirect(
                url_for("admin.colleges.index"),
                ROW,
                flash_message=_("College %(name)s saved.", name=form.name.data),
                c=college_row(college_id),
                row_form=None,
            )
        form.form_errors.append(_("Another college has this code or name."))
    page = functools.partial(page_context, editing=found.id, edit_form=form)
    return render("manage/colleges.html", partial=ROW, page_ctx=page, status=400, c=found, row_form=form)
