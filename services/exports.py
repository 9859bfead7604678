"""Exports for staff: records as CSV/XLSX, the 勘误表, the national ZIP.

Every export iterates its query with `.iterator()` and writes rows as they
come — to a generator (CSV) or to a temporary file (XLSX, ZIP) — so 50,000
students are never held in memory. Full ID numbers appear here on purpose:
these files are for the college office and the national registration.
Headers are the fixed Chinese column names of the national/paper forms.
"""

import collections
import concurrent.futures
import csv
import datetime
import io
import os
import re
import tempfile
import zipfile
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.cell_range import MultiCellRange
from peewee import JOIN

from models import Cohort, College, Confirmation, CorrectionItem, Photo, Record, Request, User
from services import idcard, photos, photostore, records
from services.dashboard import DONE, STATUS_LABELS

BOM = "\ufeff"
CSV_BATCH = 500
GENDER_ZH = {"M": "男", "F": "女"}
RECORD_HEADERS = [
    "学号", "姓名", "性别", "证件类型", "证件号码", "学院", "专业", "层次", "学习形式", "状态", "确认时间",
]  # fmt: skip
CORRECTION_TITLE = "数据检查勘误表"
CORRECTION_HEADERS = [
    "序号", "学号", "姓名", "证件号码", "勘误项目", "学籍信息", "正确信息", "学生备注", "处理结果", "处理人", "日期",
]  # fmt: skip
CORRECTION_WIDTHS = [6, 14, 10, 21, 14, 24, 24, 24, 10, 26, 17]
NATIONAL_LIST = "名单.csv"
NATIONAL_LIST_HEADERS = ["学号", "姓名", "证件号码", "确认时间"]
NATIONAL_MISSING = "未确认.csv"
NATIONAL_MISSING_HEADERS = ["学号", "姓名", "证件号码", "状态", "原因"]
# Encoding threads for the national JPEGs (~10 ms each on one core).
NATIONAL_WORKERS = min(4, os.cpu_count() or 1)
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

DECISIONS = {
    "open": _l("open"),
    "accepted": _l("accepted"),
    "rejected": _l("rejected"),
    "withdrawn": _l("withdrawn"),
}
EXTRA_FIELD_LABELS = {
    "birth_date": _l("Birth date"),
    "ethnicity": _l("Ethnicity"),
    "class_name": _l("Class"),
    "photo_missing": _l("Photo missing"),
    "photo_wrong": _l("Wrong photo"),
}
FIELD_LABELS = {**dict(records.SHOWN), **EXTRA_FIELD_LABELS}
SKIP_REASONS = {
    "not_confirmed": _l("not confirmed"),
    "no_photo": _l("confirmed, but no photo"),
    "photo_missing": _l("confirmed, but the photo file is missing"),
    "photo_unreadable": _l("confirmed, but the photo cannot be read"),
    "duplicate_id": _l("confirmed, but another record has the same ID number"),
}
# A formula-looking text cell would run in Excel (CSV injection): quote it.
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_FILE_SAFE = re.compile(r"[^0-9A-Za-z]")


def _safe(value):
    if isinstance(value, str) and _FORMULA.match(value):
        return "'" + value
    return value


def _as_datetime(value):
    """A subquery's datetime: SQLite hands back text, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


def local_time(value, timezone):
    """'YYYY-MM-DD HH:MM' in the cohort's time zone for a naive UTC time ('' for None)."""
    value = _as_datetime(value)
    if value is None:
        return ""
    local = value.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(timezone or "Asia/Shanghai"))
    return local.strftime("%Y-%m-%d %H:%M")


def confirmed_at():
    """Correlated subquery: time of the record's newest confirmation that is not void."""
    conf = Confirmation.alias()
    return (
        conf.select(conf.at)
        .where((conf.record == Record.id) & conf.void_at.is_null())
        .order_by(conf.at.desc())
        .limit(1)
    )


def record_select():
    """The columns every record export needs; filter and order it, then pass it on."""
    return (
        Record.select(
            Record.id,
            Record.student_no,
            Record.name,
            Record.gender,
            Record.id_type,
            Record.id_number,
            Record.major,
            Record.level,
            Record.study_mode,
            Record.status,
            Record.photo,
            College.name.alias("college_name"),
            Cohort.timezone.alias("timezone"),
            Photo.key.alias("photo_key"),
            confirmed_at().alias("confirmed_at"),
        )
        .join_from(Record, College)
        .join_from(Record, Cohort)
        .join_from(Record, Photo, on=(Record.photo == Photo.id), join_type=JOIN.LEFT_OUTER)
    )


def _id_type_labels():
    with force_locale("zh_CN"):
        return {code: str(label) for code, label in idcard.ID_TYPES}


def record_rows(query):
    """One list of cell values per record, in RECORD_HEADERS order."""
    id_types = _id_type_labels()
    statuses = {code: str(label) for code, label in STATUS_LABELS.items()}
    for r in query.dicts().iterator():
        yield [
            r["student_no"],
            r["name"],
            GENDER_ZH.get(r["gender"], r["gender"]),
            id_types.get(r["id_type"], r["id_type"]),
            r["id_number"],
            r["college_name"],
            r["major"],
            r["level"],
            r["study_mode"],
            statuses.get(r["status"], r["status"]),
            local_time(r["confirmed_at"], r["timezone"]),
        ]


def _csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([_safe(v) for v in row] for row in rows)
    return buffer.getvalue()


INCOMPLETE = _l(
    "EXPORT INCOMPLETE: an error occurred after the rows above; this file is missing rows. "
    "Please export again or contact the administrator."
)


def guarded(chunks):
    """A streamed CSV that cannot end as a silently truncated 200.

    The header and the first batch of rows are produced here, before the
    response starts, so a query that fails at all fails into an error page.
    A failure after that ends the file with a visible INCOMPLETE row (the
    status line is already sent); the error is logged.
    """
    source = iter(chunks)
    head = []
    for chunk in source:
        head.append(chunk)
        if len(head) == 2:
            break
    # Resolved now: the message must not depend on a request context later.
    message = str(INCOMPLETE)
    logger = current_app.logger

    def stream():
        yield from head
        try:
            yield from source
        except Exception:
            logger.exception("CSV export failed after the response started")
            yield _csv_text([[message]])

    return stream()


def csv_chunks(query):
    """Text chunks of a CSV (BOM first, so Excel reads the Chinese as UTF-8)."""
    yield BOM + _csv_text([RECORD_HEADERS])
    batch = []
    for row in record_rows(query):
        batch.append(row)
        if len(batch) >= CSV_BATCH:
            yield _csv_text(batch)
            batch = []
    if batch:
        yield _csv_text(batch)


def _bold_row(ws, values, size=None):
    row = []
    for value in values:
        cell = WriteOnlyCell(ws, value=value)
        cell.font = Font(bold=True, size=size) if size else Font(bold=True)
        row.append(cell)
    return row


def _finish(workbook):
    """Save a workbook to an anonymous temporary file, rewound for sending."""
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; closed when sent
    try:
        workbook.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def records_xlsx(query, sheet_title="records"):
    """An XLSX of the records (write-only: rows go to disk as they are read)."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet_title)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJK", [14, 10, 6, 16, 21, 18, 18, 8, 12, 14, 17], strict=True):
        ws.column_dimensions[letter].width = width
    ws.append(_bold_row(ws, RECORD_HEADERS))
    for row in record_rows(query):
        ws.append([_safe(v) for v in row])
    return _finish(workbook)


def correction_select():
    """Correction items with their request, record and deciding staff member."""
    decider = User.alias()
    return (
        CorrectionItem.select(
            CorrectionItem.field,
            CorrectionItem.old_value,
            CorrectionItem.new_value,
            Request.id.alias("request_id"),
            Request.status.alias("decision"),
            Request.note.alias("note"),
            Request.created_at.alias("created_at"),
            Request.decided_at.alias("decided_at"),
            Record.student_no.alias("student_no"),
            Record.name.alias("name"),
            Record.id_number.alias("id_number"),
            Cohort.timezone.alias("timezone"),
            decider.email.alias("decided_by"),
        )
        .join_from(CorrectionItem, Request)
        .join_from(Request, Record)
        .join_from(Record, Cohort)
        .join_from(Request, decider, on=(Request.decided_by == decider.id), join_type=JOIN.LEFT_OUTER)
    )


def corrections_xlsx(query, subtitle=""):
    """The 勘误表: a title row, a header row, then one row per wrong field."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(CORRECTION_TITLE)
    last = chr(ord("A") + len(CORRECTION_HEADERS) - 1)
    # Write-only sheets have no merge_cells(); the writer reads this attribute.
    ws.merged_cells = MultiCellRange([f"A1:{last}1", f"A2:{last}2"])
    ws.freeze_panes = "A4"
    for i, width in enumerate(CORRECTION_WIDTHS):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    title = WriteOnlyCell(ws, value=CORRECTION_TITLE)
    title.font = Font(bold=True, size=16)
    title.alignment = Alignment(horizontal="center")
    ws.append([title])
    ws.append([subtitle])
    ws.append(_bold_row(ws, CORRECTION_HEADERS))
    decisions = {code: str(label) for code, label in DECISIONS.items()}
    for number, item in enumerate(query.dicts().iterator(), start=1):
        when = item["decided_at"] or item["created_at"]
        ws.append(
            [
                number,
                _safe(item["student_no"]),
                _safe(item["name"]),
                item["id_number"],
                str(FIELD_LABELS.get(item["field"], item["field"])),
                _safe(item["old_value"]),
                _safe(item["new_value"]),
                _safe(item["note"]),
                decisions.get(item["decision"], item["decision"]),
                item["decided_by"] or "",
                local_time(when, item["timezone"]),
            ]
        )
    return _finish(workbook)


class _CsvMember:
    """A CSV written row by row to a spooled temporary file, added to the ZIP at the end."""

    def __init__(self, headers):
        # Closed by copy_into() or close(); spills to disk past 1 MB.
        self.file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=1 << 20, mode="w+", encoding="utf-8", newline=""
        )
        self.file.write(BOM)
        self.writer = csv.writer(self.file, lineterminator="\r\n")
        self.writer.writerow(headers)
        self.rows = 0

    def add(self, row):
        self.writer.writerow([_safe(v) for v in row])
        self.rows += 1

    def copy_into(self, archive, name):
        self.file.seek(0)
        with archive.open(name, "w") as member:
            while chunk := self.file.read(64 * 1024):
                member.write(chunk.encode("utf-8"))
        self.file.close()

    def close(self):
        self.file.close()


def national_zip(query):
    """The national hand-off: `<证件号码>.jpg` per confirmed student with a photo,
    名单.csv of those, 未确认.csv of everyone else with the reason.

    `query` is `record_select()` filtered and ordered. Returns (file, counts)
    with the ZIP in an anonymous temporary file, rewound.
    """
    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; closed when sent
    listed = _CsvMember(NATIONAL_LIST_HEADERS)
    missing = _CsvMember(NATIONAL_MISSING_HEADERS)
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
    statuses = {code: str(label) for code, label in STATUS_LABELS.items()}
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
