"""What a student request is: its kinds, labels, errors and the open-request lookups.

Students file three kinds of request (services.casework.filing); staff
decide each once (services.casework.decisions).
"""

from typing import Any

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from models import Record, Request, User
from services.vocab import REQUEST_KIND_LABELS, REQUEST_STATUS_LABELS, RequestKind, RequestStatus

# The kinds and their labels are the named vocabulary's (services.vocab);
# these short names are what the casework modules and their callers use.
CORRECTION, ID_CHANGE, ID_DISPUTE = RequestKind.CORRECTION, RequestKind.ID_CHANGE, RequestKind.ID_DISPUTE
KINDS = REQUEST_KIND_LABELS
STATUS_LABELS = REQUEST_STATUS_LABELS
REJECT_REASONS = {
    "unreadable": _l("The ID picture cannot be read."),
    "mismatch": _l("The ID picture does not show the data you gave."),
    "registry_correct": _l("The registry data is correct as it is."),
    "duplicate": _l("This repeats an earlier request."),
    "other": _l("Other reason (see the note)."),
}
PHOTO_MISSING, PHOTO_WRONG = "photo_missing", "photo_wrong"
# Record fields a correction may name, in form order; dates as YYYY-MM-DD.
FIELDS = [
    "name",
    "gender",
    "id_type",
    "id_number",
    "birth_date",
    "ethnicity",
    "student_no",
    "college",
    "major",
    "class_name",
    "level",
    "study_mode",
    "enrolled_on",
    "graduating_on",
]
DATE_FIELDS = {"birth_date", "enrolled_on", "graduating_on"}
PHOTO_ITEMS = (PHOTO_MISSING, PHOTO_WRONG)


class RequestError(ValueError):
    """A request cannot be filed or decided; `.message` is for the user."""

    def __init__(self, message: Any, **params: Any) -> None:
        super().__init__(str(message))
        self.message = message
        self.params = params


class Conflict(RequestError):
    """The record changed since the page was shown: the change is refused (HTTP 409)."""


class AlreadyDecided(RequestError):
    """Another staff member decided first."""

    def __init__(self, request: Request) -> None:
        who = request.decided_by.email if request.decided_by else "?"
        super().__init__(
            _l(
                "Already decided by %(who)s at %(when)s.",
                who=who,
                when=format_datetime(request.decided_at, "short"),
            )
        )
        self.request = request


def open_request(kind: str, user: User | None = None, record: Record | None = None) -> Request | None:
    """The open request of a kind for a user or record, if any."""
    query = Request.select().where((Request.kind == kind) & (Request.status == RequestStatus.OPEN))
    if user is not None:
        query = query.where(Request.user == user)
    if record is not None:
        query = query.where(Request.record == record)
    return query.order_by(Request.id).first()  # the oldest, on either database


def deadline_problem(record: Record | None) -> LazyString | None:
    """None while requests may be filed for this record, else the reason."""
    if record is not None and record.cohort.phase() != "open":
        return _l(
            "The deadline for corrections (%(date)s) has passed. Please contact your college office.",
            date=record.cohort.confirm_deadline.isoformat(),
        )
    return None
