"""The whole student path in Chromium: register → activate → real-name
registration → check the record and photo → confirm ("正确").

In English (the context's locale) so the assertions read as the source
strings; the Chinese UI of the first steps is covered by
test_account_journey.py.
"""

import datetime
import re

from playwright.sync_api import expect

import models
from tests.factories import make_photo, make_record

EMAIL = "zhou.xue@example.edu"
PASSWORD = "snow over the lake 2004"


def test_register_activate_realname_check_confirm(live_server, new_page, smtp, newest_link):
    record = make_record(name="周雪", gender="F", birth=datetime.date(2004, 1, 9))
    make_photo(live_server.app, record)
    page = new_page(locale="en-US")

    page.goto(live_server.url("/register"))
    page.get_by_label("E-mail (username)").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_label("I have read and accept the terms of service").check()
    page.get_by_role("button", name="Register", exact=True).click()
    expect(page).to_have_url(re.compile(r"/register/sent$"))

    page.goto(newest_link(smtp, "/activate/"))
    page.get_by_role("button", name="Activate my account").click()
    # Activation logs in and leads straight to real-name registration.
    expect(page).to_have_url(re.compile(r"/identity/$"))

    page.get_by_label("Name", exact=True).fill("周雪")
    page.get_by_label("Gender").select_option("F")
    page.get_by_label("ID type").select_option("resident")
    # Typed with a lower-case x and spaces, as phones do; the server normalises.
    page.get_by_label("ID number").fill(record.id_number[:6] + " " + record.id_number[6:].lower())
    page.get_by_label("Birth date").fill("2004-01-09")
    page.get_by_label("Province").select_option("210000")
    # htmx swaps in the cities of the chosen province.
    expect(page.get_by_label("City").locator("option", has_text="大连市")).to_have_count(1)
    # Without JS the list holds every city in groups; wait for the swapped-in list.
    expect(page.get_by_label("City").locator("optgroup")).to_have_count(0)
    page.get_by_label("City").select_option("210200")
    page.get_by_role("button", name="Submit").click()

    expect(page).to_have_url(re.compile(r"/record$"))
    main = page.locator("main")
    expect(main).to_contain_text("周雪")
    expect(main).to_contain_text(record.id_number[:4] + "**********" + record.id_number[-4:])
    expect(main).not_to_contain_text(record.id_number)
    photo = page.get_by_role("img", name="Your graduation photo", exact=True)
    expect(photo).to_be_visible()
    assert page.evaluate("document.querySelector('img.photo').naturalWidth") == 240

    page.get_by_role("button", name="Correct", exact=True).click()
    expect(main).to_contain_text("Confirmed on")
    expect(page.get_by_role("button", name="Correct", exact=True)).to_have_count(0)
    linked = models.Record.get_by_id(record.id)
    assert linked.status == "confirmed" and linked.account.email == EMAIL
    assert models.Confirmation.select().where(models.Confirmation.record == record).count() == 1
