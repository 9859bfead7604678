"""Photos staff may attach when they accept a correction.

The staff queue shows an open correction's candidates and attaches only one
of them; both go through here. `scope` limits a photo query to what the
staff member may see (blueprints.access.college_scope on Photo.college).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from models import Photo, Record, Request
from services.casework.kinds import CORRECTION
from services.vocab import RequestStatus

if TYPE_CHECKING:
    from peewee import ModelSelect

    PhotoQuery = ModelSelect[Photo]
    Scope = Callable[[PhotoQuery], PhotoQuery]


def photo_candidates(record: Record, request: Request, scope: Scope) -> PhotoQuery:
    """Unattached photos that could be the student's, newest first.

    Matched on the record's ID number or name, and on the values the
    correction asks for (the photo collection may hold the right ones).
    """
    numbers, names = {record.id_number}, {record.name}
    for fix in request.items:
        if fix.field == "id_number" and fix.new_value:
            numbers.add(fix.new_value)
        elif fix.field == "name" and fix.new_value:
            names.add(fix.new_value)
    attached = Record.select(Record.photo).where(Record.photo.is_null(False))
    # Staff see only the unmatched photos that point to their college.
    return (
        scope(Photo.select())
        .where(
            Photo.id.not_in(attached)
            & (Photo.src_id_number.in_(sorted(numbers - {""})) | Photo.src_name.in_(sorted(names - {""})))
        )
        .order_by(Photo.created_at.desc(), Photo.id.desc())
    )


def shown_candidates(request: Request, record: Record | None, scope: Scope, limit: int) -> list[Photo]:
    """The candidates an item shows: only an open correction of a record has any."""
    if request.kind != CORRECTION or record is None or request.status != RequestStatus.OPEN:
        return []
    return list(photo_candidates(record, request, scope).limit(limit))


def chosen_photo(request: Request, photo_id: int | None, scope: Scope) -> Photo | None:
    """The photo a staff member picked, if it is one of the request's candidates."""
    if request.kind != CORRECTION or not request.record_id or photo_id is None:
        return None
    record = Record.get_by_id(request.record_id)
    return photo_candidates(record, request, scope).where(Photo.id == photo_id).first()
