"""Synthetic demo data for `make run` and `flask seed-demo`.

Only generated people: made-up names (services.demo_names), synthetic ID
numbers from services.idcard, Pillow-drawn photos and addresses under
example.edu. A seeded `random.Random(2026)` makes every run produce the same
people (photo storage keys and timestamps aside).

`seed()` fills an empty database: four colleges, the open cohort of the
current graduation year and last year's closed one, registry records with
photos in every status, a few unmatched photos, and accounts for an admin,
one staff member per college and eight students who each stand at one step
of the journey (see `DemoSeed.guide`).

Statuses change only through the real code paths — `matching.link`,
`records.confirm`, `Record.transition` — so every record has its audit trail;
the one exception is the past cohort, confirmed with `_confirm_past` because
`records.confirm` rightly refuses after the deadline. Afterwards the audit
events, confirmations and accounts are back-dated along a plausible timeline
(they would all say "just now" otherwise).
"""

import dataclasses
import datetime
import functools
import hashlib
import math
import random
import time
from typing import NamedTuple
from zoneinfo import ZoneInfo

from peewee import JOIN, chunked, fn

from models import (
    AuditEvent,
    Cohort,
    College,
    Confirmation,
    OutboxMail,
    Photo,
    Record,
    Request,
    User,
    db,
    utcnow,
)
from services import (
    casework,
    demo_names,
    demo_requests,
    idcard,
    matching,
    passwords,
    photos,
    photostore,
    records,
    regions,
)

DOMAIN = "demo.example.edu"
ADMIN_PASSWORD = "Proof-Reading-42"  # noqa: S105 (public demo login)
STAFF_PASSWORD = ADMIN_PASSWORD
STUDENT_PASSWORD = "Photo-Check-2026"  # noqa: S105 (public demo login)
SEED = 2026
TIMEZONE = "Asia/Shanghai"
SCHOOL = "演示理工大学"
# (records of the open cohort, records of last year's cohort)
SIZES = {"full": (300, 20), "small": (40, 6)}
POOL_SIZE = 24
RED = (200, 40, 40)
DEMO_STUDENTS = 8

# code, name, office, phone extension, share of men, majors (name, class prefix, level, weight)
COLLEGES = (
    ("cs", "计算机学院", "信息楼 A 座 215 室", "2315", 0.7, (
        ("计算机科学与技术", "计科", "本科", 4), ("软件工程", "软工", "本科", 3),
        ("网络工程", "网工", "本科", 1), ("数据科学与大数据技术", "数据", "本科", 2),
        ("人工智能", "智能", "本科", 1), ("计算机应用技术", "计应", "专科", 1),
        ("软件技术", "软技", "专科", 1),
    )),
    ("fl", "外国语学院", "文科楼 308 室", "2471", 0.2, (
        ("英语", "英语", "本科", 4), ("日语", "日语", "本科", 2), ("俄语", "俄语", "本科", 1),
        ("朝鲜语", "朝语", "本科", 1), ("翻译", "翻译", "本科", 1), ("商务英语", "商英", "本科", 1),
        ("应用英语", "应英", "专科", 1),
    )),
    ("em", "经济管理学院", "经管楼 102 室", "2650", 0.4, (
        ("会计学", "会计", "本科", 4), ("财务管理", "财管", "本科", 2), ("市场营销", "营销", "本科", 1),
        ("国际经济与贸易", "国贸", "本科", 2), ("工商管理", "工商", "本科", 1),
        ("物流管理", "物流", "本科", 1), ("大数据与会计", "大会", "专科", 1),
        ("电子商务", "电商", "专科", 1),
    )),
    ("me", "机械工程学院", "机械楼 B 座 410 室", "2738", 0.85, (
        ("机械设计制造及其自动化", "机制", "本科", 4), ("车辆工程", "车辆", "本科", 2),
        ("材料成型及控制工程", "材控", "本科", 1), ("机械电子工程", "机电", "本科", 2),
        ("测控技术与仪器", "测控", "本科", 1), ("机电一体化技术", "机电", "专科", 1),
        ("数控技术", "数控", "专科", 1),
    )),
)  # fmt: skip
COLLEGE_WEIGHTS = (3, 2, 3, 2)
STUDY_MODE = "普通全日制"
# Where students come from (province code, weight): mostly the school's own.
HOME_PROVINCES = (
    ("210000", 45), ("230000", 8), ("220000", 7), ("370000", 8), ("130000", 6), ("410000", 6),
    ("150000", 4), ("140000", 4), ("340000", 3), ("510000", 3), ("360000", 2), ("450000", 2),
    ("110000", 2),
)  # fmt: skip
PERMIT_AREAS = ("810000", "820000", "830000")
OTHER_ID_TYPES = (idcard.RESIDENCE_PERMIT, idcard.HKMO_PERMIT, idcard.PASSPORT)

# What students file (services.casework): (kind, note). "major"/"name" name
# a field with the value the student says is right, the others photo items.
CORRECTIONS = (
    ("photo_wrong", "照片不是本人"),
    ("major", "专业名称和录取通知书上的不一样"),
    ("name", "姓名中有错字"),
    ("photo_wrong", "照片背景颜色不对"),
)
NO_PHOTO = ("photo_missing", "学籍信息里没有照片")
OFFLINE_REASONS = (
    "学生到学院办公室在纸质勘误表上确认无误",
    "学生在外地实习，已书面确认",
    "学生无法登录学信网账号，已在办公室当面核对",
)
UNMATCHED_REASONS = {
    "name": "姓名与学籍不一致：同一证件号码的学籍姓名不同",
    "id": "证件号码无效（校验位不符），未找到学籍",
    "school": "学校名称与本校不一致",
}


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

    def __iter__(self):
        return iter(self.logins)

    def __len__(self):
        return len(self.logins)


@dataclasses.dataclass
class Person:
    """One registry record being planned, with its story (`path`)."""

    student_no: str
    name: str
    gender: str
    ethnicity: str
    birth: datetime.date
    id_type: str
    id_number: str
    area: str
    college: str
    major: str
    class_name: str
    level: str
    enrolled_on: datetime.date
    graduating_on: datetime.date
    past: bool = False
    path: str = "unregistered"
    photo: str = "yes"  # yes | none | late (attached by a correction)
    pool: int = 0
    demo: str = ""  # "student02" … for the demo accounts
    correction: tuple = ()  # (kind, note) the student files
    start: datetime.datetime | None = None  # first event of its story (UTC)


# Paths: which steps a record goes through, in order.
LINKED = {"pending", "confirmed", "linked_offline", "correction", "corrected", "reconfirmed"}


def seed(size="full"):
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
    people = _plan(rng, size, year, now)
    pool = _photo_pool()
    keys = []  # stored photo files, removed again if anything fails
    try:
        photo_rows = _store_photos(rng, people, pool, keys)
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


# --- planning: people and their stories, all in memory -----------------------


def _area(rng, province):
    city = rng.choice(regions.cities(province))[0]
    return city[:4] + f"{rng.randint(2, 12):02d}" if city.endswith("00") else city


def _region(area):
    """(province, city) codes of an ID area code, as the real-name form has them."""
    province = area[:2] + "0000"
    codes = [code for code, _name in regions.cities(province)]
    city = area[:4] + "00" if area[:4] + "00" in codes else area
    if city not in codes:
        province, city = "210000", "210200"
    return province, city


class _Numbers:
    """Unique student and ID numbers."""

    def __init__(self):
        self.seq = {}
        self.ids = set()

    def student_no(self, enrolled, college):
        key = (enrolled, college)
        self.seq[key] = self.seq.get(key, 0) + 1
        index = [c[0] for c in COLLEGES].index(college) + 1
        return f"{enrolled}{index:02d}{self.seq[key]:04d}"

    def id_number(self, rng, id_type, birth, gender, area):
        while True:
            if id_type == idcard.RESIDENT:
                number = idcard.generate_resident(rng, birth=birth, gender=gender, area=area)
            elif id_type == idcard.RESIDENCE_PERMIT:
                number = idcard.generate_resident(
                    rng, birth=birth, gender=gender, area=rng.choice(PERMIT_AREAS)
                )
            else:
                number = idcard.generate(rng, id_type)
            if number not in self.ids:
                self.ids.add(number)
                return number


def _person(rng, numbers, year, college=None, level=None, minority=None, past=False):
    spec = (
        next(c for c in COLLEGES if c[0] == college) if college else rng.choices(COLLEGES, COLLEGE_WEIGHTS)[0]
    )
    code, _name, _office, _phone, men, majors = spec
    candidates = [m for m in majors if level in (None, m[2])]
    major, prefix, lvl, _w = rng.choices(candidates, [m[3] for m in candidates])[0]
    enrolled = year - (4 if lvl == "本科" else 3)
    gender = "M" if rng.random() < men else "F"
    if minority is None:
        minority = rng.random() < 0.03
    name, ethnicity = demo_names.person_name(rng, gender, minority)
    born = datetime.date(year - rng.choices((25, 24, 23, 22), (1, 3, 8, 5))[0], 1, 1)
    born += datetime.timedelta(days=rng.randrange(365))
    provinces, weights = zip(*HOME_PROVINCES, strict=True)
    area = _area(rng, "650000" if minority else rng.choices(provinces, weights)[0])
    return Person(
        student_no=numbers.student_no(enrolled, code),
        name=name,
        gender=gender,
        ethnicity=ethnicity,
        birth=born,
        id_type=idcard.RESIDENT,
        id_number=numbers.id_number(rng, idcard.RESIDENT, born, gender, area),
        area=area,
        college=code,
        major=major,
        class_name=f"{prefix}{enrolled % 100:02d}{rng.randint(1, 3):02d}",
        level=lvl,
        enrolled_on=datetime.date(enrolled, 9, 1),
        graduating_on=datetime.date(year, 6, 30),
        past=past,
    )


def _quota(n, share, least=0):
    return max(least, round(n * share))


def _plan(rng, size, year, now):
    """Every record of both cohorts with its path, photo and start time."""
    current, previous = SIZES[size]
    numbers = _Numbers()
    # The demo students: Han names, resident IDs, 本科 at 计算机学院, so that
    # staff-cs sees them all.
    demo = [_person(rng, numbers, year, "cs", "本科", False) for _ in range(DEMO_STUDENTS - 1)]
    for person, (who, path, photo) in zip(demo, DEMO_PATHS, strict=True):
        person.demo, person.path, person.photo = who, path, photo
    demo[-1].correction = NO_PHOTO  # student08: corrected by attaching the photo
    # Every 33rd a transliterated minority name with "·" (~3 %).
    rest = [_person(rng, numbers, year, minority=i % 33 == 5) for i in range(current - len(demo))]
    n = len(rest)
    paths = (
        ["pending"] * _quota(n, 0.19)
        + ["confirmed"] * _quota(n, 0.15)
        + ["reconfirmed"] * _quota(n, 0.01)
        + ["offline"] * _quota(n, 0.025, 1)
        + ["linked_offline"] * _quota(n, 0.02, 1)
        + ["correction"] * _quota(n, 0.03, 1)
        + ["corrected"] * _quota(n, 0.02, 1)
    )
    paths += ["unregistered"] * (n - len(paths))
    rng.shuffle(paths)
    for person, path in zip(rest, paths, strict=True):
        person.path = path
        if path in ("corrected", "reconfirmed"):
            person.photo, person.correction = "late", NO_PHOTO
        elif path == "correction":
            person.correction = rng.choice(CORRECTIONS)
    # About 8 % of all records have no photo (student04 is one of them).
    corrections = [p for p in rest if p.path == "correction"]
    missing = corrections[: math.ceil(len(corrections) / 2)]
    for person in missing:
        person.correction = NO_PHOTO
    others = [p for p in rest if p.path in ("unregistered", "pending")]
    missing += rng.sample(others, max(0, round(current * 0.08) - 1 - len(missing)))
    for person in missing:
        person.photo = "none"
    # About 2 % hold another kind of ID document.
    for i, person in enumerate(rng.sample(rest, _quota(current, 0.02, 1))):
        person.id_type = OTHER_ID_TYPES[i % len(OTHER_ID_TYPES)]
        numbers.ids.discard(person.id_number)
        person.id_number = numbers.id_number(rng, person.id_type, person.birth, person.gender, person.area)
    past = [_person(rng, numbers, year - 1, past=True) for _ in range(previous)]
    for i, person in enumerate(past):
        person.path = ("confirmed", "confirmed", "offline", "linked_offline", "confirmed", "unregistered")[
            i % 6
        ]
    # Photo backgrounds: mostly light blue, some white or grey, ~3 % red.
    for person in demo + rest + past:
        r = rng.random()
        if person.demo:
            person.pool = rng.randrange(18)
        elif r < 0.03:
            person.pool = POOL_SIZE - 1
        else:
            person.pool = rng.randrange(18) if r < 0.87 else rng.randrange(18, POOL_SIZE - 1)
    # When each story starts: during the last week, or before last year's deadline.
    past_deadline = _utc(datetime.date(year - 1, 3, 17))
    for person in demo + rest + past:
        if person.past:
            person.start = (
                past_deadline - datetime.timedelta(days=20) + datetime.timedelta(days=17) * rng.random()
            )
        else:
            person.start = now - datetime.timedelta(days=7) + datetime.timedelta(days=6) * rng.random()
    return demo + rest + past


# (account, path, photo) for the demo students that own a record, in order;
# student06 owns none (it claims student07's ID number).
DEMO_PATHS = (
    ("student01", "unregistered", "yes"),
    ("student02", "pending", "yes"),
    ("student03", "confirmed", "yes"),
    ("student04", "pending", "none"),
    ("student05", "unregistered", "yes"),
    ("student07", "pending", "yes"),
    ("student08", "corrected", "late"),
)


def _utc(local_date, hour=17):
    """A local date at `hour` o'clock as naive UTC."""
    local = datetime.datetime.combine(local_date, datetime.time(hour), ZoneInfo(TIMEZONE))
    return local.astimezone(datetime.UTC).replace(tzinfo=None)


# --- photos: a small pool of drawn portraits, one stored copy per record ------


def _portrait(i, background):
    portrait = photos.make_portrait_set(photos.placeholder_portrait(1000 + i, background, label="DEMO"))
    return portrait, ",".join(photos.compliance(portrait.master, portrait.national))


@functools.cache
def _photo_pool():
    """[(PortraitSet, compliance)]: 18 light blue, 3 white, 2 grey, 1 red.

    The same bytes every time, so kept for the process (tests seed often).
    """
    backgrounds = [photos.LIGHT_BLUE] * 18 + [photos.WHITE] * 3 + [photos.LIGHT_GREY] * 2 + [RED]
    return tuple(_portrait(i, background) for i, background in enumerate(backgrounds))


def _sha(base, salt):
    return hashlib.sha256(f"{base}:{salt}".encode()).hexdigest()


def _swap_digits(number):
    """A resident ID number with two adjacent digits swapped: a possible
    birth date, but the check digit no longer fits."""
    for i in (15, 14, 13, 12, 11, 10, 9, 8, 7, 6):
        swapped = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        try:
            datetime.date(int(swapped[6:10]), int(swapped[10:12]), int(swapped[12:14]))
        except ValueError:
            continue
        if swapped != number and idcard.check_digit(swapped[:17]) != swapped[17]:
            return swapped
    raise ValueError("no digits to swap")


def _store_photos(rng, people, pool, keys):
    """Write the files of every photo (their keys go to `keys`); returns
    [(Person, Photo row)]."""
    rows = []

    def store(person, salt, **fields):
        portrait, compliance = pool[person.pool]
        sha = _sha(portrait.sha256, salt)
        key = photostore.save(dataclasses.replace(portrait, sha256=sha))
        keys.append(key)
        row = {
            "sha256": sha,
            "key": key,
            "src_filename": f"{person.student_no}.jpg",
            "src_school": SCHOOL,
            "src_name": person.name,
            "src_id_number": person.id_number,
            "src_student_no": person.student_no,
            "compliance": compliance,
            "unmatched_reason": "",
            "created_at": person.start - datetime.timedelta(days=3),
        }
        row.update(fields)
        rows.append((person, row))

    for person in people:
        if person.photo == "yes":
            store(person, person.student_no)
        elif person.photo == "late":
            # The collection misspelt the name; staff attach it when the
            # student's correction arrives.
            store(
                person,
                person.student_no,
                src_name=demo_names.typo(rng, person.name),
                unmatched_reason=UNMATCHED_REASONS["name"],
            )
    # Unmatched photos of records without one, for staff to attach.
    owners = [p for p in people if p.demo == "student04"]
    owners += [p for p in people if p.photo == "none" and not p.demo and p.id_type == idcard.RESIDENT]
    count = 5 if len(people) > 100 else 2
    for i, person in enumerate(owners[:count]):
        kind = ("name", "id", "school")[i % 3]
        fields = {
            "src_filename": f"{person.id_number}.jpg",
            "src_student_no": "",
            "unmatched_reason": UNMATCHED_REASONS[kind],
        }
        if kind == "name":
            fields["src_name"] = demo_names.typo(rng, person.name)
        elif kind == "id":
            fields["src_id_number"] = fields["src_filename"] = _swap_digits(person.id_number)
            fields["src_filename"] += ".jpg"
        else:
            fields["src_school"] = SCHOOL.replace("大学", "学院")
        person.pool = rng.randrange(18)
        store(person, f"unmatched:{person.student_no}", **fields)
    return rows


# --- writing -------------------------------------------------------------------


def _insert(model, rows):
    """insert_many in chunks that stay under SQLite's 999 variables."""
    if rows:
        for chunk in chunked(rows, max(1, min(100, 900 // len(rows[0])))):
            model.insert_many(chunk).execute()


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
    _insert(
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
    staff = {u.college_id: u for u in User.select().where(User.role == "staff")}

    _insert(Photo, [row for _person, row in photo_rows])
    photo_ids = dict(Photo.select(Photo.sha256, Photo.id).tuples())
    attached = {}  # student_no → photo id, for the records that show one
    late = {}  # student_no → photo id, attached by a correction
    for person, row in photo_rows:
        if not row["unmatched_reason"]:
            attached[person.student_no] = photo_ids[row["sha256"]]
        elif person.photo == "late":
            late[person.student_no] = photo_ids[row["sha256"]]

    _insert(
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

    users = _student_accounts(rng, people, student_hash, now)
    by_demo = {p.demo: p for p in people if p.demo}
    for person in people:
        record = by_no[person.student_no]
        _play(rng, person, record, users.get(person.student_no), staff[record.college_id], late)
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
    emails, request_guide = demo_requests.seed_open_requests(rng, *free, DOMAIN, student_hash, now)
    logins += [Login("student", email, STUDENT_PASSWORD) for email in emails]
    _backdate(rng, people, by_no, users, first_event, first_mail, now)
    AuditEvent.log("demo.seed", reason=f"{len(people)} synthetic records")

    realname = _typed(by_demo["student01"])
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


def _typed(person, name=None):
    """The real-name data of a person, as a student types it (full ID number)."""
    province, city = _region(person.area) if person.id_type == idcard.RESIDENT else ("210000", "210200")
    return {
        "real_name": name or person.name,
        "gender": person.gender,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "birth_date": person.birth,
        "province": province,
        "city": city,
    }


def _student_accounts(rng, people, password_hash, now):
    """Accounts of the demo students and of every linked record; {student_no: User}."""
    rows = []
    for person in people:
        if not (person.demo or person.path in LINKED):
            continue
        created = person.start - datetime.timedelta(hours=rng.uniform(1, 72))
        row = {
            "email": f"{person.demo}@{DOMAIN}" if person.demo else f"s{person.student_no}@{DOMAIN}",
            "password_hash": password_hash,
            "role": "student",
            "created_at": created,
            "activated_at": created + datetime.timedelta(minutes=rng.uniform(1, 30)),
            **dict.fromkeys(
                ("real_name", "gender", "id_type", "id_number", "birth_date", "province", "city")
            ),
            "realname_at": None,
        }
        if person.demo == "student05":  # a typo in the name: no record found
            row.update(_typed(person, demo_names.typo(rng, person.name)))
        elif person.demo != "student01":  # student01 has yet to register
            row.update(_typed(person))
        if row["real_name"]:
            row["realname_at"] = person.start - datetime.timedelta(seconds=30)
        rows.append((person, row))
    twin = next(row for person, row in rows if person.demo == "student07")
    # student06 typed student07's name and ID number: "already registered".
    six = {
        **twin,
        "email": f"student06@{DOMAIN}",
        "created_at": now - datetime.timedelta(hours=5),
        "activated_at": now - datetime.timedelta(hours=5),
        "realname_at": now - datetime.timedelta(hours=4),
    }
    rows.insert(5, (None, six))
    _insert(User, [row for _person, row in rows])
    by_email = {u.email: u for u in User.select().where(User.role == "student")}
    return {person.student_no: by_email[row["email"]] for person, row in rows if person is not None}


def _play(rng, person, record, user, staff, late):
    """Walk one record through its path with the application's own functions."""
    path = person.path
    if path == "offline":
        _offline(rng, record, staff)
        return
    if path not in LINKED:
        return
    record = matching.link(user)
    if record is None:
        raise RuntimeError(f"demo account for {person.student_no} did not match its record")
    if path == "linked_offline":
        _offline(rng, record, staff)
    elif path == "confirmed":
        if person.past:
            _confirm_past(record, user)
        else:
            records.confirm(record, user)
    elif path in ("correction", "corrected", "reconfirmed"):
        request = _file_correction(rng, person, record, user)
        if path == "correction":
            return
        photo = Photo.get_by_id(late[person.student_no])
        casework.decide(request, staff, accept=True, note="已关联正确的照片", photo=photo)
        if path == "reconfirmed":
            records.confirm(Record.get_by_id(record.id), user)


def _file_correction(rng, person, record, user):
    """The student's 勘误表, through the same service as the online form."""
    kind, note = person.correction
    values, items = {}, ()
    if kind == "major":
        majors = next(c[5] for c in COLLEGES if c[0] == person.college)
        values["major"] = rng.choice([m[0] for m in majors if m[2] == person.level and m[0] != person.major])
    elif kind == "name":
        values["name"] = demo_names.typo(rng, person.name)
    else:
        items = (kind,)
    return casework.file_correction(user, record, values, items, note=note)


def _offline(rng, record, staff):
    """Staff record a paper confirmation (状态：线下确认), with its reason."""
    record.transition("confirmed_offline", actor=staff, reason=rng.choice(OFFLINE_REASONS))
    Confirmation.create(record=record, user=staff, kind="offline", fingerprint=records.fingerprint(record))


def _confirm_past(record, user):
    """records.confirm() without the deadline check, for last year's cohort."""
    Confirmation.create(record=record, user=user, fingerprint=records.fingerprint(record))
    record.transition("confirmed", actor=user, reason="student confirmed")


# The audit events that close what one person does at a time.
ACTION_ENDS = {"account.link", "request.file", "request.accept"}


def _backdate(rng, people, by_no, users, first_event, first_mail, now):
    """Spread each story over time: its audit events, confirmation, requests
    and mails, and the record's last change."""
    person_of = {by_no[p.student_no].id: p for p in people}
    owners = {
        "record": lambda rid: rid,
        "user": {u.id: by_no[no].id for no, u in users.items()}.get,
        "request": dict(Request.select(Request.id, Request.record).tuples()).get,
    }
    stories = {}
    events = AuditEvent.select(AuditEvent.id, AuditEvent.target_type, AuditEvent.target_id, AuditEvent.action)
    for event in events.where(AuditEvent.id > first_event).order_by(AuditEvent.id):
        rid = owners[event.target_type](event.target_id) if event.target_type in owners else None
        if rid is not None:
            stories.setdefault(rid, []).append(event)
    for rid, story in stories.items():
        person = person_of[rid]
        end = _utc(datetime.date(person.graduating_on.year, 3, 17)) if person.past else now
        at = person.start
        for event in story:
            AuditEvent.update(at=at).where(AuditEvent.id == event.id).execute()
            if event.action == "request.file":
                Request.update(created_at=at).where(Request.id == event.target_id).execute()
            elif event.action == "request.accept":
                Request.update(decided_at=at).where(Request.id == event.target_id).execute()
                request = Request.get_by_id(event.target_id)
                OutboxMail.update(created_at=at, next_attempt_at=at).where(
                    (OutboxMail.id > first_mail) & (OutboxMail.user == request.user_id)
                ).execute()
            last = at
            # Events of one action are a second apart; the next action comes later.
            if event.action in ACTION_ENDS:
                step = datetime.timedelta(minutes=rng.uniform(2, 36 * 60))
            else:
                step = datetime.timedelta(seconds=rng.uniform(0.2, 2))
            at = min(at + step, end - datetime.timedelta(minutes=5))
        Record.update(changed_at=last).where(Record.id == rid).execute()
        Confirmation.update(at=last).where(Confirmation.record == rid).execute()
    # The demo's mails were never sent: kept in the outbox as if printed to the console.
    OutboxMail.update(status="console", sent_at=OutboxMail.created_at).where(
        OutboxMail.id > first_mail
    ).execute()


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
