"""Students file the three problem paths of the notice online.

A correction (数据检查勘误表) names wrong record fields or photo items; an ID
change request asks to replace the ID number fixed at real-name
registration; an ID dispute says someone else holds the student's ID
number and holds that record unlinked until staff decide.
"""

import contextlib
from collections.abc import Iterable, Iterator

from flask_babel import lazy_gettext as _l

from models import AuditEvent, CorrectionItem, Record, Request, User, db
from services import idimages, matching, record_fields, records
from services.casework.kinds import (
    CORRECTION,
    ID_CHANGE,
    ID_DISPUTE,
    Conflict,
    RequestError,
    deadline_problem,
    open_request,
)


def file_correction(
    user: User,
    record: Record,
    values: dict[str, str],
    photo_items: Iterable[str] = (),
    note: str = "",
    ip: str = "",
) -> Request:
    """File a 勘误表 for `record`: {field: correct value} and/or photo items."""
    if not values and not photo_items:
        raise RequestError(_l("Tick at least one field that is wrong."))
    problem = deadline_problem(record)
    if problem:
        raise RequestError(problem)
    if open_request(CORRECTION, record=record):
        raise RequestError(_l("You already have an open correction. Withdraw it first to file a new one."))
    if record.status == "confirmed_offline":
        # A page opened before the college confirmed on paper.
        raise Conflict(
            _l(
                "Your college has already recorded your confirmation on paper. "
                "To change something, please contact the college office."
            )
        )
    with db.atomic():
        request = Request.create(
            kind=CORRECTION,
            user=user,
            record=record,
            college=record.college_id,
            note=note or "",
            previous_status=record.status,
        )
        for field, value in values.items():
            CorrectionItem.create(
                request=request,
                field=field,
                old_value=record_fields.raw_value(record, field),
                new_value=value,
            )
        for item in photo_items:
            CorrectionItem.create(request=request, field=item)
        # The student says what was shown is wrong: an earlier "正确" no longer stands.
        records.void(record, "correction filed", actor=user, ip=ip)
        record = Record.get_by_id(record.id)
        record.transition("correction_requested", actor=user, ip=ip, reason=f"request {request.id}")
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=CORRECTION)
    return request


def college_for_id(id_type: str | None, id_number: str | None, name: str | None = "") -> Record | None:
    """The college whose registry has this ID (or this name), for queue routing."""
    record = Record.get_or_none((Record.id_type == id_type) & (Record.id_number == id_number))
    if record is None and name:
        record = Record.get_or_none(Record.name_key == matching.name_key(name))
    return record


@contextlib.contextmanager
def _picture(image: str | bytes) -> Iterator[str]:
    """The image key for a new request row, inside the row's transaction.

    `image` is the key of a stored picture, or the bytes of a checked one
    (idimages.prepare): those are written as the transaction's last step.
    Either way the file is removed if the transaction fails, so a request
    that could not be filed leaves no picture without a row. (RequestErrors
    are raised before this point: the caller may keep the picture for the
    re-shown form.)
    """
    key = image if isinstance(image, str) else idimages.new_key()
    try:
        with db.atomic():
            yield key
            if not isinstance(image, str):
                idimages.write(key, image)
    except BaseException:
        idimages.delete(key)
        raise


def file_id_change(
    user: User,
    id_type: str,
    id_number: str,
    phone: str,
    reply_email: str,
    image: str | bytes,
    note: str = "",
    ip: str = "",
) -> Request:
    """Ask staff to replace the ID number fixed at real-name registration.

    `image`: the stored picture's key, or the bytes from idimages.prepare.
    """
    if open_request(ID_CHANGE, user=user):
        raise RequestError(_l("You already have an open ID change request."))
    record = college_for_id(id_type, id_number, user.real_name)
    if record is not None:
        problem = deadline_problem(record)
        if problem:
            raise RequestError(problem)
    with _picture(image) as image_key:
        request = Request.create(
            kind=ID_CHANGE,
            user=user,
            record=record,
            college=record.college_id if record else None,
            id_type=id_type,
            id_number=id_number,
            phone=phone or "",
            reply_email=reply_email or "",
            image_key=image_key,
            note=note or "",
        )
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=ID_CHANGE)
    return request


def file_dispute(
    user: User, phone: str, reply_email: str, image: str | bytes, note: str = "", ip: str = ""
) -> Request:
    """Someone else holds the student's ID number: hold the record unlinked."""
    holder = matching.holder_of(user.id_type, user.id_number, exclude=user)
    if holder is None:
        raise RequestError(_l("No other account holds your ID number any more. Please reload."))
    if open_request(ID_DISPUTE, user=user):
        raise RequestError(_l("You already have an open ID dispute."))
    record = matching.record_of(holder) or college_for_id(user.id_type, user.id_number, user.real_name)
    with _picture(image) as image_key:
        request = Request.create(
            kind=ID_DISPUTE,
            user=user,
            holder=holder,
            record=record,
            college=record.college_id if record else None,
            id_type=user.id_type,
            id_number=user.id_number,
            phone=phone or "",
            reply_email=reply_email or "",
            image_key=image_key,
            note=note or "",
        )
        if record is not None and record.account_id == holder.id:
            records.void(record, "ID dispute filed", actor=user, ip=ip)
            record = Record.get_by_id(record.id)
            record.transition("unregistered", actor=user, ip=ip, reason=f"dispute {request.id}", account=None)
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=ID_DISPUTE)
    return request
