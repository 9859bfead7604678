"""Photo import: a ZIP of graduation photos named by ID number or student number.

An optional ``manifest.csv`` (学校, 姓名, 证件号码, 文件名) carries the photo
collection's own data; when it disagrees with the registry (or names another
school than INSTITUTION_NAME) the photo is stored but left unmatched, with
the reason, for staff to resolve. Each picture goes through
``photos.make_portrait_set`` (verify, orient, strip, crop, variants), in a
pool of worker processes for large ZIPs; files and database rows are written
by the calling thread, one small transaction per photo, so the site stays
writable during a long import.
"""

import hashlib
import io
import multiprocessing
import os
import posixpath
import re
import sys
import unicodedata
import zipfile
import zlib
from collections import deque
from concurrent.futures import ProcessPoolExecutor

from flask import current_app
from peewee import IntegrityError

from models import AuditEvent, Photo, PhotoHistory, Record, db
from services import idcard, matching, photos, photostore, records
from services.imports import N_, ImportFileError, clean, csv_rows, decode_text, describe, find_header, reason

MAX_MEMBER = 20 * 1024 * 1024
MAX_TOTAL = 2 * 1024**3
MAX_RATIO = 100  # JPEG, PNG and WebP hardly compress; a bomb compresses ~1000:1
RATIO_FLOOR = 1024 * 1024  # small members may compress well without harm
POOL_MIN = 16  # fewer photos are not worth starting worker processes
PICTURE_EXTS = {
    "", ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".gif", ".bmp",
    ".tif", ".tiff", ".heic", ".heif", ".avif",
}  # fmt: skip
SYSTEM_FILES = {"thumbs.db", "desktop.ini"}
MANIFEST_NAME = "manifest.csv"
MANIFEST_ALIASES = {
    "学校": "school", "school": "school", "姓名": "name", "name": "name",
    "证件号码": "id_number", "身份证号": "id_number", "id_number": "id_number",
    "文件名": "filename", "filename": "filename", "学号": "student_no", "student_no": "student_no",
}  # fmt: skip
_OLD_ID = re.compile(r"[0-9]{15}")

# Why a stored photo is not attached: code → text (kept in Photo.unmatched_reason
# as "code: English text"; describe_unmatched() translates it for display).
UNMATCHED = {
    "no_record": N_("No record with this ID number or student number."),
    "ambiguous": N_("Several records have this ID number."),
    "id_mismatch": N_("The ID number in the manifest differs from the registry record."),
    "name_mismatch": N_("The name in the manifest differs from the registry record."),
    "school_mismatch": N_("The school in the manifest is not this institution."),
    "record_taken": N_("Another photo in this ZIP was already attached to this record."),
    "has_photo": N_(
        "The record already has a photo; import again with “replace existing photos” to change it."
    ),
}
TOO_LARGE = N_("The file is larger than 20 MB.")
BOMB = N_("The file is compressed far too well for a photo (a ZIP bomb?) and was not opened.")
DAMAGED = N_("The file is damaged inside the ZIP and could not be read.")
ENCRYPTED = N_("The file is encrypted inside the ZIP.")
NOT_PICTURE = N_("This is not a picture file (JPEG, PNG or WebP expected).")
FAILED = N_("The picture could not be processed.")
UNSAFE_PATH = N_("The file's path inside the ZIP leads outside it (“..” or an absolute path); it was not opened.")


def describe_unmatched(value):
    """Photo.unmatched_reason in the current language."""
    code = (value or "").split(":", 1)[0]
    return describe(reason(UNMATCHED[code])) if code in UNMATCHED else value


def _member_name(info):
    """The member's name, repairing GBK names that zipfile read as cp437."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            raw = None
        for encoding in ("utf-8", "gb18030") if raw else ():
            try:
                name = raw.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
    return name.replace("\\", "/")


def _unsafe(name):
    """A member path that climbs out of the archive ("..") or is absolute."""
    return name.startswith("/") or re.match(r"[A-Za-z]:", name) is not None or ".." in name.split("/")


def _ignored(name):
    parts = [p for p in name.split("/") if p and p != "."]
    return (
        not parts
        or any(p == "__MACOSX" or p.startswith(".") for p in parts)
        or parts[-1].casefold() in SYSTEM_FILES
    )


def _canonical_id(text):
    number = idcard.normalize(text)
    if _OLD_ID.fullmatch(number):
        number = idcard.upgrade_15(number)
    return number


def _read(archive, info):
    """(bytes, None) or (None, reason) for one member, never inflating more than 20 MB."""
    if info.flag_bits & 0x1:
        return None, reason(ENCRYPTED)
    if info.file_size > MAX_MEMBER:
        return None, reason(TOO_LARGE)
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        return None, reason(BOMB)
    try:
        with archive.open(info) as fh:
            data = fh.read(MAX_MEMBER + 1)
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError):
        return None, reason(DAMAGED)
    if len(data) > MAX_MEMBER:
        return None, reason(TOO_LARGE)
    return data, None


def die_with_parent(parent_pid):
    """Pool initializer: end this process when the consumer that started it dies,
    even by SIGKILL (Linux: PR_SET_PDEATHSIG), so no pool process outlives it."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def make_variants(data):
    """Worker: ("ok", PortraitSet, compliance codes) or ("error", reason)."""
    try:
        portrait = photos.make_portrait_set(data)
        return "ok", portrait, photos.compliance(portrait.master, portrait.national)
    except photos.PhotoError as exc:
        return "error", reason(exc.message), None
    except Exception:  # a picture the pipeline cannot handle must not stop the import
        return "error", reason(FAILED), None


def _read_manifest(archive, info):
    data, problem = _read(archive, info)
    if problem:
        raise ImportFileError(N_("manifest.csv could not be read from the ZIP."))
    rows = csv_rows(decode_text(data))
    start, columns = find_header(rows, MANIFEST_ALIASES, {"filename": "文件名"}, min_known=2)
    manifest = {}
    for cells in rows[start + 1 :]:
        entry = {key: clean(cells[i]) if i < len(cells) else "" for key, i in columns.items()}
        if entry["filename"]:
            manifest[posixpath.basename(entry["filename"].replace("\\", "/")).casefold()] = entry
    return manifest


def _manifest_entry(manifest, name):
    base = posixpath.basename(name).casefold()
    return manifest.pop(base, None) or manifest.pop(posixpath.splitext(base)[0], None)


class PhotoImport:
    """One run over one ZIP; ``report`` is filled as photos are handled."""

    def __init__(self, actor, link, progress, replace=False):
        self.actor, self.link, self.progress, self.replace = actor, link, progress, replace
        self.institution = clean(current_app.config.get("INSTITUTION_NAME") or "")
        self.seen, self.attached_to = set(), set()
        self.report = {
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

    def find(self, stem, entry):
        """(record, code): the record for this photo, or why there is none."""
        keys = [("id", _canonical_id(stem)), ("no", unicodedata.normalize("NFKC", stem).strip())]
        if entry and entry.get("id_number"):
            keys.append(("id", _canonical_id(entry["id_number"])))
        for kind, key in keys:
            found = (self.by_number if kind == "no" else self.by_id).get(key, ())
            if len(found) > 1:
                return None, "ambiguous"
            if found:
                record = Record.get_or_none(Record.id == found[0])
                if record is not None:
                    return record, self.disagreement(record, entry)
        return None, "no_record"

    def load_index(self):
        """Record ids by ID number and by student number, and the photos already stored."""
        self.by_id, self.by_number = {}, {}
        for record_id, id_number, student_no in Record.select(
            Record.id, Record.id_number, Record.student_no
        ).tuples():
            self.by_id.setdefault(id_number, []).append(record_id)
            self.by_number[student_no] = [record_id]
        self.stored = {sha for (sha,) in Photo.select(Photo.sha256).tuples()}

    def disagreement(self, record, entry):
        if record.id in self.attached_to:
            return "record_taken"
        if record.photo_id is not None and not self.replace:
            return "has_photo"
        if not entry:
            return None
        if entry.get("id_number") and _canonical_id(entry["id_number"]) != record.id_number:
            return "id_mismatch"
        if entry.get("name") and matching.name_key(entry["name"]) != record.name_key:
            return "name_mismatch"
        school = entry.get("school")
        if self.institution and school and matching.name_key(school) != matching.name_key(self.institution):
            return "school_mismatch"
        return None

    def source_fields(self, name, stem, entry, record):
        """The collection's own data: the manifest's, else what the file name says."""
        entry = entry or {}
        number = entry.get("id_number") or ""
        by_number = record is not None and record.student_no == unicodedata.normalize("NFKC", stem).strip()
        looks_like_id = not by_number and len(idcard.normalize(stem)) in (15, 18)
        return {
            "src_filename": name[:255],
            "src_school": entry.get("school", "")[:100],
            "src_name": entry.get("name", "")[:64],
            "src_id_number": _canonical_id(number or (stem if looks_like_id else ""))[:32],
            "src_student_no": (entry.get("student_no") or ("" if looks_like_id else stem))[:32],
        }

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
        members = [(info, _member_name(info)) for info in archive.infolist() if not info.is_dir()]
        # Listed as rejected, not skipped silently: staff should see that the
        # ZIP was odd (a path-traversal attempt, or a broken archiver).
        unsafe = [(info, name) for info, name in members if _unsafe(name)]
        members = [(info, name) for info, name in members if not _unsafe(name) and not _ignored(name)]
        for _info, name in unsafe:
            self.reject(name, reason(UNSAFE_PATH))
        if sum(info.file_size for info, _name in members) > MAX_TOTAL:
            raise ImportFileError(N_("The ZIP holds more than 2 GB of files; split it into smaller ZIPs."))
        manifests = [m for m in members if posixpath.basename(m[1]).casefold() == MANIFEST_NAME]
        manifest = _read_manifest(archive, manifests[0][0]) if manifests else {}
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
                entry = _manifest_entry(manifest, name)
                if posixpath.splitext(name)[1].lower() not in PICTURE_EXTS:
                    self.reject(name, reason(NOT_PICTURE))
                    pending.append((name, entry, None))
                else:
                    data, problem = _read(archive, info)
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


def import_photos(source, *, actor=None, progress=None, link=None, workers=None, filename="", replace=False):
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
