"""Browser end-to-end harness: the app on a live WSGI server thread, driven by
the system Chromium (Debian package) through Playwright's sync API.

Fixtures for tests under tests/e2e/:

- `live_server`: the base URL (a `str`, e.g. ``http://127.0.0.1:41234``) of
  an app built by `app_factory` (temporary SQLite file, the loopback `smtp`
  server); ``live_server.app`` is the Flask app, ``live_server.url("/x")`` an
  absolute URL. Mail links point at the live server (BASE_URL is set to it).
  An exception raised while serving (a 500) fails the test with its traceback.
- `make_live_server(**config)`: the same with config overrides (one per test).
- `browser`: one Chromium (/usr/bin/chromium) for the whole session, never downloaded.
- `new_page(**context_options)`: a fresh context + page (default
  ``locale="zh-CN"``); every page's console errors, uncaught exceptions, CSP
  violations and failed requests are recorded and fail the test at teardown.
- `page`: ``new_page()``.
- `browser_log`: the record; ``browser_log.allow(regex)`` accepts entries a
  test provokes on purpose (e.g. the console line of an expected 400).
- `newest_link(smtp, path_part)`: the link in the newest mail (waits for it).
"""

import os
import re
import threading
import traceback

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


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
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
        self.allowed = [
            # A request superseded by a navigation (or cancelled by htmx when
            # its element is swapped away) is aborted; nothing went wrong.
            re.compile(r"net::ERR_ABORTED$"),
        ]

    def allow(self, pattern):
        """Accept entries matching `pattern` (a regex), provoked on purpose."""
        self.allowed.append(re.compile(pattern))

    def watch(self, page):
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.entries.append(("pageerror", str(exc))))
        page.on("requestfailed", self._request_failed)

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


@pytest.fixture
def new_page(browser, browser_log):
    """Open a page in a fresh context; options go to browser.new_context()."""
    contexts = []

    def open_page(**options):
        options.setdefault("locale", "zh-CN")
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.add_init_script(CSP_SPY)
        contexts.append(context)
        page = context.new_page()
        browser_log.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
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
