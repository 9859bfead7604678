"""Peewee models, the database connection and schema migrations.

Times are stored as naive UTC datetimes; `utcnow()` is the only clock.
"""

import datetime
import os

from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    SqliteDatabase,
    TextField,
)
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner

db = DatabaseProxy()

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -64000,
}


def utcnow():
    """Current time as naive UTC, the form every DateTimeField holds."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class User(BaseModel):
    """An account: a student, a college staff member or an admin."""

    email = CharField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16, default="student", index=True)
    locale = CharField(max_length=8, default="zh_CN")
    created_at = DateTimeField(default=utcnow)
    activated_at = DateTimeField(null=True)
    # Bumped on password change/reset and "log out everywhere": part of the
    # Flask-Login id, so every older session cookie stops matching.
    session_version = IntegerField(default=1)
    disabled = BooleanField(default=False)

    @classmethod
    def by_email(cls, email):
        """The account with this address (case-insensitive) or None."""
        return cls.get_or_none(cls.email == email.strip().lower())

    @property
    def is_activated(self):
        return self.activated_at is not None

    # Flask-Login's user protocol (not UserMixin: its __eq__ would drop
    # peewee's hashing of model instances).
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self):
        return not self.disabled

    def get_id(self):
        """Flask-Login id: the session version makes old cookies worthless."""
        return f"{self.id}:{self.session_version}"


class Token(BaseModel):
    """A single-use secret sent by mail; only its SHA-256 is stored."""

    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class LoginThrottle(BaseModel):
    """Failed logins per e-mail address, kept whether or not an account
    exists, so that a lockout says nothing about which addresses are real."""

    key = CharField(max_length=64, unique=True)
    failures = IntegerField(default=0)
    first_failed_at = DateTimeField(default=utcnow)
    locked_until = DateTimeField(null=True)


class OutboxMail(BaseModel):
    """A mail written with the action that caused it and sent later."""

    to = CharField(max_length=254)
    subject = CharField(max_length=255)
    body_text = TextField()
    body_html = TextField()
    kind = CharField(max_length=32, default="")
    user = ForeignKeyField(User, null=True, backref="mails", on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)
    # pending → sending → sent | failed; console when no SMTP server is set.
    status = CharField(max_length=12, default="pending", index=True)
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField(default=utcnow)
    claimed_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    last_error = TextField(default="")


class AuditEvent(BaseModel):
    """Who did what, when, from where: one row per change."""

    at = DateTimeField(default=utcnow, index=True)
    actor = ForeignKeyField(User, null=True, backref="audit", on_delete="SET NULL")
    action = CharField(max_length=48, index=True)
    target_type = CharField(max_length=24, default="")
    target_id = IntegerField(null=True)
    from_status = CharField(max_length=32, default="")
    to_status = CharField(max_length=32, default="")
    reason = TextField(default="")
    ip = CharField(max_length=64, default="")

    @classmethod
    def log(cls, action, actor=None, target=None, ip="", **fields):
        """Record an event; call inside the transaction of the change."""
        if target is not None:
            fields.setdefault("target_type", type(target).__name__.lower())
            fields.setdefault("target_id", target.id)
        return cls.create(action=action, actor=actor, ip=ip or "", **fields)


ALL_MODELS = [User, Token, LoginThrottle, OutboxMail, AuditEvent]


def make_database(url):
    """A peewee database for a URL: SQLite with our pragmas, or pooled PostgreSQL."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=5, lock_type="IMMEDIATE")
    if url.startswith(("postgres://", "postgresql://")):
        url = "postgresql+pool://" + url.split("://", 1)[1]
        return connect_url(url, max_connections=20, stale_timeout=300)
    return connect_url(url)


def migrate(database=None):
    """Apply pending migrations; returns the names applied."""
    return Runner(database or db.obj, MIGRATIONS_DIR).up()


def init_app(app):
    """Bind the database to the app and open/close a connection per request."""
    db.initialize(make_database(app.config["DATABASE_URL"]))

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()
