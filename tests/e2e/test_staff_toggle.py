"""The staff records table in Chromium: log in, find a student by name with
the active search, set the status inline; nothing reloads the page."""

import re

from playwright.sync_api import expect

import models
from tests.factories import PASSWORD, make_cohort, make_college, make_record, make_user

MARKER = "window.__staffMarker"


def test_search_and_toggle_inline(live_server, new_page):
    cs = make_college()
    make_cohort()
    make_user("staff@example.edu", role="staff", college=cs)
    zhang = make_record(college=cs, name="张伟", status="pending", student_no="2023000001")
    make_record(college=cs, name="王芳", status="pending", student_no="2023000002")
    models.db.close()  # the server thread opens its own connection

    page = new_page(locale="en-US")
    page.goto(live_server.url("/login"))
    page.locator("input[name=email]").fill("staff@example.edu")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    page.locator("nav.sub").get_by_role("link", name="Records").click()
    expect(page).to_have_url(re.compile(r"/staff/records$"))
    expect(page.locator("#results tbody tr")).to_have_count(2)

    page.evaluate(f"{MARKER} = 'still here'")
    page.get_by_role("searchbox").press_sequentially("张伟", delay=50)
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("张伟")
    expect(page).to_have_url(re.compile(r"/staff/records\?q=%E5%BC%A0%E4%BC%9F$"))

    row = page.locator(f"#rec-{zhang.id}")
    control = row.get_by_label("Status of 张伟")
    expect(control).to_have_value("pending")  # starts on the current status
    control.select_option("confirmed_offline")
    row.get_by_label("Reason").fill("signed the paper list")
    row.get_by_role("button", name="Set").click()
    updated = page.locator(f"#rec-{zhang.id}")

    expect(updated.locator(".st")).to_have_text("Confirmed offline")
    expect(updated.get_by_label("Status of 张伟")).to_have_value("confirmed_offline")
    # The focus stays on the row's status control after the swap.
    expect(updated.get_by_label("Status of 张伟")).to_be_focused()
    assert page.evaluate(MARKER) == "still here", "the page was reloaded"

    # Leaving a confirmation asks first (hx-confirm); dismissing changes nothing.
    messages = []
    page.once("dialog", lambda dialog: (messages.append(dialog.message), dialog.dismiss()))
    updated.get_by_label("Status of 张伟").select_option("pending")
    updated.get_by_role("button", name="Set").click()
    page.wait_for_timeout(300)
    assert messages and "must then check again" in messages[0]
    assert models.Record.get_by_id(zhang.id).status == "confirmed_offline"
    models.db.close()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#rec-{zhang.id}").get_by_role("button", name="Set").click()
    expect(page.locator(f"#rec-{zhang.id} .st")).to_have_text("Pending")

    record = models.Record.get_by_id(zhang.id)
    assert record.status == "pending" and record.changed_by.email == "staff@example.edu"
    models.db.close()


def test_detail_and_bulk_reminder_without_reload(live_server, new_page, smtp):
    cs = make_college()
    make_cohort()
    make_user("staff@example.edu", role="staff", college=cs)
    student = make_user("li@example.edu")
    li = make_record(college=cs, name="李华", status="pending", account=student, student_no="2023000003")
    make_record(college=cs, name="王芳", status="confirmed", student_no="2023000004")
    models.db.close()

    page = new_page(locale="en-US")
    page.goto(live_server.url("/login?next=/staff/records"))
    page.locator("input[name=email]").fill("staff@example.edu")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/staff/records$"))
    page.evaluate(f"{MARKER} = 'still here'")

    page.locator(f"#rec-{li.id}").get_by_role("link", name="李华").click()
    detail = page.locator("tr.detail")
    expect(detail).to_contain_text(li.id_number)  # the full number, for staff
    detail.get_by_role("link", name="Close").click()
    expect(page.locator("tr.detail")).to_have_count(0)

    page.locator(f"#rec-{li.id}").get_by_role("checkbox").check()
    page.get_by_label("With the selected records").select_option("remind")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#flash")).to_contain_text("Reminders sent: 1.")
    assert smtp.wait(1)[0]["To"] == "li@example.edu"
    assert page.evaluate(MARKER) == "still here", "the page was reloaded"
