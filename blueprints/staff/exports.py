"""Exports of what the records table shows: CSV, XLSX, the 勘误表 and the
national ZIP. Each is audited: full ID numbers leave the system."""

import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, request, send_file, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import scope_for, staff_view
from blueprints.staff.records import Filters, apply, ordered, table_query
from blueprints.web import client_ip, redirect_to
from models import Cohort, College, CorrectionItem, Record, Request, utcnow
from services import audit_trail, exports
from services import dashboard as board
from services.vocab import RequestKind

bp = Blueprint("exports", __name__, url_prefix="/export")


def audit_export(kind, f):
    """Full ID numbers leave the system: note who took which export."""
    audit_trail.note(
        f"export.{kind}", actor=current_user._get_current_object(), ip=client_ip(), reason=str(f.params())
    )


def stamp():
    return utcnow().strftime("%Y%m%d-%H%M")


def send_temp(fileobj, mimetype, name):
    size = fileobj.seek(0, 2)
    fileobj.seek(0)
    response = send_file(fileobj, mimetype=mimetype, as_attachment=True, download_name=name)
    response.content_length = size
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/records.csv")
@staff_view
def records_csv():
    """The filtered records as CSV (UTF-8 with BOM for Excel), streamed."""
    f = Filters.parse(request.args)
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("csv", f)
    response = Response(stream_with_context(exports.guarded(exports.csv_chunks(query))), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="records-{stamp()}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/records.xlsx")
@staff_view
def records_xlsx():
    """The filtered records as XLSX (write-only workbook in a temporary file)."""
    f = Filters.parse(request.args)
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("xlsx", f)
    return send_temp(exports.records_xlsx(query), exports.XLSX_MIME, f"records-{stamp()}.xlsx")


@bp.get("/corrections.xlsx")
@staff_view
def corrections():
    """The 勘误表 of the filtered records: one row per wrong field."""
    f = Filters.parse(request.args)
    in_table = apply(table_query(), f).select(Record.id)
    query = (
        exports.correction_select()
        .where((Request.kind == RequestKind.CORRECTION) & Request.record.in_(in_table))
        .order_by(Request.created_at, Request.id, CorrectionItem.id)
    )
    scope = scope_for(current_user)
    college = College.get_or_none(College.id == (scope or f.college))
    subtitle = "  ".join(
        part
        for part in (
            f"学院：{college.name}" if college else "",
            f"届别：{Cohort.get_by_id(f.cohort).name}"
            if f.cohort and Cohort.get_or_none(id=f.cohort)
            else "",
            f"导出时间：{utcnow().replace(tzinfo=datetime.UTC).astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}",
        )
        if part
    )
    audit_export("corrections", f)
    return send_temp(
        exports.corrections_xlsx(query, subtitle), exports.XLSX_MIME, f"corrections-{stamp()}.xlsx"
    )


@bp.get("/national.zip")
@staff_view
def national():
    """One cohort's photos for the national registration, with 名单.csv and 未确认.csv."""
    cohorts = board.all_cohorts()
    wanted = request.args.get("cohort", "")
    cohort = next((c for c in cohorts if str(c.id) == wanted), None) or board.default_cohort(cohorts)
    if cohort is None:
        flash(_("There is no cohort yet."), "error")
        return redirect_to("staff.dashboard.index")
    f = Filters(cohort=cohort.id, college=Filters.parse(request.args).college, sort="student_no")
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("national", f)
    fileobj, _counts = exports.national_zip(query)
    return send_temp(fileobj, "application/zip", f"national-{cohort.id}-{stamp()}.zip")
