"""The student side of the three problem paths: file, see, withdraw."""

import io
import os
import re

import pytest
from werkzeug.test import EnvironBuilder

import models
from services import idcard, idimages, matching
from tests import imagegen
from tests.factories import make_cohort, make_photo, make_record, make_user, sign_in, with_realname


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def linked(app, en, photo=True, **fields):
    user = make_user()
    record = make_record(**fields)
    if photo:
        make_photo(app, record)
    with_realname(user, record)
    matching.link(user)
    sign_in(en)
    return models.Record.get_by_id(record.id), models.User.get_by_id(user.id)


def unmatched(app, en, **overrides):
    """A logged-in student whose real-name data matches no record."""
    record = make_record(name="王小明")
    user = make_user()
    with_realname(user, record)
    for key, value in overrides.items():
        setattr(user, key, value)
    user.save()
    sign_in(en)
    return record, models.User.get_by_id(user.id)


def files(front, back=None, **fields):
    data = {"phone": "13812345678", "reply_email": "", "note": ""}
    data.update(fields)
    data["front"] = (io.BytesIO(front), "front.jpg")
    if back is not None:
        data["back"] = (io.BytesIO(back), "back.jpg")
    return data


def post_upload(client, path, data):
    """A multipart POST; the builder is closed so its spooled body file is too."""
    data = dict(data, csrf_token=client.csrf(path))
    builder = EnvironBuilder(
        path=path,
        method="POST",
        data=data,
        content_type="multipart/form-data",
        environ_base=client.environ_base,
    )
    try:
        response = client.open(builder)
    finally:
        builder.close()
    # Werkzeug spools big multipart bodies to a temporary file nobody closes.
    response.request.environ["wsgi.input"].close()
    return response


def test_wrong_name_fixed_in_profile_rematches(app, en, db):
    record, user = unmatched(app, en, real_name="王晓明")
    assert en.get("/record").headers["Location"] == "/identity/status"
    r = en.form_post("/identity/profile", {"real_name": "王小明", "nickname": ""})
    assert r.status_code == 303 and r.headers["Location"] == "/record"
    assert models.Record.get_by_id(record.id).account_id == user.id
    assert models.AuditEvent.select().where(models.AuditEvent.action == "realname.change").count() == 1


def test_id_change_request_merges_pictures_under_1mb(app, en, db):
    record, user = unmatched(app, en)
    wrong = idcard.generate_resident(__import__("random").Random(5))
    user.id_number = wrong
    user.save()
    big = imagegen.big_camera_jpeg()
    assert len(big) > 2_000_000
    r = post_upload(en, "/identity/id-change", files(big, big, id_number=record.id_number))
    assert r.status_code == 303, r.get_data(as_text=True)[-2000:]
    req = models.Request.get()
    assert (req.kind, req.status, req.id_number, req.college_id) == (
        "id_change",
        "open",
        record.id_number,
        record.college_id,
    )
    with app.app_context():
        size = os.path.getsize(idimages.path(req.image_key))
    assert 0 < size <= 1_000_000
    page = en.get("/requests").get_data(as_text=True)
    assert "ID change request" in page and "Waiting for the college" in page
    image = en.get(f"/requests/{req.id}/image")
    assert image.status_code == 200 and image.data[:3] == b"\xff\xd8\xff"


@pytest.mark.parametrize(
    ("front", "fields", "message"),
    [
        (imagegen.text_as_jpg(), {}, "not"),
        (b"", {}, "file is empty"),
        (imagegen.truncated_jpeg(900, 700), {}, "incomplete"),
        (imagegen.bomb_png(), {}, "too many pixels"),
        (imagegen.gif(40, 40), {}, "JPEG"),
        (imagegen.jpeg(900, 600, (200, 200, 200)), {"phone": "12345"}, "11-digit"),
        (imagegen.jpeg(900, 600, (200, 200, 200)), {"id_number": "110101200001011234"}, "check digit"),
        (imagegen.jpeg(900, 600, (200, 200, 200)), {"reply_email": "nope"}, "valid e-mail"),
    ],
)
def test_id_change_bad_input(app, en, db, front, fields, message):
    record, _user = unmatched(app, en, real_name="其他人")
    data = files(
        front, **dict({"id_number": idcard.generate_resident(__import__("random").Random(3))}, **fields)
    )
    r = post_upload(en, "/identity/id-change", data)
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and message.lower() in html.lower(), html[-3000:]
    assert models.Request.select().count() == 0
    with app.app_context():
        folder = idimages.root()
        stored = [name for name in os.listdir(folder) if name != "pending"] if os.path.isdir(folder) else []
        kept = (
            os.listdir(os.path.join(folder, "pending"))
            if os.path.isdir(os.path.join(folder, "pending"))
            else []
        )
    assert stored == []
    if fields:
        # A good picture with another field wrong is kept for the re-shown form.
        assert len(kept) == 1 and re.search(r'name="upload" type="hidden" value="[\w-]{20,}"', html)
    else:
        assert kept == [] and 'name="upload" type="hidden" value=""' in html


def test_picture_over_10mb_is_refused(app, en, db):
    unmatched(app, en)
    r = post_upload(en, "/identity/id-change", files(b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 10)))
    assert r.status_code == 400 and "at most 10 MB" in r.get_data(as_text=True)
    assert models.Request.select().count() == 0


def test_dispute_unlinks_record_until_decided_and_withdraw_relinks(app, db):
    record = make_record()
    make_photo(app, record)
    holder = with_realname(make_user("first@example.edu"), record)
    matching.link(holder)
    second = with_realname(make_user("second@example.edu"), record)
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(client, "second@example.edu")
    assert client.get("/identity/status").status_code == 200
    r = post_upload(client, "/identity/dispute", files(imagegen.big_camera_jpeg(900, 600)))
    assert r.status_code == 303
    held = models.Record.get_by_id(record.id)
    assert held.account_id is None and held.status == "unregistered"
    # While the dispute is open, neither account can be linked by matching.
    assert matching.link(models.User.get_by_id(holder.id)) is None
    assert matching.link(models.User.get_by_id(second.id)) is None
    req = models.Request.get()
    client.form_post(f"/requests/{req.id}/withdraw", {}, page="/requests")
    assert models.Request.get_by_id(req.id).status == "withdrawn"
    assert models.Record.get_by_id(record.id).account_id == holder.id


def test_correction_form_files_and_withdraws(app, en, db):
    record, _user = linked(app, en)
    r = en.form_post(
        "/record/correction",
        {"fix_name": "y", "new_name": "张叁", "fix_photo_wrong": "y", "note": "照片不是我"},
    )
    assert r.status_code == 303
    assert models.Record.get_by_id(record.id).status == "correction_requested"
    req = models.Request.get()
    items = {(i.field, i.old_value, i.new_value) for i in req.items}
    assert items == {("name", "张三", "张叁"), ("photo_wrong", "", "")}
    html = en.get("/record").get_data(as_text=True)
    assert "Your correction is with the college" in html and ">Correct<" not in html
    en.form_post(f"/requests/{req.id}/withdraw", {}, page="/requests")
    assert models.Record.get_by_id(record.id).status == "pending"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"note": "something"}, "Tick at least one field"),
        ({"fix_id_number": "y", "new_id_number": "110101200001011234"}, "check digit"),
        ({"fix_birth_date": "y", "new_birth_date": "2004/13/40"}, "like 1985-02-03"),
        ({"fix_major": "y", "new_major": ""}, "Enter the correct value"),
        ({"fix_major": "y", "new_major": "软件工程"}, "already says"),
        ({"fix_gender": "y", "new_gender": "x"}, "男 or 女"),
    ],
)
def test_correction_bad_input_changes_nothing(app, en, db, data, message):
    record, _user = linked(app, en)
    r = en.form_post("/record/correction", data)
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert models.Request.select().count() == 0
    assert models.Record.get_by_id(record.id).status == "pending"


def test_correction_after_deadline_names_the_office(app, en, db):
    cohort = make_cohort(name="2026届", deadline_in_days=-2, recheck_in_days=5)
    record, _user = linked(app, en, cohort=cohort)
    html = en.get("/record/correction").get_data(as_text=True)
    assert "has passed" in html and "A201" in html
    r = en.form_post("/record/correction", {"fix_major": "y", "new_major": "物理"})
    assert models.Request.select().count() == 0 and r.status_code in (200, 400)


def test_other_students_requests_are_invisible(app, en, db):
    record, user = linked(app, en)
    other = make_user("other@example.edu")
    req = models.Request.create(kind="correction", user=other, record=record, college=record.college)
    assert en.form_post(f"/requests/{req.id}/withdraw", {}, page="/requests").status_code == 404
    assert en.get(f"/requests/{req.id}/image").status_code == 404
    assert "other@example.edu" not in en.get("/requests").get_data(as_text=True)
