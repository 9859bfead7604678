"""Demo photos: a small pool of drawn portraits, one stored copy per record,
and a few unmatched photos for staff to attach."""

import dataclasses
import datetime
import functools
import hashlib
import random
from collections.abc import Sequence
from typing import Any

from services import idcard, photos, photostore
from services.demo import names
from services.demo.people import Person
from services.demo.settings import RED, SCHOOL, UNMATCHED_REASONS


def _portrait(i, background):
    portrait = photos.make_portrait_set(photos.placeholder_portrait(1000 + i, background, label="DEMO"))
    return portrait, ",".join(photos.compliance(portrait.master, portrait.national))


@functools.cache
def photo_pool() -> tuple[tuple[photos.PortraitSet, str], ...]:
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


def store_photos(
    rng: random.Random,
    people: list[Person],
    pool: Sequence[tuple[photos.PortraitSet, str]],
    keys: list[str],
) -> list[tuple[Person, dict[str, Any]]]:
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
                src_name=names.typo(rng, person.name),
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
            fields["src_name"] = names.typo(rng, person.name)
        elif kind == "id":
            fields["src_id_number"] = fields["src_filename"] = _swap_digits(person.id_number)
            fields["src_filename"] += ".jpg"
        else:
            fields["src_school"] = SCHOOL.replace("大学", "学院")
        person.pool = rng.randrange(18)
        store(person, f"unmatched:{person.student_no}", **fields)
    return rows
