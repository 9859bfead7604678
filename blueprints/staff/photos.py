"""Staff give a record its photo: upload (with a crop preview and the
compliance warnings before saving), replace, or ask for a retake.

Reached from the record's detail row and from a correction in the queue
(`?request=<id>`: saving then accepts the correction). Every step is a
plain form post (Post/Redirect/Get); static/js/crop.js only adds dragging
the crop frame. The work itself is services.photo_uploads.
"""

import datetime

from flask import Blueprint, abort, flash, make_response, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import college_scope, staff_view
from blueprints.forms import ButtonForm
from blueprints.params import to_id
from blueprints.staff.records import compliance_text, get_scoped
from blueprints.web import client_ip, external_url, render, safe_next
from models import PhotoHistory, Record, Request, StaleRecord
from services import casework as reqs
from services import photo_uploads, photos
from services.vocab import RequestStatus

bp = Blueprint("photos", __name__, url_prefix="/records")

NUDGE = 0.1


def open_correction(record):
    """The open correction named by `?request=`, if it is this record's and in scope."""
    request_id = to_id(request.values.get("request", ""))
    if request_id is None:
        return None
    found = college_scope(
        Request.select().where(
            (Request.id == request_id)
            & (Request.record == record)
            & (Request.kind == reqs.CORRECTION)
            & (Request.status == RequestStatus.OPEN)
        ),
        Request.college,
    ).first()
    return found


def back_url(record):
    return safe_next(request.values.get("next"), "staff.records.index")


def params(record, corr, **extra):
    """Query values every step carries: the correction and where to go back to."""
    values = {"record_id": record.id, "next": back_url(record)}
    if corr is not None:
        values["request"] = corr.id
    values.update(extra)
    return values


def page(record, corr, status=200, errors=(), retake_errors=()):
    """The upload page: current photo, history, upload form, retake form."""
    history = (
        PhotoHistory.select()
        .where(PhotoHistory.record == record)
        .order_by(PhotoHistory.replaced_at.desc(), PhotoHistory.id.desc())
    )
    return render(
        "staff/photo.html",
        status=status,
        r=record,
        corr=corr,
        history=list(history),
        errors=errors,
        retake_errors=retake_errors,
        back=back_url(record),
        p=params(record, corr),
        compliance_text=compliance_text,
        today=datetime.date.today(),
    )


@bp.get("/<int:record_id>/photo")
@staff_view
def upload_page(record_id):
    """Upload a photo for the record, replace its photo, or ask for a retake."""
    record = get_scoped(record_id)
    return page(record, open_correction(record))


@bp.post("/<int:record_id>/photo")
@staff_view
def upload(record_id):
    """Verify and stage the file, then show the crop preview (PRG)."""
    record = get_scoped(record_id)
    corr = open_correction(record)
    if not ButtonForm().validate_on_submit():
        return page(record, corr, 400, [_("The form has expired. Please try again.")])
    file = request.files.get("photo")
    data = file.read() if file else b""
    if not data:
        return page(record, corr, 400, [_("Choose a photo file (JPEG, PNG or WebP).")])
    try:
        token = photo_uploads.stage(data, current_user)
    except photos.PhotoError as exc:
        return page(record, corr, 400, [str(exc.message)])
    name = (file.filename or "")[:120]
    return redirect(url_for("staff.photos.preview", **params(record, corr, token=token, name=name)), code=303)


def staged_or_404(token):
    data = photo_uploads.staged(current_user, token)
    if data is None:
        abort(404)
    return data


def nudged(where, dx, dy):
    x = min(1.0, max(0.0, where[0] + dx))
    y = min(1.0, max(0.0, where[1] + dy))
    return {"x": f"{x:.2f}", "y": f"{y:.2f}"}


@bp.get("/<int:record_id>/photo/<token>")
@staff_view
def preview(record_id, token, status=200, errors=()):
    """The crop as it will be saved, the compliance warnings, nudges and Save."""
    record = get_scoped(record_id)
    data = staged_or_404(token)
    corr = open_correction(record)
    where = photo_uploads.centering(request.values.get("x"), request.values.get("y"))
    _master, codes = photo_uploads.preview(data, where)
    base = params(record, corr, token=token, name=request.values.get("name", ""))
    nudges = [
        (label, url_for("staff.photos.preview", **base, **nudged(where, dx, dy)))
        for label, dx, dy in (
            (_("Move the crop up"), 0, -NUDGE),
            (_("Move the crop down"), 0, NUDGE),
            (_("Move the crop left"), -NUDGE, 0),
            (_("Move the crop right"), NUDGE, 0),
        )
    ]
    return render(
        "staff/photo_preview.html",
        status=status,
        r=record,
        corr=corr,
        token=token,
        where=where,
        warnings=compliance_text(",".join(codes)),
        nudges=nudges,
        errors=errors,
        back=back_url(record),
        p=base,
    )


def jpeg(body):
    response = make_response(body)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/<int:record_id>/photo/<token>/crop.jpg")
@staff_view
def crop_image(record_id, token):
    """The 480×640 master the current crop position makes."""
    get_scoped(record_id)
    where = photo_uploads.centering(request.args.get("x"), request.args.get("y"))
    master, _codes = photo_uploads.preview(staged_or_404(token), where)
    return jpeg(master)


@bp.get("/<int:record_id>/photo/<token>/source.jpg")
@staff_view
def source_image(record_id, token):
    """The whole upright upload, small: what the crop frame is dragged over."""
    get_scoped(record_id)
    return jpeg(photo_uploads.source_jpeg(staged_or_404(token)))


@bp.post("/<int:record_id>/photo/<token>")
@staff_view
def save(record_id, token):
    """Attach the cropped photo (and accept the correction, when there is one)."""
    record = get_scoped(record_id)
    data = staged_or_404(token)
    corr = open_correction(record)
    if not ButtonForm().validate_on_submit():
        return preview(record_id, token, 400, [_("The form has expired. Please try again.")])
    where = photo_uploads.centering(request.form.get("x"), request.form.get("y"))
    version = request.form.get("version", "")
    try:
        photo_uploads.attach_upload(
            record,
            data,
            where,
            current_user._get_current_object(),
            ip=client_ip(),
            link=external_url,
            filename=request.values.get("name", ""),
            request=corr,
            version=to_id(version),
        )
    except StaleRecord:
        return preview(
            record_id,
            token,
            409,
            [_("The record changed meanwhile. Nothing was saved; please check it again.")],
        )
    except (photo_uploads.UploadRefused, reqs.RequestError) as exc:
        return preview(record_id, token, 409, [str(exc.message)])
    photo_uploads.discard(current_user, token)
    if corr is not None:
        flash(_("The photo is saved and the correction accepted. The student was told by mail."), "success")
    else:
        flash(_("The photo is saved. The student was told by mail."), "success")
    return redirect(back_url(record), code=303)


@bp.post("/<int:record_id>/retake")
@staff_view
def retake(record_id):
    """Photo needed: ask the student to come to a photo session."""
    record = get_scoped(record_id)
    corr = open_correction(record)
    if not ButtonForm().validate_on_submit():
        return page(record, corr, 400, retake_errors=[_("The form has expired. Please try again.")])
    try:
        on_date = datetime.date.fromisoformat(request.form.get("date", ""))
    except ValueError:
        return page(record, corr, 400, retake_errors=[_("Enter the date of the photo session (YYYY-MM-DD).")])
    version = request.form.get("version", "")
    try:
        photo_uploads.request_retake(
            record,
            on_date,
            request.form.get("place", ""),
            current_user._get_current_object(),
            ip=client_ip(),
            link=external_url,
            request=corr,
            version=to_id(version),
        )
    except StaleRecord:
        fresh = Record.get_by_id(record.id)
        return page(fresh, corr, 409, retake_errors=[_("The record changed meanwhile. Nothing was saved.")])
    except (photo_uploads.UploadRefused, reqs.RequestError) as exc:
        status = 409 if isinstance(exc, (reqs.Conflict, reqs.AlreadyDecided)) else 400
        return page(record, corr, status, retake_errors=[str(exc.message)])
    flash(_("The student is asked to come to the photo session and was told by mail."), "success")
    return redirect(back_url(record), code=303)
