"""Lighthouse of /staff/records with 100 rows (a full page), mobile and desktop.

Builds a throw-away instance (SQLite in a temporary folder) with one college,
120 records of which 100 carry a photo, a staff account; serves it with
gunicorn (deploy/gunicorn.conf.py, one worker); logs in over HTTP and runs
Lighthouse (performance, accessibility, best practices) with the session
cookie, once with the default mobile profile (simulated slow 4G, 4× CPU)
and once with --preset=desktop. Prints the scores; not a test.

Needs Node and Lighthouse 12 (Node 20: `npm i -E lighthouse@12.2.3` in some
folder) and Chromium:

    LIGHTHOUSE=/path/to/node_modules/.bin/lighthouse .venv/bin/python bench/lighthouse_staff.py [--control]

--control also measures /login (a tiny student page) the same way: on a
loaded machine Lighthouse's simulated throttling multiplies the slowness
of the host, and the control shows by how much.
"""

import datetime
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.chromium import CHROMIUM  # noqa: E402
from bench.chromium import FLAGS_TEXT as CHROME_FLAGS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "violet kettle harbour"
SECRET = "b3c1e0f4a9d8" * 6  # a throw-away instance


def build(folder, rows=120, with_photo=100):
    from werkzeug.security import generate_password_hash

    import models
    from app import create_app
    from services import idcard, photos, photostore
    from services.matching import name_key

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder}/gp.sqlite3",
            "SECRET_KEY": SECRET,
            "PHOTO_DIR": os.path.join(folder, "photos"),
        }
    )
    app.instance_path = folder
    import random

    rng = random.Random(10)
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        models.migrate()
        today = datetime.date.today()
        cohort = models.Cohort.create(
            name="2027届",
            confirm_deadline=today + datetime.timedelta(days=14),
            recheck_start=today + datetime.timedelta(days=21),
            recheck_end=today + datetime.timedelta(days=22),
        )
        college = models.College.create(code="cs", name="计算机学院")
        models.User.create(
            email="office@example.edu",
            password_hash=generate_password_hash(PASSWORD),
            role="staff",
            college=college,
            activated_at=models.utcnow(),
        )
        statuses = ["pending", "confirmed", "unregistered", "confirmed_offline", "corrected"]
        for i in range(rows):
            name = "王李张刘陈杨黄赵吴周"[i % 10] + "伟芳娜敏静丽强磊军洋"[(i * 7) % 10]
            photo = None
            if i < with_photo:
                portrait = photos.make_portrait_set(photos.placeholder_portrait(i))
                photo = models.Photo.create(sha256=portrait.sha256, key=photostore.save(portrait))
            models.Record.create(
                student_no=f"2023{i:06d}",
                name=name,
                name_key=name_key(name),
                gender="M",
                id_type=idcard.RESIDENT,
                id_number=idcard.generate_resident(rng, birth=datetime.date(2004, 1, 1), gender="M"),
                birth_date=datetime.date(2004, 1, 1),
                college=college,
                major="软件工程",
                level="本科",
                study_mode="普通全日制",
                enrolled_on=datetime.date(2023, 9, 1),
                graduating_on=datetime.date(2027, 6, 30),
                cohort=cohort,
                photo=photo,
                status=statuses[i % len(statuses)],
            )
        models.db.close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(root, folder):
    """gunicorn (one worker, the production config) serving checkout `root`
    on the database in `folder`; (process, base URL) once it answers."""
    port = free_port()
    env = dict(
        os.environ,
        FLASK_DATABASE_URL=f"sqlite:///{folder}/gp.sqlite3",
        FLASK_SECRET_KEY=SECRET,
        FLASK_PHOTO_DIR=os.path.join(folder, "photos"),
        FLASK_SESSION_COOKIE_SECURE="false",
        WEB_CONCURRENCY="1",
    )
    server = subprocess.Popen(
        [os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "app:create_app()"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(base + "/healthz")
            break
        except OSError:
            time.sleep(0.2)
    return server, base


def login(base):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": "office@example.edu", "password": PASSWORD})
    opener.open(base + "/login", data.encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def lighthouse(binary, url, cookie, folder, preset, name=None):
    out = os.path.join(folder, f"lh-{name or preset}.json")
    cmd = [
        binary,
        url,
        "--quiet",
        "--output=json",
        f"--output-path={out}",
        "--only-categories=performance,accessibility,best-practices",
        f"--chrome-flags={CHROME_FLAGS}",
        "--extra-headers",
        json.dumps({"Cookie": cookie, "Accept-Language": "zh-CN"}),
    ]
    if preset == "desktop":
        cmd.append("--preset=desktop")
    subprocess.run(cmd, check=True, env=dict(os.environ, CHROME_PATH=CHROMIUM))
    with open(out) as fh:
        report = json.load(fh)
    if os.environ.get("KEEP_REPORTS"):
        shutil.copy(out, os.environ["KEEP_REPORTS"])
    scores = {k: round(v["score"] * 100) for k, v in report["categories"].items()}
    audits = report["audits"]
    metrics = {
        k: audits[k]["displayValue"]
        for k in (
            "first-contentful-paint",
            "largest-contentful-paint",
            "total-blocking-time",
            "cumulative-layout-shift",
        )
    }
    return scores, metrics


def main():
    binary = os.environ.get("LIGHTHOUSE") or shutil.which("lighthouse")
    if not binary:
        sys.exit("set LIGHTHOUSE to the lighthouse binary (npm i -E lighthouse@12.2.3)")
    folder = tempfile.mkdtemp(prefix="gp-lh-")
    try:
        build(folder)
        server, base = serve(ROOT, folder)
        try:
            cookie = login(base)
            url = base + "/staff/records"
            rows = urllib.request.urlopen(urllib.request.Request(url, headers={"Cookie": cookie})).read()
            count = rows.decode().count('<tr id="rec-')
            print(f"/staff/records rows: {count}")
            for preset in ("mobile", "desktop"):
                scores, metrics = lighthouse(binary, url, cookie, folder, preset)
                print(preset, scores, metrics)
            if "--control" in sys.argv:
                # The same machine and moment on a tiny student page (100 on a quiet machine).
                scores, metrics = lighthouse(binary, base + "/login", "", folder, "mobile", "control")
                print("control /login mobile", scores, metrics)
            print("load average", os.getloadavg())
        finally:
            server.terminate()
            server.wait(10)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
