"""The list of the student's requests (corrections, ID changes, disputes),
withdrawal, and the merged ID picture a request carries."""

from flask import Blueprint, abort, flash, make_response
from flask_babel import gettext as _
from flask_login import current_user, login_required
from peewee import prefetch

from blueprints.access import READ_ID_PICTURE, audit_read, may_see_request, student_view
from blueprints.forms import ButtonForm
from blueprints.web import client_ip, redirect_to, render
from models import CorrectionItem, Request
from services import casework as reqs
from services import idimages

bp = Blueprint("problems", __name__)


@bp.get("/requests")
@student_view
def index():
    """Every request the student made, its status and the staff answer."""
    mine = (
        Request.select()
        .where(Request.user == current_user)
        .order_by(Request.created_at.desc(), Request.id.desc())
    )
    # Each request's items in the order they were filed (a bare backref has no ORDER BY).
    mine = prefetch(mine, CorrectionItem.select().order_by(CorrectionItem.id))
    return render(
        "problems/index.html",
        requests=mine,
        form=ButtonForm(),
        kinds=reqs.KINDS,
        labels=reqs.STATUS_LABELS,
        reasons=reqs.REJECT_REASONS,
    )


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
    return redirect_to("student.problems.index")


@bp.get("/requests/<int:request_id>/image")
@login_required
def image(request_id):
    """The merged ID picture: the student who filed it, staff of its college, admins."""
    found = Request.get_or_none(Request.id == request_id)
    if found is None or not found.image_key or found.image_purged_at or not may_see_request(found):
        abort(404)
    audit_read(READ_ID_PICTURE, found)
    accel = idimages.accel_path(found.image_key)
    if accel:  # nginx sends the file after this check (deploy/nginx-site.conf)
        response = make_response("")
        response.headers["X-Accel-Redirect"] = accel
    else:
        try:
            body = idimages.read(found.image_key)
        except FileNotFoundError:
            abort(404)
        response = make_response(body)
    response.mimetype = "image/jpeg"
    response.headers["Cache-Control"] = "private, no-store"
    return response
