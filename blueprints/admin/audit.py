"""The audit log (admin): who did what, when; filters by actor, action,
record and local dates; the filtered events as CSV."""

import datetime
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, request, stream_with_context
from flask_babel import gettext as _
from peewee import JOIN

from blueprints.access import admin_view
from blueprints.admin.common import PAGE_SIZE, actor
from blueprints.params import page_arg, to_date, to_id
from blueprints.web import client_ip, page_count, render
from models import AuditEvent, User, utcnow
from services import audit_trail
from services.exports import BOM, csv_text, guarded

bp = Blueprint("audit", __name__)

CSV_BATCH = 500


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
        if f.record and to_id(f.record) is None:
            f.errors.append(_("The record number must be a whole number."))
        for value in (f.date_from, f.date_to):
            if value and f.day(value) is None:
                f.errors.append(
                    _("Enter dates as YYYY-MM-DD between 1900-01-01 and 2100-12-31, e.g. 2027-03-17.")
                )
                break
        else:
            if f.date_from and f.date_to and f.day(f.date_from) > f.day(f.date_to):
                f.errors.append(_("The start date is after the end date."))
        return f

    @staticmethod
    def day(value):
        return to_date(value)

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
                (AuditEvent.target_type == "record") & (AuditEvent.target_id == to_id(self.record))
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
def index():
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
        pages=page_count(total, PAGE_SIZE),
        actions=distinct_actions(),
    )


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
def download():
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
    audit_trail.note("export.audit", actor=actor(), ip=client_ip(), reason=str(f.params()))
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
    chunks = guarded(audit_csv_chunks(query, headers, zone))
    response = Response(stream_with_context(chunks), mimetype="text/csv")
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{stamp}.csv"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
