"""Backups of a whole install, and their restore.

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

`restore` checks the whole archive (every checksum, no file missing or
extra) before it changes anything; an install that already holds data is
refused unless ``force`` is given. After restoring it checks every file and
row count again.
"""

import datetime
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib

from flask import current_app
from peewee import PostgresqlDatabase

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


def database_kind():
    return "postgresql" if isinstance(models.db.obj, PostgresqlDatabase) else "sqlite"


def sqlite_path():
    return current_app.config["DATABASE_URL"][len("sqlite:///") :]


def pg_url():
    url = current_app.config["DATABASE_URL"]
    return "postgresql://" + url.split("://", 1)[1]


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tree_files(root, prefix):
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


def app_tables(database):
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


def run(argv):
    """Run a PostgreSQL client program; its error output becomes a BackupError."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=3600, check=False)  # noqa: S603 - fixed programs
    except FileNotFoundError:
        raise BackupError(f"{argv[0]} is not installed (Debian: apt install postgresql-client)") from None
    if done.returncode != 0:
        raise BackupError(f"{argv[0]} failed: {done.stderr.strip()[-2000:]}")


def create(dest):
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


def scheduled(folder, keep):
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


# -- restore ----------------------------------------------------------------------------------


def read_archive(src, workdir):
    """Unpack `src` into `workdir` and check it against its manifest. Returns the manifest."""
    damaged = (
        f"The backup {os.path.basename(src)} is incomplete or damaged (%s). Nothing was restored; "
        "use another copy of the backup."
    )
    seen = {}
    try:
        with tarfile.open(src, "r:gz") as tar:
            for member in tar:
                name = member.name
                if not member.isfile() or name.startswith("/") or ".." in name.split("/"):
                    raise BackupError(damaged % f"unexpected entry {name!r}")
                target = os.path.join(workdir, "files", name)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                digest, size = hashlib.sha256(), 0
                with tar.extractfile(member) as fh, open(target, "wb") as out:
                    for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                seen[name] = (digest.hexdigest(), size)
    except FileNotFoundError:
        raise BackupError(f"No backup at {src}.") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise BackupError(damaged % (str(exc) or type(exc).__name__)) from None
    if MANIFEST not in seen:
        raise BackupError(damaged % "no manifest.json")
    with open(os.path.join(workdir, "files", MANIFEST), "rb") as fh:
        try:
            manifest = json.load(fh)
        except ValueError:
            raise BackupError(damaged % "manifest.json unreadable") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Backup format {manifest.get('format')!r} is not supported (expected {FORMAT}).")
    seen.pop(MANIFEST)
    expected = manifest["files"]
    missing = sorted(set(expected) - set(seen))
    extra = sorted(set(seen) - set(expected))
    wrong = sorted(
        n for n in set(seen) & set(expected) if seen[n] != (expected[n]["sha256"], expected[n]["size"])
    )
    if missing or extra or wrong:
        first = (missing or extra or wrong)[0]
        what = "missing" if missing else "not in the manifest" if extra else "checksum mismatch"
        count = len(missing) + len(extra) + len(wrong)
        raise BackupError(damaged % f"{count} file(s) wrong, first: {first}: {what}")
    return manifest


def target_problems():
    """What already lives in this install (empty list: an empty install)."""
    problems = []
    if database_kind() == "sqlite" and not os.path.exists(sqlite_path()):
        pass
    else:
        models.db.connect(reuse_if_open=True)
        for table in app_tables(models.db):
            if models.db.execute_sql(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():  # noqa: S608
                problems.append(f"the database has rows in {table}")
                break
        models.db.close()
    for label, root in (("photo", photostore.root()), ("ID-picture", idimages.root())):
        if tree_files(root, ""):
            problems.append(f"the {label} directory {root} holds files")
    return problems


def restore(src, force=False):
    """Restore the archive `src` into this install. Returns the manifest."""
    with tempfile.TemporaryDirectory(prefix="gradproof-restore-") as workdir:
        manifest = read_archive(src, workdir)
        kind = manifest["database"]["kind"]
        if kind != database_kind():
            raise BackupError(
                f"The backup holds a {kind} database but this install uses {database_kind()}; "
                "restore into a matching install (then `flask move-to-postgres` if you want PostgreSQL)."
            )
        problems = target_problems()
        if problems and not force:
            raise BackupError(
                "This install is not empty (" + "; ".join(problems) + "). Nothing was restored; "
                "restore into a new install, or give --force to replace what is here."
            )
        staged = os.path.join(workdir, "files")
        if kind == "sqlite":
            _restore_sqlite(os.path.join(staged, manifest["database"]["file"]))
        else:
            _restore_postgres(os.path.join(staged, manifest["database"]["file"]))
        for prefix, root in (("photos/", photostore.root()), ("id-images/", idimages.root())):
            if os.path.isdir(root):
                shutil.rmtree(root)
            _copy_tree(staged, prefix, root, manifest)
        config = os.path.join(staged, CONFIG_NAME)
        if os.path.exists(config):
            _restore_config(config)
        verify(manifest)
    return manifest


def _restore_sqlite(path):
    target = sqlite_path()
    if hasattr(models.db.obj, "close_all"):
        models.db.obj.close_all()
    os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
    shutil.copyfile(path, target + ".restoring")
    for suffix in ("-wal", "-shm"):
        if os.path.exists(target + suffix):
            os.remove(target + suffix)
    os.replace(target + ".restoring", target)


def _restore_postgres(path):
    if hasattr(models.db.obj, "close_all"):
        models.db.obj.close_all()
    import psycopg

    with psycopg.connect(pg_url(), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")
    run(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", pg_url(), path])


def _copy_tree(staged, prefix, root, manifest):
    for name in manifest["files"]:
        if name.startswith(prefix):
            target = os.path.join(root, *name[len(prefix) :].split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(staged, name), target)


def _restore_config(path):
    target = os.path.join(current_app.instance_path, "config.py")
    if os.path.exists(target) and sha256_file(target) != sha256_file(path):
        shutil.copyfile(target, target + ".before-restore")
    shutil.copyfile(path, target)


def verify(manifest):
    """Check the restored install against the manifest: every file, every row count."""
    roots = {"photos/": photostore.root(), "id-images/": idimages.root()}
    for name, entry in manifest["files"].items():
        prefix = name.split("/", 1)[0] + "/"
        if prefix in roots:
            path = os.path.join(roots[prefix], *name[len(prefix) :].split("/"))
        elif name == CONFIG_NAME:
            path = os.path.join(current_app.instance_path, "config.py")
        elif manifest["database"]["kind"] == "sqlite":
            path = sqlite_path()
        else:
            continue  # the pg_dump file itself is not kept; its rows are counted below
        if not os.path.exists(path) or sha256_file(path) != entry["sha256"]:
            raise BackupError(f"After restoring, {name} does not match the backup.")
    models.db.connect(reuse_if_open=True)
    try:
        for table, count in manifest["database"]["rows"].items():
            found = models.db.execute_sql(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
            if found != count:
                raise BackupError(f"After restoring, table {table} has {found} rows, the backup {count}.")
    finally:
        models.db.close()
