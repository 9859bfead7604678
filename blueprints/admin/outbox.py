"""The mail outbox (admin): every mail, newest first, by status; read its
text, send a failed one again."""

import functools

from flask import Blueprint, abort, g, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from blueprints.access import admin_view
from blueprints.admin.common import PAGE_SIZE, actor
from blueprints.forms import ButtonForm
from blueprints.params import page_arg
from blueprints.web import client_ip, page_count, render, safe_next, swap_or_redirect
from models import OutboxMail
from services import audit_trail, mail

bp = Blueprint("outbox", __name__, url_prefix="/outbox")

MAIL_STATUSES = {
    "pending": _l("waiting"),
    "sending": _l("sending"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "console": _l("console only (no mail server)"),
}
RETRYABLE = ("failed", "pending")
ROW = "manage/_mail_row.html"


def mail_rows():
    """Outbox rows without their bodies, newest first."""
    columns = [f for f in OutboxMail._meta.sorted_fields if f.name not in ("body_text", "body_html")]
    return OutboxMail.select(*columns).order_by(OutboxMail.created_at.desc(), OutboxMail.id.desc())


def page_context(message=None):
    """The outbox page: one page of mails, filtered by status."""
    wanted = request.args.get("status", "")
    wanted = wanted if wanted in MAIL_STATUSES else ""
    query = mail_rows()
    if wanted:
        query = query.where(OutboxMail.status == wanted)
    total = query.count()
    page = page_arg()
    return dict(
        mails=list(query.paginate(page, PAGE_SIZE)),
        wanted=wanted,
        total=total,
        page=page,
        pages=page_count(total, PAGE_SIZE),
        mail_statuses=MAIL_STATUSES,
        retryable=RETRYABLE,
        message=message,
        next_url=request.full_path.rstrip("?")
        if request.method == "GET"
        else safe_next(request.form.get("next"), "admin.outbox.index"),
    )


def outbox_page(status=200, message=None):
    return render("manage/outbox.html", "results", status=status, **page_context(message))


@bp.get("")
@admin_view
def index():
    """Every mail, newest first, by status; read its text, send a failed one again."""
    return outbox_page()


def mail_row(mail_id, full=False):
    row = (OutboxMail.select() if full else mail_rows()).where(OutboxMail.id == mail_id).first()
    if row is None:
        abort(404)
    return row


@bp.get("/<int:mail_id>")
@admin_view
def show(mail_id):
    """A mail's text: the <pre> alone for htmx, a page otherwise (how an install
    without SMTP reads e.g. an activation link). Reading it is audited: it may
    hold a live link."""
    row = mail_row(mail_id, full=True)
    audit_trail.note("mail.read", actor=actor(), target=row, ip=client_ip(), reason=row.to)
    return render("manage/mail.html", block="text", m=row, mail_statuses=MAIL_STATUSES)


@bp.post("/<int:mail_id>/retry")
@admin_view
def retry(mail_id):
    """Put a failed (or waiting) mail back in the queue now; the sender delivers it."""
    row = mail_row(mail_id, full=True)
    problem = None
    if not ButtonForm().validate_on_submit():
        problem = _("The form has expired. Please try again.")
    elif row.status not in RETRYABLE:
        problem = _("Only failed or waiting mail can be sent again.")
    else:
        mail.retry(row, actor=actor(), ip=client_ip())
        g.outbox_dirty = True  # delivered after the response, like any new mail
    ctx = dict(
        m=mail_row(mail_id),
        mail_statuses=MAIL_STATUSES,
        retryable=RETRYABLE,
        row_message=problem,
        next_url=url_for("admin.outbox.index"),
    )
    if problem:
        page = functools.partial(page_context, problem)
        return render("manage/outbox.html", partial=ROW, page_ctx=page, status=400, **ctx)
    next_url = safe_next(request.form.get("next"), "admin.outbox.index")
    return swap_or_redirect(
        next_url, ROW, flash_message=_("The mail to %(to)s is queued again.", to=row.to), **ctx
    )
