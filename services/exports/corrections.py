"""The 勘误表 (correction list) as XLSX, laid out like the paper form:
a title row, a subtitle, a header row, then one row per wrong field."""

from typing import IO, Any

from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.cell_range import MultiCellRange
from peewee import JOIN

from models import Cohort, CorrectionItem, Record, Request, User
from services import record_fields
from services.exports.csv_safe import safe_cell
from services.exports.records import local_time
from services.exports.xlsx import bold_row, finish

CORRECTION_TITLE = "数据检查勘误表"
CORRECTION_HEADERS = [
    "序号", "学号", "姓名", "证件号码", "勘误项目", "学籍信息", "正确信息", "学生备注", "处理结果", "处理人", "日期",
]  # fmt: skip
CORRECTION_WIDTHS = [6, 14, 10, 21, 14, 24, 24, 24, 10, 26, 17]

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
FIELD_LABELS = {**dict(record_fields.SHOWN), **EXTRA_FIELD_LABELS}


def correction_select() -> Any:
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


def corrections_xlsx(query: Any, subtitle: str = "") -> IO[bytes]:
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
    ws.append(bold_row(ws, CORRECTION_HEADERS))
    decisions = {code: str(label) for code, label in DECISIONS.items()}
    for number, item in enumerate(query.dicts().iterator(), start=1):
        when = item["decided_at"] or item["created_at"]
        ws.append(
            [
                number,
                safe_cell(item["student_no"]),
                safe_cell(item["name"]),
                item["id_number"],
                str(FIELD_LABELS.get(item["field"], item["field"])),
                safe_cell(item["old_value"]),
                safe_cell(item["new_value"]),
                safe_cell(item["note"]),
                decisions.get(item["decision"], item["decision"]),
                item["decided_by"] or "",
                local_time(when, item["timezone"]),
            ]
        )
    return finish(workbook)
