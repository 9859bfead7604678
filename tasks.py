"""Work done outside requests: the Huey queue, its tasks and periodic duties.

One queue for everything that must not run in a web worker: mail delivery,
imports, the photo compliance re-check and the periodic duties (outbox
drain, stale-job sweep, ID-picture purge, consumer heartbeat).

Storage: ``HUEY_URL`` (environment or config). Empty means a SQLite file
``instance/huey.sqlite3`` that every process of one machine shares;
``redis://host:port/db`` lets several servers share one queue.

The tasks are thin: each opens an app context and a database connection and
calls a service. Services never import this module, so they stay usable
from the CLI and the tests without a queue.

Under ``TESTING`` (or ``HUEY_IMMEDIATE=True``) tasks run at once, in the
caller, as a request's deferred work did before: the in-process tests need
no consumer. The tests of the queue itself start real consumer processes.

The consumer is ``flask worker`` (see cli.py), started by ``make run``
beside the web server.
"""

import datetime
import functools
import logging
import os
import socket

from flask import current_app, has_app_context
from huey import Huey, crontab
from huey.storage import MemoryStorage, PriorityRedisStorage, SqliteStorage

from services.fsmodes import create_private_file, private_dir

ROOT = os.path.dirname(os.path.abspath(__file__))
DEFAULT_URL = "sqlite:///" + os.path.join(ROOT, "instance", "huey.sqlite3")
PURGE_EVERY = datetime.timedelta(days=1)
HEARTBEAT_KEY = "consumer-last-seen"
PURGE_KEY = "id-image-purge-last-run"
BACKUP_KEY = "backup-last-run"
BACKUP_EVERY = datetime.timedelta(days=1)

log = logging.getLogger("gradproof.tasks")


class LazySqliteStorage(SqliteStorage):
    """SqliteHuey's storage, creating its file and tables on first use
    (not at import, so importing this module touches no disk)."""

    def __init__(self, name, filename, **kwargs):
        super().__init__(name, filename=filename, create_tables=False, **kwargs)

    def _create_connection(self):
        # Queued tasks name accounts and files: the queue is private like the database.
        private_dir(os.path.dirname(self.filename) or ".")
        create_private_file(self.filename)
        conn = super()._create_connection()
        for sql in self.ddl:
            conn.execute(sql)
        return conn


def make_storage(name, url):
    """The Huey storage for a HUEY_URL."""
    url = url or DEFAULT_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        # Priorities (mail before imports) need Redis 5 or later.
        return PriorityRedisStorage(name, url=url)
    if url.startswith("sqlite:///"):
        return LazySqliteStorage(name, url[len("sqlite:///") :], timeout=10)
    if url == "memory://":
        return MemoryStorage(name)
    raise ValueError(f"HUEY_URL must start with sqlite:/// or redis://, not {url!r}")


class AppHuey(Huey):
    """A Huey whose storage follows HUEY_URL (set again by `configure`)."""

    url = os.environ.get("HUEY_URL", "")

    def get_storage(self, **kwargs):
        return make_storage(self.name, self.url)


huey = AppHuey("gradproof", results=False, utc=True)
_app = None


def configure(app):
    """Point the queue at the app's HUEY_URL; called by create_app()."""
    global _app
    _app = app
    url = app.config.get("HUEY_URL") or ""
    immediate = app.config.get("HUEY_IMMEDIATE")
    immediate = app.testing if immediate is None else bool(immediate)
    if url != huey.url or immediate != huey.immediate or _storage_is_stale(immediate):
        huey.url = url
        huey._immediate = immediate
        huey.storage = huey.create_storage()


def _storage_is_stale(immediate):
    return not immediate and isinstance(huey.storage, MemoryStorage) and huey.url != "memory://"


def _app_or_new():
    global _app
    if _app is None:
        from app import create_app

        _app = create_app()
    return _app


def in_app(fn):
    """Run a task inside an app context with its own database connection.

    In immediate mode a task may run inside the caller's context; it then
    keeps the caller's connection open.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import models

        if has_app_context():
            return fn(*args, **kwargs)
        app = _app_or_new()
        with app.app_context():
            models.db.connect(reuse_if_open=True)
            try:
                return fn(*args, **kwargs)
            finally:
                if not models.db.is_closed():
                    models.db.close()

    return wrapper


# --- mail -------------------------------------------------------------------


@huey.task(priority=10)
@in_app
def deliver_mail():
    """Deliver whatever is due in the outbox (services.mail)."""
    from services import mail

    counts = mail.deliver_pending()
    if any(counts.values()):
        log.info("outbox: %s", " ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def deliver_mail_soon(app):
    """Ask the consumer for a delivery; the outbox row is already committed.

    A queue that cannot be reached loses nothing: the periodic drain sends
    the mail within OUTBOX_DRAIN_SECONDS (half a minute) of the consumer
    running again.
    """
    try:
        with app.app_context():
            deliver_mail()
    except Exception:
        app.logger.exception("could not enqueue mail delivery; the periodic drain will send it")


def enqueue_delivery_after(app):
    """A callable for `response.call_on_close`."""
    return functools.partial(deliver_mail_soon, app)


# --- imports and the compliance re-check -------------------------------------


@huey.task()
@in_app
def run_import(job_id):
    """Run one ImportJob (registry, photos or compliance re-check)."""
    from services import importing, mail

    importing.run_job(current_app._get_current_object(), job_id)
    mail.deliver_pending()  # the mails an import queued go out now


def start_job(job):
    """Queue an ImportJob created (and committed) by a request."""
    run_import(job.id)


# --- periodic duties ----------------------------------------------------------


def drain_delays(seconds=None):
    """Seconds after the minute's tick at which the outbox is drained again.

    Huey's periodic tasks run at most once a minute, so the drains between
    two ticks are scheduled by the tick itself: every OUTBOX_DRAIN_SECONDS
    (1 to 60; the default 30 gives one, half a minute after the tick).
    """
    if seconds is None:
        seconds = current_app.config["OUTBOX_DRAIN_SECONDS"]  # default in app.DEFAULTS
    seconds = max(1, min(int(seconds), 60))
    return list(range(seconds, 60, seconds))


@huey.periodic_task(crontab(), priority=5)
@in_app
def tick():
    """Every minute: heartbeat, stale-job sweep, daily purge, outbox drain;
    then more outbox drains until the next tick (every OUTBOX_DRAIN_SECONDS)."""
    record_heartbeat()
    sweep_jobs()
    purge_if_due()
    backup_if_due()
    for delay in drain_delays():
        half_tick.schedule(delay=delay)
    return deliver_mail.call_local()


# The name is from when it ran only half a minute after the tick; kept, as
# a queue may hold one scheduled by a consumer of the version before.
@huey.task(priority=5)
@in_app
def half_tick():
    """An outbox drain between two ticks (and a heartbeat)."""
    record_heartbeat()
    return deliver_mail.call_local()


def sweep_jobs(starting=False):
    """Fail jobs whose consumer died (their uploads are deleted)."""
    from services import importing

    count = importing.sweep_interrupted(starting=starting)
    if count:
        log.warning("marked %d interrupted import job(s) as failed", count)
    return count


def purge_if_due(now=None):
    """The daily purge: runs when the last run is a day old (or never ran).

    ID pictures past their retention, kept uploads nobody claimed, picture
    files no request points to, and expired login sessions.
    """
    from services import idimages, pending_uploads, sessions

    now = now or datetime.datetime.now(datetime.UTC)
    last = huey.get(PURGE_KEY, peek=True)
    if last is not None and now - last < PURGE_EVERY:
        return None
    count = idimages.purge() + pending_uploads.purge() + idimages.sweep_orphans()
    sessions.purge()
    huey.put(PURGE_KEY, now)
    if count:
        log.info("ID pictures purged: %d", count)
    return count


def backup_if_due(now=None):
    """The daily backup, when BACKUP_DIR is set: queued when the last one is a
    day old (or never ran). Returns True when one was queued."""
    if not current_app.config.get("BACKUP_DIR"):
        return None
    now = now or datetime.datetime.now(datetime.UTC)
    last = huey.get(BACKUP_KEY, peek=True)
    if last is not None and now - last < BACKUP_EVERY:
        return None
    huey.put(BACKUP_KEY, now)
    run_backup()
    return True


@huey.task(priority=1)
@in_app
def run_backup():
    """One archive into BACKUP_DIR, keeping the newest BACKUP_KEEP."""
    from services import backup

    path, removed = backup.scheduled(
        current_app.config["BACKUP_DIR"], current_app.config.get("BACKUP_KEEP", 14)
    )
    log.info("daily backup written: %s (%d old one(s) removed)", path, len(removed))
    return path


# --- consumer liveness --------------------------------------------------------


def record_heartbeat(now=None):
    """Note that a consumer is alive (read by consumer_last_seen)."""
    now = now or datetime.datetime.now(datetime.UTC)
    huey.put(HEARTBEAT_KEY, {"at": now, "host": socket.gethostname(), "pid": os.getpid()})


def consumer_last_seen():
    """When a consumer last wrote its heartbeat (aware UTC datetime), or None.

    Consumers write it on start and at every outbox drain (every 30 seconds
    by default, OUTBOX_DRAIN_SECONDS); a value older than
    about two minutes means no consumer is running (or all are stuck).
    Raises whatever the queue storage raises when it cannot be reached.
    """
    beat = huey.get(HEARTBEAT_KEY, peek=True)
    return beat["at"] if beat else None


def describe_storage():
    """Where the queue lives, for logs (without a Redis password)."""
    url = huey.url or DEFAULT_URL
    if "@" in url:
        scheme, rest = url.split("://", 1)
        url = f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


def create_consumer(app, workers=4):
    """A Huey consumer for `app`: thread workers, periodic duties on."""
    configure_for_consumer(app)
    return huey.create_consumer(
        workers=workers,
        worker_type="thread",
        periodic=True,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
        check_worker_health=True,
    )


def configure_for_consumer(app):
    """A consumer never runs in immediate mode, whatever the config says."""
    global _app
    _app = app
    if huey.immediate:
        huey._immediate = False
        huey.storage = huey.create_storage()
