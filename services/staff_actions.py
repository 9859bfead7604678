"""Staff actions on records: status changes, reminders, bulk runs.

Plain Python (no request): the blueprints pass the actor, the client IP and
`link(endpoint, **values)` for absolute URLs in mails.
"""

import datetime
from collections import Counter
from itertools import islice
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from peewee import JOIN

from models import (
    REASON_REQUIRED,
    STAFF_TRANSITIONS,
    AuditEvent,
    Cohort,
    College,
    Confirmation,
    IllegalTransition,
    OutboxMail,
    Record,
    StaleRecord,
    User,
    db,
    utcnow,
)
from services import mail, records
from services.vocab import DONE, RecordStatus

CHUNK = 500


def batched(items, size):
    """Chunks of at most `size` (itertools.batched is Python 3.12+)."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


class ReasonMissing(ValueError):
    """Confirmed offline (etc.) needs a reason."""


def change_status(record, target, actor, reason="", ip="", expected_version=None, link=None):
    """Apply a staff status change with its side effects. Call inside a transaction.

    Raises StaleRecord (the version differs), IllegalTransition (not a staff
    transition from here) or ReasonMissing.
    """
    if expected_version is not None and record.version != expected_version:
        raise StaleRecord(f"record {record.id} changed meanwhile")
    if target not in STAFF_TRANSITIONS.get(record.status, ()):
        raise IllegalTransition(record.status, target)
    reason = (reason or "").strip()
    if target in REASON_REQUIRED and not reason:
        raise ReasonMissing(target)
    leaving = record.status in DONE and target not in DONE
    if record.status == RecordStatus.CONFIRMED and target == RecordStatus.PENDING:
        # void() moves confirmed → pending itself and tells the student to check again.
        records.void(record, reason or "set back to pending by staff", actor=actor, ip=ip, link=link)
        return record
    record.transition(target, actor=actor, reason=reason, ip=ip, expected_version=record.version)
    if leaving:
        Confirmation.update(void_at=utcnow(), void_reason=reason or f"status set to {target}").where(
            (Confirmation.record == record) & Confirmation.void_at.is_null()
        ).execute()
    if target == RecordStatus.CONFIRMED_OFFLINE:
        Confirmation.create(
            record=record, user=actor, kind="offline", ip=ip, fingerprint=records.fingerprint(record)
        )
    return record


def change_status_now(record_id, target, actor, reason="", ip="", expected_version=None, link=None):
    """change_status in its own transaction, on the record as it is now."""
    with db.atomic():
        return change_status(Record.get_by_id(record_id), target, actor, reason, ip, expected_version, link)


def day_start(cohort, now):
    """Midnight of the cohort's local today, as naive UTC."""
    midnight = datetime.datetime.combine(cohort.local_today(now), datetime.time(), ZoneInfo(cohort.timezone))
    return midnight.astimezone(datetime.UTC).replace(tzinfo=None)


def remind_problem(record, cohort, reminded_at, now):
    if record.status in DONE:
        return "confirmed"
    if record.account_id is None:
        return "no_account"
    if record.status == RecordStatus.CORRECTION_REQUESTED:
        return "correction"
    phase = cohort.phase(now)
    if phase in ("closed", "over") or (phase == "recheck" and record.status != RecordStatus.CORRECTED):
        return "deadline"
    if record.account.disabled:
        return "disabled"
    if reminded_at is not None and reminded_at >= day_start(cohort, now):
        return "reminded"
    return None


def send_reminders(ids, actor, ip, link):
    """One reminder per student and local day, to linked students who have not confirmed."""
    done, skipped, now = 0, Counter(), utcnow()
    since = now - datetime.timedelta(days=2)  # covers "today" in any time zone
    record_url = link("student.record.index")
    for chunk in batched(ids, CHUNK):
        query = (
            Record.select(Record, Cohort, College, User)
            .join_from(Record, Cohort)
            .join_from(Record, College)
            .join_from(Record, User, JOIN.LEFT_OUTER, on=(Record.account == User.id))
            .where(Record.id.in_(chunk))
        )
        # Read the outbox inside the (immediate) transaction: two staff members
        # reminding at once cannot both see "not reminded yet".
        with db.atomic():
            chunk_records = list(query)
            accounts = [r.account_id for r in chunk_records if r.account_id]
            last = OutboxMail.select(OutboxMail.user, OutboxMail.created_at).where(
                (OutboxMail.kind == "reminder")
                & OutboxMail.user.in_(accounts)
                & (OutboxMail.created_at >= since)
            )
            reminded = {}
            for user_id, at in last.tuples():
                reminded[user_id] = max(at, reminded.get(user_id, at))
            for record in chunk_records:
                problem = remind_problem(record, record.cohort, reminded.get(record.account_id), now)
                if problem:
                    skipped[problem] += 1
                    continue
                user = record.account
                mail.queue_to(
                    user,
                    "reminder",
                    _l("Please check and confirm your graduation record"),
                    name=record.name,
                    deadline=record.cohort.confirm_deadline.isoformat(),
                    days=max(0, record.cohort.days_left(now)),
                    office=record.college.office_contact,
                    link=record_url,
                )
                reminded[user.id] = now
                AuditEvent.log("record.remind", actor=actor, target=record, ip=ip)
                done += 1
    return done, skipped


def bulk_status(ids, target, reason, actor, ip, link=None):
    """The toggle's rules on many records; each change is its own transaction."""
    done, skipped = 0, Counter()
    for chunk in batched(ids, CHUNK):
        for record in Record.select().where(Record.id.in_(chunk)).order_by(Record.id):
            if record.status == target:
                skipped["same"] += 1
                continue
            try:
                with db.atomic():
                    change_status(record, target, actor, reason, ip, link=link)
            except IllegalTransition:
                skipped[f"illegal:{record.status}"] += 1
            except StaleRecord:
                skipped["stale"] += 1
            else:
                done += 1
    return done, skipped
