"""Planning the demo: every record of both cohorts with its story, all in memory.

A `Person` is one registry record being planned; `plan()` gives each one a
path (the steps it goes through), a photo and the time its story starts.
"""

import dataclasses
import datetime
import math
import random
from zoneinfo import ZoneInfo

from services import idcard, regions
from services.demo import names
from services.demo.settings import (
    COLLEGE_WEIGHTS,
    COLLEGES,
    CORRECTIONS,
    DEMO_PATHS,
    DEMO_STUDENTS,
    HOME_PROVINCES,
    NO_PHOTO,
    OTHER_ID_TYPES,
    PERMIT_AREAS,
    POOL_SIZE,
    SIZES,
    TIMEZONE,
)


@dataclasses.dataclass
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


def _area(rng, province):
    city = rng.choice(regions.cities(province))[0]
    return city[:4] + f"{rng.randint(2, 12):02d}" if city.endswith("00") else city


def region(area: str) -> tuple[str, str]:
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
    name, ethnicity = names.person_name(rng, gender, minority)
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


def plan(rng: random.Random, size: str, year: int, now: datetime.datetime) -> list[Person]:
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
    past_deadline = utc(datetime.date(year - 1, 3, 17))
    for person in demo + rest + past:
        if person.past:
            person.start = (
                past_deadline - datetime.timedelta(days=20) + datetime.timedelta(days=17) * rng.random()
            )
        else:
            person.start = now - datetime.timedelta(days=7) + datetime.timedelta(days=6) * rng.random()
    return demo + rest + past


def utc(local_date: datetime.date, hour: int = 17) -> datetime.datetime:
    """A local date at `hour` o'clock as naive UTC."""
    local = datetime.datetime.combine(local_date, datetime.time(hour), ZoneInfo(TIMEZONE))
    return local.astimezone(datetime.UTC).replace(tzinfo=None)
