"""Staff decide an open request once; students may withdraw one before that.

A decision is one transaction: the request row, the record and account
changes, the audit event and the mail to the student.
"""

import datetime
from collections.abc import Callable
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from models import (
    AuditEvent,
    College,
    IllegalTransition,
    Photo,
    Record,
    Request,
    StaleRecord,
    User,
    db,
    utcnow,
)
from services import idcard, mail, matching, records
from services.casework.kinds import (
    CORRECTION,
    DATE_FIELDS,
    ID_CHANGE,
    ID_DISPUTE,
    KINDS,
    PHOTO_ITEMS,
    PHOTO_MISSING,
    REJECT_REASONS,
    AlreadyDecided,
    Conflict,
    RequestError,
)
from services.vocab import RecordStatus, RequestStatus


def _close(request, status, actor, reject_reason="", note=""):
    """Move an open request to `status` exactly once; raise AlreadyDecided otherwise."""
    now = utcnow()
    updated = (
        Request.update(
            status=status,
            decided_at=now,
            decided_by=actor,
            reject_reason=reject_reason,
            decision_note=note,
        )
        .where((Request.id == request.id) & (Request.status == RequestStatus.OPEN))
        .execute()
    )
    if updated != 1:
        raise AlreadyDecided(Request.get_by_id(request.id))
    return Request.get_by_id(request.id)


def withdraw(request: Request, user: User, ip: str = "") -> Request:
    """The student takes back an undecided request."""
    with db.atomic():
        request = _close(request, "withdrawn", user)
        _undo_hold(request, user, ip, "withdrawn")
        AuditEvent.log("request.withdraw", actor=user, target=request, ip=ip)
    return request


def _undo_hold(request, actor, ip, why):
    """After a withdrawal or rejection: release what filing the request held."""
    if request.kind == CORRECTION and request.record_id:
        record = Record.get_by_id(request.record_id)
        if record.status == "correction_requested":
            record.transition(RecordStatus.PENDING, actor=actor, ip=ip, reason=f"correction {why}")
    elif request.kind == ID_DISPUTE and request.holder_id:
        matching.link(request.holder)


def parse_value(field: str, value: str) -> Any:
    """A correction's text value as the record field's type."""
    if field in DATE_FIELDS:
        return datetime.date.fromisoformat(value)
    if field == "college":
        college = College.get_or_none(College.name == value)
        if college is None:
            raise RequestError(_l("No college is called “%(name)s”. Choose the right value.", name=value))
        return college
    return value


def decide(
    request: Request,
    actor: User,
    accept: bool,
    reject_reason: str = "",
    note: str = "",
    photo: Photo | None = None,
    ip: str = "",
    link: Callable[..., str] | None = None,
) -> Request:
    """Accept or reject an open request; one transaction, audit event and mail."""
    if not accept and reject_reason not in REJECT_REASONS:
        raise RequestError(_l("Choose a reason for the rejection."))
    try:
        with db.atomic():
            request = _close(
                request,
                RequestStatus.ACCEPTED if accept else RequestStatus.REJECTED,
                actor,
                reject_reason,
                note,
            )
            if accept:
                _APPLY[request.kind](request, actor, photo, ip, link)
            else:
                _undo_hold(request, actor, ip, RequestStatus.REJECTED)
            AuditEvent.log(
                "request.accept" if accept else "request.reject",
                actor=actor,
                target=request,
                ip=ip,
                reason=note or reject_reason,
            )
            _mail_decision(request, link)
    except (IllegalTransition, StaleRecord):
        raise Conflict(
            _l(
                "The record changed in the meantime (its status no longer allows this). "
                "Reload and decide again."
            )
        ) from None
    except IntegrityError:
        raise RequestError(
            _l("This change clashes with another record (e.g. the same student number).")
        ) from None
    return request


# Record fields mirrored in the linked account's real-name data, so that
# matching, disputes and 找回用户名 keep working after a correction.
ACCOUNT_FIELDS = {
    "name": "real_name",
    "id_type": "id_type",
    "id_number": "id_number",
    "gender": "gender",
    "birth_date": "birth_date",
}


def _apply_correction(request, actor, photo, ip, link):
    if request.record_id is None:
        raise RequestError(_l("The record of this correction no longer exists."))
    record = Record.get_by_id(request.record_id)
    changes = {}
    for item in request.items:
        if item.field in PHOTO_ITEMS:
            continue
        changes[item.field] = parse_value(item.field, item.new_value)
        if item.field == "name":
            changes["name_key"] = matching.name_key(item.new_value)
    if photo is not None:
        changes["photo"] = photo
        Photo.update(unmatched_reason="").where(Photo.id == photo.id).execute()
    elif (
        record.photo_id is None
        and record.retake_at is None
        and any(item.field == PHOTO_MISSING for item in request.items)
    ):
        # Accepting "no photo" without giving one sends the student in a circle.
        raise RequestError(_l("The student has no photo: upload one, attach one or ask for a retake."))
    records.apply_changes(record, changes, actor=actor, reason=f"correction {request.id}", ip=ip, link=link)
    record = Record.get_by_id(record.id)
    if record.account_id:
        account_changes = {ACCOUNT_FIELDS[f]: v for f, v in changes.items() if f in ACCOUNT_FIELDS}
        if account_changes:
            User.update(**account_changes).where(User.id == record.account_id).execute()
    record.transition("corrected", actor=actor, ip=ip, reason=f"correction {request.id} accepted")


def _apply_id_change(request, actor, photo, ip, link):
    user = User.get_by_id(request.user_id)
    other = matching.holder_of(request.id_type, request.id_number, exclude=user)
    if other is not None:
        raise RequestError(_l("Another account holds this ID number: decide it as an ID dispute instead."))
    previous = f"{user.id_type}:{idcard.mask(user.id_number or '')}"
    user.id_type, user.id_number = request.id_type, request.id_number
    user.save()
    AuditEvent.log("account.id_change", actor=actor, target=user, ip=ip, reason=previous)
    matching.link(user, ip=ip)


def _apply_dispute(request, actor, photo, ip, link):
    holder = User.get_by_id(request.holder_id) if request.holder_id else None
    if holder is not None and holder.id_number == request.id_number:
        holder.id_type = holder.id_number = None
        holder.realname_at = None
        holder.session_version += 1
        holder.save()
        AuditEvent.log(
            "account.id_removed", actor=actor, target=holder, ip=ip, reason=f"dispute {request.id}"
        )
        mail.queue_to(
            holder,
            "id_removed",
            _l("Your GradProof account no longer holds an ID number"),
            link=link("student.auth.login") if link else None,
        )
    matching.link(User.get_by_id(request.user_id), ip=ip)


_APPLY: dict[str, Callable[..., None]] = {
    CORRECTION: _apply_correction,
    ID_CHANGE: _apply_id_change,
    ID_DISPUTE: _apply_dispute,
}


def _mail_decision(request, link):
    user = request.user
    cohort = request.record.cohort if request.record_id else None
    next_step = None
    if request.record_id and request.status == RequestStatus.ACCEPTED and request.kind == CORRECTION:
        # The very sentence the record page shows as the next step, so mail
        # and page name the same dates (services.records.confirm_window).
        with force_locale(user.locale):
            next_step = str(records.next_step(Record.get_by_id(request.record_id))[1] or "")
    mail.queue(
        request.reply_email or user.email,
        "request_decided",
        _l("Your request has been decided: %(kind)s", kind=KINDS[request.kind]),
        locale=user.locale,
        user=user,
        request=request,
        kind=KINDS[request.kind],
        accepted=request.status == RequestStatus.ACCEPTED,
        reason=REJECT_REASONS.get(request.reject_reason, ""),
        note=request.decision_note,
        cohort=cohort,
        next_step=next_step,
        link=link("student.problems.index") if link else None,
    )
