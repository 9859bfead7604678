"""The admin import page: uploads, background jobs, progress polling, reports."""

import datetime
import io
import json
import re
import time

import pytest

import models
from services import photos
from tests import imagegen
from tests.factories import make_user, sign_in
from tests.test_imports import make_zip, person, registry_csv

ADMIN = "admin@example.edu"


@pytest.fixture
def admin(client, db):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    make_user(ADMIN, role="admin")
    sign_in(client, ADMIN)
    return client


def upload(client, path, field, data, filename, **extra):
    form = {"csrf_token": client.csrf("/admin/imports"), field: (io.BytesIO(data), filename), **extra}
    return client.post(path, data=form, content_type="multipart/form-data")


def wait_for(job_id, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = models.ImportJob.get_by_id(job_id)
        if job.status in ("done", "failed"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"import job {job_id} still {job.status} after {timeout}s")


def job_id_of(response):
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return int(re.search(r"/admin/imports/(\d+)$", response.headers["Location"]).group(1))


def test_page_lists_forms_templates_and_jobs(admin):
    page = admin.get("/admin/imports").get_data(as_text=True)
    assert 'action="/admin/imports/students"' in page and 'action="/admin/imports/photos"' in page
    assert 'enctype="multipart/form-data"' in page and 'name="dry_run"' in page
    for name in ("registry-template.csv", "registry-template.xlsx", "photo-manifest-template.csv"):
        assert f"/admin/imports/templates/{name}" in page
        response = admin.get(f"/admin/imports/templates/{name}")
        assert response.status_code == 200 and len(response.data) > 100
    assert admin.get("/admin/imports/templates/..%2Fconfig.py").status_code == 404
    assert admin.get("/admin/imports/templates/other.csv").status_code == 404


@pytest.mark.parametrize("role", ["staff", "student"])
def test_only_admins(client, db, role):
    make_user("someone@example.edu", role=role)
    sign_in(client, "someone@example.edu")
    assert client.get("/admin/imports").status_code == 404
    assert client.get("/admin/imports/templates/registry-template.csv").status_code == 404
    response = client.post("/admin/imports/students", data={"csrf_token": client.csrf("/account/")})
    assert response.status_code == 404


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/imports")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/admin/imports/photos").status_code == 302


def test_registry_upload_runs_in_the_background_and_reports(admin, smtp):
    people = [person(i) for i in range(20)]
    data = registry_csv(people + [dict(person(99), id_number="12345")])
    response = upload(admin, "/admin/imports/students", "registry", data, "学籍.csv")
    job = wait_for(job_id_of(response))
    assert job.status == "done" and job.done == job.total == 21 and not job.dry_run
    assert models.Record.select().count() == 20
    assert json.loads(job.report)["counts"]["rejected"] == 1
    event = models.AuditEvent.get(models.AuditEvent.action == "import.students")
    assert event.actor.email == ADMIN and "created=20" in event.reason and "rejected=1" in event.reason

    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert "<html" in page and "学籍.csv" in page and 'http-equiv="refresh"' not in page
    fragment = admin.get(f"/admin/imports/{job.id}", headers={"HX-Request": "true"})
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and 'id="job"' in text and "hx-get" not in text
    assert "<td>22</td>" in text  # the rejected row's line: header = 1, 20 good rows
    assert "Vary" in fragment.headers and "HX-Request" in fragment.headers["Vary"]
    assert "学籍.csv" in admin.get("/admin/imports").get_data(as_text=True)


def test_running_job_polls_and_finished_job_stops(admin):
    admin_user = models.User.by_email(ADMIN)
    job = models.ImportJob.create(kind="photos", filename="p.zip", status="running", total=40, done=10,
                                  created_by=admin_user)  # fmt: skip
    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="2">' in page
    assert 'hx-trigger="every 1s"' in page and '<progress max="40" value="10">' in page
    fragment = admin.get(f"/admin/imports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and ">Refresh<" in fragment and 'hx-trigger="every 1s"' in fragment
    assert "http-equiv" not in fragment
    models.ImportJob.update(
        status="failed", error=json.dumps({"msgid": "Boom %(n)s.", "args": {"n": 1}})
    ).where(models.ImportJob.id == job.id).execute()
    fragment = admin.get(f"/admin/imports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in fragment and "Boom 1." in fragment
    assert admin.get("/admin/imports/999").status_code == 404


def test_dry_run_job_writes_nothing(admin):
    response = upload(admin, "/admin/imports/students", "registry", registry_csv([person(1), person(2)]),
                      "r.csv", dry_run="y")  # fmt: skip
    job = wait_for(job_id_of(response))
    assert job.dry_run and job.status == "done"
    assert json.loads(job.report)["counts"]["created"] == 2
    assert models.Record.select().count() == 0 and models.College.select().count() == 0
    assert "nothing was written" in admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)


def test_unreadable_registry_fails_cleanly(admin):
    response = upload(admin, "/admin/imports/students", "registry", "就一行字\n".encode("gbk"), "r.csv")
    job = wait_for(job_id_of(response))
    assert job.status == "failed"
    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert "No header line found" in page and "Traceback" not in page
    assert models.AuditEvent.select().where(models.AuditEvent.action == "import.students").count() == 0


@pytest.mark.parametrize(
    "path, field, data, filename, message",
    [
        ("/admin/imports/students", None, b"", "", "Please choose a file."),
        ("/admin/imports/students", "registry", b"a,b\n", "r.txt", "Please choose a .csv or .xlsx file."),
        ("/admin/imports/students", "registry", b"", "r.csv", "The file is empty."),
        ("/admin/imports/students", "registry", b"a,b\n", "r.xlsx", "does not match its name"),
        ("/admin/imports/photos", None, b"", "", "Please choose a file."),
        ("/admin/imports/photos", "photos", b"PK\x03\x04", "p.rar", "Please choose a .zip file."),
        ("/admin/imports/photos", "photos", b"", "p.zip", "The file is empty."),
        ("/admin/imports/photos", "photos", b"hello", "p.zip", "does not match its name"),
    ],
)
def test_bad_uploads_are_400_and_write_nothing(admin, path, field, data, filename, message):
    if field is None:
        form = {"csrf_token": admin.csrf("/admin/imports")}
        response = admin.post(path, data=form, content_type="multipart/form-data")
    else:
        response = upload(admin, path, field, data, filename)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert models.ImportJob.select().count() == 0


def test_missing_csrf_token_is_refused(admin):
    response = admin.post(
        "/admin/imports/students",
        data={"registry": (io.BytesIO(registry_csv([person(1)])), "r.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and models.ImportJob.select().count() == 0


def test_uploads_may_exceed_the_normal_body_limit(app, admin):
    data = registry_csv([person(i) for i in range(30)])
    app.config["MAX_CONTENT_LENGTH"] = 1000
    assert len(data) > 2000
    job = wait_for(job_id_of(upload(admin, "/admin/imports/students", "registry", data, "r.csv")))
    assert job.status == "done"
    app.config["IMPORT_MAX_BYTES"] = 1000
    assert upload(admin, "/admin/imports/students", "registry", data, "r.csv").status_code == 413


def test_photo_zip_upload(admin):
    p = person(1)
    upload(admin, "/admin/imports/students", "registry", registry_csv([p]), "r.csv")
    wait_for(models.ImportJob.select().order_by(models.ImportJob.id.desc()).first().id)
    data = make_zip(
        {f"{p['id_number']}.jpg": photos.placeholder_portrait(1), "x.gif": imagegen.gif(200, 300)}
    )
    job = wait_for(job_id_of(upload(admin, "/admin/imports/photos", "photos", data, "photos.zip")))
    assert job.status == "done" and job.total == 2
    counts = json.loads(job.report)["counts"]
    assert counts["attached"] == 1 and counts["rejected"] == 1
    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert "x.gif" in page and "GIF" in page
    assert models.Record.get(models.Record.student_no == p["student_no"]).photo_id is not None
    # The upload itself is deleted once imported: it holds ID numbers and photos.
    assert not any((__import__("os").path.exists(j.path)) for j in models.ImportJob.select())


def test_job_cut_off_by_a_restart_is_reported_as_interrupted(admin):
    job = models.ImportJob.create(
        kind="students",
        filename="r.csv",
        status="running",
        done=5,
        total=40,
        created_by=models.User.get(),
        updated_at=models.utcnow(),
    )
    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in page
    models.ImportJob.update(updated_at=models.utcnow() - datetime.timedelta(minutes=16)).execute()
    page = admin.get(f"/admin/imports/{job.id}").get_data(as_text=True)
    assert "interrupted" in page and 'hx-trigger="every 1s"' not in page
    assert models.ImportJob.get_by_id(job.id).status == "failed"
