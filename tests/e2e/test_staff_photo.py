"""Issue 10 in Chromium: a student without a photo reports it, staff (at
1366×768) upload one from the correction, the student sees it and confirms;
and the same with a retake request first, the photo uploaded later from the
records table. Synthetic people only; English UI."""

import datetime
import re

import pytest
from playwright.sync_api import expect

import models
from services import matching
from tests import imagegen
from tests.e2e.test_problem_paths import log_in
from tests.factories import make_cohort, make_college, make_record, make_user, with_realname

STAFF_VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture
def data():
    yield models
    if not models.db.is_closed():
        models.db.close()


def no_photo_student(email, name):
    college = make_college()
    make_cohort()
    student = make_user(email, locale="en")
    record = make_record(college=college, name=name)
    with_realname(student, record)
    matching.link(student)
    if not models.User.select().where(models.User.role == "staff").exists():
        make_user("office@example.edu", role="staff", college=college, locale="en")
    return student, models.Record.get_by_id(record.id)


def report_missing_photo(page, base):
    page.goto(base.url("/record"))
    expect(page.locator("main")).to_contain_text("There is no graduation photo for you yet")
    expect(page.get_by_role("button", name="Correct", exact=True)).to_have_count(0)
    page.get_by_role("button", name="Something is wrong").click()
    page.get_by_label("My photo is missing").check()
    page.get_by_role("button", name="Send the correction").click()
    expect(page).to_have_url(re.compile(r"/requests$"))


def upload_and_save(office, tmp_path, seed):
    """On the upload page: choose a camera file, check the preview, save."""
    picture = tmp_path / f"camera-{seed}.jpg"
    picture.write_bytes(imagegen.noisy_portrait(1200, 1000, seed=seed))
    office.get_by_label("Photo file (JPEG, PNG or WebP, from a camera or a scanner)").set_input_files(
        str(picture)
    )
    office.get_by_role("button", name="Upload and preview").click()
    expect(office.get_by_role("img", name="The cropped photo")).to_be_visible()
    # With JavaScript the crop frame is shown over the whole picture and can be dragged.
    frame = office.locator("[data-crop] .frame")
    expect(frame).to_be_visible()
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    office.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    office.mouse.down()
    office.mouse.move(box["x"] + box["width"] / 2 + 40, box["y"] + box["height"] / 2, steps=4)
    office.mouse.up()
    expect(office.locator("#crop-form input[name=x]")).not_to_have_value(re.compile(r"^0\.5(00)?$"))
    office.get_by_role("button", name=re.compile(r"^Save the photo")).click()
    expect(office.locator("#flash")).to_contain_text("The photo is saved")


def confirm_with_the_new_photo(page, base, record):
    page.goto(base.url("/record"))
    photo_id = models.Record.get_by_id(record.id).photo_id
    assert photo_id is not None
    expect(page.get_by_role("img", name="Your graduation photo", exact=True)).to_be_visible()
    assert f"/photo/{photo_id}/" in page.content()
    page.get_by_role("button", name="Correct", exact=True).click()
    expect(page.locator("main")).to_contain_text("Confirmed on")
    assert models.Record.get_by_id(record.id).status == "confirmed"


def test_missing_photo_reported_uploaded_by_staff_then_confirmed(live_server, new_page, data, smtp, tmp_path):
    student, record = no_photo_student("no.photo@example.edu", "赵敏")
    page = new_page(locale="en")
    log_in(page, live_server, student.email)
    report_missing_photo(page, live_server)

    office = new_page(locale="en", viewport=STAFF_VIEWPORT)
    log_in(office, live_server, "office@example.edu")
    office.goto(live_server.url("/staff/queues/correction"))
    item = office.locator(".item").filter(has_text=student.email)
    item.get_by_role("link", name=re.compile("Open")).click()
    expect(item.locator(".detail")).to_contain_text("The record has no photo.")
    item.get_by_role("link", name="Upload a new photo or ask for a retake").click()
    expect(office.locator("h1")).to_contain_text("Photo of 赵敏")
    upload_and_save(office, tmp_path, seed=51)
    expect(office).to_have_url(re.compile(r"/staff/queues/correction$"))
    assert models.Request.get(models.Request.user == student.id).status == "accepted"

    confirm_with_the_new_photo(page, live_server, record)


def test_retake_request_then_later_upload_then_confirmed(live_server, new_page, data, smtp, tmp_path):
    student, record = no_photo_student("retake@example.edu", "周芷若")
    page = new_page(locale="en")
    log_in(page, live_server, student.email)
    report_missing_photo(page, live_server)

    office = new_page(locale="en", viewport=STAFF_VIEWPORT)
    log_in(office, live_server, "office@example.edu")
    office.goto(live_server.url("/staff/queues/correction"))
    item = office.locator(".item").filter(has_text=student.email)
    item.get_by_role("link", name=re.compile("Open")).click()
    item.get_by_role("link", name="Upload a new photo or ask for a retake").click()
    day = (datetime.date.today() + datetime.timedelta(days=2)).isoformat()
    office.get_by_label("Date of the photo session").fill(day)
    office.get_by_label("Place").fill("Main building, room 101")
    office.get_by_role("button", name="Ask for a retake").click()
    expect(office.locator("#flash")).to_contain_text("asked to come to the photo session")

    # The student sees the retake as the next step and cannot confirm yet.
    page.goto(live_server.url("/record"))
    expect(page.locator("#next")).to_contain_text(
        f"Photo needed: come to the photo session on {day} at Main building, room 101"
    )
    expect(page.get_by_role("button", name="Correct", exact=True)).to_have_count(0)

    # Days later: the photo is taken and uploaded from the records table.
    office.goto(live_server.url("/staff/records"))
    office.get_by_role("link", name="周芷若").click()
    office.get_by_role("link", name="Upload a photo or ask for a retake").click()
    upload_and_save(office, tmp_path, seed=52)
    assert models.Record.get_by_id(record.id).retake_on is None

    confirm_with_the_new_photo(page, live_server, record)
