"""Registry parsing: the rows of a CSV (UTF-8 or GBK) or XLSX file, checked.

Every row is checked on its own (required values, ID number, dates) and
against the rest of the file (a student number or ID number used twice);
a row keeps its problems as reasons, with its line number as Excel shows it
(header = line 1). Nothing here touches the database.
"""

import datetime
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import openpyxl

from services import idcard, matching
from services.importing.reasons import N_, ImportFileError, reason
from services.importing.registry_columns import (
    ALIASES,
    BAD_DATE,
    BAD_GENDER,
    BAD_ID_TYPE,
    COLUMNS,
    DATE_FIELDS,
    DATES_ORDER,
    DUPLICATE_ID,
    DUPLICATE_NO,
    GENDERS,
    ID_TYPES,
    LOST_DIGITS,
    MISMATCH,
    MISSING,
    REQUIRED,
    TOO_LONG,
    TOO_MANY_ROWS,
)
from services.importing.tables import clean, csv_rows, decode_text, find_header, header_key

CHUNK = 50

_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+?\d+", re.IGNORECASE)


@dataclass(slots=True)
class Row:
    """One data row: its Excel line, parsed values and problems.

    ``raw`` (the cells as read) is dropped once the row is checked; only
    the 学号 and name as written stay, for the report.
    """

    line: int
    raw: dict | None
    values: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    shown: tuple = ("", "")

    @property
    def id_key(self) -> tuple[Any, Any]:
        return (self.values.get("id_type"), self.values.get("id_number"))


# --- reading the file --------------------------------------------------------


def read_rows(data: bytes, filename: str = "", *, max_rows: int) -> list[Any]:
    """The file's rows as lists of cell values (str, numbers, dates).

    A file of more than ``max_rows`` data rows raises ImportFileError.
    """
    if not data:
        raise ImportFileError(N_("The file is empty."))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(N_("Old Excel .xls files cannot be read. Save the sheet as .xlsx or as CSV."))
    if data.startswith(b"PK") or filename.lower().endswith(".xlsx"):
        return _xlsx_rows(data, max_rows)
    return csv_rows(
        decode_text(data), limit=max_rows + 11, too_many=ImportFileError(TOO_MANY_ROWS, max=max_rows)
    )


def _xlsx_rows(data, max_rows):
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds on a broken or foreign ZIP
        raise ImportFileError(N_("This XLSX file is damaged or is not an Excel workbook.")) from None
    try:
        # The active sheet first, then the others: the first one with our headers wins.
        sheets = sorted(book.worksheets, key=lambda ws: ws is not book.active)
        rows = []
        for sheet in sheets:
            sheet.reset_dimensions()  # some writers record wrong dimensions
            rows = []
            for row in sheet.iter_rows(values_only=True):
                rows.append(row)
                if len(rows) > max_rows + 11:  # header search rows + the cap
                    raise ImportFileError(TOO_MANY_ROWS, max=max_rows)
            if any(ALIASES.get(header_key(c)) for row in rows[:10] for c in row):
                return rows
        return rows
    except ImportFileError:
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError):
        raise ImportFileError(N_("This XLSX file is damaged or is not an Excel workbook.")) from None
    finally:
        book.close()


def _text(value):
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, datetime.datetime):
        value = value.date()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return clean(value)


def _date(value):
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    text = _text(value)
    match = _DATE.fullmatch(text) or _COMPACT_DATE.fullmatch(text)
    if not match:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


# --- checking rows -----------------------------------------------------------


def parse_rows(
    rows: list[Any],
    today: datetime.date | None = None,
    progress: Callable[[int, int], None] | None = None,
    *,
    max_rows: int,
) -> tuple[list[Row], set[str], list[dict[str, Any]]]:
    """(Rows with values/errors, columns present, duplicate groups) for the file's table."""
    start, columns = find_header(rows, ALIASES, REQUIRED)
    headers = {key: clean(rows[start][index]) or COLUMNS[key][0] for key, index in columns.items()}
    body: list[Any] = [
        (line, cells)
        for line, cells in enumerate(rows[start + 1 :], start + 2)
        if any(_text(c) for c in cells)
    ]
    if not body:
        raise ImportFileError(N_("The file has a header line but no data rows."))
    if len(body) > max_rows:
        raise ImportFileError(TOO_MANY_ROWS, max=max_rows)
    del rows[:]  # the cells are in `body` now; let the rest go
    parsed = []
    # Equal values of different rows share one object: a file repeating a
    # row 100,000 times then costs little more than its line numbers.
    same: dict[Any, Any] = {}
    for done, (line, cells) in enumerate(body, 1):
        raw = {key: cells[index] if index < len(cells) else None for key, index in columns.items()}
        row = Row(line, raw)
        _check(row, headers, today or datetime.date.today())
        values = row.values
        for key, value in values.items():
            if value is not None:
                values[key] = same.setdefault(value, value)
        shown = (_text(raw.get("student_no"))[:32], _text(raw.get("name"))[:64])
        row.shown = same.setdefault(shown, shown)
        row.raw = None
        body[done - 1] = None
        parsed.append(row)
        if progress and (done % CHUNK == 0 or done == len(body)):
            progress(done, len(body))
    duplicates = _check_duplicates(parsed)
    return parsed, set(columns), duplicates


def _check(row, headers, today):
    values, problem = row.values, row.errors.append

    def complain(message, key, **args):
        problem(reason(message, column=headers[key], **args))

    for key, raw in row.raw.items():
        text = _text(raw)
        limit = COLUMNS[key][2]
        if not text:
            if COLUMNS[key][1]:
                complain(MISSING, key)
            values[key] = None if COLUMNS[key][1] else ""
        elif key in DATE_FIELDS:
            values[key] = _date(raw)
            if values[key] is None:
                complain(BAD_DATE, key, value=text[:40])
        elif key == "gender":
            values[key] = GENDERS.get(text.casefold())
            if values[key] is None:
                complain(BAD_GENDER, key, value=text[:20])
        elif key == "id_type":
            values[key] = idcard.ID_TYPE_BY_LABEL.get(text) or ID_TYPES.get(text.casefold())
            if values[key] is None:
                complain(BAD_ID_TYPE, key, value=text[:40])
        elif key == "student_no":
            values[key] = "".join(unicodedata.normalize("NFKC", text).split())
        elif key != "id_number" and limit and len(text) > limit:
            complain(TOO_LONG, key, max=limit)
            values[key] = None
        else:
            values[key] = text
    if values.get("name"):
        values["name_key"] = matching.name_key(values["name"])
    if values.get("student_no") and len(values["student_no"]) > 32:
        complain(TOO_LONG, "student_no", max=32)
    _check_id(row, headers, today)
    enrolled, graduating = values.get("enrolled_on"), values.get("graduating_on")
    if enrolled and graduating and enrolled >= graduating:
        problem(reason(DATES_ORDER))


def _check_id(row, headers, today):
    values = row.values
    number, id_type = values.get("id_number"), values.get("id_type")
    if not (number and id_type):
        values["id_number"] = None
        return
    raw = row.raw["id_number"]
    try:
        values["id_number"] = idcard.validate(id_type, number, today=today)
    except idcard.IdNumberError as exc:
        values["id_number"] = None
        numeric = isinstance(raw, (int, float)) and abs(raw) >= 1e14
        if numeric or _SCIENTIFIC.fullmatch(number):
            row.errors.append(reason(LOST_DIGITS, value=number[:24]))
        else:
            row.errors.append(reason(exc.message))
        return
    try:
        idcard.check_consistency(id_type, values["id_number"], values.get("birth_date"), values.get("gender"))
    except idcard.IdNumberError as exc:
        row.errors.append(reason(MISMATCH, column=headers[exc.field]))


def line_ranges(lines):
    """Sorted line numbers as short text: [2, 3, 4, 9] → "2–4, 9"."""
    parts, start, prev = [], None, None
    for line in lines:
        if start is None:
            start = prev = line
        elif line == prev + 1:
            prev = line
        else:
            parts.append(str(start) if start == prev else f"{start}–{prev}")
            start = prev = line
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}–{prev}")
    return ", ".join(parts)


def _check_duplicates(rows):
    """Mark rows sharing a 学号, or an ID number under several 学号; returns the groups.

    Each group is reported once with its lines; its rows name the group.
    """
    by_no, by_id = {}, {}
    for row in rows:
        if row.values.get("student_no"):
            by_no.setdefault(row.values["student_no"], []).append(row)
        if row.values.get("id_number"):
            by_id.setdefault(row.id_key, []).append(row)
    groups = []
    for student_no, group in by_no.items():
        if len(group) > 1:
            groups.append({"group": len(groups) + 1, "field": "student_no", "value": student_no,
                           "count": len(group), "lines": line_ranges(r.line for r in group)})  # fmt: skip
            why = reason(DUPLICATE_NO, student_no=student_no, count=len(group), group=len(groups))
            for row in group:
                row.errors.append(why)  # one shared dict: the report stores it per row, small
    for (_id_type, number), group in by_id.items():
        if len({row.values.get("student_no") for row in group}) > 1:
            groups.append({"group": len(groups) + 1, "field": "id_number", "value": idcard.mask(number),
                           "count": len(group), "lines": line_ranges(r.line for r in group)})  # fmt: skip
            why = reason(DUPLICATE_ID, count=len(group), group=len(groups))
            for row in group:
                row.errors.append(why)
    return groups
