"""Staff queues: corrections, ID change requests and ID disputes, decided in place.

Synthetic people only. Requests are filed through services.casework (the
student side has its own tests); deciding goes through HTTP as staff do.
"""

import datetime
import gzip
import os
import random
import threading
from types import SimpleNamespace

import pytest
from flask_babel import force_locale

import models
from services import casework as reqs
from services import idcard, idimages, matching, records
from tests import imagegen
from tests.conftest import text_of
from tests.factories import (
    client_for,
    linked_student,
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    staff_world,
    with_realname,
)

_seeds = iter(range(10_000, 20_000))  # photo seeds of its own (linked_student has 100…)


@pytest.fixture
def world(app, db):
    """Two colleges, an open cohort, staff of each college (two of a), an admin."""
    return staff_world(second_staff_a=True)


def id_picture(app):
    with app.app_context():
        return idimages.store(
            imagegen.jpeg(640, 400, (200, 180, 160)), imagegen.jpeg(640, 400, (90, 90, 120))
        )


def file_correction(app, user, record, values, photo_items=(), note=""):
    with app.app_context():
        return reqs.file_correction(user, record, values, photo_items, note=note)


def decide_url(request):
    return f"/staff/queues/item/{request.id}/decide"


def decide(client, request, htmx=False, **data):
    """POST a decision with a CSRF token read from the item page."""
    token = client.csrf(f"/staff/queues/item/{request.id}")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(decide_url(request), data=dict(data, csrf_token=token), headers=headers)


def reload(row):
    return type(row).get_by_id(row.id)


def decided_mails(smtp, count=1):
    mails = smtp.wait(count)
    return [m for m in mails if "decided" in m["Subject"]]


def audit(action):
    return models.AuditEvent.select().where(models.AuditEvent.action == action)


# -- corrections ---------------------------------------------------------------


def test_correction_accepted_changes_record_and_mails(app, world, smtp):
    student, record = linked_student(app, "li.lei@example.edu", world.a)
    req = file_correction(
        app, student, record, {"major": "数据科学与大数据技术", "enrolled_on": "2023-09-05"}, note="见学生证"
    )
    staff = client_for(app, world.staff_a.email)
    smtp.clear()

    r = decide(staff, req, decision="accept", note="已核对学籍卡")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/queues/correction"
    assert "Accepted." in staff.get("/staff/queues/correction").get_data(as_text=True)

    after = reload(record)
    assert (after.major, after.enrolled_on) == ("数据科学与大数据技术", datetime.date(2023, 9, 5))
    assert after.status == "corrected" and after.changed_by_id == world.staff_a.id
    decided = reload(req)
    assert (decided.status, decided.decided_by_id, decided.decision_note) == (
        "accepted",
        world.staff_a.id,
        "已核对学籍卡",
    )
    event = audit("request.accept").get()
    assert (event.actor_id, event.target_id, event.ip) == (world.staff_a.id, req.id, "127.0.0.1")
    mail = decided_mails(smtp)[0]
    text = text_of(mail)
    cohort = after.cohort
    assert mail["To"] == student.email
    # Accepted before the deadline: confirm by the deadline, exactly as the
    # record page says (one source: services.records.confirm_window).
    assert f"confirm by {cohort.confirm_deadline.isoformat()}" in text
    assert "between" not in text
    with app.test_request_context(), force_locale("en"):
        kind, step = records.next_step(models.Record.get_by_id(after.id))
    assert kind == "decide" and str(step) in text
    assert "http://localhost/requests" in text and "已核对学籍卡" in text


def test_correction_accepted_with_unmatched_photo(app, world, smtp):
    student, record = linked_student(app, "han.mei@example.edu", world.a, name="韩梅梅", photo=False)
    right = make_photo(
        app,
        seed=next(_seeds),
        src_name="韩梅梅",
        src_id_number=record.id_number,
        unmatched_reason="school differs",
        college=world.a,
    )
    stranger = make_photo(
        app, seed=next(_seeds), src_name="路人甲", src_id_number="x", unmatched_reason="no record"
    )
    req = file_correction(app, student, record, {}, photo_items=[reqs.PHOTO_MISSING])
    staff = client_for(app, world.staff_a.email)

    html = staff.get(f"/staff/queues/item/{req.id}").get_data(as_text=True)
    assert f'name="photo_id" value="{right.id}"' in html and f'value="{stranger.id}"' not in html
    assert f"/photo/{right.id}/webp" in html and "The record has no photo." in html
    assert staff.get(f"/photo/{right.id}/webp").status_code == 200

    r = decide(staff, req, decision="accept", photo_id=str(right.id))
    assert r.status_code == 303
    after = reload(record)
    assert after.photo_id == right.id and after.status == "corrected"
    assert reload(right).unmatched_reason == "" and reload(stranger).unmatched_reason == "no record"
    assert len(decided_mails(smtp)) == 1


def test_correction_rejected_with_reason_and_without(app, world, smtp):
    student, record = linked_student(app, "wei.hua@example.edu", world.a)
    req = file_correction(app, student, record, {"major": "金融学"})
    assert reload(record).status == "correction_requested"
    staff = client_for(app, world.staff_a.email)
    smtp.clear()

    r = decide(staff, req, decision="reject", reject_reason="", note="")
    assert r.status_code == 400 and "Choose a reason for the rejection." in r.get_data(as_text=True)
    assert reload(req).status == "open" and reload(record).status == "correction_requested"
    assert audit("request.reject").count() == 0

    r = decide(staff, req, decision="reject", reject_reason="registry_correct", note="以学籍卡为准")
    assert r.status_code == 303
    after = reload(record)
    assert after.status == "pending" and after.major == "软件工程"
    assert reload(req).reject_reason == "registry_correct"
    text = text_of(decided_mails(smtp)[0])
    assert "has been rejected" in text and "The registry data is correct as it is." in text
    assert "以学籍卡为准" in text


# -- ID change requests ----------------------------------------------------------


def wrong_id_student(app, email, record, real_name=None):
    """A student whose real-name data has a wrong ID number: no record found."""
    user = with_realname(make_user(email, locale="en"), record)
    user.id_number = idcard.generate_resident(
        random.Random(email), birth=record.birth_date, gender=record.gender
    )
    user.real_name = real_name or user.real_name
    user.save()
    assert matching.link(user) is None
    return user


def file_id_change(app, user, id_number, **kw):
    return reqs.file_id_change(
        user,
        user.id_type,
        id_number,
        "13812345678",
        kw.get("reply_email", ""),
        id_picture(app),
        note=kw.get("note", ""),
    )


def test_id_change_accepted_relinks(app, world, smtp):
    record = make_record(college=world.a, name="周杰")
    user = wrong_id_student(app, "zhou.jie@example.edu", record)
    req = file_id_change(
        app, user, record.id_number, reply_email="zhou.reply@example.edu", note="身份证号输错一位"
    )
    assert req.college_id == world.a.id
    staff = client_for(app, world.staff_a.email)

    html = staff.get(f"/staff/queues/item/{req.id}").get_data(as_text=True)
    assert record.id_number in html and user.id_number in html and "13812345678" in html
    assert f'src="/requests/{req.id}/image"' in html and "身份证号输错一位" in html
    picture = staff.get(f"/requests/{req.id}/image")
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"

    r = decide(staff, req, decision="accept")
    assert r.status_code == 303 and r.headers["Location"] == "/staff/queues/id_change"
    assert reload(user).id_number == record.id_number
    after = reload(record)
    assert after.account_id == user.id and after.status == "pending"
    assert audit("account.id_change").count() == 1
    mail = decided_mails(smtp)[0]
    assert mail["To"] == "zhou.reply@example.edu" and "has been accepted" in text_of(mail)


def test_id_change_rejected_leaves_account(app, world, smtp):
    record = make_record(college=world.a, name="吴磊")
    user = wrong_id_student(app, "wu.lei@example.edu", record)
    wrong = user.id_number
    req = file_id_change(app, user, record.id_number)
    staff = client_for(app, world.staff_a.email)
    assert decide(staff, req, decision="reject", reject_reason="unreadable").status_code == 303
    assert reload(user).id_number == wrong and reload(record).account_id is None
    assert "The ID picture cannot be read." in text_of(decided_mails(smtp)[0])


# -- ID disputes ------------------------------------------------------------------


def dispute_world(app, world):
    holder, record = linked_student(app, "holder@example.edu", world.a, name="陈晨")
    claimant = with_realname(make_user("claimant@example.edu", locale="en"), record)
    holder_client = client_for(app, holder.email)
    assert holder_client.get("/record").status_code == 200
    req = reqs.file_dispute(claimant, "13912345678", "", id_picture(app), note="这是我的身份证")
    after = reload(record)
    assert after.account_id is None and after.status == "unregistered"
    return SimpleNamespace(
        holder=holder, claimant=claimant, record=record, req=req, holder_client=holder_client
    )


def test_dispute_accepted_moves_the_id(app, world, smtp):
    d = dispute_world(app, world)
    staff = client_for(app, world.staff_a.email)
    html = staff.get(f"/staff/queues/item/{d.req.id}").get_data(as_text=True)
    assert "holder@example.edu" in html and d.record.student_no in html and "这是我的身份证" in html
    smtp.clear()

    assert decide(staff, d.req, decision="accept").status_code == 303
    holder = reload(d.holder)
    assert holder.id_number is None and holder.id_type is None and holder.session_version == 2
    assert reload(d.record).account_id == d.claimant.id
    r = d.holder_client.get("/record")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    mails = smtp.wait(2)
    assert {m["To"] for m in mails} == {"holder@example.edu", "claimant@example.edu"}
    removed = next(m for m in mails if m["To"] == "holder@example.edu")
    assert "logged out" in text_of(removed) and "http://localhost/login" in text_of(removed)
    assert audit("account.id_removed").count() == 1


def test_dispute_rejected_relinks_holder(app, world, smtp):
    d = dispute_world(app, world)
    staff = client_for(app, world.staff_a.email)
    assert decide(staff, d.req, decision="reject", reject_reason="mismatch").status_code == 303
    assert reload(d.record).account_id == d.holder.id
    assert reload(d.holder).id_number == d.record.id_number
    assert d.holder_client.get("/record").status_code == 200
    assert [m["To"] for m in decided_mails(smtp)] == ["claimant@example.edu"]


# -- access -------------------------------------------------------------------------


def test_access_is_scoped_to_the_college(app, world, smtp):
    student, record = linked_student(app, "sun.li@example.edu", world.a, name="孙俪")
    req = file_correction(app, student, record, {"major": "法学"})
    # An ID change whose ID number and name match no record: college NULL, admins only.
    lost = wrong_id_student(
        app, "lost@example.edu", make_record(college=world.b, name="没人"), real_name="查无此人"
    )
    orphan = file_id_change(app, lost, idcard.generate_resident(random.Random(3)))
    assert orphan.college_id is None

    staff_b = client_for(app, world.staff_b.email)
    assert staff_b.get(f"/staff/queues/item/{req.id}").status_code == 404
    assert staff_b.get(f"/staff/queues/item/{req.id}", headers={"HX-Request": "true"}).status_code == 404
    token = staff_b.csrf("/staff/queues/correction")
    r = staff_b.post(decide_url(req), data={"csrf_token": token, "decision": "accept"})
    assert r.status_code == 404 and reload(req).status == "open"
    html = staff_b.get("/staff/queues/correction").get_data(as_text=True)
    assert "sun.li@example.edu" not in html and "No requests here." in html
    assert staff_b.get(f"/requests/{orphan.id}/image").status_code == 404

    staff_a = client_for(app, world.staff_a.email)
    assert "sun.li@example.edu" in staff_a.get("/staff/queues/correction").get_data(as_text=True)
    assert "lost@example.edu" not in staff_a.get("/staff/queues/id_change").get_data(as_text=True)
    assert staff_a.get(f"/staff/queues/item/{orphan.id}").status_code == 404

    admin = client_for(app, world.admin.email)
    html = admin.get("/staff/queues/id_change").get_data(as_text=True)
    assert "lost@example.edu" in html and "No college" in html
    assert "sun.li@example.edu" in admin.get("/staff/queues/correction").get_data(as_text=True)
    assert admin.get(f"/staff/queues/item/{orphan.id}").status_code == 200
    assert (
        decide(admin, orphan, decision="reject", reject_reason="other", note="请到教务处").status_code == 303
    )

    student_client = client_for(app, student.email)
    assert student_client.get("/staff/queues/correction").status_code == 404
    assert student_client.get(f"/staff/queues/item/{req.id}").status_code == 404
    anonymous = client_for(app)
    r = anonymous.get("/staff/queues/correction")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert anonymous.get(f"/staff/queues/item/{req.id}").status_code == 302


def test_staff_without_college_sees_nothing(app, world):
    make_user("floating@example.edu", role="staff", locale="en")
    lost = wrong_id_student(
        app, "lost2@example.edu", make_record(college=world.b, name="无名"), real_name="查无"
    )
    orphan = file_id_change(app, lost, idcard.generate_resident(random.Random(4)))
    staff = client_for(app, "floating@example.edu")
    assert "lost2@example.edu" not in staff.get("/staff/queues/id_change").get_data(as_text=True)
    assert staff.get(f"/staff/queues/item/{orphan.id}").status_code == 404


# -- list, fragments ----------------------------------------------------------------


def test_queue_tabs_counts_and_filter(app, world):
    first, record1 = linked_student(app, "one@example.edu", world.a, name="一一")
    second, record2 = linked_student(app, "two@example.edu", world.a, name="二二")
    old = file_correction(app, first, record1, {"major": "哲学"})
    file_correction(app, second, record2, {"major": "历史学"})
    models.Request.update(created_at=models.utcnow() - datetime.timedelta(days=2)).where(
        models.Request.id == old.id
    ).execute()
    lost = wrong_id_student(app, "three@example.edu", make_record(college=world.a, name="三三"))
    file_id_change(app, lost, idcard.generate_resident(random.Random(9)))
    staff = client_for(app, world.staff_a.email)

    html = staff.get("/staff/queues/correction").get_data(as_text=True)
    assert "<html" in html and html.index("one@example.edu") < html.index("two@example.edu")
    assert html.count('class="item"') == 2 and "2 open" in html and "1 open" in html and "0 open" in html
    assert 'aria-current="page">Correction' in html
    assert decide(staff, old, decision="accept").status_code == 303
    assert "one@example.edu" not in staff.get("/staff/queues/correction").get_data(as_text=True)
    accepted = staff.get("/staff/queues/correction?status=accepted").get_data(as_text=True)
    assert "one@example.edu" in accepted and "two@example.edu" not in accepted
    everything = staff.get("/staff/queues/correction?status=all").get_data(as_text=True)
    assert everything.count('class="item"') == 2
    assert staff.get("/staff/queues/nope").status_code == 404
    assert staff.get("/staff/queues/").headers["Location"] == "/staff/queues/correction"


def test_detail_fragment_and_page(app, world):
    student, record = linked_student(app, "frag@example.edu", world.a, name="片段")
    req = file_correction(app, student, record, {"id_number": idcard.generate_resident(random.Random(11))})
    staff = client_for(app, world.staff_a.email)
    fragment = staff.get(f"/staff/queues/item/{req.id}", headers={"HX-Request": "true"})
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and "<html" not in html and "HX-Request" in fragment.headers["Vary"]
    assert record.id_number in html and idcard.mask(record.id_number) not in html  # staff see it in full
    assert f'hx-post="{decide_url(req)}"' in html and 'hx-target="closest .item"' in html
    assert len(gzip.compress(fragment.data)) <= 2048  # an htmx fragment stays within 2 KB compressed
    page = staff.get(f"/staff/queues/item/{req.id}").get_data(as_text=True)
    assert page.startswith("<!doctype html>") and f'id="item-{req.id}"' in page
    listing = staff.get("/staff/queues/correction").get_data(as_text=True)
    assert f'hx-get="/staff/queues/item/{req.id}" hx-target="#item-{req.id}-detail"' in listing

    r = decide(staff, req, htmx=True, decision="accept")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "<html" not in html
    assert html.lstrip().startswith(f'<article class="item" id="item-{req.id}">') and "Accepted." in html
    assert "staff.a@example.edu" in html and 'name="decision"' not in html
    again = decide(staff, req, htmx=True, decision="accept")
    assert again.status_code == 409 and "Already decided by staff.a@example.edu" in again.get_data(
        as_text=True
    )
    assert "<html" not in again.get_data(as_text=True)
    assert audit("request.accept").count() == 1


# -- concurrency ----------------------------------------------------------------------


def test_two_staff_deciding_at_once(app, world, smtp):
    student, record = linked_student(app, "race@example.edu", world.a, name="赛跑")
    req = file_correction(app, student, record, {"major": "体育教育"})
    clients = [client_for(app, world.staff_a.email), client_for(app, world.staff_a2.email)]
    tokens = [c.csrf(f"/staff/queues/item/{req.id}") for c in clients]
    smtp.clear()
    barrier = threading.Barrier(2)
    results = [None, None]

    def run(i):
        barrier.wait()
        results[i] = clients[i].post(decide_url(req), data={"csrf_token": tokens[i], "decision": "accept"})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    codes = sorted(r.status_code for r in results)
    assert codes == [303, 409], codes
    loser = next(r for r in results if r.status_code == 409)
    assert "Already decided by" in loser.get_data(as_text=True)
    assert audit("request.accept").count() == 1
    updates = models.AuditEvent.select().where(
        (models.AuditEvent.action == "record.update") & (models.AuditEvent.target_id == record.id)
    )
    assert updates.count() == 1
    assert reload(record).major == "体育教育" and reload(record).status == "corrected"
    assert len(decided_mails(smtp)) == 1
    assert models.OutboxMail.select().where(models.OutboxMail.kind == "request_decided").count() == 1


# -- purge ----------------------------------------------------------------------------


def test_purge_deletes_old_pictures_only(app, world, runner):
    records_ = [make_record(college=world.a, name=n) for n in ("甲一", "乙二", "丙三")]
    users = [wrong_id_student(app, f"p{i}@example.edu", rec) for i, rec in enumerate(records_)]
    old, recent, undecided = (
        file_id_change(app, u, rec.id_number) for u, rec in zip(users, records_, strict=True)
    )
    staff = client_for(app, world.staff_a.email)
    for req in (old, recent):
        assert decide(staff, req, decision="reject", reject_reason="unreadable").status_code == 303
    models.Request.update(decided_at=models.utcnow() - datetime.timedelta(days=31)).where(
        models.Request.id == old.id
    ).execute()
    models.Request.update(created_at=models.utcnow() - datetime.timedelta(days=60)).where(
        models.Request.id == undecided.id
    ).execute()

    result = runner.invoke(args=["purge-id-images"])
    assert result.exit_code == 0, result.output
    assert "ID pictures deleted: 1" in result.output
    with app.app_context():
        assert not os.path.exists(idimages.path(old.image_key))
        assert os.path.exists(idimages.path(recent.image_key)) and os.path.exists(
            idimages.path(undecided.image_key)
        )
    purged = reload(old)
    assert purged.image_purged_at is not None and purged.status == "rejected"
    assert audit("request.reject").where(models.AuditEvent.target_id == old.id).count() == 1
    assert audit("request.image_purged").count() == 1
    assert reload(recent).image_purged_at is None and reload(undecided).image_purged_at is None
    html = staff.get(f"/staff/queues/item/{old.id}").get_data(as_text=True)
    assert "The ID picture was deleted after the decision" in html and "/image" not in html
    assert staff.get(f"/requests/{old.id}/image").status_code == 404
    assert "ID pictures deleted: 0" in runner.invoke(args=["purge-id-images"]).output


def test_purge_retention_is_configurable(app_factory, db):
    app = app_factory(ID_IMAGE_RETENTION_DAYS=0)
    make_college()
    make_cohort()
    record = make_record()
    user = wrong_id_student(app, "keep@example.edu", record)
    req = file_id_change(app, user, record.id_number)
    models.Request.update(status="rejected", decided_at=models.utcnow()).where(
        models.Request.id == req.id
    ).execute()
    result = app.test_cli_runner().invoke(args=["purge-id-images"])
    assert "ID pictures deleted: 1" in result.output


# -- bad input --------------------------------------------------------------------------


def test_bad_input(app, world):
    student, record = linked_student(app, "bad@example.edu", world.a, name="坏输入")
    other_student, other_record = linked_student(app, "other@example.edu", world.a, name="别人")
    req = file_correction(app, student, record, {"major": "化学"})
    staff = client_for(app, world.staff_a.email)

    assert decide(staff, req, decision="maybe").status_code == 404
    assert staff.get("/staff/queues/item/99999").status_code == 404
    token = staff.csrf("/staff/queues/correction")
    assert (
        staff.post(
            "/staff/queues/item/99999/decide", data={"csrf_token": token, "decision": "accept"}
        ).status_code
        == 404
    )
    r = decide(staff, req, htmx=True, decision="accept", photo_id=str(other_record.photo_id))
    assert r.status_code == 400 and "This photo cannot be attached" in r.get_data(as_text=True)
    assert decide(staff, req, decision="accept", photo_id="abc").status_code == 400
    r = staff.post(decide_url(req), data={"decision": "accept"})  # no CSRF token
    assert r.status_code == 400 and reload(req).status == "open"
    assert (
        reload(record).status == "correction_requested" and reload(record).photo_id != other_record.photo_id
    )
    assert audit("request.accept").count() == 0
