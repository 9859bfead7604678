"""Backups of a whole install (their restore: services.restore).

One archive (``.tar.gz``) holds everything a college needs to rebuild an
install: the database (an SQLite online-backup copy, or a ``pg_dump`` in
custom format), the photo directory, the ID-picture directory and
``instance/config.py`` (the SECRET_KEY signs sessions and mail links). Its
``manifest.json`` lists the SHA-256 and size of every file and the row count
of every table, as the database snapshot saw them.

The backup runs while the app serves: the database copy is one consistent
snapshot (SQLite's backup API; on PostgreSQL ``pg_dump`` reads a snapshot
exported by a transaction that also counts the rows). Photos are written
once under a new key and never changed, so files copied after the snapshot
are those the snapshot refers to, or newer ones it does not know about.

The helpers both sides share (where the database lives, file checksums,
the archive's names) are here too.
"""

import datetime
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from typing import Any

from flask import current_app
from peewee import Database, DatabaseProxy, PostgresqlDatabase

import models
from services import idimages, photostore

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_NAME = "database/gradproof.sqlite3"
PG_NAME = "database/gradproof.pgdump"
CONFIG_NAME = "config/config.py"
ARCHIVE_PREFIX = "gradproof-backup-"
SKIP_TABLES = {"schema_migration"}


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


def database_kind() -> str:
    """What this install runs on: "postgresql" or "sqlite"."""
    return "postgresql" if isinstance(models.db.obj, PostgresqlDatabase) else "sqlite"


def sqlite_path() -> str:
    return current_app.config["DATABASE_URL"][len("sqlite:///") :]


def pg_url() -> str:
    url = current_app.config["DATABASE_URL"]
    return "postgresql://" + url.split("://", 1)[1]


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_files(root: str | None, prefix: str) -> list[tuple[str, str]]:
    """(archive name, path) of every file under `root`, sorted."""
    if not root or not os.path.isdir(root):
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".tmp"):
                continue  # a photo being written right now (photostore writes .tmp then renames)
            path = os.path.join(folder, name)
            found.append((prefix + os.path.relpath(path, root).replace(os.sep, "/"), path))
    return found


def app_tables(database: Database | DatabaseProxy) -> list[str]:
    """The app's tables (without the migration bookkeeping), sorted."""
    return sorted(t for t in database.get_tables() if t not in SKIP_TABLES)


# -- backup -----------------------------------------------------------------------------------


def _snapshot_sqlite(workdir):
    target = os.path.join(workdir, "db.sqlite3")
    source = sqlite3.connect(f"file:{sqlite_path()}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        tables = [r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        counts = {
            t: copy.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608 - names from the schema
            for t in sorted(tables)
            if t not in SKIP_TABLES and not t.startswith("sqlite_")
        }
    finally:
        copy.close()
        source.close()
    return SQLITE_NAME, target, counts


def _snapshot_postgres(workdir):
    import psycopg
    from psycopg import sql

    target = os.path.join(workdir, "db.pgdump")
    with psycopg.connect(pg_url()) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            )
        ]
        counts = {
            t: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(t))).fetchone()[0]
            for t in tables
            if t not in SKIP_TABLES
        }
        run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges",
             f"--snapshot={snapshot}", "--file", target, "--dbname", pg_url()])  # fmt: skip
        conn.rollback()
    return PG_NAME, target, counts


def run(argv: list[str]) -> None:
    """Run a PostgreSQL client program; its error output becomes a BackupError."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)  # noqa: S603 - fixed programs
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed (Debian: apt install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")


def create(dest: str) -> tuple[str, dict[str, Any]]:
    """Write a backup archive to `dest` (a file, or a directory to put a dated
    file in). Returns (path, manifest)."""
    now = models.utcnow()
    if os.path.isdir(dest):
        dest = os.path.join(dest, f"{ARCHIVE_PREFIX}{now:%Y%m%d-%H%M%S}.tar.gz")
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gradproof-backup-") as workdir:
        snapshot = _snapshot_postgres if database_kind() == "postgresql" else _snapshot_sqlite
        db_name, db_path, counts = snapshot(workdir)
        files = [(db_name, db_path)]
        files += tree_files(photostore.root(), "photos/")
        files += tree_files(idimages.root(), "id-images/")
        config = os.path.join(current_app.instance_path, "config.py")
        if os.path.isfile(config):
            files.append((CONFIG_NAME, config))
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(timespec="seconds") + "Z",
            "database": {"kind": database_kind(), "file": db_name, "rows": counts},
            "files": {},
        }
        partial = dest + ".partial"
        with tarfile.open(partial, "w:gz", compresslevel=6) as tar:
            for name, path in files:
                try:
                    with open(path, "rb") as fh:
                        data = fh.read()
                except FileNotFoundError:
                    continue  # deleted meanwhile (an ID picture purged): not in the snapshot's future
                manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                _add(tar, name, data)
            _add(tar, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
        os.replace(partial, dest)
    return dest, manifest


def scheduled(folder: str, keep: int) -> tuple[str, list[str]]:
    """The daily backup: a dated archive in `folder`, then only the newest
    `keep` archives kept. Returns (path, removed paths)."""
    os.makedirs(folder, exist_ok=True)
    path, _manifest = create(folder)
    # Dated names sort by age; the archive just written is always kept.
    older = sorted(
        f
        for f in os.listdir(folder)
        if f.startswith(ARCHIVE_PREFIX) and f.endswith(".tar.gz") and f != os.path.basename(path)
    )
    removed = [os.path.join(folder, f) for f in older[: max(len(older) - max(keep - 1, 0), 0)]]
    for old in removed:
        os.remove(old)
    return path, removed


def _add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.datetime.now(datetime.UTC).timestamp())
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))
