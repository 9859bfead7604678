"""Peewee models, the database connection and schema migrations.

Times are stored as naive UTC datetimes; `utcnow()` is the only clock.
"""

import datetime
import os
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import peewee
from peewee import (
    BooleanField,
    CharField,
    DatabaseProxy,
    DateField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner
from playhouse.pool import PooledSqliteDatabase

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


class DateTimeField(peewee.DateTimeField):
    """Naive UTC in the database, whatever the caller passes.

    An aware datetime would be stored and compared as text with its offset on
    SQLite, but converted through the session time zone on PostgreSQL: it is
    turned into naive UTC here, before either database sees it (writes and
    comparisons alike).
    """

    def db_value(self, value):
        if isinstance(value, datetime.datetime) and value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        return super().db_value(value)


class EmailField(CharField):
    """An e-mail address used as a user name: case-insensitive.

    Lower-cased in Python on every write and every comparison (peewee passes
    the right-hand value of `User.email == x` through db_value), so both
    databases compare the same bytes with a plain `=` and the unique index
    holds one spelling. SQL lower() would not do: SQLite's folds ASCII only.
    """

    def db_value(self, value):
        if isinstance(value, str):
            value = value.strip().lower()
        return super().db_value(value)


class BaseModel(Model):
    if TYPE_CHECKING:
        # The primary key peewee adds to a model that declares none.
        id: Any

    class Meta:
        database = db
        legacy_table_names = False


class College(BaseModel):
    """A college (学院) with the office students are sent to."""

    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=100, unique=True)
    office_contact = TextField(default="")

    def __str__(self):
        return self.name


class Cohort(BaseModel):
    """A graduating year (届别) with its deadlines, as local dates.

    Students confirm and file corrections until the end of `confirm_deadline`;
    records that were corrected are confirmed again between `recheck_start`
    and `recheck_end` (both inclusive), in the cohort's time zone.
    """

    name = CharField(max_length=32, unique=True)
    confirm_deadline = DateField()
    recheck_start = DateField()
    recheck_end = DateField()
    timezone = CharField(max_length=64, default="Asia/Shanghai")

    def __str__(self):
        return self.name

    def local_today(self, now=None):
        """Today's date in the cohort's time zone (`now` is naive UTC)."""
        now = now or utcnow()
        return now.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(self.timezone)).date()

    def phase(self, now=None):
        """'open' until the deadline, 'closed' between, 'recheck' in the window, 'over' after."""
        today = self.local_today(now)
        if today <= self.confirm_deadline:
            return "open"
        if self.recheck_start <= today <= self.recheck_end:
            return "recheck"
        return "closed" if today < self.recheck_start else "over"

    def days_left(self, now=None):
        """Whole days until the confirm deadline (0 on its last day, negative after)."""
        return (self.confirm_deadline - self.local_today(now)).days


class User(BaseModel):
    """An account: a student, a college staff member or an admin."""

    email = EmailField(max_length=254, unique=True)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16, default="student", index=True)
    locale = CharField(max_length=8, default="zh_CN")
    created_at = DateTimeField(default=utcnow)
    activated_at = DateTimeField(null=True)
    # Bumped on password change/reset and "log out everywhere": part of the
    # Flask-Login id, so every older session cookie stops matching.
    session_version = IntegerField(default=1)
    disabled = BooleanField(default=False)
    # Real-name registration (实名注册); id_type and id_number are fixed once set.
    real_name = CharField(max_length=64, null=True)
    gender = CharField(max_length=1, null=True)
    id_type = CharField(max_length=20, null=True)
    id_number = CharField(max_length=32, null=True, index=True)
    nickname = CharField(max_length=50, null=True)
    birth_date = DateField(null=True)
    province = CharField(max_length=6, null=True)
    city = CharField(max_length=6, null=True)
    realname_at = DateTimeField(null=True)
    # Staff belong to one college; admins and students to none.
    college = ForeignKeyField(College, null=True, backref="staff", on_delete="SET NULL")

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

    # The raw id of the login session this object was loaded for (or just
    # created by services.sessions.start); never stored, only its hash is.
    session_token = None

    def get_id(self):
        """Flask-Login id: the random id of this login's UserSession row.

        Logging out deletes the row, so a copied session or remember cookie
        is worthless afterwards.
        """
        return self.session_token


class Token(BaseModel):
    """A single-use secret sent by mail; only its SHA-256 is stored."""

    user = ForeignKeyField(User, backref="tokens", on_delete="CASCADE")
    purpose = CharField(max_length=16)
    token_hash = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)


class UserSession(BaseModel):
    """One row per login: the cookie carries a random id, the row its SHA-256.

    Created at login, deleted at logout (and "log out everywhere", password
    change or reset); listed in account settings, where each can be ended.
    Loading the user is one primary-key read of this row joined to `user`.
    """

    id = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(User, backref="sessions", on_delete="CASCADE")
    # The account's session_version at login: a bump ends every older row.
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    # Updated at most every few minutes (services.sessions.TOUCH_EVERY).
    last_used_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    remember = BooleanField(default=False)
    user_agent = CharField(max_length=255, default="")
    ip = CharField(max_length=64, default="")


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


class Photo(BaseModel):
    """A graduation photo from the collection, stored as files under `key`.

    The collection's own school, name and ID number are kept: when they
    disagree with the registry the photo stays unmatched, with the reason.
    """

    sha256 = CharField(max_length=64, unique=True)
    key = CharField(max_length=40, unique=True)
    src_filename = CharField(max_length=255, default="")
    src_school = CharField(max_length=100, default="")
    src_name = CharField(max_length=64, default="", index=True)
    src_id_number = CharField(max_length=32, default="", index=True)
    src_student_no = CharField(max_length=32, default="")
    unmatched_reason = TextField(default="")
    compliance = CharField(max_length=120, default="")
    created_at = DateTimeField(default=utcnow)
    # The college the file name or manifest points to (uploads: the record's):
    # only its staff and admins may see the photo while it is unattached.
    college = ForeignKeyField(College, null=True, backref="photos", on_delete="SET NULL")


# The record-status state machine. Every status
# change goes through Record.transition(); nothing else writes `status`.
STATUSES = (
    "unregistered",
    "pending",
    "confirmed",
    "confirmed_offline",
    "correction_requested",
    "corrected",
)
TRANSITIONS = {
    "unregistered": {"pending", "confirmed_offline"},
    "pending": {"confirmed", "correction_requested", "confirmed_offline", "unregistered"},
    "confirmed": {"pending", "correction_requested", "confirmed_offline", "unregistered"},
    "correction_requested": {"corrected", "pending", "confirmed_offline", "unregistered"},
    "corrected": {"confirmed", "correction_requested", "pending", "confirmed_offline", "unregistered"},
    "confirmed_offline": {"pending", "unregistered"},
}
# Transitions staff may pick in the records table; the others follow from
# what students and the request queues do.
STAFF_TRANSITIONS = {
    "unregistered": {"confirmed_offline"},
    "pending": {"confirmed_offline"},
    "confirmed": {"pending", "confirmed_offline"},
    "correction_requested": {"confirmed_offline"},
    "corrected": {"pending", "confirmed_offline"},
    "confirmed_offline": {"pending", "unregistered"},
}
REASON_REQUIRED = {"confirmed_offline"}


class IllegalTransition(ValueError):
    """A status change the state machine does not allow."""

    def __init__(self, current, target):
        super().__init__(f"record status cannot change from {current} to {target}")
        self.current, self.target = current, target


class StaleRecord(ValueError):
    """The record changed since the caller read it (optimistic concurrency)."""


class Record(BaseModel):
    """A registry record (学籍): what the diploma will carry."""

    student_no = CharField(max_length=32, unique=True)
    name = CharField(max_length=64)
    name_key = CharField(max_length=64, index=True)
    gender = CharField(max_length=1)
    id_type = CharField(max_length=20)
    id_number = CharField(max_length=32, index=True)
    birth_date = DateField()
    ethnicity = CharField(max_length=32, default="")
    college = ForeignKeyField(College, backref="records", on_delete="RESTRICT")
    major = CharField(max_length=100)
    class_name = CharField(max_length=64, default="")
    level = CharField(max_length=32)
    study_mode = CharField(max_length=32)
    enrolled_on = DateField()
    graduating_on = DateField()
    cohort = ForeignKeyField(Cohort, backref="records", on_delete="RESTRICT")
    photo = ForeignKeyField(Photo, null=True, backref="records", on_delete="SET NULL")
    account = ForeignKeyField(User, null=True, unique=True, backref="records", on_delete="SET NULL")
    status = CharField(max_length=24, default="unregistered", index=True)
    version = IntegerField(default=1)
    changed_at = DateTimeField(default=utcnow, index=True)
    changed_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # "Photo needed: come to the photo session on <retake_on> at <retake_place>";
    # cleared when a photo is attached.
    retake_on = DateField(null=True)
    retake_place = CharField(max_length=200, default="")
    retake_at = DateTimeField(null=True)

    if TYPE_CHECKING:
        # The raw foreign-key values peewee adds beside each ForeignKeyField.
        college_id: int
        cohort_id: int
        photo_id: int | None
        account_id: int | None
        changed_by_id: int | None

    class Meta:
        # The dashboard counts by cohort, college and status.
        indexes = ((("cohort", "college", "status"), False),)

    def transition(self, target, actor=None, reason="", ip="", expected_version=None, **changes):
        """Move to `target` (with optional field `changes`) and audit it.

        Raises IllegalTransition for a change the machine forbids, ValueError
        when a required reason is missing, and StaleRecord when the row
        changed since `expected_version` (default: the version read).
        Call inside a transaction.
        """
        if target not in TRANSITIONS.get(self.status, ()):
            raise IllegalTransition(self.status, target)
        if target in REASON_REQUIRED and not reason.strip():
            raise ValueError(f"a reason is required for {target}")
        return self._write(target, actor, reason, ip, expected_version, "status", changes)

    def touch(self, actor=None, reason="", ip="", expected_version=None, action="record.update", **changes):
        """Change fields without changing status, with the same concurrency check."""
        return self._write(self.status, actor, reason, ip, expected_version, action, changes)

    def _write(self, target, actor, reason, ip, expected_version, action, changes):
        version = self.version if expected_version is None else expected_version
        now = utcnow()
        values = dict(changes, status=target, version=version + 1, changed_at=now, changed_by=actor)
        updated = (
            Record.update(**values).where((Record.id == self.id) & (Record.version == version)).execute()
        )
        if updated != 1:
            raise StaleRecord(f"record {self.id} changed meanwhile")
        previous = self.status
        for field, value in values.items():
            setattr(self, field, value)
        AuditEvent.log(
            action if action != "status" else "record.status",
            actor=actor,
            target=self,
            ip=ip,
            from_status=previous,
            to_status=target,
            reason=reason or ", ".join(sorted(changes)),
        )
        return self


class Confirmation(BaseModel):
    """A student's "正确" (or staff's offline confirmation) of exactly what was shown."""

    record = ForeignKeyField(Record, backref="confirmations", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    kind = CharField(max_length=16, default="student")
    at = DateTimeField(default=utcnow)
    ip = CharField(max_length=64, default="")
    fingerprint = CharField(max_length=64)
    void_at = DateTimeField(null=True)
    void_reason = TextField(default="")


class PhotoHistory(BaseModel):
    """A photo a record carried before it was replaced (the file is kept)."""

    record = ForeignKeyField(Record, backref="photo_history", on_delete="CASCADE")
    photo = ForeignKeyField(Photo, null=True, on_delete="SET NULL")
    replaced_at = DateTimeField(default=utcnow)
    replaced_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    reason = TextField(default="")


class Request(BaseModel):
    """A student's problem, filed online instead of by mail or at the office.

    kind: "correction" (数据检查勘误表, with CorrectionItems), "id_change"
    (wrong ID number at real-name registration) or "id_dispute" (someone
    else holds the student's ID number). Decided once by staff: the status
    leaves "open" in a single conditional UPDATE, so two staff members
    deciding at once cannot both win.
    """

    kind = CharField(max_length=16, index=True)
    user = ForeignKeyField(User, backref="requests", on_delete="CASCADE")
    record = ForeignKeyField(Record, null=True, backref="requests", on_delete="SET NULL")
    college = ForeignKeyField(College, null=True, backref="requests", on_delete="SET NULL")
    status = CharField(max_length=12, default="open", index=True)
    note = TextField(default="")
    # The record's status before a correction, restored when it is rejected.
    previous_status = CharField(max_length=24, default="")
    # ID change request / dispute: the ID asked for, contact, merged ID picture.
    id_type = CharField(max_length=20, null=True)
    id_number = CharField(max_length=32, null=True, index=True)
    phone = CharField(max_length=20, default="")
    reply_email = CharField(max_length=254, default="")
    image_key = CharField(max_length=40, default="")
    image_purged_at = DateTimeField(null=True)
    # The account that held the ID when a dispute was filed.
    holder = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow, index=True)
    decided_at = DateTimeField(null=True)
    decided_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    reject_reason = CharField(max_length=32, default="")
    decision_note = TextField(default="")

    if TYPE_CHECKING:
        # The raw foreign-key values peewee adds beside each ForeignKeyField,
        # and the back-reference of CorrectionItem.request.
        user_id: int
        record_id: int | None
        college_id: int | None
        holder_id: int | None
        decided_by_id: int | None
        items: "peewee.ModelSelect[CorrectionItem]"


class CorrectionItem(BaseModel):
    """One wrong field of a correction: what the registry says and what is right."""

    request = ForeignKeyField(Request, backref="items", on_delete="CASCADE")
    field = CharField(max_length=32)
    old_value = TextField(default="")
    new_value = TextField(default="")


class ImportJob(BaseModel):
    """A registry or photo import run from the admin page, with its progress."""

    kind = CharField(max_length=16)
    filename = CharField(max_length=255, default="")
    path = CharField(max_length=500, default="")
    dry_run = BooleanField(default=False)
    status = CharField(max_length=12, default="queued")
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    report = TextField(default="")
    error = TextField(default="")
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    # Heartbeat: set with every progress write, so a job whose process died
    # (a server restart) can be told from one that is still working.
    updated_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    # host:pid of the queue consumer running the job, so a consumer that
    # starts can fail the jobs of one that died on the same host.
    worker = CharField(max_length=100, default="")


ALL_MODELS = [
    User,
    Token,
    UserSession,
    LoginThrottle,
    OutboxMail,
    AuditEvent,
    College,
    Cohort,
    Photo,
    Record,
    Confirmation,
    PhotoHistory,
    ImportJob,
    Request,
    CorrectionItem,
]


def make_database(url):
    """A peewee database for a URL: SQLite with our pragmas, or pooled PostgreSQL."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        # Pooled: opening a WAL connection and setting its pragmas costs more
        # than a whole page render, so connections are reused across requests.
        return PooledSqliteDatabase(
            path,
            pragmas=SQLITE_PRAGMAS,
            timeout=5,
            lock_type="IMMEDIATE",
            max_connections=64,
            stale_timeout=600,
            check_same_thread=False,
        )
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

    # No connect in before_request: peewee connects on the first query, so
    # static files and pages without queries never touch the pool.
    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()
