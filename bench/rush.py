"""A deadline rush against the real server: locust, headless, on loopback.

Synthetic students log in, open their record and photo, and confirm; one
in ten files a correction instead. Staff members work the correction queue
at the same time. Afterwards the database is checked: every confirmation
the server acknowledged is stored exactly once, and each record has one
audit event per change. Not a test: a benchmark whose numbers depend on
the machine (the load average is printed at the end).

    .venv/bin/python bench/rush.py                         # SQLite, 2000 students
    .venv/bin/python bench/rush.py --db postgres           # a scratch PostgreSQL database
    .venv/bin/python bench/rush.py --db postgres --redis --servers 2 --workers 1
                                                           # two app processes, one consumer

Each set-up is a throw-away install: a temporary folder, the database
(SQLite file, or a PostgreSQL database created on 127.0.0.1:5432 and dropped
afterwards), N students with accounts, real-name data and a photo,
gunicorn with deploy/gunicorn.conf.py and one `flask worker` consumer.
Rate limiting is off: every simulated student comes from 127.0.0.1, which
a real crowd does not.

Targets (2-core machine): N=2000 within 10 minutes, 0 errors, confirm POST
p99 < 500 ms, 0 lost or doubled confirmations.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import datetime  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402

import gevent  # noqa: E402
from locust import HttpUser, between, constant, task  # noqa: E402
from locust.env import Environment  # noqa: E402
from locust.exception import StopUser  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
BIN = os.path.join(ROOT, ".venv", "bin")
PASSWORD = "rush hour lantern 2027"
CSRF = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
SHOWN = re.compile(r'name="shown" type="hidden" value="([0-9a-f]+)"')
PHOTO = re.compile(r"/photo/\d+/webp")
ITEM = re.compile(r"/staff/queues/item/(\d+)")

STEPS = ["GET /login", "POST /login", "GET /record", "GET photo", "POST /record/confirm",
         "GET /record/correction", "POST /record/correction",
         "staff GET queue", "staff GET item", "staff POST decide"]  # fmt: skip


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the install ------------------------------------------------------------------------------


def seed(url, workdir, students, colleges=2, photos=24):
    """Migrate and fill the database with synthetic students and staff; returns e-mails."""
    from app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 32, "TESTING": True,
                      "PHOTO_DIR": os.path.join(workdir, "photos")})  # fmt: skip
    import models
    from services import idcard, passwords, photostore
    from services import photos as photo_service
    from services.matching import name_key

    rng = random.Random(2027)
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        models.migrate()
        today = datetime.date.today()
        cohort = models.Cohort.create(name="2027届", confirm_deadline=today + datetime.timedelta(days=3),
                                      recheck_start=today + datetime.timedelta(days=10),
                                      recheck_end=today + datetime.timedelta(days=12))  # fmt: skip
        schools = [models.College.create(code=f"c{n}", name=f"学院{n}") for n in range(colleges)]
        hashed = passwords.hash_password(PASSWORD)  # one hash for all: same password, valid salt
        now = models.utcnow()
        staff = []
        for n, college in enumerate(schools):
            for k in range(2):
                email = f"staff{n}.{k}@rush.example.edu"
                models.User.create(email=email, password_hash=hashed, role="staff", college=college,
                                   activated_at=now, locale="en")  # fmt: skip
                staff.append(email)
        photo_rows = []
        for n in range(photos):
            portrait = photo_service.make_portrait_set(photo_service.placeholder_portrait(n + 1))
            photo_rows.append(models.Photo.create(sha256=portrait.sha256, key=photostore.save(portrait)))
        emails = []
        with models.db.atomic():
            for n in range(students):
                gender = "M" if n % 2 else "F"
                birth = datetime.date(2003, 1, 1) + datetime.timedelta(days=n % 700)
                id_number = idcard.generate_resident(rng, birth=birth, gender=gender)
                name = f"学生{n:05d}"
                email = f"s{n:05d}@rush.example.edu"
                user = models.User.create(email=email, password_hash=hashed, activated_at=now, locale="en",
                                          real_name=name, gender=gender, id_type=idcard.RESIDENT,
                                          id_number=id_number, birth_date=birth, province="210000",
                                          city="210200", realname_at=now)  # fmt: skip
                models.Record.create(student_no=f"2023{n:06d}", name=name, name_key=name_key(name),
                                     gender=gender, id_type=idcard.RESIDENT, id_number=id_number,
                                     birth_date=birth, college=schools[n % colleges], major="软件工程",
                                     level="本科", study_mode="普通全日制", enrolled_on=datetime.date(2023, 9, 1),
                                     graduating_on=datetime.date(2027, 6, 30), cohort=cohort,
                                     photo=photo_rows[n % photos], account=user, status="pending")  # fmt: skip
                emails.append(email)
        models.db.close()
    return emails, staff


class Install:
    """gunicorn server(s) and one consumer on a throw-away instance folder."""

    def __init__(self, args):
        self.args = args
        self.workdir = tempfile.mkdtemp(prefix="gradproof-rush-")
        self.procs, self.pg_name = [], None
        if args.db == "postgres":
            import psycopg

            self.pg_name = f"gradproof_rush_{secrets.token_hex(4)}"
            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.pg_name}"')
            self.url = f"postgresql://postgres@127.0.0.1:5432/{self.pg_name}"
        else:
            self.url = f"sqlite:///{self.workdir}/gradproof.sqlite3"
        self.env = dict(os.environ)
        self.env.update(
            FLASK_DATABASE_URL=self.url,
            FLASK_SECRET_KEY=secrets.token_hex(32),
            FLASK_PHOTO_DIR=os.path.join(self.workdir, "photos"),
            FLASK_ID_IMAGE_DIR=os.path.join(self.workdir, "id-images"),
            FLASK_SESSION_COOKIE_SECURE="false",
            FLASK_REMEMBER_COOKIE_SECURE="false",
            FLASK_RATELIMIT_ENABLED="false",
            FLASK_BASE_URL="http://127.0.0.1",
            FLASK_REQUEST_LOG="false",
            HUEY_URL=f"redis://127.0.0.1:6379/{args.redis_db}" if args.redis else
            f"sqlite:///{self.workdir}/huey.sqlite3",
            WEB_CONCURRENCY=str(args.workers),
            PYTHONPATH=ROOT,
        )  # fmt: skip

    def start(self):
        logs = open(os.path.join(self.workdir, "servers.log"), "ab")  # noqa: SIM115 - lives with the processes
        self.bases = []
        for _ in range(self.args.servers):
            port = free_port()
            self.procs.append(subprocess.Popen(
                [os.path.join(BIN, "gunicorn"), "-c", "deploy/gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                 "--access-logfile", "/dev/null", "app:create_app()"],
                cwd=ROOT, env=self.env, stdout=logs, stderr=logs))  # fmt: skip
            self.bases.append(f"http://127.0.0.1:{port}")
        self.procs.append(subprocess.Popen([os.path.join(BIN, "flask"), "--app", "app", "worker"],
                                           cwd=ROOT, env=self.env, stdout=logs, stderr=logs))  # fmt: skip
        for base in self.bases:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()  # noqa: S310 - loopback
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise SystemExit(
                            f"server {base} did not start; see {self.workdir}/servers.log"
                        ) from None
                    time.sleep(0.5)

    def stop_servers(self):
        """SIGTERM: gunicorn finishes the requests in flight before it exits."""
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []

    def drop(self):
        self.stop_servers()
        if self.pg_name:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- the crowd --------------------------------------------------------------------------------


class Crowd:
    """Shared state of one run: who is next, what the server acknowledged."""

    def __init__(self, students, staff, bases, over=0.0):
        self.queue = list(enumerate(students))
        self.total = len(students)
        # --over: student k arrives k × interval seconds after the start (an
        # open crowd at a given rate); 0 = everyone is already waiting.
        self.interval = over / max(self.total, 1)
        self.arrived = 0
        self.start = time.monotonic()
        self.staff = list(staff)
        self.bases = bases
        self.done = 0
        self.confirmed, self.corrected, self.decided = set(), set(), set()


CROWD = None


def expect(response, status, what):
    if response.status_code != status:
        response.failure(f"{what}: HTTP {response.status_code}")
        return False
    response.success()
    return True


class Student(HttpUser):
    """One journey per student; the user then takes the next student."""

    wait_time = constant(0)
    host = "http://127.0.0.1"

    @task
    def journey(self):
        if not CROWD.queue:
            raise StopUser()
        n, email = CROWD.queue.pop()
        due = CROWD.start + CROWD.arrived * CROWD.interval
        CROWD.arrived += 1
        if due > time.monotonic():
            gevent.sleep(due - time.monotonic())
        base = CROWD.bases[n % len(CROWD.bases)]
        self.client.cookies.clear()
        try:
            self._journey(base, n, email)
        finally:
            CROWD.done += 1

    def _journey(self, base, n, email):
        c = self.client
        with c.get(base + "/login", name="GET /login", catch_response=True) as r:
            if not expect(r, 200, "login page"):
                return
            token = CSRF.search(r.text).group(1)
        with c.post(base + "/login", name="POST /login", allow_redirects=False, catch_response=True,
                    data={"email": email, "password": PASSWORD, "csrf_token": token}) as r:  # fmt: skip
            if not expect(r, 303, "log in"):
                return
        with c.get(base + "/record", name="GET /record", catch_response=True) as r:
            if not expect(r, 200, "record page"):
                return
            page = r.text
        photo = PHOTO.search(page)
        with c.get(base + photo.group(0), name="GET photo", catch_response=True) as r:
            expect(r, 200, "photo")
        token = CSRF.search(page).group(1)
        if n % 10 == 0:
            with c.get(base + "/record/correction", name="GET /record/correction", catch_response=True) as r:
                if not expect(r, 200, "correction form"):
                    return
                token = CSRF.search(r.text).group(1)
            data = {"csrf_token": token, "fix_major": "y", "new_major": "计算机科学与技术", "note": "rush"}
            with c.post(base + "/record/correction", name="POST /record/correction", data=data,
                        allow_redirects=False, catch_response=True) as r:  # fmt: skip
                if expect(r, 303, "correction"):
                    CROWD.corrected.add(email)
        else:
            shown = SHOWN.search(page).group(1)
            with c.post(base + "/record/confirm", name="POST /record/confirm", allow_redirects=False,
                        data={"csrf_token": token, "shown": shown}, catch_response=True) as r:  # fmt: skip
                if expect(r, 303, "confirm"):
                    CROWD.confirmed.add(email)


class Staff(HttpUser):
    """A staff member deciding the oldest open correction, again and again."""

    wait_time = between(0.5, 1.5)
    host = "http://127.0.0.1"

    def on_start(self):
        self.email = CROWD.staff.pop()
        self.base = CROWD.bases[0]
        r = self.client.get(self.base + "/login", name="staff GET /login")
        token = CSRF.search(r.text).group(1)
        self.client.post(self.base + "/login", name="staff POST /login",
                         data={"email": self.email, "password": PASSWORD, "csrf_token": token})  # fmt: skip

    @task
    def decide(self):
        if CROWD.done >= CROWD.total and not CROWD.queue:
            raise StopUser()
        with self.client.get(self.base + "/staff/queues/correction", name="staff GET queue",
                             catch_response=True) as r:  # fmt: skip
            if not expect(r, 200, "queue"):
                return
            ids = ITEM.findall(r.text)
        if not ids:
            return
        item = random.choice(ids[:5])
        with self.client.get(f"{self.base}/staff/queues/item/{item}", name="staff GET item",
                             catch_response=True) as r:  # fmt: skip
            if not expect(r, 200, "item"):
                return
            token = CSRF.search(r.text).group(1)
        accept = random.random() < 0.5
        data = {"csrf_token": token, "decision": "accept" if accept else "reject",
                "reject_reason": "" if accept else "registry_correct", "note": "rush"}  # fmt: skip
        with self.client.post(f"{self.base}/staff/queues/item/{item}/decide", name="staff POST decide",
                              data=data, allow_redirects=False, catch_response=True) as r:  # fmt: skip
            # 409: another staff member decided it first (expected in a rush).
            if r.status_code == 409:
                r.success()
            elif expect(r, 303, "decide"):
                CROWD.decided.add(item)


# -- checks and report ------------------------------------------------------------------------


def check_database(url):
    """Every acknowledged confirmation once; one audit event per record change."""
    from app import create_app

    create_app({"DATABASE_URL": url, "SECRET_KEY": "x" * 32, "TESTING": True})
    from peewee import fn

    import models

    problems = []
    models.db.connect(reuse_if_open=True)
    C, R, U, A = models.Confirmation, models.Record, models.User, models.AuditEvent
    per_user = dict(
        C.select(U.email, fn.COUNT(C.id)).join(U, on=(C.user == U.id))
        .where(C.kind == "student").group_by(U.email).tuples()
    )  # fmt: skip
    lost = sorted(e for e in CROWD.confirmed if per_user.get(e, 0) == 0)
    doubled = sorted(e for e, k in per_user.items() if k > 1)
    unacknowledged = sorted(set(per_user) - CROWD.confirmed)
    events = dict(
        A.select(A.target_id, fn.COUNT(A.id)).where((A.target_type == "record") & A.action.startswith("record."))
        .group_by(A.target_id).tuples()
    )  # fmt: skip
    audit_gaps = [r.id for r in R.select(R.id, R.version) if events.get(r.id, 0) != r.version - 1]
    confirm_events = A.select().where((A.action == "record.status") & (A.to_status == "confirmed")).count()
    requests = models.Request.select().where(models.Request.kind == "correction").count()
    if lost:
        problems.append(f"{len(lost)} acknowledged confirmations missing, e.g. {lost[:3]}")
    if doubled:
        problems.append(f"{len(doubled)} students confirmed more than once, e.g. {doubled[:3]}")
    if audit_gaps:
        problems.append(
            f"{len(audit_gaps)} records whose audit events differ from their changes, e.g. {audit_gaps[:3]}"
        )
    if confirm_events != sum(per_user.values()):
        problems.append(
            f"{confirm_events} 'confirmed' audit events for {sum(per_user.values())} confirmations"
        )
    if requests < len(CROWD.corrected):
        problems.append(f"{requests} corrections stored, {len(CROWD.corrected)} acknowledged")
    models.db.close()
    return {
        "confirmations": sum(per_user.values()), "unacknowledged": len(unacknowledged),
        "corrections": requests, "problems": problems,
    }  # fmt: skip


def main():
    global CROWD
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=2000)
    parser.add_argument("--users", type=int, default=24, help="simultaneous students (default 24)")
    parser.add_argument("--staff", type=int, default=4)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="task queue on Redis (127.0.0.1:6379)")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--servers", type=int, default=1, help="gunicorn instances (default 1)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers each (default 3)")
    parser.add_argument("--limit", type=int, default=600, help="give up after this many seconds")
    parser.add_argument(
        "--over",
        type=float,
        default=0,
        help="spread the students' arrivals evenly over this many seconds (0: all at once, "
        "a saturating crowd that measures capacity)",
    )
    args = parser.parse_args()

    install = Install(args)
    print(f"seeding {args.students} students into {args.db} …", flush=True)
    started = time.monotonic()
    students, staff = seed(install.url, install.workdir, args.students)
    print(f"seeded in {time.monotonic() - started:.0f} s; starting {args.servers} server(s) × "
          f"{args.workers} worker(s) + 1 consumer", flush=True)  # fmt: skip
    install.start()
    try:
        CROWD = Crowd(students, staff[: args.staff], install.bases, args.over)
        env = Environment(user_classes=[Student, Staff])
        runner = env.create_local_runner()
        started = time.monotonic()
        Staff.fixed_count = min(args.staff, len(staff))
        runner.start(args.users + Staff.fixed_count, spawn_rate=50)
        while CROWD.done < CROWD.total and time.monotonic() - started < args.limit:
            gevent.sleep(1)
        seconds = time.monotonic() - started
        runner.quit()
        # Requests cut off by the time limit may still be running on the
        # server: let them finish before reading the database.
        install.stop_servers()
        report(env, args, seconds, check_database(install.url))
    finally:
        install.drop()


def report(env, args, seconds, db):
    stats = env.stats
    print(f"\n== rush: {args.db}{' + Redis' if args.redis else ''}, {args.servers} server(s) × "
          f"{args.workers} worker(s), up to {args.users} simultaneous students, {args.staff} staff, "
          + (f"arrivals spread over {args.over:.0f} s" if args.over else "all arriving at once"))  # fmt: skip
    print(f"students through the journey: {CROWD.done}/{CROWD.total} in {seconds:.0f} s "
          f"({CROWD.done / seconds:.1f}/s); requests: {stats.total.num_requests}, "
          f"errors: {stats.total.num_failures}")  # fmt: skip
    print(f"{'step':<26}{'count':>7}{'errors':>8}{'p50':>7}{'p95':>7}{'p99':>7}  (ms)")
    for name in STEPS:
        entry = next((e for (n, _m), e in stats.entries.items() if n == name), None)
        if entry is None or not entry.num_requests:
            continue
        p = entry.get_response_time_percentile
        print(
            f"{name:<26}{entry.num_requests:>7}{entry.num_failures:>8}{p(0.5):>7.0f}{p(0.95):>7.0f}{p(0.99):>7.0f}"
        )
    for error in list(stats.errors.values())[:10]:
        print(f"  error ×{error.occurrences}: {error.name}: {error.error}")
    print(f"confirmations stored: {db['confirmations']} for {len(CROWD.confirmed)} acknowledged "
          f"({db['unacknowledged']} stored whose answer was cut off by the time limit); "
          f"corrections: {db['corrections']}; decided by staff: {len(CROWD.decided)}")  # fmt: skip
    print("database check: " + ("OK (none lost or doubled, one audit event per change)" if not db["problems"]
                                 else "; ".join(db["problems"])))  # fmt: skip
    confirm = next((e for (n, _m), e in stats.entries.items() if n == "POST /record/confirm"), None)
    p99 = confirm.get_response_time_percentile(0.99) if confirm else float("nan")
    verdict = (CROWD.done >= CROWD.total and seconds <= 600 and stats.total.num_failures == 0
               and p99 < 500 and not db["problems"])  # fmt: skip
    print(
        f"targets (all within 600 s, 0 errors, confirm p99 < 500 ms, DB check): {'met' if verdict else 'NOT met'}"
    )
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
