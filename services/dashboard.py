"""Aggregate numbers for the staff dashboard: one query per kind of number.

Status counts come from a single GROUP BY over records joined to colleges;
open queue sizes from a single GROUP BY over requests. Nothing here runs a
query per college or per row.
"""

from dataclasses import dataclass, field

from peewee import JOIN, fn

from models import STATUSES, Cohort, College, Record, Request
from services.vocab import DONE, RequestKind, RequestStatus


@dataclass
class CollegeRow:
    """Counts by status of one college (or of all: the totals row)."""

    id: int | None
    name: str
    counts: dict = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))

    @property
    def total(self):
        return sum(self.counts.values())

    @property
    def done(self):
        return sum(self.counts[s] for s in DONE)

    @property
    def percent(self):
        """Whole percent confirmed (online or offline); 0 for an empty college."""
        return (100 * self.done // self.total) if self.total else 0


def status_counts(cohort_id, college_id=None):
    """[CollegeRow] per college (alphabetical by name) and the totals row.

    One query: colleges LEFT JOIN this cohort's records, grouped by college
    and status, so colleges without records still get a row of zeros.
    `college_id` limits it to one college (staff).
    """
    count = fn.COUNT(Record.id)
    query = (
        College.select(College.id, College.name, Record.status, count.alias("n"))
        .join(
            Record,
            JOIN.LEFT_OUTER,
            on=(Record.college == College.id) & (Record.cohort == cohort_id),
        )
        .group_by(College.id, College.name, Record.status)
        .order_by(College.name, College.id)
    )
    if college_id is not None:
        query = query.where(College.id == college_id)
    rows, totals = {}, CollegeRow(None, "")
    for college_pk, name, status, n in query.tuples():
        row = rows.setdefault(college_pk, CollegeRow(college_pk, name))
        if status in row.counts:
            row.counts[status] += n
            totals.counts[status] += n
    return list(rows.values()), totals


def open_queue_sizes(college_id=None):
    """{kind: number of open requests} for every queue kind (zeros included)."""
    query = (
        Request.select(Request.kind, fn.COUNT(Request.id))
        .where(Request.status == RequestStatus.OPEN)
        .group_by(Request.kind)
    )
    if college_id is not None:
        query = query.where(Request.college == college_id)
    sizes = dict.fromkeys(RequestKind, 0)
    sizes.update(dict(query.tuples()))
    return sizes


def next_date(cohort, now=None):
    """The date that matters next for a cohort: its deadline, else its re-check end."""
    return cohort.confirm_deadline if cohort.phase(now) == "open" else cohort.recheck_end


def default_cohort(cohorts, now=None):
    """The cohort with the nearest date still ahead; the newest when all are over."""
    cohorts = list(cohorts)
    if not cohorts:
        return None
    running = [c for c in cohorts if c.phase(now) != "over"]
    if running:
        return min(running, key=lambda c: (next_date(c, now), c.id))
    return max(cohorts, key=lambda c: (c.recheck_end, c.id))


def all_cohorts():
    """Every cohort, newest deadline first (for the select)."""
    return list(Cohort.select().order_by(Cohort.confirm_deadline.desc(), Cohort.id.desc()))


def days_to_recheck(cohort, now=None):
    """Whole days until the re-check window opens (negative once it has)."""
    return (cohort.recheck_start - cohort.local_today(now)).days
