"""The national hand-off ZIP: one JPEG per confirmed student with a photo,
named by ID number, with 名单.csv of those and 未确认.csv of everyone else.

JPEGs are encoded by a few threads while rows are read in query order; the
ZIP goes to an anonymous temporary file, so a cohort is never held in memory.
"""

import collections
import concurrent.futures
import os
import re
import tempfile
import zipfile
from typing import IO, Any

from flask_babel import lazy_gettext as _l

from services import photos, photostore
from services.exports.csv_safe import CsvMember
from services.exports.records import local_time
from services.vocab import DONE, RECORD_STATUS_LABELS

NATIONAL_LIST = "名单.csv"
NATIONAL_LIST_HEADERS = ["学号", "姓名", "证件号码", "确认时间"]
NATIONAL_MISSING = "未确认.csv"
NATIONAL_MISSING_HEADERS = ["学号", "姓名", "证件号码", "状态", "原因"]
# Encoding threads for the national JPEGs (~10 ms each on one core).
NATIONAL_WORKERS = min(4, os.cpu_count() or 1)

SKIP_REASONS = {
    "not_confirmed": _l("not confirmed"),
    "no_photo": _l("confirmed, but no photo"),
    "photo_missing": _l("confirmed, but the photo file is missing"),
    "photo_unreadable": _l("confirmed, but the photo cannot be read"),
    "duplicate_id": _l("confirmed, but another record has the same ID number"),
}
_FILE_SAFE = re.compile(r"[^0-9A-Za-z]")


def national_zip(query: Any) -> tuple[IO[bytes], dict[str, int]]:
    """The national hand-off: `<证件号码>.jpg` per confirmed student with a photo,
    名单.csv of those, 未确认.csv of everyone else with the reason.

    `query` is `record_select()` filtered and ordered. Returns (file, counts)
    with the ZIP in an anonymous temporary file, rewound.
    """
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; closed when sent
    listed = CsvMember(NATIONAL_LIST_HEADERS)
    missing = CsvMember(NATIONAL_MISSING_HEADERS)
    try:
        counts = _fill_national(out, query, listed, missing)
    except BaseException:
        for f in (out, listed, missing):
            f.close()
        raise
    out.seek(0)
    return out, counts


def _fill_national(out, query, listed, missing):
    """Write the photos in query order; JPEGs are encoded by a few threads
    (Pillow releases the GIL), with a bounded number in flight."""
    reasons = {code: str(label) for code, label in SKIP_REASONS.items()}
    statuses = {code: str(label) for code, label in RECORD_STATUS_LABELS.items()}
    seen, pending = set(), collections.deque()
    with (
        concurrent.futures.ThreadPoolExecutor(NATIONAL_WORKERS) as pool,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive,
    ):

        def drain(keep):
            while len(pending) > keep:
                r, job = pending.popleft()
                problem, jpeg = job.result() if isinstance(job, concurrent.futures.Future) else job
                if problem:
                    row = [
                        r["student_no"],
                        r["name"],
                        r["id_number"],
                        statuses.get(r["status"]),
                        reasons[problem],
                    ]
                    missing.add(row)
                    continue
                # JPEG does not shrink in a ZIP; storing it saves the CPU.
                archive.writestr(_photo_name(r["id_number"]), jpeg)
                listed.add(
                    [r["student_no"], r["name"], r["id_number"], local_time(r["confirmed_at"], r["timezone"])]
                )

        for r in query.dicts().iterator():
            problem, master = _national_master(r, seen)
            pending.append((r, (problem, None) if problem else pool.submit(_national_jpeg, master)))
            drain(2 * NATIONAL_WORKERS)
        drain(0)
        counts = {"photos": listed.rows, "missing": missing.rows}
        listed.copy_into(archive, NATIONAL_LIST)
        missing.copy_into(archive, NATIONAL_MISSING)
    return counts


def _photo_name(id_number):
    return _FILE_SAFE.sub("_", id_number) + ".jpg"


def _national_master(row, seen):
    """(problem code, None) or (None, master bytes) for one record (reads the file)."""
    if row["status"] not in DONE:
        return "not_confirmed", None
    if not row["photo_key"]:
        return "no_photo", None
    name = _photo_name(row["id_number"])
    if name in seen:
        return "duplicate_id", None
    try:
        # Stored at import since the national variant existed: just copy it.
        seen.add(name)
        return None, ("national", photostore.read(row["photo_key"], "national"))
    except FileNotFoundError:
        pass
    try:
        master = photostore.read(row["photo_key"], "master")
    except FileNotFoundError:
        seen.discard(name)
        return "photo_missing", None
    return None, ("master", master)


def _national_jpeg(source):
    kind, data = source
    if kind == "national":
        return None, data
    try:
        return None, photos.national_jpeg(data)
    except photos.PhotoError:
        return "photo_unreadable", None
