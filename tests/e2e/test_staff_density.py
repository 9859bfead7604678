"""The records table at 1366×768 (an office PC): one line per row, 100 rows
a page, 14 whole rows on the screen under the one-line header.

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


def test_fifteen_compact_rows_fit_an_office_screen(live_server, new_page):
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

    page = new_page(locale="en", viewport={"width": 1366, "height": 768})
    log_in(page, live_server, "office@example.edu")
    page.goto(live_server.url("/staff/records"))
    expect(page.locator("#results tr[id^=rec-]")).to_have_count(100)
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
