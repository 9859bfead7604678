"""Helpers for the 360×740 phone tests (Chinese UI): a phone-sized page,
logging in, a throttled link, tap-target measurement and the tap → in-flight
timer."""

import re

from playwright.sync_api import expect

from tests.factories import PASSWORD

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "locale": "zh-CN"}

# Every element a finger can hit on a student page.
INTERACTIVE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex='-1'])"
)

MEASURE_TARGETS = """(selector) => [...document.querySelectorAll(selector)]
  .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== "hidden")
  .map((el) => { const r = el.getBoundingClientRect();
    return {what: el.outerHTML.slice(0, 90), width: r.width, height: r.height}; })"""

# Records when a tap happened and when the first in-flight sign appeared.
TAP_TIMER = """() => {
  window.__tap = null; window.__busy = null;
  // On window, capturing: before the page's own capturing listener on the
  // document (static/js/app.js) marks the tap in flight, so the first class
  // change after the tap is the one measured, not a later one of htmx's.
  window.addEventListener("click", () => { window.__tap = performance.now(); }, true);
  new MutationObserver(() => {
    if (window.__tap !== null && window.__busy === null && document.querySelector(".htmx-request")) {
      window.__busy = performance.now();
    }
  }).observe(document.documentElement, {subtree: true, attributes: true, attributeFilter: ["class"]});
  // Whether the submit button is disabled while the request runs.
  document.addEventListener("htmx:before:request", (e) => {
    const submit = e.target.querySelector && e.target.querySelector("[type=submit]");
    window.__disabled = submit ? submit.disabled : null;
  });
}"""


def phone_page(new_page, **options):
    return new_page(**dict(PHONE, **options))


def log_in(page, base, email, password=PASSWORD):
    page.goto(base.url("/login"))
    page.get_by_label("用户名（邮箱）").fill(email)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def slow_link(page):
    """400 ms round trip, 400 kbit/s each way (the issue's profile)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    kbit400 = 400 * 1000 / 8
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 400, "downloadThroughput": kbit400, "uploadThroughput": kbit400},
    )
    return cdp


def small_targets(page):
    """Interactive elements under 44×44 CSS px on the current page."""
    found = page.evaluate(MEASURE_TARGETS, INTERACTIVE)
    return [t for t in found if t["width"] < 44 or t["height"] < 44]


def in_view(page, locator):
    """Whether the element lies entirely within the first screen (no scrolling)."""
    box = locator.bounding_box()
    scroll = page.evaluate("scrollY")
    return box is not None and scroll == 0 and box["y"] >= 0 and box["y"] + box["height"] <= 740


def focused(page):
    return page.evaluate(
        "document.activeElement && (document.activeElement.id || document.activeElement.tagName)"
    )
