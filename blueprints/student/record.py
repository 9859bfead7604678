"""The student's record: check (校对), confirm (正确), report a problem (有误:
the online 数据检查勘误表 under /record/correction); the photo variants."""

import datetime
import secrets
import time

from flask import Blueprint, abort, current_app, flash, make_response, request, session
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import HiddenField

from blueprints.access import may_see_photo, student_view
from blueprints.i18n import locale_code
from blueprints.student.correction_forms import ITEM_LABELS, CorrectionForm, correction_values
from blueprints.web import Form, client_ip, redirect_to, render
from models import Photo, StaleRecord
from prepared import Param, Prepared
from services import casework as reqs
from services import matching, photostore, record_fields, records
from services.vocab import DONE, RecordStatus

bp = Blueprint("record", __name__)


class ConfirmForm(Form):
    # The fingerprint of what the page showed: if the record changed since,
    # the student has not seen what they would be confirming.
    shown = HiddenField()


def own_record():
    """The current student's record, or a redirect to the step that is missing."""
    if current_user.realname_at is None:
        return None, redirect_to("student.identity.realname")
    record = matching.record_of(current_user)
    if record is None:
        return None, redirect_to("student.identity.status")
    return record, None


_PHOTO = Prepared(Photo.select().where(Photo.id == Param("id")).limit(1))
# Changes when the process starts (a deploy may change templates and code).
PAGE_BUILD = secrets.token_hex(4)


def record_page(record, form=None, status=200, confirmation=...):
    if confirmation is ...:
        confirmation = records.active_confirmation(record) if record.status in DONE else None
    return render(
        "record/index.html",
        status=status,
        record=record,
        rows=record_fields.display(record),
        # The GET page writes the hidden field itself (templates/record/index.html):
        # a ConfirmForm object for one hidden input was a tenth of the page's time.
        shown=(form.shown.data or "") if form is not None else records.fingerprint(record),
        confirmation=confirmation,
        step=records.next_step(record),
    )


def page_validator(record, confirmation):
    """A weak ETag of everything /record shows: the record, cohort, college
    and photo rows as read, the active confirmation, the user and session
    version, the language, the cohort's local date (deadline countdown), the
    process, and the hour — so a page served from cache carries a CSRF token
    at most an hour old (they last WTF_CSRF_TIME_LIMIT)."""
    state = (
        PAGE_BUILD,
        current_user.get_id(),
        locale_code(),
        *record.__data__.items(),
        *record.cohort.__data__.items(),
        *record.college.__data__.items(),
        *(record.photo.__data__.items() if record.photo_id else ()),
        *(confirmation.__data__.items() if confirmation else ()),
        record.cohort.local_today(),
        int(time.time() // 3600),
    )
    # Python's keyed hash: the same in every worker forked from one master
    # (gunicorn preload_app), new after a restart, as PAGE_BUILD is.
    return f"{hash(state) & 0xFFFFFFFFFFFFFFFF:016x}"


@bp.get("/record")
@student_view
def index():
    """Step 5: the record and photo exactly as the diploma will carry them.

    A reload whose If-None-Match still fits answers 304 before anything is
    rendered (the page is `private, no-cache`: browsers always revalidate).
    """
    record, redirect = own_record()
    if redirect:
        return redirect
    confirmation = records.active_confirmation(record) if record.status in DONE else None
    etag = page_validator(record, confirmation)
    if request.if_none_match.contains_weak(etag) and not session.get("_flashes") and not current_app.debug:
        response = make_response("", 304)
    else:
        response = record_page(record, confirmation=confirmation)
    response.set_etag(etag, weak=True)
    # Informational: the ETag decides (it wins over If-Modified-Since); the
    # hour keeps clients that send only If-Modified-Since as fresh as the ETag.
    hour = datetime.datetime.fromtimestamp(time.time() // 3600 * 3600, datetime.UTC).replace(tzinfo=None)
    response.last_modified = max(record.changed_at, hour)
    # Personal data: never stored by the browser either (issue 11), so a
    # browser will seldom revalidate; the 304 path serves explicit revalidations.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/record/confirm")
@student_view
def confirm():
    """Step 6: "正确" — confirm record and photo as shown; a double tap is one confirmation."""
    record, redirect = own_record()
    if redirect:
        return redirect
    form = ConfirmForm()
    if not form.validate_on_submit():
        return record_page(record, form, status=400)
    if form.shown.data != records.fingerprint(record) and record.status != RecordStatus.CONFIRMED:
        flash(
            _("Your record changed while the page was open. Please check it again before confirming."),
            "error",
        )
        return record_page(record, status=409)
    try:
        records.confirm_now(record, current_user, ip=client_ip())
    except records.ConfirmRefused as exc:
        flash(str(exc.message), "error")
        return record_page(record, status=409)
    except StaleRecord:
        # A concurrent tap confirmed first: show the result, nothing is doubled.
        pass
    flash(_("Thank you: your record and photo are confirmed."), "success")
    return redirect_to("student.record.index")


@bp.get("/record/wrong")
@login_required
def wrong():
    """Old address of "有误": the correction form."""
    return redirect_to("student.record.correction")


@bp.get("/photo/<int:photo_id>/<variant>")
@login_required
def photo(photo_id, variant):
    """A photo variant, only for those allowed to see it, cached privately."""
    found = _PHOTO.first(id=photo_id)
    if found is None or variant not in photostore.VARIANTS or not may_see_photo(found):
        abort(404)
    etag = f"{found.sha256[:16]}-{variant}"
    if etag in request.if_none_match:
        response = make_response("", 304)
    elif photostore.accel_path(found.key, variant):
        # nginx sends the file (deploy/nginx-site.conf); Python never reads it.
        response = make_response("")
        response.headers["X-Accel-Redirect"] = photostore.accel_path(found.key, variant)
        response.mimetype = photostore.VARIANTS[variant][1]
    else:
        try:
            body = photostore.read(found.key, variant)
        except FileNotFoundError:
            current_app.logger.error("photo file missing: %s %s", found.id, variant)
            abort(404)
        response = make_response(body)
        response.mimetype = photostore.VARIANTS[variant][1]
    response.set_etag(etag)
    # A photo row's files never change (a new picture is a new row).
    response.last_modified = found.created_at
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.app_template_filter("field_label")
def field_label(name):
    """The label of a record field or photo item of a correction."""
    return ITEM_LABELS.get(name, name)


@bp.route("/record/correction", methods=["GET", "POST"])
@student_view
def correction():
    """ "有误": the online 数据检查勘误表."""
    record = matching.record_of(current_user)
    if record is None:
        return redirect_to("student.auth.home")
    problem = reqs.deadline_problem(record)
    form = CorrectionForm()
    status = 200
    if not problem and form.validate_on_submit():
        values = correction_values(form, record)
        photo_items = [item for item in reqs.PHOTO_ITEMS if form["fix_" + item].data]
        if values is not None:
            try:
                reqs.file_correction(
                    current_user, record, values, photo_items, form.note.data, ip=client_ip()
                )
            except reqs.RequestError as exc:
                form.form_errors.append(exc.message)
                status = 409 if isinstance(exc, reqs.Conflict) else 400
            else:
                # No re-check dates here: the decision mail and the record page
                # name them, both from services.records.confirm_window().
                flash(
                    _(
                        "Your correction was sent to %(college)s. They decide before %(date)s; "
                        "the answer comes by e-mail and tells you what to do next.",
                        college=record.college.name,
                        date=record.cohort.confirm_deadline.isoformat(),
                    ),
                    "success",
                )
                return redirect_to("student.problems.index")
        status = status if status != 200 else 400
    elif request.method == "POST":
        status = 400
    rows = record_fields.display(record)
    return render(
        "problems/correction.html",
        status=status,
        form=form,
        record=record,
        rows=rows,
        problem=problem,
        fields=reqs.FIELDS,
        current={f: record_fields.raw_value(record, f) for f in reqs.FIELDS},
        shown={f: value for f, _label, value in record_fields.display(record)},
    )
