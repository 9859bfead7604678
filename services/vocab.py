"""The named vocabulary: record statuses, request kinds and statuses, roles,
and the labels people see for them, in one module.

Each name is a `StrEnum` whose values are the strings stored in the
database and used in URLs, forms and templates (`RecordStatus.PENDING ==
"pending"`), so a member can go wherever the string went and a label table
keyed by members answers plain strings too (`RECORD_STATUS_LABELS["pending"]`).

This module imports nothing of GradProof: models.py and every layer above
may use it.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString


class RecordStatus(StrEnum):
    """Where a graduate's record stands (models.Record.status; the state
    machine is models.TRANSITIONS)."""

    UNREGISTERED = "unregistered"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CONFIRMED_OFFLINE = "confirmed_offline"
    CORRECTION_REQUESTED = "correction_requested"
    CORRECTED = "corrected"


RECORD_STATUS_LABELS: dict[RecordStatus, LazyString] = {
    RecordStatus.UNREGISTERED: _l("Unregistered"),
    RecordStatus.PENDING: _l("Pending"),
    RecordStatus.CONFIRMED: _l("Confirmed"),
    RecordStatus.CONFIRMED_OFFLINE: _l("Confirmed offline"),
    RecordStatus.CORRECTION_REQUESTED: _l("Correction requested"),
    RecordStatus.CORRECTED: _l("Corrected"),
}
# Statuses that count as done on the dashboard and in exports.
DONE = (RecordStatus.CONFIRMED, RecordStatus.CONFIRMED_OFFLINE)


class RequestKind(StrEnum):
    """What a student's request asks for (models.Request.kind)."""

    CORRECTION = "correction"  # 数据检查勘误表: wrong registry data
    ID_CHANGE = "id_change"  # wrong ID number at real-name registration
    ID_DISPUTE = "id_dispute"  # someone else holds the student's ID number


# One request of a kind ("ID change request"), and the staff queue of them ("ID change requests").
REQUEST_KIND_LABELS: dict[RequestKind, LazyString] = {
    RequestKind.CORRECTION: _l("Correction"),
    RequestKind.ID_CHANGE: _l("ID change request"),
    RequestKind.ID_DISPUTE: _l("ID dispute"),
}
QUEUE_LABELS: dict[RequestKind, LazyString] = {
    RequestKind.CORRECTION: _l("Corrections"),
    RequestKind.ID_CHANGE: _l("ID change requests"),
    RequestKind.ID_DISPUTE: _l("ID disputes"),
}


class RequestStatus(StrEnum):
    """Where a request stands (models.Request.status): open until staff
    decide it or the student withdraws it, then never again."""

    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# As the student sees them (the staff queue filters label "open" as "Open").
REQUEST_STATUS_LABELS: dict[RequestStatus, LazyString] = {
    RequestStatus.OPEN: _l("Waiting for the college"),
    RequestStatus.ACCEPTED: _l("Accepted"),
    RequestStatus.REJECTED: _l("Rejected"),
    RequestStatus.WITHDRAWN: _l("Withdrawn"),
}


class Role(StrEnum):
    """Who an account belongs to (models.User.role). Pages never show a role
    by name, so roles have no labels."""

    STUDENT = "student"
    STAFF = "staff"
    ADMIN = "admin"


# Roles that work in the staff console (admins see every college).
STAFF_ROLES = (Role.STAFF, Role.ADMIN)
