"""Fixtures: an app on a temporary SQLite file, a real SMTP server on
loopback, clients that close responses like a WSGI server does (so mail
queued by a request is delivered before the test reads it)."""

import email
import email.policy
import re
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient

import models
from app import create_app

pytest_plugins = ["queue_fixtures"]  # real consumers, web servers, SMTP (i8)

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


class Inbox:
    """aiosmtpd handler keeping every message that arrives."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def clear(self):
        with self.lock:
            self.messages.clear()

    def wait(self, count=1, timeout=5):
        """The first `count` messages, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")


def text_of(msg):
    """The text/plain part of a parsed message."""
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


def link_in(msg, path_part):
    """The first URL in the mail's text part containing `path_part`."""
    for url in re.findall(r"https?://\S+", text_of(msg)):
        if path_part in url:
            return url
    raise AssertionError(f"no link with {path_part!r} in mail: {text_of(msg)}")


def free_port():
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.clear()
    return smtp_server


class ClosingClient(FlaskClient):
    """Buffered: the WSGI response is closed, running call_on_close hooks."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)

    def csrf(self, path="/login"):
        """A CSRF token for this client's session, read from a page."""
        html = self.get(path).get_data(as_text=True)
        match = CSRF_RE.search(html)
        assert match, f"no csrf token on {path}"
        return match.group(1) or match.group(2)

    def form_post(self, path, data, page=None, **kwargs):
        """POST a form with a fresh CSRF token taken from `page` (default: path)."""
        data = dict(data)
        data.setdefault("csrf_token", self.csrf(page or path))
        return self.post(path, data=data, **kwargs)


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "RATELIMIT_ENABLED": False,
    "MAIL_DEFAULT_SENDER": "GradProof <noreply@gradproof.example.edu>",
    "BASE_URL": "http://localhost",
    "LANGUAGES": ["zh_CN", "en"],
}


@pytest.fixture
def app_factory(tmp_path, smtp_server):
    """Build apps on a fresh SQLite file, with the loopback SMTP server."""

    def make(**overrides):
        config = dict(TEST_CONFIG)
        config.update(
            DATABASE_URL=f"sqlite:///{tmp_path / 'test.sqlite3'}",
            MAIL_SERVER="127.0.0.1",
            MAIL_PORT=smtp_server.port,
        )
        config.update(overrides)
        app = create_app(config)
        app.instance_path = str(tmp_path)
        app.test_client_class = ClosingClient
        with app.app_context():
            models.db.connect(reuse_if_open=True)
            models.migrate()
            models.db.close()
        return app

    return make


@pytest.fixture
def app(app_factory):
    app = app_factory()
    app.jinja_env.undefined = __import__("jinja2").StrictUndefined
    yield app
    # Background jobs (imports, the photo check) started by a request must end
    # before the next test points the shared database at another file.
    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(timeout=60)
    if not models.db.is_closed():
        models.db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """Database access from the test body. No app context is pushed: requests
    made by the test must each get their own, as in production (a shared
    one would share `g`, and with it the CSRF token cache)."""
    yield models
    if not models.db.is_closed():
        models.db.close()
