"""The student's record: check (校对), confirm (正确), report a problem (有误)."""

from flask import Blueprint, abort, current_app, flash, make_response, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from wtforms import HiddenField

from blueprints.web import Form, client_ip, redirect_to, render, role_required
from models import Photo, Record, StaleRecord, db
from services import matching, photostore, records

bp = Blueprint("record", __name__)


class ConfirmForm(Form):
    # The fingerprint of what the page showed: if the record changed since,
    # the student has not seen what they would be confirming.
    shown = HiddenField()


def own_record():
    """The current student's record, or a redirect to the step that is missing."""
    if current_user.realname_at is None:
        return None, redirect_to("identity.realname")
    record = matching.record_of(current_user)
    if record is None:
        return None, redirect_to("identity.status")
    return record, None


def record_page(record, form=None, status=200):
    return render(
        "record/index.html",
        status=status,
        record=record,
        rows=records.display(record),
        form=form or ConfirmForm(shown=records.fingerprint(record)),
        confirmation=records.active_confirmation(record)
        if record.status in ("confirmed", "confirmed_offline")
        else None,
        problem=records.can_confirm(record),
        phase=record.cohort.phase(),
    )


@bp.get("/record")
@login_required
@role_required("student")
def index():
    """Step 5: the record and photo exactly as the diploma will carry them."""
    record, redirect = own_record()
    if redirect:
        return redirect
    response = record_page(record)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.post("/record/confirm")
@login_required
@role_required("student")
def confirm():
    """Step 6: "正确" — confirm record and photo as shown; a double tap is one confirmation."""
    record, redirect = own_record()
    if redirect:
        return redirect
    form = ConfirmForm()
    if not form.validate_on_submit():
        return record_page(record, form, status=400)
    if form.shown.data != records.fingerprint(record) and record.status != "confirmed":
        flash(
            _("Your record changed while the page was open. Please check it again before confirming."),
            "error",
        )
        return record_page(record, status=409)
    try:
        with db.atomic():
            records.confirm(Record.get_by_id(record.id), current_user, ip=client_ip())
    except records.ConfirmRefused as exc:
        flash(str(exc.message), "error")
        return record_page(record, status=409)
    except StaleRecord:
        # A concurrent tap confirmed first: show the result, nothing is doubled.
        pass
    flash(_("Thank you: your record and photo are confirmed."), "success")
    return redirect_to("record.index")


@bp.get("/record/wrong")
@login_required
def wrong():
    """Old address of "有误": the correction form."""
    return redirect_to("problems.correction")


def may_see_photo(photo):
    """Owner, staff of the record's college, or admin. Unmatched: staff and admin."""
    if current_user.role == "admin":
        return True
    attached = list(Record.select(Record.college, Record.account).where(Record.photo == photo))
    if current_user.role == "staff":
        return not attached or any(r.college_id == current_user.college_id for r in attached)
    return any(r.account_id == current_user.id for r in attached)


@bp.get("/photo/<int:photo_id>/<variant>")
@login_required
def photo(photo_id, variant):
    """A photo variant, only for those allowed to see it, cached privately."""
    found = Photo.get_or_none(Photo.id == photo_id)
    if found is None or variant not in photostore.VARIANTS or not may_see_photo(found):
        abort(404)
    etag = f"{found.sha256[:16]}-{variant}"
    if etag in request.if_none_match:
        response = make_response("", 304)
    else:
        try:
            body = photostore.read(found.key, variant)
        except FileNotFoundError:
            current_app.logger.error("photo file missing: %s %s", found.id, variant)
            abort(404)
        response = make_response(body)
        response.mimetype = photostore.VARIANTS[variant][1]
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response
