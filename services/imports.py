"""What the registry and photo imports share: errors, reasons, tables, jobs.

The imports themselves live in ``services.import_registry`` (CSV/XLSX of
student records) and ``services.import_photos`` (a ZIP of photos). Both
return a JSON-able report. A reason in a report is stored as its English
msgid plus variables (``reason()``) and translated when shown
(``describe()``), so a report reads in the language of whoever opens it.

``run_job()`` executes an ImportJob (called by the queue's consumer, see
tasks.py): its own request context (for absolute links in mails) and DB
connection, a heartbeat while it runs, and the owner (host:pid) recorded so
that a job whose consumer died is found and failed (``sweep_interrupted``).
"""

import contextlib
import csv
import datetime
import io
import json
import logging
import os
import re
import socket
import threading
import time
import unicodedata

from flask import current_app, g, url_for
from flask_babel import gettext
from flask_babel.speaklater import LazyString
from werkzeug.routing import BuildError

from models import AuditEvent, ImportJob, db, utcnow
from services import mail
from services.text import strip_invisible

# Zero-width characters and BOMs that Excel and chat apps leave in headers.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"))
_DELIMITERS = (",", "\t", ";")
PROGRESS_INTERVAL = 0.5  # seconds between progress writes of a job


def N_(message):
    """Mark a msgid for extraction (pybabel knows N_) without translating it."""
    return message


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; nothing was written."""

    def __init__(self, message, **args):
        self.reason = reason(message, **args)
        super().__init__(english(self.reason))


def reason(message, **args):
    """A JSON-able reason: {"msgid": English text, "args": {...}}.

    ``message`` is a msgid or a lazy string from ``lazy_gettext`` (as in
    IdNumberError and PhotoError); its msgid and variables are kept apart
    so the text can be translated later, in the reader's language.
    """
    if isinstance(message, LazyString) and message._args:
        return {"msgid": str(message._args[0]), "args": {**message._kwargs, **args}}
    return {"msgid": str(message), "args": args}


def describe(item):
    """A stored reason in the current language (English outside a request)."""
    if isinstance(item, str):
        return item
    args = item.get("args") or {}
    return gettext(item["msgid"], **args) if args else gettext(item["msgid"])


def english(item):
    """A stored reason as English text (for logs of the code, never of data)."""
    args = item.get("args") or {}
    return item["msgid"] % args if args else item["msgid"]


def header_key(text):
    """A header cell as compared: NFKC, no invisible characters, trimmed, casefolded.

    A trailing "*" (templates mark required columns with it) is dropped too.
    """
    text = unicodedata.normalize("NFKC", "" if text is None else str(text)).translate(_INVISIBLE)
    return text.strip().rstrip("*").strip().casefold()


def clean(value):
    """A cell as trimmed text: NFC-normalised, without invisible characters."""
    if value is None:
        return ""
    return strip_invisible(unicodedata.normalize("NFC", str(value))).strip()


def decode_text(data):
    """Bytes of a text table as str: UTF-8 (BOM or not), UTF-16 with BOM, else GBK/GB18030."""
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportFileError(N_("This is not a text (CSV) file."))
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        N_("The file could not be read as text in UTF-8 or GBK. Save it again as “CSV UTF-8”.")
    )


def csv_rows(text, limit=None, too_many=None):
    """Rows of a CSV text as lists of str; the delimiter is guessed from the first line.

    With ``limit``, more rows than that raise ``too_many`` (an ImportFileError).
    """
    first = text.split("\n", 1)[0]
    delimiter = max(_DELIMITERS, key=first.count)
    try:
        rows = []
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append(row)
            if limit is not None and len(rows) > limit:
                raise too_many
        return rows
    except csv.Error as exc:
        raise ImportFileError(N_("The CSV file is malformed: %(problem)s"), problem=str(exc)) from None


def find_header(rows, aliases, required, min_known=3, search=10):
    """Locate the header row among the first ``search`` rows.

    ``aliases`` maps header keys to field names. Returns (row index,
    {field: column}). Raises ImportFileError when no row has ``min_known``
    known headers, a field appears twice, or a ``required`` field is missing
    (``required`` maps field → the header shown in the message).
    """
    for index, row in enumerate(rows[:search]):
        fields = [aliases.get(header_key(cell)) for cell in row]
        if sum(1 for f in fields if f) < min(min_known, len(required)):
            continue
        columns = {}
        for column, field in enumerate(fields):
            if field is None:
                continue
            if field in columns:
                raise ImportFileError(
                    N_("The column “%(column)s” appears twice in the header line."), column=clean(row[column])
                )
            columns[field] = column
        missing = [label for field, label in required.items() if field not in columns]
        if missing:
            raise ImportFileError(
                N_("These required columns are missing from the header line: %(columns)s."),
                columns=", ".join(missing),
            )
        return index, columns
    raise ImportFileError(
        N_("No header line found: the first line must name the columns, e.g. %(columns)s."),
        columns=", ".join(list(required.values())[:4]),
    )


# --- running an import as a job -------------------------------------------


def job_context(app):
    """An app + request context for imports outside a request (CLI, thread).

    Mails queued by an import need absolute links, built from BASE_URL.
    """
    return app.test_request_context(base_url=app.config.get("BASE_URL") or "http://localhost")


def mail_link(endpoint, **values):
    """An absolute URL for a mail; the home page if `endpoint` is not (yet) routed."""
    try:
        return url_for(endpoint, _external=True, **values)
    except BuildError:
        return url_for("student.auth.home", _external=True)


def deliver_queued_mail():
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


def worker_id():
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


def is_interrupted(job, now, starting=False):
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
        pid = int(pid)
        return (starting and pid == os.getpid()) or not _pid_alive(pid)
    return False


def sweep_interrupted(now=None, starting=False):
    """Fail every job whose consumer died; returns how many were failed.

    Called when a consumer starts (``starting=True``) and every minute.
    """
    now = now or utcnow()
    jobs = ImportJob.select().where(ImportJob.status.in_(["queued", "running"]))
    return _fail([job.id for job in jobs if is_interrupted(job, now, starting)], now)


def mark_if_interrupted(job, now=None):
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


def run_job(app, job_id):
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
    from services import import_photos, import_registry, photos

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
            report = import_registry.import_registry(
                data,
                job.filename,
                dry_run=job.dry_run,
                actor=job.created_by,
                progress=progress,
                link=mail_link,
            )
            total = report["counts"]["rows"]
        else:
            report = import_photos.import_photos(
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


def job_error(job):
    """The failure of a job in the current language."""
    try:
        return describe(json.loads(job.error))
    except (ValueError, TypeError, KeyError):
        return job.error


# --- plain-text reports for the CLI ----------------------------------------

_SPACE = re.compile(r"\s+")


def report_lines(report):
    """The report as lines of text: counts, then every rejected or unmatched item."""
    counts = " ".join(f"{key}={value}" for key, value in report["counts"].items())
    lines = [("dry run (nothing written): " if report.get("dry_run") else "") + counts]
    for name in report.get("colleges_created", []):
        lines.append(f"new college: {name}")
    for name in report.get("cohorts_created", []):
        lines.append(f"new cohort (set its deadlines): {name}")
    for dup in report.get("duplicates", []):
        lines.append(f"duplicate group {dup['group']}: {dup['field']} {dup['value']} on {dup['count']} lines: {dup['lines']}")
    for row in report.get("rejected", []):
        where = f"line {row['line']}" if "line" in row else row["file"]
        text = " ".join(describe(item) for item in row.get("reasons") or [row["reason"]])
        lines.append(f"rejected {where}: {_SPACE.sub(' ', text)}")
    for row in report.get("replaced", []):
        voided = " (confirmation voided)" if row["voided"] else ""
        lines.append(f"replaced {row['student_no']} ({row['file']}){voided}")
    for row in report.get("unmatched", []):
        lines.append(f"unmatched {row['file']}: {describe(row['reason'])}")
    for name in report.get("manifest_missing", []):
        lines.append(f"in manifest.csv but not in the ZIP: {name}")
    return lines
