"""Fixtures: an app on a fresh database (a copy of a migrated SQLite file,
or an emptied PostgreSQL database with `--database postgres`), a real SMTP
server on loopback, clients that close responses like a WSGI server does (so
mail queued by a request is delivered before the test reads it)."""

import contextlib
import copy
import email
import email.policy
import gc
import os
import re
import secrets
import shutil
import socket
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.controller import Controller
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf

import models
from app import create_app
from localized_templates import LocaleBytecodeCache
from tests.factories import client_session, csrf_in

pytest_plugins = ["queue_fixtures"]  # real consumers, web servers, SMTP (i8)


def _share_compiled_rules():
    """Compile each URL rule once per process, not once per app.

    Every test builds an app, and every app compiled its 83 URL rules again:
    Werkzeug's `Rule.compile` parses the rule (regular expressions,
    converters, weights) and generates and compiles two builder functions
    (an AST each): about 55 of create_app's 65 ms of CPU when neither was
    shared; create_app now costs 3-4 ms. What it makes depends only on the
    rule's text, the host or subdomain part, merge_slashes, the map's
    converter classes and the names of the rule's defaults; those are the
    key. A rule compiled before gets copies of its lists, the same converter
    objects (Werkzeug's converters keep their map as an attribute only) and
    the same builder functions (the rule comes in as their first argument).
    A rule whose defaults fill a variable part is compiled as usual: its
    builders hold the converted default.
    """
    from werkzeug.routing.rules import Rule

    compile_rule = Rule.compile
    compiled = {}

    def shared_compile(self):
        defaults = self.defaults or {}
        host_matching = self.map.host_matching
        domain = (host_matching, (self.host if host_matching else self.subdomain) or "")
        converters = tuple(sorted(self.map.converters.items()))
        key = (self.rule, domain, self.merge_slashes, converters, tuple(defaults))
        known = compiled.get(key)
        if known is None:
            compile_rule(self)
            variables = {name for is_variable, name in self._trace if is_variable}
            if not variables & set(defaults):
                built = (self._build.__func__, self._build_unknown.__func__)
                compiled[key] = (self._parts, self._trace, self._converters, variables, built)
            return
        parts, trace, rule_converters, variables, (build, build_unknown) = known
        self._parts, self._trace, self._converters = list(parts), list(trace), dict(rule_converters)
        self.arguments.update(variables)
        self._build = build.__get__(self, None)
        self._build_unknown = build_unknown.__get__(self, None)

    Rule.compile = shared_compile


_share_compiled_rules()


class Inbox:
    """aiosmtpd handler keeping every message that arrives."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append(msg)
        return "250 OK"

    def clear(self):
        with self.lock:
            self.messages.clear()

    def wait(self, count=1, timeout=5):
        """The first `count` messages, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} mail(s), got {len(self.messages)}")


def text_of(msg):
    """The text/plain part of a parsed message."""
    return msg.get_body(preferencelist=("plain",)).get_content()


def html_of(msg):
    return msg.get_body(preferencelist=("html",)).get_content()


def link_in(msg, path_part):
    """The first URL in the mail's text part containing `path_part`."""
    for url in re.findall(r"https?://\S+", text_of(msg)):
        if path_part in url:
            return url
    raise AssertionError(f"no link with {path_part!r} in mail: {text_of(msg)}")


def free_port():
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def smtp_server():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    yield inbox
    controller.stop()


@pytest.fixture
def smtp(smtp_server):
    smtp_server.clear()
    return smtp_server


class ClosingClient(FlaskClient):
    """Buffered: the WSGI response is closed, running call_on_close hooks."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)

    def csrf(self, path=None):
        """A CSRF token for this client's session: read from the page at
        `path`, or when none is given, made as a form on any page would make
        it (Flask-WTF's generate_csrf, the raw token kept in the session)."""
        if path is not None:
            return csrf_in(self.get(path).get_data(as_text=True), path)
        with client_session(self):
            return generate_csrf()

    def form_post(self, path, data, page=None, **kwargs):
        """POST a form with a CSRF token of this session (read from `page` if given)."""
        data = dict(data)
        data.setdefault("csrf_token", self.csrf(page))
        return self.post(path, data=data, **kwargs)


TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "RATELIMIT_ENABLED": False,
    "MAIL_DEFAULT_SENDER": "GradProof <noreply@gradproof.example.edu>",
    "BASE_URL": "http://localhost",
    "LANGUAGES": ["zh_CN", "en"],
}


DEFAULT_PG_URL = "postgresql://127.0.0.1:5432/"


def pytest_configure(config):
    """Collect garbage less often in the test processes (workers included).

    A pass allocates without pause (apps, templates, queries, pages), so
    CPython's default threshold of 700 runs a young-generation collection
    every few hundred objects. At 50,000 the 684 tests outside the browser,
    sweep and queue files took 42.3 and 41.3 s of CPU instead of 45.3 and
    44.4 s (alternating, one process). Reference counting still frees what
    is not in a cycle at once, so unclosed files warn where they did.
    """
    gc.set_threshold(50_000, *gc.get_threshold()[1:])


def pytest_addoption(parser):
    parser.addoption(
        "--database",
        choices=("sqlite", "postgres"),
        default=os.environ.get("TEST_DATABASE", "sqlite"),
        help="Database the `app` fixtures run on (env TEST_DATABASE). PostgreSQL: "
        f"the server of TEST_DATABASE_URL (default {DEFAULT_PG_URL}), a fresh "
        "database per run and xdist worker, dropped afterwards.",
    )


# The longest tests (seconds of wall time on a quiet machine, about), started
# first: xdist hands tests out in collection order, one at a time, so a long
# test collected last keeps one worker busy after the other has finished.
# Longest first leaves only short tests for the end, where they even out.
LONG_FIRST = {
    "tests/test_queue_jobs.py::test_a_consumer_killed_mid_import_leaves_nothing_behind": 10,
    "tests/test_sweep.py::": 6,
    "tests/test_queue_memory.py::": 5,
    "tests/test_queue_cluster.py::": 4,
    "tests/test_queue_mail.py::": 3,
    "tests/test_queue_ratelimit.py::": 3,
    "tests/test_cli.py::test_seed_demo_prints_working_logins_and_seeds_only_once": 3,
    "tests/test_imports.py::test_photo_import_in_worker_processes": 3,
    "tests/test_hardening.py::test_huge_png_upload_stays_under_300_mb": 2,
    "tests/test_queue_jobs.py::": 1,
}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    def weight(item):
        return max((w for prefix, w in LONG_FIRST.items() if item.nodeid.startswith(prefix)), default=0)

    items.sort(key=lambda item: -weight(item))  # stable: the rest keep their order


def pytest_report_header(config):
    if config.getoption("database") == "postgres":
        return f"database: PostgreSQL at {pg_server_url()}"
    return "database: SQLite"


def pg_server_url():
    """TEST_DATABASE_URL with the `postgres` user filled in when none is given."""
    parts = urlsplit(os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG_URL)
    netloc = parts.netloc if "@" in parts.netloc else "postgres@" + parts.netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def pg_url_for(name):
    """The URL of database `name` on the test server."""
    parts = urlsplit(pg_server_url())
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))


def pg_admin_connect():
    """An autocommit connection to the test server's maintenance database."""
    import psycopg

    parts = urlsplit(pg_server_url())
    dbname = parts.path.strip("/") or "postgres"
    return psycopg.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username,
        password=parts.password, dbname=dbname, autocommit=True, connect_timeout=5,
    )  # fmt: skip


class TemplateDatabase:
    """The migrated schema, built once per session (and xdist worker).

    SQLite: a migrated file copied for each test (a copy costs well under
    a millisecond; migrating costs about 100 ms). PostgreSQL: one migrated
    database per worker, emptied before each test (every row deleted and
    every sequence reset, so ids start at 1 as in a new SQLite file).
    """

    def __init__(self, kind, workdir):
        self.kind = kind
        self.workdir = workdir
        self.sqlite_template = None
        self.pg_name = None
        self.pg_admin = None
        self.pg_conn = None
        self.pg_tables = ()

    def fresh(self, tmp_path):
        """The URL of an empty, migrated database for one test."""
        if self.kind == "postgres":
            return self._fresh_postgres()
        target = tmp_path / "test.sqlite3"
        self.sqlite_copy(target)
        return f"sqlite:///{target}"

    def sqlite_copy(self, target):
        """An empty, migrated SQLite file at `target` (mode 600, as `flask
        init-db` creates it), whatever --database says."""
        if self.sqlite_template is None:
            self.sqlite_template = self._build_sqlite()
        shutil.copyfile(self.sqlite_template, target)
        os.chmod(target, 0o600)

    def _build_sqlite(self):
        path = self.workdir / "template.sqlite3"
        database = models.make_database(f"sqlite:///{path}")
        database.connect()
        models.migrate(database)
        # Closing the last connection checkpoints the WAL into the main file,
        # so the file alone holds the whole schema.
        database.close_all()
        assert not os.path.exists(f"{path}-wal") or os.path.getsize(f"{path}-wal") == 0
        return path

    def _fresh_postgres(self):
        if self.pg_name is None:
            try:
                self.pg_admin = pg_admin_connect()
            except Exception as exc:  # any reason is reported
                raise pytest.UsageError(
                    f"--database postgres: {pg_server_url()} not reachable: {exc}"
                ) from exc
            worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
            self.pg_name = f"gradproof_test_{worker}_{secrets.token_hex(4)}"
            self.pg_admin.execute(f'CREATE DATABASE "{self.pg_name}"')
            # A throwaway database: commits need not wait for the disk.
            self.pg_admin.execute(f'ALTER DATABASE "{self.pg_name}" SET synchronous_commit = off')
            database = models.make_database(pg_url_for(self.pg_name))
            database.connect()
            models.migrate(database)
            self.pg_tables = tuple(t for t in database.get_tables() if t != "schema_migration")
            database.close_all()
            import psycopg

            self.pg_conn = psycopg.connect(pg_url_for(self.pg_name), autocommit=True)
        from psycopg import sql

        # DELETE with foreign-key triggers off, then every sequence back to 1:
        # ten times faster than TRUNCATE, which rewrites each table's files.
        # One round trip for all of it (a statement each took 30 ms a test).
        empty = sql.SQL(" ").join(
            [sql.SQL("SET LOCAL session_replication_role = replica;")]
            + [sql.SQL("DELETE FROM {};").format(sql.Identifier(table)) for table in self.pg_tables]
            + [
                sql.SQL(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false) FROM pg_sequences"
                )
            ]
        )
        with self.pg_conn.transaction():
            self.pg_conn.execute(empty)
        return pg_url_for(self.pg_name)

    def drop(self):
        if self.pg_conn is not None:
            self.pg_conn.close()
        if self.pg_admin is not None:
            self.pg_admin.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')
            self.pg_admin.close()


@pytest.fixture(scope="session")
def template_db(request, tmp_path_factory):
    template = TemplateDatabase(request.config.getoption("database"), tmp_path_factory.mktemp("template"))
    yield template
    template.drop()


class MemoryBytecodeCache(LocaleBytecodeCache):
    """The production bytecode cache, also keeping in memory the code it
    loaded or compiled: a test app's first page reads no template files."""

    def __init__(self, directory, catalog_files):
        super().__init__(directory, catalog_files)
        self.codes = {}  # (key, source checksum) -> code object

    def load_bytecode(self, bucket):
        code = self.codes.get((bucket.key, bucket.checksum))
        if code is not None:
            bucket.code = code
            return
        super().load_bytecode(bucket)
        if bucket.code is not None:
            self.codes[(bucket.key, bucket.checksum)] = bucket.code

    def dump_bytecode(self, bucket):
        super().dump_bytecode(bucket)
        self.codes[(bucket.key, bucket.checksum)] = bucket.code


@pytest.fixture(scope="session")
def template_bytecode(tmp_path_factory):
    """One Jinja bytecode cache for every app of the session, all workers.

    Each test builds its own app, and each app would compile every template
    it renders again, in each language (about 10 ms a template). The app
    uses this cache in production (localized_templates.py, off when
    testing); its keys hold the language, the catalogs' digest and the
    template source's checksum, so a changed template is compiled anew.
    xdist workers share its folder (Jinja writes a file under a temporary
    name and renames it), so a template is compiled once per run, not once
    per worker; each process also keeps the code it loaded
    (`MemoryBytecodeCache`), so an app's first page reads no files."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "translations")
    catalogs = [os.path.join(d, n) for d, _dirs, names in os.walk(root) for n in names if n.endswith(".mo")]
    base = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        base = base.parent  # the run's folder, above each worker's own
    return MemoryBytecodeCache(str(base / "jinja-bytecode"), catalogs)


@pytest.fixture
def app_factory(tmp_path, smtp_server, template_db, template_bytecode):
    """Build apps on the test's fresh database (SQLite file or PostgreSQL, see
    --database), with the loopback SMTP server. All apps of one test share
    that database; an explicit DATABASE_URL override is migrated on the spot."""
    from tests.factories import reset_photo_seeds

    reset_photo_seeds()
    fresh = []
    databases = []

    def make(**overrides):
        config = dict(TEST_CONFIG)
        config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port)
        config.update(overrides)
        if "DATABASE_URL" not in overrides:
            if not fresh:
                fresh.append(template_db.fresh(tmp_path))
            config["DATABASE_URL"] = fresh[0]
        app = create_app(config)
        app.instance_path = str(tmp_path)
        if app.testing:  # apps built with TESTING=False keep what the app chose
            app.jinja_env.bytecode_cache = template_bytecode
        app.test_client_class = ClosingClient
        databases.append(models.db.obj)
        if "DATABASE_URL" in overrides:
            with app.app_context():
                models.db.connect(reuse_if_open=True)
                models.migrate()
                models.db.close()
        return app

    yield make
    # Background jobs (imports, the photo check) started by a request must end
    # before the next test points the shared database at another file.
    for thread in threading.enumerate():
        if thread.name.startswith("import-"):
            thread.join(timeout=60)
    # Every pooled connection closed: no file handles or server connections
    # pile up over the session, and no leftover one holds a lock.
    for database in databases:
        if hasattr(database, "close_all"):
            database.close_all()
        elif not database.is_closed():
            database.close()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    app.jinja_env.undefined = __import__("jinja2").StrictUndefined
    yield app
    if not models.db.is_closed():
        models.db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """Database access from the test body. No app context is pushed: requests
    made by the test must each get their own, as in production (a shared
    one would share `g`, and with it the CSRF token cache)."""
    yield models
    if not models.db.is_closed():
        models.db.close()


class DemoSnapshot:
    """The small demo (services.demo), seeded once per session and worker.

    The first test that asks seeds its own database as usual; its rows and
    the files the seed wrote under the instance folder (photos, ID
    pictures) are kept, and later tests get a copy of the rows and hard
    links to those files (written once, replaced by rename, never changed
    in place). A seed costs seconds and some 300 files; the copy,
    milliseconds. SQLite: the rows are the database file. PostgreSQL:
    every table's rows in COPY's binary format and every sequence's
    position, loaded into the test's emptied database.
    """

    def __init__(self, workdir, template_db):
        self.dir = workdir
        self.template_db = template_db
        self.result = None
        self.pg_rows = None

    def seed(self, app):
        from services import demo

        database = app.config["DATABASE_URL"]
        postgres = not database.startswith("sqlite:///")
        if postgres and (
            self.template_db.pg_name is None or database != pg_url_for(self.template_db.pg_name)
        ):
            return self._seed_now(app, demo)  # not the worker's database of --database postgres
        if self.result is None:
            self.result = self._seed_now(app, demo)
            models.db.obj.close_all()  # SQLite: the last close checkpoints the WAL into the file
            if postgres:
                self.pg_rows = self._pg_save()
            else:
                path = database.removeprefix("sqlite:///")
                assert not os.path.exists(path + "-wal") or os.path.getsize(path + "-wal") == 0
                shutil.copyfile(path, self.dir / "demo.sqlite3")
            for name in os.listdir(app.instance_path):
                source = os.path.join(app.instance_path, name)
                if os.path.isdir(source):
                    shutil.copytree(source, self.dir / "files" / name)
            return copy.deepcopy(self.result)
        models.db.obj.close_all()
        if postgres:
            self._pg_load(self.pg_rows)
        else:
            path = database.removeprefix("sqlite:///")
            for suffix in ("-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path + suffix)
            shutil.copyfile(self.dir / "demo.sqlite3", path)
        files = self.dir / "files"
        for name in os.listdir(files) if files.exists() else ():
            target = os.path.join(app.instance_path, name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(files / name, target, copy_function=os.link)
        return copy.deepcopy(self.result)

    def _pg_save(self):
        conn = self.template_db.pg_conn
        tables = {}
        for table in self.template_db.pg_tables:
            query = f'COPY "{table}" TO STDOUT (FORMAT BINARY)'
            with conn.cursor() as cursor, cursor.copy(query) as out:
                tables[table] = b"".join(bytes(chunk) for chunk in out)
        sequences = conn.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value FROM pg_sequences"
        ).fetchall()
        return tables, sequences

    def _pg_load(self, saved):
        """The saved rows into the test's database (emptied by template_db)."""
        tables, sequences = saved
        conn = self.template_db.pg_conn
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")  # no foreign-key order
            for table, data in tables.items():
                with (
                    conn.cursor() as cursor,
                    cursor.copy(f'COPY "{table}" FROM STDIN (FORMAT BINARY)') as into,
                ):
                    into.write(data)
            for sequence, last_value in sequences:
                if last_value is None:
                    conn.execute("SELECT setval(%s, 1, false)", (sequence,))
                else:
                    conn.execute("SELECT setval(%s, %s, true)", (sequence, last_value))

    @staticmethod
    def _seed_now(app, demo):
        with app.app_context():
            models.db.connect(reuse_if_open=True)
            result = demo.seed("small")
            models.db.close()
        return result


@pytest.fixture(scope="session")
def demo_snapshot(tmp_path_factory, template_db):
    return DemoSnapshot(tmp_path_factory.mktemp("demo-small"), template_db)


@pytest.fixture
def demo_small(app, db, demo_snapshot):
    """The small demo in the test's database (a DemoSeed: logins, guide,
    realname, counts), as `demo.seed("small")` leaves it."""
    return demo_snapshot.seed(app)
