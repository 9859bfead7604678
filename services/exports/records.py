"""Records as CSV (streamed) or XLSX, with the fixed Chinese column names.

Every export iterates its query with `.iterator()` and writes rows as they
come, so 50,000 students are never held in memory. Full ID numbers appear
here on purpose: these files are for the college office.
"""

import datetime
from collections.abc import Iterator
from typing import IO, Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from openpyxl import Workbook
from peewee import JOIN

from models import Cohort, College, Confirmation, Photo, Record
from services import idcard
from services.exports.csv_safe import BOM, csv_text, safe_cell
from services.exports.xlsx import bold_row, finish
from services.vocab import RECORD_STATUS_LABELS

CSV_BATCH = 500
GENDER_ZH = {"M": "男", "F": "女"}
RECORD_HEADERS = [
    "学号", "姓名", "性别", "证件类型", "证件号码", "学院", "专业", "层次", "学习形式", "状态", "确认时间",
]  # fmt: skip


def _as_datetime(value):
    """A subquery's datetime: SQLite hands back text, PostgreSQL a datetime."""
    if value is None or isinstance(value, datetime.datetime):
        return value
    return datetime.datetime.fromisoformat(str(value))


def local_time(value: Any, timezone: str | None) -> str:
    """'YYYY-MM-DD HH:MM' in the cohort's time zone for a naive UTC time ('' for None)."""
    value = _as_datetime(value)
    if value is None:
        return ""
    local = value.replace(tzinfo=datetime.UTC).astimezone(ZoneInfo(timezone or "Asia/Shanghai"))
    return local.strftime("%Y-%m-%d %H:%M")


def confirmed_at() -> Any:
    """Correlated subquery: time of the record's newest confirmation that is not void."""
    conf = Confirmation.alias()
    return (
        conf.select(conf.at)
        .where((conf.record == Record.id) & conf.void_at.is_null())
        .order_by(conf.at.desc())
        .limit(1)
    )


def record_select() -> Any:
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


def record_rows(query: Any) -> Iterator[list[Any]]:
    """One list of cell values per record, in RECORD_HEADERS order."""
    id_types = _id_type_labels()
    statuses = {code: str(label) for code, label in RECORD_STATUS_LABELS.items()}
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


def csv_chunks(query: Any) -> Iterator[str]:
    """Text chunks of a CSV (BOM first, so Excel reads the Chinese as UTF-8)."""
    yield BOM + csv_text([RECORD_HEADERS])
    batch = []
    for row in record_rows(query):
        batch.append(row)
        if len(batch) >= CSV_BATCH:
            yield csv_text(batch)
            batch = []
    if batch:
        yield csv_text(batch)


def records_xlsx(query: Any, sheet_title: str = "records") -> IO[bytes]:
    """An XLSX of the records (write-only: rows go to disk as they are read)."""
    workbook = Workbook(write_only=True)
    ws = workbook.create_sheet(sheet_title)
    ws.freeze_panes = "A2"
    for letter, width in zip("ABCDEFGHIJK", [14, 10, 6, 16, 21, 18, 18, 8, 12, 14, 17], strict=True):
        ws.column_dimensions[letter].width = width
    ws.append(bold_row(ws, RECORD_HEADERS))
    for row in record_rows(query):
        ws.append([safe_cell(v) for v in row])
    return finish(workbook)
