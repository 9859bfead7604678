"""Photo files on local disk (or a shared directory), outside static/.

A photo is stored once per variant under a random key:
`<PHOTO_DIR>/<key[:2]>/<key>.<variant>.<ext>`. The database keeps the key.
"""

import contextlib
import os
import secrets

from flask import current_app

from services.fsmodes import private_dir, private_opener

# variant → (file extension, MIME type)
VARIANTS = {
    "master": ("jpg", "image/jpeg"),
    "webp": ("webp", "image/webp"),
    "jpeg": ("jpg", "image/jpeg"),
    "webp2x": ("webp", "image/webp"),
    "thumb": ("webp", "image/webp"),
    "national": ("jpg", "image/jpeg"),
    "mini": ("webp", "image/webp"),
}
# Variants added after photos were stored: made from the master on first use.
DERIVED = {"mini": "mini_webp"}


def root():
    """The photo directory: PHOTO_DIR, or instance/photos."""
    return current_app.config.get("PHOTO_DIR") or os.path.join(current_app.instance_path, "photos")


def path(key, variant):
    """Where one variant of a stored photo lives."""
    ext = VARIANTS[variant][0]
    return os.path.join(root(), key[:2], f"{key}.{variant}.{ext}")


def accel_path(key, variant):
    """The nginx-internal URI of a variant when PHOTO_ACCEL_REDIRECT (a location
    prefix, e.g. "/_photos/") is set, else None: nginx then sends the file
    (X-Accel-Redirect) after the view has checked access."""
    prefix = current_app.config.get("PHOTO_ACCEL_REDIRECT")
    if not prefix:
        return None
    if variant in DERIVED and not os.path.exists(path(key, variant)):
        read(key, variant)  # make it now, so nginx finds the file
    return prefix.rstrip("/") + "/" + os.path.relpath(path(key, variant), root()).replace(os.sep, "/")


def save(portrait_set):
    """Write every variant of a PortraitSet; returns the new key."""
    key = secrets.token_hex(16)
    private_dir(root())
    private_dir(os.path.dirname(path(key, "master")))
    for variant in VARIANTS:
        data = getattr(portrait_set, variant, None)
        if not data:  # photos stored before a variant existed get it computed on use
            continue
        target = path(key, variant)
        tmp = target + ".tmp"
        with open(tmp, "wb", opener=private_opener) as fh:
            fh.write(data)
        os.replace(tmp, target)
    return key


def read(key, variant):
    """The bytes of one variant (a missing derived variant is made and kept)."""
    try:
        with open(path(key, variant), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        if variant not in DERIVED:
            raise
    from services import photos

    data = getattr(photos, DERIVED[variant])(read(key, "master"))
    target = path(key, variant)
    tmp = f"{target}.{secrets.token_hex(4)}.tmp"
    with open(tmp, "wb", opener=private_opener) as fh:
        fh.write(data)
    os.replace(tmp, target)
    return data


def delete(key):
    """Remove every variant file of a photo (missing files are fine)."""
    for variant in VARIANTS:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path(key, variant))
