"""Bulk photo replace (issue 10): a photo ZIP replaces the photo of a record
that has one only when asked (`flask import-photos --replace`, a checkbox on
the admin page); the report lists the replaced and the voided records."""

import json

import pytest

import models
from services import photos
from tests import test_admin_imports as admin_imports
from tests.factories import make_cohort, make_college, make_photo, make_record, make_user
from tests.test_admin_imports import job_id_of, upload, wait_for
from tests.test_imports import make_zip


@pytest.fixture
def admin(client, db):
    return admin_imports.admin.__wrapped__(client, db)


def confirmed_record_with_photo(app):
    make_college()
    make_cohort()
    student = make_user("kept@example.edu")
    record = make_record(account=student, status="confirmed", student_no="2023770001")
    old = make_photo(app, record, seed=81)
    models.Confirmation.create(record=record, user=student, fingerprint="x")
    return models.Record.get_by_id(record.id), old


def test_cli_keeps_existing_photos_unless_replace(app, runner, db):
    record, old = confirmed_record_with_photo(app)
    path = app.instance_path + "/new.zip"
    with open(path, "wb") as fh:
        fh.write(make_zip({f"{record.student_no}.jpg": photos.placeholder_portrait(82)}))

    result = runner.invoke(args=["import-photos", path, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "unmatched=1" in result.output and "已有照片" in result.output  # CLI speaks zh_CN
    assert models.Record.get_by_id(record.id).photo_id == old.id
    assert models.Confirmation.get().void_at is None
    new = models.Photo.get(models.Photo.id != old.id)
    assert new.unmatched_reason.startswith("has_photo") and new.college_id == record.college_id

    # The same file again, asked to replace: the stored unmatched photo is attached.
    result = runner.invoke(args=["import-photos", path, "--workers", "1", "--replace"])
    assert result.exit_code == 0, result.output
    after = models.Record.get_by_id(record.id)
    assert after.photo_id == new.id and after.status == "pending"
    history = models.PhotoHistory.get()
    assert (history.record_id, history.photo_id) == (record.id, old.id)
    assert models.Confirmation.get().void_at is not None


def test_admin_checkbox_replaces_and_reports_replaced_and_voided(app, admin):
    record, old = confirmed_record_with_photo(app)
    data = make_zip({f"{record.student_no}.jpg": photos.placeholder_portrait(83)})
    page = admin.get("/admin/imports").get_data(as_text=True)
    assert 'name="replace"' in page

    job = wait_for(job_id_of(upload(admin, "/admin/imports/photos", "photos", data, "a.zip")))
    assert json.loads(job.report)["counts"]["unmatched"] == 1
    assert models.Record.get_by_id(record.id).photo_id == old.id

    data = make_zip({f"{record.student_no}.jpg": photos.placeholder_portrait(84)})
    job = wait_for(job_id_of(upload(admin, "/admin/imports/photos", "photos", data, "b.zip", replace="y")))
    report = json.loads(job.report)
    assert job.kind == "photos-replace" and report["counts"]["replaced"] == 1
    assert report["replaced"] == [
        {"file": f"{record.student_no}.jpg", "student_no": record.student_no, "voided": True}
    ]
    assert models.Record.get_by_id(record.id).photo_id != old.id
    html = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert "Replaced photos" in html and record.student_no in html and "voided" in html
