"""The record page and the correction form on a 360×740 phone in Chinese
(issue 9): the decision on the first screen, a sharp photo that enlarges,
one field per block in the correction form, 44 px tap targets, exactly one
next step per record state, one persistent live region."""

import datetime
import random
import re

import pytest
from playwright.sync_api import expect

import models
from services import idcard, matching
from tests.e2e.phone import in_view, log_in, phone_page, small_targets
from tests.factories import make_cohort, make_college, make_photo, make_record, make_user, with_realname

EMAIL = "li.ming@example.edu"


@pytest.fixture
def data():
    yield models
    if not models.db.is_closed():
        models.db.close()


def student(app, photo=True, status=None, cohort=None, **record_fields):
    college = make_college()
    cohort = cohort or make_cohort()
    record = make_record(college=college, cohort=cohort, name="李明", **record_fields)
    if photo:
        make_photo(app, record, seed=21)
    user = with_realname(make_user(EMAIL), record)
    matching.link(user)
    if status:
        models.Record.update(status=status).where(models.Record.id == record.id).execute()
    return models.Record.get_by_id(record.id)


def test_decision_on_the_first_screen(live_server, new_page, data):
    record = student(live_server.app)
    page = phone_page(new_page)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record"))
    decision = page.locator(".decision")
    correct = page.get_by_role("button", name="正确", exact=True)
    wrong = page.get_by_role("button", name="有误", exact=True)
    for thing in (decision.locator("img.photo"), correct, wrong):
        assert in_view(page, thing), thing
    for text in ("李明", record.id_number[:4] + "**********" + record.id_number[-4:], record.student_no):
        expect(decision).to_contain_text(text)
        assert in_view(page, decision.get_by_text(text, exact=True))
    a, b = correct.bounding_box(), wrong.bounding_box()
    assert (round(a["width"]), round(a["height"])) == (round(b["width"]), round(b["height"]))
    assert a["height"] >= 44 and a["width"] >= 44
    # The rest of the record follows below.
    expect(page.locator("main")).to_contain_text("专业")


def test_photo_is_sharp_and_enlarges_to_full_width(live_server, new_page, data):
    student(live_server.app)
    page = phone_page(new_page)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record"))
    photo = page.locator(".decision img.photo")
    expect(photo).to_be_visible()
    page.wait_for_function("document.querySelector('.decision img.photo').complete")
    # A 2x screen gets the 480×640 file.
    # (naturalWidth is density-corrected: 480 px at 2x reads as 240.)
    assert photo.evaluate("img => img.currentSrc").endswith("/webp2x")
    page.locator("a.zoom").click()
    big = page.locator("dialog.zoomed img")
    expect(big).to_be_visible()
    assert round(big.bounding_box()["width"]) == 360
    page.keyboard.press("Escape")
    expect(page.locator("dialog.zoomed")).to_have_count(0)


def test_photo_on_a_1x_screen_stays_small(live_server, new_page, data):
    student(live_server.app)
    page = phone_page(new_page, device_scale_factor=1)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record"))
    page.wait_for_function("document.querySelector('.decision img.photo').complete")
    src = page.locator(".decision img.photo").evaluate("img => img.currentSrc")
    assert src.endswith("/webp"), src
    size = page.evaluate("(u) => fetch(u).then(r => r.arrayBuffer()).then(b => b.byteLength)", src)
    assert size <= 12_000


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_correction_form_one_field_per_block(live_server, new_page, data, javascript):
    record = student(live_server.app)
    page = phone_page(new_page, java_script_enabled=javascript)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record/correction"))
    blocks = page.locator("fieldset.fix")
    assert blocks.count() >= 5
    for box in (blocks.nth(i).bounding_box() for i in range(blocks.count())):
        assert box["width"] >= 300  # full width, not a table column
    name = page.get_by_role("group", name="姓名")
    # The label is one line, not broken into 姓 / 名.
    assert name.locator("legend").bounding_box()["height"] < 40
    number = page.get_by_role("group", name="证件号码")
    expect(number.get_by_role("textbox")).to_be_hidden()
    number.get_by_role("checkbox", name=re.compile("有误")).check()
    field = page.get_by_role("textbox", name="正确的证件号码")
    expect(field).to_be_visible()
    assert field.bounding_box()["width"] >= 280
    new_number = idcard.generate_resident(random.Random(99), birth=record.birth_date, gender=record.gender)
    field.fill(new_number)
    # An 18-digit number can be read back in full.
    assert field.evaluate("el => el.scrollWidth <= el.clientWidth")
    page.get_by_role("group", name="专业").get_by_role("checkbox", name=re.compile("有误")).check()
    page.get_by_role("textbox", name="正确的专业").fill("人工智能")
    page.get_by_role("button", name="提交更正").click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    assert models.Request.select().count() == 1


def test_every_tap_target_is_44_px(live_server, new_page, data, smtp):
    student(live_server.app)
    visitor = phone_page(new_page)
    for path in ("/login", "/register", "/forgot-password", "/forgot-username"):
        visitor.goto(live_server.url(path))
        assert small_targets(visitor) == [], path
    page = phone_page(new_page)
    log_in(page, live_server, EMAIL)
    for path in ("/record", "/record/correction", "/requests", "/account"):
        page.goto(live_server.url(path))
        assert small_targets(page) == [], path
    fresh = phone_page(new_page)
    make_user("fresh@example.edu")
    log_in(fresh, live_server, "fresh@example.edu")
    fresh.goto(live_server.url("/identity/"))
    assert small_targets(fresh) == [], "/identity/"


def test_confirm_announces_once_and_the_deadline_banner_goes(live_server, new_page, data):
    record = student(live_server.app)
    page = phone_page(new_page)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record"))
    deadline = record.cohort.confirm_deadline.isoformat()
    expect(page.locator("#next")).to_contain_text(f"请于{deadline}前完成校对和确认")
    page.evaluate("document.getElementById('flash').__same = true")
    page.get_by_role("button", name="正确", exact=True).click()
    flash = page.locator("#flash")
    expect(flash).to_contain_text("谢谢！您的学籍信息和图像信息已确认。")
    # The same live region element, filled out of band, so it is announced.
    assert page.evaluate("document.getElementById('flash').__same") is True
    expect(flash).to_have_attribute("aria-live", "polite")
    main = page.locator("main")
    expect(main).not_to_contain_text("完成校对和确认（还剩")
    # One date format: yyyy-mm-dd (hh:mm), never 2026/12/1.
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", main.inner_text())
    assert not re.search(r"\d{4}/\d{1,2}/\d{1,2}", page.locator("body").inner_text())
    expect(page.get_by_role("button", name="正确", exact=True)).to_have_count(0)


def today():
    return models.Cohort(timezone="Asia/Shanghai").local_today()


# state → (record status, photo, cohort offsets (deadline, recheck start), buttons, text)
STATES = {
    "pending": ("pending", True, (14, 21), ["正确", "有误"], "前完成校对和确认"),
    "pending-no-photo": ("pending", False, (14, 21), ["有误"], "暂无您的毕业照片"),
    "correction-requested": ("correction_requested", True, (14, 21), [], "学院正在处理您的勘误"),
    "corrected": ("corrected", True, (14, 21), ["正确", "有误"], "您的信息已更正。请于"),
    "corrected-in-recheck": ("corrected", True, (-1, 0), ["正确", "有误"], "期间重新校对并确认"),
    "corrected-before-recheck": ("corrected", True, (-1, 3), [], "期间重新校对并确认"),
    "corrected-no-photo": ("corrected", False, (14, 21), [], "暂时还没有您的照片"),
    "confirmed": ("confirmed", True, (14, 21), [], "无需"),
    "confirmed-offline-no-photo": ("confirmed_offline", False, (14, 21), [], "线下确认"),
    "pending-after-deadline": ("pending", True, (-1, 3), [], "无法再在网上确认"),
    "retake": ("pending", False, (14, 21), [], "参加照片采集"),
}


@pytest.mark.parametrize("state", list(STATES))
def test_each_state_has_exactly_one_next_step(live_server, new_page, data, state):
    status, photo, (deadline, recheck), buttons, text = STATES[state]
    cohort = make_cohort(deadline_in_days=deadline, recheck_in_days=recheck)
    record = student(live_server.app, photo=photo, cohort=cohort)
    if status == "confirmed":
        from services import records

        with live_server.app.test_request_context():
            records.confirm(record, record.account, ip="127.0.0.1")
    elif status != "pending":
        models.Record.update(status=status).where(models.Record.id == record.id).execute()
    if state == "retake":
        models.Record.update(retake_on=today() + datetime.timedelta(days=3), retake_place="图书馆一楼").where(
            models.Record.id == record.id
        ).execute()
    page = phone_page(new_page)
    log_in(page, live_server, EMAIL)
    page.goto(live_server.url("/record"))
    step = page.locator("#next")
    expect(step).to_contain_text(text)
    assert in_view(page, step)
    assert page.locator("main button").all_inner_texts() == buttons
    # No contradictions: never "you confirmed" with "press 有误", never "check
    # again and confirm" while there is no photo.
    body = page.locator("main").inner_text()
    if not photo:
        assert "重新校对并确认" not in body
    if status == "confirmed_offline":
        assert "您已于" not in body and "请点击“有误”" not in body
    # The next step names the same dates the decision mail would (one source).
    if status == "corrected" and photo:
        from services import records

        with live_server.app.test_request_context():
            window = records.confirm_window(models.Record.get_by_id(record.id))
        assert window[1].isoformat() in step.inner_text()
