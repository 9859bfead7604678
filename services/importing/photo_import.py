"""Photo import: a ZIP of graduation photos named by ID number or student number.

An optional ``manifest.csv`` (学校, 姓名, 证件号码, 文件名) carries the photo
collection's own data; when it disagrees with the registry (or names another
school than INSTITUTION_NAME) the photo is stored but left unmatched, with
the reason, for staff to resolve (``photo_match``). Each picture goes through
``photos.make_portrait_set`` (verify, orient, strip, crop, variants), in a
pool of worker processes for large ZIPs; files and database rows are written
by the calling thread, one small transaction per photo, so the site stays
writable during a long import.

The reasons a report can carry are importable from here (``__all__``).
"""

import ctypes
import hashlib
import io
import multiprocessing
import os
import posixpath
import signal
import sys
import zipfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import IO, Any

from flask import current_app
from peewee import IntegrityError

from models import AuditEvent, Photo, PhotoHistory, Record, db
from services import photos, photostore, records
from services.importing.photo_match import UNMATCHED, RecordMatcher, describe_unmatched
from services.importing.photo_zip import (
    BOMB,
    MANIFEST_NAME,
    MAX_TOTAL,
    NOT_PICTURE,
    PICTURE_EXTS,
    TOO_LARGE,
    UNSAFE_PATH,
    is_ignored,
    is_unsafe,
    manifest_entry,
    member_name,
    read_manifest,
    read_member,
)
from services.importing.reasons import N_, ImportFileError, reason

__all__ = [
    "BOMB",
    "NOT_PICTURE",
    "POOL_MIN",
    "TOO_LARGE",
    "UNMATCHED",
    "UNSAFE_PATH",
    "PhotoImport",
    "describe_unmatched",
    "import_photos",
    "make_variants",
]

POOL_MIN = 16  # fewer photos are not worth starting worker processes
FAILED = N_("The picture could not be processed.")


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this process when the consumer that started it dies,
    even by SIGKILL (Linux: PR_SET_PDEATHSIG), so no pool process outlives it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def make_variants(data: bytes) -> tuple[str, Any, list[str] | None]:
    """Worker: ("ok", PortraitSet, compliance codes) or ("error", reason)."""
    try:
        portrait = photos.make_portrait_set(data)
        return "ok", portrait, photos.compliance(portrait.master, portrait.national)
    except photos.PhotoError as exc:
        return "error", reason(exc.message), None
    except Exception:  # a picture the pipeline cannot handle must not stop the import
        return "error", reason(FAILED), None


class PhotoImport(RecordMatcher):
    """One run over one ZIP; ``report`` is filled as photos are handled."""

    def __init__(
        self,
        actor: Any,
        link: Callable[..., str] | None,
        progress: Callable[[int, int], None] | None,
        replace: bool = False,
    ) -> None:
        super().__init__(replace)
        self.actor, self.link, self.progress = actor, link, progress
        self.seen: set[str] = set()
        self.report: dict[str, Any] = {
            "kind": "photos",
            # "replaced" is counted only when asked to replace.
            "counts": dict.fromkeys(
                (
                    "files",
                    "attached",
                    *(("replaced",) if replace else ()),
                    "unmatched",
                    "rejected",
                    "duplicates",
                ),
                0,
            ),
            "replace": replace,
            "replaced": [],
            "unmatched": [],
            "rejected": [],
            "manifest_missing": [],
        }

    def reject(self, name, why):
        self.report["counts"]["rejected"] += 1
        self.report["rejected"].append({"file": name, "reason": why})

    def attach(self, photo, record):
        old = record.photo_id
        voided = old is not None and records.active_confirmation(record) is not None
        if old is not None:  # only with replace=True: keep the old photo in the history
            PhotoHistory.create(record=record, photo=old, replaced_by=self.actor, reason="photo import")
        records.apply_changes(
            record, {"photo": photo}, actor=self.actor, reason="photo import", link=self.link
        )
        self.attached_to.add(record.id)
        self.report["counts"]["attached"] += 1
        if old is not None:
            self.report["counts"]["replaced"] += 1
            self.report["replaced"].append(
                {"file": photo.src_filename, "student_no": record.student_no, "voided": voided}
            )

    def unmatched(self, name, code, record):
        self.report["counts"]["unmatched"] += 1
        self.report["unmatched"].append(
            {
                "file": name,
                "reason": reason(UNMATCHED[code]),
                "student_no": record.student_no if record else "",
            }
        )

    def store(self, name, entry, result):
        """Save a processed picture and attach it or keep it unmatched."""
        status, portrait, compliance = result
        if status != "ok":
            return self.reject(name, portrait)
        stem = posixpath.splitext(posixpath.basename(name))[0]
        key = photostore.save(portrait)
        try:
            with db.atomic():
                record, code = self.find(stem, entry)
                photo = Photo.create(
                    sha256=portrait.sha256,
                    key=key,
                    compliance=",".join(compliance),
                    unmatched_reason=f"{code}: {UNMATCHED[code]}" if code else "",
                    college=record.college_id if record is not None else None,
                    **self.source_fields(name, stem, entry, record),
                )
                if code:
                    self.unmatched(name, code, record)
                else:
                    self.attach(photo, record)
        except IntegrityError:  # the same picture, imported by someone else meanwhile
            photostore.delete(key)
            self.report["counts"]["duplicates"] += 1
        except BaseException:
            photostore.delete(key)
            raise

    def duplicate(self, name, entry, digest):
        """A picture stored before: attach it if it was unmatched and matches now."""
        photo = Photo.get_or_none(Photo.sha256 == digest)
        if photo is not None and not Record.select().where(Record.photo == photo).exists():
            stem = posixpath.splitext(posixpath.basename(name))[0]
            with db.atomic():
                record, code = self.find(stem, entry)
                if code is None:
                    Photo.update(unmatched_reason="").where(Photo.id == photo.id).execute()
                    return self.attach(photo, record)
        self.report["counts"]["duplicates"] += 1

    def run(self, archive, workers):
        members = [(info, member_name(info)) for info in archive.infolist() if not info.is_dir()]
        # Listed as rejected, not skipped silently: staff should see that the
        # ZIP was odd (a path-traversal attempt, or a broken archiver).
        unsafe = [(info, name) for info, name in members if is_unsafe(name)]
        members = [(info, name) for info, name in members if not is_unsafe(name) and not is_ignored(name)]
        for _info, name in unsafe:
            self.reject(name, reason(UNSAFE_PATH))
        if sum(info.file_size for info, _name in members) > MAX_TOTAL:
            raise ImportFileError(N_("The ZIP holds more than 2 GB of files; split it into smaller ZIPs."))
        manifests = [m for m in members if posixpath.basename(m[1]).casefold() == MANIFEST_NAME]
        manifest = read_manifest(archive, manifests[0][0]) if manifests else {}
        members = [m for m in members if m not in manifests]
        self.load_index()
        counts, total = self.report["counts"], len(members)
        counts["files"] = total
        pool = None
        if workers > 1 and total >= POOL_MIN:
            # spawn, not fork: this runs in a thread of a multi-threaded consumer.
            pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        pending, done = deque(), 0
        try:
            for info, name in members:
                entry = manifest_entry(manifest, name)
                if posixpath.splitext(name)[1].lower() not in PICTURE_EXTS:
                    self.reject(name, reason(NOT_PICTURE))
                    pending.append((name, entry, None))
                else:
                    data, problem = read_member(archive, info)
                    digest = hashlib.sha256(data).hexdigest() if data else None
                    if problem:
                        self.reject(name, problem)
                        pending.append((name, entry, None))
                    elif digest in self.seen or digest in self.stored:
                        pending.append((name, entry, ("duplicate", digest)))
                    else:
                        self.seen.add(digest)
                        job = pool.submit(make_variants, data) if pool else make_variants(data)
                        pending.append((name, entry, job))
                while pending and (len(pending) > 2 * workers + 2 or not pool):
                    done = self.finish(pending.popleft(), done, total)
            while pending:
                done = self.finish(pending.popleft(), done, total)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        self.report["manifest_missing"] = sorted(entry["filename"] for entry in manifest.values())
        return self.report

    def finish(self, item, done, total):
        name, entry, job = item
        if isinstance(job, tuple) and job[0] == "duplicate":
            self.duplicate(name, entry, job[1])
        elif job is not None:
            self.store(name, entry, job if isinstance(job, tuple) else job.result())
        done += 1
        if self.progress:
            self.progress(done, total)
        return done


def import_photos(
    source: str | bytes | bytearray | IO[bytes],
    *,
    actor: Any = None,
    progress: Callable[[int, int], None] | None = None,
    link: Callable[..., str] | None = None,
    workers: int | None = None,
    filename: str = "",
    replace: bool = False,
) -> dict[str, Any]:
    """Import a ZIP of photos (a path or bytes); returns the report (a JSON-able dict).

    Raises ImportFileError, writing nothing, when the ZIP cannot be opened
    or is too large as a whole. ``progress(done, total)`` is called after
    every photo; ``workers`` (default: IMPORT_WORKERS or the CPU count)
    processes make the variants. A record that has a photo keeps it (the new
    one stays unmatched, "has_photo") unless ``replace``: then the old photo
    goes to the record's history and the report lists the record as
    replaced, with whether a confirmation was voided.
    """
    if workers is None:
        workers = current_app.config.get("IMPORT_WORKERS") or os.cpu_count() or 1
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ImportFileError(N_("This is not a ZIP file, or the ZIP is damaged.")) from None
    with archive:
        run = PhotoImport(actor, link, progress, replace=replace)
        report = run.run(archive, workers)
    report["filename"] = filename
    counts = report["counts"]
    with db.atomic():
        AuditEvent.log(
            "import.photos",
            actor=actor,
            reason=f"{filename}: " + ", ".join(f"{k}={v}" for k, v in counts.items()),
        )
    return report
