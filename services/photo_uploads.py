"""Staff give a record its photo: upload, replace, or ask for a retake.

An upload goes through the ZIP import's pipeline (``photos.make_portrait_set``:
verify, upright by EXIF, strip metadata, crop 3:4, 480×640 master and the
small variants, then ``photos.compliance``). It is staged first, so staff see
the crop and the compliance warnings before anything is saved; the staged
bytes live under the instance folder, named by the uploader and a random
token. Saving keeps the previous photo in the record's history, voids a
confirmation that included it, writes an audit event and mails the student,
all in one transaction.
"""

import contextlib
import hashlib
import io
import os
import re
import secrets
import time

from flask import current_app
from flask_babel import lazy_gettext as _l
from PIL import ImageOps

from models import AuditEvent, Photo, PhotoHistory, Record, StaleRecord, db, utcnow
from services import casework as reqs
from services import mail, photos, photostore, records
from services.fsmodes import private_dir, private_opener

TOKEN = re.compile(r"[0-9a-f]{32}")
STAGE_TTL = 24 * 3600
SOURCE_SIDE = 480  # the uncropped preview staff drag the crop frame over


def stage_dir():
    return os.path.join(current_app.instance_path, "photo-staging")


def _stage_path(user_id, token):
    return os.path.join(stage_dir(), f"{int(user_id)}-{token}.bin")


def stage(data, user):
    """Verify an upload and keep it for the preview; returns its token.

    Raises ``photos.PhotoError`` (with a message for the user) when the
    bytes are not a usable picture.
    """
    photos.make_portrait_set(data)  # verify now: a bad file never reaches the preview
    private_dir(stage_dir())
    _purge_old()
    token = secrets.token_hex(16)
    with open(_stage_path(user.id, token), "wb", opener=private_opener) as fh:
        fh.write(data)
    return token


def staged(user, token):
    """The staged bytes of this user's upload, or None (unknown, expired, someone else's)."""
    if not TOKEN.fullmatch(token or ""):
        return None
    try:
        with open(_stage_path(user.id, token), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def discard(user, token):
    if TOKEN.fullmatch(token or ""):
        with contextlib.suppress(FileNotFoundError):
            os.remove(_stage_path(user.id, token))


def _purge_old():
    cutoff = time.time() - STAGE_TTL
    for name in os.listdir(stage_dir()):
        path = os.path.join(stage_dir(), name)
        try:
            if os.path.getmtime(path) < cutoff:
                os.remove(path)
        except FileNotFoundError:
            pass


def centering(x, y):
    """A crop position from form values (0–1 each); the default crop otherwise."""
    try:
        cx, cy = float(x), float(y)
    except (TypeError, ValueError):
        return photos.CENTERING
    if not (0 <= cx <= 1 and 0 <= cy <= 1):
        return photos.CENTERING
    return round(cx, 3), round(cy, 3)


def preview(data, where):
    """(master JPEG bytes, compliance codes) for a staged upload cropped at ``where``."""
    portrait = photos.make_portrait_set(data, where)
    return portrait.master, photos.compliance(portrait.master, portrait.national)


def source_jpeg(data):
    """The whole upright picture, at most 480 px on its longer side, as JPEG."""
    img = photos.decode(data)
    img = ImageOps.contain(img, (SOURCE_SIDE, SOURCE_SIDE))
    bio = io.BytesIO()
    img.save(bio, "JPEG", quality=80)
    return bio.getvalue()


def _create_photo(record, data, where, filename):
    """Store the variants and the Photo row (call inside the transaction)."""
    portrait = photos.make_portrait_set(data, where)
    codes = photos.compliance(portrait.master, portrait.national)
    # The crop is part of what is stored: the same file cropped differently is another photo.
    portrait.sha256 = hashlib.sha256(data + f"|crop={where[0]:.3f},{where[1]:.3f}".encode()).hexdigest()
    existing = Photo.get_or_none(Photo.sha256 == portrait.sha256)
    if existing is not None:
        return existing, []
    key = photostore.save(portrait)
    try:
        photo = Photo.create(
            sha256=portrait.sha256,
            key=key,
            compliance=",".join(codes),
            src_filename=(filename or "upload")[:255],
            src_name=record.name,
            src_id_number=record.id_number,
            src_student_no=record.student_no,
            college=record.college_id,
        )
    except BaseException:
        photostore.delete(key)
        raise
    return photo, [key]


class UploadRefused(ValueError):
    """The photo cannot be attached; `.message` is for the user."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def attach_upload(record, data, where, actor, ip="", link=None, filename="", request=None, version=None):
    """Give ``record`` the uploaded photo; with an open correction, accept it.

    One transaction: the Photo row, the history of the replaced photo, the
    record change (voiding a confirmation that included the old photo), the
    audit event and the student's mail. Raises StaleRecord when the record
    changed since ``version``, UploadRefused and requests.RequestError.
    """
    new_keys = []
    try:
        with db.atomic():
            record = Record.get_by_id(record.id)
            if version is not None and record.version != version:
                raise StaleRecord(f"record {record.id} changed meanwhile")
            photo, new_keys = _create_photo(record, data, where, filename)
            if photo.id == record.photo_id:
                raise UploadRefused(_l("This is already the record's photo."))
            if Record.select().where((Record.photo == photo) & (Record.id != record.id)).exists():
                raise UploadRefused(_l("This picture is already the photo of another record."))
            old = record.photo_id
            if old:
                PhotoHistory.create(
                    record=record, photo=old, replaced_by=actor, reason="replaced by an upload"
                )
            clear_retake = {"retake_on": None, "retake_place": "", "retake_at": None}
            if request is not None:
                reqs.decide(request, actor, accept=True, note="", photo=photo, ip=ip, link=link)
                record = Record.get_by_id(record.id)
                if record.retake_at is not None:
                    record.touch(actor=actor, ip=ip, reason="photo uploaded", **clear_retake)
            else:
                changes = {"photo": photo}
                if record.retake_at is not None:
                    changes.update(clear_retake)
                records.apply_changes(
                    record, changes, actor=actor, reason="photo uploaded", ip=ip, link=link, notify=False
                )
            AuditEvent.log(
                "photo.replace" if old else "photo.upload",
                actor=actor,
                target=record,
                ip=ip,
                reason=f"photo {photo.id}" + (f" replaces photo {old}" if old else ""),
            )
            if request is None and record.account_id:
                user = record.account
                mail.queue_to(
                    user,
                    "photo_changed",
                    _l("Your college gave you a new graduation photo: please check it"),
                    link=link("student.record.index") if link else None,
                )
    except BaseException:
        for key in new_keys:
            photostore.delete(key)
        raise
    return photo


def request_retake(record, on_date, place, actor, ip="", link=None, request=None, version=None):
    """Ask the student to come to a photo session; with an open correction, accept it.

    The record cannot be confirmed until a photo exists (records.can_confirm).
    """
    place = " ".join((place or "").split())[:200]
    if on_date is None or not place:
        raise UploadRefused(_l("Give the date and the place of the photo session."))
    with db.atomic():
        record = Record.get_by_id(record.id)
        if version is not None and record.version != version:
            raise StaleRecord(f"record {record.id} changed meanwhile")
        record.touch(
            actor=actor,
            ip=ip,
            action="photo.retake",
            reason=f"{on_date.isoformat()} {place}",
            retake_on=on_date,
            retake_place=place,
            retake_at=utcnow(),
        )
        if request is not None:
            note = f"{on_date.isoformat()} · {place}"
            reqs.decide(request, actor, accept=True, note=note, ip=ip, link=link)
        elif record.account_id:
            user = record.account
            mail.queue_to(
                user,
                "photo_retake",
                _l("Your graduation photo is needed: please come to the photo session"),
                date=on_date.isoformat(),
                place=place,
                link=link("student.record.index") if link else None,
            )
    return Record.get_by_id(record.id)
