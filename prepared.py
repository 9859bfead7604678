"""Hot queries whose SQL text is built once and re-run with new values.

Peewee builds the SQL of a query by walking its expression tree on every
execution; for the two or three small SELECTs of a page that walk costs
ten times what SQLite needs to run them. A `Prepared` query is an ordinary
peewee query in which the values that change are `Param("name")` nodes:
peewee renders it once per database (with the database's own quoting and
parameter style, every converter applied as usual) and each execution only
binds the values and hands the rows to peewee's own cursor wrapper, so the
results are the same model instances, joins included. Re-running identical
SQL text also hits the sqlite3 module's statement cache.

    RECORD_OF = Prepared(Record.select(...).where(Record.account == Param("user")).limit(1))
    RECORD_OF.first(user=user)

No SQL is written by hand: a query changes in one place, in peewee.
"""

import threading

from peewee import ColumnBase

import models


class _Slot:
    """Where a parameter's value goes, with the converter peewee chose there
    (a field's db_value, e.g. a model instance → its id)."""

    __slots__ = ("name", "converter")

    def __init__(self, name, converter):
        self.name, self.converter = name, converter

    def bind(self, values):
        value = values[self.name]
        return value if self.converter is None else self.converter(value)


class Param(ColumnBase):
    """A value given when a `Prepared` query runs (where a single value goes:
    a comparison, LIMIT, OFFSET)."""

    def __init__(self, name):
        super().__init__()
        self.name = name

    def __sql__(self, ctx):
        return ctx.value(_Slot(self.name, ctx.state.converter), converter=False)


# A cursor wrapper's own state; the rest is the column layout it worked out.
_PER_CURSOR = {"cursor", "count", "index", "initialized", "populated", "row_cache"}


class Prepared:
    """A peewee SELECT rendered once per database, executed with new values.

    Peewee's cursor wrapper also works out, on each execution, which column
    goes to which model and converter; the SQL text being fixed, so is that
    layout, and it is kept with the text.
    """

    def __init__(self, query):
        self.query = query
        self._compiled = None
        self._layout = None
        self._lock = threading.Lock()

    def _sql(self):
        # The app factory binds a new database object (tests build many
        # apps): render again when it changes.
        database = models.db.obj
        compiled = self._compiled
        if compiled is None or compiled[0] is not database:
            with self._lock:
                sql, values = database.get_sql_context().sql(self.query).query()
                compiled = self._compiled = (database, sql, tuple(values))
        return compiled

    def execute(self, **values):
        """Peewee's cursor wrapper for this query with `values` bound: iterate
        it for the rows (model instances for a model query)."""
        database, sql, params = self._sql()
        bound = [p.bind(values) if type(p) is _Slot else p for p in params]
        wrapper = self.query._get_cursor_wrapper(database.execute_sql(sql, bound))
        layout = self._layout
        if layout is None or layout[0] is not database:
            wrapper.initialize()  # reads cursor.description, set by the execution
            state = {k: v for k, v in vars(wrapper).items() if k not in _PER_CURSOR}
            self._layout = (database, state)
        else:
            wrapper.__dict__.update(layout[1])
        wrapper.initialized = True
        return wrapper

    def first(self, **values):
        """The first row or None (give the query a LIMIT 1)."""
        for row in self.execute(**values):
            return row
        return None

    def scalar(self, **values):
        """The first column of the first row (for a `.tuples()` query)."""
        row = self.first(**values)
        return None if row is None else row[0]

    def sql(self):
        """(sql, params) as rendered, with `Param` slots by name (for tests and docs)."""
        _database, sql, params = self._sql()
        return sql, [f":{p.name}" if type(p) is _Slot else p for p in params]
