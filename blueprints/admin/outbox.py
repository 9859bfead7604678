"""The mail outbox and the audit log (admin). Routes of the "manage" blueprint."""

import csv
import datetime
import io
import re
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from flask import Response, abort, current_app, flash, g, redirect, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from peewee import JOIN

from blueprints.admin_manage import ISO_DATE, PAGE_SIZE, actor, admin_view, bp, fragment, page_arg, page_count
from blueprints.forms import ButtonForm
from blueprints.web import client_ip, is_htmx, render, safe_next
from models import AuditEvent, OutboxMail, User, db, utcnow
from services import mail

MAIL_STATUSES = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "console": _l("console only (no mail server)"),
}
RETRYABLE = ("failed", "pending")
BOM = "\ufeff"
CSV_BATCH = 500
FORMULA = re.compile(r"^[=+\-@\t\r]")


# -- mail outbox -----------------------------------------------------------------------


def mail_rows():
    """Outbox rows without their bodies, newest first."""
    columns = [f for f in OutboxMail._meta.sorted_fields if f.name not in ("body_text", "body_html")]
    return OutboxMail.select(*columns).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())


def outbox_page(status=200, message=None):
    wanted = request.args.get("status", "")
    wanted = wanted if wanted in MAIL_STATUSES else ""
    query = mail_rows()
    if wanted:
        query = query.where(OutboxMail.status == wanted)
    total = query.count()
    page = page_arg()
    return render(
        "manage/outbox.html",
        block="results",
        status=status,
        mails=list(query.paginate(page, PAGE_SIZE)),
        wanted=wanted,
        total=total,
        page=page,
        pages=page_count(total),
        mail_statuses=MAIL_STATUSES,
        retryable=RETRYABLE,
        message=message,
        next_url=request.full_path.rstrip("?")
        if request.method == "GET"
        else safe_next(request.form.get("next"), "manage.outbox"),
    )


@bp.get("/outbox")
@admin_view
def outbox():
    """Every mail, newest first, by status; read its text, send a failed one again."""
    return outbox_page()


def mail_row(mail_id, full=False):
    row = (OutboxMail.select() if full else mail_rows()).where(OutboxMail.id == mail_id).first()
    if row is None:
        abort(404)
    return row


@bp.get("/outbox/<int:mail_id>")
@admin_view
def outbox_mail(mail_id):
    """A mail's text: the <pre> alone for htmx, a page otherwise (how an install
    without SMTP reads e.g. an activation link). Reading it is audited: it may
    hold a live link."""
    row = mail_row(mail_id, full=True)
    with db.atomic():
        AuditEvent.log("mail.read", actor=actor(), target=row, ip=client_ip(), reason=row.to)
    return render("manage/mail.html", block="text", m=row, mail_statuses=MAIL_STATUSES)


@bp.post("/outbox/<int:mail_id>/retry")
@admin_view
def retry_mail(mail_id):
    """Put a failed (or waiting) mail back in the queue now; the sender delivers it."""
    row = mail_row(mail_id, full=True)
    problem = None
    if not ButtonForm().validate_on_submit():
        problem = _("The form has expired. Please try again.")
    elif row.status not in RETRYABLE:
        problem = _("Only failed or waiting mail can be sent again.")
    else:
        with db.atomic():
            mail.retry(row)
            AuditEvent.log("mail.retry", actor=actor(), target=row, ip=client_ip(), reason=row.to)
        g.outbox_dirty = True  # delivered after the response, like any new mail
    if is_htmx():
        return fragment(
            "manage/_mail_row.html",
            status=400 if problem else 200,
            m=mail_row(mail_id),
            mail_statuses=MAIL_STATUSES,
            retryable=RETRYABLE,
            row_message=problem,
            next_url=url_for("manage.outbox"),
        )
    if problem:
        return outbox_page(400, message=problem)
    flash(_("The mail to %(to)s is queued again.", to=row.to), "success")
    return redirect(safe_next(request.form.get("next"), "manage.outbox"), code=303)


# -- audit log --------------------------------------------------------------------------


def local_zone():
    return ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")


def utc_midnight(day):
    """The start of a local day, as naive UTC."""
    start = datetime.datetime.combine(day, datetime.time(), local_zone())
    return start.astimezone(datetime.UTC).replace(tzinfo=None)


@dataclass
class AuditFilters:
    """The audit log's filters, from the query string; `errors` for what did not parse."""

    actor: str = ""
    action: str = ""
    record: str = ""
    date_from: str = ""
    date_to: str = ""
    errors: list = field(default_factory=list)

    @classmethod
    def parse(cls, args):
        f = cls(
            actor=args.get("actor", "").strip().lower()[:254],
            action=args.get("action", "").strip()[:48],
            record=args.get("record", "").strip()[:12],
            date_from=args.get("from", "").strip()[:10],
            date_to=args.get("to", "").strip()[:10],
        )
        if f.record and not f.record.isdigit():
            f.errors.append(_("The record number must be a whole number."))
        for value in (f.date_from, f.date_to):
            if value and f.day(value) is None:
                f.errors.append(_("Enter dates as YYYY-MM-DD, e.g. 2027-03-17."))
                break
        else:
            if f.date_from and f.date_to and f.day(f.date_from) > f.day(f.date_to):
                f.errors.append(_("The start date is after the end date."))
        return f

    @staticmethod
    def day(value):
        if not ISO_DATE.fullmatch(value):
            return None
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            return None

    def params(self, **extra):
        """The non-empty filters as query parameters (for links and the export)."""
        names = {
            "actor": "actor",
            "action": "action",
            "record": "record",
            "date_from": "from",
            "date_to": "to",
        }
        values = {names[f.name]: getattr(self, f.name) for f in fields(self) if f.name in names}
        values.update(extra)
        return {k: v for k, v in values.items() if v}

    def apply(self, query):
        """Restrict an AuditEvent query (joined LEFT OUTER to User) to the filters."""
        if self.actor:
            query = query.where(User.email.contains(self.actor))
        if self.action:
            query = query.where(AuditEvent.action == self.action)
        if self.record:
            query = query.where(
                (AuditEvent.target_type == "record") & (AuditEvent.target_id == int(self.record))
            )
        if self.date_from:
            query = query.where(AuditEvent.at >= utc_midnight(self.day(self.date_from)))
        if self.date_to:
            end = self.day(self.date_to) + datetime.timedelta(days=1)
            query = query.where(AuditEvent.at < utc_midnight(end))
        return query


def audit_query(f, *columns):
    query = (
        AuditEvent.select(*(columns or (AuditEvent, User)))
        .join(User, JOIN.LEFT_OUTER, on=(AuditEvent.actor == User.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    return f.apply(query)


def distinct_actions():
    query = AuditEvent.select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    return [action for (action,) in query.tuples()]


@bp.get("/audit")
@admin_view
def audit():
    """Who did what, when: filter by actor, action, record and local dates; export as CSV."""
    f = AuditFilters.parse(request.args)
    events, total = [], 0
    if not f.errors:
        query = audit_query(f)
        total = query.count()
        events = list(query.paginate(page_arg(), PAGE_SIZE))
    return render(
        "manage/audit.html",
        block="results",
        status=400 if f.errors else 200,
        f=f,
        events=events,
        total=total,
        page=page_arg(),
        pages=page_count(total),
        actions=distinct_actions(),
    )


def csv_text(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    # A formula-looking cell would run in Excel (CSV injection): quote it.
    writer.writerows(["'" + v if isinstance(v, str) and FORMULA.match(v) else v for v in row] for row in rows)
    return buffer.getvalue()


def audit_csv_chunks(query, headers, zone):
    """The CSV in chunks: BOM and header first, then rows as the cursor yields them."""
    yield BOM + csv_text([headers])
    batch = []
    for at, email, *rest in query.tuples().iterator():
        local = at.replace(tzinfo=datetime.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
        batch.append([local, email or "", *("" if v is None else v for v in rest)])
        if len(batch) >= CSV_BATCH:
            yield csv_text(batch)
            batch = []
    if batch:
        yield csv_text(batch)


@bp.get("/audit.csv")
@admin_view
def audit_csv():
    """The filtered events as CSV (UTF-8 with BOM for Excel), streamed."""
    f = AuditFilters.parse(request.args)
    if f.errors:
        return render(
            "manage/audit.html",
            status=400,
            f=f,
            events=[],
            total=0,
            page=1,
            pages=1,
            actions=distinct_actions(),
        )
    with db.atomic():
        AuditEvent.log("export.audit", actor=actor(), ip=client_ip(), reason=str(f.params()))
    zone = local_zone()
    headers = [
        _("Time (%(zone)s)", zone=zone.key),
        _("Actor"),
        _("Action"),
        _("Target type"),
        _("Target id"),
        _("From"),
        _("To"),
        _("Reason"),
        _("IP address"),
    ]
    query = audit_query(
        f,
        AuditEvent.at,
        User.email,
        AuditEvent.action,
        AuditEvent.target_type,
        AuditEvent.target_id,
        AuditEvent.from_status,
        AuditEvent.to_status,
        AuditEvent.reason,
        AuditEvent.ip,
    )
    response = Response(stream_with_context(audit_csv_chunks(query, headers, zone)), mimetype="text/csv")
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
