"""Browser end-to-end harness: the app on a live WSGI server thread, driven by
the system Chromium (Debian package) through Playwright's sync API.

Fixtures for tests under tests/e2e/:

- `live_server`: the base URL (a `str`, e.g. ``http://127.0.0.1:41234``) of
  an app built by `app_factory` (temporary SQLite file, the loopback `smtp`
  server); ``live_server.app`` is the Flask app, ``live_server.url("/x")`` an
  absolute URL. Mail links point at the live server (BASE_URL is set to it).
  An exception raised while serving (a 500) fails the test with its traceback.
- `make_live_server(**config)`: the same with config overrides (one per test).
- `browser`: one Chromium (/usr/bin/chromium) for the whole session, never
  downloaded, with the features the tests never use off (`launch_chromium`,
  `NEEDLESS_FEATURES`).
- `new_page(**context_options)`: a clean context + page (default
  ``locale="zh-CN"``), reused from an earlier test when that test left it
  clean (`ContextPool`); every page's console errors, uncaught exceptions, CSP
  violations and failed requests are recorded and fail the test at teardown.
- `page`: ``new_page()``.
- `browser_log`: the record; ``browser_log.allow(regex)`` accepts entries a
  test provokes on purpose (e.g. the console line of an expected 400).
- `newest_link(smtp, path_part)`: the link in the newest mail (waits for it).
"""

import json
import os
import re
import threading
import time
import traceback
import warnings
from urllib.parse import urlsplit

import jinja2
import pytest
from flask import got_request_exception
from werkzeug.serving import make_server

from bench.chromium import FLAGS as CHROMIUM_FLAGS
from tests.conftest import link_in

# The system Chromium (Debian package chromium), the browser the project's
# users run; never a downloaded one.
CHROMIUM = "/usr/bin/chromium"
SKIP_REASON = "Chromium not installed at /usr/bin/chromium (Debian package chromium)"
HERE = os.path.dirname(os.path.abspath(__file__))

LAUNCH_ARGS = [*CHROMIUM_FLAGS, "--disable-quic"]

# Playwright waits (milliseconds): a local server answers in far less, but
# on a shared two-core machine running the queue tests beside the browser,
# a photo crop has taken 2.5 s to serve. A wait is not a speed check: a
# page that never shows what a test expects fails all the same, later.
TIMEOUT_MS = 15000

# Runs in every document before its own scripts; CDP-injected, so the page's
# CSP does not apply to it. Chromium also logs violations to the console, but
# this makes every one visible regardless of how the console is reported.
CSP_SPY = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error("CSP violation: " + e.violatedDirective + " blocked "
    + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber
    + (e.sample ? " sample=" + JSON.stringify(e.sample) : ""));
}, true);
"""


def pytest_collection_modifyitems(config, items):
    """Mark every test in this directory `e2e`; skip them all without Chromium."""
    chromium = os.path.exists(CHROMIUM)
    for item in items:
        if not str(item.path).startswith(HERE + os.sep):
            continue
        item.add_marker(pytest.mark.e2e)
        if not chromium:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


# -- live server ---------------------------------------------------------------


class CloseAfterBody:
    """WSGI middleware: close each response once its body has been written.

    Werkzeug's server calls `close()` (and with it Flask's `call_on_close`
    hooks, where the app delivers queued mail) only after draining the
    socket; when the client resets the connection meanwhile, the
    ConnectionResetError skips `close()`. Chromium does that now and then
    after a redirect it follows (about 1 in 10 boosted form posts here), so
    the activation mail was never sent. gunicorn, the production server,
    closes in a `finally` after writing; this does the same.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        return _CloseOnce(self.app(environ, start_response))


class _CloseOnce:
    def __init__(self, iterable):
        self.iterable = iterable
        self.closed = False

    def __iter__(self):
        try:
            yield from self.iterable
        finally:
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            if hasattr(self.iterable, "close"):
                self.iterable.close()


class LiveServer(str):
    """The base URL of a running server, with its app attached."""

    app = None
    errors = ()  # formatted tracebacks of exceptions raised while serving

    def url(self, path="/"):
        return self + path


@pytest.fixture
def make_live_server(app_factory):
    """Start the app (with config overrides) on a free loopback port."""
    servers, bases = [], []

    def start(**overrides):
        assert not servers, "one live server per test"
        app = app_factory(**overrides)
        app.jinja_env.undefined = jinja2.StrictUndefined
        # Port 0: the kernel picks a free port, no race with other processes.
        server = make_server("127.0.0.1", 0, CloseAfterBody(app), threaded=True)
        base = LiveServer(f"http://127.0.0.1:{server.server_port}")
        base.app = app
        base.errors = []

        def record(sender, exception, **extra):
            base.errors.append("".join(traceback.format_exception(exception)))

        # Weak references are the default; `record` lives as long as `base`.
        got_request_exception.connect(record, app)
        base._record = record
        # Mail links must lead to this server, not to the test BASE_URL.
        app.config["BASE_URL"] = str(base)
        # A short poll: `shutdown()` waits up to one poll interval (0.5 s by
        # default, about a third of a browser test).
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="e2e-live-server", daemon=True
        )
        thread.start()
        servers.append((server, thread))
        bases.append(base)
        return base

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    errors = [error for base in bases for error in base.errors]
    if errors:
        pytest.fail("the live server raised:\n" + "\n".join(errors), pytrace=False)


@pytest.fixture
def live_server(make_live_server):
    return make_live_server()


# -- browser -------------------------------------------------------------------


# Chromium features the browser tests pay for and never use, turned off:
# - every window (every browser context here) gets an omnibox popup built as
#   a WebUI page in a renderer of its own (chrome://omnibox-popup.top-chrome/):
#   about 0.45 s of CPU per context, for an omnibox a headless browser never
#   shows;
# - RenderDocument gives each navigation a new document host even within one
#   site, and SpareRendererForSitePerProcess keeps a renderer process started
#   ahead for the next one. Neither changes what a page can see.
# tests/e2e alone, one process, alternating: 62.2, 61.2 s of CPU with none,
# 47.3, 47.6, 44.8, 52.1 s without the popups, 45.3, 40.0, 36.7, 41.9 s
# without all five.
NEEDLESS_FEATURES = (
    "WebUIOmniboxPopup",
    "WebUIOmniboxAimPopup",
    "WebUIOmniboxFullPopup",
    "RenderDocument",
    "SpareRendererForSitePerProcess",
)


def browser_command_line():
    """The command line of the Chromium browser process this process started
    (through Playwright's driver, which talks to it over a pipe), or None."""
    parents = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                parents[int(pid)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    ours, grew = {os.getpid()}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in ours} - ours
        ours |= found
        grew = bool(found)
    for pid in ours - {os.getpid()}:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if (
            argv
            and os.path.basename(argv[0]).startswith("chromium")
            and "--remote-debugging-pipe" in argv
            and not any(a.startswith("--type=") for a in argv)
        ):
            return argv
    return None


def launch_chromium(playwright):
    """The system Chromium with LAUNCH_ARGS and NEEDLESS_FEATURES off.

    Chromium keeps only the last --disable-features of its command line, and
    Playwright passes a list of its own. So Chromium is started once to read
    that list, then again with the list and NEEDLESS_FEATURES as one switch
    in its place. Should the list not be found, the browser is kept as it is
    (the tests run, on more CPU) and a warning says so; test_harness fails."""
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
    for _attempt in range(20):
        argv = browser_command_line()
        if argv:
            break
        time.sleep(0.05)
    defaults = [a for a in argv or [] if a.startswith("--disable-features=")]
    if len(defaults) != 1:
        warnings.warn(
            f"Chromium's --disable-features not found, needless features stay on: {argv}", stacklevel=1
        )
        return chromium
    chromium.close()
    merged = ",".join([defaults[0], *NEEDLESS_FEATURES])
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=[*LAUNCH_ARGS, merged], ignore_default_args=defaults
    )


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


class BrowserLog:
    """Console errors, page errors, CSP violations and failed requests."""

    def __init__(self):
        self.entries = []  # (kind, text)
        self.watched = []  # (page, event, listener)
        self.allowed = [
            # A request superseded by a navigation (or cancelled by htmx when
            # its element is swapped away) is aborted; nothing went wrong.
            re.compile(r"net::ERR_ABORTED$"),
        ]

    def allow(self, pattern):
        """Accept entries matching `pattern` (a regex), provoked on purpose."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page):
        for event, listener in (
            ("console", self._console),
            ("pageerror", self._page_error),
            ("requestfailed", self._request_failed),
        ):
            page.on(event, listener)
            self.watched.append((page, event, listener))

    def unwatch(self):
        """Stop listening: the pages may serve another test."""
        for page, event, listener in self.watched:
            if not page.is_closed():
                page.remove_listener(event, listener)
        self.watched.clear()

    def _page_error(self, exc):
        self.entries.append(("pageerror", str(exc)))

    def _console(self, msg):
        if msg.type == "error":
            loc = msg.location or {}
            where = f" ({loc.get('url', '')}:{loc.get('lineNumber', '')})" if loc.get("url") else ""
            self.entries.append(("console", msg.text + where))
        elif msg.type == "warning" and "Content Security Policy" in msg.text:
            self.entries.append(("console", msg.text))

    def _request_failed(self, request):
        self.entries.append(("requestfailed", f"{request.method} {request.url}: {request.failure}"))

    def problems(self):
        return [
            f"{kind}: {text}"
            for kind, text in self.entries
            if not any(pattern.search(text) for pattern in self.allowed)
        ]

    def clear(self):
        self.entries.clear()


@pytest.fixture
def browser_log():
    return BrowserLog()


# Calls that leave state in a page or its context beyond the test that made
# them (network conditions, listeners, handlers, scripts, routes, a clock):
# a context where one was made is closed after its test, never pooled.
STATEFUL_CALLS = {
    "Page": (
        "on", "once", "route", "route_from_har", "route_web_socket", "add_init_script", "expose_function",
        "expose_binding", "set_extra_http_headers", "set_viewport_size", "emulate_media", "add_locator_handler",
        "set_default_timeout", "set_default_navigation_timeout",
    ),
    "BrowserContext": (
        "on", "once", "new_cdp_session", "new_page", "route", "route_from_har", "route_web_socket",
        "add_init_script", "expose_function", "expose_binding", "set_extra_http_headers", "set_geolocation",
        "grant_permissions", "set_offline", "set_default_timeout", "set_default_navigation_timeout",
    ),
    "Clock": ("install", "fast_forward", "pause_at", "resume", "run_for", "set_fixed_time", "set_system_time"),
}  # fmt: skip


def _context_of(api_object):
    impl = api_object._impl_obj
    return getattr(impl, "_browser_context", impl)  # a Page's or a Clock's context, or the context


def _mark_stateful_calls():
    from playwright.sync_api import _generated as sync_api

    for class_name, names in STATEFUL_CALLS.items():
        cls = getattr(sync_api, class_name)
        for name in names:
            call = getattr(cls, name)

            def marking(self, *args, _call=call, **kwargs):
                _context_of(self)._gradproof_tainted = True
                return _call(self, *args, **kwargs)

            setattr(cls, name, marking)


class ContextPool:
    """Browser contexts that finished tests left clean, one list per set of
    options, for later tests of the same worker to reuse.

    A new context and its first page cost Chromium about 0.4 s of CPU (a
    renderer process to start), as much as a short browser test's own work.
    Between tests a pooled page goes to about:blank (the test's document and
    its timers end), and its context loses its cookies, permissions, HTTP
    cache and the storage of the origin the test used: what the next test
    sees is a new context's state. A context where a test changed anything
    that would outlive it (STATEFUL_CALLS: a CDP session, listeners, routes,
    scripts, a clock) is closed instead, and so is one whose page a test
    closed or which failed to reset.
    """

    def __init__(self, browser):
        self.browser = browser
        self.idle = {}  # options key -> [(context, page, cdp)]

    @staticmethod
    def key(options):
        return json.dumps(options, sort_keys=True, default=str)

    def take(self, options):
        idle = self.idle.get(self.key(options))
        if idle:
            return idle.pop()
        context = self.browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_SPY)
        page = context.new_page()
        cdp = context.new_cdp_session(page)  # to clear the HTTP cache and storage between tests
        context._impl_obj._gradproof_tainted = False  # the harness's own set-up above
        return context, page, cdp

    def give_back(self, options, context, page, cdp):
        """Reset the context for the next test, or close it."""
        clean = not page.is_closed() and not getattr(context._impl_obj, "_gradproof_tainted", True)
        if clean:
            try:
                origin = urlsplit(page.url)
                page.goto("about:blank")
                page.mouse.move(0, 0)  # where Playwright starts a new page's pointer
                for other in context.pages[1:]:
                    other.close()
                context.clear_cookies()
                context.clear_permissions()
                cdp.send("Network.clearBrowserCache")
                if origin.scheme in ("http", "https"):
                    where = f"{origin.scheme}://{origin.netloc}"
                    cdp.send("Storage.clearDataForOrigin", {"origin": where, "storageTypes": "all"})
            except Exception:  # a page that cannot be reset is not reused
                clean = False
        if clean and len(context.pages) == 1:
            self.idle.setdefault(self.key(options), []).append((context, page, cdp))
        else:
            context.close()

    def close(self):
        for entries in self.idle.values():
            for context, _page, _cdp in entries:
                context.close()
        self.idle.clear()


@pytest.fixture(scope="session")
def context_pool(browser):
    _mark_stateful_calls()
    pool = ContextPool(browser)
    yield pool
    pool.close()


@pytest.fixture
def new_page(context_pool, browser_log):
    """Open a page in a clean context (pooled when a finished test left one
    with the same options clean, see ContextPool); options go to
    browser.new_context()."""
    taken = []

    def open_page(**options):
        options.setdefault("locale", "zh-CN")
        if options.get("java_script_enabled") is True:
            del options["java_script_enabled"]  # the default: the same pooled contexts
        context, page, cdp = context_pool.take(options)
        taken.append((options, context, page, cdp))
        browser_log.watch(page)
        context._impl_obj._gradproof_tainted = False  # the log's own listeners
        return page

    yield open_page
    for _options, _context, page, _cdp in taken:
        if not page.is_closed():
            page.title()  # a round trip: events still on their way reach the log first
    browser_log.unwatch()
    for options, context, page, cdp in taken:
        context_pool.give_back(options, context, page, cdp)
    problems = browser_log.problems()
    if problems:
        pytest.fail("the browser reported problems:\n  " + "\n  ".join(problems), pytrace=False)


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def newest_link():
    """The link containing `path_part` in the newest of at least `count` mails."""

    def find(smtp, path_part, count=1, timeout=5):
        return link_in(smtp.wait(count, timeout)[-1], path_part)

    return find
