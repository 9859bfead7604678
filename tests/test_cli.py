"""`flask` commands an operator runs: init-db, seed-demo, create-admin."""

import os
import re

import pytest
from playhouse.schema_diff import diff_models

import models
from app import create_app
from tests.conftest import TEST_CONFIG, ClosingClient
from tests.factories import login

GOOD = "lantern orchard seven"


@pytest.fixture
def empty_app(tmp_path):
    """An app on a database file that does not exist yet (no migrations run)."""
    app = create_app(dict(TEST_CONFIG, DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.sqlite3'}"))
    app.instance_path = str(tmp_path)
    app.test_client_class = ClosingClient
    app.db_path = tmp_path / "fresh.sqlite3"
    yield app
    if not models.db.is_closed():
        models.db.close()


def invoke(app, *args, **kwargs):
    result = app.test_cli_runner().invoke(args=list(args), **kwargs)
    if not models.db.is_closed():
        models.db.close()
    return result


def test_init_db_creates_schema_then_reports_up_to_date(empty_app):
    assert not empty_app.db_path.exists()
    result = invoke(empty_app, "init-db")
    assert result.exit_code == 0, result.output
    names = sorted(f[:-3] for f in os.listdir(models.MIGRATIONS_DIR) if re.match(r"\d{4}_.*\.py$", f))
    assert result.output.strip() == f"migrations applied: {', '.join(names)}"
    with empty_app.app_context():
        models.db.connect(reuse_if_open=True)
        assert {"user", "outbox_mail", "audit_event"} <= set(models.db.get_tables())
        assert not diff_models(models.db.obj, models.ALL_MODELS)
        models.db.close()

    result = invoke(empty_app, "init-db")
    assert result.exit_code == 0
    assert result.output.strip() == "migrations applied: none (up to date)"


def demo_logins(output):
    return re.findall(r"^\s+([a-z]+)\s+(\S+@\S+)\s+(\S+)\s*$", output, re.M)


def user_count(app):
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        try:
            return models.User.select().count()
        finally:
            models.db.close()


def test_seed_demo_prints_working_logins_and_seeds_only_once(app):
    # --if-empty on an empty database seeds (what `make run` does on first start).
    result = invoke(app, "seed-demo", "--if-empty")
    assert result.exit_code == 0, result.output
    logins = demo_logins(result.output)
    assert {"admin", "student"} <= {role for role, _, _ in logins}
    one_per_role = {role: (email, password) for role, email, password in logins}
    for role, (email, password) in one_per_role.items():
        client = app.test_client()
        assert login(client, email, password).status_code == 303, (role, email)
        with client.session_transaction() as session:
            assert "_user_id" in session, (role, email)
    accounts = user_count(app)
    assert accounts >= len(logins)

    result = invoke(app, "seed-demo", "--if-empty")
    assert result.exit_code == 0
    assert "nothing seeded" in result.output and demo_logins(result.output) == []
    assert user_count(app) == accounts


def admins():
    return list(models.User.select().where(models.User.role == "admin"))


@pytest.mark.parametrize(
    ("password", "reason"),
    [("password123", "该密码过于常见"), ("pw", "至少"), ("boss-at-work-2026", "邮箱")],
)
def test_create_admin_refuses_weak_password(app, db, password, reason):
    result = invoke(app, "create-admin", "boss@example.edu", input=f"{password}\n{password}\n")
    assert result.exit_code == 1
    assert reason in result.output, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # a message, not a crash
    assert admins() == []


def test_create_admin_creates_activated_admin_once(app, db):
    result = invoke(app, "create-admin", "Boss@Example.edu", input=f"{GOOD}\n{GOOD}\n")
    assert result.exit_code == 0, result.output
    assert "boss@example.edu created" in result.output
    [admin] = admins()
    assert admin.email == "boss@example.edu" and admin.activated_at is not None
    assert admin.password_hash != GOOD
    assert models.AuditEvent.select().where(models.AuditEvent.action == "admin.create").count() == 1
    models.db.close()
    assert login(app.test_client(), "BOSS@example.edu", GOOD).status_code == 303

    result = invoke(app, "create-admin", "boss@EXAMPLE.edu", input=f"{GOOD}x\n{GOOD}x\n")
    assert result.exit_code == 1 and "exists already" in result.output
    assert len(admins()) == 1
