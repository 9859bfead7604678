"""The student side of the three problem paths (DESIGN.md), solved online.

修改个人信息 (wrong name), ID change request (wrong ID number), ID dispute
(someone else holds the ID number), the correction form (有误 → 勘误表),
and the list of the student's requests with withdrawal.
"""

import datetime
import re

from flask import Blueprint, abort, flash, make_response, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import BooleanField, EmailField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from blueprints.forms import REQUIRED, ButtonForm, checked_id_number
from blueprints.web import Form, client_ip, redirect_to, render, role_required
from models import Request
from services import idcard, identity, idimages, matching, photos, records
from services import requests as reqs

bp = Blueprint("problems", __name__)

MAX_PICTURE = 10 * 1024 * 1024
PICTURE_TYPES = ["jpg", "jpeg", "png", "webp"]
MOBILE = re.compile(r"^1[3-9]\d{9}$")


def picture_field(label, required=True):
    validators = [FileAllowed(PICTURE_TYPES, _l("Please send a JPEG, PNG or WebP picture.")),
                  FileSize(MAX_PICTURE, message=_l("Each picture may be at most 10 MB."))]
    validators.insert(0, FileRequired(_l("Please add a picture.")) if required else Optional())
    return FileField(label, validators=validators)


class EvidenceForm(Form):
    """ID pictures and contact, shared by ID change requests and disputes."""

    front = picture_field(_l("ID card, front (or one picture of both sides)"))
    back = picture_field(_l("ID card, back"), required=False)
    phone = StringField(_l("Contact phone"), validators=[DataRequired(REQUIRED)],
                        description=_l("Mainland mobile number, 11 digits."),
                        filters=[lambda v: re.sub(r"[\s-]", "", v or "").removeprefix("+86")])
    reply_email = EmailField(
        _l("Reply e-mail"), validators=[Optional(), Length(max=254), Email(_l("Please enter a valid e-mail address."),
                                                                           check_deliverability=False)],
        description=_l("Where the answer goes; empty means your account's address."),
        filters=[lambda v: (v or "").strip().lower()],
    )
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=1000)])

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


def store_pictures(form):
    """Merge the uploaded pictures into one JPEG; a field error when unusable."""
    try:
        return idimages.store(form.front.data.read(), form.back.data.read() if form.back.data else None)
    except photos.PhotoError as exc:
        form.front.errors = list(form.front.errors) + [exc.message]
        return None


def student_view(view):
    return login_required(role_required("student")(view))


@bp.route("/identity/profile", methods=["GET", "POST"])
@student_view
def profile():
    """修改个人信息: fix the real name; matching runs again at once."""
    if current_user.realname_at is None:
        return redirect_to("identity.realname")
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if identity.change_name(user, form.real_name.data, form.nickname.data, ip=client_ip()) is not None:
            flash(_("Your record was found."), "success")
            return redirect_to("record.index")
        flash(_("Your data is saved."), "success")
        return redirect_to("identity.status")
    return render("problems/profile.html", form=form)


class ProfileForm(Form):
    real_name = StringField(_l("Name"), validators=[DataRequired(REQUIRED), Length(max=64)],
                            filters=[lambda v: (v or "").strip()])
    nickname = StringField(_l("Nickname"), validators=[Optional(), Length(max=50)],
                           filters=[lambda v: (v or "").strip() or None])


@bp.route("/identity/id-change", methods=["GET", "POST"])
@student_view
def id_change():
    """Wrong ID number at real-name registration: ask staff to change it."""
    if current_user.realname_at is None or matching.record_of(current_user) is not None:
        return redirect_to("auth.home")
    form = IdChangeForm()
    if form.validate_on_submit() and (key := store_pictures(form)):
        try:
            reqs.file_id_change(current_user, current_user.id_type, form.id_number.data, form.phone.data,
                                form.reply_email.data, key, form.note.data, ip=client_ip())
        except reqs.RequestError as exc:
            idimages.delete(key)
            form.form_errors.append(exc.message)
        else:
            flash(_("Your ID change request was sent to the college. You will get an e-mail with the answer."),
                  "success")
            return redirect_to("problems.index")
    status = 400 if request.method == "POST" else 200
    return render("problems/id_change.html", status=status, form=form,
                  id_type_label=dict(idcard.ID_TYPES).get(current_user.id_type, ""))


@bp.route("/identity/dispute", methods=["GET", "POST"])
@student_view
def dispute():
    """Someone else registered my ID number: file a dispute with ID pictures."""
    if current_user.realname_at is None:
        return redirect_to("identity.realname")
    if matching.holder_of(current_user.id_type, current_user.id_number, exclude=current_user) is None:
        return redirect_to("auth.home")
    form = EvidenceForm()
    if form.validate_on_submit() and (key := store_pictures(form)):
        try:
            reqs.file_dispute(current_user, form.phone.data, form.reply_email.data, key, form.note.data,
                              ip=client_ip())
        except reqs.RequestError as exc:
            idimages.delete(key)
            form.form_errors.append(exc.message)
        else:
            flash(_("Your dispute was sent to the college. Until it is decided, the record is linked to no account."),
                  "success")
            return redirect_to("problems.index")
    status = 400 if request.method == "POST" else 200
    return render("problems/dispute.html", status=status, form=form)


class CorrectionForm(Form):
    note = TextAreaField(_l("Note (optional)"), validators=[Length(max=1000)])


FIELD_LABELS = dict(
    [(field, label) for field, label in records.SHOWN]
    + [("birth_date", _l("Birth date")), ("ethnicity", _l("Ethnicity")), ("class_name", _l("Class"))]
)


ITEM_LABELS = dict(FIELD_LABELS, photo_missing=_l("My photo is missing"), photo_wrong=_l("The photo is not me"))


@bp.app_template_filter("field_label")
def field_label(name):
    """The label of a record field or photo item of a correction."""
    return ITEM_LABELS.get(name, name)


def correction_form(record):
    """A form with a tick box and a 'correct value' input per record field."""

    class Built(CorrectionForm):
        pass

    for field in reqs.FIELDS:
        setattr(Built, "fix_" + field, BooleanField(FIELD_LABELS[field]))
        setattr(Built, "new_" + field, StringField(_l("Correct value"), validators=[Optional(), Length(max=100)],
                                                   filters=[lambda v: (v or "").strip()]))
    for item in reqs.PHOTO_ITEMS:
        setattr(Built, "fix_" + item, BooleanField(ITEM_LABELS[item]))
    return Built()


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
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValidationError(_l("Please enter a date like 1985-02-03.")) from None
    if field == "gender":
        mapped = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F"}.get(value.lower(), value)
        if mapped not in ("M", "F"):
            raise ValidationError(_l("Enter 男 or 女."))
        return mapped
    if field == "id_type":
        code = idcard.ID_TYPE_BY_LABEL.get(value)
        if code is None:
            raise ValidationError(_l("Enter one of the ID types, e.g. 居民身份证."))
        return code
    if value == records.raw_value(record, field):
        raise ValidationError(_l("This is what the record already says."))
    return value


@bp.route("/record/correction", methods=["GET", "POST"])
@student_view
def correction():
    """"有误": the online 数据检查勘误表."""
    record = matching.record_of(current_user)
    if record is None:
        return redirect_to("auth.home")
    problem = reqs.deadline_problem(record)
    form = correction_form(record)
    status = 200
    if not problem and form.validate_on_submit():
        values = correction_values(form, record)
        photo_items = [item for item in reqs.PHOTO_ITEMS if form["fix_" + item].data]
        if values is not None:
            try:
                reqs.file_correction(current_user, record, values, photo_items, form.note.data, ip=client_ip())
            except reqs.RequestError as exc:
                form.form_errors.append(exc.message)
            else:
                flash(_("Your correction was sent to %(college)s. They decide before %(date)s; "
                        "after a correction, confirm your record again between %(start)s and %(end)s.",
                        college=record.college.name, date=record.cohort.confirm_deadline.isoformat(),
                        start=record.cohort.recheck_start.isoformat(), end=record.cohort.recheck_end.isoformat()),
                      "success")
                return redirect_to("problems.index")
        status = 400
    elif request.method == "POST":
        status = 400
    rows = records.display(record)
    return render("problems/correction.html", status=status, form=form, record=record, rows=rows,
                  problem=problem, fields=reqs.FIELDS, current={f: records.raw_value(record, f) for f in reqs.FIELDS},
                  shown={f: value for f, _label, value in records.display(record)})


@bp.get("/requests")
@student_view
def index():
    """Every request the student made, its status and the staff answer."""
    mine = (Request.select().where(Request.user == current_user).order_by(Request.created_at.desc()))
    return render("problems/index.html", requests=list(mine), form=ButtonForm(), kinds=reqs.KINDS,
                  labels=reqs.STATUS_LABELS, reasons=reqs.REJECT_REASONS)


@bp.post("/requests/<int:request_id>/withdraw")
@student_view
def withdraw(request_id):
    """Take back an undecided request."""
    found = Request.get_or_none((Request.id == request_id) & (Request.user == current_user))
    if found is None:
        abort(404)
    if ButtonForm().validate_on_submit():
        try:
            reqs.withdraw(found, current_user._get_current_object(), ip=client_ip())
            flash(_("The request was withdrawn."), "info")
        except reqs.RequestError as exc:
            flash(str(exc.message), "error")
    return redirect_to("problems.index")


@bp.get("/requests/<int:request_id>/image")
@login_required
def image(request_id):
    """The merged ID picture: the student who filed it, staff of its college, admins."""
    found = Request.get_or_none(Request.id == request_id)
    if found is None or not found.image_key or found.image_purged_at or not may_see_request(found):
        abort(404)
    try:
        body = idimages.read(found.image_key)
    except FileNotFoundError:
        abort(404)
    response = make_response(body)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def may_see_request(found):
    if current_user.role == "admin":
        return True
    if current_user.role == "staff":
        return found.college_id is not None and found.college_id == current_user.college_id
    return found.user_id == current_user.id

