"""The staff records table: active search, filters, sort, pages, a row that
toggles its own status, the row detail, and the bulk actions on ticked rows.

Every query goes through `scoped()` (staff see their college, admins all);
a record outside the scope is a 404. A bulk action covers exactly what the
table shows (the same filters).
"""

import re
from dataclasses import dataclass, fields, replace

from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user
from peewee import JOIN

from blueprints.access import READ_ID_NUMBER, audit_read, college_scope, staff_view
from blueprints.forms import ButtonForm
from blueprints.params import MAX_PAGE, to_id
from blueprints.web import client_ip, external_url, is_htmx, render, safe_next, swap_or_redirect
from extensions import limiter
from models import (
    STAFF_TRANSITIONS,
    STATUSES,
    AuditEvent,
    Cohort,
    College,
    Confirmation,
    IllegalTransition,
    Photo,
    Record,
    Request,
    StaleRecord,
    User,
    db,
)
from services import idcard, matching, photos, records, staff_actions
from services.dashboard import DONE, STATUS_LABELS

bp = Blueprint("records", __name__, url_prefix="/records")

PAGE_SIZE = 100
ID_TAIL = re.compile(r"[0-9]{3,5}[0-9X]")
DIGITS = re.compile(r"[0-9]+")
# By name means by name_key: the same order for Chinese names, and indexed.
SORTS = {
    "name": Record.name_key,
    "student_no": Record.student_no,
    "status": Record.status,
    "changed": Record.changed_at,
}
STAFF_TARGETS = {s: [t for t in STATUSES if t in STAFF_TRANSITIONS.get(s, ())] for s in STATUSES}
YES_NO = ("yes", "no")


@dataclass
class Filters:
    """What the table shows; parsed from a query string or a bulk form."""

    q: str = ""
    status: str = ""
    college: int = 0
    cohort: int = 0
    photo: str = ""
    request: str = ""
    problem: str = ""
    sort: str = "name"
    dir: str = "asc"
    page: int = 1

    @classmethod
    def parse(cls, values):
        def number(name):
            return to_id(values.get(name, "")) or 0

        f = cls(
            q=" ".join(values.get("q", "").split())[:64],
            status=values.get("status", "") if values.get("status") in STATUSES else "",
            college=number("college") if current_user.role == "admin" else 0,
            cohort=number("cohort"),
            photo=values.get("photo", "") if values.get("photo") in YES_NO else "",
            request=values.get("request", "") if values.get("request") in YES_NO else "",
            problem=values.get("problem", "") if values.get("problem") in YES_NO else "",
            sort=values.get("sort", "") if values.get("sort") in SORTS else "name",
            dir="desc" if values.get("dir") == "desc" else "asc",
        )
        f.page = min(max(1, number("page")), MAX_PAGE)
        return f

    def params(self, **changes):
        """The non-default values, for url_for: the URL a view can be bookmarked by."""
        f = replace(self, **changes)
        return {k.name: getattr(f, k.name) for k in fields(f) if getattr(f, k.name) != k.default}

    def url(self, **changes):
        return url_for("staff.records.index", **self.params(**changes))

    def sort_url(self, column):
        flip = "desc" if self.sort == column and self.dir == "asc" else "asc"
        return self.url(sort=column, dir=flip, page=1)


def scoped(query):
    """Only the current staff member's college (admins: all)."""
    return college_scope(query, Record.college)


def search(q):
    """What the search box matches: a 学号 prefix (digits), the last 4–6
    characters of an ID number, or any part of a name."""
    text = q.strip().upper()
    if DIGITS.fullmatch(text):
        match = Record.student_no.startswith(text)
        if ID_TAIL.fullmatch(text):
            match = match | Record.id_number.endswith(text)
        return match
    if ID_TAIL.fullmatch(text):  # ends in X: only an ID number can
        return Record.id_number.endswith(text)
    return Record.name_key.contains(matching.name_key(q))


def apply(query, f):
    """Restrict a Record query (joined LEFT OUTER to Photo) to the filters; scope included."""
    query = scoped(query)
    if f.q:
        query = query.where(search(f.q))
    if f.status:
        query = query.where(Record.status == f.status)
    if f.college:
        query = query.where(Record.college == f.college)
    if f.cohort:
        query = query.where(Record.cohort == f.cohort)
    if f.photo:
        query = query.where(Record.photo.is_null(f.photo == "no"))
    if f.request:
        open_ = Request.select(Request.record).where(
            (Request.status == "open") & Request.record.is_null(False)
        )
        query = query.where(Record.id.in_(open_) if f.request == "yes" else Record.id.not_in(open_))
    if f.problem == "yes":
        query = query.where(Record.photo.is_null(False) & (Photo.compliance != ""))
    elif f.problem == "no":
        query = query.where(Record.photo.is_null(False) & (Photo.compliance == ""))
    return query


def ordered(query, f):
    column = SORTS[f.sort]
    if f.q:
        # A text search matches few rows: sorting them beats walking the whole
        # sort index hunting for matches (SQLite picks the index otherwise).
        column = column.concat("")
    return query.order_by(column.desc() if f.dir == "desc" else column.asc(), Record.id)


def count(f):
    """How many records match: a lean COUNT without the display joins."""
    query = Record.select(Record.id).join_from(Record, Photo, JOIN.LEFT_OUTER, on=(Record.photo == Photo.id))
    return apply(query, f).count()


def table_query():
    return (
        Record.select(Record, Photo, College)
        .join_from(Record, College)
        .join_from(Record, Photo, JOIN.LEFT_OUTER, on=(Record.photo == Photo.id))
    )


def compliance_text(codes):
    """The reasons a photo breaks the standard, as one line of text."""
    reasons = dict(photos.COMPLIANCE_REASONS, unreadable=_("The photo file cannot be read."))
    return " ".join(str(reasons.get(c, c)) for c in (codes or "").split(",") if c)


def current_url():
    return request.full_path.rstrip("?")


def row_globals():
    """Labels and helpers the row templates use (registered on the staff blueprint)."""
    return {
        "status_labels": STATUS_LABELS,
        "staff_targets": STAFF_TARGETS,
        "compliance_text": compliance_text,
        "show_college": current_user.is_authenticated and current_user.role == "admin",
        "confirmed_statuses": DONE,
    }


def page_context(f):
    query = apply(table_query(), f)
    total = count(f)
    pages = max(1, -(-total // PAGE_SIZE))
    f.page = min(f.page, pages)
    rows = ordered(query, f).paginate(f.page, PAGE_SIZE)
    colleges = College.select().order_by(College.name) if current_user.role == "admin" else []
    cohorts = Cohort.select().order_by(Cohort.confirm_deadline.desc())
    return {
        "f": f,
        "rows": rows,
        "total": total,
        "pages": pages,
        "colleges": [(c.id, c.name) for c in colleges],
        "cohorts": [(c.id, c.name) for c in cohorts],
        "next_url": f.url(),
        "message": None,
        "conflict": False,
    }


@bp.get("")
@staff_view
def index():
    """The records table; htmx gets the results block only (active search)."""
    f = Filters.parse(request.args)
    # The address bar gets the canonical URL, not every empty field of the form.
    return render("staff/records.html", "results", hx_headers={"HX-Push-Url": f.url()}, **page_context(f))


def get_scoped(record_id):
    """The record if the current user may see it, else 404."""
    record = scoped(table_query().where(Record.id == record_id)).first()
    if record is None:
        abort(404)
    return record


def history(record):
    confirmations = (
        Confirmation.select(Confirmation, User)
        .join(User, JOIN.LEFT_OUTER, on=(Confirmation.user == User.id))
        .where(Confirmation.record == record)
        .order_by(Confirmation.at.desc())
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
    id_types = dict(idcard.ID_TYPES)
    rows = []
    for field, label in records.SHOWN + EXTRA_FIELDS:
        value = record.cohort.name if field == "cohort" else records.raw_value(record, field)
        if field == "gender":
            value = records.GENDERS.get(value, value)
        elif field == "id_type":
            value = id_types.get(value, value)
        rows.append((label, value))
    rows.append((_l("Account"), record.account.email if record.account_id else "–"))
    return rows


def row_context(record, next_url, message=None, conflict=False):
    """What the collapsed row shows."""
    return {"r": record, "next_url": next_url, "message": message, "conflict": conflict, "expanded": False}


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
        return _("Please give a reason for “%(status)s”.", status=STATUS_LABELS.get(target, target))
    return _(
        "The status cannot change from “%(old)s” to “%(new)s”.",
        old=STATUS_LABELS.get(record.status, record.status),
        new=STATUS_LABELS.get(target, target),
    )


def voids_confirmation(record, target):
    """Whether this change ends the record's confirmation (student or offline)."""
    return record.status in DONE and target not in DONE


@bp.post("/<int:record_id>/status")
@staff_view
def set_status(record_id):
    """The inline toggle: the new row, or the current one with why nothing changed."""
    record = get_scoped(record_id)
    next_url = safe_next(request.form.get("next"), "staff.records.index")
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
        with db.atomic():
            fresh = Record.get_by_id(record.id)
            staff_actions.change_status(
                fresh, target, actor, request.form.get("reason", ""), client_ip(), expected, link=external_url
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
    return swap_or_redirect(next_url, "staff/record.html", "rows", **row_context(get_scoped(record.id), next_url))


# -- bulk actions ----------------------------------------------------------------

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
    wanted = {number for v in request.form.getlist("ids") if (number := to_id(v))}
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
    """htmx: the refreshed results with the message out of band; otherwise
    the message and back to the table."""
    flash(message, category)
    return swap_or_redirect(next_url, "staff/records.html", "results", status=status, **page_context(f))


def bulk_limit():
    return current_app.config.get("RATELIMIT_STAFF_BULK", "10 per minute")


@bp.post("/bulk")
@limiter.limit(bulk_limit, key_func=per_staff_member, methods=["POST"])
@staff_view
def bulk():
    """Remind or change the status of the ticked records (or all matching the filter)."""
    f = Filters.parse(request.form)
    next_url = safe_next(request.form.get("next"), "staff.records.index")
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
