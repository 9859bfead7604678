"""Registry import: student records from a CSV (UTF-8 or GBK) or XLSX file.

Rows are upserted by student number (学号). The file is read and its rows
checked by ``registry_parse``; here each valid row is checked against the
database (an ID number held by another student number), and written.
Rejected rows are listed in the report and not written, the valid rows are.
All writes happen in one transaction; a dry run executes the same code and
rolls it back, so its report is exact.

The reasons a report can carry are importable from here (``__all__``).
"""

import datetime
import hashlib
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from models import AuditEvent, Cohort, College, Confirmation, Record, User, db, utcnow
from services import matching, records
from services.importing.reasons import reason
from services.importing.registry_columns import (
    BAD_DATE,
    BAD_GENDER,
    BAD_ID_TYPE,
    DATES_ORDER,
    DUPLICATE_ID,
    DUPLICATE_NO,
    ID_TAKEN,
    LOST_DIGITS,
    MISMATCH,
    MISSING,
    TOO_LONG,
    TOO_MANY_ROWS,
)
from services.importing.registry_parse import parse_rows, read_rows

__all__ = [
    "BAD_DATE",
    "BAD_GENDER",
    "BAD_ID_TYPE",
    "DATES_ORDER",
    "DUPLICATE_ID",
    "DUPLICATE_NO",
    "ID_TAKEN",
    "LOST_DIGITS",
    "MAX_ROWS",
    "MISMATCH",
    "MISSING",
    "TOO_LONG",
    "TOO_MANY_ROWS",
    "import_registry",
]

UPDATABLE = (
    "name", "name_key", "gender", "id_type", "id_number", "birth_date", "ethnicity", "college",
    "major", "class_name", "level", "study_mode", "enrolled_on", "graduating_on", "cohort",
)  # fmt: skip
NEW_COHORT_DAYS = 30  # the admin sets the real deadlines afterwards
MAX_ROWS = 200_000  # data rows a registry file may have (read when an import starts)


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


def import_registry(
    data: bytes,
    filename: str = "",
    *,
    dry_run: bool = False,
    actor: Any = None,
    progress: Callable[[int, int], None] | None = None,
    link: Callable[..., str] | None = None,
    today: datetime.date | None = None,
) -> dict[str, Any]:
    """Import a registry file (bytes); returns the report (a JSON-able dict).

    Raises ImportFileError, writing nothing, when the file cannot be read
    as a whole. ``progress(done, total)`` is called every 50 rows while the
    rows are checked; ``link(endpoint)`` builds absolute URLs for the mails
    sent when an import voids a confirmation. ``today`` (local date) bounds
    birth dates and starts the deadlines of new cohorts.
    """
    today = today or datetime.datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    rows, columns, duplicates = parse_rows(
        read_rows(data, filename, max_rows=MAX_ROWS), today=today, progress=progress, max_rows=MAX_ROWS
    )
    del data
    report: dict[str, Any] = {
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
