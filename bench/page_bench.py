"""Requests/s of a DB-backed student page against a bare Flask page.

Both run under gunicorn with deploy/gunicorn.conf.py (what `make run`
serves), loaded by wrk over loopback in the same run; the number that
matters is the ratio (STYLE.md budget: ≥ 0.5). Not a test: machines here
are shared and noisy, so only ratios measured together mean something.

    .venv/bin/python bench/page_bench.py [--seconds 10] [--connections 16]

Needs `wrk` (Debian package wrk).
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(instance):
    """A database with one linked student (record + photo); returns a session cookie."""
    import models
    from app import create_app
    from services import matching
    from tests.conftest import ClosingClient
    from tests.factories import login, make_photo, make_record, make_user, with_realname

    app = create_app(env_config(instance))
    app.test_client_class = ClosingClient
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        models.migrate()
        models.db.close()
    record = make_record()
    make_photo(app, record)
    user = with_realname(make_user("bench@example.edu"), record)
    matching.link(user)
    client = app.test_client()
    assert login(client, "bench@example.edu").status_code == 303
    cookie = client.get_cookie("session")
    assert client.get("/record").status_code == 200
    return f"session={cookie.value}"


def env_config(instance):
    return {
        "SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "DATABASE_URL": f"sqlite:///{instance}/bench.sqlite3",
        "PHOTO_DIR": os.path.join(instance, "photos"),
        "RATELIMIT_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    }


def serve(app_spec, port, instance, log):
    env = dict(os.environ)
    for key, value in env_config(instance).items():
        env["FLASK_" + key] = str(value).lower() if isinstance(value, bool) else str(value)
    cmd = [os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", os.path.join(ROOT, "deploy/gunicorn.conf.py"),
           "--bind", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", app_spec]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz" if "create_app" in app_spec
                                   else f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{app_spec} did not start; see {log.name}")


def wrk(url, seconds, connections, headers):
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers:
        cmd += ["-H", header]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, p99, int(non2xx.group(1)) if non2xx else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian package wrk)")
    instance = tempfile.mkdtemp(prefix="gradproof-bench-")
    cookie = prepare(instance)
    log = open(os.path.join(instance, "gunicorn.log"), "w")  # noqa: SIM115
    procs = []
    try:
        ours, bare = free_port(), free_port()
        procs.append(serve("app:create_app()", ours, instance, log))
        procs.append(serve("bench.bare_app:app", bare, instance, log))
        accept = "Accept-Encoding: br, gzip"
        wrk(f"http://127.0.0.1:{ours}/record", 2, args.connections, [accept, f"Cookie: {cookie}"])  # warm up
        page = wrk(f"http://127.0.0.1:{ours}/record", args.seconds, args.connections, [accept, f"Cookie: {cookie}"])
        hello = wrk(f"http://127.0.0.1:{bare}/", args.seconds, args.connections, [accept])
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        log.close()
    print(f"student record page (/record, logged in, SQLite): {page[0]:8.0f} req/s  p99 {page[1]}  non-2xx {page[2]}")
    print(f"bare Flask hello page:                           {hello[0]:8.0f} req/s  p99 {hello[1]}")
    print(f"ratio: {page[0] / hello[0]:.2f}  (budget ≥ 0.50)")
    shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
