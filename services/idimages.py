"""ID-card pictures of requests: merged, stored outside static/, purged.

One JPEG per request (front and back side by side, ≤ 1 MB) under
`<ID_IMAGE_DIR>/<key>.jpg`. Pictures are deleted a configurable number of
days after the request was decided; the decision itself stays.
"""

import contextlib
import datetime
import os
import secrets

from flask import current_app

from models import AuditEvent, Request, db, utcnow
from services import photos


def root():
    """ID_IMAGE_DIR, or instance/id-images."""
    return current_app.config.get("ID_IMAGE_DIR") or os.path.join(current_app.instance_path, "id-images")


def path(key):
    return os.path.join(root(), f"{key}.jpg")


def accel_path(key):
    """The nginx-internal URI of an ID picture when ID_IMAGE_ACCEL_REDIRECT is set, else None."""
    prefix = current_app.config.get("ID_IMAGE_ACCEL_REDIRECT")
    return prefix.rstrip("/") + f"/{key}.jpg" if prefix else None


def store(front, back=None):
    """Decode, orient, strip and merge the pictures; returns the new key.

    Raises photos.PhotoError with a message for the user when a picture is
    not a usable image.
    """
    merged = photos.merge_id_images(front, back)
    key = secrets.token_hex(16)
    os.makedirs(root(), exist_ok=True)
    with open(path(key), "wb") as fh:
        fh.write(merged)
    return key


def read(key):
    with open(path(key), "rb") as fh:
        return fh.read()


def delete(key):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path(key))


def purge(now=None):
    """Delete pictures of requests decided more than ID_IMAGE_RETENTION_DAYS ago."""
    now = now or utcnow()
    days = current_app.config.get("ID_IMAGE_RETENTION_DAYS", 30)
    cutoff = now - datetime.timedelta(days=days)
    due = Request.select().where(
        (Request.image_key != "") & Request.image_purged_at.is_null()
        & Request.decided_at.is_null(False) & (Request.decided_at <= cutoff)
    )
    count = 0
    for request in due:
        delete(request.image_key)
        with db.atomic():
            Request.update(image_purged_at=now).where(Request.id == request.id).execute()
            AuditEvent.log("request.image_purged", target=request, reason=f"{days} days after decision")
        count += 1
    return count
