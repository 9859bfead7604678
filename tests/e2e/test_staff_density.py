"""The records table at 1366×768 (an office PC): one line per row, 100 rows
a page, 14 whole rows on the screen under the one-line header. The page
draws its first 20 rows; the other 80 come when the table scrolls near them
(htmx), or through a plain link without JavaScript.

15 cannot fit without shrinking the 40×53 thumbnail: 15 × 53 px = 795 px
is more than the window's 768 px, even with no header at all."""

import re

from playwright.sync_api import expect

import models
from tests.e2e.test_problem_paths import log_in
from tests.factories import make_cohort, make_college, make_photo, make_record, make_user

VISIBLE_ROWS = """() => {
  const rows = [...document.querySelectorAll('#results tr[id^=rec-]')];
  const inside = rows.filter(r => { const b = r.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; });
  const head = document.querySelector('#results thead').getBoundingClientRect().height;
  const clipped = [...document.querySelectorAll('#results thead th')].filter(th => th.scrollWidth > th.clientWidth + 1).map(th => th.textContent);
  return {clipped: clipped, visible: inside.length, height: rows[0].getBoundingClientRect().height, head: head, total: rows.length};
}"""


def office_world(live_server):
    college = make_college()
    make_cohort()
    make_user("office@example.edu", role="staff", college=college, locale="en")
    photo = None
    for i in range(120):
        record = make_record(
            college=college, name=f"学生{i:03d}", student_no=f"2023{i:06d}", status="pending"
        )
        if photo is None:
            photo = make_photo(live_server.app, record, seed=70)
        else:
            models.Record.update(photo=None).where(models.Record.id == record.id).execute()
    models.db.close()


def office_records(live_server, new_page, path="/staff/records", **options):
    """The office's records table at 1366×768, logged in; (page, its row locator)."""
    office_world(live_server)
    page = new_page(locale="en", viewport={"width": 1366, "height": 768}, **options)
    log_in(page, live_server, "office@example.edu")
    page.goto(live_server.url(path))
    return page, page.locator("#results tr[id^=rec-]")


def test_fifteen_compact_rows_fit_an_office_screen(live_server, new_page):
    page, rows = office_records(live_server, new_page)
    expect(rows).to_have_count(20)  # the first screen and more; the rest waits
    page.wait_for_timeout(300)
    expect(rows).to_have_count(20)
    # Scrolled to the table: the rows that fit the 768 px window.
    page.locator("#results table thead").evaluate("e => e.scrollIntoView()")
    measured = page.evaluate(VISIBLE_ROWS)
    print("rows", measured)
    # One line: the 53 px thumbnail sets the height (the first row also holds
    # half of the header's 1 px border line).
    assert measured["height"] <= 53.5, measured
    assert measured["head"] <= 26 and not measured["clipped"], measured  # one header line, nothing cut
    assert measured["visible"] >= 14, measured
    row = page.locator("#results tr[id^=rec-]").first
    assert re.search(r"/photo/\d+/mini", row.inner_html())

    # Scrolling on fetches the page's other 80 rows, in place and in order.
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(rows).to_have_count(100)
    expect(page.locator("#results tbody.later")).to_have_count(0)
    numbers = page.locator("#results tr[id^=rec-] td:nth-child(4)").all_inner_texts()
    assert numbers == sorted(numbers) and len(set(numbers)) == 100
    # A fetched row works as a first one: its status changes inline.
    last = rows.last
    last.get_by_role("combobox").select_option("confirmed_offline")
    last.get_by_label("Reason").fill("signed the paper list")
    last.get_by_role("button", name="Set").click()
    expect(last.locator(".st")).to_have_text("Confirmed offline")


def test_every_row_of_a_page_without_javascript(live_server, new_page):
    page, rows = office_records(
        live_server, new_page, "/staff/records?sort=student_no", java_script_enabled=False
    )
    expect(rows).to_have_count(20)
    page.get_by_role("link", name="Show the other 80 records of this page").click()
    expect(rows).to_have_count(100)
    numbers = page.locator("#results tr[id^=rec-] td:nth-child(4)").all_inner_texts()
    assert numbers == [f"2023{i:06d}" for i in range(100)]


def test_keyboard_focus_goes_on_to_the_fetched_rows(live_server, new_page):
    page, rows = office_records(live_server, new_page)
    expect(rows).to_have_count(20)
    # Tabbing onto the placeholder's link scrolls it into view: the rows come
    # and the focus moves to the first of them instead of being lost.
    page.locator("#results tbody.later a").focus()
    expect(rows).to_have_count(100)
    expect(rows.nth(20).get_by_role("checkbox")).to_be_focused()
