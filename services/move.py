"""Moving an SQLite install to PostgreSQL (`flask move-to-postgres`).

The target must be an empty PostgreSQL database. Its schema is made by the
same migrations as any install; then every table is copied in foreign-key
order (a table after the tables it refers to) with COPY, each id sequence is
set past the highest id, and every table is checked: the same row count and
the same SHA-256 over its rows, read back from both databases and brought
to one form (booleans, dates and times as Python values).
"""

import datetime
import hashlib

from peewee import SqliteDatabase
from playhouse.db_url import connect as connect_url

import models

SKIP_TABLES = {"schema_migration"}


class MoveError(Exception):
    """The move cannot go on; the message says why."""


def dependency_order(sqlite, tables):
    """`tables` sorted so that each comes after the tables its foreign keys name."""
    needs = {
        t: {
            fk.dest_table
            for fk in sqlite.get_foreign_keys(t)
            if fk.dest_table != t and fk.dest_table in tables
        }
        for t in tables
    }
    ordered, done = [], set()
    while len(ordered) < len(tables):
        ready = sorted(t for t in tables if t not in done and needs[t] <= done)
        if not ready:
            raise MoveError("circular foreign keys between: " + ", ".join(sorted(set(tables) - done)))
        ordered += ready
        done.update(ready)
    return ordered


def _pg_types(conn, table):
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return dict(rows)


def _convert(value, pg_type):
    """An SQLite value as the Python value PostgreSQL's column type gives back."""
    if value is None:
        return None
    if pg_type == "boolean":
        return bool(int(value))
    if pg_type.startswith("timestamp"):
        return value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value)
    if pg_type == "date":
        return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)
    if pg_type in ("integer", "bigint", "smallint"):
        return int(value)
    if pg_type in ("real", "double precision"):
        return float(value)
    return value


def checksum(rows):
    digest = hashlib.sha256()
    for row in rows:
        digest.update(repr(tuple(row)).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _sqlite_rows(sqlite, table, columns, types):
    names = ", ".join(f'"{c}"' for c in columns)
    cursor = sqlite.execute_sql(f'SELECT {names} FROM "{table}" ORDER BY 1')  # noqa: S608 - schema names
    for row in cursor:
        yield tuple(_convert(v, types[c]) for c, v in zip(columns, row, strict=True))


def to_postgres(url):
    """Copy the app's SQLite database into the empty PostgreSQL database at `url`.

    Returns [(table, rows, sha256)] in copy order.
    """
    import psycopg
    from psycopg import sql

    sqlite = models.db.obj
    if not isinstance(sqlite, SqliteDatabase):
        raise MoveError("This install does not run on SQLite: nothing to move.")
    if not url.startswith(("postgres://", "postgresql://")):
        raise MoveError("DATABASE_URL must start with postgresql://")
    conninfo = "postgresql://" + url.split("://", 1)[1]
    try:
        conn = psycopg.connect(conninfo, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise MoveError(f"Cannot connect to {url}: {str(exc).strip()}") from None
    with conn:
        existing = [
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        for table in existing:
            if table in SKIP_TABLES:
                continue
            if conn.execute(sql.SQL("SELECT 1 FROM {} LIMIT 1").format(sql.Identifier(table))).fetchone():
                raise MoveError(f"The PostgreSQL database is not empty (table {table} has rows).")
        conn.commit()
        target = connect_url(conninfo)
        target.connect()
        models.migrate(target)
        target.close()

        sqlite.connect(reuse_if_open=True)
        _check_migrations(conn, sqlite)
        source_tables = [t for t in sqlite.get_tables() if t not in SKIP_TABLES]
        report = []
        # One transaction: a table that differs after copying leaves no rows behind.
        with conn.transaction():
            for table in dependency_order(sqlite, source_tables):
                report.append(_copy_table(conn, sqlite, table))
    return report


def _copy_table(conn, sqlite, table):
    from psycopg import sql

    types = _pg_types(conn, table)
    if not types:
        raise MoveError(f"Table {table} is not in the PostgreSQL schema (migrations differ).")
    columns = [c.name for c in sqlite.get_columns(table)]
    missing = [c for c in columns if c not in types]
    if missing:
        raise MoveError(f"Columns {', '.join(missing)} of {table} are not in the PostgreSQL schema.")
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    count = 0
    with conn.cursor().copy(copy_sql) as copy:
        for row in _sqlite_rows(sqlite, table, columns, types):
            copy.write_row(row)
            count += 1
    # Only integer ids have a sequence (user_session's id is a random text key).
    if types.get("id") in ("integer", "bigint"):
        conn.execute(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), coalesce(max(id), 0) + 1, false) FROM {}"
            ).format(sql.Identifier(table)),
            (f'"{table}"',),
        )
    select = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.Identifier(table)
    )
    copied = conn.execute(select).fetchall()
    want = checksum(_sqlite_rows(sqlite, table, columns, types))
    got = checksum(copied)
    if len(copied) != count or got != want:
        raise MoveError(f"Table {table} differs after copying ({len(copied)} of {count} rows): nothing kept.")
    return table, count, got


def _check_migrations(conn, sqlite):
    here = {r[0] for r in sqlite.execute_sql("SELECT name FROM schema_migration")}
    there = {r[0] for r in conn.execute("SELECT name FROM schema_migration")}
    if here != there:
        raise MoveError("The two databases have different migrations applied: run `flask init-db` first.")
