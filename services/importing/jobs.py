"""Running an import as a job (ImportJob), and imports outside a request.

``run_job()`` executes an ImportJob (called by the queue's consumer, see
tasks.py): its own request context (for absolute links in mails) and DB
connection, a heartbeat while it runs, and the owner (host:pid) recorded so
that a job whose consumer died is found and failed (``sweep_interrupted``).
"""

import contextlib
import datetime
import json
import logging
import os
import socket
import threading
import time
from typing import Any

from flask import Flask, current_app, g, url_for
from flask.ctx import RequestContext
from werkzeug.routing import BuildError

from models import AuditEvent, ImportJob, db, utcnow
from services import mail, photos
from services.importing.photo_import import import_photos
from services.importing.reasons import N_, ImportFileError, describe, reason
from services.importing.registry import import_registry

PROGRESS_INTERVAL = 0.5  # seconds between progress writes of a job


def job_context(app: Flask) -> RequestContext:
    """An app + request context for imports outside a request (CLI, thread).

    Mails queued by an import need absolute links, built from BASE_URL.
    """
    return app.test_request_context(base_url=app.config.get("BASE_URL") or "http://localhost")


def mail_link(endpoint: str, **values: Any) -> str:
    """An absolute URL for a mail; the home page if `endpoint` is not (yet) routed."""
    try:
        return url_for(endpoint, _external=True, **values)
    except BuildError:
        return url_for("student.auth.home", _external=True)


def deliver_queued_mail() -> None:
    """Send what an import queued, as a request would after its response."""
    if g.get("outbox_dirty") and current_app.config.get("MAIL_SEND_AFTER_REQUEST", True):
        try:
            mail.deliver_pending()
        except Exception:  # the outbox keeps the mail; send-mail retries
            current_app.logger.exception("outbox delivery after import failed")


def _progress_writer(job_id):
    last = [0.0]

    def progress(done, total):
        now = time.monotonic()
        if now - last[0] < PROGRESS_INTERVAL and done < total:
            return
        last[0] = now
        ImportJob.update(done=done, total=total, status="running", updated_at=utcnow()).where(
            ImportJob.id == job_id
        ).execute()

    return progress


FAILED = N_("The import stopped because of an internal error; the details are in the server log.")


HEARTBEAT = 10  # seconds between heartbeats of a running job
STALE_AFTER = datetime.timedelta(minutes=2)  # a running job silent this long is dead
QUEUED_TOO_LONG = datetime.timedelta(days=1)  # a queued job whose task was lost
INTERRUPTED = N_("The import was interrupted (the server was restarted?). Please upload the file again.")


def create_job(
    kind: str, created_by: int, filename: str = "", path: str = "", dry_run: bool = False
) -> ImportJob:
    """A new queued job (an import of the file at `path`, or a re-check); the
    caller hands it to the task queue (tasks.start_job)."""
    with db.atomic():
        return ImportJob.create(
            kind=kind, filename=filename[:255], path=path, dry_run=dry_run, created_by=created_by
        )


def worker_id() -> str:
    """This process as recorded in a running job: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fail(job_ids, now):
    """Mark jobs failed as interrupted and delete their uploads; returns the count."""
    count = 0
    for job in ImportJob.select().where(ImportJob.id.in_(job_ids)):
        changed = (
            ImportJob.update(status="failed", error=json.dumps(reason(INTERRUPTED)), finished_at=now)
            .where((ImportJob.id == job.id) & ImportJob.status.in_(["queued", "running"]))
            .execute()
        )
        if changed:
            _remove(job.path)
            count += changed
    return count


def is_interrupted(job: ImportJob, now: datetime.datetime, starting: bool = False) -> bool:
    """Whether a queued/running job can no longer finish.

    Running: its heartbeat is older than STALE_AFTER, or its consumer ran on
    this host and is gone (at a consumer's start: any consumer of this host
    other than a live one). Queued: its task waited a whole day.
    """
    if job.status == "queued":
        return job.created_at < now - QUEUED_TOO_LONG
    if job.status != "running":
        return False
    if (job.updated_at or job.created_at) < now - STALE_AFTER:
        return True
    host, _, pid = (job.worker or "").rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        number = int(pid)
        return (starting and number == os.getpid()) or not _pid_alive(number)
    return False


def sweep_interrupted(now: datetime.datetime | None = None, starting: bool = False) -> int:
    """Fail every job whose consumer died; returns how many were failed.

    Called when a consumer starts (``starting=True``) and every minute.
    """
    now = now or utcnow()
    jobs = ImportJob.select().where(ImportJob.status.in_(["queued", "running"]))
    return _fail([job.id for job in jobs if is_interrupted(job, now, starting)], now)


def mark_if_interrupted(job: ImportJob, now: datetime.datetime | None = None) -> ImportJob:
    """The job, failed first if it was interrupted (checked when its page is shown)."""
    now = now or utcnow()
    if is_interrupted(job, now):
        _fail([job.id], now)
        job = ImportJob.get_by_id(job.id)
    return job


class _Heartbeat(threading.Thread):
    """Writes a running job's updated_at every HEARTBEAT seconds until stopped."""

    def __init__(self, job_id):
        super().__init__(name=f"heartbeat-{job_id}", daemon=True)
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(HEARTBEAT):
            try:
                with db.connection_context():
                    ImportJob.update(updated_at=utcnow()).where(
                        (ImportJob.id == self.job_id) & (ImportJob.status == "running")
                    ).execute()
            except Exception:  # a busy database skips one beat
                logging.getLogger(__name__).warning("heartbeat of job %s skipped", self.job_id, exc_info=True)

    def stop(self):
        self.stopped.set()
        self.join()


def run_job(app: Flask, job_id: int) -> bool:
    """Run one queued ImportJob to its end (called by the consumer's task).

    Stores the report as JSON, or status "failed" with a reason (never a
    traceback). The uploaded file is deleted afterwards: it holds ID numbers.
    A job that is no longer queued (failed by a sweep, or run already) is
    left alone. Returns whether the job ran.
    """
    with job_context(app):
        db.connect(reuse_if_open=True)
        claimed = (
            ImportJob.update(status="running", worker=worker_id(), updated_at=utcnow())
            .where((ImportJob.id == job_id) & (ImportJob.status == "queued"))
            .execute()
        )
        if not claimed:
            return False
        heartbeat = _Heartbeat(job_id)
        heartbeat.start()
        try:
            job = ImportJob.get_by_id(job_id)
            values = _execute(app, job)
            values["finished_at"] = utcnow()
            ImportJob.update(**values).where(ImportJob.id == job_id).execute()
        finally:
            heartbeat.stop()
        return True


# A photo import that replaces existing photos (ImportJob.kind, no schema change).
PHOTOS_REPLACE = "photos-replace"


def _execute(app, job):
    """Run the job's import; the ImportJob fields to store at its end."""
    try:
        progress = _progress_writer(job.id)
        if job.kind == "compliance":
            counts = photos.recheck_compliance(progress=progress)
            with db.atomic():
                AuditEvent.log("photo.compliance", actor=job.created_by, reason=str(counts))
            return {
                "status": "done",
                "report": json.dumps({"kind": "compliance", "counts": counts}),
                "done": counts["checked"],
                "total": counts["checked"],
            }
        if job.kind == "students":
            with open(job.path, "rb") as fh:
                data = fh.read()
            report = import_registry(
                data,
                job.filename,
                dry_run=job.dry_run,
                actor=job.created_by,
                progress=progress,
                link=mail_link,
            )
            total = report["counts"]["rows"]
        else:
            report = import_photos(
                job.path,
                actor=job.created_by,
                progress=progress,
                link=mail_link,
                filename=job.filename,
                replace=job.kind == PHOTOS_REPLACE,
            )
            total = report["counts"]["files"]
        report_json = json.dumps(report, ensure_ascii=False)
        return {"status": "done", "report": report_json, "done": total, "total": total}
    except ImportFileError as exc:
        return {"status": "failed", "error": json.dumps(exc.reason, ensure_ascii=False)}
    except Exception:
        app.logger.exception("import job %s failed", job.id)
        return {"status": "failed", "error": json.dumps(reason(FAILED))}
    finally:
        _remove(job.path)


def _remove(path):
    with contextlib.suppress(OSError):
        os.remove(path)


def job_error(job: ImportJob) -> str:
    """The failure of a job in the current language."""
    try:
        return describe(json.loads(job.error))
    except (ValueError, TypeError, KeyError):
        return job.error
