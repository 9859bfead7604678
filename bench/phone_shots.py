"""Screenshots at 360×740 (zh-CN) of a demo install: the real-name form sent
without a city, the record page and the correction form, plus a few
positions measured in the page. Not a test; see reports/phone-360/.

    .venv/bin/python bench/phone_shots.py http://127.0.0.1:5000 after reports/phone-360

Needs a server with the small demo data (`flask seed-demo --size small`):
student01 has no real-name data yet, student02 a pending record."""

import os
import sys

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.chromium import CHROMIUM, FLAGS  # noqa: E402

base, tag, out = sys.argv[1], sys.argv[2], sys.argv[3]
facts = {}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)

    def page_for():
        ctx = browser.new_context(
            viewport={"width": 360, "height": 740}, device_scale_factor=1, locale="zh-CN"
        )
        return ctx.new_page()

    def login(page, who):
        page.goto(base + "/login")
        page.get_by_label("密码", exact=True).fill("Photo-Check-2026")
        page.locator("input[name=email]").fill(who)
        page.get_by_role("button", name="登录", exact=True).click()
        page.wait_for_url(lambda u: "/login" not in u, timeout=60000)
        page.wait_for_load_state("networkidle")

    page = page_for()
    login(page, "student01@demo.example.edu")
    page.goto(base + "/identity/")
    facts["realname_url"] = page.url

    page.wait_for_load_state("networkidle")
    page.locator("input[name=real_name]").fill("江飞")
    try:
        page.locator("select[name=gender]").select_option("M")
    except Exception:
        page.locator("input[name=gender][value=M]").check()
    page.locator("input[name=id_number]").fill("419001200408039775")
    page.locator("input[name=birth_date]").fill("2004-08-03")
    page.locator("select[name=province]").select_option(label="河南省")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_timeout(3000)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)
    facts["realname_scrollY"] = page.evaluate("scrollY")
    facts["realname_focus"] = page.evaluate(
        "document.activeElement.tagName + '.' + document.activeElement.className"
    )
    facts["realname_first_error_y"] = page.evaluate(
        "(() => { const e = document.querySelector('.error-summary, .err, .error, [role=alert]'); return e ? Math.round(e.getBoundingClientRect().top + scrollY) : null })()"
    )
    page.screenshot(path=f"{out}/{tag}-realname-error.jpg", type="jpeg", quality=70)
    page2 = page_for()
    login(page2, "student02@demo.example.edu")
    page2.goto(base + "/record")
    page2.wait_for_load_state("networkidle")
    facts["record_correct_y"] = page2.evaluate(
        "(() => { const b = [...document.querySelectorAll('button')].find(b => b.textContent.trim() === '正确'); return b ? Math.round(b.getBoundingClientRect().top) : null })()"
    )
    page2.screenshot(path=f"{out}/{tag}-record.jpg", type="jpeg", quality=70)
    page2.goto(base + "/record/correction")
    page2.wait_for_load_state("networkidle")
    facts["correction_input_widths"] = page2.evaluate(
        "[...document.querySelectorAll('main input[type=text], main input:not([type])')].slice(0,3).map(i => Math.round(i.getBoundingClientRect().width))"
    )
    page2.screenshot(path=f"{out}/{tag}-correction.jpg", type="jpeg", quality=70)
    browser.close()
print(tag, facts)
