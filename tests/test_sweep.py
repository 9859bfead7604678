"""A sweep over every route, as every role, with hostile input (issue 11).

For each rule of app.url_map, each method and each role (anonymous, a
student with a record, a student without one, staff, admin), the sweep sends:

- the request with no query arguments or form fields at all (missing fields);
- hostile values for each URL converter: 0, -1, 2**64, a 10,000-digit
  number, a non-number;
- for every query argument and form field the view read (recorded while it
  ran), with every other field given a plausible value: the field missing,
  empty, 10,000 characters, a NUL, invalid UTF-8, bidi controls, <script>,
  a date outside 1900–2100, and 2**64 (ids and pages).

A POST is sent twice without its fields: with an empty body, and with one
unknown field, because Flask-WTF hands a form no data at all when the body
is empty, so the form's fields are only read (and seen here) in the second.

It asserts: no 500, no traceback in the body, and no row changed and no ID
picture left behind when the answer is a refusal (4xx). CSRF is switched
off so that the input reaches the code behind the token check. The counts
are printed per part and, when the parts run in one process, in total:

    .venv/bin/python -m pytest -p no:xdist -s -q tests/test_sweep.py --database sqlite

The routes are dealt into PARTS tests so that parallel workers share the
sweep. SWEEP_ONLY=<regex> limits it to matching rules; SWEEP_COUNT_ONLY=1
prints the counts without failing (to measure older code).
"""

import collections
import functools
import io
import os
import random
import re
import threading
import time

import pytest
from peewee import PostgresqlDatabase
from werkzeug.datastructures import ImmutableMultiDict

import models
from blueprints.core import CleanRequest
from services import casework as reqs
from services import idcard, idimages, sessions
from tests import imagegen
from tests.factories import (
    PASSWORD,
    make_cohort,
    make_college,
    make_photo,
    make_record,
    make_user,
    with_realname,
)

CONVERTER_VALUES = ["0", "-1", str(2**64), "9" * 10_000, "abc"]
MISSING = object()
INVALID_UTF8 = b"\xff\xfe\xc3("
FIELD_VALUES = [
    MISSING,
    "",
    "x" * 10_000,
    "a\x00b",
    INVALID_UTF8,
    "\u202eevil\u2066name\u2069",
    "<script>alert(1)</script>",
    "0001-01-01",
    str(2**64),
]
# Tables a refused request may legitimately touch: failed-login counters, and
# the session rows' "last used" time (a refusal must still not add or end one).
VOLATILE = {"login_throttle"}
VOLATILE_UPDATES = {"user_session"}
# A field no view reads: posted alone so that a form sees a non-empty body.
UNKNOWN_FIELD = "_sweep"

# They answer 503 by design when a dependency (database, queue consumer) is down.
HEALTH_CHECKS = {"/healthz", "/readyz"}

SEEN = set()


class Recording(ImmutableMultiDict):
    """Remembers which keys a view asked for (get, [], in, getlist)."""

    def get(self, key, default=None, type=None):
        SEEN.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key):
        SEEN.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        SEEN.add(key)
        return super().__contains__(key)

    def getlist(self, key, type=None):
        SEEN.add(key)
        return super().getlist(key, type)


class RecordingRequest(CleanRequest):
    parameter_storage_class = Recording

    @property
    def args(self):
        return Recording(super().args)

    def _load_form_data(self):
        super()._load_form_data()
        self.__dict__["form"] = Recording(self.__dict__["form"])
        self.__dict__["files"] = Recording(self.__dict__["files"])


@functools.cache
def card_jpeg():
    # Large enough to pass the ID-picture checks, small enough (a few KB) that
    # the test client keeps the request body in memory, not in a temporary
    # file it never closes.
    return imagegen.jpeg(900, 600, (200, 180, 160))


# Same name, other meaning: the audit log's `to` is a date, its `action` a filter.
PATH_VALUES = {"/admin/audit": {"to": "2030-12-31", "action": ""}}


def plausible(name, ids, path=""):
    """A value a real user might send for a field of this name."""
    for prefix, overrides in PATH_VALUES.items():
        if path.startswith(prefix) and name in overrides:
            return overrides[name]
    rng = random.Random(name)
    values = {
        "email": "sweep@example.edu",
        "new_email": "sweep2@example.edu",
        "reply_email": "",
        "password": "lantern orchard seven",
        "confirm": "lantern orchard seven",
        "current": PASSWORD,
        "phone": "13812345678",
        "id_type": idcard.RESIDENT,
        "id_number": idcard.generate_resident(rng),
        "real_name": "张三",
        "name": "2031届",
        "code": "sweep",
        "gender": "M",
        "birth_date": "2004-05-06",
        "province": "210000",
        "city": "210200",
        "confirm_deadline": "2031-06-01",
        "recheck_start": "2031-06-10",
        "recheck_end": "2031-06-12",
        "timezone": "Asia/Shanghai",
        "college": str(ids["college_id"]),
        "cohort": str(ids["cohort_id"]),
        "ids": str(ids["record_id"]),
        "page": "1",
        "to": "confirmed_offline",
        "reason": "sweep",
        "version": "1",
        "decision": "reject",
        "reject_reason": "other",
        "action": "remind",
        "status": "open",
        "next": "/",
        "from": "2020-01-01",
        "record": str(ids["record_id"]),
        "actor": "",
        "q": "",
        "sort": "name",
        "dir": "asc",
        "photo": "",
        "request": "",
        "problem": "",
        "kind": "",
    }
    if name in ("front", "back", "file"):
        return (io.BytesIO(card_jpeg()), f"{name}.jpg")
    return values.get(name, "sweep")


def count_changes():
    """Triggers count every row inserted, updated or deleted (test database only)."""
    db = models.db
    postgres = isinstance(getattr(db, "obj", db), PostgresqlDatabase)
    db.execute_sql("CREATE TABLE sweep_changes (n INTEGER NOT NULL)")
    db.execute_sql("INSERT INTO sweep_changes VALUES (0)")
    if postgres:
        db.execute_sql(
            "CREATE FUNCTION sweep_count() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN UPDATE sweep_changes SET n = n + 1; RETURN NULL; END $$"
        )
    for model in models.ALL_MODELS:
        table = model._meta.table_name
        if table in VOLATILE:
            continue
        for event in ("INSERT", "UPDATE", "DELETE"):
            if event == "UPDATE" and table in VOLATILE_UPDATES:
                continue
            trigger = f'CREATE TRIGGER sweep_{table}_{event.lower()} AFTER {event} ON "{table}" '
            when = ""
            if table == "audit_event" and event == "INSERT":
                # Reading a full ID number or a mail is audited: a record of the read, not a change.
                when = "NEW.action NOT LIKE 'read.%' AND NEW.action NOT LIKE '%.read'"
            if postgres:
                when = when.replace("%", "%%")  # psycopg reads a bare % as a placeholder
                trigger += (
                    "FOR EACH ROW " + (f"WHEN ({when}) " if when else "") + "EXECUTE FUNCTION sweep_count()"
                )
                db.execute_sql(trigger)
            else:
                trigger += f"WHEN {when} " if when else ""
                db.execute_sql(trigger + "BEGIN UPDATE sweep_changes SET n = n + 1; END")  # noqa: S608 (model table names)


def drop_change_counter():
    """PostgreSQL test databases live for the whole session: remove the triggers again."""
    db = models.db
    if not isinstance(getattr(db, "obj", db), PostgresqlDatabase):
        return
    for model in models.ALL_MODELS:
        table = model._meta.table_name
        for event in ("insert", "update", "delete"):
            db.execute_sql(f'DROP TRIGGER IF EXISTS sweep_{table}_{event} ON "{table}"')
    db.execute_sql("DROP FUNCTION IF EXISTS sweep_count()")
    db.execute_sql("DROP TABLE IF EXISTS sweep_changes")


def snapshot():
    """Rows written so far, and the ID pictures on disk (a refused upload may
    keep its picture aside in pending/ for the next try, but leave none here)."""
    folder = idimages.root()
    pictures = sum(name.endswith(".jpg") for name in os.listdir(folder)) if os.path.isdir(folder) else 0
    return models.db.execute_sql("SELECT n FROM sweep_changes").fetchone()[0], pictures


@pytest.fixture
def world(app_factory):
    # Errors become 500 responses, as in production, instead of exceptions in the test.
    app = app_factory(
        WTF_CSRF_ENABLED=False, MAIL_SEND_AFTER_REQUEST=False, MAIL_SERVER="", PROPAGATE_EXCEPTIONS=False
    )
    app.request_class = RecordingRequest
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        college = make_college()
        cohort = make_cohort()
        record = make_record(college=college, cohort=cohort, status="pending")
        photo = make_photo(app, record)
        student = with_realname(make_user("student@example.edu"), record)
        from services import matching

        matching.link(student)
        other = make_record(college=college, cohort=cohort, name="王小明")
        lost = with_realname(make_user("lost@example.edu"), other)
        lost.real_name = "其他人"
        lost.save()
        staff = make_user("staff@example.edu", role="staff", college=college)
        admin = make_user("admin@example.edu", role="admin")
        victim = make_user("victim@example.edu", role="staff", college=college)
        key = idimages.store(imagegen.jpeg(900, 600, (200, 180, 160)))
        filer = with_realname(make_user("filer@example.edu"), make_record(college=college, cohort=cohort))
        request = reqs.file_id_change(
            filer, filer.id_type, idcard.generate_resident(random.Random(5)), "13812345678", "", key
        )
        mail = models.OutboxMail.create(to="x@example.edu", subject="s", body_text="t", body_html="h")
        job = models.ImportJob.create(kind="students", status="queued")
        ids = {
            "photo_id": photo.id, "request_id": request.id, "record_id": record.id, "cohort_id": cohort.id,
            "college_id": college.id, "mail_id": mail.id, "user_id": victim.id, "job_id": job.id,
        }  # fmt: skip
        users = {"student": student.id, "student-unmatched": lost.id, "staff": staff.id, "admin": admin.id}
        count_changes()
        models.db.close()
    yield app, ids, users
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        drop_change_counter()
        models.db.close()


OTHER_CONVERTER_VALUES = {
    "token": "x" * 43,
    "code": "en",
    "variant": "thumb",
    "name": "students.csv",
    "filename": "app.css",
    "kind": "id_change",
    "key": "0" * 64,
}


def valid_value(rule, arg, ids):
    if arg in ids:
        return str(ids[arg])
    return OTHER_CONVERTER_VALUES.get(arg, "x")


def build_path(rule, values):
    path = rule.rule
    for arg, value in values.items():
        path = re.sub(r"<(?:[^:<>]+:)?" + re.escape(arg) + r">", value, path)
    return path


def log_in(app, client, user_id):
    client.delete_cookie("session")
    if user_id is None:
        return
    with app.app_context():
        user = models.User.get_by_id(user_id)
        token = sessions.start(user)
        models.db.close()
    with client.session_transaction() as sess:
        sess["_user_id"] = token
        sess["_fresh"] = True


# The routes are dealt round-robin into PARTS tests, each on its own world,
# so that xdist workers share them.
PARTS = 4
COUNT_ONLY = os.environ.get("SWEEP_COUNT_ONLY", "") not in ("", "0")
# Problem kinds, in the order of the summary line.
KINDS = ("500", "5xx", "stream cut off", "traceback", "refusal changed rows", "refusal left a file")
TOTALS = collections.Counter()


def summary(label, counts):
    kinds = ", ".join(f"{counts[kind]} {kind}" for kind in KINDS)
    return (
        f"[{label}] {counts['routes']} routes ({counts['route_methods']} route×method) × "
        f"{counts['roles']} roles: {counts['requests']} requests ({counts['plain']} without fields, "
        f"{counts['converter']} hostile URL values, {counts['field']} hostile field values; "
        f"{counts['fields']} fields read); problems: {counts['problems']} ({kinds}); "
        f"{counts['seconds']:.1f} s"
    )


@pytest.fixture(scope="module", autouse=True)
def sweep_totals():
    TOTALS.clear()
    yield
    if TOTALS["parts"] > 1:
        print("\n" + summary(f"sweep total, {TOTALS['parts']} parts", TOTALS))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("part", range(PARTS))
def test_every_route_every_role_hostile_input(world, part):
    app, ids, users = world
    roles = {"anonymous": None, **users}
    stats = collections.Counter(roles=len(roles))
    problems = []
    started = time.monotonic()
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    only = re.compile(os.environ.get("SWEEP_ONLY", ""))
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static"]
    rules.sort(key=lambda r: (r.rule, sorted(r.methods)))
    assert len(rules) >= 4 * PARTS
    rules = [r for r in rules[part::PARTS] if only.search(r.rule)]

    def send(method, path, query=None, data=None, what="", kind="field"):
        SEEN.clear()
        if what.startswith("[student-unmatched]"):
            # A request filed by an earlier variation would refuse every later one
            # ("you already have an open request") before the code under test.
            with app.app_context():
                models.Request.delete().where(models.Request.user == users["student-unmatched"]).execute()
                models.db.close()
        with app.app_context():
            state = snapshot()
            models.db.close()
        kwargs = {}
        if method == "GET":
            kwargs["query_string"] = query or {}
        else:
            has_file = any(isinstance(v, tuple) for v in (data or {}).values())
            kwargs["data"] = data or {}
            kwargs["content_type"] = (
                "multipart/form-data" if has_file else "application/x-www-form-urlencoded"
            )
        stats["requests"] += 1
        stats[kind] += 1
        try:
            response = client.open(path, method=method, **kwargs)
        except Exception as exc:  # e.g. a streamed body failing after its status was sent
            stats["stream cut off"] += 1
            problems.append(f"{method} {path[:80]} {what}: {type(exc).__name__} while sending the body")
            return set(SEEN), True
        body = response.get_data()
        for thread in threading.enumerate():
            if thread.name.startswith("import-"):
                thread.join(timeout=60)
        with app.app_context():
            after = snapshot()
            models.db.close()
        problem = None
        if response.status_code == 500:
            problem = kind_of = "500"
        elif response.status_code > 500 and path not in HEALTH_CHECKS:
            problem, kind_of = f"{response.status_code}", "5xx"
        elif b"Traceback (most recent call last)" in body:
            problem = kind_of = "traceback"
        elif response.status_code >= 400 and after[0] != state[0]:
            problem, kind_of = f"{response.status_code} but rows changed", "refusal changed rows"
        elif response.status_code >= 400 and after[1] > state[1]:
            problem, kind_of = f"{response.status_code} but an ID picture was left", "refusal left a file"
        if problem:
            stats[kind_of] += 1
            problems.append(f"{method} {path[:80]} {what}: {problem}")
        reached = response.status_code != 404 and not response.headers.get("Location", "").startswith(
            "/login"
        )
        return set(SEEN), reached

    for rule in rules:
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})
        stats["routes"] += 1
        stats["route_methods"] += len(methods)
        for role, user_id in roles.items():
            for method in methods:
                log_in(app, client, user_id)
                valid = {arg: valid_value(rule, arg, ids) for arg in rule.arguments}
                path = build_path(rule, valid)
                keys, reached = send(method, path, what=f"[{role}] no fields", kind="plain")
                if method != "GET" and reached:
                    log_in(app, client, user_id)  # the empty POST may have been a logout
                    more, _ = send(
                        method, path, data={UNKNOWN_FIELD: "1"}, what=f"[{role}] unknown field", kind="plain"
                    )
                    keys |= more
                    keys.discard(UNKNOWN_FIELD)
                # Converters run before any view: as a role the view turns away
                # (login page, 404) they were already tried as anonymous.
                hostile_ids = reached or role == "anonymous"
                for arg in sorted(rule.arguments) if hostile_ids else ():
                    for value in CONVERTER_VALUES:
                        send(
                            method,
                            build_path(rule, dict(valid, **{arg: value})),
                            what=f"[{role}] <{arg}>={value[:12]}",
                            kind="converter",
                        )
                keys.discard("csrf_token")
                keys = sorted(k for k in keys if isinstance(k, str))
                stats["fields"] += len(keys)
                # A field named _… switches the view to another mode (`_check`: a check
                # before the pictures travel; `_field`: a live check of one field). It
                # is sent only in its own variations, so that the others go all the way.
                base = {k: plausible(k, ids, path) for k in keys if not k.startswith("_")}
                for key in keys:
                    for value in FIELD_VALUES:
                        values = {
                            k: (plausible(k, ids) if k in ("front", "back", "file") else v)
                            for k, v in base.items()
                        }
                        if value is MISSING:
                            values.pop(key, None)
                        else:
                            values[key] = value
                        if method == "GET":
                            query = {k: v for k, v in values.items() if not isinstance(v, tuple)}
                            send(method, path, query=query, what=f"[{role}] {key}")
                        else:
                            send(method, path, data=values, what=f"[{role}] {key}")
                    log_in(app, client, user_id)  # a successful logout or password change ends the session
    stats["seconds"] = time.monotonic() - started
    stats["problems"] = len(problems)
    print("\n" + summary(f"sweep part {part + 1}/{PARTS}", stats))
    TOTALS.update(stats)
    TOTALS["roles"] = len(roles)
    TOTALS["parts"] += 1
    if COUNT_ONLY:
        print("\n".join(problems))
        return
    assert not problems, "\n".join(problems[:60])
