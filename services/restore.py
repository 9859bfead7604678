"""Restoring a backup archive of services.backup into an install.

`restore` checks the whole archive (every checksum, no file missing or
extra) before it changes anything; an install that already holds data is
refused unless ``force`` is given. After restoring it checks every file and
row count again (`verify`).
"""

import functools
import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from typing import Any

from flask import current_app

import models
from services import idimages, photostore
from services.backup import (
    CONFIG_NAME,
    FORMAT,
    MANIFEST,
    BackupError,
    app_tables,
    database_kind,
    pg_url,
    run,
    sha256_file,
    sqlite_path,
    tree_files,
)


def read_archive(src: str, workdir: str) -> dict[str, Any]:
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
                source = tar.extractfile(member)
                assert source is not None  # a regular file (checked above)
                with source as fh, open(target, "wb") as out:
                    for chunk in iter(functools.partial(fh.read, 1 << 20), b""):
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


def target_problems() -> list[str]:
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


def restore(src: str, force: bool = False) -> dict[str, Any]:
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


def verify(manifest: dict[str, Any]) -> None:
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
