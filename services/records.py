"""What a student checks and confirms, and what happens when it changes.

A confirmation stores a fingerprint of exactly the data and photo shown.
When staff or an import change the record or its photo, the fingerprint no
longer matches: the confirmation is void, the record goes back to pending
and the student is told by mail to check again.
"""

import hashlib
import json

from flask_babel import lazy_gettext as _l
from peewee import ForeignKeyField

from models import Confirmation, Record, db, utcnow
from prepared import Param, Prepared
from services import mail, matching
from services.record_fields import SHOWN, raw_value
from services.vocab import RecordStatus

NO_PHOTO = _l("There is no photo yet, so the record cannot be confirmed. Use “Something is wrong”.")


class ConfirmRefused(ValueError):
    """Confirming is not possible now; `.message` says why."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def fingerprint(record):
    """SHA-256 of every shown field and of the photo's content."""
    data = {field: raw_value(record, field) for field, _label in SHOWN}
    data["photo"] = record.photo.sha256 if record.photo_id else None
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


_ACTIVE_CONFIRMATION = Prepared(
    Confirmation.select()
    .where((Confirmation.record == Param("record")) & Confirmation.void_at.is_null())
    .order_by(Confirmation.at.desc(), Confirmation.id.desc())
    .limit(1)
)


def active_confirmation(record):
    """The confirmation that is not void, if any."""
    return _ACTIVE_CONFIRMATION.first(record=record)


def can_confirm(record, now=None):
    """None when the student may press "正确" now, else the reason (lazy text)."""
    phase = record.cohort.phase(now)
    if record.photo_id is None:
        if record.retake_on is not None:
            return retake_text(record)
        return NO_PHOTO
    if record.status == RecordStatus.CORRECTION_REQUESTED:
        return _l("Your correction is being processed; you can confirm once it has been decided.")
    if record.status in (RecordStatus.CONFIRMED, RecordStatus.CONFIRMED_OFFLINE):
        return None
    if phase == "open":
        return None
    if phase == "recheck" and record.status == RecordStatus.CORRECTED:
        return None
    if phase == "recheck":
        return _l("Only records corrected by the college can be confirmed in the re-check window.")
    return _l("The deadline has passed; the record can no longer be confirmed online.")


def retake_text(record):
    """The student's next step when the college asked for a new photo."""
    return _l(
        "Photo needed: come to the photo session on %(date)s at %(place)s. "
        "You can confirm once your new photo is here.",
        date=record.retake_on.isoformat(),
        place=record.retake_place,
    )


def confirm(record, user, ip=""):
    """Confirm what is shown; a second tap returns the first confirmation.

    Call inside a transaction. Raises ConfirmRefused when not allowed.
    """
    current = _repeated_tap(record)
    if current is not None:
        return current
    if record.status == RecordStatus.CONFIRMED_OFFLINE:
        # A page opened before the college confirmed on paper (409, not a 500).
        raise ConfirmRefused(
            _l("Your college has already recorded your confirmation on paper. Nothing more to do.")
        )
    problem = can_confirm(record)
    if problem:
        raise ConfirmRefused(problem)
    confirmation = Confirmation.create(record=record, user=user, ip=ip, fingerprint=fingerprint(record))
    record.transition(RecordStatus.CONFIRMED, actor=user, ip=ip, reason="student confirmed")
    return confirmation


def _repeated_tap(record):
    """The active confirmation when `record` is confirmed exactly as it is
    now (a second tap of "正确"), else None."""
    if record.status != RecordStatus.CONFIRMED:
        return None
    current = active_confirmation(record)
    if current is not None and current.fingerprint == fingerprint(record):
        return current
    return None


def confirm_now(record, user, ip=""):
    """`confirm` in its own transaction, on the record as it is now (re-read
    inside the transaction). Raises ConfirmRefused, or StaleRecord when a
    concurrent tap confirmed first.

    A repeated tap on a record already confirmed as read is answered from
    that read, without a write transaction: on SQLite every write
    transaction waits for the one write lock, and double taps queueing
    behind each other's empty transactions made the confirm POST's p99
    several hundred ms under load (issue 14)."""
    current = _repeated_tap(record)
    if current is not None:
        return current
    with db.atomic():
        return confirm(matching.reread(record), user, ip=ip)


def void(record, reason, actor=None, ip="", link=None, notify=True):
    """Void the active confirmation; confirmed → pending; mail the student
    (unless ``notify`` is false: the caller sends its own mail)."""
    now = utcnow()
    voided = (
        Confirmation.update(void_at=now, void_reason=reason)
        .where((Confirmation.record == record) & Confirmation.void_at.is_null())
        .execute()
    )
    if record.status == RecordStatus.CONFIRMED:
        record.transition(RecordStatus.PENDING, actor=actor, ip=ip, reason=reason)
    if voided and record.account_id and notify:
        user = record.account
        mail.queue_to(
            user,
            "record_changed",
            _l("Your graduation record changed: please check it again"),
            link=link("student.record.index") if link else None,
        )
    return voided


def apply_changes(
    record, changes, actor=None, reason="", ip="", link=None, expected_version=None, notify=True
):
    """Change record fields (and/or its photo); void a confirmation that no longer fits.

    Call inside a transaction. Returns the names of the fields that changed.
    """
    changed = {k: v for k, v in changes.items() if _differs(record, k, v)}
    if not changed:
        return []
    before = fingerprint(record)
    record.touch(actor=actor, reason=reason, ip=ip, expected_version=expected_version, **changed)
    record = Record.get_by_id(record.id)
    if fingerprint(record) != before and active_confirmation(record) is not None:
        void(record, reason or "record changed", actor=actor, ip=ip, link=link, notify=notify)
    return sorted(changed)


def _differs(record, field, new):
    if isinstance(Record._meta.fields[field], ForeignKeyField):
        return record.__data__.get(field) != getattr(new, "id", new)
    return getattr(record, field) != new


def confirm_window(record, now=None):
    """(first, last) local dates on which the student may confirm a corrected
    record, or None once that is over; first is None while the normal
    deadline still runs ("by <last>"). The record page and the decision
    mail both take their dates from here, so they never disagree."""
    cohort = record.cohort
    today = cohort.local_today(now)
    if today <= cohort.confirm_deadline:
        return None, cohort.confirm_deadline
    if today <= cohort.recheck_end:
        return cohort.recheck_start, cohort.recheck_end
    return None


def window_text(window):
    """The sentence that names a confirm window, for page and mail alike."""
    if window is None:
        return _l("The time for confirming online is over.")
    first, last = window
    if first is None:
        return _l("Please check it again and confirm by %(date)s.", date=last.isoformat())
    return _l(
        "Please check it again and confirm between %(start)s and %(end)s.",
        start=first.isoformat(),
        end=last.isoformat(),
    )


CORRECTED = _l("Your record was corrected.")

# What the record page offers as the one next step (see next_step()).
DECIDE, REPORT, WAIT, DONE, CLOSED = "decide", "report", "wait", "done", "closed"


def next_step(record, now=None):
    """(kind, message) for the student's record page: exactly one thing to do.

    kind is DECIDE (正确 / 有误), REPORT (only 有误: there is no photo yet),
    WAIT (the college acts first), DONE (nothing left) or CLOSED (too late
    online). The message says what and by when.
    """
    cohort = record.cohort
    phase = cohort.phase(now)
    if record.status == RecordStatus.CONFIRMED_OFFLINE:
        return DONE, _l("Your college recorded your confirmation offline. Nothing more to do.")
    if record.status == RecordStatus.CONFIRMED:
        return DONE, None  # the page names the confirmation date
    if record.status == RecordStatus.CORRECTION_REQUESTED:
        return WAIT, _l(
            "Your correction is with the college. You will get an e-mail when it is decided; nothing to do until then."
        )
    if record.photo_id is None:
        reason = can_confirm(record, now)
        if record.status == RecordStatus.CORRECTED or str(reason) != str(NO_PHOTO):
            # The college owes the photo (a retake, or an accepted correction).
            if str(reason) != str(NO_PHOTO):
                return WAIT, reason
            return WAIT, _l(
                "The college accepted your correction but has no photo for you yet. "
                "You will get an e-mail when it is there; then check and confirm."
            )
        if phase == "open":
            return REPORT, _l(
                "There is no graduation photo for you yet. Report it with “Something is wrong” "
                "before %(date)s so the college can find it.",
                date=cohort.confirm_deadline.isoformat(),
            )
        return CLOSED, _l("The deadline has passed. Please contact your college office.")
    if record.status == RecordStatus.CORRECTED:
        window = confirm_window(record, now)
        if can_confirm(record, now) is None:
            return DECIDE, _l("%(done)s %(next)s", done=CORRECTED, next=window_text(window))
        if window is not None:
            return WAIT, _l("%(done)s %(next)s", done=CORRECTED, next=window_text(window))
        return CLOSED, window_text(None)
    if can_confirm(record, now) is None:
        return DECIDE, _l(
            "Please check and confirm before %(date)s (%(days)d days left).",
            date=cohort.confirm_deadline.isoformat(),
            days=cohort.days_left(now),
        )
    return CLOSED, _l("The deadline has passed; the record can no longer be confirmed online.")
