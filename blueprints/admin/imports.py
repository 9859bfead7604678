"""Imports (admin): the registry file and the photo ZIP.

An upload is saved under instance/imports/ and imported by the task queue's
consumer (tasks.run_import → services.importing.run_job); the job page shows its progress, polled
by htmx, and then its report.
"""

import json
import os
import secrets

from flask import Blueprint, abort, current_app, request, send_from_directory
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileAllowed, FileField, FileRequired
from peewee import JOIN
from wtforms import BooleanField

import tasks
from blueprints.access import admin_view
from blueprints.web import Form, redirect_to, render
from extensions import csrf
from models import ImportJob, User
from services import importing
from services.fsmodes import private_dir, private_opener

bp = Blueprint("imports", __name__, url_prefix="/imports")

TEMPLATE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "services",
    "data",
    "templates",
)
TEMPLATE_FILES = ("registry-template.csv", "registry-template.xlsx", "photo-manifest-template.csv")
RECENT_JOBS = 20
SHOWN_ROWS = 1000  # a report longer than this is cut on the page


class RegistryUploadForm(Form):
    """The registry file and the dry-run switch."""

    registry = FileField(
        _l("Registry file (CSV or XLSX)"),
        validators=[
            FileRequired(_l("Please choose a file.")),
            FileAllowed(["csv", "xlsx"], _l("Please choose a .csv or .xlsx file.")),
        ],
        description=_l("CSV in UTF-8 or GBK as Excel saves it, or an Excel workbook; one student per row."),
    )
    dry_run = BooleanField(_l("Dry run: only check the file and report what would change"))


class PhotoUploadForm(Form):
    """A ZIP of photos."""

    photos = FileField(
        _l("Photo ZIP"),
        validators=[
            FileRequired(_l("Please choose a file.")),
            FileAllowed(["zip"], _l("Please choose a .zip file.")),
        ],
        description=_l("Pictures named by ID number or student number, optionally with manifest.csv."),
    )
    replace = BooleanField(
        _l(
            "Replace existing photos: records that have a photo get the new one (the old one is kept in their history)"
        )
    )


def _page(status=200, registry_form=None, photo_form=None):
    jobs = (
        ImportJob.select(ImportJob, User)
        .join(User, on=ImportJob.created_by == User.id, join_type=JOIN.LEFT_OUTER)
        .order_by(ImportJob.id.desc())
        .limit(RECENT_JOBS)
    )
    return render(
        "admin/imports.html",
        status=status,
        registry_form=registry_form or RegistryUploadForm(),
        photo_form=photo_form or PhotoUploadForm(),
        jobs=list(jobs),
        template_files=TEMPLATE_FILES,
    )


@bp.get("")
@admin_view
def index():
    """Upload forms, template downloads and the recent import jobs."""
    return _page()


def _check_upload(field, magic_zip):
    """A form error (and False) for an empty file or one whose content contradicts its name."""
    stream = field.data.stream
    head = stream.read(4)
    stream.seek(0, os.SEEK_END)
    empty = stream.tell() == 0
    stream.seek(0)
    if empty:
        field.errors.append(_("The file is empty."))
    elif magic_zip is not None and head.startswith(b"PK") != magic_zip:
        field.errors.append(_("The file's content does not match its name (.csv, .xlsx or .zip)."))
    return not field.errors


def _start(kind, field, dry_run=False):
    """Save the upload, create the job and import it in a background thread."""
    folder = current_app.config.get("IMPORT_DIR") or os.path.join(current_app.instance_path, "imports")
    private_dir(folder)
    path = os.path.join(folder, secrets.token_hex(16))
    with open(path, "xb", opener=private_opener) as fh:
        field.data.save(fh)
    job = importing.create_job(kind, current_user.id, field.data.filename or "", path, dry_run)
    tasks.start_job(job)
    return redirect_to("admin.imports.job", job_id=job.id)


def _raise_body_limit():
    """Uploads of a whole registry or photo collection exceed MAX_CONTENT_LENGTH."""
    request.max_content_length = current_app.config.get("IMPORT_MAX_BYTES", 2 * 1024**3)


# CSRF: the global check would parse the body under the normal size limit
# before the view can raise it; the Form validates the token instead.
@bp.post("/students")
@csrf.exempt
@admin_view
def upload_students():
    """Start a registry import (or a dry run)."""
    _raise_body_limit()
    form = RegistryUploadForm()
    if form.validate_on_submit() and _check_upload(
        form.registry, form.registry.data.filename.lower().endswith(".xlsx")
    ):
        return _start("students", form.registry, dry_run=form.dry_run.data)
    return _page(400, registry_form=form)


@bp.post("/photos")
@csrf.exempt
@admin_view
def upload_photos():
    """Start a photo import."""
    _raise_body_limit()
    form = PhotoUploadForm()
    if form.validate_on_submit() and _check_upload(form.photos, True):
        return _start(importing.PHOTOS_REPLACE if form.replace.data else "photos", form.photos)
    return _page(400, photo_form=form)


@bp.get("/<int:job_id>")
@admin_view
def job(job_id):
    """A job's progress (polled by htmx while it runs) and then its report."""
    job = ImportJob.get_or_none(ImportJob.id == job_id)
    if job is None:
        abort(404)
    job = importing.mark_if_interrupted(job)
    report = json.loads(job.report) if job.report else None
    return render(
        "admin/import_job.html",
        block="job",
        job=job,
        running=job.status in ("queued", "running"),
        report=report,
        error=importing.job_error(job) if job.status == "failed" else "",
        describe=importing.describe,
        shown_rows=SHOWN_ROWS,
    )


@bp.get("/templates/<name>")
@admin_view
def template(name):
    """Download one of the template files."""
    if name not in TEMPLATE_FILES:
        abort(404)
    return send_from_directory(TEMPLATE_DIR, name, as_attachment=True)
