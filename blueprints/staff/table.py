"""What the records table's views share: the filters parsed from a request,
and the page context.

The rows themselves are drawn by blueprints/staff/rows.py.
"""

from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.access import scope_for
from blueprints.params import MAX_PAGE, to_id
from blueprints.staff.rows import Kit
from models import STAFF_TRANSITIONS, STATUSES, Cohort, College
from services import photos
from services import record_table as table
from services.vocab import DONE, RECORD_STATUS_LABELS, Role

STAFF_TARGETS = {s: [t for t in STATUSES if t in STAFF_TRANSITIONS.get(s, ())] for s in STATUSES}
# Rows drawn with the page: more than a first screen (14 at 1366×768). The
# rest of the page's rows come when the table scrolls near them (htmx), or
# all at once through a plain link (?rows=all) without JavaScript.
FIRST_ROWS = 20


class Filters(table.Filters):
    """The table's filters as a view reads and links them."""

    @classmethod
    def parse(cls, values):
        def one_of(name, allowed):
            value = values.get(name, "")
            return value if value in allowed else ""

        def number(name):
            return to_id(values.get(name, "")) or 0

        return cls(
            q=" ".join(values.get("q", "").split())[:64],
            status=one_of("status", STATUSES),
            college=number("college") if current_user.role == Role.ADMIN else 0,
            cohort=number("cohort"),
            photo=one_of("photo", table.YES_NO),
            request=one_of("request", table.YES_NO),
            problem=one_of("problem", table.YES_NO),
            sort=one_of("sort", table.SORTS) or "name",
            dir="desc" if values.get("dir") == "desc" else "asc",
            page=min(max(1, number("page")), MAX_PAGE),
        )

    def url(self, **changes):
        return url_for("staff.records.index", **self.params(**changes))

    def sort_url(self, column):
        flip = "desc" if self.sort == column and self.dir == "asc" else "asc"
        return self.url(sort=column, dir=flip, page=1)


def scope():
    return scope_for(current_user)


# What blueprints/staff/exports.py builds its queries from.
def apply(query, f):
    """Restrict a Record query (joined LEFT OUTER to Photo) to the filters; scope included."""
    return table.restrict(query, f, scope())


ordered = table.ordered
table_query = table.full_query


def compliance_text(codes):
    """The reasons a photo breaks the standard, as one line of text."""
    reasons = dict(photos.COMPLIANCE_REASONS, unreadable=_("The photo file cannot be read."))
    return " ".join(str(reasons.get(c, c)) for c in (codes or "").split(",") if c)


def row_globals():
    """Labels and helpers the staff templates use (registered on the staff blueprint)."""
    return {
        "status_labels": RECORD_STATUS_LABELS,
        "staff_targets": STAFF_TARGETS,
        "compliance_text": compliance_text,
        "show_college": current_user.is_authenticated and current_user.role == Role.ADMIN,
        "confirmed_statuses": DONE,
    }


def page_context(f, every=False):
    """The table page of `f` (its page number clamped to the last page):
    its first FIRST_ROWS rows, or `every` row."""
    where = scope()
    admin = current_user.role == Role.ADMIN
    total = table.count(f, where)
    pages = max(1, -(-total // table.PAGE_SIZE))
    f.page = min(f.page, pages)
    rows = table.page_rows(f, where, colleges=admin)
    colleges = College.select(College.id, College.name).order_by(College.name).tuples() if admin else []
    cohorts = (
        Cohort.select(Cohort.id, Cohort.name)
        .order_by(Cohort.confirm_deadline.desc(), Cohort.id.desc())
        .tuples()
    )
    next_url = f.url()
    shown, later = (rows, []) if every else (rows[:FIRST_ROWS], rows[FIRST_ROWS:])
    return {
        "f": f,
        "rows": shown,
        "kit": (kit := Kit(next_url, loading="lazy" if every else "eager")),
        "rows_html": kit.rows(shown, admin),
        "later": later,
        "total": total,
        "pages": pages,
        "colleges": list(colleges),
        "cohorts": list(cohorts),
        "next_url": next_url,
        "message": None,
        "conflict": False,
    }
