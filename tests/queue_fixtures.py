"""pytest plugin (listed in conftest.py): real processes for the tests of the task queue: gunicorn web servers and
`flask worker` consumers on one scratch database, a loopback SMTP server
that can be stopped and started again, one that never answers, and a tiny
HTTP client with cookies and CSRF tokens.

Every process is
started in its own session and its whole process group is killed at the
end of the test, so nothing is left behind.
"""

import contextlib
import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from aiosmtpd.controller import Controller
from conftest import Inbox, free_port

from tests.factories import csrf_in, password_hash

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def wait_for(condition, timeout, interval=0.2, message="condition"):
    """condition()'s first truthy value, polling for up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def redis_url(db=15):
    """A Redis URL on loopback, or None when no server answers there."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(16).startswith(b"+PONG"):
                return None
    except OSError:
        return None
    return f"redis://127.0.0.1:6379/{db}"


class SwitchableSMTP:
    """A loopback SMTP server on a fixed port that can be stopped and started."""

    def __init__(self):
        self.inbox = Inbox()
        self.port = free_port()
        self.controller = None

    def start(self):
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class HangingSMTP:
    """Accepts TCP connections and never says a word (a wedged mail server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)  # the accept loop notices close() within 0.2 s
        self.port = self.sock.getsockname()[1]
        self.connections = []
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True, name="hanging-smtp")
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _addr = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.lock:
                if self.stopped:
                    conn.close()
                    return
                self.connections.append(conn)

    def close(self):
        """Stop accepting and close every connection, including one accepted
        while closing (a socket left to the garbage collector is a
        ResourceWarning in whichever test happens to run next)."""
        with self.lock:
            self.stopped = True
        self.thread.join(5)
        self.sock.close()
        with self.lock:
            for conn in self.connections:
                conn.close()


class Web:
    """A browser-ish HTTP client: cookies, CSRF tokens, no redirects followed."""

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), self._NoRedirect()
        )

    def request(self, path, data=None, timeout=30):
        """(status, body text, headers)."""
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(self.base + path, data=body)  # noqa: S310 (http to loopback)
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.headers

    def get(self, path, **kwargs):
        return self.request(path, **kwargs)

    def csrf(self, path):
        _status, html, _headers = self.get(path)
        return csrf_in(html, path)

    def post(self, path, data, page=None, **kwargs):
        data = dict(data)
        data.setdefault("csrf_token", self.csrf(page or path))
        return self.request(path, data=data, **kwargs)

    def post_multipart(self, path, fields, files, page, timeout=60):
        """POST a form with files: fields {name: value}, files {name: (filename, bytes)}."""
        fields = dict(fields)
        fields.setdefault("csrf_token", self.csrf(page))
        boundary = "----gradproof" + os.urandom(8).hex()
        parts = []
        for name, value in fields.items():
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
            )
        for name, (filename, content) in files.items():
            head = (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            )
            parts.append(head.encode() + content + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        req = urllib.request.Request(self.base + path, data=b"".join(parts), headers=headers)  # noqa: S310
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), exc.headers


class Stack:
    """Web servers and consumers of one installation, on one scratch database."""

    def __init__(self, tmp_path, database_url=None, huey_url=None, **config):
        self.tmp = tmp_path
        self.processes = []
        self.env = dict(os.environ)
        for key in list(self.env):
            if key.startswith("FLASK_") or key in ("HUEY_URL", "RATELIMIT_STORAGE_URI"):
                del self.env[key]
        settings = {
            "SECRET_KEY": "queue-test-secret-key-0123456789",
            "DATABASE_URL": database_url or f"sqlite:///{tmp_path / 'app.sqlite3'}",
            "BASE_URL": "http://127.0.0.1",
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "MAIL_DEFAULT_SENDER": "GradProof <noreply@gradproof.example.edu>",
            "MAIL_TIMEOUT": 3,
            "PHOTO_DIR": str(tmp_path / "photos"),
            "ID_IMAGE_DIR": str(tmp_path / "id-images"),
            "IMPORT_DIR": str(tmp_path / "imports"),
            "RATELIMIT_STORAGE_URI": f"gradproof+sqlite://{tmp_path / 'ratelimit.sqlite3'}",
            "SESSION_COOKIE_SECURE": "false",
            "REMEMBER_COOKIE_SECURE": "false",
            "DEMO": "false",
            "IMPORT_WORKERS": 2,
        }
        settings.update(config)
        for key, value in settings.items():
            self.env["FLASK_" + key] = value if isinstance(value, str) else __import__("json").dumps(value)
        self.env["HUEY_URL"] = huey_url or f"sqlite:///{tmp_path / 'huey.sqlite3'}"
        self.env["PYTHONUNBUFFERED"] = "1"
        self.database_url = settings["DATABASE_URL"]
        self.logs = tmp_path / "logs"
        self.logs.mkdir(exist_ok=True)

    def flask(self, *args, timeout=120):
        return subprocess.run(
            [os.path.join(BIN, "flask"), "--app", "app", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout, check=True,
        )  # fmt: skip

    def _spawn(self, name, argv, env=None):
        log = open(self.logs / f"{name}-{len(self.processes)}.log", "w")  # noqa: SIM115 (closed in stop)
        proc = subprocess.Popen(
            argv, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        proc.log = log
        proc.name = name
        self.processes.append(proc)
        return proc

    def web(self, workers=2, threads=4):
        """A gunicorn server like `make run`'s; returns its base URL once it answers."""
        port = free_port()
        env = dict(self.env, WEB_CONCURRENCY=str(workers), GUNICORN_THREADS=str(threads))
        proc = self._spawn(
            "web",
            [os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
             "app:create_app()"],
            env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"

        def up():
            if proc.poll() is not None:
                raise AssertionError(f"web server exited: {self.log_of(proc)}")
            with contextlib.suppress(OSError), urllib.request.urlopen(base + "/login", timeout=2) as resp:  # noqa: S310
                return resp.status == 200
            return False

        wait_for(up, 60, message="the web server")
        proc.base = base
        return base

    def worker(self, workers=2):
        """A `flask worker` consumer; returns its Popen once it has started."""
        proc = self._spawn(
            "worker", [os.path.join(BIN, "flask"), "--app", "app", "worker", "-w", str(workers)]
        )
        wait_for(
            lambda: "worker: queue" in self.log_of(proc) or proc.poll() is not None, 60, message="the worker"
        )
        assert proc.poll() is None, self.log_of(proc)
        return proc

    def web_client(self, base):
        return Web(base)

    def log_of(self, proc):
        proc.log.flush()
        with open(proc.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def kill(self, proc, sig=signal.SIGKILL):
        """Signal the process (not its group: children must die by themselves)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self):
        """Kill every process group at once: the test is over, nothing it
        checks depends on a graceful shutdown (gunicorn's waits up to its
        graceful_timeout of 20 s for idle keep-alive connections)."""
        for proc in self.processes:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.processes:
            proc.wait(timeout=30)
            # Children of a killed leader (a photo pool) keep the group id.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.log.close()


def group_members(pgid):
    """Pids of live processes in a process group (read from /proc)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields: state ppid pgrp ...; zombies are already dead
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


PASSWORD = "Correct-Horse-Battery-9"


def make_user(models, email, role="admin", **fields):
    """An activated account written straight into the stack's database."""
    return models.User.create(
        email=email,
        password_hash=password_hash(PASSWORD),
        role=role,
        activated_at=models.utcnow(),
        **fields,
    )


@pytest.fixture
def stack_factory(tmp_path, template_db):
    """Stacks on a copy of the session's migrated SQLite file (what `flask
    init-db` would create, without starting Python once more), or on the
    given DATABASE_URL, migrated by `flask init-db`."""
    stacks = []

    def make(**kwargs):
        stack = Stack(tmp_path, **kwargs)
        if kwargs.get("database_url"):
            stack.flask("init-db")
        else:
            template_db.sqlite_copy(stack.database_url.removeprefix("sqlite:///"))
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def switchable_smtp():
    server = SwitchableSMTP()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def hanging_smtp():
    server = HangingSMTP()
    yield server
    server.close()


@pytest.fixture
def local_db(tmp_path):
    """The models bound to the stack's SQLite file, from the test process."""
    import models

    def bind(database_url):
        models.db.initialize(models.make_database(database_url))
        return models

    yield bind
    import models as m

    if not m.db.is_closed():
        m.db.close()
