"""Staff console at scale: 50,000 records over 10 colleges in a temporary SQLite file.

Measures the server time of the dashboard and of records-table searches
(time around the Flask test client request: best of 5 and median), and the
brotli size of the inline-toggle fragment. Prints the numbers; not a test.

    .venv/bin/python bench/staff_bench.py [--records 50000]
"""

import argparse
import datetime
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time

import brotli

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import models  # noqa: E402
from app import create_app  # noqa: E402
from services import idcard  # noqa: E402
from services.exports import national  # noqa: E402
from services.matching import name_key  # noqa: E402

PASSWORD = "violet kettle harbour"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然欣怡子涵梓轩思雨佳琪晨阳"
STATUS_WEIGHTS = {
    "unregistered": 15,
    "pending": 30,
    "confirmed": 40,
    "confirmed_offline": 5,
    "correction_requested": 5,
    "corrected": 5,
}
TARGETS = {"dashboard": 0.200, "search": 0.100, "toggle_br": 2048}


def build(app, count, colleges=10):
    rng = random.Random(2027)
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
        college_ids = [
            models.College.create(code=f"c{i:02d}", name=f"第{i + 1}学院").id for i in range(colleges)
        ]
        from werkzeug.security import generate_password_hash

        pw = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        now = models.utcnow()
        admin = models.User.create(
            email="admin@bench.example", password_hash=pw, role="admin", activated_at=now
        )
        models.User.create(
            email="staff@bench.example",
            password_hash=pw,
            role="staff",
            college=college_ids[0],
            activated_at=now,
        )
        statuses = list(STATUS_WEIGHTS)
        weights = list(STATUS_WEIGHTS.values())
        rows = []
        started = time.perf_counter()
        for i in range(count):
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            gender = rng.choice("MF")
            birth = datetime.date(2003, 1, 1) + datetime.timedelta(days=rng.randint(0, 1500))
            rows.append(
                {
                    "student_no": f"2023{i:07d}",
                    "name": name,
                    "name_key": name_key(name),
                    "gender": gender,
                    "id_type": "resident",
                    "id_number": idcard.generate_resident(rng, birth=birth, gender=gender),
                    "birth_date": birth,
                    "college": college_ids[i % colleges],
                    "major": "软件工程",
                    "level": "本科",
                    "study_mode": "普通全日制",
                    "enrolled_on": datetime.date(2023, 9, 1),
                    "graduating_on": datetime.date(2027, 6, 30),
                    "cohort": cohort.id,
                    "status": rng.choices(statuses, weights)[0],
                    "changed_at": now - datetime.timedelta(minutes=rng.randint(0, 60 * 24 * 60)),
                }
            )
            if len(rows) == 1000:
                with models.db.atomic():
                    models.Record.insert_many(rows).execute()
                rows = []
        if rows:
            with models.db.atomic():
                models.Record.insert_many(rows).execute()
        student = models.User.create(email="student@bench.example", password_hash=pw, activated_at=now)
        with models.db.atomic():
            models.Request.insert_many(
                [
                    {"kind": kind, "user": student.id, "college": college_ids[n % colleges], "status": "open"}
                    for n, kind in enumerate(["correction"] * 300 + ["id_change"] * 40 + ["id_dispute"] * 10)
                ]
            ).execute()
        # One real photo file shared by the confirmed records of the first college,
        # so the national ZIP has real JPEG work to do.
        from services import photos, photostore

        portrait = photos.make_portrait_set(photos.placeholder_portrait(1))
        photo = models.Photo.create(sha256=portrait.sha256, key=photostore.save(portrait))
        models.Record.update(photo=photo).where(
            (models.Record.college == college_ids[0])
            & models.Record.status.in_(["confirmed", "confirmed_offline"])
        ).execute()
        models.db.execute_sql("ANALYZE")
        built = time.perf_counter() - started
        models.db.close()
    return admin, built


def login(client, email):
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html).group(1)
    r = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303, r.status_code


def timed(client, path, runs=5, **kwargs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(path, **kwargs)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200, (path, response.status_code)
    return min(times), statistics.median(times), response


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--keep", action="store_true", help="Keep the temporary database.")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="staff-bench-")
    try:
        run(tmp, args.records)
    finally:
        if args.keep:
            print(f"database kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(tmp, records):
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench-secret-key-not-for-production",
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "RATELIMIT_ENABLED": False,
            "MAIL_SERVER": "",
            "MAIL_SEND_AFTER_REQUEST": False,
        }
    )
    app.instance_path = tmp
    _admin, built = build(app, records)
    print(f"{records} records over 10 colleges inserted in {built:.1f} s")

    results = []
    admin = app.test_client()
    login(admin, "admin@bench.example")
    staff = app.test_client()
    login(staff, "staff@bench.example")
    htmx = {"HX-Request": "true"}
    cases = [
        ("dashboard", "dashboard, admin (10 colleges)", admin, "/staff/", {}),
        ("dashboard", "dashboard, staff (1 college)", staff, "/staff/", {}),
        ("search", "records page 1, admin", admin, "/staff/records", {}),
        ("search", "search name '王' (fragment), admin", admin, "/staff/records?q=王", {"headers": htmx}),
        ("search", "search ID tail '1234' (fragment), admin", admin, "/staff/records?q=1234", {"headers": htmx}),
        ("search", "search 学号 (fragment), staff", staff, "/staff/records?q=20230012345", {"headers": htmx}),
        ("search", "status filter, sort by change, page 20", admin,
         "/staff/records?status=pending&sort=changed&dir=desc&page=20", {}),
    ]  # fmt: skip
    for kind, label, client, path, kwargs in cases:
        best, median, _response = timed(client, path, **kwargs)
        target = TARGETS[kind]
        results.append((label, best, median, target))
    print(f"\n{'request':<46} {'best':>9} {'median':>9} {'target':>9}")
    for label, best, median, target in results:
        flag = "ok" if median <= target else "SLOW"
        print(f"{label:<46} {best * 1000:>7.1f}ms {median * 1000:>7.1f}ms {target * 1000:>7.0f}ms  {flag}")

    with app.app_context():
        models.db.connect(reuse_if_open=True)
        record = models.Record.get((models.Record.college == 1) & (models.Record.status == "pending"))
        models.db.close()
    start = time.perf_counter()
    r = staff.get(f"/staff/export/national.zip?cohort={record.cohort_id}")
    took = time.perf_counter() - start
    import io
    import zipfile

    jpegs = sum(n.endswith(".jpg") for n in zipfile.ZipFile(io.BytesIO(r.get_data())).namelist())
    print(
        f"\nnational ZIP, one college: {jpegs} JPEGs, {len(r.get_data()) / 1e6:.1f} MB in {took:.1f} s"
        f" = {took / max(jpegs, 1) * 1000:.1f} ms per photo ({national.NATIONAL_WORKERS} encoding threads)"
    )

    html = admin.get("/staff/records").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = admin.post(
        f"/staff/records/{record.id}/status",
        data={"csrf_token": token, "to": "confirmed_offline", "reason": "paper", "version": record.version},
        headers=htmx,
    )
    assert r.status_code == 200, r.status_code
    raw = r.get_data()
    size = len(brotli.compress(raw, quality=5))
    size11 = len(brotli.compress(raw, quality=11))
    flag = "ok" if size <= TARGETS["toggle_br"] else "TOO BIG"
    print(f"\ninline-toggle fragment: {len(raw)} B raw, {size} B brotli q5 (as served), {size11} B brotli q11"
          f" — target ≤ {TARGETS['toggle_br']} B  {flag}")  # fmt: skip


if __name__ == "__main__":
    main()
