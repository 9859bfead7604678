"""Real-name registration, matching the record, checking it and confirming it (README, "What it does": students 3 and 4)."""

import datetime
import re
import sqlite3
import time

import peewee
import pytest

import models
from services import idcard, records
from tests.conftest import text_of
from tests.factories import make_cohort, make_photo, make_record, make_user, sign_in, with_realname


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def realname_data(record, **overrides):
    data = {
        "real_name": record.name,
        "gender": record.gender,
        "id_type": record.id_type,
        "id_number": record.id_number,
        "nickname": "",
        "birth_date": record.birth_date.isoformat(),
        "province": "210000",
        "city": "210200",
    }
    data.update(overrides)
    return data


@pytest.fixture
def student(en, db):
    make_user()
    sign_in(en)
    return en


def test_realname_matches_and_shows_record(student, app, db):
    record = make_record(name="阿依·古丽", gender="F", birth=datetime.date(2003, 2, 3))
    make_photo(app, record)
    assert student.get("/record").headers["Location"] == "/identity/"
    # Full-width digits, spaces, a lower-case x and another dot still match.
    typed = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in record.id_number[:6])
    typed += " " + record.id_number[6:].lower()
    r = student.form_post("/identity/", realname_data(record, real_name=" 阿依・古丽 ", id_number=typed))
    assert r.status_code == 303 and r.headers["Location"] == "/record"
    linked = models.Record.get_by_id(record.id)
    assert linked.account.email == "student@example.edu" and linked.status == "pending"
    html = student.get("/record").get_data(as_text=True)
    assert idcard.mask(record.id_number) in html and record.id_number not in html
    assert "阿依·古丽" in html and "Software" not in html and "软件工程" in html
    assert f"/photo/{linked.photo_id}/webp" in html and 'width="240" height="320"' in html


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"id_number": "110101200001011234"}, "id_number", "check digit"),
        ({"birth_date": "2001-01-01"}, "birth_date", "birth date does not match"),
        ({"gender": "F"}, "gender", "gender does not match"),
        ({"city": "440100"}, "city", "city of the chosen province"),
        ({"nickname": "x" * 51}, "nickname", "At most 50"),
        ({"birth_date": "03/02/2003"}, "birth_date", "as YYYY-MM-DD"),
        # An impossible date has its own message, not the one for an empty field.
        ({"birth_date": "2004-13-40"}, "birth_date", "There is no such date"),
        ({"birth_date": ""}, "birth_date", "Please enter your birth date like 1985-02-03"),
        # No default gender: left unchosen, it is an error, never a silent 男.
        ({"gender": ""}, "gender", "required"),
        ({"real_name": ""}, "real_name", "required"),
    ],
)
def test_realname_rejects_bad_input(student, db, overrides, field, message):
    record = make_record()
    r = student.form_post("/identity/", realname_data(record, **overrides))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and message in html, html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', html)
    assert models.User.get().realname_at is None


def test_id_type_and_number_are_fixed_after_registration(student, db):
    record = make_record()
    student.form_post("/identity/", realname_data(record))
    r = student.form_post(
        "/identity/",
        realname_data(record, id_number=idcard.generate_resident(__import__("random").Random(1))),
        page="/record",
    )
    assert r.status_code == 303 and r.headers["Location"] == "/record"
    assert models.User.get().id_number == record.id_number


def test_no_match_explains_causes(student, db):
    record = make_record(name="李四")
    r = student.form_post("/identity/", realname_data(record, real_name="李斯"))
    assert r.headers["Location"] == "/identity/status"
    html = student.get("/identity/status").get_data(as_text=True)
    assert "was not found" in html and "differs from the registry" in html
    assert models.Record.get_by_id(record.id).account is None


def test_id_already_registered_offers_recovery(app, student, db):
    record = make_record()
    holder = with_realname(make_user("first@example.edu"), record)
    from services import matching

    matching.link(holder)
    r = student.form_post("/identity/", realname_data(record))
    assert r.headers["Location"] == "/identity/status"
    html = student.get("/identity/status").get_data(as_text=True)
    assert "already registered" in html and "/forgot-username" in html
    assert models.Record.get_by_id(record.id).account_id == holder.id


def test_city_fragment_for_province(student):
    r = student.get("/identity/cities?province=440000", headers={"HX-Request": "true"})
    html = r.get_data(as_text=True)
    assert "<html" not in html and "广州市" in html and "大连市" not in html


def linked_student(app, en, status="pending", photo=True, **record_fields):
    user = make_user()
    record = make_record(**record_fields)
    if photo:
        make_photo(app, record)
    with_realname(user, record)
    from services import matching

    matching.link(user)
    sign_in(en)
    return models.Record.get_by_id(record.id)


def confirm(client):
    html = client.get("/record").get_data(as_text=True)
    shown = re.search(
        r'name="shown" type="hidden" value="([0-9a-f]+)"|id="shown" name="shown" type="hidden" value="([0-9a-f]+)"',
        html,
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    value = shown.group(1) or shown.group(2) if shown else ""
    return client.post("/record/confirm", data={"csrf_token": token, "shown": value})


def test_confirm_is_idempotent_and_fingerprinted(app, en, db):
    record = linked_student(app, en)
    r1, r2 = confirm(en), None
    assert r1.status_code == 303
    html = en.get("/record").get_data(as_text=True)
    assert "Confirmed on" in html and ">Correct<" not in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r2 = en.post("/record/confirm", data={"csrf_token": token, "shown": records.fingerprint(record)})
    assert r2.status_code == 303
    assert models.Confirmation.select().count() == 1
    c = models.Confirmation.get()
    assert c.fingerprint == records.fingerprint(models.Record.get_by_id(record.id)) and c.ip
    assert models.Record.get_by_id(record.id).status == "confirmed"
    assert models.AuditEvent.select().where(models.AuditEvent.to_status == "confirmed").count() == 1


def test_second_tap_is_answered_while_another_writer_holds_the_database(app, en, db):
    """A double tap changes nothing, so it must not queue for the write lock:
    with another process's transaction holding SQLite's one write lock, the
    second tap still answers at once (it used to wait up to the 5 s busy
    timeout, and under load queued behind other taps' empty transactions)."""
    record = linked_student(app, en)
    assert confirm(en).status_code == 303
    html = en.get("/record").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    shown = records.fingerprint(models.Record.get_by_id(record.id))
    if isinstance(models.db.obj, peewee.SqliteDatabase):
        other = sqlite3.connect(models.db.obj.database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
    else:
        other = None
    try:
        started = time.monotonic()
        again = en.post("/record/confirm", data={"csrf_token": token, "shown": shown})
        took = time.monotonic() - started
    finally:
        if other is not None:
            other.execute("ROLLBACK")
            other.close()
    assert again.status_code == 303 and took < 2
    assert "Confirmed on" in en.get("/record").get_data(as_text=True)
    assert models.Confirmation.select().count() == 1


def test_change_after_confirm_voids_and_mails(app, en, smtp, db):
    record = linked_student(app, en)
    confirm(en)
    smtp.clear()
    with app.test_request_context(base_url="http://localhost"):
        from blueprints.web import external_url

        with models.db.atomic():
            records.apply_changes(
                models.Record.get_by_id(record.id),
                {"major": "计算机科学与技术"},
                reason="test",
                link=external_url,
            )
        from services import mail

        mail.deliver_pending()
    after = models.Record.get_by_id(record.id)
    assert after.status == "pending"
    assert models.Confirmation.get().void_at is not None
    msg = smtp.wait(1)[0]
    assert "http://localhost/record" in text_of(msg)
    assert ">Correct<" in en.get("/record").get_data(as_text=True)


def test_page_changed_since_shown_is_not_confirmed(app, en, db):
    record = linked_student(app, en)
    html = en.get("/record").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    stale = records.fingerprint(record)
    models.Record.update(major="新专业").where(models.Record.id == record.id).execute()
    r = en.post("/record/confirm", data={"csrf_token": token, "shown": stale})
    assert r.status_code == 409 and "changed while the page was open" in r.get_data(as_text=True)
    assert models.Confirmation.select().count() == 0


def test_no_photo_cannot_confirm(app, en, db):
    linked_student(app, en, photo=False)
    html = en.get("/record").get_data(as_text=True)
    assert "no graduation photo" in html and ">Correct<" not in html
    assert confirm(en).status_code == 409
    assert models.Confirmation.select().count() == 0


def test_deadline_and_recheck_window(app, en, db):
    cohort = make_cohort(deadline_in_days=-1, recheck_in_days=0)
    record = linked_student(app, en, cohort=cohort)
    html = en.get("/record").get_data(as_text=True)
    # Not corrected: nothing to do online in the re-check window.
    assert "can no longer be confirmed online" in html and ">Correct<" not in html
    assert confirm(en).status_code == 409
    models.Record.update(status="corrected").where(models.Record.id == record.id).execute()
    html = en.get("/record").get_data(as_text=True)
    assert ">Correct<" in html and f"confirm between {cohort.recheck_start} and {cohort.recheck_end}" in html
    assert confirm(en).status_code == 303
    models.Cohort.update(
        recheck_start=datetime.date(2000, 1, 1), recheck_end=datetime.date(2000, 1, 2)
    ).execute()
    models.Record.update(status="pending").where(models.Record.id == record.id).execute()
    models.Confirmation.delete().execute()
    html = en.get("/record").get_data(as_text=True)
    assert "can no longer be confirmed online" in html and ">Correct<" not in html


def test_photo_only_for_owner(app, en, db):
    record = linked_student(app, en)
    r = en.get(f"/photo/{record.photo_id}/webp")
    assert r.status_code == 200 and r.mimetype == "image/webp" and len(r.data) <= 12_000
    assert r.headers["Cache-Control"].startswith("private")
    other_record = make_record(name="王五")
    other = make_photo(app, other_record, seed=9)
    assert en.get(f"/photo/{other.id}/webp").status_code == 404
    assert en.get(f"/photo/{record.photo_id}/nope").status_code == 404
    anonymous = app.test_client()
    assert anonymous.get(f"/photo/{record.photo_id}/webp").status_code == 302


def test_forgot_username_mails_only_the_owner(app, en, smtp, db):
    record = make_record(name="赵六")
    with_realname(make_user("owner@example.edu"), record)
    r = en.form_post(
        "/forgot-username", {"real_name": "赵六", "id_type": "resident", "id_number": record.id_number}
    )
    same = en.form_post(
        "/forgot-username", {"real_name": "赵七", "id_type": "resident", "id_number": record.id_number}
    )
    strip = lambda h: re.sub(r'(value|"X-CSRFToken": )"[^"]+"', "", h)  # noqa: E731
    assert strip(r.get_data(as_text=True)) == strip(same.get_data(as_text=True))
    mails = smtp.wait(1)
    assert len(mails) == 1 and "owner@example.edu" in text_of(mails[0])
    assert "owner@example.edu" not in r.get_data(as_text=True)


def test_record_page_and_photo_fit_the_phone_budget(app, en, db):
    """After the first visit (CSS/JS cached), HTML + photo ≤ 20 KB compressed; photo ≤ 12 KB."""
    import brotli

    record = linked_student(app, en)
    page = en.get("/record", headers={"Accept-Encoding": "br, gzip"})
    assert page.headers["Content-Encoding"] == "br"
    head = len(f"HTTP/1.1 {page.status}\r\n") + sum(len(f"{k}: {v}\r\n") for k, v in page.headers.items())
    html_bytes = head + len(page.data)
    assert record.photo_id and b"<html" in brotli.decompress(page.data)
    photo = en.get(f"/photo/{record.photo_id}/webp")
    photo_bytes = len(photo.data) + sum(len(f"{k}: {v}\r\n") for k, v in photo.headers.items())
    print(f"record page {html_bytes} B + photo {photo_bytes} B = {html_bytes + photo_bytes} B")
    assert len(photo.data) <= 12_000
    assert html_bytes + photo_bytes <= 20 * 1024
