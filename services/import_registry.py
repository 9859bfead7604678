"""Registry import: student records from a CSV (UTF-8 or GBK) or XLSX file.

Rows are upserted by student number (学号). Every row is checked on its
own (required values, ID number, dates) and against the rest of the file
and the database (a student number or ID number used twice); rejected rows
are listed with their line number as Excel shows it (header = line 1) and
are not written, the valid rows are. All writes happen in one transaction;
a dry run executes the same code and rolls it back, so its report is exact.
"""

import datetime
import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import openpyxl
from flask import current_app

from models import AuditEvent, Cohort, College, Confirmation, Record, User, db, utcnow
from services import idcard, matching, records
from services.imports import (
    N_,
    ImportFileError,
    clean,
    csv_rows,
    decode_text,
    find_header,
    header_key,
    reason,
)

# field: (Chinese header, required, max length)
COLUMNS = {
    "student_no": ("学号", True, 32),
    "name": ("姓名", True, 64),
    "gender": ("性别", True, 1),
    "id_type": ("证件类型", True, 20),
    "id_number": ("证件号码", True, 32),
    "birth_date": ("出生日期", True, None),
    "ethnicity": ("民族", False, 32),
    "college": ("学院", True, 100),
    "major": ("专业", True, 100),
    "class_name": ("班级", False, 64),
    "level": ("层次", True, 32),
    "study_mode": ("学习形式", True, 32),
    "enrolled_on": ("入学日期", True, None),
    "graduating_on": ("预计毕业日期", True, None),
    "cohort": ("届别", True, 32),
}
ALIASES = {
    **{header: key for key, (header, _req, _max) in COLUMNS.items()},
    **{key: key for key in COLUMNS},
    "身份证号": "id_number",
    "身份证号码": "id_number",
}
REQUIRED = {key: header for key, (header, required, _max) in COLUMNS.items() if required}
DATE_FIELDS = ("birth_date", "enrolled_on", "graduating_on")
GENDERS = {"男": "M", "女": "F", "m": "M", "f": "F", "male": "M", "female": "F", "男性": "M", "女性": "F"}
ID_TYPES = {key.casefold(): value for key, value in idcard.ID_TYPE_BY_LABEL.items()}
# Written to existing records when they differ (optional columns only when present).
UPDATABLE = (
    "name", "name_key", "gender", "id_type", "id_number", "birth_date", "ethnicity", "college",
    "major", "class_name", "level", "study_mode", "enrolled_on", "graduating_on", "cohort",
)  # fmt: skip
NEW_COHORT_DAYS = 30  # the admin sets the real deadlines afterwards
CHUNK = 50

_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?E\+?\d+", re.IGNORECASE)

MISSING = N_("The value in column “%(column)s” is missing.")
TOO_LONG = N_("The value in column “%(column)s” is too long (at most %(max)d characters).")
BAD_DATE = N_("“%(value)s” in column “%(column)s” is not a date; write it as YYYY-MM-DD.")
BAD_GENDER = N_("“%(value)s” in column “%(column)s” is not a gender; write 男 or 女.")
BAD_ID_TYPE = N_("“%(value)s” in column “%(column)s” is not a known ID type, e.g. 居民身份证 or 护照.")
LOST_DIGITS = N_(
    "Excel turned the ID number into a number and lost digits (%(value)s). "
    "Format the column as text and export the file again."
)
MISMATCH = N_("The value in column “%(column)s” does not match the ID number.")
DATES_ORDER = N_("The enrolment date must be before the expected graduation date.")
# A duplicate's reason names its group; the group's lines are listed once,
# under "Duplicates" (report["duplicates"]), so the report grows with the
# rows, not with the square of a group's size.
DUPLICATE_NO = N_(
    "Student number %(student_no)s appears %(count)d times in this file (duplicate group %(group)d)."
)
DUPLICATE_ID = N_(
    "The same ID number appears under %(count)d different lines with other student numbers "
    "in this file (duplicate group %(group)d)."
)
TOO_MANY_ROWS = N_(
    "The file has more than %(max)d data rows. Split it into several files (for example one per college) "
    "and import them one after the other."
)
MAX_ROWS = 200_000
ID_TAKEN = N_("This ID number already belongs to the record with student number %(student_no)s.")


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
    def id_key(self):
        return (self.values.get("id_type"), self.values.get("id_number"))


# --- reading the file --------------------------------------------------------


def read_rows(data, filename=""):
    """The file's rows as lists of cell values (str, numbers, dates)."""
    if not data:
        raise ImportFileError(N_("The file is empty."))
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(N_("Old Excel .xls files cannot be read. Save the sheet as .xlsx or as CSV."))
    if data.startswith(b"PK") or filename.lower().endswith(".xlsx"):
        return _xlsx_rows(data)
    return csv_rows(
        decode_text(data), limit=MAX_ROWS + 11, too_many=ImportFileError(TOO_MANY_ROWS, max=MAX_ROWS)
    )


def _xlsx_rows(data):
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
                if len(rows) > MAX_ROWS + 11:  # header search rows + the cap
                    raise ImportFileError(TOO_MANY_ROWS, max=MAX_ROWS)
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


def parse_rows(rows, today=None, progress=None):
    """(Rows with values/errors, columns present) for the file's table."""
    start, columns = find_header(rows, ALIASES, REQUIRED)
    headers = {key: clean(rows[start][index]) or COLUMNS[key][0] for key, index in columns.items()}
    body = [
        (line, cells)
        for line, cells in enumerate(rows[start + 1 :], start + 2)
        if any(_text(c) for c in cells)
    ]
    if not body:
        raise ImportFileError(N_("The file has a header line but no data rows."))
    if len(body) > MAX_ROWS:
        raise ImportFileError(TOO_MANY_ROWS, max=MAX_ROWS)
    del rows[:]  # the cells are in `body` now; let the rest go
    parsed = []
    # Equal values of different rows share one object: a file repeating a
    # row 100,000 times then costs little more than its line numbers.
    same = {}
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


def _chunks(items, size=500):
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _check_database(rows):
    """Reject rows whose ID number belongs to another student number in the database."""
    valid = {row.values["student_no"]: row for row in rows if not row.errors}
    holders = {}
    numbers = {row.values["id_number"] for row in valid.values()}
    for chunk in _chunks(numbers):
        query = Record.select(Record.id_type, Record.id_number, Record.student_no).where(
            Record.id_number.in_(chunk)
        )
        for rec in query.tuples():
            holders.setdefault(rec[:2], set()).add(rec[2])
    for student_no, row in valid.items():
        others = holders.get(row.id_key, set()) - {student_no}
        # A holder that this file moves to another ID number frees this one.
        keeping = sorted(s for s in others if s not in valid or valid[s].id_key == row.id_key)
        if keeping:
            row.errors.append(reason(ID_TAKEN, student_no=keeping[0]))


# --- writing -----------------------------------------------------------------


class _DryRun(Exception):
    """Raised to roll back a dry run after its report is complete."""


def _college_code(name):
    if len(name) <= 32:
        return name
    return name[:24] + "-" + hashlib.sha1(name.encode()).hexdigest()[:7]  # noqa: S324 (a label, not security)


def _references(rows, actor, today, report):
    """{name: College}, {name: Cohort}, creating the ones this file introduces."""
    known = list(College.select())
    # A college is found by name, or by its code when the file uses codes.
    colleges = {**{c.code: c for c in known}, **{c.name: c for c in known}}
    cohorts = {c.name: c for c in Cohort.select()}
    deadline = today + datetime.timedelta(days=NEW_COHORT_DAYS)
    for row in rows:
        name = row.values["college"]
        if name not in colleges:
            colleges[name] = College.create(code=_college_code(name), name=name)
            AuditEvent.log("college.create", actor=actor, target=colleges[name], reason="registry import")
            report["colleges_created"].append(name)
        name = row.values["cohort"]
        if name not in cohorts:
            cohorts[name] = Cohort.create(
                name=name,
                confirm_deadline=deadline,
                recheck_start=deadline + datetime.timedelta(days=7),
                recheck_end=deadline + datetime.timedelta(days=8),
            )
            AuditEvent.log("cohort.create", actor=actor, target=cohorts[name], reason="registry import")
            report["cohorts_created"].append(name)
    return colleges, cohorts


def _write(rows, columns, actor, link, today, report):
    counts = report["counts"]
    colleges, cohorts = _references(rows, actor, today, report)
    college_by_id = {c.id: c for c in colleges.values()}
    existing, confirmed = {}, set()
    for chunk in _chunks(row.values["student_no"] for row in rows):
        existing.update({r.student_no: r for r in Record.select().where(Record.student_no.in_(chunk))})
    for chunk in _chunks(r.id for r in existing.values()):
        query = Confirmation.select(Confirmation.record).where(
            Confirmation.record.in_(chunk) & Confirmation.void_at.is_null()
        )
        confirmed.update(query.tuples().iterator())
    fields = [f for f in UPDATABLE if f in columns or f == "name_key"]
    now, new = utcnow(), []
    for row in rows:
        values = {f: row.values[f] for f in fields}
        values["college"], values["cohort"] = colleges[values["college"]], cohorts[values["cohort"]]
        record = existing.get(row.values["student_no"])
        if record is None:
            new.append(dict(values, student_no=row.values["student_no"], changed_at=now, changed_by=actor))
            continue
        if record.college_id in college_by_id:  # spares the fingerprint a query per record
            record.college = college_by_id[record.college_id]
        changed = records.apply_changes(record, values, actor=actor, reason="registry import", link=link)
        if not changed:
            counts["unchanged"] += 1
            continue
        counts["updated"] += 1
        report["updated"].append(
            {
                "line": row.line,
                "student_no": record.student_no,
                "fields": [f for f in changed if f != "name_key"],
            }
        )
        if (record.id,) in confirmed and records.active_confirmation(record) is None:
            counts["voided"] += 1
    for chunk in _chunks(new, 500):
        _bulk_insert(Record, chunk)
        created = Record.select(Record.id).where(Record.student_no.in_([v["student_no"] for v in chunk]))
        events = [
            {"action": "record.create", "actor": actor, "target_type": "record", "target_id": rec_id,
             "to_status": "unregistered", "reason": "registry import", "at": now, "ip": ""}
            for (rec_id,) in created.tuples()
        ]  # fmt: skip
        _bulk_insert(AuditEvent, events)
        counts["created"] += len(chunk)
    counts["linked"] = _link_accounts({row.values["id_number"] for row in rows})


def _bulk_insert(model, rows):
    """Insert rows (dicts with the same keys) through one prepared statement.

    peewee's insert_many renders every value into the SQL text, which costs
    more than SQLite itself; executemany keeps the 2,000 rows/s budget.
    """
    if not rows:
        return
    database = model._meta.database
    defaults = {
        f.name: f.default() if callable(f.default) else f.default
        for f in model._meta.sorted_fields
        if f.default is not None and f.name not in rows[0]
    }
    rows = [dict(defaults, **row) for row in rows]
    fields = [model._meta.fields[name] for name in rows[0]]
    left, right = database.quote

    def quoted(name):
        return f"{left}{name}{right}"

    # Table and column names come from the model, values go in as parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        quoted(model._meta.table_name),
        ", ".join(quoted(f.column_name) for f in fields),
        ", ".join([database.param] * len(fields)),
    )
    params = [tuple(f.db_value(row[f.name]) for f in fields) for row in rows]
    database.cursor().executemany(sql, params)


def _link_accounts(numbers):
    """Link accounts with real-name data but no record to the records now matching them."""
    linked = 0
    taken = Record.select(Record.account).where(Record.account.is_null(False))
    for chunk in _chunks(numbers):
        users = User.select().where(
            User.id_number.in_(chunk) & User.real_name.is_null(False) & User.id.not_in(taken)
        )
        linked += sum(1 for user in users if matching.link(user) is not None)
    return linked


def import_registry(data, filename="", *, dry_run=False, actor=None, progress=None, link=None, today=None):
    """Import a registry file (bytes); returns the report (a JSON-able dict).

    Raises ImportFileError, writing nothing, when the file cannot be read
    as a whole. ``progress(done, total)`` is called every 50 rows while the
    rows are checked; ``link(endpoint)`` builds absolute URLs for the mails
    sent when an import voids a confirmation. ``today`` (local date) bounds
    birth dates and starts the deadlines of new cohorts.
    """
    today = today or datetime.datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    rows, columns, duplicates = parse_rows(read_rows(data, filename), today=today, progress=progress)
    del data
    report = {
        "kind": "students",
        "filename": filename,
        "dry_run": dry_run,
        "counts": dict.fromkeys(
            ("rows", "created", "updated", "unchanged", "rejected", "voided", "linked"), 0
        ),
        "rejected": [],
        "updated": [],
        "colleges_created": [],
        "cohorts_created": [],
        "duplicates": duplicates,
    }
    report["counts"]["rows"] = len(rows)
    try:
        with db.atomic():
            _check_database(rows)
            valid = [row for row in rows if not row.errors]
            _write(valid, columns, actor, link, today, report)
            counts = report["counts"]
            counts["rejected"] = len(rows) - len(valid)
            AuditEvent.log(
                "import.students",
                actor=actor,
                reason=f"{filename}: " + ", ".join(f"{k}={v}" for k, v in counts.items()),
            )
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    report["rejected"] = [
        {"line": row.line, "student_no": row.shown[0], "name": row.shown[1], "reasons": row.errors}
        for row in rows if row.errors
    ]  # fmt: skip
    return report
