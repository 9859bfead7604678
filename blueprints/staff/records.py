"""The staff records table: active search, filters, sort, pages, a row that
toggles its own status, the row detail; the bulk actions on ticked rows are
in blueprints/staff/bulk.py, the queries in services/record_table.py.

Every query is limited to the user's scope (staff see their college, admins
all); a record outside the scope is a 404.
"""

from flask import Blueprint, abort, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import JOIN

from blueprints.access import READ_ID_NUMBER, audit_read, staff_view
from blueprints.forms import ButtonForm
from blueprints.params import to_id
from blueprints.staff import bulk
from blueprints.staff.table import (
    Filters,
    Kit,
    apply,
    compliance_text,
    ordered,
    page_context,
    scope,
    table_query,
)
from blueprints.web import client_ip, external_url, htmx_only, is_htmx, render, safe_next, swap_or_redirect
from models import AuditEvent, Confirmation, IllegalTransition, StaleRecord, User
from services import record_fields, staff_actions
from services import record_table as table
from services.vocab import DONE, RECORD_STATUS_LABELS, Role

# Re-exported: what the exports and the staff photo pages build on.
__all__ = ["Filters", "apply", "bp", "compliance_text", "ordered", "table_query"]

bp = Blueprint("records", __name__, url_prefix="/records")
bp.add_url_rule("/bulk", view_func=bulk.bulk, methods=["POST"])


@bp.get("")
@staff_view
def index():
    """The records table; htmx gets the results block only (active search)."""
    f = Filters.parse(request.args)
    every = request.args.get("rows") == "all"
    # The address bar gets the canonical URL, not every empty field of the form.
    return render(
        "staff/records.html", "results", hx_headers={"HX-Push-Url": f.url()}, **page_context(f, every)
    )


@bp.get("/rows")
@staff_view
@htmx_only
def later_rows():
    """A page's rows after the first screen (`ids`, in that order), fetched
    by the table when it scrolls near them: what the page would have drawn."""
    ids = [number for v in request.args.get("ids", "").split(",")[: table.PAGE_SIZE] if (number := to_id(v))]
    next_url = safe_next(request.args.get("next"), "staff.records.index")
    admin = current_user.role == Role.ADMIN
    rows = table.rows_by_id(ids, scope(), colleges=admin)
    return render("staff/_rows.html", rows_html=Kit(next_url).rows(rows, admin))


def get_scoped(record_id):
    """The record if the current user may see it, else 404."""
    record = table.get(record_id, scope())
    if record is None:
        abort(404)
    return record


def history(record):
    confirmations = (
        Confirmation.select(Confirmation, User)
        .join(User, JOIN.LEFT_OUTER, on=(Confirmation.user == User.id))
        .where(Confirmation.record == record)
        .order_by(Confirmation.at.desc(), Confirmation.id.desc())
    )
    audit = (
        AuditEvent.select(AuditEvent, User)
        .join(User, JOIN.LEFT_OUTER, on=(AuditEvent.actor == User.id))
        .where((AuditEvent.target_type == "record") & (AuditEvent.target_id == record.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return {"confirmations": confirmations, "audit": audit}


EXTRA_FIELDS = [
    ("birth_date", _l("Birth date")),
    ("ethnicity", _l("Ethnicity")),
    ("class_name", _l("Class")),
    ("cohort", _l("Cohort")),
]


def detail_fields(record):
    """[(label, value)] of every registry field, with the full ID number (staff only)."""
    rows = [(label, value) for _field, label, value in record_fields.display(record, full_id=True)]
    for field, label in EXTRA_FIELDS:
        rows.append(
            (label, record.cohort.name if field == "cohort" else record_fields.raw_value(record, field))
        )
    rows.append((_l("Account"), record.account.email if record.account_id else "–"))
    return rows


def row_context(record, next_url, message=None, conflict=False):
    """What the collapsed row shows."""
    return {
        "r": record,
        "row": table.Row.of(record),
        "kit": Kit(next_url),
        "next_url": next_url,
        "message": message,
        "conflict": conflict,
        "expanded": False,
    }


def detail_context(record):
    """What the expanded row adds: every field (the full ID number: an audited
    read), confirmations, audit trail."""
    audit_read(READ_ID_NUMBER, record)
    return dict(history(record), fields=detail_fields(record), expanded=True)


def row_response(record, next_url, status=200, message=None, conflict=False, expanded=False):
    """The row alone for htmx (plus its detail when expanded); otherwise the
    record page, always with the detail."""
    ctx = row_context(record, next_url, message, conflict)
    if expanded:
        ctx.update(detail_context(record))
    return render("staff/record.html", "rows", page_ctx=lambda: detail_context(record), status=status, **ctx)


@bp.get("/<int:record_id>")
@staff_view
def detail(record_id):
    """The row detail: every field, the photo, problems, confirmations, audit trail."""
    record = get_scoped(record_id)
    next_url = safe_next(request.args.get("next"), "staff.records.index")
    return row_response(record, next_url, expanded=True)


@bp.get("/<int:record_id>/row")
@staff_view
def row(record_id):
    """The collapsed row (htmx); without htmx the record page."""
    record = get_scoped(record_id)
    next_url = safe_next(request.args.get("next"), "staff.records.index")
    detail_url = url_for("staff.records.detail", record_id=record.id)
    return swap_or_redirect(detail_url, "staff/record.html", "rows", **row_context(record, next_url))


def status_problem(exc, record, target):
    """A message for a refused status change."""
    if isinstance(exc, staff_actions.ReasonMissing):
        return _("Please give a reason for “%(status)s”.", status=RECORD_STATUS_LABELS.get(target, target))
    return _(
        "The status cannot change from “%(old)s” to “%(new)s”.",
        old=RECORD_STATUS_LABELS.get(record.status, record.status),
        new=RECORD_STATUS_LABELS.get(target, target),
    )


def voids_confirmation(record, target):
    """Whether this change ends the record's confirmation (student or offline)."""
    return record.status in DONE and target not in DONE


@bp.post("/<int:record_id>/status")
@staff_view
def set_status(record_id):
    """The inline toggle: the new row, or the current one with why nothing changed."""
    record = get_scoped(record_id)
    # The table's forms carry the view to come back to in the action's query.
    next_url = safe_next(request.form.get("next") or request.args.get("next"), "staff.records.index")
    if not ButtonForm().validate_on_submit():
        return row_response(record, next_url, 400, _("The form has expired. Please try again."))
    target = request.form.get("to", "")
    version = request.form.get("version", "")
    expected = to_id(version) or -1
    if target == record.status and expected == record.version:
        return swap_or_redirect(next_url, "staff/record.html", "rows", **row_context(record, next_url))
    # is_htmx() exception: htmx asked already (hx-confirm); a plain post gets the question as a page.
    if voids_confirmation(record, target) and not is_htmx() and request.form.get("confirmed") != "1":
        # Without JavaScript (no hx-confirm) the same question is a page.
        return render(
            "staff/confirm_status.html",
            r=record,
            target=target,
            reason=request.form.get("reason", ""),
            version=version,
            next_url=next_url,
        )
    actor = current_user._get_current_object()
    try:
        staff_actions.change_status_now(
            record.id, target, actor, request.form.get("reason", ""), client_ip(), expected, link=external_url
        )
    except StaleRecord:
        current = get_scoped(record.id)
        who = current.changed_by.email if current.changed_by_id else _("the system")
        when = format_datetime(current.changed_at, "yyyy-MM-dd HH:mm")
        message = _(
            "Changed in the meantime by %(who)s at %(when)s. Nothing was overwritten.", who=who, when=when
        )
        return row_response(current, next_url, 409, message, conflict=True)
    except (IllegalTransition, staff_actions.ReasonMissing) as exc:
        return row_response(record, next_url, 400, status_problem(exc, record, target))
    return swap_or_redirect(
        next_url, "staff/record.html", "rows", **row_context(get_scoped(record.id), next_url)
    )
