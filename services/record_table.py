"""The staff records table: filters, search, sort and the queries behind it.

Every function takes a `scope`: None for every college (admins), a college
id for a staff member's college, 0 for nothing (a staff account without a
college). The count and page queries of one filter *shape* (which filters
are set, the kind of search, the sort) are built once with peewee and re-run
with the values as parameters (prepared.Prepared); a table page selects only
the columns a row shows, as plain `Row` tuples.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, NamedTuple

from peewee import JOIN, OP, SQL, Expression, ModelSelect, Node, NodeList, Value, fn

from models import College, Photo, Record, Request
from prepared import Param, Prepared
from services import matching

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
YES_NO = ("yes", "no")
Scope = int | None


@dataclass
class Filters:
    """What the table shows (the blueprint parses it from a query string or a form)."""

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

    def params(self, **changes: Any) -> dict[str, Any]:
        """The non-default values: what a view's URL is bookmarked by."""
        f = replace(self, **changes)
        return {k.name: getattr(f, k.name) for k in fields(f) if getattr(f, k.name) != k.default}


class Row(NamedTuple):
    """What one line of the table shows."""

    id: int
    name: str
    student_no: str
    id_number: str
    status: str
    version: int
    changed_at: datetime
    photo_id: int | None
    compliance: str
    college: str

    @classmethod
    def of(cls, record: Record) -> Row:
        """The row of a record loaded with its photo and college."""
        compliance = record.photo.compliance if record.photo_id and record.photo else ""
        return cls(
            record.id, record.name, record.student_no, record.id_number, record.status, record.version,
            record.changed_at, record.photo_id, compliance or "", record.college.name,
        )  # fmt: skip


# COALESCE: a row without photo or college shows "", as the model did.
ROW_COLUMNS = (
    Record.id, Record.name, Record.student_no, Record.id_number, Record.status, Record.version,
    Record.changed_at, Record.photo, fn.COALESCE(Photo.compliance, ""), fn.COALESCE(College.name, ""),
)  # fmt: skip
Bind = Callable[[str], Any]


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_kind(q: str) -> str:
    """What the search box matches: a 学号 prefix (digits; also an ID
    number's last 4–6 characters when it could be one), an ID number's tail
    alone (ends in X), or any part of a name."""
    text = q.strip().upper()
    if DIGITS.fullmatch(text):
        return "no+id" if ID_TAIL.fullmatch(text) else "no"
    return "id" if ID_TAIL.fullmatch(text) else "name"


def values_of(f: Filters, scope: Scope) -> dict[str, Any]:
    """Every value the queries of `f` bind, by parameter name."""
    text = f.q.strip().upper()
    return {
        "scope": scope,
        "status": f.status,
        "college": f.college,
        "cohort": f.cohort,
        # Digits and ID tails have no LIKE wildcards (the patterns above).
        "no_like": text + "%",
        "id_like": "%" + text,
        "name_like": f"%{_like(matching.name_key(f.q))}%",
    }


def _search(kind: str, bind: Bind) -> Node:
    if kind == "name":
        escaped = NodeList((bind("name_like"), SQL("ESCAPE"), Value("\\", converter=False)))
        return Expression(Record.name_key, OP.ILIKE, escaped)
    if kind == "id":
        return Expression(Record.id_number, OP.ILIKE, bind("id_like"))
    match = Expression(Record.student_no, OP.ILIKE, bind("no_like"))
    return match | Expression(Record.id_number, OP.ILIKE, bind("id_like")) if kind == "no+id" else match


def restrict(query: ModelSelect[Any], f: Filters, scope: Scope, bind: Bind | None = None) -> ModelSelect[Any]:
    """`query` (on Record; Photo joined LEFT OUTER if f.problem is set)
    limited to the scope and the filters. `bind(name)` is the node of a
    value: `Param` in a prepared query; by default the value itself."""
    if bind is None:
        bind = values_of(f, scope).__getitem__
    if scope is not None:
        query = query.where(Record.college == bind("scope")) if scope else query.where(False)
    if f.q:
        query = query.where(_search(search_kind(f.q), bind))
    if f.status:
        query = query.where(Record.status == bind("status"))
    if f.college:
        query = query.where(Record.college == bind("college"))
    if f.cohort:
        query = query.where(Record.cohort == bind("cohort"))
    if f.photo:
        query = query.where(Record.photo.is_null(f.photo == "no"))
    if f.request:
        open_ = Request.select(Request.record).where(
            (Request.status == "open") & Request.record.is_null(False)
        )
        query = query.where(Record.id.in_(open_) if f.request == "yes" else Record.id.not_in(open_))
    if f.problem:
        problem = Photo.compliance != "" if f.problem == "yes" else Photo.compliance == ""
        query = query.where(Record.photo.is_null(False) & problem)
    return query


def ordered(query: ModelSelect[Any], f: Filters) -> ModelSelect[Any]:
    """Sorted as `f` says, ties by id (a stable page order)."""
    column: Any = SORTS[f.sort]
    if f.q:
        # A text search matches few rows: sorting them beats walking the whole
        # sort index hunting for matches (SQLite picks the index otherwise).
        column = column.concat("")
    return query.order_by(column.desc() if f.dir == "desc" else column.asc(), Record.id)


def with_photo(query: ModelSelect[Any]) -> ModelSelect[Any]:
    return query.join_from(Record, Photo, JOIN.LEFT_OUTER, on=(Record.photo == Photo.id))


def _shape(f: Filters, scope: Scope, colleges: bool) -> tuple:
    """What decides the SQL text of `f`'s queries (not the values)."""
    kind = search_kind(f.q) if f.q else ""
    where = "all" if scope is None else ("college" if scope else "none")
    return (where, kind, bool(f.status), bool(f.college), bool(f.cohort), f.photo, f.request, f.problem,
            f.sort, f.dir, colleges)  # fmt: skip


def _build(f: Filters, scope: Scope, colleges: bool) -> tuple[Prepared, Prepared]:
    counted = Record.select(fn.COUNT(Record.id))
    if f.problem:
        counted = with_photo(counted)
    if colleges:
        page = with_photo(Record.select(*ROW_COLUMNS))
        page = page.join_from(Record, College, JOIN.LEFT_OUTER, on=(Record.college == College.id))
    else:
        page = with_photo(Record.select(*ROW_COLUMNS[:-1], Value("", converter=False)))
    page = ordered(restrict(page, f, scope, Param), f).limit(Param("limit")).offset(Param("offset"))
    return Prepared(restrict(counted, f, scope, Param).tuples()), Prepared(page.tuples())


_PREPARED: dict[tuple, tuple[Prepared, Prepared]] = {}
_LOCK = threading.Lock()
# Shapes are few (a handful of filters, four sorts); a cap guards memory anyway.
MAX_SHAPES = 512


def _prepared(f: Filters, scope: Scope, colleges: bool) -> tuple[Prepared, Prepared]:
    key = _shape(f, scope, colleges)
    found = _PREPARED.get(key)
    if found is None:
        found = _build(f, scope, colleges)
        with _LOCK:
            if len(_PREPARED) >= MAX_SHAPES:
                _PREPARED.clear()
            _PREPARED[key] = found
    return found


def count(f: Filters, scope: Scope) -> int:
    """How many records match `f` in `scope`."""
    counted, _page = _prepared(f, scope, False)
    return counted.scalar(**values_of(f, scope)) or 0


def page_rows(f: Filters, scope: Scope, size: int = PAGE_SIZE, colleges: bool = False) -> list[Row]:
    """The rows of page `f.page`; `colleges`: with each record's college name."""
    _count, page = _prepared(f, scope, colleges)
    values = values_of(f, scope)
    return [Row._make(t) for t in page.execute(limit=size, offset=(f.page - 1) * size, **values)]


def rows_by_id(ids: list[int], scope: Scope, colleges: bool = False) -> list[Row]:
    """The rows of the records `ids` that `scope` holds, in the order of
    `ids` (the later rows of a page, fetched when the table shows them)."""
    columns = ROW_COLUMNS if colleges else (*ROW_COLUMNS[:-1], Value("", converter=False))
    query = with_photo(Record.select(*columns)).where(Record.id.in_(ids))
    if colleges:
        query = query.join_from(Record, College, JOIN.LEFT_OUTER, on=(Record.college == College.id))
    found = {t[0]: Row._make(t) for t in restrict(query, Filters(), scope).tuples()}
    return [found[i] for i in ids if i in found]


def matching_ids(f: Filters, scope: Scope) -> list[int]:
    """Ids of every record matching `f` in `scope` (a bulk action on "all")."""
    query = restrict(with_photo(Record.select(Record.id)), f, scope).order_by(Record.id)
    return [i for (i,) in query.tuples()]


def ids_in_scope(ids: list[int], scope: Scope) -> list[int]:
    """The ids among `ids` of records in `scope`, sorted."""
    query = restrict(Record.select(Record.id).where(Record.id.in_(ids)), Filters(), scope)
    return sorted(i for (i,) in query.tuples())


def full_query() -> ModelSelect[Any]:
    """Records with photo and college, as whole models (detail, fragments)."""
    return with_photo(Record.select(Record, Photo, College).join_from(Record, College))


def get(record_id: int, scope: Scope) -> Record | None:
    """The record with its photo and college if `scope` holds it."""
    return restrict(full_query().where(Record.id == record_id), Filters(), scope).first()
