"""Problem paths in Chromium: a correction filed by the student, opened and
accepted inline by staff, then confirmed in the re-check window; an ID change
request with two large camera pictures.

The English UI (context locale "en"): the Chinese catalog does not yet hold
the new strings of these pages. Synthetic people only.
"""

import datetime
import os
import random
import re

import pytest
from playwright.sync_api import expect

import models
from services import idcard, idimages, matching
from tests import imagegen
from tests.e2e.phone import log_in
from tests.factories import (
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    with_realname,
)


@pytest.fixture
def data():
    """Direct database access from the test thread (the live server has its own)."""
    yield models
    if not models.db.is_closed():
        models.db.close()


def test_correction_accepted_inline_then_confirmed(live_server, new_page, data, smtp):
    app = live_server.app
    college = make_college()
    cohort = make_cohort()
    student = make_user("li.ming@example.edu", locale="en")
    record = make_record(college=college, cohort=cohort, name="李明")
    make_photo(app, record, seed=21)
    with_realname(student, record)
    matching.link(student)
    make_user("office@example.edu", role="staff", college=college, locale="en")

    # The student reports a wrong major.
    page = new_page(locale="en")
    log_in(page, live_server, student.email)
    page.goto(live_server.url("/record"))
    page.get_by_role("button", name="Something is wrong").click()
    expect(page).to_have_url(re.compile(r"/record/correction"))
    major = page.get_by_role("group", name="Major")
    # The input for the right value appears once the box is ticked.
    expect(major.get_by_role("textbox")).to_be_hidden()
    major.get_by_role("checkbox", name="Wrong").check()
    page.get_by_role("textbox", name="Correct Major").fill("人工智能")
    page.get_by_role("button", name="Send the correction").click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    expect(page.locator("#flash")).to_contain_text("Your correction was sent")
    expect(page.locator("main")).to_contain_text("人工智能")

    # Staff open the item inline (no page load) and accept it in place.
    office = new_page(locale="en")
    log_in(office, live_server, "office@example.edu")
    office.goto(live_server.url("/staff/queues/correction"))
    office.evaluate("window.__e2eMarker = 'still here'")
    item = office.locator(".item").filter(has_text=student.email)
    expect(office.locator("nav.tabs [aria-current]")).to_contain_text("1 open")
    item.get_by_role("link", name="Open").click()
    expect(item.locator(".detail")).to_contain_text("What the student says is wrong")
    expect(item.locator(".detail")).to_contain_text(record.id_number)  # in full, for staff
    expect(item.get_by_role("img", name="Current photo")).to_be_visible()
    item.get_by_role("button", name="Accept").click()
    expect(item).to_contain_text("Accepted.")
    expect(item.get_by_role("button", name="Accept")).to_have_count(0)
    assert office.evaluate("window.__e2eMarker") == "still here", "the queue page was reloaded"
    expect(office).to_have_url(re.compile(r"/staff/queues/correction$"))

    # Time passes: the deadline is over, the re-check window is today.
    today = cohort.local_today()
    models.Cohort.update(
        confirm_deadline=today - datetime.timedelta(days=1),
        recheck_start=today,
        recheck_end=today + datetime.timedelta(days=1),
    ).where(models.Cohort.id == cohort.id).execute()

    page.goto(live_server.url("/record"))
    expect(page.locator("#next")).to_contain_text("Your record was corrected")
    expect(page.locator("#next")).to_contain_text(f"between {today} and {today + datetime.timedelta(days=1)}")
    expect(page.locator("main")).to_contain_text("人工智能")
    page.get_by_role("button", name="Correct", exact=True).click()
    expect(page.locator("main")).to_contain_text("Confirmed on")
    assert models.Record.get_by_id(record.id).status == "confirmed"


def test_id_change_request_with_two_camera_pictures(live_server, new_page, data, tmp_path):
    app = live_server.app
    make_college()
    make_cohort()
    record = make_record(name="王芳", gender="F")
    student = with_realname(make_user("wang.fang@example.edu", locale="en"), record)
    student.id_number = idcard.generate_resident(random.Random(8), birth=record.birth_date, gender="F")
    student.save()
    assert matching.link(student) is None
    front, back = tmp_path / "front.jpg", tmp_path / "back.jpg"
    front.write_bytes(imagegen.big_camera_jpeg(3000, 2000, seed=1))
    back.write_bytes(imagegen.big_camera_jpeg(3000, 2000, seed=2))
    assert os.path.getsize(front) > 1_000_000

    page = new_page(locale="en")
    log_in(page, live_server, student.email)
    page.goto(live_server.url("/identity/id-change"))
    page.get_by_label("Correct ID number").fill(record.id_number)
    page.get_by_label("ID card, front (or one picture of both sides)").set_input_files(str(front))
    page.get_by_label("ID card, back").set_input_files(str(back))
    page.get_by_label("Contact phone").fill("13812345678")
    page.get_by_role("button", name="Send the request").click()
    expect(page).to_have_url(re.compile(r"/requests$"), timeout=15_000)
    expect(page.locator("main")).to_contain_text("ID change request")
    expect(page.locator("main")).to_contain_text("Waiting for the college")

    request = models.Request.get(models.Request.user == student.id)
    assert (request.kind, request.id_number, request.college_id) == (
        "id_change",
        record.id_number,
        record.college_id,
    )
    with app.app_context():
        size = os.path.getsize(idimages.path(request.image_key))
    assert 0 < size <= 1_000_000
