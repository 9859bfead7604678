"""`flask` commands: init-db, seed-demo, create-admin, send-mail."""

import time

import click
from flask import current_app
from flask.cli import with_appcontext

import models
from services import mail


def init_app(app):
    """Register the commands on `app`."""
    for command in (init_db, seed_demo, create_admin, send_mail):
        app.cli.add_command(command)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create the database or apply pending migrations (safe to repeat)."""
    models.db.connect(reuse_if_open=True)
    applied = models.migrate()
    click.echo(f"migrations applied: {', '.join(applied) if applied else 'none (up to date)'}")


@click.command("seed-demo")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only when there are no accounts yet.")
def seed_demo(if_empty):
    """Fill the database with synthetic demo data and print the logins."""
    from services import demo

    models.db.connect(reuse_if_open=True)
    if if_empty and models.User.select().exists():
        click.echo("demo data: database not empty, nothing seeded")
        return
    logins = demo.seed()
    click.echo("demo logins (synthetic people):")
    for role, email, password in logins:
        click.echo(f"  {role:<8} {email:<32} {password}")


@click.command("create-admin")
@with_appcontext
@click.argument("email")
@click.password_option()
def create_admin(email, password):
    """Create an activated admin account (asks for the password)."""
    from services import accounts, passwords

    models.db.connect(reuse_if_open=True)
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
            role="admin",
            activated_at=models.utcnow(),
        )
        models.AuditEvent.log("admin.create", target=user, reason="cli")
    click.echo(f"admin {email} created")


@click.command("send-mail")
@with_appcontext
@click.option("--loop", is_flag=True, help="Keep running, checking every few seconds.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between checks.")
def send_mail(loop, interval):
    """Deliver the mail outbox once, or forever with --loop."""
    models.db.connect(reuse_if_open=True)
    while True:
        counts = mail.deliver_pending()
        if any(counts.values()) or not loop:
            click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))
        if not loop:
            return
        models.db.close()
        time.sleep(interval)
        models.db.connect(reuse_if_open=True)
        current_app.logger.debug("outbox checked")
