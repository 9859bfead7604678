"""Synthetic people and accounts for tests (never real data)."""

import contextlib
import datetime
import functools
import itertools
import random
import re
from types import SimpleNamespace

import flask
from werkzeug.security import generate_password_hash

import models
from blueprints.student.auth import start_session
from services import idcard

FAST_HASH = "pbkdf2:sha256:1000"

PASSWORD = "violet kettle harbour"

# A page's CSRF token: the field as WTForms writes it, or as the csrf_input macro does.
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_in(html, where="the page"):
    """The CSRF token in `html`."""
    match = CSRF_RE.search(html)
    assert match, f"no csrf token on {where}"
    return match.group(1) or match.group(2)


def without_csrf(html):
    """`html` with its CSRF tokens blanked: a token is signed with the second
    of its request, so two requests draw the same form with different tokens."""
    return CSRF_RE.sub('name="csrf_token" value=""', html)


@functools.cache
def password_hash(password):
    """One salted hash per password for the whole run: a test account needs a
    hash that verifies, not a salt of its own (some 2,000 accounts a pass,
    about 0.5 ms of PBKDF2 each)."""
    return generate_password_hash(password, method=FAST_HASH)


def make_user(email="student@example.edu", password=PASSWORD, role="student", activated=True, **fields):
    """An account in the test database."""
    return models.User.create(
        email=email.lower(),
        password_hash=password_hash(password),
        role=role,
        activated_at=models.utcnow() if activated else None,
        **fields,
    )


def login(client, email="student@example.edu", password=PASSWORD, **extra):
    """Log a test client in through the real login form."""
    data = {"email": email, "password": password}
    data.update(extra)
    return client.form_post("/login", data, page="/login")


@contextlib.contextmanager
def client_session(client):
    """A request context of `client` (its address, user agent, language)
    whose `flask.session` is the client's cookie session; what the block
    leaves in it is the client's cookie session afterwards."""
    with (
        client.session_transaction() as cookie,
        client.application.test_request_context(environ_base=client.environ_base),
    ):
        flask.session.update(cookie)
        yield
        cookie.clear()
        cookie.update(flask.session)


def sign_in(client, email="student@example.edu"):
    """Start a session as `email` without the login form, for tests about
    something else: what the login view does once the password is right (a
    UserSession row, Flask-Login's keys in a fresh cookie session). The form
    (a page, PBKDF2, a login audit row, about 5 ms) is what test_auth and
    the browser journeys test."""
    user = models.User.get(models.User.email == email.lower())
    assert user.is_activated and not user.disabled, f"{email} cannot log in"
    with client_session(client):
        start_session(user)
    return client


def make_college(name="计算机学院", code="cs", office_contact="计算机学院办公室 A201,电话 0411-84100000"):
    college = models.College.get_or_none(models.College.code == code)
    return college or models.College.create(name=name, code=code, office_contact=office_contact)


def make_cohort(name="2027届", deadline_in_days=14, recheck_in_days=21, recheck_days=2):
    """A cohort whose deadline/re-check window lie relative to today (Asia/Shanghai)."""
    today = models.Cohort(timezone="Asia/Shanghai").local_today()
    deadline = today + datetime.timedelta(days=deadline_in_days)
    start = today + datetime.timedelta(days=recheck_in_days)
    return models.Cohort.create(
        name=name,
        confirm_deadline=deadline,
        recheck_start=start,
        recheck_end=start + datetime.timedelta(days=recheck_days - 1),
    )


_rng = random.Random(7)


def make_record(
    college=None,
    cohort=None,
    name="张三",
    gender="M",
    id_type=idcard.RESIDENT,
    id_number=None,
    birth=datetime.date(2004, 5, 6),
    student_no=None,
    **fields,
):
    """A registry record with a synthetic, valid ID number."""
    from services.matching import name_key

    college = college or make_college()
    cohort = cohort or models.Cohort.select().first() or make_cohort()
    if id_number is None:
        id_number = (
            idcard.generate_resident(_rng, birth=birth, gender=gender)
            if id_type == idcard.RESIDENT
            else idcard.generate(_rng, id_type)
        )
    student_no = student_no or f"2023{_rng.randint(0, 999999):06d}"
    values = dict(
        student_no=student_no,
        name=name,
        name_key=name_key(name),
        gender=gender,
        id_type=id_type,
        id_number=id_number,
        birth_date=birth,
        college=college,
        major="软件工程",
        level="本科",
        study_mode="普通全日制",
        enrolled_on=datetime.date(2023, 9, 1),
        graduating_on=datetime.date(2027, 6, 30),
        cohort=cohort,
    )
    values.update(fields)
    return models.Record.create(**values)


@functools.cache
def placeholder_set(seed):
    """The PortraitSet of placeholder portrait `seed`, made once per process:
    the same bytes every time (about 0.1 s of Pillow work), while each
    test still stores its own files. Callers must not change it."""
    from services import photos

    return photos.make_portrait_set(photos.placeholder_portrait(seed))


def make_photo(app, record=None, seed=1, **fields):
    """A stored placeholder photo (files under the app's instance folder)."""
    from services import photostore

    portrait = placeholder_set(seed)
    with app.app_context():
        key = photostore.save(portrait)
    photo = models.Photo.create(sha256=portrait.sha256, key=key, **fields)
    if record is not None:
        models.Record.update(photo=photo).where(models.Record.id == record.id).execute()
    return photo


def with_realname(user, record):
    """Give `user` the real-name data of `record` (as if typed at 实名注册)."""
    user.real_name, user.gender, user.id_type = record.name, record.gender, record.id_type
    user.id_number, user.birth_date = record.id_number, record.birth_date
    user.province, user.city, user.realname_at = "210000", "210200", models.utcnow()
    user.save()
    return user


def setup_world():
    """The shared test world: two colleges (cs, fl), a cohort, two staff members
    of cs (staff.a, other.a) and one of fl (staff.b), an invited (not yet
    activated) cs staff member, a disabled fl one, an admin and a student.
    Returns (cs, fl, cohort)."""
    with models.db.atomic():  # one commit; the accounts in one INSERT (about 240 worlds a pass)
        cs = make_college("计算机学院", "cs")
        fl = make_college("外语学院", "fl", office_contact="外语学院办公室 B105")
        cohort = make_cohort()
        now, hashed = models.utcnow(), password_hash(PASSWORD)
        accounts = [
            ("staff.a@example.edu", "staff", cs, now, False),
            ("staff.b@example.edu", "staff", fl, now, False),
            ("other.a@example.edu", "staff", cs, now, False),
            ("invited@example.edu", "staff", cs, None, False),
            ("gone@example.edu", "staff", fl, now, True),
            ("admin@example.edu", "admin", None, now, False),
            ("student@example.edu", "student", None, now, False),
        ]
        models.User.insert_many(
            [
                {
                    "email": email,
                    "password_hash": hashed,
                    "role": role,
                    "college": college,
                    "activated_at": activated,
                    "disabled": disabled,
                }
                for email, role, college, activated, disabled in accounts
            ]
        ).execute()
    return cs, fl, cohort


def client_for(app, email=None):
    """A test client in English, logged in as `email` when given."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    if email:
        sign_in(client, email)
    return client


def staff_world(second_staff_a=False):
    """Two colleges (a: cs 计算机学院, b: fl 外国语学院), an open cohort, a
    staff member of each (staff_a, staff_b; staff_a2 of a as well when asked)
    and an admin, all reading English. Returns a SimpleNamespace."""
    a = make_college("计算机学院", "cs")
    b = make_college("外国语学院", "fl", office_contact="外国语学院办公室")
    make_cohort()
    world = SimpleNamespace(a=a, b=b)
    world.staff_a = make_user("staff.a@example.edu", role="staff", college=a, locale="en")
    if second_staff_a:
        world.staff_a2 = make_user("staff.a2@example.edu", role="staff", college=a, locale="en")
    world.staff_b = make_user("staff.b@example.edu", role="staff", college=b, locale="en")
    world.admin = make_user("admin@example.edu", role="admin", locale="en")
    return world


_photo_seeds = itertools.count(100)


def reset_photo_seeds():
    """Number linked_student's photos from 100 again (called for each test by
    the app fixtures): distinct within a test, and the same seeds in every
    test, so their portrait sets are made once per process."""
    global _photo_seeds
    _photo_seeds = itertools.count(100)


def linked_student(app, email, college, name="张三", photo=True, seed=None, **fields):
    """A student (English) linked to a fresh record of `college`, with a
    photo (of `seed`, else a new one) when asked. Returns (user, record)
    as stored."""
    from services import matching

    user = make_user(email, locale="en")
    record = make_record(college=college, name=name, **fields)
    if photo:
        make_photo(app, record, seed=next(_photo_seeds) if seed is None else seed)
    with_realname(user, record)
    assert matching.link(user) is not None
    return models.User.get_by_id(user.id), models.Record.get_by_id(record.id)
