"""ID-card pictures accepted while something else in the form was wrong.

The ID change request and the ID dispute carry pictures that take long to
send on a phone. When another field is wrong, the merged picture is kept
here under an opaque token (a hidden field of the re-shown form), so the
student does not send it again. The file lives beside the request pictures
(`<ID_IMAGE_DIR>/pending/`), named by a hash of the account and the token:
another account's token finds nothing, and the token alone says nothing.
Files nobody claimed are deleted after PENDING_UPLOAD_HOURS (default 24).
"""

import contextlib
import datetime
import hashlib
import os
import re
import secrets
import time

from flask import current_app

from services import idimages
from services.fsmodes import private_dir

TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


def _dir():
    return os.path.join(idimages.root(), "pending")


def _path(user_id, token):
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    digest = hashlib.sha256(f"{user_id}:{token}".encode()).hexdigest()
    return os.path.join(_dir(), f"{digest}.jpg")


def _lifetime():
    return datetime.timedelta(hours=current_app.config.get("PENDING_UPLOAD_HOURS", 24)).total_seconds()


def keep(user_id, key):
    """Move a stored picture (an idimages key) aside; returns its token."""
    purge()
    token = secrets.token_urlsafe(24)
    private_dir(_dir())
    os.replace(idimages.path(key), _path(user_id, token))
    return token


def exists(user_id, token):
    """Whether `token` names a picture this account kept, not yet expired."""
    path = _path(user_id, token)
    try:
        return path is not None and time.time() - os.path.getmtime(path) < _lifetime()
    except FileNotFoundError:
        return False


def claim(user_id, token):
    """Turn a kept picture back into an idimages key (once); None if gone."""
    if not exists(user_id, token):
        return None
    key = secrets.token_hex(16)
    try:
        os.replace(_path(user_id, token), idimages.path(key))
    except FileNotFoundError:  # a concurrent claim took it
        return None
    return key


def drop(user_id, token):
    path = _path(user_id, token)
    if path:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def purge(now=None):
    """Delete kept pictures older than their lifetime; returns how many."""
    now = now or time.time()
    count = 0
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(_dir()):
            if entry.name.endswith(".jpg") and now - entry.stat().st_mtime >= _lifetime():
                with contextlib.suppress(FileNotFoundError):
                    os.remove(entry.path)
                    count += 1
    return count
