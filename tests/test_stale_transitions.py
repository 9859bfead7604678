"""Every illegal status change a stale page can reach answers 409 with a
clear message, never a 500, and changes nothing (issue 10)."""

import datetime

import pytest

import models
from services import casework as reqs
from services import staff_actions
from tests.factories import client_for, staff_world
from tests.test_staff_photos import CSRF, csrf, student


@pytest.fixture
def world(app, db):
    return staff_world()


def set_offline(app, record, actor):
    with app.app_context(), models.db.atomic():
        staff_actions.change_status(
            models.Record.get_by_id(record.id), "confirmed_offline", actor, "paper form"
        )


def test_student_confirm_after_offline_confirmation_is_409(app, world):
    user, record = student(app, "offline@example.edu", world.a, photo=True, seed=41)
    me = client_for(app, user.email)
    html = me.get("/record").get_data(as_text=True)  # the page is open …
    set_offline(app, record, world.staff_a)  # … while the college confirms on paper
    token = CSRF.search(html).group(1)
    shown = html.split('name="shown" type="hidden" value="')[1].split('"')[0]
    r = me.post("/record/confirm", data={"csrf_token": token, "shown": shown})
    assert r.status_code == 409
    assert "already recorded your confirmation on paper" in r.get_data(as_text=True)
    assert models.Record.get_by_id(record.id).status == "confirmed_offline"


def test_student_correction_after_offline_confirmation_is_409(app, world):
    user, record = student(app, "offline2@example.edu", world.a, photo=True, seed=42)
    me = client_for(app, user.email)
    token = csrf(me, "/record/correction")
    set_offline(app, record, world.staff_a)
    r = me.post("/record/correction", data={"csrf_token": token, "fix_photo_wrong": "y"})
    assert r.status_code == 409 and "already recorded your confirmation on paper" in r.get_data(as_text=True)
    assert models.Request.select().count() == 0
    assert models.Record.get_by_id(record.id).status == "confirmed_offline"


def test_student_confirm_while_own_correction_is_open_is_409(app, world):
    user, record = student(app, "tabs@example.edu", world.a, photo=True, seed=43)
    me = client_for(app, user.email)
    html = me.get("/record").get_data(as_text=True)
    with app.app_context():
        reqs.file_correction(user, models.Record.get_by_id(record.id), {"major": "金融学"})
    shown = html.split('name="shown" type="hidden" value="')[1].split('"')[0]
    r = me.post("/record/confirm", data={"csrf_token": CSRF.search(html).group(1), "shown": shown})
    assert r.status_code == 409 and "correction is being processed" in r.get_data(as_text=True)
    assert models.Record.get_by_id(record.id).status == "correction_requested"


def test_staff_accepting_after_offline_confirmation_is_409(app, world):
    user, record = student(app, "queue@example.edu", world.a, photo=True, seed=44)
    with app.app_context():
        req = reqs.file_correction(user, record, {"major": "金融学"})
    staff = client_for(app, world.staff_a.email)
    token = csrf(staff, f"/staff/queues/item/{req.id}")
    set_offline(app, record, world.staff_a)
    r = staff.post(f"/staff/queues/item/{req.id}/decide", data={"csrf_token": token, "decision": "accept"})
    assert r.status_code == 409 and "The record changed in the meantime" in r.get_data(as_text=True)
    assert models.Request.get_by_id(req.id).status == "open"
    assert models.Record.get_by_id(record.id).major != "金融学"


def test_staff_toggle_from_a_stale_row_is_409(app, world):
    _user, record = student(app, "row@example.edu", world.a, photo=True, seed=45)
    staff = client_for(app, world.staff_a.email)
    token = csrf(staff, "/staff/records")
    set_offline(app, record, world.staff_a)
    r = staff.post(
        f"/staff/records/{record.id}/status",
        data={
            "csrf_token": token,
            "to": "confirmed_offline",
            "reason": "again",
            "version": str(record.version),
        },
    )
    assert r.status_code == 409 and "Changed in the meantime" in r.get_data(as_text=True)


def test_staff_retake_on_a_decided_correction_is_409(app, world):
    user, record = student(app, "retake409@example.edu", world.a)
    with app.app_context():
        req = reqs.file_correction(user, record, {}, [reqs.PHOTO_MISSING])
    staff = client_for(app, world.staff_a.email)
    page = f"/staff/records/{record.id}/photo?request={req.id}"
    token = csrf(staff, page)
    with app.app_context():
        reqs.withdraw(models.Request.get_by_id(req.id), user)
    day = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    fresh = models.Record.get_by_id(record.id)
    r = staff.post(
        f"/staff/records/{record.id}/retake?request={req.id}",
        data={"csrf_token": token, "date": day, "place": "A201", "version": str(record.version)},
    )
    # The correction is gone from the page's point of view: the record changed (withdrawn → pending).
    assert r.status_code == 409 and "changed meanwhile" in r.get_data(as_text=True)
    assert models.Record.get_by_id(record.id).version == fresh.version
