"""Bulk actions of the staff records table: remind, or change the status of,
the ticked records or all records matching the filter (exactly what the
table shows). Registered as staff.records.bulk (blueprints/staff/records.py)."""

from flask import current_app, flash, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter.util import get_remote_address
from flask_login import current_user

from blueprints.access import staff_view
from blueprints.forms import ButtonForm
from blueprints.params import to_id
from blueprints.staff.table import Filters, page_context, scope
from blueprints.web import client_ip, external_url, safe_next, swap_or_redirect
from extensions import limiter
from models import STAFF_TRANSITIONS
from services import record_table as table
from services import staff_actions
from services.vocab import RECORD_STATUS_LABELS

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
        return table.matching_ids(f, scope()), 0
    wanted = {number for v in request.form.getlist("ids") if (number := to_id(v))}
    found = table.ids_in_scope(list(wanted), scope())
    return found, len(wanted) - len(found)


def skip_text(skipped, labels):
    parts = []
    for key, count in sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0])):
        if key.startswith("illegal:"):
            label = _("not allowed from “%(status)s”", status=RECORD_STATUS_LABELS.get(key[8:], key[8:]))
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
        label = RECORD_STATUS_LABELS[action]
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
        message = _("Status set to “%(status)s”: %(num)d.", status=RECORD_STATUS_LABELS[action], num=done)
        labels = STATUS_SKIPS
    if not_found:
        skipped["not_found"] += not_found
    if skipped:
        message += " " + _(
            "Skipped: %(num)d (%(reasons)s).", num=sum(skipped.values()), reasons=skip_text(skipped, labels)
        )
    return bulk_response(f, next_url, message, "success" if done else "info")
