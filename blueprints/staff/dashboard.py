"""The staff dashboard: per college, counts by status and progress for one
cohort, the deadlines and the open queues; the admin's photo re-check."""

from flask import Blueprint, flash, request
from flask_babel import gettext as _
from flask_login import current_user

import tasks
from blueprints.access import admin_view, scope_for, staff_view
from blueprints.forms import ButtonForm
from blueprints.web import redirect_to, render
from services import dashboard as board
from services import importing
from services.vocab import QUEUE_LABELS, RECORD_STATUS_LABELS

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@staff_view
def index():
    """Per college: counts by status and progress for one cohort; deadlines; open queues."""
    cohorts = board.all_cohorts()
    wanted = request.args.get("cohort", "")
    cohort = next((c for c in cohorts if str(c.id) == wanted), None) or board.default_cohort(cohorts)
    scope = scope_for(current_user)
    rows, totals = board.status_counts(cohort.id, scope) if cohort else ([], board.CollegeRow(None, ""))
    return render(
        "staff/dashboard.html",
        cohorts=cohorts,
        cohort=cohort,
        rows=rows,
        totals=totals,
        queues=board.open_queue_sizes(scope),
        queue_labels=QUEUE_LABELS,
        statuses=list(RECORD_STATUS_LABELS),
        days_to_recheck=board.days_to_recheck(cohort) if cohort else None,
    )


@bp.post("/compliance")
@admin_view
def compliance():
    """Re-check every photo against the standard (admin) as a background job
    with a progress page: tens of thousands of photos take minutes."""
    if not ButtonForm().validate_on_submit():
        flash(_("The form has expired. Please try again."), "error")
        return redirect_to("staff.dashboard.index")
    job = importing.create_job("compliance", current_user.id)
    tasks.start_job(job)
    return redirect_to("admin.imports.job", job_id=job.id)
