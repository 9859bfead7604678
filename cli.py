"""`flask` commands: init-db, seed-demo, create-admin, send-mail, worker."""

import time

import click
from flask import current_app
from flask.cli import with_appcontext

import models
from services import idimages, mail, pending_uploads
from services.vocab import Role


def init_app(app):
    """Register the commands on `app`.

    `with_appcontext` on each: the `flask` CLI pushes a context itself, but
    `app.test_cli_runner()` and other direct callers of `app.cli` do not.
    """
    for command in (
        init_db,
        seed_demo,
        create_admin,
        create_staff,
        send_mail,
        import_students,
        import_photos,
        purge_id_images,
        worker,
        purge_sessions,
        sweep_id_images,
    ):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the database or apply pending migrations (safe to repeat)."""
    from services.fsmodes import private_sqlite

    private_sqlite(current_app.config["DATABASE_URL"])
    models.db.connect(reuse_if_open=True)
    applied = models.migrate()
    click.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only when there are no accounts yet.")
@click.option("--size", type=click.Choice(["full", "small"]), default="full", show_default=True)
def seed_demo(if_empty, size):
    """Fill the database with synthetic demo data and print the logins."""
    from services import demo

    models.db.connect(reuse_if_open=True)
    if if_empty and models.User.select().exists():
        click.echo("demo data: database not empty, nothing seeded")
        return
    try:
        result = demo.seed(size)
    except demo.DemoDataExists as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("demo logins (synthetic people):")
    for role, email, password in result:
        click.echo(f"  {role:<8} {email:<32} {password}")
    click.echo("what each demo account shows:")
    for line in result.guide:
        click.echo(f"  {line}")
    c = result.counts
    click.echo(
        f"seeded {c['records']} records, {c['photos']} photos ({c['unmatched_photos']} unmatched), "
        f"{c['accounts']} accounts in {result.seconds:.1f} s"
    )


def _create_account(email, password, role, college=None, reason="cli"):
    """An activated account made from the command line, with the web's password rules."""
    from services import accounts, passwords

    email = accounts.normalize_email(email)
    problems = passwords.problems(password, email)
    if problems:
        raise click.ClickException(" ".join(str(p) for p in problems))
    if models.User.by_email(email):
        raise click.ClickException(f"an account with {email} exists already")
    with models.db.atomic():
        user = models.User.create(
            email=email,
            password_hash=passwords.hash_password(password),
            role=role,
            college=college,
            activated_at=models.utcnow(),
        )
        models.AuditEvent.log(f"{role}.create", target=user, reason=reason)
    return user


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.password_option()
def create_admin(email, password):
    """Create an activated admin account (asks for the password)."""
    models.db.connect(reuse_if_open=True)
    user = _create_account(email, password, Role.ADMIN)
    click.echo(f"admin {user.email} created")


@click.command("create-staff")
@with_appcontext
@click.argument("email")
@click.option("--college", "code", required=True, help="Code of the staff member's college.")
@click.password_option()
def create_staff(email, code, password):
    """Create an activated staff account of one college (asks for the password)."""
    models.db.connect(reuse_if_open=True)
    college = models.College.get_or_none(models.College.code == code.strip())
    if college is None:
        codes = (
            ", ".join(c.code for c in models.College.select().order_by(models.College.code)) or "(none yet)"
        )
        raise click.ClickException(f"no college with code {code!r}; known codes: {codes}")
    user = _create_account(email, password, Role.STAFF, college, reason=f"cli, college {college.code}")
    click.echo(f"staff {user.email} of {college.name} ({college.code}) created")


HOUSEKEEPING_EVERY = 3600  # seconds


@click.command("send-mail")
@with_appcontext
@click.option("--loop", is_flag=True, help="Keep running, checking every few seconds.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between checks.")
def send_mail(loop, interval):
    """Deliver the mail outbox once, or forever with --loop."""
    from services import sessions

    models.db.connect(reuse_if_open=True)
    swept_at = 0.0
    while True:
        counts = mail.deliver_pending()
        if any(counts.values()) or not loop:
            click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
        if not loop:
            return
        idimages.purge()
        pending_uploads.purge()
        if time.monotonic() - swept_at >= HOUSEKEEPING_EVERY:
            # Hourly: ID pictures no request points to, expired login sessions.
            idimages.sweep_orphans()
            sessions.purge()
            swept_at = time.monotonic()
        models.db.close()
        time.sleep(interval)
        models.db.connect(reuse_if_open=True)
        current_app.logger.debug("outbox checked")


def _echo_progress(done, total):
    """Progress on stderr, only for a person watching a terminal."""
    import sys

    if sys.stderr.isatty():
        click.echo(f"\r{done}/{total}", nl=done >= total, err=True)


def _print_report(report):
    from services import importing

    for line in importing.report_lines(report):
        click.echo(line)


@click.command("import-students")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check the file and report, writing nothing.")
def import_students(file, dry_run):
    """Import the student registry from a CSV (UTF-8 or GBK) or XLSX FILE."""
    import os

    from services import importing

    models.db.connect(reuse_if_open=True)
    with open(file, "rb") as fh:
        data = fh.read()
    with importing.job_context(current_app):
        try:
            report = importing.import_registry(
                data,
                os.path.basename(file),
                dry_run=dry_run,
                progress=_echo_progress,
                link=importing.mail_link,
            )
        except importing.ImportFileError as exc:
            raise click.ClickException(importing.describe(exc.reason)) from None
        _print_report(report)
        importing.deliver_queued_mail()


@click.command("import-photos")
@with_appcontext
@click.argument("zip_file", metavar="ZIP", type=click.Path(exists=True, dir_okay=False))
@click.option("--workers", type=int, default=None, help="Processes making the photo variants.")
@click.option("--replace", is_flag=True, help="Replace the photo of records that already have one.")
def import_photos(zip_file, workers, replace):
    """Import graduation photos from a ZIP named by ID or student number."""
    import os

    from services import importing

    models.db.connect(reuse_if_open=True)
    with importing.job_context(current_app):
        try:
            report = importing.import_photos(
                zip_file, progress=_echo_progress, link=importing.mail_link, workers=workers,
                filename=os.path.basename(zip_file), replace=replace,
            )  # fmt: skip
        except importing.ImportFileError as exc:
            raise click.ClickException(importing.describe(exc.reason)) from None
        _print_report(report)
        importing.deliver_queued_mail()


@click.command("purge-id-images")
@with_appcontext
def purge_id_images():
    """Delete ID pictures of requests decided more than ID_IMAGE_RETENTION_DAYS (default 30) ago."""
    models.db.connect(reuse_if_open=True)
    count = idimages.purge() + pending_uploads.purge()
    click.echo(f"ID pictures deleted: {count}")


@click.command("worker")
@with_appcontext
@click.option("--workers", "-w", default=4, show_default=True, help="Threads running tasks.")
def worker(workers):
    """Run the task queue's consumer: mail, imports and the periodic duties.

    `make run` starts one beside the web server; `make worker` starts one
    alone. On start it fails the import jobs of a consumer that died on this
    host and deletes their uploads. SIGINT stops after the running tasks,
    SIGTERM at once.
    """
    import logging

    import tasks

    app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    consumer = tasks.create_consumer(app, workers=workers)
    models.db.connect(reuse_if_open=True)
    try:
        tasks.record_heartbeat()
        failed = tasks.sweep_jobs(starting=True)
    finally:
        models.db.close()
    click.echo(
        f"worker: queue {tasks.describe_storage()}, {workers} threads; interrupted jobs failed: {failed}"
    )
    consumer.run()


@click.command("purge-sessions")
@with_appcontext
def purge_sessions():
    """Delete expired login sessions and those ended by a password change or reset."""
    from services import sessions

    models.db.connect(reuse_if_open=True)
    click.echo(f"sessions deleted: {sessions.purge()}")


@click.command("sweep-id-images")
@with_appcontext
def sweep_id_images():
    """Delete ID-picture files that no request points to (older than an hour)."""
    models.db.connect(reuse_if_open=True)
    click.echo(f"ID pictures without a request deleted: {idimages.sweep_orphans()}")
