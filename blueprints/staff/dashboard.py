"""Staff dashboard, bulk actions on the records table, exports, photo checks.

The records table itself (search, inline toggle, detail) is staff_records.py;
this module reuses its filters so that a bulk action or an export covers
exactly what the table shows.
"""

import datetime
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    request,
    send_file,
    stream_with_context,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user
from jinja2_fragments.flask import render_block
from markupsafe import escape

from blueprints.forms import ButtonForm
from blueprints.staff_records import (
    Filters,
    _row_globals,
    apply,
    ordered,
    page_context,
    scoped,
    staff_view,
    table_query,
)
from blueprints.web import client_ip, external_url, is_htmx, redirect_to, render, role_required, safe_next
from extensions import limiter
from models import (
    STAFF_TRANSITIONS,
    AuditEvent,
    Cohort,
    College,
    CorrectionItem,
    ImportJob,
    Record,
    Request,
    db,
    utcnow,
)
from services import dashboard as board
from services import exports, imports, staff_actions
from services.dashboard import STATUS_LABELS

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.context_processor(_row_globals)

CHUNK = 500
BULK_STATUSES = sorted({t for targets in STAFF_TRANSITIONS.values() for t in targets})
REMIND_SKIPS = {
    "confirmed": _l("already confirmed"),
    "no_account": _l("no linked account"),
    "correction": _l("correction being processed"),
    "deadline": _l("the deadline has passed"),
    "disabled": _l("account disabled"),
    "reminded": _l("already reminded today"),
    "not_found": _l("not found"),
}
STATUS_SKIPS = {
    "same": _l("already has this status"),
    "stale": _l("changed meanwhile"),
    "not_found": _l("not found"),
}


def staff_scope():
    """None for admins (every college), the staff member's college id otherwise (0: none)."""
    return None if current_user.role == "admin" else (current_user.college_id or 0)


@bp.get("/")
@staff_view
def dashboard():
    """Per college: counts by status and progress for one cohort; deadlines; open queues."""
    cohorts = board.all_cohorts()
    wanted = request.args.get("cohort", "")
    cohort = next((c for c in cohorts if str(c.id) == wanted), None) or board.default_cohort(cohorts)
    scope = staff_scope()
    rows, totals = board.status_counts(cohort.id, scope) if cohort else ([], board.CollegeRow(None, ""))
    return render(
        "staff/dashboard.html",
        cohorts=cohorts,
        cohort=cohort,
        rows=rows,
        totals=totals,
        queues=board.open_queue_sizes(scope),
        queue_labels=board.QUEUE_LABELS,
        statuses=list(STATUS_LABELS),
        days_to_recheck=board.days_to_recheck(cohort) if cohort else None,
    )


# -- bulk actions ----------------------------------------------------------------


def per_staff_member():
    """Rate-limit key: the account, so colleagues behind one NAT do not share a budget."""
    if current_user.is_authenticated:
        return f"staff:{current_user.id}"
    return get_remote_address()


def selected_ids(f):
    """Ids of the ticked records, or of all records matching the filter; in scope only."""
    if request.form.get("all") == "1":
        query = apply(table_query(), f).select(Record.id).order_by(Record.id)
        return [i for (i,) in query.tuples()], 0
    wanted = {int(v) for v in request.form.getlist("ids") if v.isdigit()}
    found = [i for (i,) in scoped(Record.select(Record.id).where(Record.id.in_(list(wanted)))).tuples()]
    return sorted(found), len(wanted) - len(found)


def skip_text(skipped, labels):
    parts = []
    for key, count in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])):
        if key.startswith("illegal:"):
            label = _("not allowed from “%(status)s”", status=STATUS_LABELS.get(key[8:], key[8:]))
        else:
            label = labels.get(key, key)
        parts.append(f"{label}: {count}")
    return "; ".join(parts)


def bulk_response(f, next_url, message, category, status=200):
    """htmx: the refreshed results plus the toast; otherwise flash and back to the table."""
    if not is_htmx():
        flash(message, category)
        return redirect(next_url, code=303)
    body = render_block("staff/records.html", "results", **page_context(f))
    toast = f'<hx-partial hx-target="#flash" hx-swap="innerHTML"><p class="msg {category}" role="status">'
    toast += f"{escape(message)}</p></hx-partial>"
    response = make_response(body + toast, status)
    response.vary.add("HX-Request")
    return response


def bulk_limit():
    return current_app.config.get("RATELIMIT_STAFF_BULK", "10 per minute")


@bp.post("/records/bulk")
@limiter.limit(bulk_limit, key_func=per_staff_member, methods=["POST"])
@staff_view
def bulk():
    """Remind or change the status of the ticked records (or all matching the filter)."""
    f = Filters.parse(request.form)
    next_url = safe_next(request.form.get("next"), "staff_records.index")
    action = request.form.get("action", "")
    reason = request.form.get("reason", "").strip()[:200]
    if not ButtonForm().validate_on_submit():
        return bulk_response(f, next_url, _("The form has expired. Please try again."), "error", 400)
    if action != "remind" and action not in BULK_STATUSES:
        return bulk_response(f, next_url, _("Please choose an action."), "error", 400)
    if action == "confirmed_offline" and not reason:
        label = STATUS_LABELS[action]
        return bulk_response(
            f, next_url, _("Please give a reason for “%(status)s”.", status=label), "error", 400
        )
    ids, not_found = selected_ids(f)
    if not ids and not not_found:
        return bulk_response(f, next_url, _("Please select at least one record."), "error", 400)
    actor = current_user._get_current_object()
    if action == "remind":
        done, skipped = staff_actions.send_reminders(ids, actor, client_ip(), external_url)
        message = _("Reminders sent: %(num)d.", num=done)
        labels = REMIND_SKIPS
    else:
        done, skipped = staff_actions.bulk_status(ids, action, reason, actor, client_ip(), external_url)
        message = _("Status set to “%(status)s”: %(num)d.", status=STATUS_LABELS[action], num=done)
        labels = STATUS_SKIPS
    if not_found:
        skipped["not_found"] += not_found
    if skipped:
        message += " " + _(
            "Skipped: %(num)d (%(reasons)s).", num=sum(skipped.values()), reasons=skip_text(skipped, labels)
        )
    return bulk_response(f, next_url, message, "success" if done else "info")


# -- exports -----------------------------------------------------------------------


def audit_export(kind, f):
    """Full ID numbers leave the system: note who took which export."""
    with db.atomic():
        AuditEvent.log(
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


@bp.get("/export/records.csv")
@staff_view
def export_csv():
    """The filtered records as CSV (UTF-8 with BOM for Excel), streamed."""
    f = Filters.parse(request.args)
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("csv", f)
    response = Response(stream_with_context(exports.csv_chunks(query)), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="records-{stamp()}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/export/records.xlsx")
@staff_view
def export_xlsx():
    """The filtered records as XLSX (write-only workbook in a temporary file)."""
    f = Filters.parse(request.args)
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("xlsx", f)
    return send_temp(exports.records_xlsx(query), exports.XLSX_MIME, f"records-{stamp()}.xlsx")


@bp.get("/export/corrections.xlsx")
@staff_view
def export_corrections():
    """The 勘误表 of the filtered records: one row per wrong field."""
    f = Filters.parse(request.args)
    in_table = apply(table_query(), f).select(Record.id)
    query = (
        exports.correction_select()
        .where((Request.kind == "correction") & Request.record.in_(in_table))
        .order_by(Request.created_at, Request.id, CorrectionItem.id)
    )
    scope = staff_scope()
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


@bp.get("/export/national.zip")
@staff_view
def export_national():
    """One cohort's photos for the national registration, with 名单.csv and 未确认.csv."""
    cohorts = board.all_cohorts()
    wanted = request.args.get("cohort", "")
    cohort = next((c for c in cohorts if str(c.id) == wanted), None) or board.default_cohort(cohorts)
    if cohort is None:
        flash(_("There is no cohort yet."), "error")
        return redirect_to("staff.dashboard")
    f = Filters(cohort=cohort.id, college=Filters.parse(request.args).college, sort="student_no")
    query = ordered(apply(exports.record_select(), f), f)
    audit_export("national", f)
    fileobj, _counts = exports.national_zip(query)
    return send_temp(fileobj, "application/zip", f"national-{cohort.id}-{stamp()}.zip")


@bp.post("/compliance")
@staff_view
@role_required("admin")
def compliance():
    """Re-check every photo against the standard (admin) as a background job
    with a progress page: tens of thousands of photos take minutes."""
    if not ButtonForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect_to("staff.dashboard")
    with db.atomic():
        job = ImportJob.create(kind="compliance", created_by=current_user.id)
    imports.start(current_app._get_current_object(), job)
    return redirect_to("admin.import_job", job_id=job.id)
