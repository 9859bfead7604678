"""The staff console of issue 10: compact rows with a 40×53 thumbnail, the
search rules, the status control, confirmation of voiding changes (htmx and
without JavaScript), unambiguous queue labels, and audited reads of full ID
numbers and ID-card pictures."""

import io
import os
import re

import pytest
from PIL import Image

import models
from services import casework as reqs
from services import idcard, photostore
from tests import imagegen
from tests.factories import (
    client_for,
    make_record,
    staff_world,
)
from tests.test_staff_photos import confirm, csrf, student


@pytest.fixture
def world(app, db):
    return staff_world()


def rows_of(html):
    return re.findall(r'<tr id="rec-\d+".*?</tr>', html, re.S)


def search(client, q):
    html = client.get("/staff/records", query_string={"q": q}).get_data(as_text=True)
    return set(re.findall(r'<tr id="rec-(\d+)"', html))


def test_search_by_student_number_prefix_name_part_and_id_tail(app, world):
    a = make_record(college=world.a, name="欧阳娜娜", student_no="202301001")
    b = make_record(college=world.a, name="李四", student_no="202401002")
    c = make_record(college=world.a, name="王五", student_no="202301003", id_number="11010519491231002X")
    make_record(college=world.b, name="欧阳修", student_no="202301004")  # another college: never
    staff = client_for(app, world.staff_a.email)

    assert search(staff, "2023") == {str(a.id), str(c.id)}  # 学号 prefix, 4+ digits
    assert search(staff, "20230100") == {str(a.id), str(c.id)}
    assert search(staff, "202401002") == {str(b.id)}
    assert search(staff, "阳娜") == {str(a.id)}  # any part of a name
    assert search(staff, "娜娜") == {str(a.id)}
    assert search(staff, b.id_number[-4:]) >= {str(b.id)}  # last 4 of the ID number
    assert search(staff, b.id_number[-6:]) == {str(b.id)}  # last 6
    assert search(staff, "002x") == {str(c.id)} == search(staff, "31002X")
    assert search(staff, b.id_number[-7:]) == set()  # 7 digits: a 学号 prefix only


def test_row_is_one_line_with_a_40x53_thumbnail_file(app, world):
    _user, record = student(app, "thumb@example.edu", world.a, photo=True, seed=61)
    staff = client_for(app, world.staff_a.email)
    html = staff.get("/staff/records").get_data(as_text=True)
    (row,) = rows_of(html)
    photo_id = models.Record.get_by_id(record.id).photo_id
    assert f'src="/photo/{photo_id}/mini" width="40" height="53"' in row and "<br>" not in row
    r = staff.get(f"/photo/{photo_id}/mini")
    assert r.status_code == 200 and r.mimetype == "image/webp" and len(r.data) <= 1500
    assert Image.open(io.BytesIO(r.data)).size == (40, 53)
    # Photos stored before the variant existed get it made from the master.
    with app.app_context():
        os.remove(photostore.path(models.Photo.get_by_id(photo_id).key, "mini"))
    r = staff.get(f"/photo/{photo_id}/mini", headers={"Cache-Control": "no-cache"})
    assert r.status_code == 200 and Image.open(io.BytesIO(r.data)).size == (40, 53)
    # A screen of 1.5 device pixels per CSS pixel or more (a phone, a laptop
    # at 150 %) gets the 60×80 thumbnail instead: sharp, not upscaled.
    assert f'srcset="/photo/{photo_id}/thumb 1.5x"' in row
    r = staff.get(f"/photo/{photo_id}/thumb")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.data)).size == (60, 80) and len(r.data) <= 2500
    # No htmx request attribute in a row and no boosting: htmx sets up nothing
    # per row; static/js/app.js sends the link and the form into the row's tbody.
    assert (
        " hx-" not in row and '<table class="records compact fixed rows" hx-boost:inherited="false">' in html
    )


def test_status_control_starts_on_the_current_status(app, world):
    record = make_record(college=world.a, status="confirmed_offline")
    staff = client_for(app, world.staff_a.email)
    (row,) = rows_of(staff.get("/staff/records").get_data(as_text=True))
    options = re.findall(r"<option value=\"(\w+)\"( selected)?>", row)
    assert options[0] == ("confirmed_offline", " selected")
    assert sorted(o for o, _s in options[1:]) == ["pending", "unregistered"]
    # Pressing Set on the current status changes nothing.
    token = csrf(staff, "/staff/records")
    r = staff.post(
        f"/staff/records/{record.id}/status",
        data={"csrf_token": token, "to": "confirmed_offline", "version": str(record.version)},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and models.Record.get_by_id(record.id).version == record.version
    assert f'id="to-{record.id}"' in r.get_data(as_text=True)


def test_voiding_change_asks_first_with_and_without_javascript(app, world):
    user, record = student(app, "void@example.edu", world.a, photo=True, seed=62)
    me = client_for(app, user.email)
    assert confirm(me).status_code == 303
    record = models.Record.get_by_id(record.id)
    staff = client_for(app, world.staff_a.email)
    (row,) = rows_of(staff.get("/staff/records").get_data(as_text=True))
    assert "hx-confirm=" in row and "must then check again" in row

    data = {"csrf_token": csrf(staff, "/staff/records"), "to": "pending", "version": str(record.version)}
    r = staff.post(f"/staff/records/{record.id}/status", data=dict(data, next="/staff/records?q=void"))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Change the status of" in html and 'name="confirmed" value="1"' in html
    assert models.Record.get_by_id(record.id).status == "confirmed"  # nothing yet
    r = staff.post(
        f"/staff/records/{record.id}/status", data=dict(data, confirmed="1", next="/staff/records")
    )
    assert r.status_code == 303 and models.Record.get_by_id(record.id).status == "pending"
    # A change that voids nothing is not asked about.
    pending = make_record(college=world.a, status="pending")
    (row,) = [
        x for x in rows_of(staff.get("/staff/records").get_data(as_text=True)) if f"rec-{pending.id}" in x
    ]
    assert "hx-confirm" not in row


def test_queue_labels_headings_and_id_numbers_in_chinese(app, world):
    user, record = student(app, "labels@example.edu", world.a, photo=True, seed=63)
    with app.app_context():
        reqs.file_correction(user, record, {"major": "金融学"})
    staff = client_for(app, world.staff_a.email)
    staff.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-CN"
    html = staff.get("/staff/queues/correction").get_data(as_text=True)
    link = re.search(r'<a href="/staff/queues/item/\d+"[^>]*>([^<]+)</a>', html).group(1)
    assert link == "查看" and "等待学院处理" in html
    req = models.Request.get()
    detail = staff.get(f"/staff/queues/item/{req.id}").get_data(as_text=True)
    levels = [int(n) for n in re.findall(r"<h([1-6])", detail)]
    assert all(b - a <= 1 for a, b in zip(levels, levels[1:], strict=False)), levels
    assert f'<dd class="idno">{record.id_number}</dd>' in detail


def test_full_id_numbers_and_id_pictures_opened_by_staff_are_audited(app, world):
    _user, record = student(app, "audit@example.edu", world.a, photo=True, seed=64)
    staff = client_for(app, world.staff_a.email)
    staff.get("/staff/records")  # masked: no read
    assert models.AuditEvent.select().where(models.AuditEvent.action == "read.id_number").count() == 0
    assert record.id_number in staff.get(f"/staff/records/{record.id}").get_data(as_text=True)
    event = models.AuditEvent.get(models.AuditEvent.action == "read.id_number")
    assert (event.actor_id, event.target_type, event.target_id) == (world.staff_a.id, "record", record.id)

    other = models.User.create(email="holder@example.edu", password_hash="x", role="student", locale="en")
    from services import idimages

    with app.app_context():
        key = idimages.store(imagegen.jpeg(640, 400, (200, 180, 160)))
    req = models.Request.create(
        kind=reqs.ID_CHANGE,
        user=other,
        record=record,
        college=world.a,
        id_type=idcard.RESIDENT,
        id_number=record.id_number,
        image_key=key,
    )
    staff.get(f"/staff/queues/item/{req.id}")
    assert staff.get(f"/requests/{req.id}/image").status_code == 200
    picture = models.AuditEvent.get(models.AuditEvent.action == "read.id_picture")
    assert (picture.actor_id, picture.target_type, picture.target_id) == (world.staff_a.id, "request", req.id)

    admin = client_for(app, world.admin.email)
    html = admin.get("/admin/audit", query_string={"action": "read.id_picture"}).get_data(as_text=True)
    assert "read.id_picture" in html and "staff.a@example.edu" in html
    options = admin.get("/admin/audit").get_data(as_text=True)
    assert 'value="read.id_number"' in options and 'value="read.id_picture"' in options
