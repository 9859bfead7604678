"""What the records table's views share: the filters parsed from a request,
the page context, and the per-request parts every row is drawn with.

A row's texts that depend only on the language (status labels, the options
of each status's control, the questions) are made once per language; the
URLs, the CSRF token and the time zone once per request. The row template
then only joins them with the row's own values (templates/staff/_row.html).
"""

from dataclasses import dataclass

import flask_babel
from flask import url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from pytz import UTC

from blueprints.access import scope_for
from blueprints.params import MAX_PAGE, to_id
from models import STAFF_TRANSITIONS, STATUSES, Cohort, College
from services import photos
from services import record_table as table
from services.dashboard import DONE, STATUS_LABELS

STAFF_TARGETS = {s: [t for t in STATUSES if t in STAFF_TRANSITIONS.get(s, ())] for s in STATUSES}


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
            college=number("college") if current_user.role == "admin" else 0,
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
        "status_labels": STATUS_LABELS,
        "staff_targets": STAFF_TARGETS,
        "compliance_text": compliance_text,
        "show_college": current_user.is_authenticated and current_user.role == "admin",
        "confirmed_statuses": DONE,
    }


@dataclass(frozen=True)
class Texts:
    """A row's texts in one language, ready for the HTML."""

    labels: dict  # status → label
    options: dict  # status → the <option>s of its control, the current status first
    status_of: Markup  # "Status of %(name)s"
    confirm: Markup  # the question before a confirmation ends
    problem: dict  # compliance codes → the reasons, as one line


_TEXTS = {}


def texts():
    """The row texts of the current language (made on first use)."""
    locale = str(get_locale())
    found = _TEXTS.get(locale)
    if found is None:
        labels = {s: escape(str(label)) for s, label in STATUS_LABELS.items()}

        def option(status, selected=""):
            return Markup('<option value="{}"{}>{}</option>').format(status, selected, labels[status])

        options = {
            s: Markup("").join([option(s, Markup(" selected")), *(option(t) for t in targets)])
            for s, targets in STAFF_TARGETS.items()
            if targets
        }
        found = _TEXTS[locale] = Texts(
            labels=labels,
            options=options,
            # Marked safe, not escaped: what Jinja's gettext does with a translation.
            status_of=Markup(_("Status of %(name)s")),  # noqa: S704
            confirm=Markup(  # noqa: S704
                _(
                    "The confirmation of %(name)s ends unless the new status is a confirmation; "
                    "the student must then check again. Change the status?"
                )
            ),
            problem={},
        )
    return found


def _around(url):
    """A URL built with a stand-in id, split where the id goes."""
    head, tail = url.split("987654321", 1)
    return escape(head), escape(tail)


class Kit:
    """Everything a row needs besides the row itself, for one request."""

    def __init__(self, next_url):
        self.t = texts()
        self.csrf = generate_csrf()
        default = next_url == url_for("staff.records.index")
        extra = {} if default else {"next": next_url}
        self.detail = _around(url_for("staff.records.detail", record_id=987654321, **extra))
        self.action = _around(url_for("staff.records.set_status", record_id=987654321, **extra))
        self.mini = _around(url_for("student.record.photo", photo_id=987654321, variant="mini"))
        self.thumb = _around(url_for("student.record.photo", photo_id=987654321, variant="thumb"))
        self.zone = flask_babel.get_timezone()
        self.confirming = DONE

    def when(self, moment):
        """A change's time as "MM-dd HH:mm" in the user's time zone (Babel's
        pattern gives these ASCII digits in every language)."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return self.zone.normalize(moment.astimezone(self.zone)).strftime("%m-%d %H:%M")

    def problem(self, codes):
        found = self.t.problem.get(codes)
        if found is None:
            found = self.t.problem[codes] = compliance_text(codes)
        return found


def page_context(f):
    """The table page of `f` (its page number clamped to the last page)."""
    where = scope()
    admin = current_user.role == "admin"
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
    return {
        "f": f,
        "rows": rows,
        "kit": Kit(next_url),
        "total": total,
        "pages": pages,
        "colleges": list(colleges),
        "cohorts": list(cohorts),
        "next_url": next_url,
        "message": None,
        "conflict": False,
    }
