"""Each planned record walks its story through the application's own code
(`matching.link`, `records.confirm`, `casework`), then the story is spread
over a plausible timeline (`backdate`).
"""

import datetime
import random
from collections.abc import Callable
from typing import Any

from peewee import Model, chunked

from models import AuditEvent, Confirmation, OutboxMail, Photo, Record, Request, User
from services import casework, idcard, matching, records
from services.demo import names
from services.demo.people import Person, region, utc
from services.demo.settings import COLLEGES, DOMAIN, LINKED, OFFLINE_REASONS
from services.vocab import RecordStatus, Role


def insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """insert_many in chunks that stay under SQLite's 999 variables."""
    if rows:
        for chunk in chunked(rows, max(1, min(100, 900 // len(rows[0])))):
            model.insert_many(chunk).execute()


def typed(person: Person, name: str | None = None) -> dict[str, Any]:
    """The real-name data of a person, as a student types it (full ID number)."""
    province, city = region(person.area) if person.id_type == idcard.RESIDENT else ("210000", "210200")
    return {
        "real_name": name or person.name,
        "gender": person.gender,
        "id_type": person.id_type,
        "id_number": person.id_number,
        "birth_date": person.birth,
        "province": province,
        "city": city,
    }


def student_accounts(
    rng: random.Random, people: list[Person], password_hash: str, now: datetime.datetime
) -> dict[str, User]:
    """Accounts of the demo students and of every linked record; {student_no: User}."""
    rows: list[tuple[Person | None, dict[str, Any]]] = []
    for person in people:
        if not (person.demo or person.path in LINKED):
            continue
        assert person.start is not None  # plan() gives every person a start
        created = person.start - datetime.timedelta(hours=rng.uniform(1, 72))
        row = {
            "email": f"{person.demo}@{DOMAIN}" if person.demo else f"s{person.student_no}@{DOMAIN}",
            "password_hash": password_hash,
            "role": Role.STUDENT,
            "created_at": created,
            "activated_at": created + datetime.timedelta(minutes=rng.uniform(1, 30)),
            **dict.fromkeys(
                ("real_name", "gender", "id_type", "id_number", "birth_date", "province", "city")
            ),
            "realname_at": None,
        }
        if person.demo == "student05":  # a typo in the name: no record found
            row.update(typed(person, names.typo(rng, person.name)))
        elif person.demo != "student01":  # student01 has yet to register
            row.update(typed(person))
        if row["real_name"]:
            row["realname_at"] = person.start - datetime.timedelta(seconds=30)
        rows.append((person, row))
    twin = next(row for person, row in rows if person is not None and person.demo == "student07")
    # student06 typed student07's name and ID number: "already registered".
    six = {
        **twin,
        "email": f"student06@{DOMAIN}",
        "created_at": now - datetime.timedelta(hours=5),
        "activated_at": now - datetime.timedelta(hours=5),
        "realname_at": now - datetime.timedelta(hours=4),
    }
    rows.insert(5, (None, six))
    insert(User, [row for _person, row in rows])
    by_email = {u.email: u for u in User.select().where(User.role == Role.STUDENT)}
    return {person.student_no: by_email[row["email"]] for person, row in rows if person is not None}


def play(
    rng: random.Random, person: Person, record: Record, user: User | None, staff: User, late: dict[str, int]
) -> None:
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
        values["name"] = names.typo(rng, person.name)
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
    record.transition(RecordStatus.CONFIRMED, actor=user, reason="student confirmed")


# The audit events that close what one person does at a time.
ACTION_ENDS = {"account.link", "request.file", "request.accept"}


def backdate(
    rng: random.Random,
    people: list[Person],
    by_no: dict[str, Record],
    users: dict[str, User],
    first_event: int,
    first_mail: int,
    now: datetime.datetime,
) -> None:
    """Spread each story over time: its audit events, confirmation, requests
    and mails, and the record's last change."""
    person_of = {by_no[p.student_no].id: p for p in people}
    # .tuples() yields tuples; peewee's stubs say models.
    request_records: dict[int, int] = dict(Request.select(Request.id, Request.record).tuples())  # type: ignore[arg-type]
    owners: dict[str, Callable[[Any], Any]] = {
        "record": lambda rid: rid,
        "user": {u.id: by_no[no].id for no, u in users.items()}.get,
        "request": request_records.get,
    }
    stories: dict[int, list[AuditEvent]] = {}
    events = AuditEvent.select(AuditEvent.id, AuditEvent.target_type, AuditEvent.target_id, AuditEvent.action)
    for event in events.where(AuditEvent.id > first_event).order_by(AuditEvent.id):
        rid = owners[event.target_type](event.target_id) if event.target_type in owners else None
        if rid is not None:
            stories.setdefault(rid, []).append(event)
    for rid, story in stories.items():
        person = person_of[rid]
        end = utc(datetime.date(person.graduating_on.year, 3, 17)) if person.past else now
        at = person.start
        assert at is not None  # plan() gives every person a start
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
