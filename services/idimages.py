"""ID-card pictures of requests: checked, merged, stored outside static/, purged.

One JPEG per request (front and back side by side, ≤ 1 MB) under
`<ID_IMAGE_DIR>/<key>.jpg`, mode 600 in a 700 directory. Pictures are
deleted a configurable number of days after the request was decided; the
decision itself stays.

Uploads are checked before they cost memory: the size in the header must
fit a phone photo (at most ID_MAX_PIXELS, refused before any pixel is
decoded; JPEGs are then decoded at a reduced scale) and be large enough to
read (at least ID_MIN_SIDE pixels on the short side). A JPEG whose data
ends before the rows its header promises (Pillow pads those with grey) is
refused as incomplete.

The file of a new request is written as the last step of the transaction
that creates its row (services.casework), and removed if that transaction
fails, so no picture is left without a row; `sweep_orphans` deletes any
that are (e.g. after a crash between the two).
"""

import contextlib
import datetime
import os
import secrets
import time

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import AuditEvent, Request, db, utcnow
from services import photos
from services.fsmodes import FILE_MODE, private_dir
from services.photo_checks import PhotoError

ID_MAX_PIXELS = 24_000_000  # a 24-megapixel phone photo; more is a screenshot stitch or a bomb
ID_MIN_SIDE = 600
# Files younger than this may belong to a transaction still running.
ORPHAN_MIN_AGE = datetime.timedelta(hours=1)
_PAD = (128, 128, 128)  # what libjpeg fills missing rows with


def root():
    """ID_IMAGE_DIR, or instance/id-images."""
    return current_app.config.get("ID_IMAGE_DIR") or os.path.join(current_app.instance_path, "id-images")


def path(key):
    return os.path.join(root(), f"{key}.jpg")


def accel_path(key):
    """The nginx-internal URI of an ID picture when ID_IMAGE_ACCEL_REDIRECT is set, else None."""
    prefix = current_app.config.get("ID_IMAGE_ACCEL_REDIRECT")
    return prefix.rstrip("/") + f"/{key}.jpg" if prefix else None


def _limits(width, height):
    """Refuse a side by the size in its header, before decoding it."""
    if width * height > ID_MAX_PIXELS:
        raise PhotoError(
            "too_large_pixels",
            _l(
                "This picture has too many pixels (%(width)d×%(height)d). Please send a photo taken "
                "with the phone camera's normal setting (at most %(limit)d million pixels).",
                width=width,
                height=height,
                limit=ID_MAX_PIXELS // 1_000_000,
            ),
        )
    if min(width, height) < ID_MIN_SIDE:
        raise PhotoError(
            "too_small",
            _l(
                "This picture is too small to read (%(width)d×%(height)d pixels). Please take it again "
                "so that its short side has at least %(min)d pixels.",
                width=width,
                height=height,
                min=ID_MIN_SIDE,
            ),
        )


def _padded(img):
    """Whether a whole edge row or column is libjpeg's grey fill of missing data."""
    width, height = img.size
    edges = (
        (0, height - 1, width, height),
        (0, 0, width, 1),
        (width - 1, 0, width, height),
        (0, 0, 1, height),
    )
    flat = ((128, 128),) * 3
    if img.getextrema() == flat:
        return False  # a blank grey picture is not a cut-off one
    return any(img.crop(box).getextrema() == flat for box in edges)


def _check_side(img):
    if _padded(img):
        raise PhotoError("truncated")


def prepare(front, back=None):
    """Check and merge uploaded sides into the JPEG bytes to store.

    Raises photos.PhotoError with a message for the user when a picture is
    not usable: not a picture, too many or too few pixels, incomplete.
    """
    return photos.merge_id_images(front, back, limits=_limits, check=_check_side)


def new_key():
    return secrets.token_hex(16)


def write(key, data):
    """Write a picture (mode 600, directory 700) atomically under `key`."""
    folder = root()
    private_dir(folder)
    target = path(key)
    tmp = f"{target}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def store_upload(front, back=None):
    """Check and merge uploaded sides (`prepare`) and write them; returns the new key.

    Raises photos.PhotoError before anything is written when a picture is not usable.
    """
    picture = prepare(front, back)
    key = new_key()
    write(key, picture)
    return key


def store(front, back=None):
    """Merge trusted pictures (demo data, tests) and write them; returns the new key.

    Uploads go through `store_upload` instead.
    """
    key = new_key()
    write(key, photos.merge_id_images(front, back))
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
        (Request.image_key != "")
        & Request.image_purged_at.is_null()
        & Request.decided_at.is_null(False)
        & (Request.decided_at <= cutoff)
    )
    count = 0
    for request in due:
        delete(request.image_key)
        with db.atomic():
            Request.update(image_purged_at=now).where(Request.id == request.id).execute()
            AuditEvent.log("request.image_purged", target=request, reason=f"{days} days after decision")
        count += 1
    return count


def sweep_orphans(min_age=ORPHAN_MIN_AGE):
    """Delete picture files that no request row points to; returns how many.

    Files younger than `min_age` are left alone: their request may still be
    in its transaction.
    """
    folder = root()
    if not os.path.isdir(folder):
        return 0
    cutoff = time.time() - min_age.total_seconds()
    candidates = {}
    for entry in os.scandir(folder):
        if entry.is_file() and entry.stat().st_mtime <= cutoff:
            stem = entry.name.removesuffix(".jpg")
            # Anything but <key>.jpg (a left-over .tmp) belongs to no row.
            key = stem if entry.name.endswith(".jpg") and "." not in stem else "/" + entry.name
            candidates[key] = entry.path
    if not candidates:
        return 0
    keys = sorted(k for k in candidates if not k.startswith("/"))
    known = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        known.update(
            k for (k,) in Request.select(Request.image_key).where(Request.image_key.in_(chunk)).tuples()
        )
    count = 0
    for key, file_path in candidates.items():
        if key not in known:
            with contextlib.suppress(FileNotFoundError):
                os.remove(file_path)
            count += 1
    return count
