"""`flask` commands for operators: backup, restore, move-to-postgres."""

import contextlib
import os

import click
from flask.cli import with_appcontext

import models
from services.fsmodes import private_dir


def init_app(app):
    for command in (backup, restore, move_to_postgres):
        app.cli.add_command(command)


@contextlib.contextmanager
def _private_files():
    """Archives and restored files hold ID numbers and photos: new files are
    readable by this user only (600/700, as the app writes them), whatever
    the shell's umask."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@click.command("backup")
@with_appcontext
@click.argument("dest", type=click.Path(file_okay=True, dir_okay=True, writable=True))
def backup(dest):
    """Write one archive of the database, photos, ID pictures and config to DEST
    (a .tar.gz file, or a directory for a dated one). Safe while the app runs."""
    from services import backup as service

    try:
        with _private_files():
            if dest.endswith(("/", os.sep)):
                private_dir(dest)  # a folder that does not exist yet
            path, manifest = service.create(dest)
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot write the backup to {dest}: {exc.strerror or exc}") from None
    rows = sum(manifest["database"]["rows"].values())
    click.echo(f"backup written: {path}")
    click.echo(f"  {len(manifest['files'])} files, {rows} database rows ({manifest['database']['kind']})")


@click.command("restore")
@with_appcontext
@click.argument("src", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace the data of a non-empty install.")
def restore(src, force):
    """Restore a backup archive SRC into this (empty) install, then verify every
    file and table against the backup's manifest. Stop the app first."""
    from services import restore as service

    try:
        with _private_files():
            manifest = service.restore(src, force=force)
    except service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if not models.db.is_closed():
            models.db.close()
    rows = sum(manifest["database"]["rows"].values())
    click.echo(f"restored and verified: {len(manifest['files'])} files, {rows} database rows")
    click.echo(f"  backup of {manifest['created_at']}")


@click.command("move-to-postgres")
@with_appcontext
@click.argument("database_url")
def move_to_postgres(database_url):
    """Copy this SQLite install into the empty PostgreSQL database DATABASE_URL,
    then verify row counts and a checksum per table."""
    from services import move

    try:
        report = move.to_postgres(database_url)
    except move.MoveError as exc:
        raise click.ClickException(str(exc)) from None
    for table, count, checksum in report:
        click.echo(f"  {table:<20} {count:>8} rows  sha256 {checksum[:16]}…")
    click.echo(f"copied and verified {len(report)} tables. Next: set FLASK_DATABASE_URL={database_url}")
