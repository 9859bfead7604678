"""Staff give a record its photo: upload with a crop preview and compliance
warnings, replace (history, voided confirmation, mail, audit), retake
requests, and who may see a photo no record carries (issue 10)."""

import datetime
import io
import re

import pytest
from PIL import Image

import models
from services import casework as reqs
from services import photos
from tests import imagegen
from tests.conftest import text_of
from tests.factories import (
    client_for,
    linked_student,
    make_photo,
    sign_in,
    staff_world,
)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def world(app, db):
    return staff_world()


def student(app, email, college, photo=False, seed=1):
    """A linked student of `college`, with the photo of `seed` when asked."""
    return linked_student(app, email, college, photo=photo, seed=seed)


def csrf(client, path):
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def upload(client, record, data, query=""):
    """POST a file to the upload form; returns the response (303 → preview)."""
    page = f"/staff/records/{record.id}/photo{query}"
    token = csrf(client, page)
    return client.post(
        page,
        data={"csrf_token": token, "photo": (io.BytesIO(data), "camera.jpg")},
        content_type="multipart/form-data",
    )


def save(client, preview_url, **fields):
    """Press Save on the preview page (its form carries version, x and y)."""
    html = client.get(preview_url).get_data(as_text=True)
    action = (
        re.search(r'<form method="post" action="([^"]+)" id="crop-form"', html).group(1).replace("&amp;", "&")
    )
    values = dict(
        re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html[html.index('id="crop-form"') :])
    )
    values.update(fields)
    return client.post(action, data=values)


def confirm(client):
    html = client.get("/record").get_data(as_text=True)
    shown = re.search(r'name="shown" type="hidden" value="([0-9a-f]+)"', html)
    return client.post(
        "/record/confirm",
        data={"csrf_token": CSRF.search(html).group(1), "shown": shown.group(1) if shown else ""},
    )


def test_no_photo_correction_needs_a_photo_then_upload_accepts_it(app, world, smtp):
    user, record = student(app, "no.photo@example.edu", world.a)
    with app.app_context():
        req = reqs.file_correction(user, record, {}, [reqs.PHOTO_MISSING])
    staff = client_for(app, world.staff_a.email)
    item = staff.get(f"/staff/queues/item/{req.id}").get_data(as_text=True)
    link = f"/staff/records/{record.id}/photo?request={req.id}"
    assert link.replace("?", "?").split("?")[0] in item and f"request={req.id}" in item

    # Accepting "no photo" without giving one is refused (the old circle).
    token = csrf(staff, f"/staff/queues/item/{req.id}")
    r = staff.post(f"/staff/queues/item/{req.id}/decide", data={"csrf_token": token, "decision": "accept"})
    assert r.status_code == 400 and "has no photo" in r.get_data(as_text=True)
    assert models.Request.get_by_id(req.id).status == "open"

    r = upload(staff, record, imagegen.noisy_portrait(900, 1000, seed=3), f"?request={req.id}")
    assert r.status_code == 303 and "/photo/" in r.headers["Location"]
    preview = staff.get(r.headers["Location"]).get_data(as_text=True)
    assert "Save the photo and accept the correction" in preview and "crop.jpg" in preview
    assert "<script>" not in preview and "hx-on" not in preview
    smtp.clear()
    r = save(staff, r.headers["Location"])
    assert r.status_code == 303
    after = models.Record.get_by_id(record.id)
    assert after.photo_id is not None and after.status == "corrected"
    assert models.Request.get_by_id(req.id).status == "accepted"
    photo = after.photo
    with app.app_context():
        from services import photostore

        master = Image.open(io.BytesIO(photostore.read(photo.key, "master")))
        assert master.size == (480, 640) and not master.getexif()
    assert photo.college_id == world.a.id
    assert models.AuditEvent.select().where(models.AuditEvent.action == "photo.upload").count() == 1
    assert any("decided" in m["Subject"] for m in smtp.wait(1))

    # The student now sees the photo and can confirm.
    sign_in(me := client_for(app), user.email)
    page = me.get("/record").get_data(as_text=True)
    assert f"/photo/{photo.id}/webp" in page and "There is no photo yet" not in page
    assert confirm(me).status_code == 303
    assert models.Record.get_by_id(record.id).status == "confirmed"


def test_preview_shows_compliance_warnings_and_the_crop_moves(app, world):
    _user, record = student(app, "grey@example.edu", world.a)
    staff = client_for(app, world.staff_a.email)
    grey = imagegen.noisy_portrait(1200, 800, seed=5, background=(150, 150, 150))
    location = upload(staff, record, grey).headers["Location"]
    html = staff.get(location).get_data(as_text=True)
    assert "Warning:" in html and "light blue, white or light grey" in html
    left = staff.get(location.replace("?", "/crop.jpg?") + "&x=0&y=0.5")
    right = staff.get(location.replace("?", "/crop.jpg?") + "&x=1&y=0.5")
    assert left.status_code == right.status_code == 200 and left.data != right.data
    assert Image.open(io.BytesIO(left.data)).size == (480, 640)
    # Nudge links work without JavaScript: they move the crop by a tenth.
    assert "x=0.60" in html.replace("&amp;", "&")
    # Nothing is saved before Save.
    assert models.Record.get_by_id(record.id).photo_id is None and models.Photo.select().count() == 0


def test_bad_file_is_refused_with_a_message(app, world):
    _user, record = student(app, "bad@example.edu", world.a)
    staff = client_for(app, world.staff_a.email)
    r = upload(staff, record, b"not a picture at all")
    assert r.status_code == 400 and 'role="alert"' in r.get_data(as_text=True)
    r = upload(staff, record, imagegen.jpeg(60, 80, (100, 197, 255)))
    assert r.status_code == 400
    assert models.Photo.select().count() == 0


def test_replace_keeps_history_voids_confirmation_mails_and_audits(app, world, smtp):
    user, record = student(app, "replace@example.edu", world.a, photo=True, seed=11)
    me = client_for(app, user.email)
    assert confirm(me).status_code == 303
    old = models.Record.get_by_id(record.id).photo_id
    staff = client_for(app, world.staff_a.email)
    detail = staff.get(f"/staff/records/{record.id}").get_data(as_text=True)
    assert f"/staff/records/{record.id}/photo" in detail and "Replace the photo" in detail
    smtp.clear()
    location = upload(staff, record, imagegen.noisy_portrait(seed=12)).headers["Location"]
    assert save(staff, location).status_code == 303

    after = models.Record.get_by_id(record.id)
    assert after.photo_id not in (None, old) and after.status == "pending"
    history = models.PhotoHistory.get(models.PhotoHistory.record == record)
    assert history.photo_id == old and history.replaced_by_id == world.staff_a.id
    assert models.Confirmation.get(models.Confirmation.record == record).void_at is not None
    event = models.AuditEvent.get(models.AuditEvent.action == "photo.replace")
    assert event.actor_id == world.staff_a.id and str(old) in event.reason
    mails = smtp.wait(1)
    assert len(mails) == 1 and mails[0]["To"] == user.email
    assert "new graduation photo" in text_of(mails[0]) and "http://localhost/record" in text_of(mails[0])
    # Staff still see the replaced photo from the history; another college does not.
    assert staff.get(f"/photo/{old}/thumb").status_code == 200
    assert client_for(app, world.staff_b.email).get(f"/photo/{old}/thumb").status_code == 404
    page = staff.get(f"/staff/records/{record.id}/photo").get_data(as_text=True)
    assert f"/photo/{old}/thumb" in page


def test_stale_save_changes_nothing(app, world):
    _user, record = student(app, "stale@example.edu", world.a)
    staff = client_for(app, world.staff_a.email)
    location = upload(staff, record, imagegen.noisy_portrait(seed=13)).headers["Location"]
    r = save(staff, location, version="999")
    assert r.status_code == 409 and "changed meanwhile" in r.get_data(as_text=True)
    assert models.Record.get_by_id(record.id).photo_id is None


def test_retake_is_the_students_next_step_until_a_photo_arrives(app, world, smtp):
    user, record = student(app, "retake@example.edu", world.a)
    staff = client_for(app, world.staff_a.email)
    page = f"/staff/records/{record.id}/photo"
    day = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    smtp.clear()
    r = staff.post(
        f"/staff/records/{record.id}/retake",
        data={
            "csrf_token": csrf(staff, page),
            "date": day,
            "place": "Building A, room 201",
            "version": str(record.version),
        },
    )
    assert r.status_code == 303
    after = models.Record.get_by_id(record.id)
    assert (after.retake_on.isoformat(), after.retake_place) == (day, "Building A, room 201")
    assert models.AuditEvent.select().where(models.AuditEvent.action == "photo.retake").count() == 1
    assert day in text_of(smtp.wait(1)[0])

    me = client_for(app, user.email)
    html = me.get("/record").get_data(as_text=True)
    assert f"Photo needed: come to the photo session on {day} at Building A, room 201" in html
    assert 'action="/record/confirm"' not in html
    assert confirm(me).status_code == 409

    location = upload(staff, record, imagegen.noisy_portrait(seed=14)).headers["Location"]
    assert save(staff, location).status_code == 303
    after = models.Record.get_by_id(record.id)
    assert after.retake_on is None and after.photo_id is not None
    assert "Photo needed" not in me.get("/record").get_data(as_text=True)
    assert confirm(me).status_code == 303


def test_retake_needs_date_and_place(app, world):
    _user, record = student(app, "retake2@example.edu", world.a)
    staff = client_for(app, world.staff_a.email)
    page = f"/staff/records/{record.id}/photo"
    r = staff.post(
        f"/staff/records/{record.id}/retake", data={"csrf_token": csrf(staff, page), "date": "tomorrow"}
    )
    assert r.status_code == 400 and "YYYY-MM-DD" in r.get_data(as_text=True)
    r = staff.post(
        f"/staff/records/{record.id}/retake",
        data={"csrf_token": csrf(staff, page), "date": "2030-01-01", "place": "  "},
    )
    assert r.status_code == 400 and "date and the place" in r.get_data(as_text=True)
    assert models.Record.get_by_id(record.id).retake_on is None


def test_other_college_and_other_uploader_get_404(app, world):
    _user, record = student(app, "scope@example.edu", world.a)
    staff_a = client_for(app, world.staff_a.email)
    location = upload(staff_a, record, imagegen.noisy_portrait(seed=15)).headers["Location"]
    staff_b = client_for(app, world.staff_b.email)
    assert staff_b.get(f"/staff/records/{record.id}/photo").status_code == 404
    assert staff_b.get(location).status_code == 404
    # An admin may see the record, but not another person's staged upload.
    admin = client_for(app, world.admin.email)
    assert admin.get(f"/staff/records/{record.id}/photo").status_code == 200
    assert admin.get(location).status_code == 404


def test_unmatched_photo_only_for_its_college_and_admins(app, world):
    _user, record = student(app, "unmatched@example.edu", world.a)
    mine = make_photo(app, seed=21, src_id_number=record.id_number, unmatched_reason="x", college=world.a)
    nobodys = make_photo(app, seed=22, src_id_number="0", unmatched_reason="no_record")
    a, b, admin = (client_for(app, u.email) for u in (world.staff_a, world.staff_b, world.admin))
    assert a.get(f"/photo/{mine.id}/master").status_code == 200
    assert b.get(f"/photo/{mine.id}/master").status_code == 404
    assert admin.get(f"/photo/{mine.id}/master").status_code == 200
    assert a.get(f"/photo/{nobodys.id}/master").status_code == 404
    assert admin.get(f"/photo/{nobodys.id}/master").status_code == 200


def test_photo_import_sets_the_college_the_file_name_points_to(app, world):
    import zipfile

    _user, record = student(app, "zip@example.edu", world.a)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(
            "manifest.csv", f"学校,姓名,证件号码,文件名\n,别人,{record.id_number},{record.id_number}.jpg\n"
        )
        zf.writestr(f"{record.id_number}.jpg", photos.placeholder_portrait(31))
    from services.importing import photo_import as import_photos

    with app.test_request_context():
        report = import_photos.import_photos(buf.getvalue(), workers=1)
    assert report["counts"]["unmatched"] == 1
    photo = models.Photo.get()
    assert photo.college_id == world.a.id
    assert client_for(app, world.staff_b.email).get(f"/photo/{photo.id}/master").status_code == 404
    assert client_for(app, world.staff_a.email).get(f"/photo/{photo.id}/master").status_code == 200
