"""The browser harness itself: a context a test hands back to the pool
reaches the next test as a new one would, a context a test changed for
good is closed, not reused, and Chromium runs without the WebUI pages it
would build for every window."""

import models
from tests.e2e.phone import log_in
from tests.factories import make_user

OPTIONS = {"locale": "en", "viewport": {"width": 800, "height": 600}}


def test_a_pooled_context_comes_back_clean(live_server, context_pool):
    with live_server.app.app_context():
        make_user("pool@example.edu")
        models.db.close()
    context, page, cdp = context_pool.take(dict(OPTIONS))
    log_in(page, live_server, "pool@example.edu")
    page.goto(live_server.url("/record"))
    assert "/login" not in page.url and context.cookies()  # signed in
    page.evaluate("localStorage.setItem('left', 'behind')")
    context_pool.give_back(dict(OPTIONS), context, page, cdp)

    again, same_page, same_cdp = context_pool.take(dict(OPTIONS))
    assert again is context and same_page is page  # reused, not a new renderer
    assert page.url == "about:blank" and context.cookies() == []
    page.goto(live_server.url("/record"))
    assert "/login" in page.url  # no session carried over
    assert page.evaluate("localStorage.getItem('left')") is None
    context_pool.give_back(dict(OPTIONS), again, same_page, same_cdp)


def test_a_context_a_test_changed_for_good_is_closed(live_server, context_pool):
    context, page, cdp = context_pool.take(dict(OPTIONS))
    page.on("dialog", lambda dialog: dialog.accept())  # would answer the next test's dialogs
    context_pool.give_back(dict(OPTIONS), context, page, cdp)
    assert page.is_closed()
    fresh, fresh_page, fresh_cdp = context_pool.take(dict(OPTIONS))
    assert fresh is not context
    context_pool.give_back(dict(OPTIONS), fresh, fresh_page, fresh_cdp)

    throttled, page, cdp = context_pool.take(dict(OPTIONS))
    session = throttled.new_cdp_session(page)  # e.g. network throttling (phone.slow_link)
    session.send("Network.enable")
    context_pool.give_back(dict(OPTIONS), throttled, page, cdp)
    assert page.is_closed()


def test_the_browser_runs_no_omnibox_popup_and_keeps_playwrights_switches(browser, new_page):
    """Chromium starts with the needless WebUI pages off, in the one
    --disable-features switch it reads, beside Playwright's own list."""
    from tests.e2e.conftest import NEEDLESS_FEATURES, browser_command_line

    new_page()  # a window, which would get its omnibox popup
    targets = browser.new_browser_cdp_session().send("Target.getTargets")["targetInfos"]
    argv = browser_command_line()
    assert not [t["url"] for t in targets if t["type"] == "browser_ui"], argv
    switches = [a for a in argv if a.startswith("--disable-features=")]
    assert len(switches) == 1
    disabled = switches[0].split("=", 1)[1].split(",")
    assert set(NEEDLESS_FEATURES) <= set(disabled)
    assert {"PaintHolding", "HttpsUpgrades", "OptimizationHints"} <= set(disabled)  # Playwright's
