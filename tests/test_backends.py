"""The production backends: PostgreSQL instead of SQLite, Redis for the rate
limiter. Each test skips with the reason when its server is not running."""

import datetime
import re
import secrets

import peewee
import pytest

import models
from tests.conftest import link_in
from tests.factories import PASSWORD, login

PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
REDIS_URI = "redis://127.0.0.1:6379/15"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
WRONG = {"email": "student@example.edu", "password": "wrong password here"}


@pytest.fixture
def pg_url():
    """A fresh database on the local server, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}".strip())
    name = f"gradproof_test_{secrets.token_hex(6)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        database = models.db.obj
        if database is not None and hasattr(database, "close_all"):
            database.close_all()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def pg_app(app_factory, pg_url):
    app = app_factory(DATABASE_URL=pg_url)
    assert isinstance(models.db.obj, peewee.PostgresqlDatabase)
    yield app
    if not models.db.is_closed():
        models.db.close()


def path_of(url):
    return url.split("localhost", 1)[1]


def register(client, email):
    data = {"email": email, "password": PASSWORD, "confirm": PASSWORD, "accept_terms": "y"}
    return client.form_post("/register", data)


@pytest.mark.postgres
def test_postgres_register_activate_login_and_lockout(pg_app, smtp):
    client = pg_app.test_client()
    client.environ_base.update(EN)
    r = register(client, "New.Student@Example.edu")
    assert r.status_code == 303 and r.headers["Location"] == "/register/sent"
    link = path_of(link_in(smtp.wait(1)[0], "/activate/"))
    assert client.form_post(link, {}).status_code == 303
    assert client.get("/account/").status_code == 200
    assert client.form_post("/logout", {}, page="/account/").status_code == 303
    assert login(client, "NEW.student@example.edu").status_code == 303
    assert client.get("/account/").status_code == 200

    other = pg_app.test_client()
    other.environ_base.update(EN)
    for _ in range(9):
        assert login(other, "new.student@example.edu", "wrong password here").status_code == 400
    r = login(other, "new.student@example.edu", "wrong password here")
    assert "blocked for 15 minutes" in r.get_data(as_text=True)
    r = login(other, "new.student@example.edu")
    assert r.status_code == 400 and "blocked for 15 minutes" in r.get_data(as_text=True)
    with pg_app.app_context():
        models.db.connect(reuse_if_open=True)
        past = models.utcnow() - datetime.timedelta(seconds=1)
        models.LoginThrottle.update(locked_until=past).execute()
        models.db.close()
    assert login(other, "new.student@example.edu").status_code == 303


@pytest.mark.postgres
def test_postgres_register_in_chinese(pg_app, smtp):
    client = pg_app.test_client()
    assert register(client, "zh.student@example.edu").status_code == 303
    assert "激活" in smtp.wait(1)[0]["Subject"]


@pytest.fixture
def redis_db():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URI, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable on 127.0.0.1:6379: {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def limited_app(app_factory, storage):
    return app_factory(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=storage, RATELIMIT_LOGIN="3 per minute")


def test_redis_rate_limit_is_shared_between_workers(app_factory, redis_db):
    first = limited_app(app_factory, REDIS_URI).test_client()
    for _ in range(3):
        assert first.form_post("/login", WRONG).status_code == 400
    assert first.form_post("/login", WRONG).status_code == 429
    assert any(re.search(rb"login", key) for key in redis_db.keys("*")), redis_db.keys("*")

    # Another worker process (another app on the same Redis) sees the count.
    second = limited_app(app_factory, REDIS_URI).test_client()
    assert second.form_post("/login", WRONG).status_code == 429

    # Control: with per-process memory storage a fresh worker would not know.
    alone = limited_app(app_factory, "memory://").test_client()
    assert alone.form_post("/login", WRONG).status_code == 400


def test_backup_command_makes_a_private_folder_and_archive(app, tmp_path):
    """README "Backups": `flask backup /var/backups/gradproof/` works on a new
    machine (the folder is created) and the archive, which holds ID numbers
    and photos, is readable by its owner only, whatever the shell's umask."""
    import os
    import stat

    dest = tmp_path / "var" / "backups" / "gradproof"
    previous = os.umask(0o022)
    try:
        result = app.test_cli_runner().invoke(args=["backup", f"{dest}/"])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    (archive,) = dest.iterdir()
    assert stat.S_IMODE(dest.stat().st_mode) == 0o700
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    # A folder that cannot be written is a one-line error, not a traceback.
    (tmp_path / "file").write_text("")
    result = app.test_cli_runner().invoke(args=["backup", f"{tmp_path / 'file'}/x/"])
    assert result.exit_code == 1 and "cannot write the backup" in result.output, result.output
