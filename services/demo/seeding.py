"""`seed()`: fill an empty database with the demo, in one transaction.

The photo files are written first (and removed again if anything fails);
then colleges, cohorts, accounts and records are inserted and every record
walks its story (services.demo.stories).
"""

import dataclasses
import datetime
import random
import time
from collections.abc import Iterator
from typing import NamedTuple
from zoneinfo import ZoneInfo

from peewee import JOIN, fn

from models import AuditEvent, Cohort, College, OutboxMail, Photo, Record, User, db, utcnow
from services import idcard, matching, passwords, photostore, regions
from services.demo import open_requests
from services.demo.people import plan
from services.demo.pictures import photo_pool, store_photos
from services.demo.settings import (
    ADMIN_PASSWORD,
    COLLEGES,
    DEMO_STUDENTS,
    DOMAIN,
    SEED,
    SIZES,
    STAFF_PASSWORD,
    STUDENT_PASSWORD,
    STUDY_MODE,
    TIMEZONE,
)
from services.demo.stories import backdate, insert, play, student_accounts, typed
from services.vocab import Role


class DemoDataExists(RuntimeError):
    """The database already holds data: seeding twice would collide."""


class Login(NamedTuple):
    role: str
    email: str
    password: str


@dataclasses.dataclass
class DemoSeed:
    """What `seed()` made. Iterating gives the printed logins, as before."""

    logins: list  # [Login], in print order
    guide: list  # [str]: what each demo account shows, one line each
    realname: dict  # what student01 types at real-name registration (unmasked)
    counts: dict  # {"records": n, "photos": n, ...}
    seconds: float

    def __iter__(self) -> Iterator[Login]:
        return iter(self.logins)

    def __len__(self) -> int:
        return len(self.logins)


def seed(size: str = "full") -> DemoSeed:
    """Fill an empty database with the demo; returns a DemoSeed.

    Raises DemoDataExists when colleges, cohorts, records or demo accounts
    exist already. Needs an app context (photo directory, password hash).
    """
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}")
    began = time.perf_counter()
    _refuse_if_not_empty()
    rng = random.Random(SEED)
    today = datetime.datetime.now(ZoneInfo(TIMEZONE)).date()
    year = today.year + 1 if today.month >= 9 else today.year
    now = utcnow()
    people = plan(rng, size, year, now)
    pool = photo_pool()
    keys: list[str] = []  # stored photo files, removed again if anything fails
    try:
        photo_rows = store_photos(rng, people, pool, keys)
        with db.atomic():
            result = _write(rng, people, photo_rows, year, today, now)
    except BaseException:
        for key in keys:
            photostore.delete(key)
        raise
    result.seconds = round(time.perf_counter() - began, 2)
    return result


def _refuse_if_not_empty():
    for model in (College, Cohort, Record):
        if model.select().exists():
            raise DemoDataExists(
                f"the database already holds {model.__name__.lower()} rows: demo data goes into an empty database"
            )
    if User.select().where(User.email.endswith("@" + DOMAIN)).exists():
        raise DemoDataExists("the demo accounts exist already")


def _write(rng, people, photo_rows, year, today, now):
    colleges = {}
    for code, name, office, phone, _men, _majors in COLLEGES:
        contact = (
            f"{name}办公室：{office}\n电话：0411-8410{phone}\n邮箱：{code}-office@example.edu\n"
            "办公时间：周一至周五 8:30–11:30，13:30–16:30"
        )
        colleges[code] = College.create(code=code, name=name, office_contact=contact)
    cohort = Cohort.create(
        name=f"{year}届",
        confirm_deadline=today + datetime.timedelta(days=14),
        recheck_start=today + datetime.timedelta(days=21),
        recheck_end=today + datetime.timedelta(days=22),
        timezone=TIMEZONE,
    )
    past_cohort = Cohort.create(
        name=f"{year - 1}届",
        confirm_deadline=datetime.date(year - 1, 3, 17),
        recheck_start=datetime.date(year - 1, 3, 24),
        recheck_end=datetime.date(year - 1, 3, 25),
        timezone=TIMEZONE,
    )
    first_event = AuditEvent.select(fn.MAX(AuditEvent.id)).scalar() or 0
    first_mail = OutboxMail.select(fn.MAX(OutboxMail.id)).scalar() or 0

    staff_hash = passwords.hash_password(STAFF_PASSWORD)
    student_hash = passwords.hash_password(STUDENT_PASSWORD)
    logins = [Login("admin", f"admin@{DOMAIN}", ADMIN_PASSWORD)]
    logins += [Login("staff", f"staff-{code}@{DOMAIN}", STAFF_PASSWORD) for code in colleges]
    logins += [
        Login("student", f"student{n:02d}@{DOMAIN}", STUDENT_PASSWORD) for n in range(1, DEMO_STUDENTS + 1)
    ]
    setup = now - datetime.timedelta(days=400)
    office = [(login, None) for login in logins[:1]] + list(zip(logins[1:5], colleges.values(), strict=True))
    insert(
        User,
        [
            {
                "email": login.email,
                "password_hash": staff_hash,
                "role": login.role,
                "created_at": setup,
                "activated_at": setup,
                "college": college,
            }
            for login, college in office
        ],
    )
    staff = {u.college_id: u for u in User.select().where(User.role == Role.STAFF)}

    insert(Photo, [row for _person, row in photo_rows])
    photo_ids = dict(Photo.select(Photo.sha256, Photo.id).tuples())
    attached = {}  # student_no → photo id, for the records that show one
    late = {}  # student_no → photo id, attached by a correction
    for person, row in photo_rows:
        if not row["unmatched_reason"]:
            attached[person.student_no] = photo_ids[row["sha256"]]
        elif person.photo == "late":
            late[person.student_no] = photo_ids[row["sha256"]]

    insert(
        Record,
        [
            {
                "student_no": p.student_no,
                "name": p.name,
                "name_key": matching.name_key(p.name),
                "gender": p.gender,
                "id_type": p.id_type,
                "id_number": p.id_number,
                "birth_date": p.birth,
                "ethnicity": p.ethnicity,
                "college": colleges[p.college],
                "major": p.major,
                "class_name": p.class_name,
                "level": p.level,
                "study_mode": STUDY_MODE,
                "enrolled_on": p.enrolled_on,
                "graduating_on": p.graduating_on,
                "cohort": past_cohort if p.past else cohort,
                "photo": attached.get(p.student_no),
                "changed_at": p.start - datetime.timedelta(days=2),
            }
            for p in people
        ],
    )
    by_no = {r.student_no: r for r in Record.select()}

    users = student_accounts(rng, people, student_hash, now)
    by_demo = {p.demo: p for p in people if p.demo}
    for person in people:
        record = by_no[person.student_no]
        play(rng, person, record, users.get(person.student_no), staff[record.college_id], late)
    free = (
        Record.select()
        .where(
            (Record.status == "unregistered")
            & Record.account.is_null()
            & (Record.cohort == cohort)
            & (Record.college == colleges["cs"])
            & (Record.id_type == idcard.RESIDENT)
            & Record.photo.is_null(False)
            & Record.student_no.not_in([p.student_no for p in by_demo.values()])
        )
        .order_by(Record.id)
        .limit(2)
    )
    emails, request_guide = open_requests.seed_open_requests(rng, *free, DOMAIN, student_hash, now)
    logins += [Login("student", email, STUDENT_PASSWORD) for email in emails]
    backdate(rng, people, by_no, users, first_event, first_mail, now)
    AuditEvent.log("demo.seed", reason=f"{len(people)} synthetic records")

    realname = typed(by_demo["student01"])
    counts = {
        "colleges": len(colleges),
        "cohorts": 2,
        "records": len(people),
        "photos": len(photo_rows),
        "unmatched_photos": Photo.select()
        .join(Record, JOIN.LEFT_OUTER, on=(Record.photo == Photo.id))
        .where(Record.id.is_null())
        .count(),
        "accounts": User.select().count(),
    }
    statuses = Record.select(Record.status, fn.COUNT(Record.id)).group_by(Record.status).tuples()
    counts.update({f"status_{status}": n for status, n in statuses})
    guide = _guide(by_demo, realname, cohort, colleges)
    guide[-1:-1] = request_guide
    return DemoSeed(logins, guide, realname, counts, 0.0)


def _guide(by_demo, realname, cohort, colleges):
    """One line per demo account: what a tester finds there."""
    r = realname
    region = f"{regions.name_of(r['province'])} {regions.name_of(r['city'])}"
    gender = "男" if r["gender"] == "M" else "女"
    five, seven = by_demo["student05"], by_demo["student07"]
    deadline = cohort.confirm_deadline.isoformat()
    return [
        f"{cohort.name}: open until {deadline}, re-check {cohort.recheck_start} – {cohort.recheck_end} ({TIMEZONE})",
        f"student01  no real-name data yet: do 实名注册 with 姓名 {r['real_name']}, 性别 {gender}, "
        f"证件类型 居民身份证, 证件号码 {r['id_number']}, 出生日期 {r['birth_date']}, 所在地区 {region}",
        "student02  record pending with a photo: check and press 正确",
        "student03  record already confirmed",
        "student04  record without a photo (problem 3): file a correction; an unmatched photo with a misspelt name waits",
        f"student05  real name misspelt, no record found (problem 1): the registry says {five.name}",
        "student06  ID number already registered by student07 (problem 2): dispute or 找回用户名",
        f"student07  holds that ID number ({seven.name}), record pending",
        "student08  record corrected by staff: confirm it again",
        f"staff-cs   {colleges['cs'].name}: every demo student's record, corrections and unmatched photos",
    ]
