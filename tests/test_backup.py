"""`flask backup` / `flask restore`: one archive taken while the app works,
restored into a fresh install, compared row by row and file by file; a
damaged archive is refused and changes nothing. Runs on the suite's
database (SQLite, or PostgreSQL with --database postgres)."""

import hashlib
import io
import os
import tarfile
import threading
import time

import peewee
import pytest
from PIL import Image

import models
from services import idimages, records, staff_actions
from tests.conftest import pg_admin_connect, pg_url_for
from tests.factories import make_photo, make_record, make_user, setup_world


def invoke(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    if not models.db.is_closed():
        models.db.close()
    return result


def files_of(root):
    """{relative path: sha256} of every file under root."""
    found = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as fh:
                found[os.path.relpath(path, root)] = hashlib.sha256(fh.read()).hexdigest()
    return found


def install_files(app):
    return {
        "photos": files_of(app.config["PHOTO_DIR"]),
        "id-images": files_of(app.config["ID_IMAGE_DIR"]),
    }


def table_rows(url):
    """Every row of every table, read with a connection of its own."""
    database = models.make_database(url)
    database.connect()
    try:
        tables = sorted(t for t in database.get_tables() if t != "schema_migration")
        return {t: database.execute_sql(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}  # noqa: S608
    finally:
        database.close_all() if hasattr(database, "close_all") else database.close()


@pytest.fixture
def new_install(app_factory, tmp_path, request):
    """Build a fresh, empty install (own database, photo and ID-picture dirs)."""
    made = []

    def make(name):
        root = tmp_path / name
        root.mkdir()
        if request.config.getoption("database") == "postgres":
            admin = pg_admin_connect()
            db_name = f"gradproof_restore_{os.getpid()}_{name}_{len(made)}"
            admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{db_name}"')
            made.append((admin, db_name))
            url = pg_url_for(db_name)
        else:
            url = f"sqlite:///{root / 'gradproof.sqlite3'}"
        app = app_factory(DATABASE_URL=url, PHOTO_DIR=str(root / "photos"), ID_IMAGE_DIR=str(root / "ids"))
        app.instance_path = str(root)
        return app

    yield make
    for admin, db_name in made:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def source(app_factory, tmp_path):
    """An install with records, student accounts, photos, an ID picture and a config.py."""
    app = app_factory(PHOTO_DIR=str(tmp_path / "src-photos"), ID_IMAGE_DIR=str(tmp_path / "src-ids"))
    (tmp_path / "config.py").write_text("SECRET_KEY = 'kept-with-the-backup-0123456789'\n")
    cs, _fl, cohort = setup_world()
    photos = [make_photo(app, seed=n + 1) for n in range(3)]
    for n in range(8):
        account = make_user(f"s{n}@example.edu")
        make_record(college=cs, cohort=cohort, status="pending", account=account, photo=photos[n % 3])
    picture = io.BytesIO()
    Image.new("RGB", (640, 400), (200, 180, 150)).save(picture, "JPEG")
    with app.app_context():
        key = idimages.store(picture.getvalue())
    models.Request.create(kind="id_change", user=account, college=cs, id_type="resident", image_key=key)
    models.db.close()
    return app


def busy_workers(app, stop, counts):
    """10 threads: students confirm, staff set records back and confirm on paper."""
    with app.app_context():
        models.db.connect(reuse_if_open=True)
        staff = models.User.get(models.User.email == "staff.a@example.edu")
        ids = [r.id for r in models.Record.select(models.Record.id).where(models.Record.photo.is_null(False))]
        models.db.close()

    def work(n):
        step = 0
        while not stop.is_set():
            rid = ids[(n + step) % len(ids)]
            step += 1
            with app.app_context():
                try:
                    with models.db.atomic():
                        record = models.Record.get_by_id(rid)
                        if (
                            record.status == "pending"
                            and record.account_id
                            and not records.can_confirm(record)
                        ):
                            records.confirm(record, record.account)
                        elif record.status in ("confirmed", "confirmed_offline"):
                            staff_actions.change_status(record, "pending", staff, reason="check again")
                        elif record.status in staff_actions.STAFF_TRANSITIONS:
                            staff_actions.change_status(record, "confirmed_offline", staff, reason="paper")
                    counts[n] += 1
                except (models.StaleRecord, models.IllegalTransition, records.ConfirmRefused):
                    pass
                except peewee.OperationalError:  # SQLite busy past its timeout under 10 writers
                    pass
                finally:
                    models.db.close()

    threads = [threading.Thread(target=work, args=(n,), name=f"busy-{n}") for n in range(10)]
    for thread in threads:
        thread.start()
    return threads


def test_backup_while_busy_then_restore_into_a_fresh_install(source, new_install, tmp_path):
    changes_before = models.AuditEvent.select().count()
    stop, counts = threading.Event(), [0] * 10
    threads = busy_workers(source, stop, counts)
    try:
        time.sleep(0.5)
        busy = invoke(source, "backup", str(tmp_path / "busy.tar.gz"))
        time.sleep(0.3)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert busy.exit_code == 0, busy.output
    assert sum(counts) >= 10 and "backup written" in busy.output

    # The archive taken under load restores into a consistent install: every
    # record's version matches its audit trail, every confirmed record has
    # exactly one live confirmation, and the photos are all there.
    target = new_install("busy")
    result = invoke(target, "restore", str(tmp_path / "busy.tar.gz"))
    assert result.exit_code == 0, result.output
    assert "restored and verified" in result.output
    with target.app_context():
        models.db.connect(reuse_if_open=True)
        assert models.AuditEvent.select().count() > changes_before
        for record in models.Record.select():
            live = (
                models.Confirmation.select()
                .where((models.Confirmation.record == record) & models.Confirmation.void_at.is_null())
                .count()
            )
            assert live == (1 if record.status in ("confirmed", "confirmed_offline") else 0), record.id
        models.db.close()
    assert install_files(target)["photos"] == install_files(source)["photos"]
    assert (tmp_path / "busy" / "config.py").read_text() == (tmp_path / "config.py").read_text()

    # Quiet now: a second backup restores to exactly the same rows and files.
    assert invoke(source, "backup", str(tmp_path)).exit_code == 0
    (archive,) = [p for p in os.listdir(tmp_path) if p.startswith("gradproof-backup-")]
    quiet = new_install("quiet")
    result = invoke(quiet, "restore", str(tmp_path / archive))
    assert result.exit_code == 0, result.output
    assert table_rows(quiet.config["DATABASE_URL"]) == table_rows(source.config["DATABASE_URL"])
    assert install_files(quiet) == install_files(source)
    assert install_files(quiet)["id-images"] and len(install_files(quiet)["photos"]) >= 3


def test_restore_refuses_a_damaged_archive_and_changes_nothing(source, new_install, tmp_path):
    archive = tmp_path / "full.tar.gz"
    assert invoke(source, "backup", str(archive)).exit_code == 0
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])

    target = new_install("target")
    result = invoke(target, "restore", str(truncated))
    assert result.exit_code != 0
    assert "incomplete or damaged" in result.output and "Nothing was restored" in result.output
    assert all(not rows for rows in table_rows(target.config["DATABASE_URL"]).values())
    assert install_files(target) == {"photos": {}, "id-images": {}}
    assert not (tmp_path / "target" / "config.py").exists()

    # Even with --force, the install that has data keeps all of it.
    rows, files = table_rows(source.config["DATABASE_URL"]), install_files(source)
    result = invoke(source, "restore", "--force", str(truncated))
    assert result.exit_code != 0 and "incomplete or damaged" in result.output
    assert table_rows(source.config["DATABASE_URL"]) == rows and install_files(source) == files


def test_restore_refuses_an_install_with_data_unless_forced(source, tmp_path):
    archive = tmp_path / "full.tar.gz"
    assert invoke(source, "backup", str(archive)).exit_code == 0
    with source.app_context():
        models.db.connect(reuse_if_open=True)
        models.College.update(office_contact="changed after the backup").execute()
        models.db.close()
    result = invoke(source, "restore", str(archive))
    assert result.exit_code != 0 and "not empty" in result.output and "--force" in result.output
    assert models.College.select().where(models.College.office_contact == "changed after the backup").exists()

    result = invoke(source, "restore", "--force", str(archive))
    assert result.exit_code == 0, result.output
    with source.app_context():
        models.db.connect(reuse_if_open=True)
        assert (
            not models.College.select()
            .where(models.College.office_contact == "changed after the backup")
            .exists()
        )
        models.db.close()


def test_a_tampered_file_is_named(source, tmp_path, new_install):
    archive = tmp_path / "full.tar.gz"
    assert invoke(source, "backup", str(archive)).exit_code == 0
    tampered, changed = tmp_path / "tampered.tar.gz", []
    with tarfile.open(archive) as src, tarfile.open(tampered, "w:gz") as out:
        for member in src:
            data = src.extractfile(member).read()
            if member.name.startswith("photos/") and not changed:
                data = data[:-1] + bytes([data[-1] ^ 1])  # one bit flipped
                changed.append(member.name)
            out.addfile(member, io.BytesIO(data))
    target = new_install("t")
    result = invoke(target, "restore", str(tampered))
    assert result.exit_code != 0 and "checksum mismatch" in result.output and changed[0] in result.output
    assert install_files(target) == {"photos": {}, "id-images": {}}


def test_daily_backup_task_keeps_the_newest_archives(app_factory, tmp_path):
    import tasks

    folder = tmp_path / "backups"
    app = app_factory(BACKUP_DIR=str(folder), BACKUP_KEEP=2)
    folder.mkdir()
    for day in ("20250101", "20250102", "20250103"):
        (folder / f"gradproof-backup-{day}-020000.tar.gz").write_bytes(b"old")
    tasks.huey.get(tasks.BACKUP_KEY)  # the in-memory queue outlives tests: never ran
    with app.app_context():
        assert tasks.backup_if_due() is True
        # Within a day: not again.
        assert tasks.backup_if_due() is None
    kept = sorted(p.name for p in folder.iterdir())
    assert len(kept) == 2 and kept[0] == "gradproof-backup-20250103-020000.tar.gz"
    new = folder / kept[1]
    assert invoke(app, "restore", "--force", str(new)).exit_code == 0  # a real, complete archive
    tasks.huey.get(tasks.BACKUP_KEY)

    off = app_factory()
    with off.app_context():
        assert tasks.backup_if_due() is None  # no BACKUP_DIR: off
