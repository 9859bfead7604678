"""Helpers for the 360×740 phone tests (Chinese UI): a phone-sized page,
logging in, a throttled link, tap-target measurement and the tap → in-flight
timer."""

from tests.factories import PASSWORD, csrf_in

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
    """Start a session as `email`: the login form's real GET and POST (CSRF
    token, password check, session cookie), sent from the page's own request
    context, which shares the page's cookies. The page stays where it is;
    callers go on with `page.goto(...)`.

    The browser does not render the form here: filling it in is what
    test_account_journey and test_student_journey test. Rendering it would
    cost every phone test two page loads, about 0.8 s of the machine's CPU,
    more than half of such a test.
    """
    form = page.request.get(base.url("/login"))
    assert form.ok, f"no login form at {form.url} ({form.status})"
    answer = page.request.post(
        base.url("/login"),
        form={"csrf_token": csrf_in(form.text(), form.url), "email": email, "password": password},
        max_redirects=0,
    )
    where = answer.headers.get("location", "")
    assert answer.status in (302, 303) and "/login" not in where, f"{email} not logged in: {answer.status}"


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
