"""Server-side login sessions: one UserSession row per login.

The session and remember cookies carry a random id (Flask-Login's user id);
the database keeps only its SHA-256. Loading the user is one primary-key
read of the row joined to its user, and writes at most every TOUCH_EVERY
(the "last used" time shown in account settings), so logged-in pages cost
no write. Logging out deletes the row: a copied cookie replayed afterwards
finds nothing and the browser is sent to the login page.

A row also stops counting when the account's `session_version` moves on
(password change or reset, "log out everywhere", an account disabled or
reset by staff), when the account is disabled, or when it expires:
`SESSION_IDLE_HOURS` after its last use, or for "remember me" logins
`REMEMBER_COOKIE_DURATION` after the login.
"""

import datetime
import hashlib
import re
import secrets

from flask import current_app
from flask_babel import lazy_gettext as _l

from models import AuditEvent, User, UserSession, db, utcnow
from prepared import Param, Prepared

TOUCH_EVERY = datetime.timedelta(minutes=5)
# Every logged-in request: one primary-key read joined to the user, its SQL
# built once by peewee and re-run with the key (prepared.py).
_SESSION_WITH_USER = Prepared(
    UserSession.select(UserSession, User).join(User).where(UserSession.id == Param("key")).limit(1)
)
# A token longer than this is not one of ours (token_urlsafe(32) is 43).
MAX_TOKEN = 64


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _lifetime(remember):
    config = current_app.config
    if remember:
        return datetime.timedelta(seconds=int(config["REMEMBER_COOKIE_DURATION"]))
    return datetime.timedelta(hours=float(config.get("SESSION_IDLE_HOURS", 24)))


def start(user, remember=False, user_agent="", ip=""):
    """A new session row for `user`; returns the raw id (set on the user too)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.atomic():
        UserSession.delete().where(UserSession.expires_at < now).execute()
        UserSession.create(
            id=_hash(token),
            user=user,
            version=user.session_version,
            created_at=now,
            last_used_at=now,
            expires_at=now + _lifetime(remember),
            remember=bool(remember),
            user_agent=(user_agent or "")[:255],
            ip=(ip or "")[:64],
        )
    user.session_token = token
    return token


def load(token):
    """The user of a live session id, or None (deleted, expired, stale, disabled)."""
    if not isinstance(token, str) or not 20 <= len(token) <= MAX_TOKEN:
        return None
    key = _hash(token)
    row = _SESSION_WITH_USER.first(key=key)
    if row is None:
        return None
    user = row.user
    now = utcnow()
    if row.expires_at <= now or user.disabled or row.version != user.session_version:
        return None
    if now - row.last_used_at >= TOUCH_EVERY:
        values = {UserSession.last_used_at: now}
        if not row.remember:
            values[UserSession.expires_at] = now + _lifetime(False)
        UserSession.update(values).where(UserSession.id == key).execute()
        row.last_used_at = now
    user.session_token = token
    user.login_session = row
    return user


def end(token):
    """Delete the row of this session id (logging out); unknown ids are fine."""
    if isinstance(token, str) and token:
        UserSession.delete().where(UserSession.id == _hash(token)).execute()


def end_all(user, keep=None):
    """Delete every session row of `user`, except the one with raw id `keep`.

    The kept row follows the account's current `session_version`, so a
    password change ends the other devices and keeps this one.
    """
    query = UserSession.delete().where(UserSession.user == user)
    if keep:
        query = query.where(UserSession.id != _hash(keep))
        UserSession.update(version=user.session_version).where(UserSession.id == _hash(keep)).execute()
    query.execute()


def revoke(user, key, ip=""):
    """End one session of `user` by its stored key (from the settings list)."""
    with db.atomic():
        count = UserSession.delete().where((UserSession.user == user) & (UserSession.id == key)).execute()
        if count:
            AuditEvent.log("session.end", actor=user, target=user, ip=ip)
    return count


def active(user, now=None):
    """The user's live sessions, most recently used first."""
    now = now or utcnow()
    return list(
        UserSession.select()
        .where(
            (UserSession.user == user)
            & (UserSession.expires_at > now)
            & (UserSession.version == user.session_version)
        )
        .order_by(UserSession.last_used_at.desc(), UserSession.created_at.desc(), UserSession.id)
    )


def purge(now=None):
    """Delete expired rows and rows an account's version bump made stale."""
    now = now or utcnow()
    with db.atomic():
        expired = UserSession.delete().where(UserSession.expires_at <= now).execute()
        stale_ids = (
            UserSession.select(UserSession.id).join(User).where(UserSession.version != User.session_version)
        )
        stale = UserSession.delete().where(UserSession.id.in_(stale_ids)).execute()
    return expired + stale


def key_of(token):
    """The stored key of a raw session id (to mark "this device")."""
    return _hash(token) if token else ""


_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"Android"), "Android"),
    (re.compile(r"HarmonyOS|OpenHarmony"), "HarmonyOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Linux"), "Linux"),
)
UNKNOWN_DEVICE = _l("Unknown device")


def device(user_agent):
    """A short label such as "Chrome · Windows" for a User-Agent header."""
    text = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in text), "")
    system = next((name for pattern, name in _SYSTEMS if pattern.search(text)), "")
    label = " · ".join(part for part in (browser, system) if part)
    return label or UNKNOWN_DEVICE
