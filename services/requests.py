"""The three problem paths of the notice, filed and decided online.

Students file corrections (数据检查勘误表), ID change requests and ID
disputes; staff accept or reject each once. A decision is one transaction:
the request row, the record and account changes, the audit event and the
mail to the student.
"""

import contextlib
import datetime

from flask_babel import force_locale, format_datetime
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from models import (
    AuditEvent,
    College,
    CorrectionItem,
    IllegalTransition,
    Photo,
    Record,
    Request,
    StaleRecord,
    User,
    db,
    utcnow,
)
from services import idcard, idimages, mail, matching, records

CORRECTION, ID_CHANGE, ID_DISPUTE = "correction", "id_change", "id_dispute"
KINDS = {
    CORRECTION: _l("Correction"),
    ID_CHANGE: _l("ID change request"),
    ID_DISPUTE: _l("ID dispute"),
}
STATUS_LABELS = {
    "open": _l("Waiting for the college"),
    "accepted": _l("Accepted"),
    "rejected": _l("Rejected"),
    "withdrawn": _l("Withdrawn"),
}
REJECT_REASONS = {
    "unreadable": _l("The ID picture cannot be read."),
    "mismatch": _l("The ID picture does not show the data you gave."),
    "registry_correct": _l("The registry data is correct as it is."),
    "duplicate": _l("This repeats an earlier request."),
    "other": _l("Other reason (see the note)."),
}
PHOTO_MISSING, PHOTO_WRONG = "photo_missing", "photo_wrong"
# Record fields a correction may name, in form order; dates as YYYY-MM-DD.
FIELDS = ["name", "gender", "id_type", "id_number", "birth_date", "ethnicity", "student_no",
          "college", "major", "class_name", "level", "study_mode", "enrolled_on", "graduating_on"]
DATE_FIELDS = {"birth_date", "enrolled_on", "graduating_on"}
PHOTO_ITEMS = (PHOTO_MISSING, PHOTO_WRONG)


class RequestError(ValueError):
    """A request cannot be filed or decided; `.message` is for the user."""

    def __init__(self, message, **params):
        super().__init__(str(message))
        self.message = message
        self.params = params


class Conflict(RequestError):
    """The record changed since the page was shown: the change is refused (HTTP 409)."""


class AlreadyDecided(RequestError):
    """Another staff member decided first."""

    def __init__(self, request):
        who = request.decided_by.email if request.decided_by else "?"
        super().__init__(_l("Already decided by %(who)s at %(when)s.", who=who,
                            when=format_datetime(request.decided_at, "short")))
        self.request = request


def open_request(kind, user=None, record=None):
    """The open request of a kind for a user or record, if any."""
    query = Request.select().where((Request.kind == kind) & (Request.status == "open"))
    if user is not None:
        query = query.where(Request.user == user)
    if record is not None:
        query = query.where(Request.record == record)
    return query.order_by(Request.id).first()  # the oldest, on either database


def disputed(record):
    """Whether an open ID dispute holds this record unlinked."""
    return open_request(ID_DISPUTE, record=record) is not None


def deadline_problem(record):
    """None while requests may be filed for this record, else the reason."""
    if record is not None and record.cohort.phase() != "open":
        return _l("The deadline for corrections (%(date)s) has passed. Please contact your college office.",
                  date=record.cohort.confirm_deadline.isoformat())
    return None


def file_correction(user, record, values, photo_items=(), note="", ip=""):
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
        raise Conflict(_l("Your college has already recorded your confirmation on paper. "
                          "To change something, please contact the college office."))
    with db.atomic():
        request = Request.create(kind=CORRECTION, user=user, record=record, college=record.college_id,
                                 note=note or "", previous_status=record.status)
        for field, value in values.items():
            CorrectionItem.create(request=request, field=field, old_value=records.raw_value(record, field),
                                  new_value=value)
        for item in photo_items:
            CorrectionItem.create(request=request, field=item)
        # The student says what was shown is wrong: an earlier "正确" no longer stands.
        records.void(record, "correction filed", actor=user, ip=ip)
        record = Record.get_by_id(record.id)
        record.transition("correction_requested", actor=user, ip=ip, reason=f"request {request.id}")
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=CORRECTION)
    return request


def college_for_id(id_type, id_number, name=""):
    """The college whose registry has this ID (or this name), for queue routing."""
    record = Record.get_or_none((Record.id_type == id_type) & (Record.id_number == id_number))
    if record is None and name:
        record = Record.get_or_none(Record.name_key == matching.name_key(name))
    return record


@contextlib.contextmanager
def _picture(image):
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


def file_id_change(user, id_type, id_number, phone, reply_email, image, note="", ip=""):
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
            kind=ID_CHANGE, user=user, record=record, college=record.college_id if record else None,
            id_type=id_type, id_number=id_number, phone=phone or "", reply_email=reply_email or "",
            image_key=image_key, note=note or "",
        )
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=ID_CHANGE)
    return request


def file_dispute(user, phone, reply_email, image, note="", ip=""):
    """Someone else holds the student's ID number: hold the record unlinked."""
    holder = matching.holder_of(user.id_type, user.id_number, exclude=user)
    if holder is None:
        raise RequestError(_l("No other account holds your ID number any more. Please reload."))
    if open_request(ID_DISPUTE, user=user):
        raise RequestError(_l("You already have an open ID dispute."))
    record = matching.record_of(holder) or college_for_id(user.id_type, user.id_number, user.real_name)
    with _picture(image) as image_key:
        request = Request.create(
            kind=ID_DISPUTE, user=user, holder=holder, record=record,
            college=record.college_id if record else None, id_type=user.id_type,
            id_number=user.id_number, phone=phone or "", reply_email=reply_email or "", image_key=image_key,
            note=note or "",
        )
        if record is not None and record.account_id == holder.id:
            records.void(record, "ID dispute filed", actor=user, ip=ip)
            record = Record.get_by_id(record.id)
            record.transition("unregistered", actor=user, ip=ip, reason=f"dispute {request.id}", account=None)
        AuditEvent.log("request.file", actor=user, target=request, ip=ip, reason=ID_DISPUTE)
    return request


def _close(request, status, actor, reject_reason="", note=""):
    """Move an open request to `status` exactly once; raise AlreadyDecided otherwise."""
    now = utcnow()
    updated = Request.update(
        status=status, decided_at=now, decided_by=actor, reject_reason=reject_reason, decision_note=note,
    ).where((Request.id == request.id) & (Request.status == "open")).execute()
    if updated != 1:
        raise AlreadyDecided(Request.get_by_id(request.id))
    return Request.get_by_id(request.id)


def withdraw(request, user, ip=""):
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
            record.transition("pending", actor=actor, ip=ip, reason=f"correction {why}")
    elif request.kind == ID_DISPUTE and request.holder_id:
        matching.link(request.holder)


def parse_value(field, value):
    """A correction's text value as the record field's type."""
    if field in DATE_FIELDS:
        return datetime.date.fromisoformat(value)
    if field == "college":
        college = College.get_or_none(College.name == value)
        if college is None:
            raise RequestError(_l("No college is called “%(name)s”. Choose the right value.", name=value))
        return college
    return value


def decide(request, actor, accept, reject_reason="", note="", photo=None, ip="", link=None):
    """Accept or reject an open request; one transaction, audit event and mail."""
    if not accept and reject_reason not in REJECT_REASONS:
        raise RequestError(_l("Choose a reason for the rejection."))
    try:
        with db.atomic():
            request = _close(request, "accepted" if accept else "rejected", actor, reject_reason, note)
            if accept:
                _APPLY[request.kind](request, actor, photo, ip, link)
            else:
                _undo_hold(request, actor, ip, "rejected")
            AuditEvent.log("request.accept" if accept else "request.reject", actor=actor, target=request,
                           ip=ip, reason=note or reject_reason)
            _mail_decision(request, link)
    except (IllegalTransition, StaleRecord):
        raise Conflict(_l("The record changed in the meantime (its status no longer allows this). "
                              "Reload and decide again.")) from None
    except IntegrityError:
        raise RequestError(_l("This change clashes with another record (e.g. the same student number).")) from None
    return request


# Record fields mirrored in the linked account's real-name data, so that
# matching, disputes and 找回用户名 keep working after a correction.
ACCOUNT_FIELDS = {"name": "real_name", "id_type": "id_type", "id_number": "id_number",
                  "gender": "gender", "birth_date": "birth_date"}


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
    elif record.photo_id is None and record.retake_at is None and any(
        item.field == PHOTO_MISSING for item in request.items
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
        AuditEvent.log("account.id_removed", actor=actor, target=holder, ip=ip, reason=f"dispute {request.id}")
        mail.queue(holder.email, "id_removed", _l("Your GradProof account no longer holds an ID number"),
                   locale=holder.locale, user=holder, link=link("student.auth.login") if link else None)
    matching.link(User.get_by_id(request.user_id), ip=ip)


_APPLY = {CORRECTION: _apply_correction, ID_CHANGE: _apply_id_change, ID_DISPUTE: _apply_dispute}


def _mail_decision(request, link):
    user = request.user
    cohort = request.record.cohort if request.record_id else None
    next_step = None
    if request.record_id and request.status == "accepted" and request.kind == CORRECTION:
        # The very sentence the record page shows as the next step, so mail
        # and page name the same dates (services.records.confirm_window).
        with force_locale(user.locale):
            next_step = str(records.next_step(Record.get_by_id(request.record_id))[1] or "")
    mail.queue(
        request.reply_email or user.email, "request_decided",
        _l("Your request has been decided: %(kind)s", kind=KINDS[request.kind]),
        locale=user.locale, user=user, request=request, kind=KINDS[request.kind],
        accepted=request.status == "accepted", reason=REJECT_REASONS.get(request.reject_reason, ""),
        note=request.decision_note, cohort=cohort, next_step=next_step,
        link=link("student.problems.index") if link else None,
    )
